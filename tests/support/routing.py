"""What Alertmanager itself does with an alert: the receivers `amtool config routes test`
says a label set reaches, and label sets worth asking about, derived from matchers.

Used to show that a render keeps the base's routing of every alert and adds exactly the
e-mail lists whose matchers match (tests/integration/test_routing_preserved.py and the
differential fuzzer in tests/hostile/test_fuzz.py). Also the sample bases those tests render
into (`BASES`) and a config nested as deep as asked (`nested_routes`).
"""

from __future__ import annotations

import itertools
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable, Mapping

from ruamel.yaml import YAML

Labels = Mapping[str, str]

_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*', re.DOTALL)
MISS = "zz-no-such-value"


def parse_matcher(text: str) -> tuple[str, str, str]:
    """(label, operator, value) of an Alertmanager matcher such as `team=~"db|web"`."""
    match = _MATCHER.fullmatch(text)
    if not match:
        raise ValueError(f"not a matcher: {text!r}")
    label, operator, value = match.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value[1:-1])
    return label, operator, value


def all_match(matcher_texts: Iterable[str], labels: Labels) -> bool:
    """Whether an alert with `labels` matches every matcher, as Alertmanager reads them (a
    missing label is the empty value; regular expressions are anchored). Only for regular
    expressions Python and Go read alike: see `simple_regex`."""
    for text in matcher_texts:
        label, operator, value = parse_matcher(text)
        got = labels.get(label, "")
        hit = (got == value if operator in ("=", "!=") else re.fullmatch(f"(?:{value})", got) is not None)
        if hit != (operator in ("=", "=~")):
            return False
    return True


def simple_regex(value: str) -> bool:
    """A regular expression Python's `re` and Go's `regexp` read the same way."""
    return re.fullmatch(r"[A-Za-z0-9_ |.*+?()-]*", value) is not None and _compiles(value)


def _compiles(value: str) -> bool:
    try:
        re.compile(value)
    except re.error:
        return False
    return True


def values_from(matchers: Iterable[str]) -> dict[str, list[str]]:
    """Per label: values that hit and miss each matcher (the literal alternatives of a
    simple regular expression, its value otherwise), and a value none of them names."""
    values: dict[str, list[str]] = {}
    for text in matchers:
        label, operator, value = parse_matcher(text)
        found = values.setdefault(label, [MISS])
        if operator in ("=~", "!~"):
            candidates = [part for part in value.split("|") if re.fullmatch(r"[A-Za-z0-9_ -]*", part)]
        else:
            candidates = [value]
        for candidate in candidates:
            if candidate not in found:
                found.append(candidate)
    return values


def matchers_of_config(config_text: str) -> list[str]:
    """Every matcher of every route in an Alertmanager config (`matchers`, `match`, `match_re`)."""
    found: list[str] = []

    def visit(route) -> None:
        if not isinstance(route, dict):
            return
        found.extend(str(m) for m in route.get("matchers") or ())
        found.extend(f'{k}="{v}"' for k, v in (route.get("match") or {}).items())
        found.extend(f'{k}=~"{v}"' for k, v in (route.get("match_re") or {}).items())
        for child in route.get("routes") or ():
            visit(child)

    visit((YAML(typ="safe").load(config_text) or {}).get("route"))
    return found


def label_sets(matchers: Iterable[str], *, limit: int = 200, always: Labels | None = None) -> list[dict[str, str]]:
    """Label sets that tell routes apart: none, each value of each label alone, and then
    combinations of all labels' values, up to `limit` sets in all (deterministic)."""
    values = values_from(matchers)
    base = dict(always or {})
    sets: list[dict[str, str]] = [dict(base)]
    for label, candidates in values.items():
        sets += [{**base, label: value} for value in candidates]
    names = sorted(values)
    for combination in itertools.product(*(values[name] for name in names)):
        if len(sets) >= limit:
            break
        sets.append({**base, **dict(zip(names, combination))})
    unique: list[dict[str, str]] = []
    for labels in sets:
        labels = {k: v for k, v in labels.items() if v != ""}  # an empty value is a missing label
        if labels not in unique:
            unique.append(labels)
    return unique[:limit]


