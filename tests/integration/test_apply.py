"""apply / diff / status against real git repos, real Alertmanagers and a real SMTP server."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from reconciler.cli.main import main
from reconciler.io.alertmanager_api import config_hash

from tests.support.alertmanager import Alertmanager
from tests.support.gitrepo import GitRepo, document, recipient_list, server
from tests.support.services import free_port, require_binary, require_root, wait_until


pytestmark = pytest.mark.alertmanager

INITIAL = "route: {receiver: hand-made}\nreceivers: [{name: hand-made}]\n"


@pytest.fixture
def alertmanager_binary():
    require_binary("amtool")
    return require_binary("prometheus-alertmanager")


@pytest.fixture
def alertmanagers(alertmanager_binary, tmp_path):
    started: list[Alertmanager] = []

    def start(config_path: Path, storage: Path | None = None, **options) -> Alertmanager:
        if not config_path.exists():
            config_path.write_text(INITIAL)
        storage = storage or tmp_path / f"am-data-{len(started)}"
        am = Alertmanager(alertmanager_binary, config_path, storage, **options)
        started.append(am)
        return am.start()

    yield start
    for am in started:
        am.stop()


@pytest.fixture
def repo(tmp_path, smtp):
    repo = GitRepo(tmp_path / "config-repo")
    repo.commit("first specs", **{
        "server.yaml": server(port=smtp.port),
        "policy.yaml": document("NotificationPolicy", "default", "groupWait: 0s\ngroupInterval: 1s\n"
                                                                  "repeatInterval: 1h\n"),
        "ops.yaml": recipient_list("ops", ["ops@example.com"]),
    })
    return repo


def write_config(tmp_path: Path, repo: GitRepo, output: Path, urls: list[str]) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(f"source:\n  repo: {repo.path}\n  branch: main\n"
                      f"target:\n  output: {output}\n  alertmanagers: [{', '.join(urls)}]\n"
                      f"stateDir: {tmp_path / 'state'}\n")
    return str(config)


def applied(tmp_path: Path, repo: GitRepo, alertmanagers) -> tuple[Path, Alertmanager, str]:
    """One Alertmanager on tmp_path/alertmanager.yml and a first successful apply to it."""
    output = tmp_path / "alertmanager.yml"
    am = alertmanagers(output)
    config = write_config(tmp_path, repo, output, [am.url])
    assert main(["apply", "--config", config]) == 0
    return output, am, config


def fire(am: Alertmanager, name: str = "DiskFull", **labels: str) -> None:
    am.post_alerts([{"labels": {"alertname": name, **labels}, "annotations": {"summary": "test alert"}}])


def test_apply_writes_reloads_and_verifies(tmp_path, repo, alertmanagers, capsys):
    output = tmp_path / "am" / "alertmanager.yml"
    output.parent.mkdir()
    am = alertmanagers(output)
    config = write_config(tmp_path, repo, output, [am.url])

    assert main(["apply", "--config", config]) == 0
    assert "reloaded and verified" in capsys.readouterr().out
    assert am.metric("alertmanager_config_hash") == config_hash(output.read_bytes())
    assert [r["name"] for r in YAML(typ="safe").load(am.status()["config"]["original"])["receivers"]] == \
        ["notify-reconciler/discard", "notify-reconciler/ops"]

    assert main(["status", "--config", config]) == 0
    out = capsys.readouterr().out
    assert f"applied:    {repo.head()[:7]} 'first specs' by Test Author" in out
    assert "runs the live file" in out and out.strip().endswith("healthy")


def test_unchanged_render_does_not_reload(tmp_path, repo, alertmanagers):
    output, am, config = applied(tmp_path, repo, alertmanagers)
    reloaded_at = am.metric("alertmanager_config_last_reload_success_timestamp_seconds")
    repo.commit("docs only", **{"README.md": "no spec change"})
    time.sleep(1.1)
    assert main(["apply", "--config", config]) == 0
    assert am.metric("alertmanager_config_last_reload_success_timestamp_seconds") == reloaded_at


def test_rejected_commit_keeps_last_good_config(tmp_path, repo, alertmanagers, capsys):
    output, am, config = applied(tmp_path, repo, alertmanagers)
    good_bytes, good_hash = output.read_bytes(), am.metric("alertmanager_config_hash")
    good_sha = repo.head()

    repo.commit("typo", **{"ops.yaml": recipient_list("ops", ["ops@@example"])})
    capsys.readouterr()
    assert main(["apply", "--config", config]) == 1
    err = capsys.readouterr().err
    assert "rejected" in err
    assert "ops.yaml:7:7: spec.recipients[0]: 'ops@@example' is not an e-mail address" in err
    assert output.read_bytes() == good_bytes
    assert am.metric("alertmanager_config_hash") == good_hash

    assert main(["status", "--config", config]) == 1
    out = capsys.readouterr().out
    assert f"applied:    {good_sha[:7]} 'first specs'" in out
    assert f"attempted:  {repo.head()[:7]} 'typo'" in out and ": rejected" in out
    assert "ops@@example" in out


def test_uncommitted_edits_are_not_applied(tmp_path, repo, alertmanagers):
    output, am, config = applied(tmp_path, repo, alertmanagers)
    before, running = output.read_bytes(), am.metric("alertmanager_config_hash")
    repo.write("ops.yaml", recipient_list("ops", ["someone-else@example.com"]))
    repo.write("new.yaml", "half written: [")
    assert main(["apply", "--config", config]) == 0
    assert output.read_bytes() == before
    assert am.metric("alertmanager_config_hash") == running


def test_alertmanager_down_during_apply_keeps_the_old_file(tmp_path, repo, alertmanagers, capsys):
    output, am, config = applied(tmp_path, repo, alertmanagers)
    before = output.read_bytes()
    am.stop()
    repo.commit("add db", **{"db.yaml": recipient_list("db", ["db@example.com"])})
    assert main(["apply", "--config", config]) == 1
    assert "unreachable" in capsys.readouterr().err
    assert output.read_bytes() == before


def test_alertmanager_reading_another_file_is_caught_by_the_hash(tmp_path, repo, alertmanagers, capsys):
    output = tmp_path / "alertmanager.yml"
    output.write_text(INITIAL)
    elsewhere = tmp_path / "other.yml"
    am = alertmanagers(elsewhere)
    config = write_config(tmp_path, repo, output, [am.url])
    assert main(["apply", "--config", config]) == 1
    assert "runs a config other than the file just written" in capsys.readouterr().err
    assert output.read_text() == INITIAL


def test_alertmanager_refusing_a_config_amtool_accepted_is_rolled_back(tmp_path, repo, alertmanagers, capsys,
                                                                      request):
    """Alertmanager runs as nobody; the file becomes unreadable to it (0600, root) while
    amtool, run by us, still reads and accepts it: the reload is refused."""
    require_root("to run Alertmanager as another user")
    # pytest's tmp_path is root-only; nobody needs to reach its files.
    shared = Path(tempfile.mkdtemp(prefix="nr-nobody-"))
    request.addfinalizer(lambda: shutil.rmtree(shared, ignore_errors=True))
    shared.chmod(0o755)
    output = shared / "alertmanager.yml"
    output.write_text(INITIAL)
    output.chmod(0o644)
    am = alertmanagers(output, run_as="nobody", storage=shared / "data")
    config = write_config(tmp_path, repo, output, [am.url])
    running = am.metric("alertmanager_config_hash")
    output.chmod(0o600)  # our atomic write keeps the mode it finds
    assert main(["apply", "--config", config]) == 1
    err = capsys.readouterr().err
    assert "refused the new config" in err and "permission denied" in err
    assert output.read_text() == INITIAL
    assert am.metric("alertmanager_config_hash") == running


def test_diff_shows_what_would_change_and_redacts_secrets(tmp_path, repo, alertmanagers, capsys):
    output, am, config = applied(tmp_path, repo, alertmanagers)
    assert main(["diff", str(repo.path), "--config", config]) == 0
    repo.write("ops.yaml", recipient_list("ops", ["ops@example.com", "new@example.com"]))
    capsys.readouterr()
    assert main(["diff", str(repo.path), "--config", config]) == 1
    out = capsys.readouterr().out
    assert "+      - to: ops@example.com, new@example.com" in out
    assert "\x1b[" not in out  # not a terminal: no colour

    output.write_text(output.read_text() + "# hand edit\nslack_api_url: https://hooks.example.com/T0/B0/XyZsecret\n")
    capsys.readouterr()
    assert main(["diff", str(repo.path), "--config", config]) == 1
    out = capsys.readouterr().out
    assert "XyZsecret" not in out and "<secret>" in out


def test_diff_counts_a_changed_secret_as_a_change_without_showing_it(tmp_path, repo, alertmanagers, capsys):
    """Redacting both sides before comparing hid a change of password: exit 0, 'no change', and
    the next apply wrote the new one."""
    base = tmp_path / "base.yml"
    base.write_text("route: {receiver: pager}\nreceivers:\n- name: pager\n  email_configs:\n"
                    "  - {to: pager@example.com, auth_username: pager, auth_password: OldPassw0rd}\n")
    output = tmp_path / "alertmanager.yml"
    am = alertmanagers(output)
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {repo.path}}}\ntarget: {{output: {output}, base: {base}, "
                      f"alertmanagers: [{am.url}]}}\nstateDir: {tmp_path / 'state'}\n")
    assert main(["apply", "--config", str(config)]) == 0
    assert main(["diff", str(repo.path), "--config", str(config)]) == 0

    base.write_text(base.read_text().replace("OldPassw0rd", "NewPassw0rd"))
    capsys.readouterr()
    assert main(["diff", str(repo.path), "--config", str(config)]) == 1
    out = capsys.readouterr().out
    summary, diff = out.split("\n\n", 1)
    assert summary == "no change in who is mailed: same lists, recipients, matchers, timing and SMTP server; the " \
                      "changes are elsewhere"  # the password of a base receiver changed, not who is mailed
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert len(changed) == 2 and all("auth_password" in line and "<secret>" in line for line in changed), out
    assert "OldPassw0rd" not in out and "NewPassw0rd" not in out
    assert main(["apply", "--config", str(config)]) == 0
    assert b"NewPassw0rd" in output.read_bytes()


def test_diff_without_an_output_file_compares_with_what_alertmanager_runs(tmp_path, repo, smtp, alertmanagers,
                                                                          capsys):
    running_file = tmp_path / "elsewhere.yml"
    running_file.write_text("global:\n  smtp_auth_password: hunter2\n  smtp_smarthost: x:25\n  smtp_from: a@b.c\n"
                            + INITIAL)
    am = alertmanagers(running_file)
    config = write_config(tmp_path, repo, tmp_path / "not-yet.yml", [am.url])
    assert main(["diff", str(repo.path), "--config", config]) == 1
    summary, out = capsys.readouterr().out.split("\n\n", 1)
    assert summary.splitlines() == ["changes in who is mailed:",
                                    "  list ops: new: mails ops@example.com; takes every alert; repeat 1h",
                                    f"  SMTP server: address x:25 -> 127.0.0.1:{smtp.port}; TLS STARTTLS required -> "
                                    "plain, no TLS; sender a@b.c -> alertmanager@example.com; password in the "
                                    "config -> none",
                                    "  base receiver hand-made: no longer routed (it gets no alert)"]
    assert out.startswith(f"--- {am.url} (as Alertmanager reports it, defaults filled in)\n")
    assert "-- name: hand-made" in out and "+  - name: notify-reconciler/ops" in out
    assert "hunter2" not in out and "smtp_auth_password: <secret>" in out


def test_diff_of_invalid_specs_exits_2_with_located_errors(tmp_path, repo, capsys):
    config = write_config(tmp_path, repo, tmp_path / "alertmanager.yml", [])
    repo.write("ops.yaml", recipient_list("ops", ["ops@@example"]))
    assert main(["diff", str(repo.path), "--config", config]) == 2
    assert capsys.readouterr().err.startswith(f"{repo.path}/ops.yaml:7:7: spec.recipients[0]:")


def test_fifty_recipients_all_receive_the_mail_through_a_strict_server(tmp_path, repo, smtp, alertmanagers):
    addresses = [f"oncall{n:02d}@example.com" for n in range(50)]
    repo.commit("fifty", **{"ops.yaml": recipient_list("ops", addresses, repeatInterval="3s")})
    output = tmp_path / "alertmanager.yml"
    am = alertmanagers(output)
    assert main(["apply", "--config", write_config(tmp_path, repo, output, [am.url])]) == 0

    fire(am)
    first = smtp.wait_for(1)[0]
    first_at = time.monotonic()
    assert sorted(first.recipients) == addresses
    assert first.message["To"] == "ops:;"
    assert max(len(line) for line in first.content.split(b"\r\n")) <= 998
    # The rendered repeat interval (3s) is in force: the same alert comes again, not sooner.
    smtp.wait_for(2, timeout=15)
    assert time.monotonic() - first_at >= 2.0


def test_without_the_short_to_header_a_strict_server_refuses_fifty(tmp_path, repo, smtp, alertmanagers):
    """The control experiment: with Alertmanager's own To: header (our headers.To removed),
    the strict server refuses the message and Alertmanager still counts it as sent. This
    is what the render's short To: header prevents."""
    addresses = [f"oncall{n:02d}@example.com" for n in range(50)]
    repo.commit("fifty", **{"ops.yaml": recipient_list("ops", addresses)})
    output = tmp_path / "alertmanager.yml"
    am = alertmanagers(output)
    assert main(["apply", "--config", write_config(tmp_path, repo, output, [am.url])]) == 0
    output.write_text("".join(line for line in output.read_text().splitlines(keepends=True)
                              if line.strip() != "headers:" and not line.strip().startswith("To: ")))
    assert "To:" not in output.read_text()
    assert am.reload()[0] == 200
    fire(am)
    sent = 'alertmanager_notifications_total{integration="email"}'
    wait_until(lambda: (am.metric(sent) or 0) >= 1, 15, "Alertmanager to send the e-mail")
    time.sleep(0.5)
    assert am.metric('alertmanager_notifications_failed_total{integration="email"}') == 0
    assert smtp.messages == []


