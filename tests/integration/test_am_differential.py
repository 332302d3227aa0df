"""who-gets agrees with `amtool config routes test` on every label set (issue 22's proof).

Generated configs (hypothesis): random routing trees with `continue` spelled every way YAML 1.1
spells a boolean, nested routes, `match` / `match_re` / `matchers`, label values written as
YAML 1.1 scalars (`true`, `True`, `yes`, `0x1F`, `1_000`, `~`, ...), grouping and timing, base
receivers that mail some of the lists' addresses. For each: the render into the base given as
a file and as a Kubernetes Secret (`data` or `stringData`) is the same; for every label set the
receivers who-gets names (in order, repeats included) are amtool's on that render, and the
addresses it says are mailed twice are those amtool's receivers mail twice. amtool answers all
label sets of a config in one call (amtool_batch.py). AM_EXAMPLES=400 in the environment asks
for more examples than the 40 a run has (about 90 s; 400 passed when this was written).

A corpus of real configs (tests/data/corpus, each with its source): the route tree read by
reconciler.am and who-gets with the config as base agree with amtool on label sets built from
every matcher the config has.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import io
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from reconciler.am.routes import routing_tree
from reconciler.am.secret import unwrap
from reconciler.cli.main import main
from reconciler.specs.pipeline import parse_specs
from reconciler.core.render import PREFIX, render_alertmanager_config
from reconciler.am.timewindows import parse_instant
from reconciler.core.who_gets import Audience

from tests.support.am_corpus import CORPUS, amtool_receivers, corpus_config, corpus_label_sets
from tests.support.amtool_batch import receivers_reached


pytestmark = pytest.mark.alertmanager

ROOT = Path(__file__).resolve().parents[2]
NOW = parse_instant("2026-06-01T12:00:00Z")
LABELS = ("team", "sev", "page", "tier")
RECEIVERS = r"r[0-4]|notify-reconciler/l[a-c]"
SPELLINGS = {  # a label value -> ways to write it in `match` (Alertmanager reads each as that value)
    "db": ["db", '"db"'], "web": ["web", "'web'"], "true": ["true", '"true"'], "True": ["True", "'True'"],
    "yes": ["yes", '"yes"'], "1_000": ["1_000"], "0x1F": ["0x1F"], "31": ["31", "'31'"], "1e3": ["1e3"],
    "": ["~", "null", "''", ""], "a b": ["a b", "'a b'"],
}
VALUES = list(SPELLINGS)
PATTERNS = ["db|web", "d.*", ".*", "(true|yes)", "[0-9]+", "x?", "T.*"]
CONTINUES = ["true", "false", "yes", "no", "on", "off", "True", "N", "~"]
ADDRESSES = ["oncall@example.com", "dba@example.com", "web@example.com", "boss@example.com"]
SERVER = ("apiVersion: notify-reconciler/v1\nkind: EmailServer\nmetadata: {name: smtp}\n"
          "spec: {host: smtp.example.com, port: 587, from: am@example.com}\n")


# -- generated configs ---------------------------------------------------------------------

def route_matchers(draw) -> list[str]:
    """YAML lines of a route's matchers (none, match, match_re or matchers)."""
    style = draw(st.sampled_from(["none", "match", "match_re", "matchers", "matchers"]))
    label = draw(st.sampled_from(LABELS))
    if style == "match":
        return ["match:", f"  {label}: {draw(st.sampled_from(SPELLINGS[draw(st.sampled_from(VALUES))]))}"]
    if style == "match_re":
        return ["match_re:", f"  {label}: '{draw(st.sampled_from(PATTERNS))}'"]
    if style == "matchers":
        return ["matchers:", *(f"  - '{draw(matcher_text())}'" for _ in range(draw(st.integers(1, 2))))]
    return []


