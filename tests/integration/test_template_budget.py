"""Templates a commit brings are rendered by the real amtool within a budget of time, output
and memory (issue 25, finding 4): one that loops, recurses or grows without end is a located
error in its template file (a subject: at its field), so the commit is rejected for good; and
the daemon keeps pinging systemd's watchdog while amtool runs, so it is not killed meanwhile."""

from __future__ import annotations

import signal
import socket
import stat
import threading
import time
from email import message_from_bytes
from email.policy import default

import pytest

from reconciler.io import template_engine
from reconciler.io.amtool import Budget, OverBudget, run_amtool
from reconciler.cli.main import main
from reconciler.io.template_engine import TEMPLATE_BUDGET

from tests.support.costly_templates import HUGE, MEMORY, NEVER_ENDS, doubling
from tests.support.gitrepo import recipient_list, server
from tests.support.services import require_binary, wait_until
from tests.support.smtp import start_smtp_server


def spec_folder(tmp_path, template: str, **list_fields: str):
    folder = tmp_path / "specs"
    (folder / "t").mkdir(parents=True)
    (folder / "server.yaml").write_text(server())
    (folder / "ops.yaml").write_text(recipient_list("ops", ["ops@example.com"], **list_fields))
    (folder / "t" / "hostile.tmpl").write_text(template)
    return folder


