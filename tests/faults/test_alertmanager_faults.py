"""Alertmanager failing under the running daemon: stopped while a commit waits, then back; or
refusing a config that amtool accepted. Each ends in the documented state: the last good
config stays live (in the file and in Alertmanager), the right own alert is mailed once, and
once the fault clears the waiting commit is applied and the alert resolved."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from reconciler.io.alertmanager_api import config_hash

from tests.support.alertmanager import Alertmanager
from tests.support.daemon import start_daemon, status_output
from tests.support.gitrepo import GitRepo, document, recipient_list, server
from tests.support.services import require_binary, require_root, wait_until


pytestmark = pytest.mark.alertmanager

INITIAL = "route: {receiver: hand-made}\nreceivers: [{name: hand-made}]\n"


def policy(repeat: str) -> str:
    return document("NotificationPolicy", "p", f"repeatInterval: {repeat}\n")


@pytest.fixture
def repo(tmp_path, smtp) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("start", **{"server.yaml": server(port=smtp.port), "policy.yaml": policy("12h"),
                            "ops.yaml": recipient_list("ops", ["ops@example.com", "dba@example.com"])})
    return repo


@pytest.mark.slow
def test_alertmanager_down_while_a_commit_waits_gets_it_once_back(tmp_path, repo, smtp):
    binary = require_binary("prometheus-alertmanager")
    output = tmp_path / "alertmanager.yml"
    output.write_text(INITIAL)
    am = Alertmanager(binary, output, tmp_path / "am-data").start()
    daemon = start_daemon(tmp_path, repo, output, alertmanagers=(am.url,), grace="1s")
    try:
        good = output.read_bytes()
        assert am.metric("alertmanager_config_hash") == config_hash(good)

        inode = output.stat().st_ino
        am.stop()
        waiting = repo.commit("weekly repeats", **{"policy.yaml": policy("168h")})
        firing = smtp.wait_for_alert("AlertmanagerUnreachable", timeout=60)
        assert str(firing.message["Subject"]).startswith("[FIRING] AlertmanagerUnreachable")
        assert sorted(firing.recipients) == ["dba@example.com", "ops@example.com"]
        # Pass after pass while it is down, the file is not even rewritten: an Alertmanager
        # starting now would start with the config it last accepted, not an unverified one.
        wait_until(lambda: daemon.text().count("event=failed ") >= 3, 30, "three failed passes")
        assert output.read_bytes() == good and output.stat().st_ino == inode
        code, text = status_output(tmp_path / "config.yaml")
        assert code == 1 and "AlertmanagerUnreachable firing" in text and waiting[:7] in text
        assert f"  {am.url}: unreachable: [Errno 111] Connection refused" in text  # the URL said once

        # Back on the same port, reading the file it had: the waiting commit reaches it.
        am = Alertmanager(binary, output, tmp_path / "am-data", port=am.port).start()
        resolved = smtp.wait_for_alert("AlertmanagerUnreachable", "resolved", timeout=60).message
        assert str(resolved["Subject"]).startswith(f"[RESOLVED] AlertmanagerUnreachable resolved: applied "
                                                   f"{waiting[:7]}")
        assert "repeat_interval: 168h" in output.read_text()
        assert am.metric("alertmanager_config_hash") == config_hash(output.read_bytes())
        assert status_output(tmp_path / "config.yaml")[0] == 0
        time.sleep(2)
        assert len(smtp.messages) == 2  # no repeat, no second resolved mail
    finally:
        assert daemon.stop() == 0
        am.stop()


def test_alertmanager_refusing_what_amtool_accepted_mails_apply_failed_and_keeps_the_old_config(
        tmp_path, repo, smtp, request):
    """Alertmanager runs as nobody; the live file turns 0600 (root), so amtool, run by the
    daemon as root, accepts the new config while Alertmanager's reload is refused."""
    require_root("to run Alertmanager as another user")
    binary = require_binary("prometheus-alertmanager")
    require_binary("amtool")
    shared = Path(tempfile.mkdtemp(prefix="nr-nobody-"))  # tmp_path is root-only
    request.addfinalizer(lambda: shutil.rmtree(shared, ignore_errors=True))
    shared.chmod(0o755)
    output = shared / "alertmanager.yml"
    output.write_text(INITIAL)
    output.chmod(0o644)
    am = Alertmanager(binary, output, shared / "data", run_as="nobody").start()
    daemon = start_daemon(tmp_path, repo, output, alertmanagers=(am.url,), grace="1s")
    try:
        good = output.read_bytes()
        running = am.metric("alertmanager_config_hash")
        assert running == config_hash(good)

        output.chmod(0o600)  # the atomic write keeps the mode it finds
        refused = repo.commit("weekly repeats", **{"policy.yaml": policy("168h")})
        firing = smtp.wait_for_alert("ApplyFailed", timeout=30).message
        assert str(firing["Subject"]).startswith(f"[FIRING] ApplyFailed: {refused[:7]}")
        body = firing.get_payload(decode=True).decode()
        assert "permission denied" in body and "previous config was restored" in body
        # Between passes: a retry pass (every second here) writes the new file again until
        # the reload refuses it, so look between them, not at one instant.
        wait_until(lambda: output.read_bytes() == good, 10, "the previous config back between retries")
        assert am.metric("alertmanager_config_hash") == running
        assert am.metric("alertmanager_config_last_reload_successful") == 0
        code, text = status_output(tmp_path / "config.yaml")
        assert code == 1 and "ApplyFailed firing" in text

        # The daemon keeps retrying (1 s here) without mailing again; once Alertmanager can
        # read the file, the refused commit goes live and the alert resolves.
        time.sleep(3)
        assert len(smtp.messages) == 1
        output.chmod(0o644)
        resolved = smtp.wait_for_alert("ApplyFailed", "resolved", timeout=30).message
        assert str(resolved["Subject"]).startswith(f"[RESOLVED] ApplyFailed resolved: applied {refused[:7]}")
        assert "repeat_interval: 168h" in output.read_text()
        assert am.metric("alertmanager_config_hash") == config_hash(output.read_bytes())
        assert am.metric("alertmanager_config_last_reload_successful") == 1
    finally:
        assert daemon.stop() == 0
        am.stop()