@st.composite
def matcher_text(draw) -> str:
    label, op = draw(st.sampled_from(LABELS)), draw(st.sampled_from(["=", "!=", "=~", "!~"]))
    if "~" in op:
        return f'{label}{op}"{draw(st.sampled_from(PATTERNS))}"'
    value = draw(st.sampled_from([value for value in VALUES if "," not in value]))
    return f"{label}{op}{value}" if value.isalnum() and draw(st.booleans()) else f'{label}{op}"{value}"'


@st.composite
def route(draw, depth: int) -> list[str]:
    lines = [f"receiver: r{draw(st.integers(0, 4))}"] if draw(st.booleans()) else []
    lines += route_matchers(draw)
    if draw(st.integers(0, 2)) == 0:
        lines.append(f"continue: {draw(st.sampled_from(CONTINUES))}")
    if draw(st.integers(0, 4)) == 0:
        lines.append(f"group_by: {draw(st.sampled_from(['[]', '[team]', '[...]', '[alertname, sev]']))}")
    if draw(st.integers(0, 4)) == 0:
        lines.append(f"repeat_interval: {draw(st.sampled_from(['1h', '2h30m', '1d']))}")
    if depth < 3 and draw(st.integers(0, 2)) == 0:
        lines.append("routes:")
        for child in draw(st.lists(route(depth + 1), min_size=1, max_size=3)):
            lines += ["  - " + child[0], *("    " + line for line in child[1:])]
    return lines or ["receiver: r1"]


@st.composite
def base_config(draw) -> tuple[str, dict[str, list[list[str]]]]:
    """A base's text, and each base receiver's e-mail configs (their addresses)."""
    lines = ["global:", "  smtp_smarthost: 'mail.example.com:25'", "  smtp_from: 'base@example.com'", "route:",
             "  receiver: r0", f"  group_by: {draw(st.sampled_from(['[alertname]', '[team, sev]', '[...]']))}",
             f"  group_wait: {draw(st.sampled_from(['10s', '30s']))}", "  routes:"]
    for child in draw(st.lists(route(0), min_size=1, max_size=4)):
        lines += ["    - " + child[0], *("      " + line for line in child[1:])]
    lines.append("receivers:")
    mails: dict[str, list[list[str]]] = {}
    for index in range(5):
        lines.append(f"  - name: r{index}")
        kind = draw(st.sampled_from(["email", "email", "webhook", "none"]))
        if kind == "email":
            configs = draw(st.lists(st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=2, unique=True),
                                    min_size=1, max_size=2))
            mails[f"r{index}"] = configs
            lines.append("    email_configs:")
            lines += [f"      - to: '{', '.join(config)}'" for config in configs]
        elif kind == "webhook":
            lines += ["    webhook_configs:", f"      - url: 'http://127.0.0.1:9/r{index}'"]
    return "\n".join(lines) + "\n", mails


@st.composite
def spec_files(draw) -> dict[str, bytes]:
    files = {"server.yaml": SERVER.encode()}
    for name in draw(st.lists(st.sampled_from(["la", "lb", "lc"]), min_size=1, max_size=3, unique=True)):
        recipients = draw(st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=3, unique=True))
        matchers = draw(st.lists(matcher_text(), max_size=2))
        files[f"{name}.yaml"] = (f"apiVersion: notify-reconciler/v1\nkind: RecipientList\nmetadata: {{name: {name}}}\n"
                                 f"spec:\n  recipients: {json.dumps(recipients)}\n  matchers: {json.dumps(matchers)}\n"
                                 ).encode()
    return files


LABEL_SET = st.dictionaries(st.sampled_from(LABELS), st.sampled_from(VALUES), max_size=4)


def secret_manifest(config: str, section: str) -> str:
    value = base64.b64encode(config.encode()).decode() if section == "data" else config
    return json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "alertmanager-main"},
                       "type": "Opaque", section: {"alertmanager.yaml": value}})


