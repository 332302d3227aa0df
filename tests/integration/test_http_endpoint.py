"""The daemon's HTTP endpoint against clients that hold connections: real sockets on
loopback, the endpoint alone, and the daemon under a real task limit (TasksMax=64, as its
unit has) while 200 idle and 20 slowloris connections are held."""

from __future__ import annotations

import os
import select
import signal
import socket
import threading
from collections import Counter

import pytest

from reconciler.errors import EnvironmentProblem
from reconciler.daemon.http import TEXT, HttpEndpoint, HttpLimits

from tests.support.daemon import DaemonProcess, get
from tests.support.gitrepo import GitRepo, recipient_list, server
from tests.support.services import TaskLimit, free_port, wait_until


SLOWLORIS_HEAD = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
"""A request head that never ends: a client adds a byte now and then, never the blank line."""


@pytest.fixture
def serve():
    """Start endpoints with small bounds (4 connections, 1 s unless told); each counts the
    drops it reported in `.drops`."""
    started = []

    def start(seconds: float = 1.0) -> HttpEndpoint:
        drops: Counter[str] = Counter()
        served = HttpEndpoint.serve("127.0.0.1:0", {
            "/healthz": lambda: (200, b"ok\n", TEXT),
            "/fails": lambda: 1 / 0,
        }, limits=HttpLimits(connections=4, seconds=seconds, request_bytes=1024),
            on_drop=lambda reason: drops.update([reason]))
        served.drops = drops
        started.append(served)
        return served

    yield start
    for served in started:
        served.close()


@pytest.fixture
def endpoint(serve):
    return serve()


def connect(address) -> socket.socket:
    sock = socket.create_connection(address, timeout=10)
    return sock


def exchange(address, request: bytes) -> bytes:
    """Send `request` on a new connection; everything the endpoint sends until it closes."""
    with connect(address) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def closed_by_peer(sock: socket.socket, timeout: float = 10) -> bool:
    """Wait (up to `timeout`) for the other side to close; True if it did."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_a_slowloris_client_is_closed_when_its_time_is_up(endpoint):
    """A byte of header every 0.1 s keeps no connection past the endpoint's 1 s."""
    with connect(endpoint.address) as sock:
        sock.sendall(SLOWLORIS_HEAD)
        stop = threading.Event()

        def trickle():
            while not stop.wait(0.1):
                try:
                    sock.send(b"X")
                except OSError:
                    return

        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        try:
            assert closed_by_peer(sock)
        finally:
            stop.set()
            trickler.join()
    assert endpoint.drops["timeout"] == 1
    assert exchange(endpoint.address, b"GET /healthz HTTP/1.1\r\n\r\n").endswith(b"\r\n\r\nok\n")


def test_connections_over_the_cap_close_the_oldest_and_take_no_thread(serve):
    endpoint = serve(seconds=60)  # none is closed for its time here
    threads = threading.active_count()
    idle = [connect(endpoint.address) for _ in range(200)]
    try:
        answer = exchange(endpoint.address, b"GET /healthz HTTP/1.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\nok\n")
        assert threading.active_count() == threads  # one thread serves them all
        # The request took the place of the oldest of the last four; all 197 before went.
        assert all(closed_by_peer(sock) for sock in idle[:197])
        assert endpoint.drops["evicted"] == 197
    finally:
        for sock in idle:
            sock.close()


