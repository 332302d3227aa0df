"""The one reading of Alertmanager's config (reconciler.am.reading) reads scalars as
Alertmanager's Go YAML does, held against the real `amtool config routes test`: each YAML 1.1
spelling in a `match` value matches exactly the label value the reader says, `continue`
takes Go's boolean spellings, and a render into such a base keeps every one of them."""

from __future__ import annotations

import concurrent.futures
import subprocess

import pytest

from reconciler.am.reading import go_bool, read_config
from reconciler.cli.main import main

from tests.support.services import require_binary


pytestmark = pytest.mark.alertmanager

SPELLINGS = {
    # as written in `match: {v: ...}` -> the string Alertmanager matches (None: the label is absent or empty)
    "true": "true", "True": "True", "TRUE": "TRUE", "yes": "yes", "on": "on", "y": "y", "N": "N", "off": "off",
    "0x1F": "0x1F", "1_000": "1_000", "+12": "+12", "012": "012", "0o17": "0o17", "0b101": "0b101", "1e3": "1e3",
    "1.0": "1.0", ".inf": ".inf", "-.INF": "-.INF", ".NaN": ".NaN", "2001-12-14": "2001-12-14",
    "2001-12-14t21:59:43.10-05:00": "2001-12-14t21:59:43.10-05:00", "'True'": "True", '"yes"': "yes",
    "!!str ~": "~", "!!binary aGVsbG8=": "hello", "~": None, "null": None, "NULL": None, "": None,
}


def amtool(path, labels: dict[str, str]) -> list[str]:
    result = subprocess.run([require_binary("amtool"), "config", "routes", "test", f"--config.file={path}",
                             *(f'{name}="{value}"' for name, value in labels.items())],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split(",")


def match_config() -> str:
    routes = "".join(f"    - receiver: r{index}\n      continue: true\n      match:\n        v{index}: {spelling}\n"
                     for index, spelling in enumerate(SPELLINGS))
    receivers = "".join(f"  - name: r{index}\n" for index in range(len(SPELLINGS)))
    return f"route:\n  receiver: none\n  routes:\n{routes}receivers:\n  - name: none\n{receivers}"


def test_match_values_are_the_strings_alertmanager_matches(tmp_path):
    text = match_config()
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    values = [route["match"][f"v{index}"] for index, route in enumerate(read_config(text).data["route"]["routes"])]
    assert values == list(SPELLINGS.values())  # the reader says what Go says ...

    def reached(index: int) -> tuple[list[str], list[str]]:
        labels = {"probe": "x", **({f"v{index}": values[index]} if values[index] else {})}
        expected = [f"r{other}" for other, value in enumerate(values) if labels.get(f"v{other}", "") == (value or "")]
        return expected, amtool(path, labels)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for expected, answer in pool.map(reached, range(len(values))):
            assert answer == expected  # ... and amtool agrees: that label value, and only it, matches


@pytest.mark.parametrize("spelling", ["true", "True", "yes", "on", "Y", "false", "no", "off", "N", "OFF", "~", ""])
def test_continue_takes_gos_boolean_spellings(tmp_path, spelling):
    text = (f"route:\n  receiver: none\n  routes:\n    - receiver: first\n      continue: {spelling}\n"
            "    - receiver: second\nreceivers: [{name: none}, {name: first}, {name: second}]\n")
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    continues = bool(go_bool(read_config(text).data["route"]["routes"][0]["continue"]))
    assert amtool(path, {"a": "b"}) == (["first", "second"] if continues else ["first"])


def test_a_render_keeps_every_spelling_of_the_base(tmp_path, capsys):
    base, rendered = tmp_path / "base.yml", tmp_path / "alertmanager.yml"
    base.write_text(match_config())
    assert main(["render", "examples/config-repo", "--base", str(base), "-o", str(rendered)]) == 0
    values = list(SPELLINGS.values())

    def both(index: int) -> tuple[list[str], list[str]]:
        labels = {"probe": "x", **({f"v{index}": values[index]} if values[index] else {})}
        return amtool(base, labels), [name for name in amtool(rendered, labels)
                                      if not name.startswith("notify-reconciler/")]

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for index, (before, after) in enumerate(pool.map(both, range(len(values)))):
            assert after == before, f"{list(SPELLINGS)[index]!r}: the base reached {before}, the render {after}"
