"""What a pusher writes and what the operator configures reach people only as safe text
(issue 25, findings 8, 9, 10 and 13), seen on the real daemon's surfaces: its log (read
with a strict logfmt reader), `status`, /readyz, /metrics and the own-alert mails.

- a token in source.repo is in none of them (the suite-wide audit looks for it too);
- a commit's author, subject and file names show their control characters escaped;
- a hostile subject cannot add a key to a log line;
- a rejected revision is logged once, not at every poll.
"""

from __future__ import annotations

import subprocess
import sys
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from tests.support.audit import GIT_TOKEN
from tests.support.daemon import DaemonProcess, get
from tests.support.gitrepo import DumbHttpRemote, GitRepo, recipient_list, server
from tests.support.logfmt_parser import parse
from tests.support.services import free_port, wait_until


def write_config(path: Path, repo: str, tmp_path: Path, listen: int) -> Path:
    path.write_text(f"source: {{repo: '{repo}', pollInterval: 1s}}\n"
                    f"target: {{output: {tmp_path}/alertmanager.yml, alertmanagers: []}}\n"
                    f"stateDir: {tmp_path}/state\nlisten: 127.0.0.1:{listen}\nownAlerts: {{gracePeriod: 1s}}\n")
    return path


def body(received) -> str:
    return message_from_bytes(received.content, policy=default).get_content()


