"""Many `amtool config routes test` questions in one call: one copy of a config per label set,
each copy's label names and receivers renamed apart, all under one root route whose children
(one a copy, without matchers, with `continue: true`) every alert walks. amtool prints the
receivers of all copies in order; each copy's are its own label set's answer.

The renaming is done on the text, for configs whose label names and receiver names are known
words that appear nowhere else in the text (the generated configs of
test_am_differential.py): so the copies are what amtool reads, not what our reader made of
the config. A call takes a few tens of milliseconds, most of it amtool starting; a hundred
label sets in one call cost about what one costs."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

ROOT_RECEIVER = "stitched-root"


def _argument(label: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{label}="{escaped}"'


def _blocks(text: str) -> dict[str, list[str]]:
    """Top-level keys of a block-style config -> their lines (after the key's own line)."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        match = re.match(r"([A-Za-z_]+):\s*$", line)
        if match:
            current = blocks.setdefault(match.group(1), [])
        elif current is not None:
            current.append(line)
    return blocks


def renamed(text: str, copy: int, labels: Sequence[str], receivers: str) -> str:
    """`text` with each of `labels` renamed `<label>_<copy>` and each receiver name matching the
    regular expression `receivers` prefixed `c<copy>.`."""
    words = "|".join(map(re.escape, labels))
    text = re.sub(rf"(?<![\w.-])({words})(?![\w-])", rf"\g<1>_{copy}", text)
    return re.sub(rf"(?<![\w./-])({receivers})(?![\w/-])", rf"c{copy}.\g<1>", text)


def stitched(copies: Sequence[str]) -> str:
    """One config holding every copy's routes and receivers (the global section of the first)."""
    parts = [_blocks(copy) for copy in copies]
    lines = ["global:", *parts[0].get("global", []), "route:", f"  receiver: {ROOT_RECEIVER}", "  routes:"]
    for part in parts:
        lines.append("    - continue: true")
        lines += ["    " + line if line.strip() else line for line in part["route"]]
    lines += ["receivers:", f"  - name: {ROOT_RECEIVER}"]
    for part in parts:
        lines += part.get("receivers", [])
    return "\n".join(lines) + "\n"


def receivers_reached(amtool: str, text: str, sets: Sequence[Mapping[str, str]], labels: Sequence[str],
                      receivers: str) -> list[list[str]]:
    """Per label set, the receivers amtool says an alert with it reaches in `text`, in order."""
    copies = [renamed(text, index, labels, receivers) for index in range(len(sets))]
    arguments = ["probe=x"]  # amtool needs a label; no matcher names this one
    for index, labels_of in enumerate(sets):
        arguments += [_argument(f"{name}_{index}", value) for name, value in sorted(labels_of.items()) if value]
    with tempfile.TemporaryDirectory(prefix="amtool-batch-") as folder:
        path = Path(folder, "alertmanager.yml")
        path.write_text(stitched(copies), encoding="utf-8")
        result = subprocess.run([amtool, "config", "routes", "test", f"--config.file={path}", *arguments],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"amtool: {result.stderr}\n{path.read_text()}"
    answers: list[list[str]] = [[] for _ in sets]
    for name in result.stdout.strip().split(","):
        copy, _, receiver = name.partition(".")
        answers[int(copy.removeprefix("c"))].append(receiver)
    return answers
