"""`notify-reconciler import`, judged by meaning: for every label set built from the matchers
of the original config, the same e-mail recipients get the alert, with the same repeat interval
and grouping, before the import and after `render specs --base base.yml`. Receivers are
compared by name through the import's mapping (original receiver -> notify-reconciler/<list>);
the route YAML itself is never compared, since the render may lay its routes out as it likes.

The judge is the real `amtool config routes test` (which receivers get an alert); the timing
comes from a small walk of the routing tree that must name the same receivers as amtool for
every label set it is asked about. A sample also goes through the real Alertmanager to an
aiosmtpd sink: the same addresses get mail.
"""

from __future__ import annotations

import base64
import itertools
import json
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from reconciler.am.matchers import Matcher, parse_matchers

from tests.support.alertmanager import Alertmanager
from tests.support.audit import SECRET
from tests.support.routing import nested_routes
from tests.support.services import require_binary
from tests.support.smtp import start_smtp_server


pytestmark = pytest.mark.alertmanager

ROOT = Path(__file__).resolve().parents[2]
KUBESPHERE = (ROOT / "tests" / "data" / "import" / "kubesphere-alertmanager.yaml").read_text()


def kubesphere(smarthost: str = "mail.example.com:25", group_wait: str = "30s") -> str:
    """The KubeSphere-style config, with the audit's password in plaintext as KubeSphere keeps it."""
    return (KUBESPHERE.replace("SECRET_PLACEHOLDER", SECRET).replace("mail.example.com:25", smarthost)
            .replace("  group_wait: 30s\n  receiver: Default", f"  group_wait: {group_wait}\n  receiver: Default"))


def secret_manifest(config: str, section: str = "data") -> str:
    value = base64.b64encode(config.encode()).decode() if section == "data" else config
    manifest = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": "alertmanager-main", "namespace": "kubesphere-monitoring-system",
                             "labels": {"app.kubernetes.io/name": "alertmanager"}, "resourceVersion": "4711",
                             "uid": "3f1c", "annotations": {
                                 "kubectl.kubernetes.io/last-applied-configuration": json.dumps({"data": "x"})}},
                section: {"alertmanager.yaml": value}}
    return json.dumps(manifest)  # JSON is YAML, and kubectl reads both


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reconciler", *args], input=stdin, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


# -- the meaning of a config -------------------------------------------------------------------

def label_value(value) -> str:
    """A `match` value read by ruamel's safe loader, as the string Alertmanager reads (for the
    plain values these configs use: text, true/false, numbers)."""
    return "true" if value is True else "false" if value is False else "" if value is None else str(value)


def route_matchers(route: dict) -> list[Matcher]:
    found = [Matcher(str(k), "=", label_value(v)) for k, v in (route.get("match") or {}).items()]
    found += [Matcher(str(k), "=~", label_value(v)) for k, v in (route.get("match_re") or {}).items()]
    for line in route.get("matchers") or ():
        found += parse_matchers(line)
    return found


def walk(route: dict, labels: dict[str, str], inherited: dict | None = None) -> list[tuple]:
    """(receiver, group_by, group_wait, group_interval, repeat_interval) for each route the
    alert ends at, as Alertmanager's dispatch.Route.Match walks the tree."""
    options = dict(inherited or {"receiver": None, "group_by": (), "group_wait": "30s", "group_interval": "5m",
                                 "repeat_interval": "4h"})
    for key in ("receiver", "group_wait", "group_interval", "repeat_interval"):
        if route.get(key) is not None:
            options[key] = str(route[key])
    if route.get("group_by"):  # an empty list inherits, as Alertmanager 0.25 does
        options["group_by"] = tuple(sorted(route["group_by"]))
    found: list[tuple] = []
    for child in route.get("routes") or ():
        if all(m.matches(labels.get(m.name, "")) for m in route_matchers(child)):
            found += walk(child, labels, options)
            if not child.get("continue"):
                break
    return found or [(options["receiver"], options["group_by"], options["group_wait"], options["group_interval"],
                      options["repeat_interval"])]


