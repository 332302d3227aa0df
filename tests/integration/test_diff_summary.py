"""`diff` says what changes for people before the YAML: through the CLI, on a real git repo,
against the file `apply` wrote and against the real Alertmanager's own view of what it runs."""

from __future__ import annotations

import re


from reconciler.cli.main import main

from tests.support.alertmanager import Alertmanager
from tests.support.audit import SECRET
from tests.support.gitrepo import GitRepo, recipient_list, server
from tests.support.services import require_binary


def write_config(tmp_path, repo: GitRepo, output, alertmanagers: str = "") -> str:
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {repo.path}}}\ntarget: {{output: {output}, alertmanagers: [{alertmanagers}]}}\n"
                      f"stateDir: {tmp_path / 'state'}\n")
    return str(config)


def test_diff_says_who_gains_or_loses_mail_before_the_yaml_and_never_the_password(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", SECRET)
    repo = GitRepo(tmp_path / "config-repo")
    repo.commit("first", **{"server.yaml": server(username="alerts", passwordEnv="SMTP_PASSWORD"),
                            "ops.yaml": recipient_list("ops", ["ops@example.com"], repeatInterval="1h")})
    output = tmp_path / "alertmanager.yml"
    config = write_config(tmp_path, repo, output)
    assert main(["apply", "--config", config]) == 0
    password_file = tmp_path / "state" / "secrets" / "smtp-password-smtp"
    assert password_file.read_text() == SECRET  # the password is on this machine, for real
    # Someone put the password itself into the live file, and edits the specs on disk.
    output.write_text(re.sub(r"smtp_auth_password_file: .*", f"smtp_auth_password: {SECRET}", output.read_text()))
    repo.write("ops.yaml", recipient_list("ops", ["ops@example.com", "new@example.com"], repeatInterval="2h"))
    repo.write("web.yaml", recipient_list("web", ["web@example.com"], matchers="['severity=\"critical\"']"))
    capsys.readouterr()

    assert main(["diff", str(repo.path), "--config", config]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(
        "changes in who is mailed:\n"
        "  list ops: +1 recipient (new@example.com); repeat 1h -> 2h\n"
        '  list web: new: mails web@example.com; takes {severity="critical"}; repeat 12h\n'
        f"  SMTP server: password in the config -> from file {password_file}\n"
        f"\n--- {output}\n+++ rendered from {repo.path}\n"), captured.out
    assert "-  smtp_auth_password: <secret>" in captured.out  # the YAML diff follows, redacted
    assert SECRET not in captured.out + captured.err

    # A change of the YAML that mails nobody differently says so, and still shows the diff.
    repo.commit("ops and web", **{})
    assert main(["apply", "--config", config]) == 0
    repo.write("ops.yaml", recipient_list("ops", ["{name: Ops desk, email: ops@example.com}", "new@example.com"],
                                          repeatInterval="2h"))
    capsys.readouterr()
    assert main(["diff", str(repo.path), "--config", config]) == 1
    out = capsys.readouterr().out
    assert out.startswith("no change in who is mailed: same lists, recipients, matchers, timing and SMTP server; "
                          f"the changes are elsewhere\n\n--- {output}\n"), out
    assert '"Ops desk" <ops@example.com>' in out


def test_the_summary_reads_alertmanagers_own_view_with_its_defaults_filled_in(tmp_path, capsys):
    """Without the output file, the live side is Alertmanager's /api/v2/status: every default
    filled in, durations and matchers re-spelled. Only the one real change may show."""
    repo = GitRepo(tmp_path / "config-repo")
    repo.commit("first", **{"server.yaml": server(),
                            "ops.yaml": recipient_list("ops", ["ops@example.com"], repeatInterval="90m",
                                                       matchers="['team=~\"db|web\"', 'severity!=info']")})
    running = tmp_path / "running.yml"
    assert main(["render", str(repo.path), "-o", str(running)]) == 0
    am = Alertmanager(require_binary("prometheus-alertmanager"), running, tmp_path / "am-data").start()
    try:
        config = write_config(tmp_path, repo, tmp_path / "not-written.yml", am.url)
        repo.write("ops.yaml", recipient_list("ops", ["ops@example.com"], repeatInterval="90m",
                                              matchers="['team=~\"db|web\"', 'severity!=info']", groupWait="1m"))
        capsys.readouterr()
        assert main(["diff", str(repo.path), "--config", config]) == 1
    finally:
        am.stop()
    out = capsys.readouterr().out
    assert out.startswith("changes in who is mailed:\n  list ops: group wait 30s -> 1m\n\n--- "), out
    assert "(as Alertmanager reports it, defaults filled in)" in out
