"""A 1,000-file config repo: a commit that changes one file, cold vs incremental. Prints figures.

    .venv/bin/python bench/incremental.py [--files 1000] [--commits 8]

Cold: a fresh daemon's first look at the commit (every blob read, parsed, validated, every
list rendered, the whole config checked by amtool). Incremental: the next commit changes one
file; what one pass keeps for the next (`reconcile.Caches`: parsed files by git blob, each
list's rendered lines, what amtool accepted) leaves one file's work. Each stage is timed as
`reconcile()` runs it, and the whole `reconcile()` pass is timed too (no Alertmanager target,
to time the reconciler's own work).
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
from reconciler.specs.daemon_config import parse_config  # noqa: E402
from reconciler.daemon.loop import settle_memory  # noqa: E402
from reconciler.io.deploy import CheckedParts, check_rendered  # noqa: E402
from reconciler.io.files import write_atomically  # noqa: E402
from reconciler.specs.pipeline import parse_specs  # noqa: E402
from reconciler.io.deploy import render_options  # noqa: E402
from reconciler.service.reconcile import Caches, Host, file_target, reconcile  # noqa: E402
from reconciler.core.render import render_config  # noqa: E402
from reconciler.io.git_source import GitSource  # noqa: E402

STAGES = ("read + parse + validate", "render", "check (ours + amtool)", "atomic write")


def stages(source: GitSource, caches: Caches, checked: CheckedParts, config, host: Host,
           output: Path) -> list[float]:
    """The steps of one pass, as reconcile() runs them, each timed (ms)."""
    times = []
    started = time.perf_counter()

    def lap() -> None:
        nonlocal started
        now = time.perf_counter()
        times.append((now - started) * 1000)
        started = now

    revision = source.head()
    tree = source.read(revision, known=caches.parsed.keys())
    specs = parse_specs(tree.files, extra_errors=tree.errors, digests=tree.digests, cache=caches.parsed)
    lap()
    rendered = render_config(specs, None, options=render_options(config), cache=caches.rendered)
    lap()
    check_rendered(rendered, checked)
    lap()
    write_atomically(output, rendered.text.encode())
    lap()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--commits", type=int, default=8)
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

        def commit(text: str, message: str) -> None:
            team.write_text(original.replace("oncall00@", text))
            git(repo, "commit", "-qam", message)

        stage_cold, stage_warm, pass_cold, pass_warm = [], [], [], []
        for n in range(args.commits):
            commit(f"first-{n}@", f"change one file ({n})")
            settle_memory()
            # Cold: a new source and empty caches see this commit for the first time.
            stage_cold.append(stages(GitSource(str(repo), "main", ".", work / "s"), Caches(), CheckedParts(), config,
                                     host, work / "stages.yml"))
            caches, target = Caches(), file_target(config, host)  # the daemon keeps both between passes
            settle_memory()
            started = time.perf_counter()
            assert reconcile(config, host, GitSource(str(repo), "main", ".", work / "s"), caches, target).ok
            pass_cold.append((time.perf_counter() - started) * 1000)
            # Incremental: the next commit changes one file; the caches hold the rest.
            source = GitSource(str(repo), "main", ".", work / "s")
            stage_caches, stage_checked = Caches(), CheckedParts()
            stages(source, stage_caches, stage_checked, config, host, work / "stages.yml")  # warm them
            commit(f"second-{n}@", f"change it again ({n})")
            settle_memory()  # as the daemon does after each pass
            stage_warm.append(stages(source, stage_caches, stage_checked, config, host, work / "stages.yml"))
            commit(f"third-{n}@", f"and again ({n})")
            settle_memory()
            started = time.perf_counter()
            assert reconcile(config, host, source, caches, target).ok
            pass_warm.append((time.perf_counter() - started) * 1000)

    median = statistics.median
    print(f"{args.files} RecipientList files of 50 recipients; a commit changes one file; medians of {args.commits}")
    print(f"{'':38}{'cold ms':>9}{'incremental ms':>16}{'ratio':>8}")
    for index, name in enumerate(STAGES):
        cold, warm = median(t[index] for t in stage_cold), median(t[index] for t in stage_warm)
        print(f"{name:38}{cold:>9.1f}{warm:>16.1f}{cold / warm:>8.1f}")
    cold, warm = median(pass_cold), median(pass_warm)
    print(f"{'whole reconcile() pass':38}{cold:>9.1f}{warm:>16.1f}{cold / warm:>8.1f}")


if __name__ == "__main__":
    main()
