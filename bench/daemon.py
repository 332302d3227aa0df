"""The daemon's two numbers: commit-to-live latency and idle cost. Prints figures only.

    .venv/bin/python bench/daemon.py [--commits 25] [--idle-seconds 60]

Commit-to-live: from `git commit` returning to the real Alertmanager reporting the new
config's hash on /metrics (polled every 2 ms), for each of N commits.
Idle: the daemon with nothing to do for S seconds (default pollInterval 30s): CPU seconds it
used (utime+stime from /proc) and its resident memory.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.com"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def config_hash(data: bytes) -> float:
    return float(int.from_bytes(hashlib.md5(data).digest()[:6], "little"))


def metric(url: str, name: str) -> float | None:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def wait(predicate, timeout: float, interval: float = 0.002):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    raise SystemExit("timed out")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True)


def example_repo(work: Path) -> Path:
    """A git repo holding examples/config-repo, committed once."""
    repo = work / "repo"
    repo.mkdir()
    for spec in (ROOT / "examples" / "config-repo").glob("*.yaml"):
        shutil.copy(spec, repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "start")
    return repo


def alertmanager_binary() -> str:
    binary = shutil.which("prometheus-alertmanager")
    if not binary:
        raise SystemExit("prometheus-alertmanager is not installed: run ./scripts/setup")
    return binary


def initial_output(work: Path) -> Path:
    """The alertmanager.yml the Alertmanagers start with, before the first apply."""
    output = work / "alertmanager.yml"
    output.write_text("route: {receiver: x}\nreceivers: [{name: x}]\n")
    return output


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=25)
    parser.add_argument("--idle-seconds", type=float, default=60)
    args = parser.parse_args()
    binary = alertmanager_binary()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        repo = example_repo(work)
        output = initial_output(work)
        am_port, listen = free_port(), free_port()
        am_url = f"http://127.0.0.1:{am_port}"
        am = subprocess.Popen([binary, f"--config.file={output}", f"--storage.path={work / 'am'}",
                               f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        config = work / "config.yaml"
        config.write_text(f"source: {{repo: {repo}}}\ntarget: {{output: {output}, alertmanagers: [{am_url}]}}\n"
                          f"stateDir: {work / 'state'}\nlisten: 127.0.0.1:{listen}\n")
        daemon = None
        try:
            wait(lambda: _ok(am_url + "/-/ready"), 15, 0.05)
            daemon = subprocess.Popen([str(Path(sys.executable).with_name("notify-reconciler")), "run", "--config",
                                       str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait(lambda: _ok(f"http://127.0.0.1:{listen}/readyz"), 15, 0.05)

            latencies = []
            team = repo / "team-db.yaml"
            original = team.read_text()
            for n in range(args.commits):
                team.write_text(original.replace("repeatInterval: 4h", f"repeatInterval: {n + 1}m"))
                git(repo, "commit", "-qam", f"repeat every {n + 1}m")
                committed = time.monotonic()
                wait(lambda: f"repeat_interval: {n + 1}m" in _read(output) and
                     metric(am_url, "alertmanager_config_hash") == config_hash(output.read_bytes()), 10)
                latencies.append((time.monotonic() - committed) * 1000)
                time.sleep(0.05)
            latencies.sort()
            print(f"commit-to-live over {len(latencies)} commits (git commit returned -> Alertmanager serves it):")
            print(f"  median {statistics.median(latencies):.1f} ms, worst {latencies[-1]:.1f} ms, "
                  f"best {latencies[0]:.1f} ms, p90 {latencies[int(len(latencies) * 0.9) - 1]:.1f} ms")

            time.sleep(1)
            cpu_before, started = cpu_seconds(daemon.pid), time.monotonic()
            rss_start = rss_mb(daemon.pid)
            time.sleep(args.idle_seconds)
            used, elapsed = cpu_seconds(daemon.pid) - cpu_before, time.monotonic() - started
            print(f"idle for {elapsed:.0f} s (pollInterval 30s): {used:.2f} CPU s = {100 * used / elapsed:.2f}% "
                  f"of a core; RSS {rss_start:.1f} MB at start, {rss_mb(daemon.pid):.1f} MB at end")
        finally:
            if daemon is not None:
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(timeout=15)
            am.terminate()
            am.wait(timeout=15)


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


if __name__ == "__main__":
    main()
