"""who-gets: the answer comes from the rendered config's routing tree, read as Alertmanager
reads it. Differential: for generated routing trees (nested routes, continue, match,
match_re and matchers with every operator) and many label sets, `am.routes.Route.match`
names exactly the receivers `amtool config routes test` names, in the same order."""

from __future__ import annotations

import base64
import itertools
import json
import random
import subprocess
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.am.routes import routing_tree

from tests.support.gitrepo import GitRepo, document, recipient_list, server
from tests.support.services import require_binary


LABELS = ("alertname", "severity", "team")
VALUES = ("a", "b", "db", "")
PATTERNS = ("a|b", ".*", "d.*", "", "[ab]", "b+", "x?", "(a|db)")


def amtool_receivers(config_path, labels: dict[str, str]) -> list[str]:
    arguments = [f"{name}={value}" for name, value in labels.items()]
    result = subprocess.run([require_binary("amtool"), "config", "routes", "test", f"--config.file={config_path}",
                             *arguments], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split(",")


def random_matcher(rng: random.Random) -> str:
    op = rng.choice(("=", "!=", "=~", "!~"))
    value = rng.choice(PATTERNS) if "~" in op else rng.choice(VALUES)
    return f'{rng.choice(LABELS)}{op}"{value}"'


def random_route(rng: random.Random, depth: int) -> list[str]:
    """YAML lines of one route (without indentation)."""
    lines = [f"receiver: r{rng.randrange(5)}"] if rng.random() < 0.8 else []
    style = rng.random()
    if style < 0.2:
        lines.append(f"match: {{{rng.choice(LABELS)}: '{rng.choice(VALUES)}'}}")
    elif style < 0.35:
        lines.append(f"match_re: {{{rng.choice(LABELS)}: '{rng.choice(PATTERNS)}'}}")
    elif style < 0.85:
        lines.append("matchers: [" + ", ".join(f"'{random_matcher(rng)}'" for _ in range(rng.randint(1, 2))) + "]")
    if rng.random() < 0.4:
        lines.append("continue: true")
    if depth < 2 and rng.random() < 0.5:
        lines.append("routes:")
        for _ in range(rng.randint(1, 3)):
            child = random_route(rng, depth + 1)
            lines.append("  - " + child[0])
            lines += ["    " + line for line in child[1:]]
    return lines


def random_config(rng: random.Random) -> str:
    lines = ["route:", "  receiver: r0", "  routes:"]
    for _ in range(rng.randint(2, 4)):
        route = random_route(rng, 0) or ["receiver: r1"]
        lines.append("    - " + route[0])
        lines += ["      " + line for line in route[1:]]
    lines.append("receivers:")
    lines += [f"  - name: r{index}" for index in range(5)]
    return "\n".join(lines) + "\n"


def label_sets() -> list[dict[str, str]]:
    sets = []
    for values in itertools.product(("a", "db", None), repeat=len(LABELS)):
        sets.append({name: value for name, value in zip(LABELS, values) if value is not None})
    return [labels for labels in sets if labels]  # amtool needs at least one label


@pytest.mark.alertmanager
@pytest.mark.parametrize("seed", range(6))
def test_routing_agrees_with_amtool_on_generated_trees(seed, tmp_path):
    rng = random.Random(seed)
    text = random_config(rng)
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    check = subprocess.run([require_binary("amtool"), "check-config", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, f"{check.stdout}\n{text}"
    tree = routing_tree(text)
    for labels in label_sets():
        ours = [route.receiver for route in tree.match(labels)]
        assert ours == amtool_receivers(path, labels), f"labels {labels}\n{text}"


@pytest.mark.alertmanager
def test_routing_agrees_with_amtool_on_the_example_render(tmp_path, capsys):
    path = tmp_path / "alertmanager.yml"
    assert main(["render", "examples/config-repo", "--base", "examples/alertmanager-base.yml", "-o", str(path)]) == 0
    tree = routing_tree(path.read_text())
    for labels in [{"alertname": "Watchdog"}, {"severity": "critical", "team": "db"}, {"team": "storage"},
                   {"severity": "critical", "team": "storage", "alertname": "DiskFull"}, {"severity": "warning"}]:
        assert [route.receiver for route in tree.match(labels)] == amtool_receivers(path, labels)


def test_who_gets_names_the_recipients_their_timing_and_the_base_receivers(capsys):
    code = main(["who-gets", "examples/config-repo", "--base", "examples/alertmanager-base.yml",
                 "severity=critical", "team=db", "alertname=DiskFull"])
    out = capsys.readouterr().out
    assert code == 0
    assert "team-db: dba-lead@example.com, db-oncall@example.com\n  repeat every 4h, grouped by alertname, namespace, " \
           "first mail after 10s" in out
    assert "platform-oncall: oncall-primary@example.com" in out
    assert out.rstrip().endswith("also the base's own receiver: chat-ops")


def test_who_gets_says_loudly_when_nobody_is_mailed(capsys):
    code = main(["who-gets", "examples/config-repo", "--base", "examples/alertmanager-base.yml",
                 "alertname=Watchdog"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err == ("nobody is mailed for {alertname=Watchdog}: no RecipientList's matchers take it "
                            "(it goes to deadmans-switch only)\n")


def test_who_gets_json_for_scripts(capsys):
    assert main(["who-gets", "examples/config-repo", "team=storage", "severity=critical", "--output", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["mailed"] is True and answer["labels"] == {"team": "storage", "severity": "critical"}
    by_name = {item["name"]: item for item in answer["lists"]}
    assert by_name["team-db"]["recipients"] == ["dba-lead@example.com", "db-oncall@example.com"]
    assert by_name["team-db"]["repeatInterval"] == "4h" and by_name["team-db"]["sendResolved"] is True


@pytest.mark.parametrize("words, message", [
    (["examples/config-repo"], "give the alert's labels as LABEL=VALUE"),
    (["examples/config-repo", "severity"], "severity: not LABEL=VALUE"),
    (["examples/config-repo", "bad-label=x"], "bad-label=x: not LABEL=VALUE"),
])
def test_who_gets_refuses_what_is_not_a_label(words, message, capsys):
    assert main(["who-gets", *words]) == 2
    assert message in capsys.readouterr().err


def test_who_gets_on_the_committed_branch(tmp_path, capsys):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("specs", **{"s.yaml": server(), "ops.yaml": recipient_list("ops", ["ops@example.com"]),
                            "db.yaml": document("RecipientList", "db", "recipients: [dba@example.com]\n"
                                                                       "matchers: ['team=\"db\"']\nrepeatInterval: 1h\n")})
    repo.write("db.yaml", "uncommitted edits are not read\n")
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {repo.path}}}\ntarget: {{output: {tmp_path}/am.yml, alertmanagers: []}}\n"
                      f"stateDir: {tmp_path}/state\n")
    assert main(["who-gets", "--config", str(config), "team=db"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"using {repo.head()[:7]} 'specs', the head of main\n")
    assert "db: dba@example.com\n  repeat every 1h" in out and "ops: ops@example.com" in out


# -- the base as Alertmanager reads it: a Secret, YAML 1.1 scalars, duplicates ------------------

BASE = Path("examples/alertmanager-base.yml")


def secret_of(config: str, section: str) -> str:
    value = base64.b64encode(config.encode()).decode() if section == "data" else config
    return json.dumps({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                       "metadata": {"name": "alertmanager-main", "namespace": "kubesphere-monitoring-system"},
                       section: {"alertmanager.yaml": value}})


def who_gets_json(base: Path, *labels: str, specs: str = "examples/config-repo") -> dict:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(["who-gets", specs, "--base", str(base), *labels, "--output", "json"])
    return json.loads(out.getvalue())


def amtool_on_render(tmp_path, base: Path, labels: dict[str, str], specs: str = "examples/config-repo") -> list[str]:
    rendered = tmp_path / "rendered.yml"
    assert main(["render", specs, "--base", str(base), "-o", str(rendered)]) == 0
    return amtool_receivers(rendered, labels)


@pytest.mark.alertmanager
@pytest.mark.parametrize("section", ["data", "stringData"])
def test_who_gets_reads_the_config_inside_a_secret_given_as_base(tmp_path, section, capsys):
    # It ignored the config inside: no base receiver, where amtool on the render names them.
    secret = tmp_path / "base.yaml"
    secret.write_text(secret_of(BASE.read_text(), section))
    for labels in ({"alertname": "Watchdog"}, {"alertname": "DiskFull", "severity": "critical", "team": "db"}):
        words = [f"{name}={value}" for name, value in labels.items()]
        from_secret, from_file = who_gets_json(secret, *words), who_gets_json(BASE, *words)
        expected = [name for name in amtool_on_render(tmp_path, BASE, labels)
                    if not name.startswith("notify-reconciler/")]
        assert from_secret["baseReceivers"] == from_file["baseReceivers"] == sorted(set(expected)) != []
        assert [item["name"] for item in from_secret["lists"]] == [item["name"] for item in from_file["lists"]]


PAGER_BASE = """\
route:
  receiver: Default
  routes:
    - receiver: pager
      match: {page: true}
    - receiver: shouting
      match: {page: True}
    - receiver: numbered
      match: {code: 0x1F}
receivers: [{name: Default}, {name: pager}, {name: shouting}, {name: numbered}]
"""


@pytest.mark.alertmanager
@pytest.mark.parametrize("labels", [{"page": "true"}, {"page": "True"}, {"code": "0x1F"}, {"code": "31"}])
def test_who_gets_reads_yaml_1_1_scalars_as_alertmanager_does(tmp_path, labels, capsys):
    # match: {page: true} is the string "true" to Alertmanager; it was read as True ("True").
    base = tmp_path / "base.yml"
    base.write_text(PAGER_BASE)
    answer = who_gets_json(base, *(f"{name}={value}" for name, value in labels.items()))
    assert answer["baseReceivers"] == [name for name in amtool_on_render(tmp_path, base, labels)
                                       if not name.startswith("notify-reconciler/")]


DUPLICATING_BASE = """\
route:
  receiver: Default
  routes:
    - receiver: db-mail
      matchers: [team="db"]
receivers:
  - name: Default
  - name: db-mail
    email_configs:
      - to: 'DBA-lead@example.com, someone@example.com'
"""


def test_who_gets_names_an_address_mailed_twice_and_through_which_receivers(tmp_path, capsys):
    base = tmp_path / "base.yml"
    base.write_text(DUPLICATING_BASE)
    answer = who_gets_json(base, "team=db", "severity=critical")
    assert answer["duplicates"] == [{"address": "dba-lead@example.com",
                                     "receivers": ["notify-reconciler/team-db", "db-mail"]}]
    assert who_gets_json(base, "team=db", "severity=warning")["duplicates"] == []  # team-db does not take it
    assert main(["who-gets", "examples/config-repo", "--base", str(base), "team=db", "severity=critical"]) == 0
    assert "warning: dba-lead@example.com gets this alert 2 times: through list team-db and the base's receiver " \
           "db-mail\n" in capsys.readouterr().err


def test_render_and_diff_with_a_base_warn_about_an_address_mailed_twice(tmp_path, capsys):
    # Rendering into a live Secret that still holds the imported receivers mails everyone
    # twice: the README said so in prose only.
    base, secret = tmp_path / "base.yml", tmp_path / "live.yaml"
    base.write_text(DUPLICATING_BASE)
    secret.write_text(secret_of(DUPLICATING_BASE, "data"))
    expected = ("8:5: receivers[1]: 'db-mail' mails DBA-lead@example.com, as list team-db does: an alert such as "
                '{severity="critical", team="db"} reaches both and is mailed to it twice; take the address out of '
                "one of them")
    assert main(["render", "examples/config-repo", "--base", str(base), "-o", str(tmp_path / "out.yml")]) == 0
    assert f"warning: {base}:{expected}" in capsys.readouterr().err
    assert main(["render", "examples/config-repo", "--base", str(secret), "--format", "secret"]) == 0
    assert f"warning: {secret}[alertmanager.yaml]:{expected}" in capsys.readouterr().err
    assert main(["render", "examples/config-repo", "--base", str(BASE), "-o", str(tmp_path / "out.yml")]) == 0
    assert "warning" not in capsys.readouterr().err  # the example base mails nobody itself

    repo = GitRepo(tmp_path / "repo")
    repo.commit("specs", **{"s.yaml": server(), "db.yaml": recipient_list("db", ["dba-lead@example.com"])})
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {repo.path}}}\ntarget: {{output: {tmp_path}/am.yml, base: {base}, "
                      f"alertmanagers: []}}\nstateDir: {tmp_path}/state\n")
    assert main(["diff", str(repo.path), "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"warning: {base}:8:5: receivers[1]: 'db-mail' mails DBA-lead@example.com, as list db does: an alert " \
           'such as {team="db"} reaches both' in err
