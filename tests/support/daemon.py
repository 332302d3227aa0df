"""`notify-reconciler run` as a real process for tests: start it, read its log, ask its HTTP
endpoint, stop it; and the `setup` fixture's config repo and config file
(tests/support/fixtures.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.audit import SECRET
from tests.support.gitrepo import GitRepo, recipient_list, server
from tests.support.services import free_port, wait_until


PASSWORD = SECRET  # the suite-wide audit looks for it (tests/support/audit.py)


class DaemonProcess:
    def __init__(self, config: Path, env: dict | None = None, *, wrap=lambda command: command) -> None:
        """`wrap` turns the command into the one to run (e.g. `TaskLimit.wrap`: in a cgroup)."""
        self.log = config.parent / "daemon.log"
        self._out = open(self.log, "wb")
        self.process = subprocess.Popen(wrap([sys.executable, "-m", "reconciler", "run", "--config", str(config)]),
                                        stdout=self._out, stderr=subprocess.STDOUT,
                                        env={**os.environ, **(env or {})})

    def text(self) -> str:
        return self.log.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._out.close()


def get(url: str) -> tuple[int, str]:
    """The status and body of a GET; (0, "") when nothing answers (yet)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


class DaemonSetup:
    """A config repo (an EmailServer whose password comes from $SMTP_PASSWORD, and the ops
    list), the output file, the HTTP address, and `start` for daemons on them; what the
    `setup` fixture gives."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.repo = GitRepo(tmp / "repo")
        self.repo.commit("first", **{"server.yaml": server(username="alerts", passwordEnv="SMTP_PASSWORD"),
                                     "ops.yaml": recipient_list("ops", ["ops@example.com"])})
        self.port = free_port()
        self.output = tmp / "alertmanager.yml"
        self.url = f"http://127.0.0.1:{self.port}"
        self.started: list[DaemonProcess] = []

    def write(self, alertmanagers: list[str], more: str = "") -> Path:
        config = self.tmp / "config.yaml"
        config.write_text(f"source: {{repo: {self.repo.path}, pollInterval: 1s}}\n"
                          f"target: {{output: {self.output}, alertmanagers: [{', '.join(alertmanagers)}]}}\n"
                          f"stateDir: {self.tmp / 'state'}\nlisten: 127.0.0.1:{self.port}\n{more}")
        return config

    def start(self, alertmanagers: list[str] = (), env: dict | None = None, config: str = "") -> DaemonProcess:
        """`config`: more lines for config.yaml (a secrets: section, say)."""
        daemon = DaemonProcess(self.write(list(alertmanagers), config), {"SMTP_PASSWORD": PASSWORD, **(env or {})})
        self.started.append(daemon)
        return daemon

    def stop_all(self) -> None:
        for daemon in self.started:
            daemon.stop(signal.SIGKILL)


def ready(setup: DaemonSetup) -> None:
    wait_until(lambda: get(setup.url + "/readyz")[0] == 200, 15, "the daemon's first pass (/readyz)")


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


def status_output(config: Path) -> tuple[int, str]:
    """`notify-reconciler status --config config`: its exit code and what it printed."""
    result = subprocess.run([sys.executable, "-m", "reconciler", "status", "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    return result.returncode, result.stdout + result.stderr
