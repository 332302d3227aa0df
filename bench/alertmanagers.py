"""Apply time with one Alertmanager target vs ten (reloads run in parallel). Prints figures.

    .venv/bin/python bench/alertmanagers.py [--targets 10] [--commits 10]

Each pass is `reconcile()` in-process after a commit that changes one repeat interval:
render, check, atomic write, then reload and verify every target by its config hash.
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.daemon import _ok, alertmanager_binary, example_repo, free_port, git, initial_output, wait  # noqa: E402
from reconciler.specs.daemon_config import parse_config  # noqa: E402
from reconciler.service import reconcile as reconcile_module  # noqa: E402
from reconciler.service.reconcile import Host, reconcile  # noqa: E402


def passes(work: Path, repo: Path, urls: list[str], output: Path, commits: int, tag: str) -> list[float]:
    config_path = work / f"config-{tag}.yaml"
    config_path.write_text(f"source: {{repo: {repo}}}\ntarget: {{output: {output}, alertmanagers: [{', '.join(urls)}]}}\n"
                           f"stateDir: {work / ('state-' + tag)}\n")
    config = parse_config(str(config_path), config_path.read_bytes())
    host = Host(now=time.time, environ={}, hostname=socket.gethostname())
    team = repo / "team-db.yaml"
    original = team.read_text()
    assert reconcile(config, host).ok
    times = []
    for n in range(commits):
        minutes = {"a": "", "b": "30m", "c": "15m"}[tag]  # each pass of each series renders something new
        team.write_text(re.sub(r"repeatInterval: \S+", f"repeatInterval: {n + 1}h{minutes}", original))
        git(repo, "commit", "-qam", f"{tag} {n}")
        started = time.perf_counter()
        outcome = reconcile(config, host)
        times.append((time.perf_counter() - started) * 1000)
        assert outcome.result == "applied", outcome.message
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=10)
    parser.add_argument("--commits", type=int, default=10)
    args = parser.parse_args()
    binary = alertmanager_binary()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        repo = example_repo(work)
        output = initial_output(work)
        processes, urls = [], []
        try:
            for n in range(args.targets):
                port = free_port()
                processes.append(subprocess.Popen(
                    [binary, f"--config.file={output}", f"--storage.path={work / f'am-{n}'}",
                     f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                urls.append(f"http://127.0.0.1:{port}")
            for url in urls:
                wait(lambda: _ok(url + "/-/ready"), 15, 0.05)
            one = passes(work, repo, urls[:1], output, args.commits, "a")
            many = passes(work, repo, urls, output, args.commits, "b")
            # The same ten, one after another, for comparison in the same run.
            parallel = reconcile_module._in_parallel
            reconcile_module._in_parallel = lambda reload, targets: [parallel(reload, (url,))[0] for url in targets]
            try:
                sequential = passes(work, repo, urls, output, args.commits, "c")
            finally:
                reconcile_module._in_parallel = parallel
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=15)
    print(f"apply pass (render, check, write, reload + verify), {args.commits} commits each:")
    print(f"  1 Alertmanager:  median {statistics.median(one):.1f} ms (worst {max(one):.1f})")
    print(f"  {args.targets} Alertmanagers: median {statistics.median(many):.1f} ms (worst {max(many):.1f})")
    print(f"  {args.targets} one after another (for comparison): median {statistics.median(sequential):.1f} ms")
    print(f"  ratio {args.targets} parallel / 1: {statistics.median(many) / statistics.median(one):.2f}; "
          f"{args.targets} sequential / 1: {statistics.median(sequential) / statistics.median(one):.2f}")


if __name__ == "__main__":
    main()
