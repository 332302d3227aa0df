"""Ask the real `amtool check-config` whether Alertmanager accepts a matcher string.

Each case gets its own tiny config (amtool stops at the first error); a few threads keep
a corpus of hundreds under a few seconds."""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import tempfile
from pathlib import Path


def matcher_config(matcher: str) -> str:
    # JSON strings are YAML double-quoted strings: the matcher reaches Alertmanager as is.
    return ("route:\n  receiver: r\n  routes:\n    - receiver: r\n      matchers: [" + json.dumps(matcher) + "]\n"
            "receivers: [{name: r}]\n")


def amtool_accepts(amtool: str, folder: Path, cases: list[str], threads: int = 4) -> list[bool]:
    """For each matcher string, whether `amtool check-config` accepts a route holding it."""
    def one(index: int) -> bool:
        path = folder / f"case-{index}.yml"
        path.write_text(matcher_config(cases[index]), encoding="utf-8")
        result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60)
        return result.returncode == 0

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(len(cases))))
