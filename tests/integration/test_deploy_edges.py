"""deploy, files, state and diff at their edges: atomic writes, retries, state on disk."""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
import threading

import pytest

from reconciler.cli.main import main
from reconciler.io.alertmanager_api import config_hash, reload_and_verify
from reconciler.io.deploy import each_at_once
from reconciler.core.diff import colourise, redact, unified_diff
from reconciler.errors import DeployError, EnvironmentProblem, TransientDeployError
from reconciler.io.files import write_atomically
from reconciler.values import Attempt, Result, Revision
from reconciler.service.state import State, TargetStatus, load_state, save_state

from tests.support.alertmanager import Alertmanager
from tests.support.gitrepo import GitRepo, recipient_list, server
from tests.support.services import TaskLimit, free_port, require_binary


def test_new_file_is_0600_and_no_temporary_file_is_left(tmp_path):
    path = tmp_path / "alertmanager.yml"
    write_atomically(path, "a: 1\n")
    assert path.read_text() == "a: 1\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["alertmanager.yml"]


def test_existing_mode_and_owner_are_kept(tmp_path):
    path = tmp_path / "alertmanager.yml"
    path.write_text("old")
    path.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    write_atomically(path, "new")
    stat = path.stat()
    assert path.read_text() == "new" and stat.st_mode & 0o777 == 0o640
    if os.geteuid() == 0:
        assert (stat.st_uid, stat.st_gid) == (65534, 65534)


def test_unwritable_folder_is_a_clear_error_and_the_old_file_stays(tmp_path):
    if os.geteuid() == 0:
        target = "/proc/version"  # even root cannot replace a file there
        with pytest.raises(EnvironmentProblem, match="cannot write"):
            write_atomically(target, "x")
        return
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "f").write_text("old")
    folder.chmod(0o500)
    with pytest.raises(EnvironmentProblem, match="cannot write"):
        write_atomically(folder / "f", "new")
    assert (folder / "f").read_text() == "old"


def test_state_round_trips_and_survives_a_new_process(tmp_path):
    revision = Revision("a" * 40, "raise repeat interval", "Ann", 1_700_000_000)
    state = State(applied=revision, applied_at=1.5, applied_digest="d",
                  attempted=Attempt(revision, 2.5, Result.REJECTED, "x.yaml:1:1: bad"),
                  alertmanagers={"http://am:9093": TargetStatus(True, "reloaded and verified", 2.5)})
    save_state(tmp_path / "state", state)
    assert load_state(tmp_path / "state") == state
    assert load_state(tmp_path / "empty") == State()


def test_corrupt_state_is_reported_not_replaced(tmp_path):
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(EnvironmentProblem, match="move it aside"):
        load_state(tmp_path)
    assert (tmp_path / "state.json").read_text() == "{not json"


@pytest.fixture
def alertmanager(tmp_path):
    binary = require_binary("prometheus-alertmanager")
    config = tmp_path / "alertmanager.yml"
    config.write_text("route: {receiver: x}\nreceivers: [{name: x}]\n")
    am = Alertmanager(binary, config, tmp_path / "data").start()
    yield am
    am.stop()


@pytest.mark.alertmanager
def test_real_alertmanager_exports_our_config_hash(alertmanager):
    assert alertmanager.metric("alertmanager_config_hash") == config_hash(alertmanager.config_path.read_bytes())


@pytest.mark.alertmanager
def test_a_4xx_is_permanent_and_not_retried(alertmanager):
    sleeps: list[float] = []
    with pytest.raises(DeployError) as caught:
        reload_and_verify(alertmanager.url + "/no-such-prefix", b"", sleep=sleeps.append)
    assert not isinstance(caught.value, TransientDeployError)
    assert sleeps == []


def test_unreachable_is_transient_and_retried_with_growing_waits():
    sleeps: list[float] = []
    with pytest.raises(TransientDeployError, match="unreachable"):
        reload_and_verify(f"http://127.0.0.1:{free_port()}", b"", sleep=sleeps.append)
    assert len(sleeps) == 4 and sleeps == sorted(sleeps) and sleeps[0] < sleeps[-1]


