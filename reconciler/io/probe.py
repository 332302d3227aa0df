"""Could Alertmanager send through this EmailServer as configured? Asked without sending.

`probe` walks the conversation Alertmanager 0.25's e-mail notifier has with the server
(notify/email/email.go), step by step, and stops before MAIL FROM:
- connect: implicit TLS when ``ssl`` (port 465), else plain TCP;
- EHLO with ``hello``, or ``localhost`` as Go's net/smtp sends when none is set;
- STARTTLS when ``starttls`` (Alertmanager's ``require_tls``): a server that does not offer
  it is a mismatch, as Alertmanager refuses to send there;
- the certificate: verified against tls.caFile or the system CAs for tls.serverName (or the
  host), and its days until expiry;
- AUTH when a username is set and the server offers AUTH: Alertmanager takes the server's
  mechanisms in the server's order and uses the first of CRAM-MD5 (only with a secret,
  which the render never sets), PLAIN and LOGIN; Go's PLAIN refuses to send a password over
  an unencrypted connection except to localhost (Alertmanager's LOGIN does not: the probe
  then says so, and sends no password in clear itself); and the login itself, with the
  password read as Alertmanager 0.25 reads it: the file's bytes as they are, a trailing line
  break included.

Each problem is a `Finding` named after the own alert it raises (SmtpUnreachable,
SmtpTlsMismatch, SmtpCertificateExpiring, SmtpLoginFailed) with what to change. The
password never enters the transcript or a finding.
"""

from __future__ import annotations

import base64
import binascii
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .smtp import SMTP_TIMEOUT, _SMTPS, _text, _tls_context, close_politely, may_send_password
from ..specs.model import EmailServer
from ..values import Reason

ALERTMANAGER_MECHANISMS = ("CRAM-MD5", "PLAIN", "LOGIN")
"""What Alertmanager 0.25 can log in with (CRAM-MD5 only with auth_secret, never rendered)."""
EXPIRY_WARNING_DAYS = 14


@dataclass(frozen=True)
class Finding:
    """One problem: the own alert it raises, and what to change."""

    alert: Reason
    message: str


@dataclass
class ProbeReport:
    transcript: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    certificate_days_left: float | None = None

    @property
    def can_send(self) -> bool:
        """Alertmanager could send through this server as configured, without a password in
        clear (an expiring certificate still works today)."""
        return all(finding.alert is Reason.SMTP_CERTIFICATE_EXPIRING for finding in self.findings)

    def found(self, alert: Reason, message: str) -> None:
        self.findings.append(Finding(alert, message))


