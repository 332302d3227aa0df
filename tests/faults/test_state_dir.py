"""The state directory full or read-only: the live config stays whole and current, the daemon
goes on, says what it could not record, and catches up once the disk is usable again."""

from __future__ import annotations

import subprocess
import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from reconciler.service.state import load_state

from tests.support.daemon import DaemonProcess, start_daemon
from tests.support.gitrepo import GitRepo, document, recipient_list, server
from tests.support.services import _missing, wait_until
from tests.support.smtp import start_smtp_server


@pytest.fixture
def small_disk(tmp_path):
    """A 256 kB tmpfs for the state directory (needs the right to mount, as root here)."""
    mount_point = tmp_path / "state"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        _missing(f"cannot mount a tmpfs here ({result.stderr.strip()}): this test needs root with CAP_SYS_ADMIN")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def test_full_state_dir_keeps_the_config_current_mails_it_and_catches_up(tmp_path, small_disk):
    smtp = start_smtp_server()
    repo = GitRepo(tmp_path / "repo")
    files = {"server.yaml": server(port=smtp.port), "ops.yaml": recipient_list("ops", ["ops@example.com"])}
    repo.commit("start", **files)
    output = tmp_path / "alertmanager.yml"
    daemon = start_daemon(tmp_path, repo, output, state_dir=small_disk)
    try:
        filler = small_disk / "filler"
        with open(filler, "wb") as out:
            try:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            except OSError:
                pass

        sha = repo.commit("raise repeat interval", **{"policy.yaml": document("NotificationPolicy", "p",
                                                                                 "repeatInterval: 6h\n")})
        wait_until(lambda: "repeat_interval: 6h" in output.read_text(), 10, "the commit to go live anyway")
        wait_until(lambda: "the state could not be recorded" in daemon.text(), 10, "the failure to be said")
        assert daemon.process.poll() is None  # still running
        # The outbox cannot take the mail either: it goes out from memory.
        firing = smtp.wait_for_alert("ApplyFailed", timeout=20)
        subject = str(message_from_bytes(firing.content, policy=default)["Subject"])
        assert subject.startswith(f"[FIRING] ApplyFailed: applied {sha[:7]}") and "could not be recorded" in subject

        filler.unlink()
        wait_until(lambda: (s := load_state(small_disk)).applied is not None and s.applied.sha == sha, 10,
                   "the state to catch up")
        assert load_state(small_disk).attempted.result in ("applied", "unchanged")
        resolved = smtp.wait_for_alert("ApplyFailed", "resolved", timeout=20)
        subject = str(message_from_bytes(resolved.content, policy=default)["Subject"])
        assert subject.startswith("[RESOLVED] ApplyFailed resolved")
        wait_until(lambda: not list((small_disk / "outbox").glob("*.json")), 10, "the outbox to empty")
        time.sleep(6)  # one more mailer tick: nothing is sent twice
        assert len(smtp.messages) == 2
    finally:
        assert daemon.stop() == 0
        smtp.controller.stop()


def remount(mount_point: Path, mode: str) -> None:
    """`ro` fails with EBUSY while a file is open for writing there (a state write in
    flight): try again for a few seconds."""
    deadline = time.monotonic() + 10
    while True:
        result = subprocess.run(["mount", "-o", f"remount,{mode}", str(mount_point)], capture_output=True, text=True)
        if result.returncode == 0:
            return
        assert time.monotonic() < deadline, f"cannot remount {mount_point} {mode}: {result.stderr}"
        time.sleep(0.1)


def test_state_dir_turning_read_only_under_the_daemon_loses_no_commit_and_no_mail(tmp_path, small_disk):
    smtp = start_smtp_server()
    repo = GitRepo(tmp_path / "repo")
    repo.commit("start", **{"server.yaml": server(port=smtp.port),
                            "ops.yaml": recipient_list("ops", ["ops@example.com", "dba@example.com"])})
    output = tmp_path / "alertmanager.yml"
    daemon = start_daemon(tmp_path, repo, output, state_dir=small_disk)
    try:
        remount(small_disk, "ro")  # possible because the daemon holds no file open for writing there

        # A good commit still goes live; not recording it is an ApplyFailed, mailed from memory.
        repo.commit("raise repeat interval", **{"policy.yaml": document("NotificationPolicy", "p",
                                                                           "repeatInterval: 6h\n")})
        wait_until(lambda: "repeat_interval: 6h" in output.read_text(), 10, "the commit to go live anyway")
        smtp.wait_for_alert("ApplyFailed", timeout=20)
        # A bad commit is still rejected as such, and mailed.
        repo.commit("typo", **{"ops.yaml": recipient_list("ops", ["ops@@example"])})
        smtp.wait_for_alert("ConfigRejected", timeout=20)
        assert "repeat_interval: 6h" in output.read_text()
        wait_until(lambda: "kept in memory and sent anyway" in daemon.text(), 10, "the log line about the state dir")
        assert daemon.process.poll() is None

        remount(small_disk, "rw")
        sha = repo.commit("fix the typo", **{"ops.yaml": recipient_list("ops", ["ops@example.com"])})
        smtp.wait_for_alert("ApplyFailed", "resolved", timeout=20)
        smtp.wait_for_alert("ConfigRejected", "resolved", timeout=20)
        subjects = [str(message_from_bytes(m.content, policy=default)["Subject"]) for m in smtp.messages]
        assert [subject.split(":")[0] for subject in subjects] == [
            "[FIRING] ApplyFailed", "[FIRING] ConfigRejected", "[RESOLVED] ApplyFailed resolved",
            "[RESOLVED] ConfigRejected resolved"]
        assert "the state could not be recorded" in subjects[0]
        # The last valid config's recipients: both lists until the fix, which drops dba@.
        assert [sorted(m.recipients) for m in smtp.messages] == [["dba@example.com", "ops@example.com"]] * 2 + [
            ["ops@example.com"]] * 2
        wait_until(lambda: (s := load_state(small_disk)).applied is not None and s.applied.sha == sha, 10,
                   "the state to catch up")
        wait_until(lambda: not list((small_disk / "outbox").glob("*.json")), 5, "the outbox to empty")
        time.sleep(6)  # one more mailer tick: nothing is sent twice
        assert len(smtp.messages) == 4
    finally:
        assert daemon.stop() == 0
        smtp.controller.stop()


def test_read_only_state_dir_is_refused_at_start_and_touches_nothing(tmp_path, small_disk):
    """A state directory that is read-only when the daemon starts: it refuses to start (it
    could not hold its lock or record anything) and says why."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit("start", **{"server.yaml": server(), "ops.yaml": recipient_list("ops", ["ops@example.com"])})
    output = tmp_path / "alertmanager.yml"
    output.write_text("route: {receiver: x}\nreceivers: [{name: x}]\n")
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {repo.path}}}\ntarget: {{output: {output}, alertmanagers: []}}\n"
                      f"stateDir: {small_disk}\nlisten: 127.0.0.1:0\n")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    daemon = DaemonProcess(config)
    assert daemon.process.wait(timeout=30) == 2
    daemon.stop()  # closes the log
    assert f"{small_disk}: cannot use the state directory: Read-only file system" in daemon.text()
    assert output.read_text() == "route: {receiver: x}\nreceivers: [{name: x}]\n"