def _argument(label: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{label}="{escaped}"'


def receivers_reached(amtool: str, config_text: str, sets: Iterable[Labels]) -> list[tuple[str, ...]]:
    """Per label set, the receivers Alertmanager notifies for such an alert, in the order of
    the routing tree and with repeats (a receiver reached by two routes is notified twice)."""
    with tempfile.TemporaryDirectory(prefix="routing-") as folder:
        path = Path(folder, "alertmanager.yml")
        path.write_text(config_text, encoding="utf-8")
        answers = []
        for labels in sets:
            result = subprocess.run([amtool, "config", "routes", "test", f"--config.file={path}",
                                     *(_argument(k, v) for k, v in sorted(labels.items()))],
                                    capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, f"amtool config routes test {dict(labels)}: {result.stderr}"
            answers.append(tuple(result.stdout.strip().split(",")))
        return answers


def check_routing(amtool: str, base: str, rendered: str, lists: Iterable[tuple[str, tuple[str, ...]]],
                  sets: list[dict[str, str]], base_answers: dict[str, tuple[str, ...]] | None = None) -> None:
    """Assert that for every label set the render reaches the base's receivers exactly as the
    base alone does (order and repeats included), after exactly the lists whose matchers match
    (`lists`: receiver name and matchers, in render order). A list with a regular expression
    Python may read differently from Go is left out of the second check, not the first.
    `base_answers` caches what the base alone reaches, keyed by `repr(labels)`."""
    cache = {} if base_answers is None else base_answers
    unknown = [labels for labels in sets if repr(sorted(labels.items())) not in cache]
    for labels, answer in zip(unknown, receivers_reached(amtool, base, unknown)):
        cache[repr(sorted(labels.items()))] = answer
    lists = list(lists)
    names = {name for name, _ in lists}
    for labels, now in zip(sets, receivers_reached(amtool, rendered, sets)):
        was = cache[repr(sorted(labels.items()))]
        ours = [receiver for receiver in now if receiver in names]
        assert now[len(ours):] == was, f"alert {labels}: the base reached {was}, the render {now}"
        checkable = {name for name, matcher_texts in lists if _pythonic(matcher_texts)}
        expected = [name for name, matcher_texts in lists if name in checkable and all_match(matcher_texts, labels)]
        assert [n for n in ours if n in checkable] == [n for n in expected if n in checkable], \
            f"alert {labels}: the lists reached are {ours}, their matchers say {expected}"


def _pythonic(matcher_texts: Iterable[str]) -> bool:
    for text in matcher_texts:
        _, operator, value = parse_matcher(text)
        if operator in ("=~", "!~") and not simple_regex(value):
            return False
    return True


ROOT = Path(__file__).resolve().parents[2]

BASES = {  # name -> an Alertmanager config a render goes into
    "no child routes": "route:\n  receiver: chat\nreceivers: [{name: chat}]\n",
    "children without continue": """\
route:
  receiver: chat
  group_by: [alertname]
  routes:
    - receiver: pager
      matchers: [severity="page"]
    - receiver: dba
      matchers: [team="db"]
receivers: [{name: chat}, {name: pager}, {name: dba}]
""",
    "children with continue": """\
route:
  receiver: chat
  routes:
    - receiver: audit
      matchers: [team=~"db|web"]
      continue: true
    - receiver: pager
      matchers: [severity="page"]
      continue: true
    - receiver: dba
      matchers: [team="db"]
receivers: [{name: chat}, {name: audit}, {name: pager}, {name: dba}]
""",
    "nested, continue at every level, legacy match": """\
# the root receiver gets what nothing else takes
route:
  receiver: chat
  group_by: [cluster]
  routes:
    # everything about the database
    - receiver: dba
      match: {team: db}
      continue: true
      routes:
        - receiver: pager
          matchers: [severity="page"]
          continue: true
        - receiver: audit
          match_re: {alertname: "Disk.*|Backup"}
    - receiver: chat
      matchers: [alertname="Watchdog"]
      continue: true
    - receiver: deadmans-switch
      matchers: [alertname="Watchdog"]
    - receiver: web
      matchers: [team!="db", severity=~"page|critical"]
receivers: [{name: chat}, {name: dba}, {name: pager}, {name: audit}, {name: deadmans-switch}, {name: web}]
""",
    "flow style": "{route: {receiver: web, routes: [{receiver: db, matchers: ['team=\"db\"'], continue: true}]}, "
                  "receivers: [{name: web}, {name: db}]}\n",
    "example base": (ROOT / "examples" / "alertmanager-base.yml").read_text(),
}


def nested_routes(depth: int) -> str:
    """A config whose routes nest `depth` deep."""
    lines = ["route:", "  receiver: x"]
    for level in range(depth):
        pad = "  " + "    " * level
        lines += [pad + "routes:", pad + "  - receiver: x"]
    return "\n".join(lines) + "\n"
