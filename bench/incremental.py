"""A 1,000-file config repo: a commit that changes one file, cold vs incremental. Prints figures.

    .venv/bin/python bench/incremental.py [--files 1000] [--commits 5]

Cold: a fresh daemon's first look at the commit (every blob read, parsed, validated).
Incremental: the next commit changes one file; unchanged blobs come from the parse cache.
Both are timed for the read+validate stage alone and for the whole `reconcile()` pass
(render, amtool check, atomic write; no Alertmanager target, to time the reconciler's work).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.daemon import git  # noqa: E402
from bench.render_vs_amtool import make_repo  # noqa: E402
from reconciler.config import parse_config  # noqa: E402
from reconciler.daemon import settle_memory  # noqa: E402
from reconciler.pipeline import ParseCache, parse_specs  # noqa: E402
from reconciler.reconcile import Host, reconcile  # noqa: E402
from reconciler.source import GitSource  # noqa: E402


def read_and_validate(source: GitSource, cache: ParseCache) -> float:
    started = time.perf_counter()
    revision = source.head()
    tree = source.read(revision, known=cache.keys())
    parse_specs(tree.files, extra_errors=tree.errors, digests=tree.digests, cache=cache)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--commits", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        repo = work / "repo"
        repo.mkdir()
        make_repo(repo, args.files, 50)
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "a thousand lists")
        config_path = work / "config.yaml"
        config_path.write_text(f"source: {{repo: {repo}}}\ntarget: {{output: {work / 'am.yml'}, alertmanagers: []}}\n"
                               f"stateDir: {work / 'state'}\n")
        config = parse_config(str(config_path), config_path.read_bytes())
        host = Host(now=time.time, environ={}, hostname=socket.gethostname())
        team = repo / "team-0500.yaml"
        original = team.read_text()

        stage_cold, stage_warm, pass_cold, pass_warm = [], [], [], []
        for n in range(args.commits):
            team.write_text(original.replace("oncall00@", f"first-{n}@"))
            git(repo, "commit", "-qam", f"change one file ({n})")
            # Cold: a new source and an empty cache see this commit for the first time.
            stage_cold.append(read_and_validate(GitSource(str(repo), "main", ".", work / "s"), ParseCache()))
            started = time.perf_counter()
            cache = ParseCache()
            assert reconcile(config, host, GitSource(str(repo), "main", ".", work / "s"), cache).ok
            pass_cold.append((time.perf_counter() - started) * 1000)
            # Incremental: the next commit changes one file; the cache holds the rest.
            team.write_text(original.replace("oncall00@", f"second-{n}@"))
            git(repo, "commit", "-qam", f"change it again ({n})")
            source = GitSource(str(repo), "main", ".", work / "s")
            warm_cache = ParseCache(cache)
            settle_memory()  # as the daemon does after each pass
            stage_warm.append(read_and_validate(source, warm_cache))
            team.write_text(original.replace("oncall00@", f"third-{n}@"))
            git(repo, "commit", "-qam", f"and again ({n})")
            settle_memory()
            started = time.perf_counter()
            assert reconcile(config, host, source, warm_cache).ok
            pass_warm.append((time.perf_counter() - started) * 1000)

    median = statistics.median
    print(f"{args.files} RecipientList files of 50 recipients; a commit changes one file; {args.commits} runs")
    print(f"{'':32}{'cold ms':>10}{'incremental ms':>16}{'ratio':>8}")
    print(f"{'read tree + parse + validate':32}{median(stage_cold):>10.0f}{median(stage_warm):>16.0f}"
          f"{median(stage_cold) / median(stage_warm):>8.1f}")
    print(f"{'whole pass (+render, amtool, write)':32}{median(pass_cold):>10.0f}{median(pass_warm):>16.0f}"
          f"{median(pass_cold) / median(pass_warm):>8.1f}")


if __name__ == "__main__":
    main()
