"""The mail channel is watched, and trouble about it is reported another way.

Real parts only: the daemon as a process, aiosmtpd servers, Debian's msmtp as the
sendmail-compatible fallback, and the real Alertmanager whose own counters say that its
e-mail does not go out.
"""

from __future__ import annotations

import stat
import sys
import subprocess
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from tests.support.alertmanager import Alertmanager
from tests.support.audit import SECRET
from tests.support.daemon import DaemonProcess
from tests.support.gitrepo import GitRepo, document, recipient_list, server
from tests.support.services import free_port, require_binary, wait_until
from tests.support.smtp import start_smtp_server


def subjects(smtp) -> list[str]:
    return [str(message_from_bytes(m.content, policy=default)["Subject"]) for m in list(smtp.messages)]


def msmtp_sendmail(folder: Path, port: int) -> Path:
    """A sendmail-compatible program: Debian's msmtp, relaying to 127.0.0.1:`port`."""
    msmtp = require_binary("msmtp")
    config = folder / "msmtprc"
    config.write_text(f"account default\nhost 127.0.0.1\nport {port}\nauth off\ntls off\n"
                      "from fallback@example.com\n")
    config.chmod(0o600)
    program = folder / "sendmail"
    program.write_text(f"#!/bin/sh\nexec {msmtp} -C {config} \"$@\"\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program


def write_config(tmp_path: Path, repo: GitRepo, alertmanagers: list[str], own_alerts: str) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {repo.path}, pollInterval: 1s}}\n"
                      f"target: {{output: {tmp_path}/alertmanager.yml, alertmanagers: [{', '.join(alertmanagers)}]}}\n"
                      f"stateDir: {tmp_path}/state\nlisten: 127.0.0.1:{free_port()}\nownAlerts: {own_alerts}\n")
    return config


def test_a_tls_mismatch_found_by_the_probe_is_mailed_through_sendmail_and_resolves(tmp_path):
    primary = start_smtp_server()  # plain: offers no STARTTLS
    fallback = start_smtp_server()
    repo = GitRepo(tmp_path / "repo")
    # starttls is on by default: Alertmanager would refuse this server.
    repo.commit("server", **{"server.yaml": server(port=primary.port).replace("  starttls: false\n", ""),
                             "ops.yaml": recipient_list("ops", ["ops@example.com"])})
    sendmail = msmtp_sendmail(tmp_path, fallback.port)
    config = write_config(tmp_path, repo, [], f"{{fallback: {{sendmail: {sendmail}}}, "
                                              "fallbackRecipients: [admin@example.com]}")
    daemon = DaemonProcess(config)
    try:
        firing = fallback.wait_for_alert("SmtpTlsMismatch")
        mail = message_from_bytes(firing.content, policy=default)
        assert mail["Subject"].startswith("[FIRING] SmtpTlsMismatch: the server offers no STARTTLS")
        assert firing.recipients == ["admin@example.com"]
        assert "set starttls: false" in mail.get_content()
        assert primary.messages == []  # the alert about the primary went the other way first
        # The sink may hold the mail a moment before the daemon logs that it went.
        wait_until(lambda: "event=mail_sent" in daemon.text(), 10, "the mail_sent log line")
        assert 'route="fallback' in daemon.text()

        repo.commit("plain relay", **{"server.yaml": server(port=primary.port)})
        resolved = fallback.wait_for_alert("SmtpTlsMismatch", "resolved")
        assert message_from_bytes(resolved.content, policy=default)["Subject"].startswith("[RESOLVED] SmtpTlsMismatch")
    finally:
        daemon.stop()
        primary.controller.stop()
        fallback.controller.stop()


def test_no_password_goes_in_clear_to_a_server_that_is_not_localhost_and_the_fallback_carries_it(tmp_path):
    """The EmailServer speaks plain SMTP with AUTH on 127.0.0.2 (loopback, but not a name Go
    sends a password to in clear). ConfigRejected is tried through it first and refused
    before AUTH; the fallback relay carries it, and the probe's SmtpTlsMismatch says why."""
    primary = start_smtp_server(hostname="127.0.0.2", credentials=("alerts", SECRET), auth_require_tls=False,
                                auth_exclude=("LOGIN",))
    fallback = start_smtp_server()
    password = tmp_path / "password"
    password.write_text(SECRET)
    repo = GitRepo(tmp_path / "repo")
    repo.commit("server", **{"server.yaml": server("127.0.0.2", primary.port, username="alerts",
                                                   passwordFile=str(password)),
                             "ops.yaml": recipient_list("ops", ["ops@example.com"])})
    config = write_config(tmp_path, repo, [], f"{{fallback: {{smtp: {{host: 127.0.0.1, port: {fallback.port}, "
                                              "starttls: false, from: relay@example.com}}}")
    config.write_text(config.read_text() + f"secrets: {{passwordFiles: [{password}]}}\n")
    daemon = DaemonProcess(config)
    try:
        mismatch = fallback.wait_for_alert("SmtpTlsMismatch")
        assert "Alertmanager would log in with PLAIN, which Go refuses" in message_from_bytes(
            mismatch.content, policy=default).get_content()
        repo.commit("typo", **{"ops.yaml": recipient_list("ops", ["ops@@example"])})
        rejected = fallback.wait_for_alert("ConfigRejected")
        assert rejected.sender == "relay@example.com" and rejected.recipients == ["ops@example.com"]
        assert primary.logins == [] and primary.messages == []
    finally:
        daemon.stop()
        primary.controller.stop()
        fallback.controller.stop()


