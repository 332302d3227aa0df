"""The corpus of real Alertmanager configs (tests/data/corpus, each file with its source and
licence): the configs, label sets worth asking about from every matcher a config has, and
what the real amtool says such a label set reaches."""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path

from reconciler.am.routes import routing_tree, walk
from reconciler.am.secret import unwrap

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted((ROOT / "tests" / "data" / "corpus").glob("*.yaml"))
"""Each a real config (or a Secret holding one) as its project publishes it."""


def corpus_config(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    inner = unwrap(text, path.name)
    return inner.config if inner is not None else text


def corpus_label_sets(config: str) -> list[dict[str, str]]:
    """Label sets from every matcher of the config: each value a matcher names, a literal part
    of each regular expression, a value none names, and the label left out; then combinations."""
    values: dict[str, list[str]] = {}
    for route, _ in walk(routing_tree(config)):
        for matcher in route.matchers:
            candidates = [matcher.value] if "~" not in matcher.op else \
                [part for part in re.split(r"[|()^$]", matcher.value) if re.fullmatch(r"[\w -]+", part)]
            known = values.setdefault(matcher.name, ["", "zz-other"])
            known += [value for value in candidates if value not in known]
    names = sorted(values)
    sets = [{}] + [{name: value} for name in names for value in values[name] if value]
    for combination in itertools.islice(itertools.product(*(values[name] for name in names)), 60):
        labels = {name: value for name, value in zip(names, combination) if value}
        if labels not in sets:
            sets.append(labels)
    return sets


def amtool_receivers(amtool: str, path: Path, labels: dict[str, str]) -> list[str]:
    result = subprocess.run([amtool, "config", "routes", "test", f"--config.file={path}", "probe=x",
                             *(f'{name}="{value}"' for name, value in sorted(labels.items()))],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split(",")
