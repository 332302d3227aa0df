"""Starting the daemon for a fault test: one config file, and a first pass it has applied."""

from __future__ import annotations

from pathlib import Path

from tests.support.gitrepo import GitRepo
from tests.support.services import wait_until
from tests.integration.test_daemon import DaemonProcess


def start_daemon(tmp_path: Path, repo: GitRepo, output: Path, *, state_dir: Path | None = None,
                 alertmanagers: tuple[str, ...] = (), grace: str | None = None) -> DaemonProcess:
    """`notify-reconciler run` on `repo` (polled every second) writing `output`, after its first
    applied pass; `grace` sets ownAlerts.gracePeriod."""
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {repo.path}, pollInterval: 1s}}\n"
                      f"target: {{output: {output}, alertmanagers: [{', '.join(alertmanagers)}]}}\n"
                      f"stateDir: {state_dir or tmp_path / 'state'}\nlisten: 127.0.0.1:0\n"
                      + (f"ownAlerts: {{gracePeriod: {grace}}}\n" if grace else ""))
    daemon = DaemonProcess(config)
    try:
        wait_until(lambda: "event=applied" in daemon.text(), 20, "the first pass")
    except BaseException:
        daemon.stop()
        raise
    return daemon
