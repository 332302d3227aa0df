"""The daemon's HTTP endpoint (/metrics, /healthz, /readyz): one thread, bounded.

Whoever can reach `listen` must not be able to take what a reconcile pass needs. A thread
per connection (http.server's ThreadingHTTPServer) let 60 idle connections use up the
unit's TasksMax=64, and the passes could then start neither git nor amtool. Here:

- one thread serves every connection (a selector): a client never holds a thread, a task
  or a process slot, however many connections it opens;
- at most `HttpLimits.connections` are open; one more closes the oldest (a scrape is
  answered within milliseconds, so the oldest is the one holding a place);
- a connection has `HttpLimits.seconds` from its accept to the last byte of its answer,
  whatever it sends meanwhile: a client trickling a header byte every few seconds
  (slowloris) is closed when that time is up;
- a request whose line and headers exceed `HttpLimits.request_bytes` is answered 431;
- one request per connection (`Connection: close`), GET and HEAD only, no body read.

Each close that a bound forced is reported to `on_drop` with its reason (`evicted`,
`timeout`, `too_large`), so /metrics can count them; they are not logged (a log line per
connection would hand the same client the journal). The answers come from `routes`:
callables run on this thread, which must not wait on the network.
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Callable, Mapping

from .. import logfmt
from ..errors import EnvironmentProblem

log = logging.getLogger("notify-reconciler")

TEXT = "text/plain; charset=utf-8"
Answer = tuple[int, bytes, str]
"""What a route returns: status, body, content type."""

ACCEPT_PAUSE_SECONDS = 0.1
"""After accept() fails for want of a descriptor: how long to leave the listener alone
rather than spin on it."""
DRAIN_BYTES = 65536
"""What is still read (and dropped) from a client after its answer, so that closing does not
reset the connection under an answer the client has not read yet."""


@dataclass(frozen=True)
class HttpLimits:
    connections: int = 32
    """Open connections at most; one more closes the oldest."""
    seconds: float = 5.0
    """From accept to the answer's last byte: a scrape needs milliseconds."""
    request_bytes: int = 8192
    """The request line and headers; GET needs a few hundred."""
    accepts_per_turn: int = 16
    """Connections accepted before the open ones are read again."""


@dataclass(eq=False)
class _Connection:
    sock: socket.socket
    deadline: float
    received: bytearray = field(default_factory=bytearray)
    outgoing: memoryview | None = None
    draining: int = -1
    """Bytes dropped after the answer was sent; -1 before then."""


