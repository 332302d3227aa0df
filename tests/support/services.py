"""Real services for integration tests: Alertmanager processes and an aiosmtpd server.

Nothing here is a mock: `Alertmanager` runs Debian's prometheus-alertmanager binary on a
free loopback port; `SmtpServer` is aiosmtpd with its default (strict) line limits.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import NamedTuple

import pytest


def require_binary(name: str) -> str:
    """The binary's path; without it a test fails in CI (CI=true) and skips elsewhere."""
    path = shutil.which(name)
    if not path:
        _missing(f"{name} is not installed: run ./scripts/setup (installs Debian's prometheus-alertmanager)")
    return path


def require_root(why: str) -> None:
    if os.geteuid() != 0:
        _missing(f"needs root {why}")


def _missing(message: str) -> None:
    """CI must run every test: there a missing requirement fails; elsewhere it skips."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


WAIT_SCALE = 2.0 if os.environ.get("PYTEST_XDIST_WORKER") else 1.0
"""In two test workers on two cores (scripts/test) everything may take twice as long. A wait
returns as soon as its condition holds, so a longer limit only delays a failure; what must be
fast is measured by bench/, not here."""


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    timeout *= WAIT_SCALE
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class TaskLimit:
    """A real task limit, as systemd's TasksMax gives a unit: a pids cgroup that lets its
    processes hold at most `tasks` processes and threads together. Needs root and a pids
    controller (cgroup v1 or v2); skips elsewhere, fails in CI. Use as a context manager; a
    command runs inside it through `wrap`."""

    ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))

    def __init__(self, tasks: int) -> None:
        require_root("to make a pids cgroup (a real TasksMax)")
        self.path: Path | None = None
        for root in self.ROOTS:
            candidate = root / f"notify-reconciler-test-{os.getpid()}-{time.monotonic_ns()}"
            try:
                candidate.mkdir()
            except OSError:
                continue
            if (candidate / "pids.max").exists():
                self.path = candidate
                break
            candidate.rmdir()
        if self.path is None:
            _missing("no pids cgroup can be made here (/sys/fs/cgroup/pids or a cgroup v2 pids controller)")
        (self.path / "pids.max").write_text(f"{tasks}\n")

    def wrap(self, command: list[str]) -> list[str]:
        """`command`, run inside the limit (the shell joins the cgroup, then becomes it)."""
        return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(self.path), *command]

    def current(self) -> int:
        """Tasks (processes and threads) in the cgroup now."""
        return int((self.path / "pids.current").read_text())

    def __enter__(self) -> TaskLimit:
        return self

    def __exit__(self, *exc_info) -> None:
        # What ran inside was started (and stopped) by the test; its last children may still be
        # exiting: the folder can go once they have.
        wait_until(lambda: not (self.path / "cgroup.procs").read_text().split(), 10, "the cgroup to empty")
        self.path.rmdir()


class Alertmanager:
    """One prometheus-alertmanager process on 127.0.0.1."""

    def __init__(self, binary: str, config_path: Path, storage: Path, *, port: int | None = None,
                 cluster_port: int | None = None, peers: tuple[int, ...] = (),
                 run_as: str | None = None, extra_args: tuple[str, ...] = ()) -> None:
        self.binary = binary
        self.extra_args = extra_args
        self.run_as = run_as
        self.config_path = config_path
        self.storage = storage
        self.port = port or free_port()
        self.cluster_port = cluster_port
        self.peers = peers
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log_path = storage.parent / f"alertmanager-{self.port}.log"

    def start(self) -> Alertmanager:
        self.storage.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            shutil.chown(self.storage, self.run_as)
        cluster = [f"--cluster.listen-address=127.0.0.1:{self.cluster_port}"] if self.cluster_port else \
            ["--cluster.listen-address="]
        cluster += [f"--cluster.peer=127.0.0.1:{peer}" for peer in self.peers]
        if self.cluster_port:
            # Loopback clusters settle fast; the defaults wait for a real network.
            cluster += ["--cluster.settle-timeout=2s", "--cluster.pushpull-interval=1s",
                        "--cluster.gossip-interval=50ms", "--cluster.peer-timeout=1s"]
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [*prefix, self.binary, f"--config.file={self.config_path}", f"--storage.path={self.storage}",
             f"--web.listen-address=127.0.0.1:{self.port}", *cluster, *self.extra_args],
            stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_until(self._ready, 15, f"Alertmanager on {self.url} to be ready")
        except AssertionError:
            self.stop()
            raise AssertionError(f"Alertmanager did not start:\n{self.log()}") from None
        return self

    def _ready(self) -> bool:
        if self.process and self.process.poll() is not None:
            raise AssertionError(f"Alertmanager exited with {self.process.returncode}:\n{self.log()}")
        try:
            return self.get("/-/ready")[0] == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()

    def log(self, whole: bool = False) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
            return text if whole else text[-4000:]
        except OSError:
            return ""

    def get(self, path: str) -> tuple[int, str]:
        return _request(self.url + path)

    def metric(self, name: str) -> float | None:
        """A sample's value; `name` may carry labels as exposed: x_total{integration="email"}."""
        for line in self.get("/metrics")[1].splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def reload(self) -> tuple[int, str]:
        return _request(self.url + "/-/reload", method="POST", data=b"")

    def status(self) -> dict:
        return json.loads(self.get("/api/v2/status")[1])

    def post_alerts(self, alerts: list[dict]) -> None:
        status, body = _request(self.url + "/api/v2/alerts", method="POST", data=json.dumps(alerts).encode(),
                                headers={"Content-Type": "application/json"})
        assert status == 200, f"posting alerts: {status} {body}"


def _request(url: str, *, method: str = "GET", data: bytes | None = None,
             headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


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
