"""One real prometheus-alertmanager process on a free loopback port, and its HTTP API."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.services import free_port, wait_until


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