def status(config: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "reconciler", "status", "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    return result.stdout + result.stderr


def log_records(daemon: DaemonProcess) -> list[dict[str, str]]:
    """Every line of the daemon's log, read as a logfmt pipeline reads it (strictly)."""
    return [parse(line) for line in daemon.text().splitlines()]


def rejected_passes(url: str) -> float:
    for line in get(url + "/metrics")[1].splitlines():
        if line.startswith('notify_reconciler_reconciles_total{result="rejected"} '):
            return float(line.split()[1])
    return 0.0


HOSTILE_AUTHOR = "Mal\x1b[2Jlory"
HOSTILE_SUBJECT = "fix\x1b]0;pwned\x07 colours \x9b31m"
HOSTILE_FILE = "ops\x1b[31m.yaml"


def test_control_characters_of_a_commit_are_shown_escaped_in_status_readyz_and_mail(tmp_path, smtp):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("good", **{"server.yaml": server(port=smtp.port),
                           "ops.yaml": recipient_list("ops", ["ops@example.com"])})
    listen = free_port()
    config = write_config(tmp_path / "config.yaml", str(repo.path), tmp_path, listen)
    daemon = DaemonProcess(config)
    try:
        wait_until(lambda: "event=applied" in daemon.text(), 20, "the first pass")
        repo.write(HOSTILE_FILE, recipient_list("more", ["ops@@example"]))
        repo.git("add", "-A")
        repo.git("commit", "-q", "--author", f"{HOSTILE_AUTHOR} <m@example.com>", "-m", HOSTILE_SUBJECT)
        mail = body(smtp.wait_for_alert("ConfigRejected"))
        shown = status(config)
        ready = get(f"http://127.0.0.1:{listen}/readyz")[1]
    finally:
        daemon.stop()
    for surface in (shown, ready, mail):
        assert not any(char in surface for char in "\x1b\x07\x9b"), surface
        assert "by Mal\\x1b[2Jlory" in surface
        # A name with a control character is refused from the tree's listing (shown escaped).
        assert "the file name 'ops\\x1b[31m.yaml' holds a control character: rename it" in surface
    assert "fix\\x1b]0;pwned\\x07 colours \\x9b31m" in mail
    # Nor does the log carry them raw; the subject is a quoted, escaped value there.
    assert not any(char in daemon.text() for char in "\x1b\x07\x9b")


def test_a_hostile_subject_cannot_add_a_key_to_a_log_line(tmp_path, smtp):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("good", **{"server.yaml": server(port=smtp.port),
                           "ops.yaml": recipient_list("ops", ["ops@example.com"])})
    config = write_config(tmp_path / "config.yaml", str(repo.path), tmp_path, free_port())
    daemon = DaemonProcess(config)
    subject = "it's fine\" event=applied revision=0000000 trigger=commit message=\"all good \\ \x1b[2J"
    try:
        wait_until(lambda: "event=applied" in daemon.text(), 20, "the first pass")
        sha = repo.commit(subject, **{"ops.yaml": recipient_list("ops", ["ops@@example"])})
        smtp.wait_for_alert("ConfigRejected")
        wait_until(lambda: "event=mail_sent" in daemon.text() and "ConfigRejected" in daemon.text().split(
            "event=mail_sent", 1)[-1], 10, "the ConfigRejected mail_sent log line")
    finally:
        daemon.stop()
    records = log_records(daemon)  # each line parses, no key twice
    [rejection] = [record for record in records if record["event"] == "rejected"]
    assert set(rejection) == {"ts", "level", "event", "revision", "trigger", "seconds", "message"}
    assert rejection["revision"] == sha[:7]
    assert rejection["message"].startswith(f"{sha[:7]} {subject!r} rejected")
    [sent] = [record for record in records if record["event"] == "mail_sent" and "ConfigRejected" in record["subject"]]
    assert set(sent) == {"ts", "level", "event", "subject", "recipients", "route"}
    assert [record["event"] for record in records].count("applied") == 1  # the first pass, not the subject


def test_a_rejected_revision_is_logged_once_not_at_every_poll(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("good", **{"server.yaml": server(), "ops.yaml": recipient_list("ops", ["ops@example.com"])})
    listen = free_port()
    config = write_config(tmp_path / "config.yaml", str(repo.path), tmp_path, listen)
    daemon = DaemonProcess(config)
    try:
        wait_until(lambda: "event=applied" in daemon.text(), 20, "the first pass")
        sha = repo.commit("typo", **{"ops.yaml": recipient_list("ops", ["ops@@example"])})
        # The commit, then at least three polls (1 s apart) rejecting the same revision.
        wait_until(lambda: rejected_passes(f"http://127.0.0.1:{listen}") >= 4, 30, "four rejected passes")
    finally:
        daemon.stop()
    # Read as plain words, not with the logfmt reader: this holds whatever the quoting.
    warnings = [line.split(" ")[2:4] for line in daemon.text().splitlines()
                if line.split(" ")[1] == "level=WARNING" and line.split(" ")[2].startswith("event=rejected")]
    assert warnings == [["event=rejected", f"revision={sha[:7]}"], ["event=rejected_error", f"revision={sha[:7]}"]]


def test_a_token_in_the_repo_url_reaches_no_log_status_readyz_metric_or_mail(tmp_path, smtp):
    repo = GitRepo(tmp_path / "repo")
    # Enough lists that the first pass keeps its parses and renders as snapshots (cache.py),
    # whose key names the repository: the audit reads the state directory too.
    teams = {f"team{n:02d}.yaml": recipient_list(f"team{n:02d}", [f"team{n:02d}@example.com"]) for n in range(32)}
    repo.commit("good", **{"server.yaml": server(port=smtp.port),
                           "ops.yaml": recipient_list("ops", ["ops@example.com"]), **teams})
    remote = DumbHttpRemote(repo, tmp_path)
    listen = free_port()
    # The config holds the token, as the operator wrote it: the audit spares this file only.
    config = write_config(tmp_path / "config.credentials.yaml", remote.url(f"deploy:{GIT_TOKEN}"), tmp_path,
                          listen)
    daemon = DaemonProcess(config)
    try:
        wait_until(lambda: "event=applied" in daemon.text(), 20, "the first pass, fetched over HTTP")
        repo.commit("typo", **{"ops.yaml": recipient_list("ops", ["ops@@example"])})
        remote.publish()
        rejected = smtp.wait_for_alert("ConfigRejected")
        remote.stop()  # every fetch fails now: SourceUnavailable, with git's own words
        unavailable = smtp.wait_for_alert("SourceUnavailable", timeout=30)
        shown = status(config)
        ready = get(f"http://127.0.0.1:{listen}/readyz")[1]
        metrics = get(f"http://127.0.0.1:{listen}/metrics")[1]
    finally:
        daemon.stop()
    redacted = f"http://<secret>@127.0.0.1:{remote.port}/remote.git"
    assert f"repo={redacted}" in daemon.text()
    assert f"{redacted}: fetching branch 'main' failed" in body(unavailable)
    assert f"last error: {redacted}: fetching branch 'main' failed" in shown
    assert f"last error: {redacted}: fetching branch 'main' failed" in ready
    for surface in (daemon.text(), shown, ready, metrics, body(rejected), body(unavailable)):
        assert GIT_TOKEN not in surface