def test_a_request_head_over_the_limit_is_answered_431(endpoint):
    answer = exchange(endpoint.address, b"GET /healthz HTTP/1.1\r\nX-Padding: " + b"a" * 2000 + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"over 1024 bytes" in answer
    assert endpoint.drops["too_large"] == 1


@pytest.mark.parametrize("request_, status, body", [
    (b"GET /healthz HTTP/1.0\r\n\r\n", b"200 OK", b"ok\n"),
    (b"GET /healthz?from=prometheus HTTP/1.1\r\nHost: x\r\n\r\n", b"200 OK", b"ok\n"),
    (b"HEAD /healthz HTTP/1.1\r\n\r\n", b"200 OK", b""),
    (b"POST /healthz HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", b"405 Method Not Allowed",
     b"POST is not served: only GET and HEAD\n"),
    (b"GET /secrets HTTP/1.1\r\n\r\n", b"404 Not Found", b"not found: try /fails, /healthz\n"),
    (b"hello\r\n\r\n", b"400 Bad Request", b"bad request: expected e.g. GET /metrics HTTP/1.1\n"),
    (b"GET /fails HTTP/1.1\r\n\r\n", b"500 Internal Server Error", b"internal error: see the daemon's log\n"),
])
def test_requests_are_answered_once_and_closed(endpoint, request_, status, body):
    answer = exchange(endpoint.address, request_)
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 " + status + b"\r\n")
    assert b"\r\nConnection: close" in head
    assert rest == body


def test_a_target_urlsplit_refuses_is_answered_and_the_endpoint_keeps_serving(endpoint):
    """`GET //[` made urlsplit raise, and the one serving thread ended for good (found in
    review): /healthz then never answered again while the daemon ran on."""
    answer = exchange(endpoint.address, b"GET //[ HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert exchange(endpoint.address, b"GET /healthz HTTP/1.1\r\n\r\n").endswith(b"\r\n\r\nok\n")


def test_a_listen_address_in_use_says_so():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(EnvironmentProblem, match=f"listen 127.0.0.1:{port}: Address already in use: choose"):
            HttpEndpoint(f"127.0.0.1:{port}", {})


# -- the daemon, under the unit's task limit ------------------------------------------------------

class Attacker:
    """Holds `idle` connections that send nothing and `slow` ones that send one byte of a
    request head that never ends every `every` seconds; each one the daemon closes is
    opened again, until the end of the `with`. `established` counts the connects that
    succeeded: one at a time, each was then in the daemon's accept queue."""

    def __init__(self, port: int, idle: int, slow: int, every: float = 0.5) -> None:
        self.port, self.every = port, every
        self.slots: list[tuple[socket.socket | None, int | None]] = [(None, None)] * idle + [(None, 0)] * slow
        """Each connection (None: to open) and how many bytes of its head it has sent
        (None: an idle one)."""
        self.established = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.watch = lambda: None
        """Called each round, while the connections are held (to sample the daemon)."""

    def _open(self) -> socket.socket | None:
        sock = socket.socket()
        sock.settimeout(0.5)
        try:
            sock.connect(("127.0.0.1", self.port))
        except OSError:  # the daemon's backlog is full: next round
            sock.close()
            return None
        sock.setblocking(False)
        self.established += 1
        return sock

    def _round(self) -> None:
        poller = select.poll()
        for sock, _ in self.slots:
            if sock is not None:
                poller.register(sock, select.POLLIN)
        closed = {fd for fd, _ in poller.poll(0)}  # it never gets an answer: readable means closed
        for i, (sock, sent) in enumerate(self.slots):
            if sock is not None and sock.fileno() in closed:
                sock.close()
                sock = None
            if sock is None:  # a real attacker comes back
                self.slots[i] = (self._open(), None if sent is None else 0)
                continue
            if sent is not None:
                head = SLOWLORIS_HEAD + b"X" * sent
                try:
                    self.slots[i] = (sock, sent + sock.send(head[sent:sent + 1]))
                except OSError:
                    sock.close()
                    self.slots[i] = (None, 0)

    def _run(self) -> None:
        while True:
            self._round()
            self.watch()
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> Attacker:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        for sock, _ in self.slots:
            if sock is not None:
                sock.close()


def sockets_of(pid: int) -> int:
    """The sockets the process holds: its connections, its listener, ..."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:  # closed meanwhile
            pass
    return count


def threads_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_held_connections_take_no_task_and_a_commit_is_still_applied(tmp_path):
    """Under TasksMax=64 (a real pids cgroup), 200 idle and 20 slowloris connections were 200
    threads of ThreadingHTTPServer's: every pass then failed to start git. Now one thread
    serves them all: the daemon has as many threads as before the attack, a commit made
    during it is applied, and /healthz answers."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit("first", **{"server.yaml": server(), "ops.yaml": recipient_list("ops", ["ops@example.com"])})
    port, output = free_port(), tmp_path / "alertmanager.yml"
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {repo.path}, pollInterval: 1s}}\n"
                      f"target: {{output: {output}, alertmanagers: []}}\n"
                      f"stateDir: {tmp_path / 'state'}\nlisten: 127.0.0.1:{port}\n")
    url = f"http://127.0.0.1:{port}"
    with TaskLimit(64) as limit:
        daemon = DaemonProcess(config, wrap=limit.wrap)
        try:
            wait_until(lambda: get(url + "/readyz")[0] == 200, 15, "the daemon's first pass (/readyz)")
            pid = daemon.process.pid
            threads, sockets = threads_of(pid), sockets_of(pid)
            seen: list[tuple[int, int]] = []
            with Attacker(port, idle=200, slow=20) as attack:
                attack.watch = lambda: seen.append((threads_of(pid), sockets_of(pid)))
                # 60 were enough to take every task a thread per connection left.
                wait_until(lambda: attack.established >= 60, 15, "60 connections of the attack to be open")
                repo.commit("add db", **{"db.yaml": recipient_list("db", ["db@example.com"])})
                wait_until(lambda: "notify-reconciler/db" in output.read_text(), 15,
                           "the commit to be applied while the connections are held")
                wait_until(lambda: attack.established >= 220, 15, "every connection of the attack to have reached "
                           "the daemon")
                assert get(url + "/healthz") == (200, "ok\n")
                metrics = get(url + "/metrics")[1]
            assert 'notify_reconciler_http_connections_dropped_total{reason="evicted"}' in metrics
            assert max(running for running, _ in seen) <= threads + 1, (threads, seen)  # +1: a pass's own thread, if any
            # +1: a connection just accepted, for the instant before the oldest is evicted for it
            assert max(held for _, held in seen) <= sockets + HttpLimits().connections + 1, (sockets, seen)
            assert "can't start new thread" not in daemon.text()
        finally:
            assert daemon.stop(signal.SIGTERM) == 0
