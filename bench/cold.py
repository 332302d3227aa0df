"""Whole `notify-reconciler` processes, cold and warm, side by side with `amtool check-config`
in the same run. Prints each figure, its ratio to amtool, and the peak memory of the cold
1,000 x 50 render; timing never changes the exit status.

    .venv/bin/python bench/cold.py [--repeat 5] [--files 1000] [--recipients 50] [--skip-large] [--only apply]

What runs (every figure the median of --repeat runs of a fresh process, wall time from
fork to exit, as a shell or a git hook would see it; each run is followed by one run of the
row's amtool check, and the ratio printed is the median of each run's time over that amtool
run's, which this shared machine's load moves far less than either time alone):
  example folder (examples/config-repo, rendered into examples/alertmanager-base.yml)
    amtool check-config of its render              the yardstick for the example rows
    validate, diff       cold                       an empty cache (XDG_CACHE_HOME, stateDir) each run
    validate, diff       warm                       the same tree again, the cache kept
  1,000 RecipientLists x 50 recipients (bench/render_vs_amtool.py's make_repo, 2.2 MB)
    amtool check-config of its render              the yardstick for the large rows
    render -o, validate  cold                       peak RSS of the cold render's process too
    validate, diff       warm, same tree
    validate, diff       warm, one file changed    each run changes a different file
    apply                after a restart            one commit of one file, the daemon's cache
                                                   (stateDir) kept from the pass before
`--only apply` runs the large tree's yardstick and the two apply rows only (about a minute).
Aims (issue 17): example validate/diff <= 3x amtool; large cold render/validate <= 5x;
warm <= 1.5x; cold render peak RSS < 150 MB.

Exit status: 0, whatever the timings; 1 if a command fails where it should succeed (the
figures would describe a broken run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from render_vs_amtool import make_repo  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "config-repo"
EXAMPLE_BASE = ROOT / "examples" / "alertmanager-base.yml"


class Failed(Exception):
    """A command failed where it should not: the figures would mean nothing."""


def command() -> list[str]:
    """The console script as users run it, else `python -m reconciler`."""
    script = Path(sys.executable).parent / "notify-reconciler"
    return [str(script)] if script.exists() else [sys.executable, "-m", "reconciler"]


def run(argv: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> tuple[float, int]:
    """Wall seconds and peak RSS (kB) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    out, err = process.stdout.read(), process.stderr.read()
    process.stdout.close()
    process.stderr.close()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in ok:
        raise Failed(f"{' '.join(argv)}: exit {process.returncode}\n{(out + err).decode()[-2000:]}")
    return elapsed, usage.ru_maxrss


class Timing(NamedTuple):
    walls: list[float]
    peak: int
    """The highest peak RSS of the runs, kB."""
    paired: list[float]
    """amtool's wall time right after each run (empty when not asked): the ratio of each pair
    moves less with this machine's load than a ratio to an amtool timed at another moment."""


def times(argv: list[str], repeat: int, env: dict[str, str] | None = None, before=None,
          ok: tuple[int, ...] = (0,), pair: list[str] | None = None) -> Timing:
    """`repeat` runs (`before(i)` first, untimed), each followed by one of `pair` when given."""
    walls, peak, paired = [], 0, []
    for i in range(repeat):
        if before:
            before(i)
        wall, rss = run(argv, env, ok)
        walls.append(wall)
        peak = max(peak, rss)
        if pair:
            paired.append(run(pair)[0])
    return Timing(walls, peak, paired)


