"""mail-test --probe: could Alertmanager send through this server as configured?

Differential: for each server (STARTTLS with AUTH, a wrong password, a password file ending
in a line break, no STARTTLS, an untrusted or soon-expiring certificate, a closed port, no
mechanism Alertmanager knows, PLAIN or LOGIN over a plain connection to a non-local host), the
probe's verdict is compared with what the real Alertmanager does when it sends an alert
through the rendered config: delivered, or counted in
alertmanager_notification_requests_failed_total{integration="email"} (each failed attempt;
alertmanager_notifications_failed_total waits until Alertmanager gives up). No password reaches the output.
"""

from __future__ import annotations

import datetime
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from reconciler.cli.main import main
from reconciler.specs.pipeline import parse_specs
from reconciler.core.render import render_alertmanager_config
from reconciler.values import Reason

from tests.support.alertmanager import Alertmanager
from tests.support.audit import SECRET
from tests.support.gitrepo import GitRepo, document, recipient_list
from tests.support.services import free_port, require_binary, wait_until
from tests.support.smtp import start_smtp_server


USER = "alerts"


@dataclass
class Case:
    name: str
    findings: set[Reason]
    """The own alerts the probe must raise (empty: Alertmanager can send)."""
    delivers: bool
    """What the real Alertmanager does with this server."""
    hint: str = ""
    """Words the finding must contain (what to change)."""


CASES = [
    Case("starttls-and-plain", set(), True),
    Case("expiring-certificate", {Reason.SMTP_CERTIFICATE_EXPIRING}, True, "expires in"),
    Case("wrong-password", {Reason.SMTP_LOGIN_FAILED}, False, "check the username and the password"),
    Case("password-file-ends-with-newline", {Reason.SMTP_LOGIN_FAILED}, False, "ends with a line break"),
    Case("no-starttls-offered", {Reason.SMTP_TLS_MISMATCH}, False, "set starttls: false"),
    Case("untrusted-certificate", {Reason.SMTP_TLS_MISMATCH}, False, "set tls.caFile"),
    Case("closed-port", {Reason.SMTP_UNREACHABLE}, False, "cannot connect"),
    Case("no-usable-mechanism", {Reason.SMTP_LOGIN_FAILED}, False, "PLAIN or LOGIN only"),
    Case("plain-password-in-clear", {Reason.SMTP_TLS_MISMATCH}, False, "set starttls: true"),
    # Alertmanager's own LOGIN does not refuse: it delivers, with the password in clear. The
    # probe says so and sends no password itself (the daemon's mailer refuses it too).
    Case("login-password-in-clear", {Reason.SMTP_TLS_MISMATCH}, True, "send the password in clear"),
    # aiosmtpd offers "AUTH LOGIN PLAIN" and its LOGIN asks "User Name": Alertmanager takes
    # LOGIN (the server's first) and gives up on that challenge, however right the password.
    Case("login-before-plain", {Reason.SMTP_LOGIN_FAILED}, False, "offer AUTH PLAIN before LOGIN"),
]


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def server_context(ca, *, days: int | None = None, host: str = "127.0.0.1") -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    not_after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days) if days else None
    ca.issue_cert(host, not_after=not_after).configure_cert(context)
    return context


async def auth_xoauth2(self, server, args):  # a mechanism Alertmanager does not know
    await server.push("535 5.7.8 no")
    return None


async def auth_login_as_alertmanager_answers(self, server, args):
    """AUTH LOGIN with the challenges Alertmanager 0.25 answers ('Username:', 'Password:'),
    not aiosmtpd's 'User Name'."""
    from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword

    login = await server.challenge_auth("Username:")
    password = MISSING if login is MISSING else await server.challenge_auth("Password:")
    if password is MISSING:
        return AuthResult(success=False, handled=True)
    return server._authenticate("LOGIN", LoginPassword(login, password))


