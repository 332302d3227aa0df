"""Outages that last: the SMTP server down for minutes, the git remote gone. Each ends in
the documented state (last good config live, `status` and /metrics say what waits), with
the right own alert, and nothing lost once the outage ends."""

from __future__ import annotations

import re
import socket
import threading
import time
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from tests.support.daemon import DaemonProcess, get, status_output
from tests.support.gitrepo import GitRepo, document, recipient_list, server
from tests.support.services import free_port, wait_until
from tests.support.smtp import start_smtp_server


OUTAGE_SECONDS = 120.0
"""Two minutes: long enough for the outbox back-off to reach its ceiling (60 s)."""


def subjects(smtp) -> list[str]:
    return [str(message_from_bytes(m.content, policy=default)["Subject"]) for m in smtp.messages]


def metric(port: int, name: str, labels: str = "") -> float | None:
    status, text = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


class Busy421:
    """A server that accepts connections and answers 421 (service not available), as a mail
    relay does while it is overloaded or shutting down."""

    def __init__(self, port: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self.listener.settimeout(0.2)
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with connection:
                connection.sendall(b"421 4.3.2 busy, try again later\r\n")

    def stop(self) -> None:
        self.running = False
        self.thread.join()
        self.listener.close()


def write_config(tmp_path: Path, repo: str, listen: int, grace: str = "60s", allow_rewind: bool = False) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {repo}, pollInterval: 1s, allowRewind: {str(allow_rewind).lower()}}}\n"
                      f"target: {{output: {tmp_path / 'alertmanager.yml'}, alertmanagers: []}}\n"
                      f"stateDir: {tmp_path / 'state'}\nlisten: 127.0.0.1:{listen}\n"
                      f"ownAlerts: {{gracePeriod: {grace}}}\n")
    return config


@pytest.mark.slow
def test_smtp_server_down_for_minutes_loses_no_mail_and_keeps_the_order(tmp_path):
    smtp_port, listen = free_port(), free_port()
    repo = GitRepo(tmp_path / "repo")
    repo.commit("start", **{"server.yaml": server(port=smtp_port),
                            "ops.yaml": recipient_list("ops", ["ops@example.com"])})
    config = write_config(tmp_path, str(repo.path), listen)
    daemon = DaemonProcess(config)
    try:
        wait_until(lambda: "event=applied" in daemon.text(), 15, "the first pass")
        outage_began = time.monotonic()
        repo.commit("typo", **{"ops.yaml": recipient_list("ops", ["ops@@example"])})
        wait_until(lambda: "event=mail_deferred" in daemon.text(), 15, "the first try to fail")
        fixed = repo.commit("fix", **{"ops.yaml": recipient_list("ops", ["ops@example.com"])})
        wait_until(lambda: metric(listen, "notify_reconciler_outbox_messages", '{state="pending"}') == 2, 15,
                   "both mails to wait in the outbox")
        # The config goes on being applied while mail waits; status says what waits.
        code, text = status_output(config)
        assert fixed[:7] in text and "outbox:     2 waiting, 0 given up" in text

        # First half: nothing listens (connection refused); second half: a relay answering 421.
        time.sleep(max(0.0, outage_began + OUTAGE_SECONDS / 2 - time.monotonic()))
        busy = Busy421(smtp_port)
        time.sleep(max(0.0, outage_began + OUTAGE_SECONDS - time.monotonic()))
        busy.stop()
        assert busy.connections >= 1
        # Backing off: a handful of tries in two minutes, not one per mailer tick (5 s).
        tries = daemon.text().count("event=mail_deferred")
        assert 3 <= tries <= 8, f"{tries} tries during the outage"

        smtp = start_smtp_server(port=smtp_port)
        back = time.monotonic()
        try:
            # The SMTP probe may add its own SmtpUnreachable mails about this very outage (they
            # are queued after these two): the two about the commit must arrive, in order.
            def about_the_commit() -> list[str]:
                return [s.split(":")[0] for s in subjects(smtp) if "ConfigRejected" in s]

            wait_until(lambda: len(about_the_commit()) >= 2, 90, "both mails about the commit")
            waited = time.monotonic() - back
            assert about_the_commit() == ["[FIRING] ConfigRejected", "[RESOLVED] ConfigRejected resolved"]
            print(f"outage {OUTAGE_SECONDS:.0f} s, {tries} tries; both mails arrived {waited:.1f} s after "
                  f"the server came back")
            assert waited <= 60 + 5 + 10  # MAX_BACKOFF, one mailer tick, slack
            wait_until(lambda: metric(listen, "notify_reconciler_outbox_messages", '{state="pending"}') == 0, 15,
                       "the outbox to empty")
            assert list((tmp_path / "state" / "outbox").glob("*.json")) == []
            assert status_output(config)[0] == 0
        finally:
            smtp.controller.stop()
    finally:
        assert daemon.stop() == 0


