"""The daemon's own alerts, end to end: a real daemon process, git repo and SMTP server."""

from __future__ import annotations

import json
from email import message_from_bytes
from email.policy import default

import pytest

from reconciler.core.own_alerts import AlertStream
from reconciler.values import AlertStatus, Notice, Outcome, Reason, Result, Revision

from tests.support.audit import SECRET
from tests.support.daemon import DaemonProcess, ready
from tests.support.gitrepo import document, recipient_list, server
from tests.support.services import free_port, wait_until
from tests.support.smtp import start_smtp_server


RECIPIENTS = ["ops@example.com", "dba@example.com", "lead@example.com"]


def good_specs(repo, smtp_port: int, repeat: str = "12h") -> None:
    repo.commit("good", **{
        "server.yaml": server(port=smtp_port),
        "policy.yaml": document("NotificationPolicy", "p", f"repeatInterval: {repeat}\n"),
        "ops.yaml": recipient_list("ops", RECIPIENTS[:2]),
        "lead.yaml": recipient_list("lead", [RECIPIENTS[2], "OPS@example.com"]),
    })


def test_rejected_commit_mails_the_last_good_recipients_and_resolves(setup, smtp):
    good_specs(setup.repo, smtp.port)
    daemon = setup.start()
    ready(setup)
    # The bad commit also breaks the server and drops a list: the alert still goes to the
    # last good server and every recipient of the last good config.
    setup.repo.commit("break it", **{"ops.yaml": recipient_list("ops", ["ops@@example"]),
                                     "server.yaml": server(port=free_port()), "lead.yaml": ""})
    firing = smtp.wait_for_alert("ConfigRejected")
    assert sorted(r.lower() for r in firing.recipients) == sorted(RECIPIENTS)  # OPS@ and ops@: one RCPT
    mail = message_from_bytes(firing.content, policy=default)
    assert mail["Subject"].startswith(f"[FIRING] ConfigRejected: {setup.repo.head()[:7]} 'break it' rejected")
    assert mail["Auto-Submitted"] == "auto-generated" and mail["Message-ID"] and mail["Date"]
    body = mail.get_content()
    assert "ops.yaml:7:7: spec.recipients[0]: 'ops@@example' is not an e-mail address" in body
    assert "What to do: Fix the errors above and commit again" in body

    setup.repo.commit("fix it", **{"ops.yaml": recipient_list("ops", RECIPIENTS[:2]),
                                   "server.yaml": server(port=smtp.port)})
    resolved = message_from_bytes(smtp.wait_for_alert("ConfigRejected", "resolved").content, policy=default)
    assert resolved["Subject"].startswith("[RESOLVED] ConfigRejected resolved: applied")
    # The sink may hold the mail a moment before the daemon logs that it went.
    wait_until(lambda: "event=mail_sent" in daemon.text(), 10, "the mail_sent log line")
    # Nothing more: no repeat before the 12h repeat interval, one resolved mail only.
    setup.repo.commit("another good one", **{"more.yaml": recipient_list("more", ["more@example.com"])})
    wait_until(lambda: "another good one" in daemon.text(), 5, "the next pass")
    assert len(smtp.messages) == 2


@pytest.mark.slow
def test_smtp_outage_and_daemon_restart_lose_nothing(setup):
    port = free_port()
    good_specs(setup.repo, port)
    daemon = setup.start()
    ready(setup)
    setup.repo.commit("typo", **{"ops.yaml": recipient_list("ops", ["ops@@example"])})
    wait_until(lambda: "event=mail_deferred" in daemon.text(), 10, "the mail to wait for the server")
    assert daemon.stop() == 0
    outbox = setup.tmp / "state" / "outbox"
    [letter] = [json.loads(p.read_text()) for p in outbox.glob("*.json")]
    assert letter["subject"].startswith("[FIRING] ConfigRejected")

    smtp = start_smtp_server(port=port)
    try:
        restarted = setup.start()
        firing = smtp.wait_for_alert("ConfigRejected", timeout=20)
        assert "[FIRING] ConfigRejected" in message_from_bytes(firing.content, policy=default)["Subject"]
        # The server has it; the letter leaves the outbox once the server's reply is read.
        wait_until(lambda: not list(outbox.glob("*.json")), 5, "the letter to leave the outbox")
        assert "ConfigRejected" in json.loads((setup.tmp / "state" / "alerting.json").read_text())["alerts"]
        restarted.stop()
        # A restart does not mail the same firing alert again.
        again = setup.start()
        wait_until(lambda: "event=rejected" in again.text(), 10, "the pass after the restart")
        assert len(smtp.messages) == 1
    finally:
        smtp.controller.stop()


