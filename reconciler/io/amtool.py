"""Run Alertmanager's amtool within a budget of time, output and memory.

What amtool is given may come from a commit: a template can loop for hours, write gigabytes
or fill the memory, and a config check reads whatever the render holds. Every amtool run
goes through `run_amtool`, which holds it to a `Budget`:
- time: it is killed at the deadline;
- output: its standard output is read as it comes, kept only up to the budget (or not at
  all, when only the verdict matters), and it is killed once it writes more;
- memory: it runs with a data-segment limit (RLIMIT_DATA, set by /bin/sh's `ulimit -d`
  just before amtool starts, so no Python code runs between fork and exec in a process
  with threads), with GOMAXPROCS=2 and small thread stacks so that the limit means the same
  on every machine. Go ends with "fatal error: out of memory" near the limit (its heap can
  get some way past it: the kernel does not check the limit where Go makes reserved memory
  writable; the measured overshoot is in bench/README.md), before the service's MemoryMax
  would have the kernel kill the service (and systemd stop it).
An overrun raises `OverBudget`, saying which budget ran out. The run is a bounded wait for
the systemd watchdog (liveness): a pass inside amtool is alive until the budget's deadline.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import subprocess

KILL_SECONDS = 2.0
"""After the deadline: time to kill amtool and collect it (part of the watchdog's bound)."""
STDERR_BYTES = 64 * 1024
"""What is kept of amtool's standard error: its reason is on the first lines."""
THREAD_STACK_KIB = 1024
"""Go's threads get glibc's default stack size, which is the stack limit (often 8 MiB):
each counts against the data limit whether used or not."""
_GO_OUT_OF_MEMORY = (b"out of memory", b"pthread_create failed", b"cannot allocate memory")
_CANNOT_LIMIT = 125
_SHELL = "notify-reconciler-amtool"
"""The shell's $0: its own complaints (amtool not found, not executable) start with it."""
_LIMITED = ('ulimit -s "$1" && ulimit -d "$2" || { echo "cannot limit memory: ulimit -s/-d refused" >&2; '
            f'exit {_CANNOT_LIMIT}; }}; shift 2; exec "$@"')


class Budget(NamedTuple):
    seconds: float
    output_bytes: int
    """Most standard output accepted."""
    memory_bytes: int
    """The data-segment limit (RLIMIT_DATA): what Go may map for its heap and stacks."""

    def describe(self, what: str) -> str:
        if what == "time":
            return f"did not finish within {self.seconds:g} s"
        if what == "output":
            return f"wrote more than {_size(self.output_bytes)}"
        return f"needed more than {_size(self.memory_bytes)} of memory"


class OverBudget(Exception):
    """amtool overran its budget and was stopped: `what` is "time", "output" or "memory"."""

    def __init__(self, what: str, budget: Budget) -> None:
        super().__init__(budget.describe(what))
        self.what = what
        self.budget = budget


class CannotLimit(OSError):
    """The memory limit could not be set: amtool was not run."""


class Finished(NamedTuple):
    returncode: int
    stdout: bytes
    """Empty when the output was not kept."""
    stderr: bytes


def run_amtool(amtool: str, arguments: list[str], budget: Budget, *, keep_output: bool = True) -> Finished:
    """`amtool arguments...` within `budget`. Raises OverBudget, CannotLimit, or OSError when
    amtool cannot be started."""
    # Here: `validate` of a folder without templates never runs amtool, nor pays for these.
    import signal
    import subprocess

    from .liveness import WAITS

    command = ["/bin/sh", "-c", _LIMITED, _SHELL, str(THREAD_STACK_KIB),
               str(budget.memory_bytes // 1024), amtool, *arguments]
    environment = {**os.environ, "GOMAXPROCS": "2"}
    with WAITS.bounded(budget.seconds + KILL_SECONDS):
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=environment, start_new_session=True)
        try:
            stdout, stderr = _collect(process, budget, keep_output, time.monotonic() + budget.seconds)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            process.stdout.close()
            process.stderr.close()
    said = stderr.decode("utf-8", "replace").strip()
    if process.returncode == _CANNOT_LIMIT and stderr.startswith(b"cannot limit memory"):
        raise CannotLimit(said)
    if process.returncode in (126, 127) and stderr.startswith(_SHELL.encode() + b":"):
        raise OSError(said.rpartition(": ")[2] or said)  # the shell could not start amtool
    if process.returncode == -signal.SIGKILL or (process.returncode != 0 and _out_of_memory(stderr)):
        raise OverBudget("memory", budget)  # SIGKILL: the kernel's OOM killer, most likely
    return Finished(process.returncode, stdout, stderr)


def _collect(process: subprocess.Popen, budget: Budget, keep_output: bool,
             deadline: float) -> tuple[bytes, bytes]:
    """Read both pipes as they come until amtool closes them and exits, within the budget."""
    import selectors
    import subprocess

    stdout: list[bytes] = []
    stderr = bytearray()
    written = 0
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        selector.register(process.stderr, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OverBudget("time", budget)
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.fileobj is process.stdout:
                    written += len(chunk)
                    if written > budget.output_bytes:
                        raise OverBudget("output", budget)
                    if keep_output:
                        stdout.append(chunk)
                elif len(stderr) < STDERR_BYTES:
                    stderr += chunk[:STDERR_BYTES - len(stderr)]
    try:
        process.wait(max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        raise OverBudget("time", budget) from None
    return b"".join(stdout), bytes(stderr)


def _out_of_memory(stderr: bytes) -> bool:
    said = stderr[:4096].lower()
    return any(sign in said for sign in _GO_OUT_OF_MEMORY)


def _size(count: int) -> str:
    return f"{count / (1 << 20):g} MiB" if count >= 1 << 20 else f"{count / 1024:g} KiB"
