"""`notify-reconciler run` as a real process: triggers, drift, lock, signals, HTTP, systemd."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.io.alertmanager_api import config_hash

from tests.support.alertmanager import Alertmanager
from tests.support.daemon import PASSWORD, DaemonProcess, get, ready
from tests.support.gitrepo import recipient_list
from tests.support.services import free_port, require_binary, wait_until


@pytest.fixture
def alertmanager(setup):
    """A real Alertmanager reading the daemon's output file."""
    binary = require_binary("prometheus-alertmanager")
    setup.output.write_text("route: {receiver: x}\nreceivers: [{name: x}]\n")
    am = Alertmanager(binary, setup.output, setup.tmp / "am-data").start()
    yield am
    am.stop()


@pytest.mark.alertmanager
def test_commit_reaches_alertmanager_and_sigterm_exits_0(setup, alertmanager):
    am = alertmanager
    daemon = setup.start([am.url])
    ready(setup)
    assert am.metric("alertmanager_config_hash") == config_hash(setup.output.read_bytes())
    setup.repo.commit("add db", **{"db.yaml": recipient_list("db", ["db@example.com"])})
    wait_until(lambda: "notify-reconciler/db" in setup.output.read_text(), 5, "the commit to be applied")
    wait_until(lambda: am.metric("alertmanager_config_hash") == config_hash(setup.output.read_bytes()), 5,
               "Alertmanager to run the new config")
    stopped_at = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - stopped_at < 5
    log = daemon.text()
    assert "event=applied" in log and "trigger=commit" in log and "event=stopped" in log
    assert PASSWORD not in log


@pytest.mark.alertmanager
def test_alertmanager_running_another_config_is_reloaded(setup):
    """Someone reloads Alertmanager from another file while the live file stays ours: the file
    is right, what runs is not. The next poll reloads it.

    Alertmanager reads the live file through a symlink, which the test points elsewhere for
    its reload. Writing the other config into the live file instead (and back) raced the
    daemon's watch: under load it saw the edit and put the file back itself, an edit rather
    than another config running, and "ran another config" never came."""
    binary = require_binary("prometheus-alertmanager")
    setup.output.write_text("route: {receiver: x}\nreceivers: [{name: x}]\n")
    link = setup.tmp / "am-config.yml"
    link.symlink_to(setup.output)
    am = Alertmanager(binary, link, setup.tmp / "am-data").start()
    try:
        daemon = setup.start([am.url])
        ready(setup)
        ours = setup.output.read_bytes()
        other = setup.tmp / "other.yml"
        other.write_text("route: {receiver: y}\nreceivers: [{name: y}]\n")
        point(link, other)
        assert am.reload()[0] == 200
        point(link, setup.output)
        assert setup.output.read_bytes() == ours
        wait_until(lambda: "ran another config" in daemon.text(), 10, "the DriftCorrected event")
        wait_until(lambda: am.metric("alertmanager_config_hash") == config_hash(ours), 5,
                   "the daemon to reload Alertmanager onto the applied config")
    finally:
        am.stop()


def point(link: Path, target: Path) -> None:
    """Make `link` a symlink to `target` in one step (rename), as Alertmanager may read it."""
    new = link.with_name(link.name + ".new")
    new.symlink_to(target)
    new.replace(link)


def test_failed_passes_are_retried_with_backoff(setup):
    """The output folder is missing, so every pass fails. With a 30 s poll, three failures
    within 10 s show the retries (after 1 s, 2 s, ...) and that the loop lives on."""
    config = setup.tmp / "config.yaml"
    daemon = setup.start()
    ready(setup)
    daemon.stop()
    config.write_text(config.read_text().replace("pollInterval: 1s", "pollInterval: 30s")
                      .replace(str(setup.output), str(setup.tmp / "missing" / "alertmanager.yml")))
    retrying = DaemonProcess(config, {"SMTP_PASSWORD": PASSWORD})
    try:
        wait_until(lambda: retrying.text().count("event=failed") >= 3, 10, "three failed passes")
        assert "cannot write" in retrying.text()
        assert retrying.process.poll() is None
    finally:
        retrying.stop()


def test_sigterm_during_reload_retries_exits_within_seconds(setup):
    """Alertmanager is unreachable, so reloads are being retried with backoff (seconds per
    attempt round); SIGTERM abandons the retries, restores the old file and exits 0."""
    daemon = setup.start([f"http://127.0.0.1:{free_port()}"])
    wait_until(lambda: "event=started" in daemon.text(), 10, "the daemon to start")
    time.sleep(0.3)  # the first pass is now waiting between reload attempts
    stopped_at = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - stopped_at < 3
    assert "shutting down: retry abandoned" in daemon.text()
    assert not setup.output.exists()  # there was no file before: none is left behind


def test_second_daemon_on_the_same_state_dir_refuses(setup):
    setup.start()
    ready(setup)
    second = subprocess.run([sys.executable, "-m", "reconciler", "run", "--config", str(setup.tmp / "config.yaml")],
                            capture_output=True, text=True, timeout=30)
    assert second.returncode == 2
    assert "another notify-reconciler (pid" in second.stderr and "is running on" in second.stderr


