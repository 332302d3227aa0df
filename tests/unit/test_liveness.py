"""When the daemon's watchdog thread may ping systemd for the loop (liveness.py): after a
recent beat, or inside a bound that has not run out; never for a loop that hangs."""

from __future__ import annotations

import threading

from reconciler.io.liveness import Liveness


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_beat_is_alive_for_the_window_then_not():
    clock = Clock()
    liveness, me = Liveness(clock), threading.get_ident()
    assert not liveness.alive(me, within=15)  # never beat
    liveness.beat()
    clock.now += 15
    assert liveness.alive(me, within=15)
    clock.now += 0.1
    assert not liveness.alive(me, within=15)  # a loop stuck in Python: no ping, systemd restarts it


def test_a_bounded_wait_is_alive_until_its_deadline_and_no_longer():
    clock = Clock()
    liveness, me = Liveness(clock), threading.get_ident()
    with liveness.bounded(60):  # amtool, git: longer than the window, shorter than their bound
        clock.now += 59
        assert liveness.alive(me, within=15)
        clock.now += 2
        assert not liveness.alive(me, within=15)  # it overran its promise: a hang like any other
    assert liveness.alive(me, within=15)  # leaving the block is a beat


def test_a_nested_bound_cannot_extend_the_outer_one():
    clock = Clock()
    liveness, me = Liveness(clock), threading.get_ident()
    with liveness.bounded(10):
        with liveness.bounded(1000):
            clock.now += 11
            assert not liveness.alive(me, within=5)
        clock.now += 20
        assert not liveness.alive(me, within=5)  # the inner beat is 20 s old, the outer bound gone


def test_another_thread_waiting_does_not_make_the_loop_alive():
    """The mailer or a worker waiting within a bound says nothing about the loop."""
    clock = Clock()
    liveness, loop = Liveness(clock), threading.get_ident()
    inside, leave = threading.Event(), threading.Event()

    def other() -> None:
        with liveness.bounded(1000):
            inside.set()
            leave.wait(10)

    worker = threading.Thread(target=other)
    worker.start()
    try:
        inside.wait(10)
        clock.now += 1
        assert not liveness.alive(loop, within=15)
    finally:
        leave.set()
        worker.join()