def test_disabled_email_keeps_the_mailer_quiet(setup, smtp):
    setup.repo.commit("off", **{"server.yaml": server(port=smtp.port, enabled="false"),
                                "ops.yaml": recipient_list("ops", RECIPIENTS)})
    daemon = setup.start()
    ready(setup)
    setup.repo.commit("typo", **{"ops.yaml": recipient_list("ops", ["ops@@example"])})
    wait_until(lambda: "event=own_alert_not_mailed" in daemon.text(), 5, "the alert to be logged")
    assert "e-mail is disabled" in daemon.text()
    assert smtp.messages == []


def outcome(result: str, reason: str = "", sha: str = "a" * 40, drift: tuple = ()) -> Outcome:
    return Outcome(Result(result), Revision(sha, "subject", "author", 0), f"{result} message",
                   reason=Reason(reason) if reason else None, drift=drift)


def test_repeat_interval_and_grace_period_of_the_stream():
    stream = AlertStream()
    assert [n.status for n in stream.observe(outcome("rejected", "ConfigRejected"), 0, 100)] == ["firing"]
    assert stream.observe(outcome("rejected", "ConfigRejected"), 50, 100) == []          # not yet again
    assert len(stream.observe(outcome("rejected", "ConfigRejected"), 100, 100)) == 1     # repeat interval
    assert len(stream.observe(outcome("rejected", "ConfigRejected", sha="b" * 40), 101, 100)) == 1  # new commit
    # Unreachable: not on the first blip, only after the grace period.
    assert stream.observe(outcome("failed", "AlertmanagerUnreachable"), 200, 100) == []
    assert len(stream.observe(outcome("failed", "AlertmanagerUnreachable"), 261, 100)) == 1
    resolved = stream.observe(outcome("applied"), 300, 100)
    assert sorted((n.alert, n.status) for n in resolved) == [
        ("AlertmanagerUnreachable", "resolved"), ("ConfigRejected", "resolved")]
    assert stream.observe(outcome("applied"), 301, 100) == []
    drift = stream.observe(outcome("applied", drift=("the file was edited",)), 302, 100)
    assert [(n.alert, n.status) for n in drift] == [("DriftCorrected", "firing")]
    assert stream.observe(outcome("unchanged"), 303, 100) == []


def test_blip_shorter_than_the_grace_period_mails_nothing():
    stream = AlertStream()
    assert stream.observe(outcome("failed", "SourceUnavailable"), 0, 100) == []
    assert stream.observe(outcome("applied"), 30, 100) == []


def test_mail_headers_never_carry_line_breaks_from_input():
    from reconciler.core.own_alerts import compose

    notice = Notice(Reason.CONFIG_REJECTED, AlertStatus.FIRING, "ConfigRejected: 'x\r\nBcc: evil@example.net' rejected", ("d",))
    mail = compose(notice, sender="a@example.com", recipients=["b@example.com"], now=0, message_id="<1@h>",
                   hostname="h")
    raw = bytes(mail)
    assert b"\r\nBcc:" not in raw and b"evil@example.net" in raw