def start_case(case: Case, ca, tmp_path: Path):
    """(the SMTP server or None, the EmailServer spec's fields)."""
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    password = tmp_path / "password"
    password.write_text(SECRET + ("\n" if case.name == "password-file-ends-with-newline" else ""))
    spec = {"host": "127.0.0.1", "starttls": "true", "username": USER, "passwordFile": str(password),
            "tls": f"{{caFile: {ca_file}}}"}
    credentials = (USER, "not the password" if case.name == "wrong-password" else SECRET)
    if case.name == "closed-port":
        return None, {**spec, "port": str(free_port())}
    if case.name == "no-starttls-offered":
        smtp = start_smtp_server(credentials=credentials, auth_require_tls=False, auth_exclude=("LOGIN",))
    elif case.name == "plain-password-in-clear":
        smtp = start_smtp_server(credentials=credentials, auth_require_tls=False, hostname="127.0.0.2",
                                 auth_exclude=("LOGIN",))
        spec = {**spec, "host": "127.0.0.2", "starttls": "false"}
    elif case.name == "login-password-in-clear":
        smtp = start_smtp_server(credentials=credentials, auth_require_tls=False, hostname="127.0.0.2",
                                 auth_exclude=("PLAIN",),
                                 handler_extra={"auth_LOGIN": auth_login_as_alertmanager_answers})
        spec = {**spec, "host": "127.0.0.2", "starttls": "false"}
    else:
        context = server_context(ca, days=3 if case.name == "expiring-certificate" else None)
        smtp = start_smtp_server(
            tls_context=context, require_starttls=True, credentials=credentials,
            auth_exclude=("PLAIN", "LOGIN") if case.name == "no-usable-mechanism" else
            () if case.name == "login-before-plain" else ("LOGIN",),
            handler_extra={"auth_XOAUTH2": auth_xoauth2} if case.name == "no-usable-mechanism" else None)
        if case.name == "untrusted-certificate":
            spec = {**spec, "tls": "{}"}
    return smtp, {**spec, "port": str(smtp.port)}


def specs_text(spec: dict[str, str]) -> dict[str, str]:
    lines = "\n".join(f"{key}: {value}" for key, value in spec.items())
    return {"server.yaml": document("EmailServer", "smtp", lines + "\nfrom: alertmanager@example.com\n"),
            "ops.yaml": recipient_list("ops", ["ops@example.com"]),
            "policy.yaml": document("NotificationPolicy", "p", "groupWait: 0s\ngroupInterval: 1s\n")}


def alertmanager_delivers(am: Alertmanager, smtp, files: dict[str, str], name: str) -> bool:
    """Render the specs, load them into the real Alertmanager, fire one alert: delivered, or
    counted as a failed e-mail notification?"""
    specs = parse_specs({path: text.encode() for path, text in files.items()})
    am.config_path.write_text(render_alertmanager_config(specs))
    assert am.reload()[0] == 200, am.log()
    failed_before = am.metric('alertmanager_notification_requests_failed_total{integration="email"}') or 0
    delivered_before = len(smtp.messages) if smtp else 0
    am.post_alerts([{"labels": {"alertname": f"Probe-{name}"}}])

    def settled():
        if smtp is not None and len(smtp.messages) > delivered_before:
            return "delivered"
        if (am.metric('alertmanager_notification_requests_failed_total{integration="email"}') or 0) > failed_before:
            return "failed"
        return None

    return wait_until(settled, 20, f"Alertmanager to deliver or fail ({name})") == "delivered"


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory):
    folder = tmp_path_factory.mktemp("am")
    config = folder / "alertmanager.yml"
    config.write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    am = Alertmanager(require_binary("prometheus-alertmanager"), config, folder / "data").start()
    yield am
    am.stop()


@pytest.mark.alertmanager
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_probe_agrees_with_what_alertmanager_does(case, ca, alertmanager, tmp_path, capsys):
    smtp, spec = start_case(case, ca, tmp_path)
    try:
        files = specs_text(spec)
        repo = GitRepo(tmp_path / "repo")
        repo.commit("specs", **files)
        config = tmp_path / "config.yaml"
        config.write_text(f"source: {{repo: {repo.path}}}\ntarget: {{output: {tmp_path}/am.yml, alertmanagers: []}}\n"
                          f"stateDir: {tmp_path}/state\nsecrets: {{passwordFiles: [{tmp_path}/password]}}\n")
        capsys.readouterr()
        code = main(["mail-test", "--config", str(config), "--probe"])
        captured = capsys.readouterr()
        found = {Reason(line.split(":", 1)[0]) for line in captured.err.splitlines() if line.startswith("Smtp")}
        assert found == case.findings, captured.out + captured.err
        # ok only when nothing but an expiring certificate was found (a password Alertmanager
        # would send in clear is not ok, though the mail goes).
        assert code == (1 if case.findings - {Reason.SMTP_CERTIFICATE_EXPIRING} else 0), captured.out + captured.err
        assert case.hint in captured.err
        assert SECRET not in captured.out + captured.err
        if smtp is not None:
            assert smtp.messages == []  # a probe sends nothing
            if Reason.SMTP_TLS_MISMATCH in case.findings:
                assert smtp.logins == []  # and no password where TLS is missing
        if case.name.endswith("password-in-clear"):  # mail-test refuses as the probe does
            assert main(["mail-test", "--config", str(config), "--to", "me@example.com"]) == 1
            err = capsys.readouterr().err
            assert "not sent: " in err and "offers AUTH on an unencrypted connection" in err, err
            assert smtp.logins == [] and smtp.messages == []
        assert alertmanager_delivers(alertmanager, smtp, files, case.name) == case.delivers
    finally:
        if smtp is not None:
            smtp.controller.stop()
