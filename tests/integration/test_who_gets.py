"""who-gets: the answer comes from the rendered config's routing tree, read as Alertmanager
reads it. Differential: for generated routing trees (nested routes, continue, match,
match_re and matchers with every operator) and many label sets, `am.routes.Route.match`
names exactly the receivers `amtool config routes test` names, in the same order."""

from __future__ import annotations

import itertools
import json
import random
import subprocess

import pytest

from reconciler.cli import main
from reconciler.am.routes import routing_tree

from .gitrepo import GitRepo, document, recipient_list, server
from .services import require_binary

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