def test_own_alerts_go_through_the_fallback_relay_when_the_server_is_down(tmp_path):
    fallback = start_smtp_server()
    repo = GitRepo(tmp_path / "repo")
    down = free_port()
    repo.commit("server", **{"server.yaml": server(port=down),
                             "ops.yaml": recipient_list("ops", ["ops@example.com"])})
    config = write_config(tmp_path, repo, [], f"{{gracePeriod: 1s, fallback: {{smtp: {{host: 127.0.0.1, port: "
                                              f"{fallback.port}, starttls: false, from: relay@example.com}}}}}}")
    daemon = DaemonProcess(config)
    try:
        wait_until(lambda: "event=applied" in daemon.text(), 20, "the first pass")
        repo.commit("typo", **{"ops.yaml": recipient_list("ops", ["ops@@example"])})
        wait_until(lambda: any("ConfigRejected" in s for s in subjects(fallback)), 20, "ConfigRejected via the relay")
        rejected = next(m for m in fallback.messages if "ConfigRejected" in str(message_from_bytes(m.content)["Subject"]))
        assert rejected.sender == "relay@example.com" and rejected.recipients == ["ops@example.com"]
        # The probe found the server down too (after the grace period), and said so the same way.
        wait_until(lambda: any("SmtpUnreachable" in s for s in subjects(fallback)), 20, "SmtpUnreachable")
    finally:
        daemon.stop()
        fallback.controller.stop()


def test_a_missing_sendmail_is_refused_at_start(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("server", **{"server.yaml": server(), "ops.yaml": recipient_list("ops", ["ops@example.com"])})
    config = write_config(tmp_path, repo, [], "{fallback: {sendmail: /nonexistent/sendmail}}")
    result = subprocess.run([sys.executable, "-m", "reconciler", "run", "--config", str(config)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == ("ownAlerts.fallback.sendmail: /nonexistent/sendmail is not an executable file: "
                                     "install a sendmail-compatible program there (e.g. Debian's msmtp-mta), or name "
                                     "the right path")


@pytest.mark.parametrize("own_alerts, expected", [
    ("{fallback: {sendmail: /usr/sbin/sendmail, smtp: {host: h, from: a@example.com}}}",
     "ownAlerts.fallback: must be either {sendmail: /path/to/sendmail} or {smtp: {host, port, from, ...}}"),
    ("{fallback: {sendmail: sendmail}}", "ownAlerts.fallback"),
    ("{fallbackRecipients: [not-an-address]}", "ownAlerts.fallbackRecipients[0]: 'not-an-address' is not an e-mail"),
    ("{probeInterval: 1 hour}", "ownAlerts.probeInterval: '1 hour' is not a duration"),
])
def test_bad_own_alert_settings_are_located_errors(tmp_path, own_alerts, expected):
    repo = GitRepo(tmp_path / "repo")
    config = write_config(tmp_path, repo, [], own_alerts)
    result = subprocess.run([sys.executable, "-m", "reconciler", "status", "--config", str(config)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 2
    assert "config.yaml:5:" in result.stderr and expected in result.stderr, result.stderr


@pytest.mark.alertmanager
def test_alertmanager_failing_to_send_raises_email_delivery_failing_and_resolves(tmp_path):
    fallback = start_smtp_server()
    down = free_port()
    repo = GitRepo(tmp_path / "repo")
    repo.commit("server", **{
        "server.yaml": server(port=down),
        "ops.yaml": recipient_list("ops", ["ops@example.com"]),
        "policy.yaml": document("NotificationPolicy", "p", "groupWait: 0s\ngroupInterval: 1s\n")})
    output = tmp_path / "alertmanager.yml"
    output.write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    am = Alertmanager(require_binary("prometheus-alertmanager"), output, tmp_path / "am").start()
    config = write_config(tmp_path, repo, [am.url], f"{{gracePeriod: 1h, fallback: {{smtp: {{host: 127.0.0.1, "
                                                    f"port: {fallback.port}, starttls: false, from: relay@example.com}}}}}}")
    daemon = DaemonProcess(config)
    primary = None
    try:
        wait_until(lambda: "event=applied" in daemon.text(), 20, "the first pass")
        am.post_alerts([{"labels": {"alertname": "DiskFull"}}])
        wait_until(lambda: any("EmailDeliveryFailing" in s for s in subjects(fallback)), 20,
                   "EmailDeliveryFailing through the fallback")
        firing = next(m for m in fallback.messages if "EmailDeliveryFailing" in str(message_from_bytes(m.content)["Subject"]))
        assert am.url in message_from_bytes(firing.content, policy=default).get_content()
        # The server comes back: Alertmanager's retry gets through, and the alert resolves.
        primary = start_smtp_server(port=down)
        wait_until(lambda: any(s.startswith("[RESOLVED] EmailDeliveryFailing") for s in subjects(fallback)
                               + subjects(primary)), 40, "EmailDeliveryFailing to resolve")
        assert any("DiskFull" in str(message_from_bytes(m.content)["Subject"]) for m in primary.messages)
    finally:
        daemon.stop()
        am.stop()
        fallback.controller.stop()
        if primary is not None:
            primary.controller.stop()
