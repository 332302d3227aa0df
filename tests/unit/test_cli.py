"""cli: exit statuses, where output goes, and that no traceback reaches the user."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from reconciler.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "config-repo"
BASE = ROOT / "examples" / "alertmanager-base.yml"


def test_validate_example_repo_exits_0_with_a_summary(capsys):
    assert main(["validate", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "2 RecipientLists (5 recipients)" in out


@pytest.mark.parametrize("server, mode, warned", [
    ("port: 25", "STARTTLS required", True),             # KubeSphere's default: port 25, STARTTLS by default
    ("port: 25\n  starttls: true", "STARTTLS required", False),   # written out: no warning
    ("port: 25\n  starttls: false", "plain, no TLS", False),
    ("port: 587", "STARTTLS required", False),
    ("port: 465\n  ssl: true", "implicit TLS", False),
])
def test_validate_shows_the_tls_mode_and_warns_on_port_25_with_starttls_by_default(server, mode, warned, tmp_path,
                                                                                     capsys):
    (tmp_path / "server.yaml").write_text("apiVersion: notify-reconciler/v1\nkind: EmailServer\nmetadata: {name: "
                                          f"relay}}\nspec:\n  host: relay.example.com\n  {server}\n"
                                          "  from: alertmanager@example.com\n")
    (tmp_path / "ops.yaml").write_text("apiVersion: notify-reconciler/v1\nkind: RecipientList\nmetadata: {name: "
                                       "ops}\nspec: {recipients: [ops@example.com]}\n")
    assert main(["validate", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert f"EmailServer relay (relay.example.com:{server.split()[1]}, {mode}, e-mail enabled)" in captured.out
    if warned:
        assert captured.err == (f"{tmp_path}/server.yaml:1:1: warning: spec.starttls: port 25 with STARTTLS "
                                "required, the default: Alertmanager refuses a relay that does not offer STARTTLS "
                                "(many internal port-25 relays do not); write starttls: false for such a relay, or "
                                "starttls: true to keep requiring it and silence this warning\n")
    else:
        assert captured.err == ""


@pytest.mark.parametrize("cap, delivery, count, warned", [
    ("", "perRecipient", 50, "spec.delivery: with delivery: perRecipient, each notification is 50 messages"),
    ("", "perRecipient", 10, None),          # ten at once: most servers take that many
    ("\n  maxRecipientsPerMessage: 4", "single", 50, "spec.recipients: with the EmailServer's "
                                                      "maxRecipientsPerMessage: 4, each notification is 13 messages"),
    ("\n  maxRecipientsPerMessage: 10", "single", 50, None),
    ("", "single", 50, None),
])
def test_validate_says_how_many_messages_a_list_is_sent_as_at_once_and_warns_of_many(cap, delivery, count, warned,
                                                                                     tmp_path, capsys):
    """Alertmanager 0.25 sends a list's messages in parallel, an SMTP connection each (issue 24,
    case 10; tests/integration/test_delivery_modes.py counts them at a real server)."""
    (tmp_path / "server.yaml").write_text("apiVersion: notify-reconciler/v1\nkind: EmailServer\nmetadata: {name: "
                                          f"relay}}\nspec:\n  host: relay.example.com\n  port: 587{cap}\n"
                                          "  from: alertmanager@example.com\n")
    (tmp_path / "ops.yaml").write_text("apiVersion: notify-reconciler/v1\nkind: RecipientList\nmetadata: {name: ops}"
                                       f"\nspec:\n  delivery: {delivery}\n  recipients:\n"
                                       + "".join(f"    - oncall{n}@example.com\n" for n in range(count)))
    assert main(["validate", str(tmp_path), "--no-cache"]) == 0
    captured = capsys.readouterr()
    at_once = count if delivery == "perRecipient" else -(-count // int(cap.split()[-1])) if cap else 1
    assert f"1 RecipientList ({count} recipients{f', up to {at_once} messages at once' if at_once > 1 else ''})" \
        in captured.out
    if warned:
        assert captured.err.startswith(f"{tmp_path}/ops.yaml:1:1: warning: {warned}, and Alertmanager 0.25 opens an "
                                       "SMTP connection for each, all at once: a server that takes fewer connections "
                                       "from one client at a time (many take 5 to 10) refuses the rest")
    else:
        assert captured.err == ""


def test_validate_invalid_folder_exits_1_with_located_lines(tmp_path, capsys):
    shutil.copytree(EXAMPLE, tmp_path / "repo")
    team = tmp_path / "repo" / "team-db.yaml"
    team.write_text(team.read_text().replace("dba-lead@example.com", "dba-lead@@example"))
    assert main(["validate", str(tmp_path / "repo")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"{tmp_path}/repo/team-db.yaml:9:7: spec.recipients[0]: 'dba-lead@@example' is not an e-mail "
                   "address: write it as name@example.com"]


def test_errors_name_files_as_seen_from_the_current_folder(tmp_path, capsys, monkeypatch):
    """As a compiler does, so an editor or a terminal can open the file at the line."""
    shutil.copytree(EXAMPLE, tmp_path / "alerting")
    team = tmp_path / "alerting" / "team-db.yaml"
    team.write_text(team.read_text().replace("dba-lead@example.com", "dba-lead@@example"))
    monkeypatch.chdir(tmp_path)
    for folder, shown in (("alerting", "alerting/team-db.yaml"), ("./alerting/", "alerting/team-db.yaml")):
        assert main(["validate", folder]) == 1
        assert capsys.readouterr().err.startswith(f"{shown}:9:7: spec.recipients[0]: ")
    monkeypatch.chdir(tmp_path / "alerting")
    assert main(["validate"]) == 1
    assert capsys.readouterr().err.startswith("team-db.yaml:9:7: spec.recipients[0]: ")
    for name in ("team-db.yaml", "platform-oncall.yaml", "email-server.yaml", "notification-policy.yaml"):
        (tmp_path / "alerting" / name).unlink()
    assert main(["validate"]) == 1
    assert capsys.readouterr().err.startswith(".: no EmailServer and no RecipientList in the spec folder")


def test_validate_missing_folder_exits_2(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_render_writes_the_file_and_prints_nothing(tmp_path, capsys):
    out = tmp_path / "alertmanager.yml"
    assert main(["render", str(EXAMPLE), "--base", str(BASE), "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""
    config = YAML(typ="safe").load(out.read_text())
    assert "chat-ops" in [r["name"] for r in config["receivers"]]


def test_render_keeps_the_mode_of_an_existing_output(tmp_path):
    out = tmp_path / "alertmanager.yml"
    out.write_text("old")
    out.chmod(0o640)
    assert main(["render", str(EXAMPLE), "-o", str(out)]) == 0
    assert out.stat().st_mode & 0o777 == 0o640
    assert out.read_text() != "old"
    assert [p.name for p in tmp_path.iterdir()] == ["alertmanager.yml"]


def test_render_secret_format_to_stdout(capsys):
    assert main(["render", str(EXAMPLE), "--format", "secret", "--secret-name", "am", "--namespace", "mon"]) == 0
    secret = YAML(typ="safe").load(capsys.readouterr().out)
    assert (secret["kind"], secret["metadata"]["name"], secret["metadata"]["namespace"]) == ("Secret", "am", "mon")
    assert "smtp_smarthost" in secret["stringData"]["alertmanager.yaml"]


def test_render_of_invalid_specs_exits_1_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("apiVersion: notify-reconciler/v1\nkind: Nope\n")
    out = tmp_path / "out.yml"
    assert main(["render", str(tmp_path), "-o", str(out)]) == 1
    assert not out.exists()
    assert capsys.readouterr().err.startswith(f"{tmp_path}/bad.yaml:2:7: kind: 'Nope' is not a known kind")


def test_render_with_missing_base_exits_2(tmp_path, capsys):
    assert main(["render", str(EXAMPLE), "--base", str(tmp_path / "missing.yml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_render_with_broken_base_exits_1_located(tmp_path, capsys):
    base = tmp_path / "base.yml"
    base.write_text("route:\n  receiver: x\n  receiver: y\n")
    assert main(["render", str(EXAMPLE), "--base", str(base)]) == 1
    assert capsys.readouterr().err.startswith(f"{base}:3:")


def specs_with_password_env(folder) -> None:
    """An EmailServer whose password comes from the daemon's environment, and one list."""
    (folder / "server.yaml").write_text(
        "apiVersion: notify-reconciler/v1\nkind: EmailServer\nmetadata: {name: smtp}\n"
        "spec: {host: smtp.example.com, port: 587, username: u, passwordEnv: NR_TEST_PASSWORD, "
        "from: a@example.com}\n")
    (folder / "ops.yaml").write_text("apiVersion: notify-reconciler/v1\nkind: RecipientList\nmetadata: {name: ops}\n"
                                       "spec: {recipients: [ops@example.com]}\n")