@pytest.mark.alertmanager
def test_apply_rides_out_an_alertmanager_restart(tmp_path, alertmanager):
    """Transient failures are retried: Alertmanager comes back while apply waits."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit("specs", **{"s.yaml": server(), "o.yaml": recipient_list("ops", ["o@example.com"])})
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {repo.path}}}\ntarget:\n  output: {alertmanager.config_path}\n"
                      f"  alertmanagers: [{alertmanager.url}]\nstateDir: {tmp_path / 'state'}\n")
    alertmanager.stop()
    restarter = threading.Timer(0.5, alertmanager.start)
    restarter.start()
    try:
        assert main(["apply", "--config", str(config)]) == 0
    finally:
        restarter.join()
    assert alertmanager.metric("alertmanager_config_hash") == config_hash(alertmanager.config_path.read_bytes())


def test_apply_with_a_deleted_remote_branch_keeps_the_last_good_file(tmp_path, capsys):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("specs", **{"s.yaml": server(), "o.yaml": recipient_list("ops", ["o@example.com"])})
    repo.git("checkout", "-q", "-b", "prod")
    output = tmp_path / "alertmanager.yml"
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: 'file://{repo.path}', branch: prod}}\ntarget:\n  output: {output}\n"
                      f"  alertmanagers: []\nstateDir: {tmp_path / 'state'}\n")
    assert main(["apply", "--config", str(config)]) == 0
    before = output.read_bytes()
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-q", "-D", "prod")
    capsys.readouterr()
    assert main(["apply", "--config", str(config)]) == 2  # the branch cannot be read: could not run
    err = capsys.readouterr().err
    assert err.startswith(f"nothing applied: file://{repo.path}: fetching branch 'prod' failed")
    assert "couldn't find remote ref refs/heads/prod" in err
    assert output.read_bytes() == before


def test_invalid_daemon_config_exits_2_located(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text("source:\n  repo: /x\n  brnch: main\n")
    assert main(["apply", "--config", str(config)]) == 2
    assert capsys.readouterr().err.strip() == (f"{config}:3:3: source.brnch: unknown field 'brnch': "
                                               "did you mean 'branch'?")


@pytest.mark.parametrize("line, shown", [
    ("  smtp_auth_password: hunter2", "  smtp_auth_password: <secret>"),
    ("      - api_key: abc123", "      - api_key: <secret>"),
    ("  slack_api_url: https://hooks.slack.com/T/B/x", "  slack_api_url: <secret>"),
    ("        routing_key: 'k'", "        routing_key: <secret>"),
    ("  url: https://user:pa55@example.com/hook", "  url: https://user:<secret>@example.com/hook"),
    ("  smtp_auth_password_file: /etc/pw", "  smtp_auth_password_file: /etc/pw"),
    ("  group_by: [alertname]", "  group_by: [alertname]"),
    # flow style, as a hand-written base often has it
    ("  - {to: a@example.com, auth_password: Hunter2, send_resolved: true}",
     "  - {to: a@example.com, auth_password: <secret>, send_resolved: true}"),
    ("  - {auth_password: 'a, b}', api_key: \"x\\\"y\"}", "  - {auth_password: <secret>, api_key: <secret>}"),
    ('  "auth_password": "Hunter2"', '  "auth_password": <secret>'),
    ("  smtp_auth_password: a,b}c # plain, block style: to the end of the line", "  smtp_auth_password: <secret>"),
    ("  smtp_auth_password: ''", "  smtp_auth_password: ''"),
    # Discord's webhook_url is a SecretURL in Alertmanager 0.25 (the token is in its path)
    ("      - webhook_url: https://discord.com/api/webhooks/1/t0ken", "      - webhook_url: <secret>"),
    ("  client_secret: abc", "  client_secret: <secret>"),
])
def test_redact(line, shown):
    assert redact(line + "\n") == shown + "\n"


def test_redact_hides_the_lines_of_a_block_scalar_under_a_secret_key():
    text = ("global:\n  smtp_auth_password: |-\n    Hunter2\n\n    more\n  smtp_from: a@example.com\n"
            "receivers: []\n")
    assert redact(text) == ("global:\n  smtp_auth_password: |-\n    <secret>\n\n    <secret>\n"
                            "  smtp_from: a@example.com\nreceivers: []\n")


@pytest.mark.parametrize("before, after", [
    ("a: 1\nb: 2\nc: 3\n", "a: 1\nb: 20\nc: 3\nd: 4"),
    ("".join(f"line {i}\n" for i in range(40)), "".join(f"line {i}\n" for i in range(40) if i not in (3, 30))),
    ("", "x: 1\n"),
    ("x: 1\n", ""),
])
def test_diff_without_secrets_is_exactly_difflibs(before, after):
    expected = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                       for line in difflib.unified_diff(before.splitlines(keepends=True),
                                                        after.splitlines(keepends=True), fromfile="live",
                                                        tofile="new"))
    assert unified_diff(before, after, "live", "new") == expected


def test_diff_is_empty_for_equal_configs_and_colours_only_when_asked():
    assert unified_diff("a: 1\n", "a: 1\n", "live", "new") == ""
    diff = unified_diff("a: 1\n", "a: 2\n", "live", "new")
    assert "-a: 1\n+a: 2\n" in diff and "\x1b[" not in diff
    assert "\x1b[31m-a: 1\x1b[0m" in colourise(diff)


def test_diff_shows_a_changed_secret_as_a_change_of_redacted_lines():
    live = "global:\n  smtp_auth_password: old-one\n  smtp_from: a@example.com\n"
    diff = unified_diff(live, live.replace("old-one", "new-one"), "live", "new")
    assert "-  smtp_auth_password: <secret>\n+  smtp_auth_password: <secret>\n" in diff
    assert "old-one" not in diff and "new-one" not in diff
    # Alertmanager's own status shows secrets as <secret> already: only the redacted texts compare.
    assert unified_diff(redact(live), live, "am", "new", live_redacted=True) == ""


def test_each_at_once_answers_in_order_and_raises_the_first_failure_after_all_ran():
    assert each_at_once(lambda item: item * 10, list(range(40)), most=4) == [item * 10 for item in range(40)]
    ran = []

    def call(item: int) -> int:
        ran.append(item)
        if item in (3, 5):
            raise DeployError(f"refused {item}")
        return item

    with pytest.raises(DeployError, match="refused 3"):
        each_at_once(call, list(range(8)))
    assert sorted(ran) == list(range(8))


RELOAD_NAMES = """
import json, threading
from reconciler.io.deploy import each_at_once
print(json.dumps(each_at_once(lambda url: [url, threading.current_thread().name], ["am1", "am2", "am3"])))
"""


def test_several_alertmanagers_are_reloaded_when_no_thread_can_be_started(tmp_path):
    """Whatever holds the unit's tasks, a pass that reloads several Alertmanagers goes on in
    its own thread: slower, not failed (a ThreadPoolExecutor raised "can't start new thread"
    out of the pass). A real limit: a pids cgroup that holds the one process, nothing more."""
    with TaskLimit(1) as limit:
        result = subprocess.run(limit.wrap([sys.executable, "-c", RELOAD_NAMES]), capture_output=True, text=True,
                                timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [["am1", "MainThread"], ["am2", "MainThread"], ["am3", "MainThread"]]