def alertmanager_password(server: EmailServer, environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(The password as Alertmanager 0.25 reads it, or None; why it cannot be read, or None)."""
    if server.password_file:
        try:
            return Path(server.password_file).read_bytes().decode("utf-8"), None
        except OSError as exc:
            return None, (f"cannot read spec.passwordFile {server.password_file}: {exc.strerror}: Alertmanager's "
                          "user (and the daemon's) must be able to read it")
        except UnicodeDecodeError:
            return None, f"spec.passwordFile {server.password_file} is not UTF-8 text"
    if server.password_env:
        value = environ.get(server.password_env)
        if value is None:
            return None, f"spec.passwordEnv names {server.password_env}, which is not set for the daemon"
        return value, None
    return None, "no password is configured: add passwordFile or passwordEnv"


def probe(server: EmailServer, environ: Mapping[str, str], *, timeout: float = SMTP_TIMEOUT,
          now: float | None = None, warn_days: float = EXPIRY_WARNING_DAYS) -> ProbeReport:
    """Talk to `server` as Alertmanager would, sending no mail: connect, EHLO, STARTTLS, AUTH.
    The report holds each step and what stops Alertmanager from sending."""
    report = ProbeReport()
    note = report.transcript.append
    now = time.time() if now is None else now
    server_name = server.tls.server_name or server.host
    hello = server.hello or "localhost"
    client: smtplib.SMTP | None = None
    try:
        context = _tls_context(server)
    except (OSError, ssl.SSLError) as exc:
        report.found(Reason.SMTP_TLS_MISMATCH, f"tls.caFile {server.tls.ca_file} cannot be used "
                                               f"({getattr(exc, 'strerror', None) or exc}): fix the path or the file")
        return report
    try:
        # 1. Connect: implicit TLS on 465 (ssl: true), plain TCP elsewhere.
        client = _connect(server, server_name, hello, timeout, context, report)
        if client is None:
            return report
        note(f"connected to {server.smarthost}" + (" with implicit TLS" if server.ssl else " (plain)"))
        if server.ssl:
            _certificate(client, server, server_name, now, warn_days, report)
        # 2. EHLO, as Alertmanager says it.
        code, _ = client.ehlo()
        extensions = sorted(name.upper() for name in client.esmtp_features)
        note(f"EHLO {hello}: {code}, offers {', '.join(extensions) or 'no extensions'}")
        # 3. STARTTLS when required.
        secure = server.ssl
        if server.starttls:
            if not _starttls(client, server, server_name, context, now, warn_days, report):
                return report
            secure = True
        elif not server.ssl and client.has_extn("starttls"):
            note("the server offers STARTTLS, and starttls: false: Alertmanager will not use it (mail and any "
                 "password go in clear)")
        # 4. AUTH, as Alertmanager picks it.
        if server.username:
            _login(client, server, environ, secure, report)
        else:
            note("no username: Alertmanager sends without logging in")
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        report.found(Reason.SMTP_UNREACHABLE, f"{server.smarthost} ended the conversation: {reason}")
    finally:
        close_politely(client)
    return report


def _connect(server: EmailServer, server_name: str, hello: str, timeout: float, context: ssl.SSLContext,
             report: ProbeReport) -> smtplib.SMTP | None:
    """The connection, with implicit TLS when `ssl: true`; None, with the reason in `report`,
    when there is none."""
    try:
        if server.ssl:
            return _SMTPS(server_name, host=server.host, port=server.port, local_hostname=hello,
                          timeout=timeout, context=context)
        return smtplib.SMTP(server.host, server.port, local_hostname=hello, timeout=timeout)
    except ssl.SSLCertVerificationError as exc:
        report.found(Reason.SMTP_TLS_MISMATCH, _untrusted(server, exc))
    except ssl.SSLError as exc:
        report.found(Reason.SMTP_TLS_MISMATCH, f"{server.smarthost} did not complete a TLS handshake "
                                               f"({exc.reason or exc}): ssl: true speaks TLS from the first byte "
                                               "(port 465); for a server that upgrades with STARTTLS (587, 25) "
                                               "use ssl: false with starttls: true")
    except (OSError, smtplib.SMTPException) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        report.found(Reason.SMTP_UNREACHABLE, f"cannot connect to {server.smarthost}: {reason}: check host, "
                                              "port and that the server runs")
    return None


def _starttls(client: smtplib.SMTP, server: EmailServer, server_name: str, context: ssl.SSLContext, now: float,
              warn_days: float, report: ProbeReport) -> bool:
    """Upgrade to TLS with STARTTLS and check the certificate; False, with the reason in
    `report`, when the server does not offer it or the handshake fails."""
    if not client.has_extn("starttls"):
        report.found(Reason.SMTP_TLS_MISMATCH,
                     f"the server offers no STARTTLS but spec.starttls is true (the default): set "
                     f"starttls: false for a plain relay{' on port 25' if server.port == 25 else ''}, or "
                     "enable STARTTLS on the server")
        return False
    try:
        client._host = server_name  # smtplib checks the certificate against _host
        client.starttls(context=context)
    except ssl.SSLCertVerificationError as exc:
        report.found(Reason.SMTP_TLS_MISMATCH, _untrusted(server, exc))
        return False
    except (ssl.SSLError, smtplib.SMTPException) as exc:
        report.found(Reason.SMTP_TLS_MISMATCH, f"STARTTLS with {server.smarthost} failed: {exc}")
        return False
    client.ehlo()
    version = client.sock.version() if isinstance(client.sock, ssl.SSLSocket) else "TLS"
    report.transcript.append(f"STARTTLS: {version}")
    _certificate(client, server, server_name, now, warn_days, report)
    return True


def _login(client: smtplib.SMTP, server: EmailServer, environ: Mapping[str, str], secure: bool,
           report: ProbeReport) -> None:
    note = report.transcript.append
    if not client.has_extn("auth"):
        note(f"the server offers no AUTH: Alertmanager sends without logging in as {server.username}")
        return
    offered = client.esmtp_features.get("auth", "").upper().split()
    # Alertmanager walks the server's list in the server's order; CRAM-MD5 needs an
    # auth_secret, which the render never sets, so it is passed over.
    usable = [mechanism for mechanism in offered if mechanism in ("PLAIN", "LOGIN")]
    if not usable:
        report.found(Reason.SMTP_LOGIN_FAILED,
                     f"the server offers AUTH {' '.join(offered) or '(none)'}, and Alertmanager can log in with "
                     "PLAIN or LOGIN only: enable one of them on the server")
        return
    mechanism = usable[0]
    if not may_send_password(server.host, secure):
        # The probe sends no password in clear either, whatever Alertmanager would do.
        if mechanism == "PLAIN":
            report.found(Reason.SMTP_TLS_MISMATCH,
                         "Alertmanager would log in with PLAIN, which Go refuses over an unencrypted connection "
                         "(except to localhost, 127.0.0.1 or ::1): set starttls: true (or ssl: true on port 465)")
        else:
            report.found(Reason.SMTP_TLS_MISMATCH,
                         f"Alertmanager would log in with LOGIN over an unencrypted connection and send the password "
                         f"in clear to {server.smarthost} (its LOGIN, unlike Go's PLAIN, does not refuse); the "
                         "probe did not send it, and the daemon's own mail will not: set starttls: true (or ssl: "
                         "true on port 465)")
        return
    password, problem = alertmanager_password(server, environ)
    if password is None:
        report.found(Reason.SMTP_LOGIN_FAILED, problem or "no password")
        return
    try:
        refusal = _go_auth(client, mechanism, server.username, password)
    except smtplib.SMTPResponseException as exc:
        refusal = f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if refusal is None:
        note(f"AUTH {mechanism} as {server.username}: accepted (the mechanism Alertmanager would use)")
        return
    message = f"AUTH {mechanism} as {server.username} refused: {refusal}"
    if refusal.startswith("5") and password != password.strip():
        message += (f": spec.passwordFile {server.password_file} ends with a line break or space, which "
                    "Alertmanager 0.25 sends as part of the password: write the file without it (printf "
                    "'%s' ... >FILE)")
    elif refusal.startswith("5"):
        message += f": check the username and the password ({_where(server)})"
    report.found(Reason.SMTP_LOGIN_FAILED, message)


def _go_auth(client: smtplib.SMTP, mechanism: str, username: str, password: str) -> str | None:
    """Log in as Go's net/smtp does with Alertmanager's PLAIN or LOGIN: None when accepted,
    else why not. Alertmanager's LOGIN answers only the challenges 'Username:' and
    'Password:' (any case); any other wording ends the login, whatever the password."""
    if mechanism == "PLAIN":
        code, reply = client.docmd("AUTH", "PLAIN " + _b64(f"\0{username}\0{password}"))
        return None if code == 235 else f"{code} {_text(reply)}"
    code, reply = client.docmd("AUTH", "LOGIN")
    for answer in (username, password):
        if code == 235:
            return None
        if code != 334:
            return f"{code} {_text(reply)}"
        challenge = _unb64(reply)
        expected = "username:" if answer is username else "password:"
        if challenge.lower() != expected:
            client.docmd("*")
            return (f"the server's AUTH LOGIN challenge is {challenge!r}, and Alertmanager 0.25 answers only "
                    "'Username:' and 'Password:': offer AUTH PLAIN before LOGIN on the server (Alertmanager takes "
                    "the server's first mechanism it knows)")
        code, reply = client.docmd(_b64(answer))
    return None if code == 235 else f"{code} {_text(reply)}"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _unb64(reply: bytes) -> str:
    try:
        return base64.b64decode(reply.strip(), validate=True).decode("utf-8", "replace")
    except (ValueError, binascii.Error):
        return reply.decode("utf-8", "replace")


def _certificate(client: smtplib.SMTP, server: EmailServer, server_name: str, now: float, warn_days: float,
                 report: ProbeReport) -> None:
    note = report.transcript.append
    sock = client.sock
    if server.tls.insecure_skip_verify or not isinstance(sock, ssl.SSLSocket):
        note("certificate not checked (insecureSkipVerify)")
        return
    certificate = sock.getpeercert() or {}
    expires = certificate.get("notAfter")
    issuer = dict(pair[0] for pair in certificate.get("issuer", ()) if pair)
    if not expires:
        note(f"certificate verified for {server_name}")
        return
    days = (ssl.cert_time_to_seconds(expires) - now) / 86400
    report.certificate_days_left = days
    note(f"certificate verified for {server_name}, issued by {issuer.get('commonName') or issuer.get('organizationName') or 'an unnamed CA'}, "
         f"expires {expires} ({days:.0f} days)")
    if days < warn_days:
        report.found(Reason.SMTP_CERTIFICATE_EXPIRING,
                     f"the certificate of {server.smarthost} expires in {max(days, 0):.1f} days ({expires}): renew "
                     "it before Alertmanager's mail stops")


def _untrusted(server: EmailServer, exc: ssl.SSLCertVerificationError) -> str:
    return (f"the certificate of {server.smarthost} is not trusted ({exc.verify_message}): set tls.caFile to the CA "
            "that signed it, or tls.serverName to the name in it")


def _where(server: EmailServer) -> str:
    if server.password_file:
        return f"in passwordFile {server.password_file}"
    return f"in the daemon's environment variable {server.password_env} (passwordEnv)"