def test_password_file_path_is_rendered_but_no_password_reaches_stdout(tmp_path, capsys, monkeypatch):
    specs_with_password_env(tmp_path)
    monkeypatch.setenv("NR_TEST_PASSWORD", "correct-horse-battery-staple")
    assert main(["render", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "correct-horse-battery-staple" not in captured.out + captured.err
    assert "smtp_auth_password_file" in captured.out


def test_secret_format_refuses_a_password_from_the_daemons_environment(tmp_path, capsys):
    """passwordEnv becomes a file on the daemon's host; no Alertmanager pod has it."""
    specs_with_password_env(tmp_path)
    assert main(["render", str(tmp_path), "--format", "secret"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"{tmp_path}/server.yaml:1:1: spec.passwordEnv: a variable of the daemon's host "
                                   "cannot reach the Alertmanager pod")
    assert "use passwordFile" in captured.err


@pytest.mark.parametrize("args, status", [(["--help"], 0), (["validate", "--help"], 0),
                                          (["render", "--help"], 0), (["bogus"], 2), ([], 2)])
def test_console_script_help_and_usage(args, status):
    result = subprocess.run([sys.executable, "-m", "reconciler", *args], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == status
    assert "Traceback" not in result.stderr


def test_secret_format_says_on_stderr_which_password_file_the_pod_needs(capsys):
    assert main(["render", str(EXAMPLE), "--format", "secret", "--namespace", "monitoring"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("apiVersion: v1\nkind: Secret\n")  # stdout stays a manifest for kubectl
    assert "note: the config reads the SMTP password from /etc/alertmanager/smtp-password" in captured.err


@pytest.mark.parametrize("option, value", [("--namespace", "Bad NS!"), ("--namespace", "a" * 64),
                                           ("--secret-name", "x-"), ("--secret-name", "Alertmanager")])
def test_secret_format_refuses_names_kubernetes_would_refuse(option, value, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["render", str(EXAMPLE), "--format", "secret", option, value])
    assert exited.value.code == 2
    assert f"{value!r} is not a" in capsys.readouterr().err


def test_validate_reads_an_upper_case_suffix_and_names_a_spec_it_does_not_read(tmp_path, capsys):
    from tests.support.gitrepo import recipient_list, server

    (tmp_path / "server.YML").write_text(server())
    (tmp_path / "ops.yaml").write_text(recipient_list("ops", ["a@example.com"]))
    (tmp_path / "README.md").write_text("apiVersion: notify-reconciler/v1\n")
    assert main(["validate", str(tmp_path)]) == 0
    assert "1 RecipientList" in capsys.readouterr().out
    (tmp_path / "db.yaml.bak").write_text(recipient_list("db", ["d@example.com"]))
    assert main(["validate", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (f"{tmp_path}/db.yaml.bak:1:1: this file holds a notify-reconciler spec, but "
                                       "only files ending in .yaml or .yml are read: rename it (to db.yaml, say), "
                                       "or delete it if it is an old copy\n")


def test_preview_refuses_a_label_or_annotation_not_name_equals_value(tmp_path, capsys):
    from reconciler.cli.main import main as cli_main

    for option, word, said in (("--labels", "bad-name=x", "--labels: bad-name=x: not LABEL=VALUE"),
                               ("--annotations", "summary", "--annotations: summary: not NAME=VALUE")):
        assert cli_main(["preview", str(tmp_path), "--list", "ops", option, word, "-o", str(tmp_path / "m")]) == 2
        assert said in capsys.readouterr().err
