"""Whether the reconcile loop is alive, as the systemd watchdog needs to know it.

The loop `beat`s on every turn. Where it waits on something outside Python (amtool, git, a
retry's sleep, the wait for the next trigger), it waits inside `bounded(seconds)`: a promise
that the wait ends within that time. The daemon's watchdog thread pings systemd while
`alive` says so: the loop beat lately, or it waits inside a bound that has not run out.

So a pass that runs amtool for a few seconds keeps the service alive, and a loop that hangs
anywhere (in Python, or past a bound it promised) stops the pings and is restarted by
systemd. A bound is a deadline fixed when the wait starts: a wait that overruns it counts
as a hang, whatever it waits on.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator


class Liveness:
    """The last beat and the bounded wait in progress, of each thread that reports them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._beats: dict[int, float] = {}
        self._deadlines: dict[int, float] = {}

    def beat(self) -> None:
        """The calling thread made progress now."""
        self._beats[threading.get_ident()] = self._clock()

    @contextmanager
    def bounded(self, seconds: float) -> Iterator[None]:
        """The calling thread waits at most `seconds` inside this block (a nested bound
        cannot extend an outer one). Leaving the block is a beat."""
        thread = threading.get_ident()
        outer = self._deadlines.get(thread)
        deadline = self._clock() + seconds
        self._deadlines[thread] = deadline if outer is None else min(outer, deadline)
        try:
            yield
        finally:
            if outer is None:
                self._deadlines.pop(thread, None)
            else:
                self._deadlines[thread] = outer
            self.beat()

    def alive(self, thread: int, within: float) -> bool:
        """Whether `thread` beat in the last `within` seconds or waits inside a bound that has
        not run out."""
        now = self._clock()
        beat = self._beats.get(thread)
        deadline = self._deadlines.get(thread)
        return (beat is not None and now - beat <= within) or (deadline is not None and now <= deadline)


WAITS = Liveness()
"""The process's own: the edges that run programs report to it, the daemon's watchdog reads it."""