def environment(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = str(cache)
    env.pop("NO_COLOR", None)
    # An installed package has its bytecode compiled (pip does it); an editable checkout
    # under PYTHONDONTWRITEBYTECODE would compile every module on every run instead.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def fresh_cache(root: Path):
    """A `before` that empties the cache folder and the state folder: a cold run."""
    def clear(_: int) -> None:
        for name in ("cache", "state"):
            shutil.rmtree(root / name, ignore_errors=True)
            (root / name).mkdir()
    return clear


def daemon_config(folder: Path, spec_dir: Path, output: Path, base: Path | None) -> Path:
    path = folder / "config.yaml"
    lines = [f"source:\n  repo: {spec_dir}\n", f"target:\n  output: {output}\n  alertmanagers: []\n",
             f"stateDir: {folder / 'state'}\n"]
    if base:
        lines[1] += f"  base: {base}\n"
    path.write_text("".join(lines))
    return path


def show(label: str, timing: Timing | list[float], yardstick: float | None, aim: float | None = None,
         note: str = "") -> str:
    """median and min; the ratio to amtool as the median of the runs' ratios to the amtool run
    right after each (when the timing has them), else to `yardstick`, amtool's median."""
    walls = timing.walls if isinstance(timing, Timing) else timing
    paired = timing.paired if isinstance(timing, Timing) else []
    value = statistics.median(walls)
    ratio = statistics.median(w / a for w, a in zip(walls, paired)) if paired else \
        (value / yardstick if yardstick else None)
    shown = f"{ratio:6.2f}x" if ratio is not None else ""
    verdict = ("" if aim is None or ratio is None else ("  met" if ratio <= aim else f"  NOT met (aim {aim:g}x)"))
    line = f"  {label:<46}{value * 1000:>9.1f} ms{min(walls) * 1000:>9.1f} ms  {shown}{verdict}"
    return (line + (f"  {note}" if note else "")).rstrip()


def header() -> None:
    print(f"  {'':<46}{'median':>12}{'min':>12}  vs amtool (median of each run / the amtool run after it)")


def example_rows(work: Path, repeat: int) -> None:
    notify = command()
    env = environment(work / "cache")
    rendered = work / "example-alertmanager.yml"
    fresh_cache(work)(0)
    run([*notify, "render", str(EXAMPLE), "--base", str(EXAMPLE_BASE), "-o", str(rendered)], env)
    config = daemon_config(work, EXAMPLE, rendered, EXAMPLE_BASE)
    yard = ["amtool", "check-config", str(rendered)]
    amtool = times(yard, repeat).walls
    yardstick = statistics.median(amtool)
    run([*notify, "validate", str(EXAMPLE)], env)  # bytecode written once, as pip does on install
    validate = [*notify, "validate", str(EXAMPLE)]
    diff = [*notify, "diff", str(EXAMPLE), "--config", str(config)]
    print("\nExample folder (examples/config-repo, 4 files)")
    header()
    print(show("amtool check-config of its render", amtool, yardstick))
    print(show("validate, cold", times(validate, repeat, env, fresh_cache(work), pair=yard), yardstick, 3))
    print(show("diff, cold", times(diff, repeat, env, fresh_cache(work), pair=yard), yardstick, 3))
    run(validate, env)
    run(diff, env)
    print(show("validate, warm", times(validate, repeat, env, pair=yard), yardstick, 3))
    print(show("diff, warm", times(diff, repeat, env, pair=yard), yardstick, 3))
    bare = [sys.executable, "-c", "pass"]
    print(show(f"for scale: {Path(sys.executable).name} -c pass", times(bare, repeat, pair=yard), yardstick))
    print(show(f"for scale: {Path(sys.executable).name} -I -S -c pass",
               times([sys.executable, "-I", "-S", "-c", "pass"], repeat, pair=yard), yardstick))


def change_one(folder: Path, i: int) -> None:
    """Change a different list each time (its repeat interval), as a commit of one file would."""
    path = folder / f"team-{i + 2:04d}.yaml"
    text = path.read_text()
    stamp = f"  groupWait: {31 + i}s\n"
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith("  groupWait:")]
    path.write_text("".join(lines) + stamp)