def test_mail_test_sends_with_the_committed_settings_and_explains_failures(setup, tmp_path, capsys):
    import ssl

    import trustme

    from reconciler.cli.main import main

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    password_file = tmp_path / "password"
    password_file.write_text(SECRET + "\n")
    smtp = start_smtp_server(tls_context=context, require_starttls=True, credentials=("alerts", SECRET))
    try:
        starttls_server = (server(port=smtp.port, username="alerts", passwordFile=str(password_file))
                           .replace("starttls: false", "starttls: true") + f"  tls:\n    caFile: {ca_file}\n")
        setup.repo.commit("starttls", **{"server.yaml": starttls_server,
                                         "ops.yaml": recipient_list("ops", RECIPIENTS)})
        config = str(setup.tmp / "config.yaml")
        setup.start(config=f"secrets: {{passwordFiles: [{password_file}]}}\n").stop()  # writes config.yaml
        assert main(["mail-test", "--config", config, "--to", "me@example.com"]) == 0
        out = capsys.readouterr().out
        assert "STARTTLS: TLSv1." in out and "AUTH as alerts: accepted" in out
        assert "sent: the server accepted it for 1 recipient(s)" in out
        assert SECRET not in out
        assert smtp.wait_for(1)[0].recipients == ["me@example.com"]

        password_file.write_text("wrong\n")
        assert main(["mail-test", "--config", config]) == 1
        captured = capsys.readouterr()
        assert "not sent: AUTH as alerts refused: 535" in captured.err
        assert f"check the username and the password (in passwordFile {password_file})" in captured.err
        assert "wrong" not in captured.out + captured.err

        # A typo in --to is said before anything is sent.
        assert main(["mail-test", "--config", config, "--to", "me@example.com", "--to", "not an address"]) == 2
        captured = capsys.readouterr()
        assert captured.err == "--to: 'not an address' is not an e-mail address: write it as name@example.com\n"
        assert len(smtp.messages) == 1
    finally:
        smtp.controller.stop()


def test_mail_test_reaches_fifty_recipients_through_a_strict_server(setup, smtp, capsys):
    """The case we are built for: a 50-address list. The message goes with CRLF line endings
    (with bare LF a strict server sees one endless line: "500 Line too long"), and its
    dot-stuffing is undone by the server (no doubled dot)."""
    from reconciler.cli.main import main

    fifty = [f"oncall{n:02d}@example.com" for n in range(50)]
    setup.repo.commit("fifty", **{"server.yaml": server(port=smtp.port), "ops.yaml": recipient_list("ops", fifty)})
    config = str(setup.tmp / "config.yaml")
    setup.start().stop()  # writes config.yaml
    capsys.readouterr()
    assert main(["mail-test", "--config", config]) == 0
    assert "sent: the server accepted it for 50 recipient(s)" in capsys.readouterr().out
    received = smtp.wait_for(1)
    assert len(received) == 1 and sorted(received[0].recipients) == sorted(fifty)
    assert b"\r\n" in received[0].content and b"\n" not in received[0].content.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in received[0].content.split(b"\r\n"))
    text = message_from_bytes(received[0].content, policy=default).get_content()
    assert "If you read this, the daemon's own alerts can reach you." in text and ".." not in text


@pytest.mark.slow
@pytest.mark.alertmanager
def test_unreachable_alertmanager_is_mailed_after_the_grace_period_and_resolved(setup, smtp):
    from tests.support.alertmanager import Alertmanager
    from tests.support.services import require_binary

    binary = require_binary("prometheus-alertmanager")
    good_specs(setup.repo, smtp.port)
    setup.output.write_text("route: {receiver: x}\nreceivers: [{name: x}]\n")
    port = free_port()
    config = setup.tmp / "config.yaml"
    daemon = setup.start([f"http://127.0.0.1:{port}"])
    daemon.stop()  # only to write config.yaml; now give it a 1 s grace period
    config.write_text(config.read_text() + "ownAlerts: {gracePeriod: 1s}\n")
    daemon = DaemonProcess(config, {"SMTP_PASSWORD": "unused"})
    firing = smtp.wait_for_alert("AlertmanagerUnreachable", timeout=30)
    mail = message_from_bytes(firing.content, policy=default)
    assert "[FIRING] AlertmanagerUnreachable" in mail["Subject"]
    assert sorted(r.lower() for r in firing.recipients) == sorted(RECIPIENTS)
    assert f"http://127.0.0.1:{port}: unreachable" in mail.get_content()
    # Nothing answered, so nothing was written: the file keeps what Alertmanager would start with.
    assert setup.output.read_text() == "route: {receiver: x}\nreceivers: [{name: x}]\n"

    am = Alertmanager(binary, setup.output, setup.tmp / "am-data", port=port).start()
    try:
        resolved = smtp.wait_for_alert("AlertmanagerUnreachable", "resolved", timeout=30)
        assert "[RESOLVED] AlertmanagerUnreachable" in message_from_bytes(resolved.content, policy=default)["Subject"]
        assert "notify-reconciler/ops" in setup.output.read_text()
    finally:
        daemon.stop()
        am.stop()