class HttpEndpoint:
    """Serves `routes` (path -> callable giving an `Answer`) on `listen` ("host:port") from
    one thread. `serve` binds and starts it; `close` stops it and closes every connection."""

    def __init__(self, listen: str, routes: Mapping[str, Callable[[], Answer]], *,
                 limits: HttpLimits = HttpLimits(), on_drop: Callable[[str], None] = lambda reason: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.routes = dict(routes)
        self.limits = limits
        self.on_drop = on_drop
        self.clock = clock
        self._listener = _bind(listen)
        self._listener.setblocking(False)
        self._waker, self._wake_side = socket.socketpair()
        self._waker.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._selector.register(self._waker, selectors.EVENT_READ)
        self._connections: dict[_Connection, None] = {}
        """Open connections, oldest first (each one's deadline is its accept time plus the same seconds)."""
        self._accepting_again: float | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._serve, name="http", daemon=True)

    @classmethod
    def serve(cls, listen: str, routes: Mapping[str, Callable[[], Answer]], **options) -> HttpEndpoint:
        endpoint = cls(listen, routes, **options)
        endpoint._thread.start()
        return endpoint

    @property
    def address(self) -> tuple[str, int]:
        return self._listener.getsockname()[:2]

    def close(self) -> None:
        """Stop serving: the thread ends and closes the listener and every connection."""
        self._closing = True
        if self._thread.is_alive():
            try:
                self._wake_side.send(b"x")
            except OSError:
                pass
            self._thread.join(timeout=5)
        elif self._thread.ident is None:  # never served
            self._selector.close()
            self._listener.close()
            self._waker.close()
        self._wake_side.close()

    # -- the loop --------------------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            while not self._closing:
                self._turn()
        except Exception:  # a bug: logged; the daemon keeps reconciling without its endpoint
            log.exception(logfmt.line("http_endpoint_crashed"))
        finally:
            for connection in list(self._connections):
                self._close(connection)
            self._selector.close()
            self._listener.close()
            self._waker.close()

    def _turn(self) -> None:
        now = self.clock()
        if self._accepting_again is not None and now >= self._accepting_again:
            self._accepting_again = None
            self._selector.register(self._listener, selectors.EVENT_READ)
        wakes = [connection.deadline for connection in self._connections]
        if self._accepting_again is not None:
            wakes.append(self._accepting_again)
        timeout = max(0.0, min(wakes) - now) if wakes else None
        for key, events in self._selector.select(timeout):
            if key.fileobj is self._listener:
                self._accept()
            elif key.fileobj is self._waker:
                return
            elif key.data in self._connections:  # not closed earlier in this turn
                try:
                    if events & selectors.EVENT_WRITE:
                        self._write(key.data)
                    elif events & selectors.EVENT_READ:
                        self._read(key.data)
                except Exception:  # a bug met by one client's request: that connection ends, not the endpoint
                    log.exception(logfmt.line("http_connection_failed"))
                    self._close(key.data)
        now = self.clock()
        for connection in [c for c in self._connections if c.deadline <= now]:
            self._close(connection, "timeout")

    def _accept(self) -> None:
        for _ in range(self.limits.accepts_per_turn):
            try:
                sock, _ = self._listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # out of descriptors, say: the listener stays readable
                log.warning(logfmt.line("http_accept_failed", error=exc.strerror or str(exc)))
                self._selector.unregister(self._listener)
                self._accepting_again = self.clock() + ACCEPT_PAUSE_SECONDS
                return
            while len(self._connections) >= self.limits.connections:
                self._close(next(iter(self._connections)), "evicted")
            sock.setblocking(False)
            connection = _Connection(sock, self.clock() + self.limits.seconds)
            self._connections[connection] = None
            self._selector.register(sock, selectors.EVENT_READ, connection)

    def _read(self, connection: _Connection) -> None:
        try:
            data = connection.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client is gone, or has read its answer and closed
            self._close(connection)
            return
        if connection.draining >= 0:
            connection.draining += len(data)
            if connection.draining > DRAIN_BYTES:
                self._close(connection)
            return
        connection.received += data
        limit = self.limits.request_bytes
        end = _end_of_head(connection.received)
        if end is not None and end <= limit:
            self._answer(connection, self._respond(bytes(connection.received[:end])))
        elif len(connection.received) > limit:
            self.on_drop("too_large")
            self._answer(connection, _response(431, f"the request's head is over {limit} bytes\n".encode(), TEXT))

    def _respond(self, head: bytes) -> bytes:
        line = head.split(b"\n", 1)[0].decode("latin-1").strip()
        parts = line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return _response(400, b"bad request: expected e.g. GET /metrics HTTP/1.1\n", TEXT)
        method, target, _ = parts
        if method not in ("GET", "HEAD"):
            return _response(405, f"{method} is not served: only GET and HEAD\n".encode("latin-1"), TEXT,
                             ("Allow", "GET, HEAD"))
        path = target.split("?", 1)[0].split("#", 1)[0]  # never raises, whatever the client wrote
        route = self.routes.get(path)
        if route is None:
            body = f"not found: try {', '.join(sorted(self.routes))}\n".encode()
            return _response(404, body, TEXT, head_only=method == "HEAD")
        try:
            status, body, content_type = route()
        except Exception:
            log.exception(logfmt.line("http_route_failed", path=path))
            status, body, content_type = 500, b"internal error: see the daemon's log\n", TEXT
        return _response(status, body, content_type, head_only=method == "HEAD")

    def _answer(self, connection: _Connection, response: bytes) -> None:
        connection.outgoing = memoryview(response)
        self._selector.modify(connection.sock, selectors.EVENT_WRITE, connection)
        self._write(connection)

    def _write(self, connection: _Connection) -> None:
        try:
            sent = connection.sock.send(connection.outgoing)
        except BlockingIOError:
            return
        except OSError:
            self._close(connection)
            return
        connection.outgoing = connection.outgoing[sent:]
        if connection.outgoing:
            return
        # All sent: say so, then read what the client may still send until it closes, since
        # closing with unread bytes would reset the connection under the unread answer.
        try:
            connection.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(connection)
            return
        connection.draining = 0
        self._selector.modify(connection.sock, selectors.EVENT_READ, connection)

    def _close(self, connection: _Connection, dropped: str | None = None) -> None:
        if dropped and connection.draining < 0:  # not one whose answer is sent
            self.on_drop(dropped)  # counted before the client can see the close
        del self._connections[connection]
        self._selector.unregister(connection.sock)
        connection.sock.close()


def _end_of_head(received: bytearray) -> int | None:
    """Where the request's head ends (after its blank line), or None if not yet."""
    ends = [found + len(mark) for mark in (b"\r\n\r\n", b"\n\n") if (found := received.find(mark)) >= 0]
    return min(ends) if ends else None


def _response(status: int, body: bytes, content_type: str, *headers: tuple[str, str],
              head_only: bool = False) -> bytes:
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", f"Content-Type: {content_type}",
             f"Content-Length: {len(body)}", "Connection: close", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body)


def _bind(listen: str) -> socket.socket:
    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        family = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
        return socket.create_server((host, int(port)), family=family, backlog=64)
    except OSError as exc:
        why = os.strerror(exc.errno) if isinstance(exc.errno, int) and exc.errno > 0 else exc.strerror or str(exc)
        raise EnvironmentProblem(f"listen {listen}: {why}: choose another address in the config's listen") from exc
