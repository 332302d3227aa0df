"""timewindows: Alertmanager 0.25's time intervals, read and evaluated as timeinterval.go does.
Pure, so plain values in and out. The real Alertmanager judges the same rules in
tests/integration/test_time_windows.py (validation by amtool, evaluation by what it mails)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from reconciler.am.timewindows import (ALERTMANAGER_KEYS, SPEC_KEYS, Range, TimeInterval, WindowError, contains,
                                       first_containing, parse_instant, parse_interval, window_problems)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def window(**fields) -> TimeInterval:
    return parse_interval(fields, SPEC_KEYS)


BUSINESS = window(location="Europe/Berlin", weekdays=["monday:friday"], times=[{"start": "09:00", "end": "17:00"}])


@pytest.mark.parametrize("instant, inside", [
    ("2026-11-30T08:00:00+00:00", True),    # Monday 09:00 in Berlin: the start minute is inside
    ("2026-11-30T07:59:59+00:00", False),   # 08:59:59 there
    ("2026-11-30T15:59:59+00:00", True),    # 16:59:59
    ("2026-11-30T16:00:00+00:00", False),   # 17:00: the end minute is outside
    ("2026-11-30T09:30:00+01:00", True),    # the same instant, written with Berlin's offset
    ("2026-11-29T10:00:00+00:00", False),   # Sunday
    ("2026-12-04T15:30:00+00:00", True),    # Friday 16:30
    ("2026-07-06T07:30:00+00:00", True),    # Monday 09:30 in summer time (UTC+2)
    ("2026-07-06T15:30:00+00:00", False),   # 17:30 in summer time
])
def test_business_hours_are_read_in_the_windows_location(instant, inside):
    assert contains(BUSINESS, at(instant)) is inside


def test_without_location_the_instant_is_read_in_utc():
    # Alertmanager calls ContainsTime(now.UTC()): no location means UTC, not the host's zone.
    utc = window(times=[{"start": "09:00", "end": "10:00"}])
    assert contains(utc, at("2026-11-30T09:30:00+00:00"))
    assert not contains(utc, at("2026-11-30T09:30:00+01:00"))


def test_the_weekday_is_the_one_in_the_location_across_the_date_line():
    monday = window(location="Pacific/Kiritimati", weekdays=["monday"])  # UTC+14
    assert contains(monday, at("2026-11-29T12:00:00+00:00"))  # Sunday in UTC, Monday 02:00 there
    assert not contains(window(location="UTC", weekdays=["monday"]), at("2026-11-29T12:00:00+00:00"))
    assert contains(window(location="Pacific/Pago_Pago", weekdays=["sunday"]),  # UTC-11
                    at("2026-11-30T10:00:00+00:00"))


def test_24_00_ends_the_day_and_includes_its_last_minute():
    late = window(location="UTC", times=[{"start": "23:00", "end": "24:00"}])
    assert contains(late, at("2026-11-30T23:59:59+00:00"))
    assert not contains(late, at("2026-12-01T00:00:00+00:00"))


@pytest.mark.parametrize("days, instant, inside", [
    (["-1"], "2026-02-28T12:00:00+00:00", True),
    (["-1"], "2026-11-30T12:00:00+00:00", True),
    (["-1"], "2026-12-30T12:00:00+00:00", False),
    (["-7:-1"], "2026-12-25T12:00:00+00:00", True),
    (["-7:-1"], "2026-12-24T12:00:00+00:00", False),
    (["31"], "2026-02-28T12:00:00+00:00", False),        # starts after February's end: skipped
    (["30:31"], "2026-11-30T12:00:00+00:00", True),      # starts on the last day: not skipped
    (["31:31"], "2026-11-30T12:00:00+00:00", False),
    (["29:31"], "2028-02-29T12:00:00+00:00", True),      # a leap year
    (["25:-3"], "2026-02-25T12:00:00+00:00", True),      # -3 is the 26th in February 2026
    (["25:-3"], "2026-02-27T12:00:00+00:00", False),
    ([1, "15"], "2026-11-15T00:00:00+00:00", True),      # a YAML number is the same day
])
def test_days_of_month_count_negative_days_from_the_months_end(days, instant, inside):
    assert contains(window(location="UTC", daysOfMonth=days), at(instant)) is inside


def test_a_month_with_a_spring_forward_hour_is_a_day_short_as_in_alertmanager_0_25():
    # timeinterval.daysInMonth in 0.25 divides the 743 hours of March 2026 in Berlin by 24 and
    # truncates: 30 days, so -1 is the 30th there (fixed upstream in 2026, alertmanager#5447).
    last = window(location="Europe/Berlin", daysOfMonth=["-1"])
    assert contains(last, at("2026-03-30T12:00:00+02:00"))
    assert not contains(last, at("2026-03-31T12:00:00+02:00"))
    assert contains(window(location="UTC", daysOfMonth=["-1"]), at("2026-03-31T12:00:00+00:00"))
    assert contains(last, at("2026-10-31T12:00:00+01:00"))  # falling back adds an hour: 31 days still


@pytest.mark.parametrize("fields, instant, inside", [
    ({"months": ["november:december"]}, "2026-11-01T00:00:00+00:00", True),
    ({"months": ["January", 3]}, "2026-03-10T00:00:00+00:00", True),
    ({"months": ["january:february"]}, "2026-03-10T00:00:00+00:00", False),
    ({"years": ["2026:2027"]}, "2027-12-31T23:59:00+00:00", True),
    ({"years": [2025]}, "2026-01-01T00:00:00+00:00", False),
    ({"weekdays": ["Saturday", "sunday"]}, "2026-11-29T00:00:00+00:00", True),
    ({}, "2026-11-29T00:00:00+00:00", True),  # no field: always
    ({"weekdays": ["monday"], "times": [{"start": "00:00", "end": "01:00"}, {"start": "12:00", "end": "13:00"}]},
     "2026-11-30T12:30:00+00:00", True),
])
def test_every_field_given_must_hold_and_any_entry_of_a_field_will_do(fields, instant, inside):
    assert contains(window(location="UTC", **fields), at(instant)) is inside


def test_alertmanager_keys_read_the_same_window():
    from_config = parse_interval({"weekdays": ["monday:friday"],
                                  "times": [{"start_time": "09:00", "end_time": "17:00"}],
                                  "location": "Europe/Berlin"}, ALERTMANAGER_KEYS)
    assert from_config == BUSINESS


def test_first_containing_names_the_first_window_that_holds():
    windows = {"a": (window(location="UTC", weekdays=["monday"]),), "b": (window(location="UTC"),)}
    assert first_containing(windows, ("a", "b"), at("2026-11-30T00:00:00+00:00")) == "a"
    assert first_containing(windows, ("a", "b"), at("2026-11-29T00:00:00+00:00")) == "b"
    assert first_containing(windows, ("a",), at("2026-11-29T00:00:00+00:00")) is None


@pytest.mark.parametrize("fields, path, words", [
    ({"weekdays": ["friday:monday"]}, ("weekdays", 0), "ends before it starts"),
    ({"weekdays": ["mon"]}, ("weekdays", 0), "is not a weekday"),
    ({"weekdays": ["1"]}, ("weekdays", 0), "is not a weekday"),  # Alertmanager takes names only
    ({"times": [{"start": "9:00", "end": "17:00"}]}, ("times", 0, "start"), "two-digit hours"),
    ({"times": [{"start": "09:00", "end": "24:01"}]}, ("times", 0, "end"), "is not a time of day"),
    ({"times": [{"start": "17:00", "end": "09:00"}]}, ("times", 0, "end"), "is not after the start"),
    ({"times": [{"start": "09:00", "end": "09:00"}]}, ("times", 0, "end"), "is not after the start"),
    ({"daysOfMonth": ["0"]}, ("daysOfMonth", 0), "is not a day of the month"),
    ({"daysOfMonth": [32]}, ("daysOfMonth", 0), "is not a day of the month"),
    ({"daysOfMonth": ["-1:5"]}, ("daysOfMonth", 0), "must end so too"),
    ({"daysOfMonth": ["28:-1"]}, ("daysOfMonth", 0), "28 + end"),  # Alertmanager's 28-day rule
    ({"daysOfMonth": ["1:2:3"]}, ("daysOfMonth", 0), "is not a range"),
    ({"months": ["jan"]}, ("months", 0), "is not a month"),
    ({"months": ["13"]}, ("months", 0), "is not a month"),  # stricter than Alertmanager: never matches
    ({"months": ["december:january"]}, ("months", 0), "does not wrap"),
    ({"years": ["2027:2026"]}, ("years", 0), "ends before it starts"),
    ({"years": ["20_26"]}, ("years", 0), "is not a year"),
    ({"location": "Mars/Olympus"}, ("location",), "is not a time zone"),
    ({"location": "europe/berlin"}, ("location",), "case-sensitive"),
    ({"location": "Local"}, ("location",), "whatever host runs Alertmanager"),
    ({"location": "../../etc/passwd"}, ("location",), "is not a time zone"),
])
def test_each_bad_field_is_named_with_what_to_write(fields, path, words):
    problems = window_problems({"location": "UTC", **fields})
    assert [problem.path for problem in problems] == [path]
    assert words in problems[0].message
    with pytest.raises(WindowError):
        parse_interval({"location": "UTC", **fields}, SPEC_KEYS)


@pytest.mark.parametrize("text, expected", [
    ("2026-11-30T09:00:00Z", datetime(2026, 11, 30, 9, tzinfo=timezone.utc)),
    ("2026-11-30t09:00:00z", datetime(2026, 11, 30, 9, tzinfo=timezone.utc)),
    ("2026-11-30T10:00:00+01:00", datetime(2026, 11, 30, 9, tzinfo=timezone.utc)),
    ("2026-11-30T09:00:00.5Z", datetime(2026, 11, 30, 9, 0, 0, 500000, tzinfo=timezone.utc)),
])
def test_rfc3339_instants(text, expected):
    assert parse_instant(text) == expected


@pytest.mark.parametrize("text", ["2026-11-30T09:00:00", "2026-11-30", "tomorrow", "09:00Z", ""])
def test_an_instant_without_date_time_and_offset_is_refused(text):
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_instant(text)


ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Kiritimati")


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES), start=st.integers(0, 1439), length=st.integers(1, 1440),
       seconds=st.integers(0, 4 * 365 * 86400))
def test_a_times_range_holds_exactly_for_the_local_minutes_from_start_to_before_end(zone, start, length, seconds):
    end = min(start + length, 1440)
    hhmm = lambda minute: f"{minute // 60:02d}:{minute % 60:02d}"  # noqa: E731
    interval = window(location=zone, times=[{"start": hhmm(start), "end": hhmm(end)}])
    instant = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds)
    from zoneinfo import ZoneInfo
    local = instant.astimezone(ZoneInfo(zone))
    assert contains(interval, instant) is (start <= local.hour * 60 + local.minute < end)
    assert Range(start, end) in interval.times


def test_the_months_alertmanager_counts_short_are_those_that_gain_summer_time():
    from reconciler.am.timewindows import short_months

    assert short_months("Europe/Berlin", 2026) == (3,)
    assert short_months("America/New_York", 2026) == (3,)
    assert short_months("Australia/Sydney", 2026) == (10,)  # the southern spring
    assert short_months("UTC", 2026) == () and short_months("Asia/Tokyo", 2026) == ()


def test_validate_warns_of_a_day_counted_from_the_end_in_such_a_month(tmp_path, capsys):
    from reconciler.cli.main import main

    def window(name: str, spec: str) -> str:
        return f"apiVersion: notify-reconciler/v1\nkind: TimeWindow\nmetadata: {{name: {name}}}\nspec: {spec}\n"

    (tmp_path / "w.yaml").write_text("---\n".join([
        window("month-end", "{location: Europe/Berlin, daysOfMonth: [-1]}"),
        window("december-end", "{location: Europe/Berlin, daysOfMonth: ['-7:-1'], months: [december]}"),
        window("utc-end", "{location: UTC, daysOfMonth: [-1]}"),
        window("first", "{location: Europe/Berlin, daysOfMonth: [1]}")]))
    (tmp_path / "server.yaml").write_text("apiVersion: notify-reconciler/v1\nkind: EmailServer\nmetadata: {name: s}\n"
                                          "spec: {host: smtp.example.com, port: 587, from: a@example.com, "
                                          "enabled: false}\n")
    assert main(["validate", str(tmp_path)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"{tmp_path}/w.yaml:1:1: warning: spec.daysOfMonth: Alertmanager 0.25 "
                                               "counts March ")
    assert "in Europe/Berlin one day short" in err[0]


def test_a_host_without_a_tz_database_says_so_instead_of_calling_every_zone_unknown():
    import zoneinfo

    from reconciler.am.timewindows import location_problem

    zoneinfo.reset_tzpath(to=["/nonexistent-zoneinfo"])
    zoneinfo.ZoneInfo.clear_cache()
    try:
        assert "this host has no IANA time zone database" in location_problem("Europe/Berlin")
    finally:
        zoneinfo.reset_tzpath()
        zoneinfo.ZoneInfo.clear_cache()
    assert location_problem("Europe/Berlin") is None
    assert "is not a time zone of the IANA database" in location_problem("Europe/Nowhere")


# -- zones that are the host's own, instants at the ends of the calendar, windows that never hold --

def test_localtime_is_refused_like_local():
    # Debian's tzdata has `localtime` -> /etc/localtime: whatever zone the host has, as 'Local'.
    problems = window_problems({"location": "localtime"})
    assert [problem.path for problem in problems] == [("location",)]
    assert "'localtime' is a link to /etc/localtime" in problems[0].message
    assert "whatever host runs Alertmanager" in problems[0].message


def tz_database_links() -> list[str]:
    import os

    root = "/usr/share/zoneinfo"
    return sorted(os.path.relpath(os.path.join(folder, name), root) for folder, _, names in os.walk(root)
                  for name in names if os.path.islink(os.path.join(folder, name)))


def test_of_the_tz_databases_links_only_the_one_to_the_hosts_zone_is_refused():
    """Every link of this host's tz database (US/Eastern, GB, Etc/GMT+0, ...) is a fixed zone
    Alertmanager loads as well as we do, but `localtime`, which goes through /etc/localtime."""
    from reconciler.am.timewindows import location_problem

    links = tz_database_links()
    assert len(links) > 100, "no tz database to test with: apt-get install tzdata"
    refused = {name: location_problem(name) for name in links if location_problem(name) is not None}
    assert list(refused) == ["localtime"], refused


def test_any_link_through_etc_localtime_is_refused(tmp_path):
    """A tz database whose own names lead to /etc/localtime, directly or through other links."""
    import os
    import shutil
    import zoneinfo

    from reconciler.am.timewindows import location_problem

    (tmp_path / "Europe").mkdir()
    shutil.copy("/usr/share/zoneinfo/Europe/Berlin", tmp_path / "Europe" / "Berlin")
    (tmp_path / "Host").mkdir()
    os.symlink("/etc/localtime", tmp_path / "Host" / "Zone")
    os.symlink("Host/Zone", tmp_path / "Mine")
    os.symlink("Europe/Berlin", tmp_path / "Berlin")
    zoneinfo.reset_tzpath(to=[str(tmp_path)])
    zoneinfo.ZoneInfo.clear_cache()
    try:
        assert "is a link to /etc/localtime" in location_problem("Host/Zone")
        assert "is a link to /etc/localtime" in location_problem("Mine")
        assert location_problem("Berlin") is None and location_problem("Europe/Berlin") is None
    finally:
        zoneinfo.reset_tzpath()
        zoneinfo.ZoneInfo.clear_cache()


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00Z", "0001-01-01T23:59:59Z", "0001-01-01T10:00:00+14:00",
                                  "9999-12-31T20:00:00-05:00", "9999-12-31T00:00:00Z", "9999-12-31T23:59:59+01:00"])
def test_an_instant_at_the_very_ends_of_the_calendar_is_refused_with_the_range(text):
    with pytest.raises(ValueError, match="write a time from 0001-01-02T00:00:00Z to 9999-12-30T23:59:59Z"):
        parse_instant(text)


def test_every_zone_evaluates_a_window_at_both_ends_of_the_range():
    """The range parse_instant allows, over every zone of the tz database and the fields that
    read the zone's calendar (a month's length, the weekday, the local minute)."""
    import zoneinfo

    from reconciler.am.timewindows import EARLIEST, LATEST

    from reconciler.am.timewindows import location_problem

    zones = sorted(name for name in zoneinfo.available_timezones() if location_problem(name) is None)
    assert len(zones) > 300
    for name in zones:
        interval = window(location=name, daysOfMonth=["-1", "1:2"], weekdays=["sunday:saturday"],
                          times=[{"start": "00:00", "end": "24:00"}])
        for instant in (EARLIEST, LATEST, parse_instant("0001-01-02T00:00:00Z"),
                        parse_instant("9999-12-30T23:59:59Z")):
            contains(interval, instant)  # no OverflowError, no ValueError


@pytest.mark.parametrize("fields, field, words", [
    ({"daysOfMonth": ["31"], "months": ["february"]}, "daysOfMonth", "31 is not a day of February"),
    ({"daysOfMonth": ["30:31"], "months": ["february"]}, "daysOfMonth", "30:31 is not a day of February"),
    ({"daysOfMonth": ["31"], "months": ["february", "april", "june"]}, "daysOfMonth",
     "31 is not a day of February, April or June"),
    ({"daysOfMonth": ["-31:-30"], "months": ["february"]}, "daysOfMonth", "is not a day of February"),
    ({"daysOfMonth": ["29"], "months": ["february"], "years": ["2026:2027"]}, "years",
     "day 29 of February never comes in 2026:2027"),
    ({"daysOfMonth": ["1"], "months": ["january"], "years": ["2026"], "weekdays": ["monday"]}, "weekdays",
     "none of the days it names falls on Monday in 2026"),
    # Alertmanager 0.25 counts March in Berlin as 30 days (the hour summer time takes): the 31st never comes.
    ({"location": "Europe/Berlin", "daysOfMonth": ["31"], "months": ["march"]}, "daysOfMonth",
     "counts March in Europe/Berlin one day short"),
    # The last Sunday of March 2026 is the 29th: 02:00 to 03:00 is not on the clock in Berlin.
    ({"location": "Europe/Berlin", "daysOfMonth": ["29"], "months": ["march"], "years": ["2026"],
      "times": [{"start": "02:00", "end": "02:30"}]}, "times", "where the clock skips ahead in Europe/Berlin"),
])
def test_a_window_that_never_holds_is_named_at_the_field_to_correct(fields, field, words):
    from reconciler.am.timewindows import never_holds

    found = never_holds(window(**{"location": "UTC", **fields}))
    assert found is not None and SPEC_KEYS[found[0]] == field, found
    assert words in found[1] and "so this window never holds" in found[1]


@pytest.mark.parametrize("fields", [
    {"daysOfMonth": ["29"], "months": ["february"]},                       # leap years have it
    {"daysOfMonth": ["29"], "months": ["february"], "years": ["2023:2024"]},
    {"daysOfMonth": ["31"], "months": ["march"]},                          # UTC: no summer time
    {"location": "Europe/Berlin", "daysOfMonth": ["25:31"], "months": ["march"]},  # the 25th to the 30th
    {"location": "Europe/Berlin", "daysOfMonth": ["-1"], "months": ["march"]},
    {"daysOfMonth": ["1"], "months": ["january"], "years": ["2024"], "weekdays": ["monday"]},
    {"location": "Europe/Berlin", "daysOfMonth": ["29"], "months": ["march"], "years": ["2026"],
     "times": [{"start": "01:30", "end": "02:30"}]},
    {"weekdays": ["saturday"], "daysOfMonth": ["13"], "months": ["february"], "years": ["9999"]},
    {"years": ["1:9999"]},
])
def test_a_window_that_holds_somewhere_is_not_refused(fields):
    from reconciler.am.timewindows import never_holds

    assert never_holds(window(**{"location": "UTC", **fields})) is None
