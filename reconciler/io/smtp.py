"""SMTP delivery for the daemon's own alerts (its outbox is io/outbox.py).

`send` speaks to the EmailServer of the specs the way Alertmanager does: implicit TLS when
``ssl`` (port 465), STARTTLS required when ``starttls`` (a server without it is refused),
certificates checked against the system CAs or ``tls.caFile`` for ``tls.serverName`` (or the
host), unless ``insecureSkipVerify`` is spelled out; AUTH when the server offers it and a
username is set, with the password read at send time from ``passwordFile`` or
``passwordEnv``, and sent only over TLS or to localhost (`may_send_password`, Go's rule: a
plain server that is not localhost is refused, and the fallback carries the alert). Every
step is written to a transcript a person can act on (`mail-test` prints it); the password
never is. `send_with_sendmail` hands a message to a sendmail-compatible program instead.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..errors import MailError, PermanentMailError, TemporaryMailError
from ..specs.model import EmailServer

SMTP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Delivery:
    accepted: tuple[str, ...]
    refused: dict[str, str]
    """Recipients the server refused while accepting others: address -> reply."""
    transcript: tuple[str, ...]
    route: str = "primary"
    """Which way it went: the EmailServer (primary) or ownAlerts.fallback."""


def _password_source(server: EmailServer) -> str:
    if server.password_file:
        return f"in passwordFile {server.password_file}"
    if server.password_env:
        return f"in the daemon's environment variable {server.password_env} (passwordEnv)"
    return "none is set: add passwordFile or passwordEnv"


def read_password(server: EmailServer, environ: Mapping[str, str]) -> str | None:
    """The SMTP password, read now (so a rotated password file is used at once)."""
    if not server.username:
        return None
    if server.password_file:
        try:
            return Path(server.password_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise PermanentMailError(f"cannot read spec.passwordFile {server.password_file}: {exc.strerror}: "
                                     "the daemon's user must be able to read it") from exc
        except UnicodeDecodeError:
            raise PermanentMailError(f"spec.passwordFile {server.password_file} is not UTF-8 text: write the "
                                     "password into it as UTF-8") from None
    if server.password_env:
        value = environ.get(server.password_env)
        if value is None:
            raise PermanentMailError(f"spec.passwordEnv names {server.password_env}, which is not set for the "
                                     "daemon")
        return value
    return None


def send(server: EmailServer, password: str | None, sender: str, recipients: list[str], message: bytes, *,
         hello: str | None = None, timeout: float = SMTP_TIMEOUT) -> Delivery:
    """Deliver one message in one SMTP transaction (one RCPT per recipient)."""
    transcript: list[str] = []
    note = transcript.append
    server_name = server.tls.server_name or server.host
    client: smtplib.SMTP | None = None
    try:
        try:
            context = _tls_context(server)
            if server.ssl:
                client = _SMTPS(server_name, host=server.host, port=server.port, local_hostname=hello,
                                timeout=timeout, context=context)
                note(f"connected to {server.smarthost} with implicit TLS ({_tls_words(client)}), certificate "
                     f"{'not checked (insecureSkipVerify)' if server.tls.insecure_skip_verify else 'verified for ' + server_name}")
            else:
                client = smtplib.SMTP(server.host, server.port, local_hostname=hello, timeout=timeout)
                note(f"connected to {server.smarthost} (plain)")
            code, _ = client.ehlo()
            if server.starttls:
                if not client.has_extn("starttls"):
                    raise PermanentMailError(f"{server.smarthost} does not offer STARTTLS, and starttls: true "
                                             "requires it (as Alertmanager's require_tls does): enable it on the "
                                             "server, or set starttls: false", transcript)
                client._host = server_name  # smtplib checks the certificate against _host
                client.starttls(context=context)
                client.ehlo()
                note(f"STARTTLS: {_tls_words(client)}, certificate "
                     f"{'not checked (insecureSkipVerify)' if server.tls.insecure_skip_verify else 'verified for ' + server_name}")
            if server.username:
                if client.has_extn("auth"):
                    if not may_send_password(server.host, isinstance(client.sock, ssl.SSLSocket)):
                        raise PermanentMailError(password_in_clear_refused(server), transcript)
                    _login(client, server.username, password or "")
                    note(f"AUTH as {server.username}: accepted")
                else:
                    note("the server offers no AUTH: sending without logging in (as Alertmanager does)")
            refused = client.sendmail(sender, recipients, message)
            accepted = tuple(r for r in recipients if r not in refused)
            if refused:
                note(f"MAIL FROM {sender}: {len(accepted)} of {len(recipients)} recipient(s) accepted, "
                     f"{len(refused)} refused ({_first({r: f'{c} {_text(m)}' for r, (c, m) in refused.items()})}); "
                     "DATA accepted")
            else:
                note(f"MAIL FROM {sender}: all {len(recipients)} recipient(s) accepted; DATA accepted")
            return Delivery(accepted, {r: f"{c} {_text(m)}" for r, (c, m) in refused.items()}, tuple(transcript))
        finally:
            close_politely(client)
    except MailError:
        raise
    except (smtplib.SMTPException, OSError, UnicodeError) as exc:
        # A UnicodeError's chain would only repeat the address the message quotes.
        raise _mail_error(server, exc, transcript) from (None if isinstance(exc, UnicodeError) else exc)


def _mail_error(server: EmailServer, exc: Exception, transcript: list[str]) -> MailError:
    """What failed in `send`, as the MailError it is: temporary (4xx, a broken connection)
    or permanent (5xx, an untrusted certificate, a refused login), with what to change."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentMailError(f"the certificate of {server.smarthost} is not trusted ({exc.verify_message}): "
                                  "set tls.caFile to the CA that signed it, or tls.serverName to the name in it",
                                  transcript)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return PermanentMailError(f"AUTH as {server.username} refused: {exc.smtp_code} {_text(exc.smtp_error)}: "
                                  f"check the username and the password ({_password_source(server)})", transcript)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = {r: f"{c} {_text(m)}" for r, (c, m) in exc.recipients.items()}
        codes = [c for c, _ in exc.recipients.values()]
        kind = TemporaryMailError if all(400 <= c < 500 for c in codes) else PermanentMailError
        return kind(f"every recipient was refused: {_first(replies)}", transcript)
    if isinstance(exc, smtplib.SMTPResponseException):
        kind = TemporaryMailError if 400 <= exc.smtp_code < 500 else PermanentMailError
        return kind(f"{server.smarthost} answered {exc.smtp_code} {_text(exc.smtp_error)}", transcript)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentMailError(f"{server.smarthost}: {exc}", transcript)
    if isinstance(exc, UnicodeError):
        # smtplib speaks ASCII commands: an address with other characters needs SMTPUTF8.
        return PermanentMailError(f"cannot send to or from a non-ASCII address through {server.smarthost} "
                                  f"({exc.object[exc.start:exc.end]!r} in {exc.object.strip()!r}): use an "
                                  "ASCII address", transcript)
    # What is left: the connection failed, or the server went away.
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
    return TemporaryMailError(f"cannot talk to {server.smarthost}: {reason}", transcript)


