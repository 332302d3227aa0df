"""who-gets --at: which lists their time windows let be mailed at one instant, in words and in
JSON, and exit 1 with "nobody is mailed" when every list that takes the alert is held back then.
The real Alertmanager checks the same answers in tests/integration/test_time_windows.py."""

from __future__ import annotations

import json
import textwrap

import pytest

from reconciler.cli.main import main


def doc(kind: str, name: str, spec: str) -> str:
    return (f"apiVersion: notify-reconciler/v1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n"
            + textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ") + "\n")


FILES = {
    "server.yaml": doc("EmailServer", "smtp", "host: smtp.example.com\nport: 587\nfrom: a@example.com\n"),
    "office.yaml": doc("RecipientList", "office", "recipients: [office@example.com]\nactiveDuring: [business-hours]\n"
                                                  "mutedDuring: [lunch]\n"),
    "oncall.yaml": doc("RecipientList", "oncall", "recipients: [oncall@example.com]\nmatchers: ['severity=\"page\"']\n"
                                                  "mutedDuring: [lunch]\n"),
    "windows.yaml": doc("TimeWindow", "business-hours", """
        location: Europe/Berlin
        weekdays: ['monday:friday']
        times: [{start: '09:00', end: '17:00'}]
    """) + "---\n" + doc("TimeWindow", "lunch", "location: Europe/Berlin\ntimes: [{start: '12:00', end: '13:00'}]\n"),
}
MONDAY_10_BERLIN = "2026-11-30T09:00:00Z"
MONDAY_12_30_BERLIN = "2026-11-30T12:30:00+01:00"
SUNDAY = "2026-11-29T10:00:00Z"


@pytest.fixture
def folder(tmp_path):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def run(capsys, *arguments: str) -> tuple[int, str, str]:
    status = main(["who-gets", *arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_a_list_inside_its_active_window_is_mailed_and_the_window_is_named(folder, capsys):
    status, out, err = run(capsys, str(folder), "alertname=DiskFull", "--at", MONDAY_10_BERLIN)
    assert status == 0 and err == ""
    assert out.splitlines()[-1] == ("  mailed at 2026-11-30T09:00:00Z (Mon 10:00 in Europe/Berlin): inside its "
                                    "activeDuring window business-hours, outside its mutedDuring window lunch")


def test_outside_every_active_window_nobody_is_mailed_and_the_list_is_named(folder, capsys):
    status, out, err = run(capsys, str(folder), "alertname=DiskFull", "--at", SUNDAY)
    assert status == 1
    assert ("  NOT mailed at 2026-11-29T10:00:00Z (Sun 11:00 in Europe/Berlin): outside its activeDuring window "
            "business-hours, outside its mutedDuring window lunch") in out
    assert err == ("nobody is mailed for {alertname=DiskFull} at 2026-11-29T10:00:00Z: the lists that take it are "
                   "muted then (office is outside its activeDuring window business-hours)\n")


def test_inside_a_mute_window_every_list_is_held_back(folder, capsys):
    status, out, err = run(capsys, str(folder), "alertname=DiskFull", "severity=page", "--at", MONDAY_12_30_BERLIN)
    assert status == 1
    assert err.startswith("nobody is mailed for {alertname=DiskFull severity=page} at 2026-11-30T11:30:00Z: the lists "
                          "that take it are muted then (office is inside its mutedDuring window lunch; oncall is "
                          "inside its mutedDuring window lunch)")


def test_one_list_held_back_while_another_is_mailed_is_exit_0_and_says_which(folder, capsys):
    status, out, err = run(capsys, str(folder), "severity=page", "--at", SUNDAY)
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "office: office@example.com"
    assert lines[2] == ("  NOT mailed at 2026-11-29T10:00:00Z (Sun 11:00 in Europe/Berlin): outside its activeDuring "
                        "window business-hours, outside its mutedDuring window lunch")
    assert lines[3] == "oncall: oncall@example.com"
    assert lines[5] == ("  mailed at 2026-11-29T10:00:00Z (Sun 11:00 in Europe/Berlin): outside its mutedDuring "
                        "window lunch")


def test_json_says_for_each_list_whether_it_is_mailed_and_by_which_window(folder, capsys):
    status, out, _ = run(capsys, str(folder), "severity=page", "--at", MONDAY_12_30_BERLIN, "--output", "json")
    answer = json.loads(out)
    assert status == 1 and answer["mailed"] is False and answer["at"] == "2026-11-30T11:30:00Z"
    assert [{key: item[key] for key in ("name", "activeDuring", "mutedDuring", "activeBy", "mutedBy", "mailed")}
            for item in answer["lists"]] == [
        {"name": "office", "activeDuring": ["business-hours"], "mutedDuring": ["lunch"], "activeBy": "business-hours",
         "mutedBy": "lunch", "mailed": False},
        {"name": "oncall", "activeDuring": [], "mutedDuring": ["lunch"], "activeBy": None, "mutedBy": "lunch",
         "mailed": False}]


@pytest.mark.parametrize("at", ["tomorrow", "2026-11-30T09:00:00", "2026-11-30"])
def test_a_time_that_is_not_rfc3339_with_an_offset_cannot_run(folder, capsys, at):
    status, out, err = run(capsys, str(folder), "alertname=DiskFull", "--at", at)
    assert status == 2 and out == ""
    assert err.startswith(f"--at: {at!r} is not an RFC 3339 time")


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00Z", "9999-12-31T20:00:00-05:00", "9999-12-31T12:00:00Z"])
def test_a_time_at_the_ends_of_the_calendar_cannot_run_and_says_which_times_can(folder, capsys, at):
    # In Europe/Berlin, 0001-01-01T00:00Z is already year 1 (and 9999-12-31 reaches into year 10000 in
    # New York's month after): a date Python cannot hold, which was an internal error (OverflowError).
    status, out, err = run(capsys, str(folder), "alertname=DiskFull", "--at", at)
    assert (status, out) == (2, "")
    assert err == (f"--at: {at!r} is outside the times a window can be evaluated at: write a time from "
                   "0001-01-02T00:00:00Z to 9999-12-30T23:59:59Z\n")


def test_without_at_it_answers_for_now(folder, capsys):
    status, out, _ = run(capsys, str(folder), "severity=page", "--output", "json")
    assert status in (0, 1)  # lunch time in Berlin, or not
    assert json.loads(out)["at"].endswith("Z")


def test_the_bases_own_time_intervals_are_read_and_ours_are_named_without_our_prefix(folder, tmp_path, capsys):
    base = tmp_path.parent / "base.yml"
    base.write_text("route:\n  receiver: chat\n  routes:\n    - receiver: chat\n      mute_time_intervals: [nights]\n"
                    "receivers: [{name: chat}]\ntime_intervals:\n  - name: nights\n    time_intervals:\n"
                    "      - times: [{start_time: '00:00', end_time: '06:00'}]\n")
    status, out, _ = run(capsys, str(folder), "--base", str(base), "alertname=x", "--at", MONDAY_10_BERLIN,
                         "--output", "json")
    assert status == 0
    assert json.loads(out)["lists"][0]["activeBy"] == "business-hours"


BASE_WITH_WINDOWS = """\
route:
  receiver: chat
  routes:
    - receiver: pager
      matchers: ['severity="page"']
      active_time_intervals: [nights]
time_intervals:
  - name: nights
    time_intervals:
      - times: [{start_time: '22:00', end_time: '24:00'}]
        location: Europe/Berlin
receivers: [{name: chat}, {name: pager}]
"""


@pytest.mark.parametrize("at, shown, held", [
    ("2026-11-30T22:30:00Z", ["pager"], []),            # 23:30 in Berlin: inside the base's nights
    (MONDAY_10_BERLIN, [], ["pager"]),                  # 10:00: the base holds pager back
])
def test_the_bases_own_receivers_follow_the_bases_own_time_intervals(folder, capsys, at, shown, held):
    base = folder.parent / "base.yml"
    base.write_text(BASE_WITH_WINDOWS)
    status, out, err = run(capsys, str(folder), "--base", str(base), "severity=page", "--at", at, "--output", "json")
    answer = json.loads(out)
    assert answer["baseReceivers"] == shown and answer["baseReceiversHeldBack"] == held
    status, out, err = run(capsys, str(folder), "--base", str(base), "severity=page", "--at", at)
    assert (f"held back at {at.replace('+00:00', 'Z')} by the base's own time intervals: pager" in out) == bool(held)
    assert ("also the base's own receiver: pager" in out) == bool(shown)