@pytest.mark.parametrize("template, overrun", [
    (NEVER_ENDS, "did not finish within 5 s"),
    (HUGE, "wrote more than 4 MiB"),
    (MEMORY, "needed more than 96 MiB of memory"),
], ids=["time", "output", "memory"])
def test_a_template_over_budget_is_an_error_in_its_file(tmp_path, capsys, template, overrun):
    require_binary("amtool")
    folder = spec_folder(tmp_path, template, templates="{html: t/hostile.tmpl}")
    assert main(["validate", str(folder)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{folder}/t/hostile.tmpl:1:1: as the html body, with Alertmanager's example data: rendering {overrun}: "
        "Alertmanager would do as much for every mail (a loop or a recursion that grows without end?); make the "
        "template do less"]


def test_a_subject_that_never_finishes_is_an_error_at_the_subject(tmp_path, capsys):
    """The endless part is a define in the body's file, which the body does not use: the
    subject calls it."""
    require_binary("amtool")
    folder = spec_folder(tmp_path, doubling(40, "") + "text body\n",
                         subject="'{{ template \"level40\" . }}'", templates="{text: t/hostile.tmpl}")
    assert main(["validate", str(folder)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{folder}/ops.yaml:8:12: spec.subject: with Alertmanager's example data: rendering did not finish within "
        "5 s: Alertmanager would do as much for every mail (a loop or a recursion that grows without end?); make "
        "the template do less"]


def test_templates_left_unrendered_when_locating_runs_out_of_time_are_refused(tmp_path, capsys, monkeypatch):
    """Two endless bodies overrun the batch together; saying which would take 5 s each. With
    no time left for that (LOCATE_SECONDS, 30 s, set to 0 here), both are refused unrendered:
    never accepted for want of time."""
    require_binary("amtool")
    monkeypatch.setattr(template_engine, "LOCATE_SECONDS", 0.0)
    folder = spec_folder(tmp_path, NEVER_ENDS, templates="{html: t/hostile.tmpl}")
    (folder / "t" / "other.tmpl").write_text(doubling(40, "", "other") + '{{ template "other40" . }}\n')
    (folder / "db.yaml").write_text(recipient_list("db", ["db@example.com"], templates="{html: t/other.tmpl}"))
    assert main(["validate", str(folder)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{folder}/t/{name}.tmpl:1:1: as the html body, with Alertmanager's example data: not rendered, because "
        "rendering this commit's subjects and templates took more than 0 s in all; see the other errors"
        for name in ("hostile", "other")]


def test_the_whole_check_has_one_deadline_even_when_every_subject_renders(tmp_path, capsys, monkeypatch):
    """Subjects with a variable each get an amtool run of their own (up to 5 s each); a
    commit of thousands must not hold a pass for hours (found in review: 20 slow subjects
    took 54 s and were accepted). Past the one deadline (30 s; 0 here), what is left is
    refused unrendered."""
    require_binary("amtool")
    monkeypatch.setattr(template_engine, "LOCATE_SECONDS", 0.0)
    folder = spec_folder(tmp_path, "body\n", subject="'{{ $n := .Status }}{{ $n }}'", templates="{text: t/hostile.tmpl}")
    assert main(["validate", str(folder)]) == 1
    assert "spec.subject: with Alertmanager's example data: not rendered, because rendering this commit's " \
           "subjects and templates took more than 0 s in all" in capsys.readouterr().err


def test_preview_of_a_template_over_budget_for_its_alert_says_so(tmp_path, capsys):
    """Fine with the example data, 8 MiB for an alert labelled big=yes: preview reads no more
    than the budget of it and says why there is no mail."""
    require_binary("amtool")
    folder = spec_folder(tmp_path, doubling(13, "x" * 1024) + '{{ if eq .CommonLabels.big "yes" }}'
                                   '{{ template "level13" . }}{{ end }}small\n', templates="{html: t/hostile.tmpl}")
    out = tmp_path / "mail"
    assert main(["preview", str(folder), "--list", "ops", "--labels", "big=no", "-o", str(out)]) == 0
    assert main(["preview", str(folder), "--list", "ops", "--labels", "big=yes", "-o", str(tmp_path / "big")]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "ops.yaml:8:21: spec.templates.html: does not render for this alert: rendering wrote more than 4 MiB")
    assert not (tmp_path / "big.eml").exists()


@pytest.mark.parametrize("script, overrun", [
    ("exec sleep 30", "time"),
    ("exec yes amtool", "output"),
], ids=["time", "output"])
def test_run_amtool_stops_a_program_at_its_budget(tmp_path, script, overrun):
    """The runner holds any program to the budget: killed at the deadline, or once it has
    written more than the output budget (read as it comes, never all of it kept)."""
    fake = tmp_path / "amtool"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(OverBudget) as raised:
        run_amtool(str(fake), [], Budget(seconds=1.0, output_bytes=1 << 20, memory_bytes=TEMPLATE_BUDGET.memory_bytes))
    assert raised.value.what == overrun


WATCHDOG_SECONDS = 4.0


def test_the_daemon_is_pinged_through_a_template_that_never_ends_and_mails_config_rejected(setup):  # noqa: F811
    """systemd's part played here: the watchdog (WatchdogSec=4s, so pings every 2 s) would kill
    the service at a gap of more than 4 s between two WATCHDOG=1. A commit brings a template
    that never finishes: the pass spends its 5 s budget in amtool, the pings go on, and the
    commit is rejected (ConfigRejected, naming the template file), not retried as a failure."""
    require_binary("amtool")
    smtp = start_smtp_server()
    setup.repo.commit("good", **{"server.yaml": server(port=smtp.port),
                                 "ops.yaml": recipient_list("ops", ["ops@example.com"])})
    pings: list[float] = []
    messages: list[str] = []
    address = str(setup.tmp / "notify.sock")
    manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    manager.bind(address)
    manager.settimeout(0.5)
    listening = threading.Event()
    listening.set()

    def service_manager() -> None:
        while listening.is_set():
            try:
                message = manager.recv(4096).decode()
            except OSError:
                continue
            messages.append(message)
            if message == "WATCHDOG=1":
                pings.append(time.monotonic())

    thread = threading.Thread(target=service_manager, daemon=True)
    thread.start()
    try:
        daemon = setup.start(env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": str(int(WATCHDOG_SECONDS * 1e6))})
        wait_until(lambda: "READY=1" in messages, 15, "READY=1")
        hostile = setup.repo.commit("a template that never ends", **{
            "ops.yaml": recipient_list("ops", ["ops@example.com"], templates="{html: t/never.tmpl}"),
            "t__never.tmpl": NEVER_ENDS})
        since = time.monotonic()
        mail = smtp.wait_for_alert("ConfigRejected", timeout=60)
        until = time.monotonic()
        assert daemon.process.poll() is None
        body = message_from_bytes(mail.content, policy=default).get_content()
        assert f"{hostile[:7]} 'a template that never ends' rejected" in body
        assert "t/never.tmpl:1:1: as the html body, with Alertmanager's example data: rendering did not finish " \
               "within 5 s" in body
        # From the last ping before the commit to the mail: never a gap systemd would punish.
        before = [at for at in pings if at <= since]
        during = before[-1:] + [at for at in pings if since < at <= until]
        gaps = [later - earlier for earlier, later in zip(during, [*during[1:], until])]
        assert before and max(gaps) <= WATCHDOG_SECONDS, \
            f"no WATCHDOG=1 for {max(gaps, default=0):.1f} s: systemd would have killed it"
        assert "event=rejected" in daemon.text() and "event=failed" not in daemon.text()
        daemon.stop(signal.SIGTERM)
    finally:
        listening.clear()
        thread.join(timeout=5)
        manager.close()
        smtp.controller.stop()