LOCALHOST_NAMES = ("localhost", "127.0.0.1", "::1")
"""The server names Go's net/smtp sends a password to without TLS (smtp.PlainAuth's
isLocalhost): the host as written, compared exactly, so 127.0.0.2, LOCALHOST or a name that
resolves to a loopback address are not among them."""


def may_send_password(host: str, encrypted: bool) -> bool:
    """Whether a password may go to `host` on this connection: over TLS, or in clear only to
    localhost, 127.0.0.1 or ::1, as Go's smtp.PlainAuth (and so Alertmanager) decides. Any
    mechanism that carries the password (PLAIN, LOGIN) is held to it: both send it readable
    by anyone on the way."""
    return encrypted or host in LOCALHOST_NAMES


def password_in_clear_refused(server: EmailServer) -> str:
    return (f"{server.smarthost} offers AUTH on an unencrypted connection, and the password of {server.username} "
            "is sent without TLS only to localhost, 127.0.0.1 or ::1 (Go's smtp.PlainAuth, and so Alertmanager, "
            "refuses too): set starttls: true, or ssl: true on port 465")


def close_politely(client: smtplib.SMTP | None) -> None:
    """QUIT, or just close a connection the server already dropped."""
    if client is None:
        return
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _login(client: smtplib.SMTP, username: str, password: str) -> None:
    """One mechanism, PLAIN if offered, else LOGIN (as Alertmanager picks). smtplib's login()
    would try the next mechanism after a refusal, and some servers then never answer."""
    offered = client.esmtp_features.get("auth", "").upper().split()
    mechanism = "PLAIN" if "PLAIN" in offered or "LOGIN" not in offered else "LOGIN"
    client.user, client.password = username, password
    client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))


class _SMTPS(smtplib.SMTP_SSL):
    """SMTP over implicit TLS that checks the certificate for `server_name`, not the host."""

    def __init__(self, server_name: str, **kwargs) -> None:
        self._server_name = server_name
        super().__init__(**kwargs)

    def _get_socket(self, host, port, timeout):
        raw = socket.create_connection((host, port), timeout, self.source_address)
        return self.context.wrap_socket(raw, server_hostname=self._server_name)


def _tls_context(server: EmailServer) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=server.tls.ca_file)
    if server.tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _tls_words(client: smtplib.SMTP) -> str:
    sock = client.sock
    return sock.version() if isinstance(sock, ssl.SSLSocket) else "TLS"


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def _first(replies: dict[str, str]) -> str:
    address, reply = next(iter(replies.items()))
    return f"{address}: {reply}" + (f" (and {len(replies) - 1} more)" if len(replies) > 1 else "")


# -- the ways out: the EmailServer, and the fallback ---------------------------------------------

SENDMAIL_TIMEOUT = 60.0
_SENDMAIL_TEMPORARY = (69, 74, 75)
"""sysexits(3): EX_UNAVAILABLE, EX_IOERR, EX_TEMPFAIL: worth trying again later."""


def send_with_sendmail(program: str, sender: str, recipients: list[str], message: bytes, *,
                       timeout: float = SENDMAIL_TIMEOUT) -> Delivery:
    """Hand one message to a sendmail-compatible program (`PROGRAM -i -f FROM -- TO...`, the
    message on standard input), as cron, smartd and mdadm do. Exit 0 means it took it."""
    command = [program, "-i", "-f", sender, "--", *recipients]
    try:
        result = subprocess.run(command, input=message, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise TemporaryMailError(f"{program} did not finish within {timeout:.0f}s") from exc
    except OSError as exc:
        raise PermanentMailError(f"cannot run {program}: {exc.strerror or exc}: check ownAlerts.fallback.sendmail")
    said = " ".join(result.stderr.decode("utf-8", "replace").split())[:300]
    if result.returncode != 0:
        kind = TemporaryMailError if result.returncode in _SENDMAIL_TEMPORARY else PermanentMailError
        raise kind(f"{program} exited with {result.returncode}" + (f": {said}" if said else ""))
    return Delivery(tuple(recipients), {}, (f"handed to {program} for {len(recipients)} recipient(s)",),
                    route=f"fallback {program}")
