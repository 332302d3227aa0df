"""Secret audit: a recognisable SMTP password goes through every path a user meets and is
found nowhere but the one file Alertmanager reads it from."""

from __future__ import annotations

import os
import ssl

import trustme

from reconciler.cli.main import main

from tests.support.audit import SECRET
from tests.support.daemon import DaemonProcess, get
from tests.support.gitrepo import GitRepo, recipient_list, server
from tests.support.services import free_port, wait_until
from tests.support.smtp import start_smtp_server


PASSWORD = SECRET  # the suite-wide audit looks for it (tests/support/audit.py)


def test_the_password_reaches_no_log_diff_mail_metric_status_or_state(tmp_path, capsys):
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    smtp = start_smtp_server(tls_context=context, require_starttls=True, credentials=("alerts", PASSWORD))
    try:
        secure = (server(port=smtp.port, username="alerts", passwordEnv="SMTP_PASSWORD")
                  .replace("starttls: false", "starttls: true") + f"  tls:\n    caFile: {tmp_path / 'ca.pem'}\n")
        repo = GitRepo(tmp_path / "repo")
        repo.commit("good", **{"server.yaml": secure, "ops.yaml": recipient_list("ops", ["ops@example.com"])})
        listen = free_port()
        output = tmp_path / "alertmanager.yml"
        config = tmp_path / "config.yaml"
        config.write_text(f"source: {{repo: {repo.path}, pollInterval: 1s}}\n"
                          f"target: {{output: {output}, alertmanagers: []}}\n"
                          f"stateDir: {tmp_path / 'state'}\nlisten: 127.0.0.1:{listen}\n")
        os.environ["SMTP_PASSWORD"] = PASSWORD
        seen: list[str] = []

        daemon = DaemonProcess(config, {"SMTP_PASSWORD": PASSWORD})
        wait_until(lambda: get(f"http://127.0.0.1:{listen}/readyz")[0] == 200, 15, "the first pass")
        repo.commit("typo", **{"ops.yaml": recipient_list("ops", ["ops@@example"])})
        # The probe may mail SmtpLoginFailed first (this server's AUTH LOGIN is not one
        # Alertmanager can use): wait for the mail meant, not a count.
        smtp.wait_for_alert("ConfigRejected")  # sent with AUTH using the password
        repo.commit("fix", **{"ops.yaml": recipient_list("ops", ["ops@example.org"])})
        smtp.wait_for_alert("ConfigRejected", "resolved")
        seen.append(get(f"http://127.0.0.1:{listen}/metrics")[1])
        assert daemon.stop() == 0
        seen.append(daemon.text())

        repo.write("ops.yaml", recipient_list("ops", ["someone@example.com"]))
        for command in (["diff", str(repo.path), "--config", str(config)], ["status", "--config", str(config)],
                        ["apply", "--config", str(config)], ["render", str(repo.path)],
                        ["mail-test", "--config", str(config), "--to", "me@example.com"],
                        ["validate", str(repo.path)]):
            main(command)
            captured = capsys.readouterr()
            seen += [captured.out, captured.err]
        smtp.wait_for_subject("notify-reconciler test mail")  # mail-test got through, authenticated
        seen += [m.content.decode("utf-8", "replace") for m in smtp.messages]
        seen.append(output.read_text())

        secrets_file = tmp_path / "state" / "secrets" / "smtp-password-smtp"
        for path in sorted((tmp_path / "state").rglob("*")):
            if path.is_file() and path != secrets_file:
                seen.append(f"{path}:\n" + path.read_text(errors="replace"))
    finally:
        smtp.controller.stop()
        os.environ.pop("SMTP_PASSWORD", None)

    leaks = [text[:200] for text in seen if PASSWORD in text]
    assert leaks == []
    # The audit can fail: the password was really used, and sits in the one file meant for it.
    assert secrets_file.read_text() == PASSWORD
    assert len(seen) > 15
