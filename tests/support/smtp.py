"""An aiosmtpd server for tests, recording every message and every AUTH that reaches it.

Default, strict limits (aiosmtpd's line length is RFC 5321's): what the daemon and
Alertmanager send must pass a real server.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from typing import NamedTuple

from tests.support.services import free_port, wait_until


@dataclass
class Received:
    sender: str
    recipients: list[str]
    content: bytes

    @property
    def message(self):
        return message_from_bytes(self.content)


class Login(NamedTuple):
    """One AUTH that reached the test server."""

    mechanism: str
    login: str
    password: str


@dataclass
class SmtpServer:
    """aiosmtpd on 127.0.0.1 recording every accepted message. Default, strict limits."""

    port: int
    controller: object
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    logins: list[Login] = field(default_factory=list)
    """Every AUTH that reached the server, accepted or not: what a client gave away."""
    connections: int = 0
    """Connections open now."""
    most_connections: int = 0
    """The most open at once."""
    refused_connections: int = 0
    """Connections turned away with 421 because `max_connections` were open."""

    def wait_for(self, count: int, timeout: float = 15) -> list[Received]:
        """At least `count` messages. Only where no other mail can arrive: a count is
        reached by whichever mail comes first (use `wait_for_mail` for a particular one)."""
        wait_until(lambda: len(self.messages) >= count, timeout, f"{count} message(s) at the SMTP server "
                                                                 f"(have {len(self.messages)})")
        with self.lock:
            return list(self.messages)

    def wait_for_mail(self, what: str, predicate, timeout: float = 15) -> Received:
        """The first message for which `predicate(message)` holds, `what` naming it."""
        def find():
            with self.lock:
                return next((m for m in self.messages if predicate(m.message)), None)
        return wait_until(find, timeout, f"{what} at the SMTP server (have: {self.subjects()})")

    def wait_for_subject(self, fragment: str, timeout: float = 15) -> Received:
        """The first message whose Subject contains `fragment`."""
        return self.wait_for_mail(f"a mail with {fragment!r} in its subject",
                                  lambda m: fragment in str(m.get("Subject", "")), timeout)

    def wait_for_alert(self, alert: str, status: str = "firing", timeout: float = 15) -> Received:
        """The daemon's own-alert mail of `alert` (ConfigRejected, ...) in `status`, by its
        X-Notify-Reconciler-Alert header."""
        return self.wait_for_mail(f"the {alert} {status} mail",
                                  lambda m: m.get("X-Notify-Reconciler-Alert") == f"{alert} {status}", timeout)

    def subjects(self) -> list[str]:
        with self.lock:
            return [str(m.message.get("Subject", "")) for m in self.messages]


def start_smtp_server(*, tls_context: ssl.SSLContext | None = None, require_starttls: bool = False,
                      implicit_tls: ssl.SSLContext | None = None, credentials: tuple[str, str] | None = None,
                      refuse: frozenset[str] = frozenset(), port: int | None = None, hostname: str = "127.0.0.1",
                      auth_require_tls: bool = True, auth_exclude: tuple[str, ...] = (),
                      handler_extra: dict | None = None, line_length_limit: int | None = None,
                      max_connections: int | None = None) -> SmtpServer:
    """aiosmtpd on 127.0.0.1: plain, STARTTLS (`tls_context`), or implicit TLS (`implicit_tls`);
    AUTH with `credentials` (over TLS only unless `auth_require_tls` is false; `auth_exclude` drops
    mechanisms, `handler_extra` adds methods such as another auth_<MECHANISM>); 550 for
    `refuse`d addresses. `line_length_limit` (octets with the CRLF; aiosmtpd's default 1001 is
    RFC 5321's 1,000) lets longer lines through, to see what a client really sends;
    `max_connections` answers a connection beyond that many open ones with 421 and closes it,
    as a server that limits one client's concurrent connections does (Postfix's
    smtpd_client_connection_count_limit)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, AuthResult

    class Server(SMTP):
        async def _handle_client(self) -> None:
            with smtp.lock:
                admitted = max_connections is None or smtp.connections < max_connections
                if admitted:
                    smtp.connections += 1
                    smtp.most_connections = max(smtp.most_connections, smtp.connections)
                else:
                    smtp.refused_connections += 1
            if not admitted:
                await self.push("421 4.7.0 too many connections from your host, try again later")
                self.transport.close()
                return
            try:
                await super()._handle_client()
            finally:
                with smtp.lock:
                    smtp.connections -= 1

    if line_length_limit is not None:
        Server.line_length_limit = line_length_limit

    class ServerController(Controller):
        def factory(self):
            return Server(self.handler, **self.SMTP_kwargs)

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address in refuse:
                return "550 5.1.1 no such mailbox here"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            with smtp.lock:
                smtp.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        with smtp.lock:
            smtp.logins.append(Login(mechanism, auth_data.login.decode(errors="replace"),
                                     auth_data.password.decode(errors="replace")))
        ok = credentials is not None and (auth_data.login.decode(), auth_data.password.decode()) == credentials
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd sends the 535

    port = port or free_port()
    options = {}
    if credentials is not None:
        options.update(authenticator=authenticator, auth_require_tls=auth_require_tls,
                       auth_exclude_mechanism=list(auth_exclude))
    for name, method in (handler_extra or {}).items():
        setattr(Handler, name, method)
    controller = ServerController(Handler(), hostname=hostname, port=port, tls_context=tls_context,
                                  require_starttls=require_starttls, ssl_context=implicit_tls,
                                  server_hostname="localhost", **options)
    smtp = SmtpServer(port, controller)
    controller.start()
    return smtp
