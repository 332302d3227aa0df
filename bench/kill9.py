"""kill -9 of the daemon at random moments while commits stream in, many times; every check
of tests/faults/test_kill9.py after each kill. Prints what was checked; fails loudly if a
check fails (that is a bug, not a timing figure).

    .venv/bin/python bench/kill9.py [--kills 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.test_kill9 import kill_9_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        checked = kill_9_run(Path(folder), args.kills, args.seed)
    print(f"{args.kills} kill -9 in {time.monotonic() - started:.0f} s (seed {args.seed}): after each, the live file "
          f"was one of the renders and passed amtool ({checked} times a file existed), the state and every outbox "
          f"letter loaded; every fifth kill and at the end, a restarted daemon applied the newest commit itself "
          f"and left no temporary file")


if __name__ == "__main__":
    main()
