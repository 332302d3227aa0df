"""Render 1,000 RecipientList files of 50 recipients each, next to `amtool check-config` of
the result, in one run. Prints figures and ratios; never fails on timing.

    .venv/bin/python bench/render_vs_amtool.py [--files 1000] [--recipients 50] [--repeat 5] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.loader import load_files  # noqa: E402
from reconciler.model import check_document, specs_from_documents  # noqa: E402
from reconciler.render import RenderOptions, render_alertmanager_config  # noqa: E402
from reconciler.schema import validate_document  # noqa: E402
from reconciler.source import read_spec_folder  # noqa: E402

HEAD = "apiVersion: notify-reconciler/v1\n"


def make_repo(folder: Path, files: int, recipients: int) -> None:
    (folder / "server.yaml").write_text(
        f"{HEAD}kind: EmailServer\nmetadata: {{name: smtp}}\nspec:\n  host: smtp.example.com\n  port: 587\n"
        "  username: alertmanager\n  passwordFile: /etc/alertmanager/smtp-password\n"
        "  from: alertmanager@example.com\n")
    (folder / "policy.yaml").write_text(f"{HEAD}kind: NotificationPolicy\nmetadata: {{name: default}}\n"
                                        "spec: {repeatInterval: 12h}\n")
    for n in range(files):
        lines = [f"{HEAD}kind: RecipientList\nmetadata:\n  name: team-{n:04d}\nspec:\n  recipients:\n"]
        for r in range(recipients):
            address = f"oncall{r:02d}@team-{n:04d}.example.com"
            lines.append(f"    - {{name: On-call {r}, email: {address}}}\n" if r % 10 == 0 else f"    - {address}\n")
        if n % 2:
            lines.append(f'  matchers: [\'team="team-{n:04d}"\', \'severity=~"critical|page"\']\n')
            lines.append("  repeatInterval: 4h\n")
        (folder / f"team-{n:04d}.yaml").write_text("".join(lines))


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def stages(folder: Path) -> tuple[dict[str, float], str]:
    times = {}
    times["read"], tree = timed(read_spec_folder, folder)
    times["load (YAML)"], (documents, errors) = timed(load_files, tree.files)
    assert not errors, errors[:3]

    def validate():
        problems = [p for d in documents for p in validate_document(d) + check_document(d)]
        assert not problems, problems[:3]
    times["validate (schema+rules)"], _ = timed(validate)
    times["model"], (specs, problems) = timed(specs_from_documents, documents)
    assert not problems
    options = RenderOptions(hello_default="bench")
    times["render"], text = timed(lambda: render_alertmanager_config(specs, None, options=options))
    return times, text


def amtool_check(amtool: str, text: str) -> float:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "alertmanager.yml")
        path.write_text(text)
        started = time.perf_counter()
        result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True)
        elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"amtool refused the render: {result.stdout}{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--recipients", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print the 15 costliest functions")
    args = parser.parse_args()
    amtool = shutil.which("amtool")

    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder)
        make_repo(repo, args.files, args.recipients)
        size = sum(p.stat().st_size for p in repo.iterdir())
        runs: list[dict[str, float]] = []
        for _ in range(args.repeat):
            times, text = stages(repo)
            times["total (read..render)"] = sum(times.values())
            if amtool:
                times["amtool check-config"] = amtool_check(amtool, text)
            runs.append(times)

        version = "not installed"
        if amtool:
            answer = subprocess.run([amtool, "--version"], capture_output=True, text=True)
            version = (answer.stdout + answer.stderr).strip().splitlines()[0]
        print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores; {version}")
        print(f"input: {args.files} RecipientList files x {args.recipients} recipients, {size / 1e6:.2f} MB of YAML;"
              f" rendered: {len(text.encode()) / 1e6:.2f} MB; {args.repeat} runs")
        print(f"{'stage':<26}{'median s':>10}{'min s':>10}")
        for stage in runs[0]:
            values = [run[stage] for run in runs]
            print(f"{stage:<26}{statistics.median(values):>10.3f}{min(values):>10.3f}")
        if amtool:
            ours = statistics.median(run["total (read..render)"] for run in runs)
            theirs = statistics.median(run["amtool check-config"] for run in runs)
            render_only = statistics.median(run["render"] for run in runs)
            print(f"ratio total/amtool: {ours / theirs:.2f}   render-only/amtool: {render_only / theirs:.2f}")

        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            stages(repo)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
            print(out.getvalue())


if __name__ == "__main__":
    main()
