"""What tests of real services need: the binaries they run (skipped without them, failed in
CI), free loopback ports, waits that return as soon as their condition holds, and a real
task limit (a pids cgroup). Alertmanager: alertmanager.py; the SMTP server: smtp.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

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