def test_apply_refuses_while_the_daemon_runs_on_the_same_state_dir(setup):
    """Two writers would race for the live file, the reloads and the state: apply says how to
    make the daemon reconcile instead."""
    daemon = setup.start()
    ready(setup)
    before = setup.output.read_bytes()
    setup.repo.commit("another list", **{"dba.yaml": recipient_list("dba", ["dba@example.com"])})
    apply = subprocess.run([sys.executable, "-m", "reconciler", "apply", "--config", str(setup.tmp / "config.yaml")],
                           capture_output=True, text=True, timeout=30)
    assert apply.returncode == 2  # could not run, as for a missing config file
    assert f"(pid {daemon.process.pid}) is running on" in apply.stderr and "SIGHUP" in apply.stderr
    assert apply.stdout == ""
    # The daemon, not apply, takes the commit.
    wait_until(lambda: b"notify-reconciler/dba" in setup.output.read_bytes(), 15, "the daemon to apply the commit")
    assert setup.output.read_bytes() != before


def test_hand_edit_of_the_live_file_is_put_back(setup):
    daemon = setup.start()
    ready(setup)
    applied = setup.output.read_text()
    setup.output.write_text(applied + "# someone's hand edit\n")
    wait_until(lambda: setup.output.read_text() == applied, 5, "the poll to restore the file")
    wait_until(lambda: "notify_reconciler_drift_corrected_total 1.0" in get(setup.url + "/metrics")[1], 5,
               "the drift metric")
    assert "event=DriftCorrected" in daemon.text()


def test_bad_commit_is_recorded_and_the_loop_goes_on(setup):
    daemon = setup.start()
    ready(setup)
    good = setup.output.read_bytes()
    setup.repo.commit("typo", **{"ops.yaml": recipient_list("ops", ["ops@@example"])})
    wait_until(lambda: "event=rejected" in daemon.text(), 5, "the rejection")
    assert setup.output.read_bytes() == good
    setup.repo.commit("fixed", **{"ops.yaml": recipient_list("ops", ["ops@example.org"])})
    wait_until(lambda: "ops@example.org" in setup.output.read_text(), 5, "the fix to be applied")
    assert "ops.yaml:7:7: spec.recipients[0]: 'ops@@example' is not an e-mail address" in daemon.text()


def test_sighup_reconciles_now(setup):
    daemon = setup.start()
    ready(setup)
    daemon.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "trigger=SIGHUP" in daemon.text(), 5, "a pass triggered by SIGHUP")
    assert daemon.process.poll() is None


def test_http_endpoints_and_no_secret_in_metrics(setup):
    setup.start()
    assert get(setup.url + "/healthz")[0] in (0, 200)
    ready(setup)
    assert get(setup.url + "/healthz") == (200, "ok\n")
    status, metrics = get(setup.url + "/metrics")
    assert status == 200
    assert 'notify_reconciler_reconciles_total{result="applied"} 1.0' in metrics
    assert f'notify_reconciler_applied_revision_info{{revision="{setup.repo.head()}"}} 1.0' in metrics
    assert PASSWORD not in metrics
    assert get(setup.url + "/nope")[0] == 404
    # The password named by passwordEnv went to a 0600 file, never into the rendered config.
    secret = setup.tmp / "state" / "secrets" / "smtp-password-smtp"
    assert secret.read_text() == PASSWORD and secret.stat().st_mode & 0o777 == 0o600
    assert PASSWORD not in setup.output.read_text()


def test_systemd_notify_ready_status_and_watchdog(setup):
    address = str(setup.tmp / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(10)
        daemon = setup.start(env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"})
        messages: list[str] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (
                "READY=1" in messages and any(m.startswith("STATUS=") for m in messages) and "WATCHDOG=1" in messages):
            messages.append(sock.recv(4096).decode())
        assert "READY=1" in messages and "WATCHDOG=1" in messages
        status = next(m for m in messages if m.startswith("STATUS="))
        assert status.startswith(f"STATUS=applied {setup.repo.head()[:7]} 'first'")
        daemon.stop()


def test_a_hand_edit_is_put_back_in_about_a_second_not_at_the_next_poll(setup, tmp_path):
    """The live file is watched (inotify), like the branch: with an hour between polls, a
    hand edit is still put back at once."""
    config = tmp_path / "config-hourly.yaml"
    config.write_text(f"source: {{repo: {setup.repo.path}, pollInterval: 1h}}\n"
                      f"target: {{output: {setup.output}, alertmanagers: []}}\n"
                      f"stateDir: {tmp_path / 'state'}\nlisten: 127.0.0.1:{free_port()}\n")
    daemon = DaemonProcess(config, {"SMTP_PASSWORD": PASSWORD})
    try:
        wait_until(lambda: "event=applied" in daemon.text(), 15, "the first pass")
        applied = setup.output.read_text()
        setup.output.write_text(applied + "# someone's hand edit\n")
        # Polls are an hour apart: only the watch can put it back within the wait (generous,
        # so a loaded machine does not fail it).
        wait_until(lambda: setup.output.read_text() == applied, 30, "the watch to restore the file")
        wait_until(lambda: 'trigger="live file changed"' in daemon.text(), 5, "the pass the watch triggered")
        assert "event=DriftCorrected" in daemon.text()
    finally:
        daemon.stop()
