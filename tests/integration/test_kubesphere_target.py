"""target.format kubesphere: `apply` writes notification-manager's objects to target.output
(for kubectl apply, Flux or Argo CD) from the committed branch, puts back a hand edit, refuses a
commit that asks for what notification-manager cannot do (the file keeps the last good
objects), and `diff`/`status` read the same file. Real git repos; no Alertmanager."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from reconciler.cli.main import main

from tests.support.gitrepo import GitRepo, document, recipient_list, server


@pytest.fixture
def repo(tmp_path):
    repo = GitRepo(tmp_path / "config-repo")
    repo.commit("first specs", **{
        "server.yaml": server(port=587),
        "ops.yaml": recipient_list("ops", ["ops@example.com"], matchers="['severity=\"critical\"']"),
    })
    return repo


def config_file(tmp_path: Path, repo: GitRepo, output: Path, extra: str = "") -> str:
    config = tmp_path / "config.yaml"
    config.write_text(f"source:\n  repo: {repo.path}\n  branch: main\n"
                      f"target:\n  output: {output}\n  format: kubesphere\n{extra}stateDir: {tmp_path / 'state'}\n")
    return str(config)


def objects(path: Path) -> list[dict]:
    return list(YAML(typ="safe").load_all(path.read_text()))


def test_apply_writes_the_objects_and_puts_back_a_hand_edit(tmp_path, repo, capsys):
    output = tmp_path / "kubesphere.yaml"
    config = config_file(tmp_path, repo, output)
    assert main(["apply", "--config", config]) == 0
    written = objects(output)
    assert [(o["kind"], o["metadata"]["name"]) for o in written] == [
        ("Config", "default-email-config"), ("Receiver", "global-email-receiver")]
    assert written[1]["spec"]["email"]["alertSelector"] == {
        "matchExpressions": [{"key": "severity", "operator": "In", "values": ["critical"]}]}
    good = output.read_bytes()

    assert main(["diff", str(repo.path), "--config", config]) == 0  # what is live is what the specs render
    assert main(["status", "--config", config]) == 0

    output.write_text(output.read_text().replace("ops@example.com", "intruder@example.com"))
    assert main(["diff", str(repo.path), "--config", config]) == 1
    assert "intruder@example.com" in capsys.readouterr().out
    assert main(["apply", "--config", config]) == 0
    assert output.read_bytes() == good


def test_a_commit_notification_manager_cannot_honour_is_rejected(tmp_path, repo, capsys):
    output = tmp_path / "kubesphere.yaml"
    config = config_file(tmp_path, repo, output)
    assert main(["apply", "--config", config]) == 0
    good = output.read_bytes()
    repo.commit("office hours only", **{
        "window.yaml": document("TimeWindow", "office", "location: UTC\nweekdays: [monday]\n"),
        "ops.yaml": recipient_list("ops", ["ops@example.com"], activeDuring="[office]"),
    })
    assert main(["apply", "--config", config]) == 1
    err = capsys.readouterr().err
    assert "rejected" in err and "ops.yaml:" in err and "no time windows" in err
    assert output.read_bytes() == good


@pytest.mark.parametrize("extra, field", [
    ("  base: /etc/alertmanager/base.yml\n", "target.base"),
    ("  alertmanagers: [http://127.0.0.1:9093]\n", "target.alertmanagers"),
])
def test_a_kubesphere_target_takes_no_base_and_no_alertmanagers(tmp_path, repo, capsys, extra, field):
    config = config_file(tmp_path, repo, tmp_path / "out.yaml", extra)
    assert main(["apply", "--config", config]) == 2
    err = capsys.readouterr().err
    assert f"config.yaml:7:3: {field}: goes with format alertmanager" in err


def test_the_probe_talks_to_the_server_as_notification_manager_would(tmp_path, capsys):
    from tests.support.smtp import start_smtp_server

    smtp = start_smtp_server()
    try:
        repo = GitRepo(tmp_path / "config-repo")
        repo.commit("specs", **{"server.yaml": server(port=smtp.port),
                                "ops.yaml": recipient_list("ops", ["ops@example.com"])})
        config = config_file(tmp_path, repo, tmp_path / "kubesphere.yaml")
        assert main(["apply", "--config", config]) == 0
        capsys.readouterr()
        assert main(["mail-test", "--config", config, "--probe"]) == 0
        out = capsys.readouterr().out
        assert f"probing 127.0.0.1:{smtp.port} as KubeSphere's notification-manager would talk to it" in out
        assert "ok: KubeSphere's notification-manager can send" in out
    finally:
        smtp.controller.stop()