def test_unreachable_remote_mails_source_unavailable_and_resolves_after_a_force_push(tmp_path):
    smtp = start_smtp_server()
    upstream = GitRepo(tmp_path / "upstream")
    first = upstream.commit("start", **{"server.yaml": server(port=smtp.port),
                                        "ops.yaml": recipient_list("ops", ["ops@example.com"])})
    upstream.commit("slower repeats", **{"policy.yaml": document("NotificationPolicy", "p", "repeatInterval: 6h\n")})
    listen = free_port()
    # This team force-pushes on purpose (source.allowRewind): otherwise the rewritten branch
    # would be refused as not descending from the applied commit.
    config = write_config(tmp_path, f"file://{upstream.path}", listen, grace="2s", allow_rewind=True)
    output = tmp_path / "alertmanager.yml"
    daemon = DaemonProcess(config)
    try:
        wait_until(lambda: "event=applied" in daemon.text(), 20, "the first pass")
        live = output.read_bytes()
        away = upstream.path.with_name("upstream-away")
        upstream.path.rename(away)

        firing = smtp.wait_for_alert("SourceUnavailable", timeout=30)
        assert str(firing.message["Subject"]).startswith("[FIRING] SourceUnavailable")
        assert firing.recipients == ["ops@example.com"]
        body = message_from_bytes(firing.content, policy=default).get_content()
        assert "What to do:" in body and str(upstream.path) in body
        assert output.read_bytes() == live  # the last good config stays
        code, text = status_output(config)
        assert code == 1 and "own alerts: SourceUnavailable firing" in text
        assert metric(listen, "notify_reconciler_reconciles_total", '{result="failed"}') >= 1

        # Back, with history rewritten: the branch now ends in a commit the clone never saw.
        # Rewritten while away, so that no poll sees the old head back for a moment (that
        # would resolve the alert with the old commit: right, but not what this waits for).
        home, upstream.path = upstream.path, away
        upstream.git("reset", "-q", "--hard", first)
        rewritten = upstream.commit("rewritten: weekly repeats",
                                    **{"policy.yaml": document("NotificationPolicy", "p", "repeatInterval: 168h\n")})
        upstream.path = home
        away.rename(home)
        resolved = smtp.wait_for_alert("SourceUnavailable", "resolved", timeout=30)
        assert str(resolved.message["Subject"]).startswith("[RESOLVED] SourceUnavailable resolved: applied "
                                                           + rewritten[:7])
        assert "repeat_interval: 168h" in output.read_text()
        time.sleep(3)
        assert len(smtp.messages) == 2  # one firing, one resolved: no repeats in between
    finally:
        assert daemon.stop() == 0
        smtp.controller.stop()


def test_deleted_remote_branch_mails_source_unavailable_and_resolves_when_it_is_pushed_again(tmp_path):
    smtp = start_smtp_server()
    upstream = GitRepo(tmp_path / "upstream")
    upstream.commit("start", **{"server.yaml": server(port=smtp.port),
                                "ops.yaml": recipient_list("ops", ["ops@example.com"])})
    config = write_config(tmp_path, f"file://{upstream.path}", free_port(), grace="2s")
    output = tmp_path / "alertmanager.yml"
    daemon = DaemonProcess(config)
    try:
        wait_until(lambda: "event=applied" in daemon.text(), 20, "the first pass")
        live = output.read_bytes()
        upstream.git("checkout", "-q", "-b", "elsewhere")
        upstream.git("branch", "-q", "-D", "main")

        firing = smtp.wait_for_alert("SourceUnavailable", timeout=30)
        assert str(firing.message["Subject"]).startswith("[FIRING] SourceUnavailable")
        body = message_from_bytes(firing.content, policy=default).get_content()
        assert "'main'" in body and "What to do:" in body
        assert output.read_bytes() == live
        code, text = status_output(config)
        assert code == 1 and "own alerts: SourceUnavailable firing" in text

        # Pushed again, with a new commit on it: the branch appears at that commit at once (a
        # poll between re-creating it at the old commit and committing would resolve the
        # alert with the old commit, which is right, but not what this test waits for).
        back = upstream.commit("slower repeats",
                               **{"policy.yaml": document("NotificationPolicy", "p", "repeatInterval: 6h\n")})
        upstream.git("branch", "-q", "main", back)
        resolved = smtp.wait_for_alert("SourceUnavailable", "resolved", timeout=30)
        assert str(resolved.message["Subject"]).startswith("[RESOLVED] SourceUnavailable resolved: applied " + back[:7])
        assert "repeat_interval: 6h" in output.read_text()
        assert status_output(config)[0] == 0
    finally:
        assert daemon.stop() == 0
        smtp.controller.stop()
