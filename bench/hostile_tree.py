"""Peak memory and time of one `apply` of a hostile commit (issue 25, medium 3).

    .venv/bin/python bench/hostile_tree.py [--python PATH] [--checkout DIR]

Builds, in a temporary folder, a config repo whose first commit is good and applied, then
one hostile commit at a time, and runs `notify-reconciler apply` on it as a whole process:
- `many-files`: 1,600 spec files of 1,000,000 bytes each, YAML comments only, each under the
  1 MiB a file may have (distinct, so that git does not store them once);
- `zero-blob`: one 400 MB file of zero bytes (about 400 KB in git);
and prints, for each, the exit status, the wall time and the largest peak RSS of the apply
process and the git processes it waited for (ru_maxrss of the process tree). `--checkout`
runs another checkout's code (an older commit, to compare), with this venv's packages.
Nothing fails on figures; exit 1 only when a hostile commit was applied.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.gitrepo import GitRepo, recipient_list, server  # noqa: E402


def measured(argv: list[str], env: dict[str, str], cwd: str) -> tuple[int, float, float]:
    """Exit status, seconds, and the peak RSS in MB of the process and its waited children."""
    started = time.monotonic()
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    return os.waitstatus_to_exitcode(status), seconds, usage.ru_maxrss / 1024


def hostile(repo: GitRepo, kind: str) -> None:
    if kind == "many-files":
        lines = []
        for i in range(1600):
            data = (f"# {i:05d} padding\n".encode() * 62500)[:1_000_000]
            oid = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo.path, input=data,
                                 capture_output=True, check=True).stdout.decode().strip()
            lines.append(f"100644 {oid}\tjunk/{i:04d}.yaml\n")
        subprocess.run(["git", "update-index", "--index-info"], cwd=repo.path, input="".join(lines).encode(),
                       check=True)
    else:
        # Made by a pipe, not in this process: a child forked from a process holding 400 MB
        # would count those pages in its own peak.
        oid = subprocess.run("head -c 400000000 /dev/zero | git hash-object -w --stdin", shell=True,
                             cwd=repo.path, capture_output=True, check=True).stdout.decode().strip()
        repo.git("update-index", "--add", "--cacheinfo", f"100644,{oid},zero.bin")
    repo.git("commit", "-q", "-m", f"hostile: {kind}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"))
    parser.add_argument("--checkout", default=str(ROOT), help="the checkout whose code runs apply")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": args.checkout}  # and run there: `-m` puts the folder first
    applied_any = False
    print(f"{'commit':<12} {'exit':>4} {'seconds':>8} {'peak RSS MB':>12}")
    for kind in ("many-files", "zero-blob"):
        with tempfile.TemporaryDirectory() as work:
            root = Path(work)
            repo = GitRepo(root / "repo")
            repo.commit("good", **{"s.yaml": server(), "o.yaml": recipient_list("ops", ["o@example.com"])})
            config = root / "config.yaml"
            config.write_text(f"source: {{repo: {repo.path}}}\n"
                              f"target: {{output: {root / 'alertmanager.yml'}, alertmanagers: []}}\n"
                              f"stateDir: {root / 'state'}\n")
            apply = [args.python, "-m", "reconciler", "apply", "--config", str(config), "--no-cache"]
            code, _, _ = measured(apply, env, args.checkout)
            assert code == 0, "the good commit was not applied"
            hostile(repo, kind)
            code, seconds, peak = measured(apply, env, args.checkout)
            applied_any |= code == 0
            print(f"{kind:<12} {code:>4} {seconds:>8.2f} {peak:>12.1f}")
    return 1 if applied_any else 0


if __name__ == "__main__":
    sys.exit(main())