def large_rows(work: Path, repeat: int, files: int, recipients: int, only_apply: bool = False) -> None:
    notify = command()
    env = environment(work / "cache")
    specs = work / "specs"
    specs.mkdir()
    make_repo(specs, files, recipients)
    size = sum(path.stat().st_size for path in specs.iterdir())
    rendered = work / "alertmanager.yml"
    config = daemon_config(work, specs, rendered, None)
    render = [*notify, "render", str(specs), "-o", str(rendered)]
    validate = [*notify, "validate", str(specs)]
    diff = [*notify, "diff", str(specs), "--config", str(config)]

    yard = ["amtool", "check-config", str(rendered)]
    render_timing = times(render, 1, env, fresh_cache(work))  # the render amtool is timed on
    if not only_apply and repeat > 1:
        render_timing = times(render, repeat, env, fresh_cache(work), pair=yard)
    amtool = times(yard, repeat).walls
    yardstick = statistics.median(amtool)
    print(f"\n{files:,} RecipientLists x {recipients} recipients ({size / 1e6:.2f} MB of YAML, "
          f"render {rendered.stat().st_size / 1e6:.2f} MB)")
    header()
    print(show("amtool check-config of its render", amtool, yardstick))
    if only_apply:
        apply_rows(work, specs, env, repeat, yardstick, yard)
        return
    print(show("render -o, cold", render_timing, yardstick, 5))
    print(show("validate, cold", times(validate, repeat, env, fresh_cache(work), pair=yard), yardstick, 5))
    run(validate, env)
    run(diff, env)
    print(show("validate, warm (same tree)", times(validate, repeat, env, pair=yard), yardstick, 1.5))
    print(show("diff, warm (same tree)", times(diff, repeat, env, pair=yard), yardstick, 1.5))
    print(show("validate, warm (one file changed)",
               times(validate, repeat, env, lambda i: change_one(specs, i), pair=yard), yardstick, 1.5))
    print(show("diff, warm (one file changed)",
               times(diff, repeat, env, lambda i: change_one(specs, 10 + i), ok=(0, 1), pair=yard), yardstick,
               1.5))
    render_rss = render_timing.peak
    print(f"  peak RSS of the cold render -o: {render_rss / 1024:.1f} MB (aim < 150 MB: "
          f"{'met' if render_rss < 150 * 1024 else 'NOT met'})")
    apply_rows(work, specs, env, repeat, yardstick, yard)


def apply_rows(work: Path, specs: Path, env: dict[str, str], repeat: int, yardstick: float,
               yard: list[str]) -> None:
    """`apply` on a git repo of the same lists: cold (no stateDir), then each run after a
    commit of one file, as the daemon's first pass after a restart (its cache kept)."""
    repo = work / "repo"
    shutil.copytree(specs, repo)
    git = ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "lists"], check=True)
    folder = work / "apply"
    folder.mkdir()
    config = daemon_config(folder, repo, folder / "alertmanager.yml", None)
    notify = command()

    def commit_one(i: int) -> None:
        change_one(repo, 20 + i)
        subprocess.run([*git, "commit", "-q", "-am", f"change {i}"], check=True)

    def cold(i: int) -> None:
        shutil.rmtree(folder / "state", ignore_errors=True)
        commit_one(100 + i)

    cold_timing = times([*notify, "apply", "--config", str(config)], repeat, env, cold, pair=yard)
    warm_timing = times([*notify, "apply", "--config", str(config)], repeat, env, commit_one, pair=yard)
    print(show("apply, empty stateDir (one-file commit)", cold_timing, yardstick))
    print(show("apply after a restart (one-file commit)", warm_timing, yardstick, None,
               "in-process incremental pass: bench/incremental.py"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--recipients", type=int, default=50)
    parser.add_argument("--skip-large", action="store_true", help="the example folder only")
    parser.add_argument("--only", choices=("apply",), help="apply: the large tree's apply rows (and amtool) only")
    args = parser.parse_args()
    if not shutil.which("amtool"):
        print("amtool not found: install prometheus-alertmanager (./scripts/setup)", file=sys.stderr)
        return 1
    amtool_version = subprocess.run(["amtool", "--version"], capture_output=True, text=True)
    print(f"{' '.join(command())}; {sys.version.split()[0]}; nproc {len(os.sched_getaffinity(0))}; "
          f"{(amtool_version.stdout + amtool_version.stderr).splitlines()[0]}")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-cold-") as folder:
            if args.only is None:
                example = Path(folder, "example")
                example.mkdir()
                example_rows(example, args.repeat)
            if not args.skip_large or args.only == "apply":
                large = Path(folder, "large")
                large.mkdir()
                large_rows(large, args.repeat, args.files, args.recipients, only_apply=args.only == "apply")
    except Failed as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
