"""The daemon loop runs on the clock `Host` gives it, so its timing is tested on fake time:
minutes of back-off pass in well under a second, and nothing here sleeps."""

from __future__ import annotations

import threading
import time

from reconciler.specs.daemon_config import parse_config
from reconciler.daemon.loop import Daemon
from reconciler.service.reconcile import Host
from reconciler.values import Reason, Result

from tests.support.gitrepo import GitRepo, recipient_list, server
from tests.support.services import free_port


class FakeClock:
    """Time that moves only when someone waits: a wait that nobody ends returns at once,
    its timeout added to the clock."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.time = start
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.time += seconds

    def wait(self, event: threading.Event, timeout: float) -> bool:
        if event.is_set():
            return True
        self.sleep(timeout)
        return event.is_set()


def test_failed_passes_back_off_to_the_poll_interval_on_the_hosts_clock(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("specs", **{"s.yaml": server(), "o.yaml": recipient_list("ops", ["ops@example.com"])})
    config_path = tmp_path / "config.yaml"
    config_path.write_text(f"source: {{repo: {repo.path}, pollInterval: 60s}}\n"
                           f"target: {{output: {tmp_path}/alertmanager.yml,"
                           f" alertmanagers: ['http://127.0.0.1:{free_port()}']}}\n"
                           f"stateDir: {tmp_path}/state\nlisten: 127.0.0.1:{free_port()}\n")
    config = parse_config(str(config_path), config_path.read_bytes())
    clock = FakeClock()
    daemon = Daemon(config, Host(now=clock.now, environ={}, hostname="test", sleep=clock.sleep,
                                 monotonic=clock.now, wait=clock.wait))
    passes: list[tuple[float, float, Result, Reason | None]] = []
    real_pass = daemon._pass

    def recorded(reasons):
        started = clock.now()
        outcome = real_pass(reasons)
        passes.append((started, clock.now(), outcome.result, outcome.reason))
        if len(passes) == 9:
            daemon.stop()
        return outcome

    daemon._pass = recorded
    started = time.monotonic()
    daemon._loop()
    real_seconds = time.monotonic() - started
    daemon.source.close()

    # Every pass failed on the unreachable Alertmanager (its retries waited on the fake clock too).
    assert {(result, reason) for _, _, result, reason in passes} == {(Result.FAILED, Reason.ALERTMANAGER_UNREACHABLE)}
    gaps = [round(next_start - end) for (_, end, _, _), (next_start, _, _, _) in zip(passes, passes[1:])]
    assert gaps[:6] == [1, 2, 4, 8, 16, 32]  # doubling from 1 s ...
    assert all(50 <= gap <= 60 for gap in gaps[6:])  # ... until the poll (60 s) comes first
    assert clock.now() - passes[0][0] > 180  # minutes of the daemon's time ...
    assert real_seconds < clock.now() - passes[0][0] / 10  # ... in a few seconds of ours
