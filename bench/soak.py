"""1,000 commits through one daemon (every tenth one rejected): each handled as it should be,
and the daemon's RSS and open file descriptors at the start and the end. Prints figures.

    .venv/bin/python bench/soak.py [--commits 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.test_soak import soak  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=1000)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        result = soak(Path(folder), args.commits)
    (rss_warm, fds_warm), (rss_end, fds_end) = result["warm"], result["end"]
    print(f"{args.commits} commits in {time.monotonic() - started:.0f} s; handled {result['counts']} "
          f"(expected {result['expected']})")
    print(f"RSS after 20 commits {rss_warm / 1024:.1f} MB, at the end {rss_end / 1024:.1f} MB; "
          f"open file descriptors {fds_warm} -> {fds_end}")
    if result["counts"] != result["expected"]:
        sys.exit("the daemon's log does not count the passes the commits should have made")


if __name__ == "__main__":
    main()