def amtool_receivers(amtool: str, path: Path, labels: dict[str, str]) -> list[str]:
    result = subprocess.run([amtool, "config", "routes", "test", f"--config.file={path}",
                             *(f"{k}={v}" for k, v in labels.items())], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split(",")


def label_sets(config: dict, extra: dict[str, list[str]]) -> list[dict[str, str]]:
    """Every combination of: each value a matcher names, the `extra` values (for regexes), a
    value no matcher names, and the label left out."""
    values: dict[str, set] = {}

    def collect(route: dict) -> None:
        for m in route_matchers(route):
            values.setdefault(m.name, set()).update({m.value} if m.op in ("=", "!=") else set())
        for child in route.get("routes") or ():
            collect(child)
    collect(config["route"])
    for name, more in extra.items():
        values.setdefault(name, set()).update(more)
    names = sorted(values)
    choices = [sorted(values[name]) + ["zz-other", None] for name in names]
    return [{n: v for n, v in zip(names, combo) if v is not None} for combo in itertools.product(*choices)]


def sending(config: dict) -> set[str]:
    """Receivers that send something: an alert a receiver without integrations gets reaches nobody."""
    return {r["name"] for r in config.get("receivers") or () if any(k.endswith("_configs") and v for k, v in r.items())}


def email_targets(config: dict) -> dict[str, tuple[frozenset, bool]]:
    """Receiver -> (addresses, send_resolved) for each e-mail receiver."""
    from email.utils import getaddresses
    out = {}
    for receiver in config.get("receivers") or ():
        for email in receiver.get("email_configs") or ():
            out[receiver["name"]] = (frozenset(a.lower() for _, a in getaddresses([email["to"]])),
                                     bool(email.get("send_resolved", False)))
    return out


def assert_same_meaning(amtool: str, original_text: str, rendered_text: str, mapping: dict[str, list[str]],
                        folder: Path, extra: dict[str, list[str]], amtool_every: int = 7) -> int:
    """Compare who gets what, with which timing: each list (one per route to its receiver,
    `mapping`: receiver -> lists) named back to its receiver's mail, a receiver that kept
    other configs in the base under its own name; returns how many label sets were compared."""
    yaml = YAML(typ="safe")
    original, rendered = yaml.load(original_text), yaml.load(rendered_text)
    receiver_of = {f"notify-reconciler/{new}": old for old, news in mapping.items() for new in news}
    # The same addresses and send_resolved for every receiver that became lists.
    before, after = email_targets(original), email_targets(rendered)
    for new, old in receiver_of.items():
        assert before[old] == after[new], f"{old} -> {new}: recipients or send_resolved differ"
    # Alertmanager reads the files: the original without its plaintext password (routing does not use it).
    original_path, rendered_path = folder / "original.yml", folder / "rendered.yml"
    original_path.write_text(original_text.replace(f"smtp_auth_password: {SECRET}",
                                                   "smtp_auth_password_file: /nonexistent/smtp-password"))
    rendered_path.write_text(rendered_text)
    live_before, live_after = sending(original), sending(rendered)
    sets = label_sets(original, extra)
    for number, labels in enumerate(sets):
        old_routes, new_routes = walk(original["route"], labels), walk(rendered["route"], labels)
        if number % amtool_every == 0:  # the walk must agree with amtool, the judge
            assert amtool_receivers(amtool, original_path, labels) == [r[0] for r in old_routes], labels
            assert amtool_receivers(amtool, rendered_path, labels) == [r[0] for r in new_routes], labels
        expected = sorted((name, *r[1:]) for r in old_routes if r[0] in live_before
                          for name in ([f"{r[0]} (mail)"] + ([r[0]] if r[0] in live_after else []) if r[0] in mapping
                                       else [r[0]]))
        got = sorted((f"{receiver_of[r[0]]} (mail)" if r[0] in receiver_of else r[0], *r[1:]) for r in new_routes
                     if r[0] in live_after)
        assert got == expected, f"alert {labels}: before the import {expected}, after {got}"
    return len(sets)


def import_and_render(original: str, tmp_path: Path, *extra_args: str) -> tuple[subprocess.CompletedProcess, str]:
    out = tmp_path / "imported"
    result = run_cli("import", "-", "-o", str(out), *extra_args, stdin=original)
    assert result.returncode == 0, result.stderr
    rendered = tmp_path / "rendered-from-specs.yml"
    render = run_cli("render", str(out / "specs"), "--base", str(out / "base.yml"), "-o", str(rendered))
    assert render.returncode == 0, render.stderr
    return result, rendered.read_text()


def lists_of(result: subprocess.CompletedProcess) -> dict[str, list[str]]:
    """Receiver -> the lists it became, as `import` prints them."""
    line = result.stdout.split("RecipientLists: ", 1)[1].split(")", 1)[0]
    found: dict[str, list[str]] = {}
    for pair in line.split(", "):
        receiver, name = pair.split(" -> ")
        found.setdefault(receiver, []).append(name)
    return found


# -- the KubeSphere config --------------------------------------------------------------------

KUBESPHERE_VALUES = {"service": ["postgres-main", "mysql-1", "redis-1"], "alertType": ["metric"],
                     "severity": ["critical", "warning", "info"]}


@pytest.mark.slow
def test_kubesphere_config_round_trips_with_the_same_meaning(amtool, tmp_path):
    result, rendered = import_and_render(kubesphere(), tmp_path)
    assert lists_of(result) == {"ops-mail": ["ops-mail"], "db-mail": ["db-mail"]}
    compared = assert_same_meaning(amtool, kubesphere(), rendered, lists_of(result), tmp_path, KUBESPHERE_VALUES)
    assert compared > 300
    out = tmp_path / "imported"
    base = (out / "base.yml").read_text()
    assert "# Every alert also goes to KubeSphere's notification manager." in base  # comments kept
    assert "notification-manager-svc" in base and "inhibit_rules" in base
    ops = (out / "specs" / "ops-mail.yaml").read_text()
    assert ops.count("@example.com") == 50
    db = (out / "specs" / "db-mail.yaml").read_text()
    assert "name: DBA Lead" in db and "name: Storage, on call" in db


def test_import_never_writes_or_prints_the_password(tmp_path):
    out = tmp_path / "imported"
    result = run_cli("import", "-", "-o", str(out), stdin=kubesphere())
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    for path in out.rglob("*"):
        assert not path.is_file() or SECRET not in path.read_text(), path
    told = [line for line in result.stderr.splitlines() if "/etc/alertmanager/smtp-password" in line]
    assert len(told) == 1 and "mode 0600" in told[0] and told[0].startswith("create ")
    assert "passwordFile: /etc/alertmanager/smtp-password" in (out / "specs" / "email-server.yaml").read_text()


def test_password_file_is_written_outside_the_folder_with_mode_0600(tmp_path):
    out, password = tmp_path / "imported", tmp_path / "secrets" / "smtp-password"
    password.parent.mkdir()
    result = run_cli("import", "-", "-o", str(out), "--password-file", str(password), stdin=kubesphere())
    assert result.returncode == 0, result.stderr
    assert password.read_text() == SECRET  # no line break: Alertmanager would send it as part of the password
    assert stat.S_IMODE(password.stat().st_mode) == 0o600
    assert f"passwordFile: {password}" in (out / "specs" / "email-server.yaml").read_text()
    assert SECRET not in result.stdout + result.stderr


def test_password_file_inside_the_folder_is_refused(tmp_path):
    out = tmp_path / "imported"
    result = run_cli("import", "-", "-o", str(out), "--password-file", str(out / "smtp-password"), stdin=kubesphere())
    assert result.returncode == 2
    assert "outside" in result.stderr and SECRET not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("section", ["data", "stringData"])
def test_a_kubernetes_secret_imports_like_the_config_it_holds(amtool, tmp_path, section):
    result, rendered = import_and_render(secret_manifest(kubesphere(), section), tmp_path)
    assert SECRET not in result.stdout + result.stderr
    assert "/etc/alertmanager/secrets/alertmanager-smtp/password" in result.stderr  # where the pod reads it
    assert_same_meaning(amtool, kubesphere(), rendered, lists_of(result), tmp_path, KUBESPHERE_VALUES,
                        amtool_every=40)


def test_render_into_the_live_secret_keeps_its_shape_and_other_receivers(amtool, tmp_path):
    out = tmp_path / "imported"
    assert run_cli("import", "-", "-o", str(out), stdin=kubesphere()).returncode == 0
    live = tmp_path / "live-secret.yaml"
    # The live Secret as kubectl prints it, without the password (it is in the audit's way otherwise).
    live.write_text(secret_manifest(kubesphere().replace(f"smtp_auth_password: {SECRET}",
                                                         "smtp_auth_password: not-this-one")))
    result = run_cli("render", str(out / "specs"), "--format", "secret", "--base", str(live))
    assert result.returncode == 0, result.stderr
    assert "replaces Alertmanager's whole config" not in result.stderr  # a base was given
    # The live Secret still holds the receivers that became lists: the render says they would
    # mail the same people twice (the README's advice: render into the imported base first).
    assert f"warning: {live}[alertmanager.yaml]:" in result.stderr and "'db-mail' mails dba-lead@example.com" \
        in result.stderr and "is mailed to those addresses twice" in result.stderr
    secret = YAML(typ="safe").load(result.stdout)
    assert secret["metadata"] == {"name": "alertmanager-main", "namespace": "kubesphere-monitoring-system",
                                  "labels": {"app.kubernetes.io/name": "alertmanager"}}
    assert set(secret) == {"apiVersion", "kind", "type", "metadata", "data"}
    config = base64.b64decode(secret["data"]["alertmanager.yaml"]).decode()
    assert "notification-manager-svc" in config and "not-this-one" not in config
    rendered = tmp_path / "from-secret.yml"
    rendered.write_text(config)
    check = subprocess.run([amtool, "check-config", str(rendered)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout
    renamed = run_cli("render", str(out / "specs"), "--format", "secret", "--base", str(live),
                      "--secret-name", "am-main", "--namespace", "monitoring")
    assert YAML(typ="safe").load(renamed.stdout)["metadata"]["name"] == "am-main"
    assert YAML(typ="safe").load(renamed.stdout)["metadata"]["namespace"] == "monitoring"


def test_a_live_secret_whose_kind_is_spelt_with_an_escape_is_still_a_secret(tmp_path):
    # render looks for the word Secret (or a backslash) before it imports the Secret reader.
    out = tmp_path / "imported"
    assert run_cli("import", "-", "-o", str(out), stdin=kubesphere()).returncode == 0
    manifest = secret_manifest(kubesphere().replace(f"smtp_auth_password: {SECRET}", "smtp_auth_password: x"))
    assert manifest.count('"kind": "Secret"') == 1 and manifest.count("Secret") == 1
    plain, escaped = tmp_path / "plain.yaml", tmp_path / "escaped.yaml"
    plain.write_text(manifest)
    escaped.write_text(manifest.replace('"kind": "Secret"', '"kind": "\\u0053ecret"'))
    assert "Secret" not in escaped.read_text()
    results = [run_cli("render", str(out / "specs"), "--format", "secret", "--base", str(base)) for base in (plain, escaped)]
    assert [result.returncode for result in results] == [0, 0], results[1].stderr
    assert results[1].stdout == results[0].stdout


def test_render_as_secret_without_base_warns_that_it_replaces_the_whole_config(tmp_path):
    out = tmp_path / "imported"
    assert run_cli("import", "-", "-o", str(out), stdin=kubesphere()).returncode == 0
    result = run_cli("render", str(out / "specs"), "--format", "secret")
    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "whole" in warnings[0]


# -- routes the specs cannot say stay in the base -----------------------------------------------

BASE_OF_TRICKY = """\
global:
  smtp_smarthost: '[::1]:25'
  smtp_from: am@example.com
  smtp_require_tls: false
route:
  receiver: null-sink
  group_by: [alertname]
  routes:
{routes}
receivers:
  - name: null-sink
  - name: chat
    webhook_configs: [{{url: 'http://127.0.0.1:9/chat'}}]
  - name: team-a
    email_configs: [{{to: a1@example.com, send_resolved: true}}]
  - name: team-b
    email_configs: [{{to: 'b1@example.com, b2@example.com'}}]
{more}
"""

TRICKY = {
    # team-a stops the walk; chat after it may match the same alerts and never got them: team-a
    # becomes a list that keeps its alerts from the base (keepFromBase).
    "stop before an overlapping route": ("""\
    - {receiver: team-a, matchers: [severity="critical"]}
    - {receiver: chat, matchers: [team="db"]}
    - {receiver: team-b, matchers: [severity="warning"], continue: true}
""", "", {"team-a", "team-b"}, set()),
    # Under a live route that continues: without team-a its alerts go to chat; with a list that
    # keeps them from the base, team-b (after the continuing route, maybe the same alerts) loses
    # them. So team-a's route stays, its receiver silent, and the list takes what it got.
    "under a live route that continues into an overlapping one": ("""\
    - receiver: chat
      matchers: [team="db"]
      continue: true
      routes: [{receiver: team-a, matchers: [severity="critical"]}]
    - {receiver: team-b, matchers: [team="db"], continue: true}
""", "", {"team-a", "team-b"}, set()),
    # A route with children: it stays, silent; the list takes what no child took from it.
    "a route with children": ("""\
    - receiver: team-a
      matchers: [team="db"]
      routes:
        - {receiver: chat, matchers: [severity="critical"]}
        - {receiver: null-sink, matchers: [env="prod"], continue: true}
        - {receiver: chat, matchers: [team="web"]}
    - {receiver: team-b, matchers: [severity="warning"]}
""", "", {"team-a", "team-b"}, set()),
    # A child with two matchers takes some of its parent's alerts: NOT(a and b) is no matcher list.
    "a route whose child has two matchers": ("""\
    - receiver: team-a
      matchers: [team="db"]
      routes: [{receiver: chat, matchers: [severity="critical", env="prod"]}]
    - {receiver: team-b, matchers: [severity="warning"], continue: true}
""", "", {"team-b"}, {"team-a"}),
    # A child to its parent's receiver, on a label the grouping has, with the same timing: it
    # folds into the parent, which keeps what no other child takes.
    "a child to the same receiver": ("""\
    - receiver: team-a
      matchers: [team="db"]
      group_by: [alertname, severity]
      routes:
        - {receiver: team-a, matchers: [severity="critical"]}
        - {receiver: chat, matchers: [severity="info"]}
    - {receiver: team-b, matchers: [severity="warning"], continue: true}
""", "", {"team-a", "team-b"}, set()),
    # The same on a label the grouping lacks: one group of the parent would be two, so it does
    # not fold; a list per route instead (the parent's stays, silent, for its children).
    "a child to the same receiver on a label the grouping lacks": ("""\
    - receiver: team-a
      matchers: [team="db"]
      routes: [{receiver: team-a, matchers: [severity="critical"]}]
    - {receiver: team-b, matchers: [severity="warning"], continue: true}
""", "", {"team-a", "team-b"}, set()),
    # An earlier route with two matchers takes some alerts first: NOT(a and b) is no matcher list.
    "earlier stop with two matchers": ("""\
    - {receiver: chat, matchers: [team="db", env="prod"]}
    - {receiver: team-a, matchers: [severity="critical"], continue: true}
    - {receiver: team-b, matchers: [team="web"], continue: true}
""", "", {"team-b"}, {"team-a"}),
    # Nested routes to one receiver with different timings: a list per route, each with its
    # route's timing.
    "several routes to one receiver": ("""\
    - receiver: team-a
      matchers: [team="db"]
      repeat_interval: 1h
      routes:
        - {receiver: team-a, matchers: [severity="critical"], repeat_interval: 5m}
    - {receiver: team-b, matchers: [team="web"], continue: true}
""", "", {"team-a", "team-b"}, set()),
    # Two routes to one receiver that overlap, both with continue: an alert both match is mailed
    # twice, once per route, before and after (two lists).
    "two overlapping routes to one receiver, with continue": ("""\
    - {receiver: team-a, matchers: [team="db"], continue: true}
    - {receiver: team-a, matchers: [severity="critical"], group_by: [instance], continue: true}
    - {receiver: team-b, matchers: [team="web"]}
""", "", {"team-a", "team-b"}, set()),
    # One route of two cannot be said (an earlier stop with two matchers): the receiver stays whole.
    "two routes to one receiver, one unsayable": ("""\
    - {receiver: team-b, matchers: [severity="warning"], continue: true}
    - {receiver: team-a, matchers: [team="db"], continue: true}
    - {receiver: chat, matchers: [team="web", env="prod"]}
    - {receiver: team-a, matchers: [severity="critical"]}
""", "", {"team-b"}, {"team-a"}),
    # A receiver that also posts to a webhook, at two routes: its mail becomes a list per route,
    # and it stays in the base under its name with its webhook, its routes untouched.
    "a receiver that mails and posts, at two routes": ("""\
    - receiver: both
      matchers: [team="db"]
      routes: [{receiver: chat, matchers: [severity="critical"]}]
    - {receiver: both, matchers: [team="web"], repeat_interval: 1h, continue: true}
    - {receiver: team-b, matchers: [severity="warning"]}
""", """\
  - name: both
    email_configs: [{to: both@example.com, send_resolved: true}]
    webhook_configs: [{url: 'http://127.0.0.1:9/both'}]
""", {"both", "team-b"}, set()),
    # Time windows are not carried over.
    "mute time interval": ("""\
    - {receiver: team-a, matchers: [team="db"], mute_time_intervals: [nights], continue: true}
    - {receiver: team-b, matchers: [team="web"], continue: true}
""", "time_intervals:\n  - name: nights\n    time_intervals: [{times: [{start_time: '00:00', end_time: '06:00'}]}]\n",
        {"team-b"}, {"team-a"}),
    # A custom body or headers cannot be said by a RecipientList.
    "custom html": ("""\
    - {receiver: team-a, matchers: [team="db"], continue: true}
    - {receiver: team-c, matchers: [team="web"], continue: true}
""", "  - name: team-c\n    email_configs: [{to: c@example.com, html: '{{ template \"x\" . }}'}]\n",
        {"team-a"}, {"team-c"}),
    # Nested under a route whose own receiver sends: without the child, that receiver would get
    # its alerts; they reached nobody else, so the list keeps them from the base.
    "child of a route with a live receiver": ("""\
    - receiver: chat
      matchers: [team="db"]
      routes:
        - {receiver: team-a, matchers: [severity="critical"], group_by: [instance]}
    - {receiver: team-b, matchers: [team="web"], continue: true}
""", "", {"team-a", "team-b"}, set()),
    # The same, under a route to a receiver that sends nothing, with its own timing: fine.
    "child of a silent route": ("""\
    - receiver: null-sink
      matchers: [team="db"]
      group_wait: 10s
      routes:
        - {receiver: team-a, matchers: [severity="critical"], group_by: [instance]}
    - {receiver: team-b, matchers: [team="web"], continue: true}
""", "", {"team-a", "team-b"}, set()),
}


@pytest.mark.parametrize("case", list(TRICKY))
def test_routes_import_only_where_the_meaning_is_kept(amtool, tmp_path, case):
    routes, more, imported, kept = TRICKY[case]
    original = BASE_OF_TRICKY.format(routes=routes, more=more)
    result, rendered = import_and_render(original, tmp_path)
    assert set(lists_of(result)) == imported
    for receiver in kept:
        assert any(f"{receiver!r} is left in base.yml" in line for line in result.stderr.splitlines()), result.stderr
        assert f"name: {receiver}" in (tmp_path / "imported" / "base.yml").read_text()
    assert_same_meaning(amtool, original, rendered, lists_of(result), tmp_path,
                        {"severity": ["critical", "warning", "info"], "team": ["db", "web"], "env": ["prod"]},
                        amtool_every=5)


# -- a root receiver that sends: routes without continue keep their alerts from it ----------------

BASE_OF_LIVE_ROOT = """\
global:
  smtp_smarthost: '[::1]:25'
  smtp_from: am@example.com
  smtp_require_tls: false
route:
  receiver: chat
  group_by: [alertname]
  routes:
{routes}
receivers:
  - name: chat
    webhook_configs: [{{url: 'http://127.0.0.1:9/chat'}}]
  - name: pager
    webhook_configs: [{{url: 'http://127.0.0.1:9/pager'}}]
  - name: team-a
    email_configs: [{{to: a1@example.com, send_resolved: true}}]
  - name: team-b
    email_configs: [{{to: 'b1@example.com, b2@example.com'}}]
"""

LIVE_ROOT = {
    # The shape of the issue: without continue, team="db" alerts never reach chat.
    "a stop beside the root receiver": ("""\
    - {receiver: team-a, matchers: [team="db"]}
""", {"team-a"}, set()),
    # A route that matches keeps its alerts from the root's receiver even with continue: true.
    "a continuing route beside the root receiver": ("""\
    - {receiver: team-a, matchers: [team="db"], continue: true}
""", {"team-a"}, set()),
    # team-a continues into pager, which may take the same alerts: neither a list beside the base
    # nor one that keeps its alerts from the base can say that, so its route stays with a silent
    # receiver and the list takes its alerts. team-b is after a stop it negates.
    "a continuing route before an overlapping one": ("""\
    - {receiver: team-a, matchers: [team="db"], continue: true}
    - {receiver: pager, matchers: [severity="critical"]}
    - {receiver: team-b, matchers: [team="web"]}
""", {"team-a", "team-b"}, set()),
}


@pytest.mark.parametrize("case", list(LIVE_ROOT))
def test_routes_beside_a_live_root_receiver_keep_their_meaning(amtool, tmp_path, case):
    routes, imported, kept = LIVE_ROOT[case]
    original = BASE_OF_LIVE_ROOT.format(routes=routes)
    result, rendered = import_and_render(original, tmp_path)
    assert set(lists_of(result)) == imported, result.stderr
    for receiver in kept:
        assert any(f"{receiver!r} is left in base.yml" in line for line in result.stderr.splitlines()), result.stderr
    assert_same_meaning(amtool, original, rendered, lists_of(result), tmp_path,
                        {"severity": ["critical", "warning"], "team": ["db", "web"]}, amtool_every=3)


# -- the root route's e-mail receiver: a catch-all list ------------------------------------------

ROOT_MAIL = """\
global:
  smtp_smarthost: smtp.example.com:587
  smtp_from: am@example.com
  smtp_auth_username: am@example.com
  smtp_auth_identity: am@example.com
  smtp_auth_password_file: /run/smtp-password
route:
  receiver: team-mail
  group_by: [alertname, job]
  repeat_interval: 4h
{routes}
receivers:
  - name: team-mail
    email_configs:
      - to: 'team@example.com, lead@example.com'
        send_resolved: true
        headers: {{Subject: '[{{{{ .Status }}}}] {{{{ .CommonLabels.alertname }}}}'}}
  - name: chat
    webhook_configs: [{{url: 'http://127.0.0.1:9/chat'}}]
  - name: pager
    webhook_configs: [{{url: 'http://127.0.0.1:9/pager'}}]
"""

ROOT_CASES = {
    "every alert to the team's mail": "",
    "with children, with and without continue": """\
  routes:
    - {receiver: chat, matchers: [severity="info"]}
    - {receiver: pager, matchers: [severity="critical"], continue: true}
""",
}


@pytest.mark.parametrize("case", list(ROOT_CASES))
def test_a_root_receiver_that_mails_and_posts_keeps_its_post_and_its_mail_becomes_a_list(amtool, tmp_path, case):
    # Rule 8: the root keeps its receiver (for the webhook), and the list in front takes what
    # the root's receiver got: every alert no child route matched.
    original = ROOT_MAIL.format(routes=ROOT_CASES[case]).replace(
        "  - name: team-mail\n", "  - name: team-mail\n    webhook_configs: [{url: 'http://127.0.0.1:9/team'}]\n", 1)
    result, rendered = import_and_render(original, tmp_path)
    assert lists_of(result) == {"team-mail": ["team-mail"]}, result.stderr
    spec = YAML(typ="safe").load((tmp_path / "imported" / "specs" / "team-mail.yaml").read_text())["spec"]
    assert "catchAll" not in spec
    assert spec.get("matchers", []) == (['severity!="info"', 'severity!="critical"'] if ROOT_CASES[case] else [])
    base = YAML(typ="safe").load((tmp_path / "imported" / "base.yml").read_text())
    assert base["route"]["receiver"] == "team-mail"
    assert {"name": "team-mail", "webhook_configs": [{"url": "http://127.0.0.1:9/team"}]} in base["receivers"]
    assert_same_meaning(amtool, original, rendered, lists_of(result), tmp_path,
                        {"severity": ["critical", "warning", "info"], "job": ["node"]}, amtool_every=2)


@pytest.mark.parametrize("case", list(ROOT_CASES))
def test_the_root_receiver_becomes_a_catch_all_list_with_the_same_meaning(amtool, tmp_path, case):
    original = ROOT_MAIL.format(routes=ROOT_CASES[case])
    result, rendered = import_and_render(original, tmp_path)
    assert lists_of(result) == {"team-mail": ["team-mail"]}, result.stderr
    spec = (tmp_path / "imported" / "specs" / "team-mail.yaml").read_text()
    assert "catchAll: true" in spec and "subject: '[{{ .Status }}] {{ .CommonLabels.alertname }}'" in spec
    assert "authIdentity: am@example.com" in (tmp_path / "imported" / "specs" / "email-server.yaml").read_text()
    assert_same_meaning(amtool, original, rendered, lists_of(result), tmp_path,
                        {"severity": ["critical", "warning", "info"], "job": ["node"]}, amtool_every=2)


def test_a_root_without_group_by_keeps_one_group_for_all_alerts(amtool, tmp_path):
    # Before, the lists were grouped by [alertname] and a note said so.
    original = ROOT_MAIL.format(routes=ROOT_CASES["with children, with and without continue"]).replace(
        "  group_by: [alertname, job]\n", "")
    result, rendered = import_and_render(original, tmp_path)
    assert lists_of(result) == {"team-mail": ["team-mail"]}, result.stderr
    assert_same_meaning(amtool, original, rendered, lists_of(result), tmp_path,
                        {"severity": ["critical", "warning", "info"], "job": ["node"]}, amtool_every=2)


# -- through the real Alertmanager ----------------------------------------------------------------

ALERTS = [
    {"alertname": "DiskFull", "severity": "critical", "namespace": "default", "alertType": "metric"},
    {"alertname": "PostgresDown", "severity": "info", "namespace": "kube-system", "service": "postgres-main"},
    {"alertname": "Watchdog", "severity": "critical", "namespace": "kube-system", "service": "mysql-1"},
    {"alertname": "CacheSlow", "severity": "info", "namespace": "default"},
]


def sent(binary: str, config: str, folder: Path, sink, alerts: list[dict]) -> list:
    """Every mail the real Alertmanager, running `config`, sends the sink for `alerts`: at
    least two come, then whatever else it would send within 1.5 s."""
    with sink.lock:
        sink.messages.clear()
    folder.mkdir()
    path = folder / "alertmanager.yml"
    path.write_text(config)
    alertmanager = Alertmanager(binary, path, folder / "data").start()
    try:
        alertmanager.post_alerts(alerts)
        sink.wait_for(2, timeout=20)
        time.sleep(1.5)  # anything else it would send by now
        with sink.lock:
            return list(sink.messages)
    finally:
        alertmanager.stop()


def deliveries(binary: str, config: str, folder: Path, sink) -> set[tuple[str, frozenset]]:
    """(alertname, envelope recipients) of every mail Alertmanager sends for ALERTS."""
    return {(_alertname(message), frozenset(message.recipients))
            for message in sent(binary, config, folder, sink, [{"labels": labels} for labels in ALERTS])}


def _alertname(received) -> str:
    body = received.content.decode(errors="replace")
    return next(alert["alertname"] for alert in ALERTS if alert["alertname"] in body)


def test_the_same_addresses_get_mail_through_the_real_alertmanager(tmp_path, monkeypatch):
    import aiosmtpd.smtp

    binary = require_binary("prometheus-alertmanager")
    # Alertmanager 0.25 writes a 50-address To: line past 998 octets, which a strict server
    # refuses after DATA; this sink takes it, so both configs are compared on who is mailed.
    monkeypatch.setattr(aiosmtpd.smtp.SMTP, "line_length_limit", 8192)
    sink = start_smtp_server()
    try:
        original = kubesphere(smarthost=f"127.0.0.1:{sink.port}", group_wait="0s")
        password = tmp_path / "secrets" / "smtp-password"
        password.parent.mkdir()
        out = tmp_path / "imported"
        result = run_cli("import", "-", "-o", str(out), "--password-file", str(password), stdin=original)
        assert result.returncode == 0, result.stderr
        rendered = tmp_path / "rendered.yml"
        assert run_cli("render", str(out / "specs"), "--base", str(out / "base.yml"),
                       "-o", str(rendered)).returncode == 0
        before = deliveries(binary, original.replace(f"smtp_auth_password: {SECRET}",
                                                     f"smtp_auth_password_file: {password}"), tmp_path / "before", sink)
        after = deliveries(binary, rendered.read_text(), tmp_path / "after", sink)
    finally:
        sink.controller.stop()
    assert before == after
    assert {name for name, _ in after} == {"DiskFull", "PostgresDown"}  # Watchdog and an info alert: nobody
    assert max(len(to) for _, to in after) == 50


CORPUS_DIR = Path(__file__).resolve().parents[1] / "data" / "corpus"
OPENIM_ALERTS = [
    {"labels": {"alertname": "XXX", "instance": "im-1", "severity": "critical", "job": "openim"},
     "annotations": {"summary": "msg_gateway down"}, "startsAt": "2026-01-02T03:04:05Z"},
    {"labels": {"alertname": "DiskFull", "instance": "im-2", "severity": "warning", "job": "node"},
     "annotations": {"summary": "disk 91% full"}, "startsAt": "2026-01-02T03:04:06Z"},
]


def mails(binary: str, config: str, folder: Path, sink) -> list[tuple]:
    """(recipients, subject, html body) of every mail Alertmanager sends for OPENIM_ALERTS."""
    import email
    from email import policy

    received = sent(binary, config, folder, sink, OPENIM_ALERTS)
    found = []
    for message in received:
        parsed = email.message_from_bytes(message.content, policy=policy.default)
        html = parsed.get_body(("html",))
        found.append((tuple(sorted(message.recipients)), str(parsed["Subject"]),
                      html.get_content() if html is not None else None))
    return sorted(found, key=repr)


def test_a_body_that_calls_the_configs_own_template_is_mailed_the_same(tmp_path):
    """OpenIM's receiver mails `html: '{{ template "email.to.html" . }}'`, defined in a file its
    templates: reads: given that file (--templates), each list names a copy of it, and the real
    Alertmanager sends the same subject and HTML body to the same address, before and after."""
    binary = require_binary("prometheus-alertmanager")
    sink = start_smtp_server()
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "email.tmpl").write_bytes((CORPUS_DIR / "templates" / "openim-server-alertmanager" /
                                         "email.tmpl").read_bytes())
    try:
        # The corpus config, mailing the sink without a login, its template read from here.
        original = (CORPUS_DIR / "openim-server-alertmanager.yaml").read_text()
        original = (original.replace("smtp.163.com:465", f"127.0.0.1:{sink.port}")
                    .replace("  smtp_auth_username: alert@openim.io\n", "")
                    .replace("  smtp_auth_password: YOURAUTHPASSWORD\n", "")
                    .replace("/etc/alertmanager/email.tmpl", str(folder / "email.tmpl")))
        refused = run_cli("import", "-", "-o", str(tmp_path / "without"), stdin=original)
        assert refused.returncode == 1 and "calls the template 'email.to.html'" in refused.stderr, refused.stderr
        out = tmp_path / "imported"
        result = run_cli("import", "-", "-o", str(out), "--templates", str(folder), stdin=original)
        assert result.returncode == 0, result.stderr
        assert lists_of(result) == {"email": ["email", "email-xxx"]}, result.stdout
        assert (out / "specs" / "templates" / "email.tmpl").read_bytes() == (folder / "email.tmpl").read_bytes()
        rendered = tmp_path / "rendered.yml"
        render = run_cli("render", str(out / "specs"), "--base", str(out / "base.yml"), "-o", str(rendered))
        assert render.returncode == 0, render.stderr
        before = mails(binary, original, tmp_path / "before", sink)
        after = mails(binary, rendered.read_text(), tmp_path / "after", sink)
    finally:
        sink.controller.stop()
    assert before == after
    assert len(after) == 2 and all(subject == "[OPENIM-SERVER]Alarm" for _, subject, _ in after)
    assert all("<h3>OpenIM Alert</h3>" in html and "2026-01-02 03:04:0" in html for _, _, html in after), after


# -- the command's exit statuses -----------------------------------------------------------------

def test_import_help_exits_0():
    result = run_cli("import", "--help")
    assert result.returncode == 0 and "-o DIR" in result.stdout and "--password-file" in result.stdout


@pytest.mark.parametrize("text, expected", [
    ("global:\n  smtp_from: a@example.com\n  smtp_smarthost: smtp.example.com\nroute: {receiver: x}\n",
     "<stdin>:3:3: global.smtp_smarthost: 'smtp.example.com' has no port"),
    ("route:\n  receiver: x\n  routes:\n    - {receiver: x, matchers: ['a=\"b']}\n",
     "<stdin>:4:32: route.routes[0].matchers[0]: "),
    (secret_manifest("global: {smtp_from: a@example.com}\nroute: {receiver: x}\n"),
     "<stdin>[alertmanager.yaml]:1:9: global.smtp_smarthost: is missing"),
])
def test_input_that_cannot_be_imported_exits_1_with_a_located_error(tmp_path, text, expected):
    result = run_cli("import", "-", "-o", str(tmp_path / "out"), stdin=text)
    assert result.returncode == 1
    assert result.stderr.startswith(expected), result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_config_nested_thousands_deep_is_a_located_error_not_a_crash(tmp_path, wrapped):
    # The import read its input with no depth limit: RecursionError, "internal error (a bug...)".
    text = secret_manifest(nested_routes(3000), "stringData") if wrapped else nested_routes(3000)
    result = run_cli("import", "-", "-o", str(tmp_path / "out"), stdin=text)
    assert result.returncode == 1, result.stderr
    name = "<stdin>[alertmanager.yaml]" if wrapped else "<stdin>"
    assert result.stderr.startswith(f"{name}:102:201: "), result.stderr
    assert "nesting is deeper than the 100 levels a config to import may have" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_import_with_a_templates_folder_that_cannot_be_read_exits_2(tmp_path):
    (tmp_path / "file").write_text("x")
    for given, said in ((tmp_path / "missing", "no such folder"), (tmp_path / "file", "not a folder")):
        result = run_cli("import", "-", "-o", str(tmp_path / "out"), "--templates", str(given), stdin=kubesphere())
        assert result.returncode == 2 and f"--templates {given}: {said}" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_import_that_cannot_run_exits_2(tmp_path):
    missing = run_cli("import", str(tmp_path / "nope.yml"), "-o", str(tmp_path / "out"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.yaml").write_text("x: 1\n")
    busy = run_cli("import", "-", "-o", str(tmp_path / "full"), stdin=kubesphere())
    assert busy.returncode == 2 and "not an empty folder" in busy.stderr
    assert SECRET not in busy.stderr


# -- random route trees ---------------------------------------------------------------------------

def random_config(seed: int) -> dict:
    """A routing tree of up to three levels over three labels: matchers of each operator,
    continue or not, timing overrides, inherited receivers, four e-mail receivers, a webhook
    and a receiver that sends nothing, as the root receiver or as a route's."""
    import random

    rng = random.Random(seed)
    receivers = ["e1", "e2", "e3", "e4", "chat", "silent"]

    def matchers() -> list[str]:
        found = []
        for _ in range(rng.choice([0, 1, 1, 1, 2])):
            name = rng.choice("abc")
            op = rng.choice(["=", "=", "!=", "=~"])
            value = rng.choice(["1|2", "x", ".*", "y|p"]) if op == "=~" else rng.choice(["1", "2", "x", "y", "p"])
            found.append(f'{name}{op}"{value}"')
        return found

    def route(depth: int) -> dict:
        node: dict = {"receiver": rng.choice(receivers)}
        if (found := matchers()):
            node["matchers"] = found
        if rng.random() < 0.5:
            node["continue"] = True
        if rng.random() < 0.3:
            node["repeat_interval"] = rng.choice(["1h", "2h"])
        if rng.random() < 0.2:
            node["group_by"] = [rng.choice("ab")]
        if depth < 3 and rng.random() < 0.3:
            node["routes"] = [route(depth + 1) for _ in range(rng.randint(1, 3))]
            if rng.random() < 0.5:
                del node["receiver"]
        return node

    return {"global": {"smtp_smarthost": "127.0.0.1:25", "smtp_from": "am@example.com", "smtp_require_tls": False},
            "route": {"receiver": rng.choice(["silent", "chat"]), "group_by": ["alertname"],
                      "routes": [route(1) for _ in range(rng.randint(1, 5))]},
            "receivers": [{"name": name, "email_configs": [{"to": f"{name}@example.com",
                                                            "send_resolved": rng.random() < 0.5}]}
                          for name in receivers[:4]]
            + [{"name": "chat", "webhook_configs": [{"url": "http://127.0.0.1:9/chat"}]}, {"name": "silent"}]}


@pytest.mark.slow
def test_random_route_trees_keep_their_meaning():
    """The walk (which amtool vouches for above) over 200 random trees: every list gets exactly
    what its receiver got, with the same timing, and every other receiver too, except the
    render's last route to a live root receiver, which the import then names on stderr."""
    from reconciler.errors import SpecErrors
    from reconciler.core.importer import import_config
    from reconciler.specs.pipeline import parse_specs
    from reconciler.core.render import render_alertmanager_config

    imported_lists = 0
    for seed in range(200):
        original = random_config(seed)
        try:
            imported = import_config(json.dumps(original), f"seed-{seed}.json")
        except SpecErrors:
            continue  # nothing could become a list: the error says why (tested above)
        specs = parse_specs({path.removeprefix("specs/"): text.encode() for path, text in imported.files.items()
                             if path.startswith("specs/")})
        rendered = YAML(typ="safe").load(render_alertmanager_config(specs, imported.files["base.yml"]))
        receiver_of = {f"notify-reconciler/{new}": old for old, news in imported.lists.items() for new in news}
        imported_lists += len(imported.lists)
        root = original["route"]["receiver"]
        noted = any("route.receiver: the render puts the base's routes" in note for note in imported.notes)
        for labels in label_sets(original, {"a": ["1", "2", "3"], "b": ["x", "y"], "c": ["p"]}):
            expected = sorted(r for r in walk(original["route"], labels)
                              if r[0] in sending(original) and not (noted and r[0] == root))
            got = sorted((receiver_of.get(r[0], r[0]), *r[1:]) for r in walk(rendered["route"], labels)
                         if r[0] in sending(rendered) and not (noted and r[0] == root))
            assert got == expected, f"seed {seed}, alert {labels}: lists {imported.lists}"
    assert imported_lists > 50  # 82 with these seeds: enough moved to mean something