def expected_duplicates(reached: list[str], mails: dict[str, list[list[str]]]) -> dict[str, list[str]]:
    """From amtool's receivers: each address mailed more than once, with the receiver of each message."""
    messages: dict[str, list[str]] = {}
    for receiver in reached:
        for config in mails.get(receiver, []):
            for address in dict.fromkeys(address.casefold() for address in config):
                messages.setdefault(address, []).append(receiver)
    return {address: names for address, names in messages.items() if len(names) > 1}


# No shrinking: each step asks amtool again (a failure took five minutes to shrink); the
# example that failed is printed whole, with the render.
@pytest.mark.slow
@settings(max_examples=int(os.environ.get("AM_EXAMPLES", "40")), deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(base_config(), spec_files(), st.lists(LABEL_SET, min_size=8, max_size=24), st.sampled_from(["data", "stringData"]))
def test_who_gets_names_what_amtool_names_on_generated_configs(amtool, base, files, sets, section):
    base_text, base_mails = base
    specs = parse_specs(files)
    rendered = render_alertmanager_config(specs, base_text, base_name="base.yml")
    inner = unwrap(secret_manifest(base_text, section), "live.yaml")
    assert inner is not None and inner.config == base_text
    assert render_alertmanager_config(specs, inner.config, base_name="base.yml") == rendered

    audience = Audience(rendered, specs.lists)
    mails = dict(base_mails)
    for item in specs.lists:
        mails[PREFIX + item.name] = [[recipient.email for recipient in item.recipients]]
    for labels, reached in zip(sets, receivers_reached(amtool, rendered, sets, LABELS, RECEIVERS)):
        answer = audience.answer(labels, NOW)
        assert answer.receivers == reached, f"labels {labels}\n{rendered}"
        found = {duplicate.address.casefold(): list(duplicate.receivers) for duplicate in answer.duplicates}
        assert found == expected_duplicates(reached, mails), f"labels {labels}\n{rendered}"

    # The command itself, with the Secret as --base: the same receivers.
    with tempfile.TemporaryDirectory(prefix="who-gets-") as work:  # one an example: tmp_path is the test's
        folder, secret = Path(work, "specs"), Path(work, "live.yaml")
        folder.mkdir()
        for name, data in files.items():
            (folder / name).write_bytes(data)
        secret.write_text(secret_manifest(base_text, section))
        labels = sets[0] or {"probe": "x"}
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            main(["who-gets", str(folder), "--base", str(secret), *(f"{k}={v}" for k, v in labels.items()),
                  "--output", "json"])
    assert json.loads(out.getvalue())["receivers"] == audience.answer(labels, NOW).receivers


# -- real configs ------------------------------------------------------------------------------

def test_the_corpus_holds_real_configs_with_their_source():
    assert len(CORPUS) >= 5
    for path in CORPUS:
        head = path.read_text(encoding="utf-8").splitlines()[:3]
        assert head[0].startswith("# SOURCE: https://github.com/") and head[1].startswith("# LICENCE: "), path


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.stem)
def test_routes_and_who_gets_agree_with_amtool_on_real_configs(amtool, tmp_path, path):
    config = corpus_config(path)
    plain = tmp_path / "alertmanager.yml"
    plain.write_text(config)
    check = subprocess.run([amtool, "check-config", str(plain)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    rendered = tmp_path / "rendered.yml"
    assert main(["render", "examples/config-repo", "--base", str(path), "-o", str(rendered)]) == 0
    specs = parse_specs({p.name: p.read_bytes() for p in (ROOT / "examples" / "config-repo").glob("*.yaml")})
    audience, tree = Audience(rendered.read_text(), specs.lists), routing_tree(config)
    sets = corpus_label_sets(config)

    def both(labels: dict[str, str]) -> tuple[dict, list[str], list[str]]:
        return labels, amtool_receivers(amtool, plain, labels), amtool_receivers(amtool, rendered, labels)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for labels, alone, after in pool.map(both, sets):
            with_probe = {"probe": "x", **labels}
            assert [route.receiver for route in tree.match(with_probe)] == alone, labels
            assert audience.answer(with_probe, NOW).receivers == after, labels