def test_ha_cluster_of_three_each_recipient_gets_one_mail(tmp_path, repo, smtp, alertmanagers):
    addresses = ["a@example.com", "b@example.com", "c@example.com"]
    repo.commit("ha", **{"ops.yaml": recipient_list("ops", addresses)})
    output = tmp_path / "alertmanager.yml"
    output.write_text(INITIAL)
    cluster_ports = [free_port() for _ in range(3)]
    members = []
    for index, cluster_port in enumerate(cluster_ports):
        peers = tuple(p for p in cluster_ports if p != cluster_port)
        members.append(alertmanagers(output, cluster_port=cluster_port, peers=peers))
    config = write_config(tmp_path, repo, output, [am.url for am in members])
    assert main(["apply", "--config", config]) == 0
    for am in members:
        assert am.metric("alertmanager_config_hash") == config_hash(output.read_bytes())
    wait_until(lambda: all(am.metric("alertmanager_cluster_members") == 3 for am in members), 15,
               "the three Alertmanagers to form one cluster")

    for am in members:
        fire(am, "NodeDown", instance="db-1")
    smtp.wait_for(1)
    # The other two wait peer-timeout x their position (1s, 2s) and then find the log entry.
    time.sleep(4)
    assert len(smtp.messages) == 1
    assert sorted(smtp.messages[0].recipients) == addresses


def test_apply_that_cannot_read_the_repository_could_not_run(tmp_path, capsys):
    """Exit 2, as for a missing config file: nothing could be read to try (README, --help)."""
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {tmp_path / 'no-such-repo'}}}\n"
                      f"target: {{output: {tmp_path / 'am.yml'}, alertmanagers: []}}\nstateDir: {tmp_path / 'state'}\n")
    assert main(["apply", "--config", str(config)]) == 2
    assert "does not exist: check source.repo" in capsys.readouterr().err
    assert not (tmp_path / "am.yml").exists()
