"""Time windows, judged by the real Alertmanager 0.25.

- What validate refuses in a TimeWindow, amtool refuses too (and the few things validate
  refuses beyond it, such as month 13, never match anything); the same for time zone names.
- The evaluation: windows generated around this very instant, in zones on both sides of the
  date line and at odd offsets, written every way Alertmanager takes them (names in any case,
  ranges, negative days of the month), each on its own list; one alert goes through the real
  Alertmanager to the SMTP sink. The lists `timewindows.contains` says are active get exactly
  one mail each, the others none (Alertmanager's own debug log counts each one it held back),
  and `who-gets --at` names the same lists.
"""

from __future__ import annotations

import json
import random
import subprocess
import time
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import pytest

from reconciler.cli.main import main
from reconciler.specs.pipeline import parse_specs
from reconciler.core.render import render_alertmanager_config
from reconciler.am.timewindows import (ALERTMANAGER_KEYS, MONTHS, SPEC_KEYS, WEEKDAYS, _days_in_month, contains,
                                       never_holds, parse_interval, window_problems)

from tests.support.alertmanager import Alertmanager
from tests.support.gitrepo import document, recipient_list, server
from tests.support.services import require_binary, wait_until
from tests.support.smtp import start_smtp_server
from tests.support.time_window_values import FIELD_VALUES, TIMES


pytestmark = pytest.mark.alertmanager


# -- validation: ours against amtool's ---------------------------------------------------------

STRICTER = {("months", "13"), ("months", "0"), ("months", "-1"), ("years", "0"), ("years", "-1"), ("years", "99999"),
            ("location", "Local"), ("location", "Europe/./Berlin"), ("location", "Europe//Berlin")}
"""What validate refuses and Alertmanager takes: months and years that never match, the host's
own zone, and zone names that are not written as the IANA database writes them."""

INTERVALS = [{key: [value]} for key, values in FIELD_VALUES.items() if key != "location" for value in values] + \
    [{"location": value} for value in FIELD_VALUES["location"]] + \
    [{"times": [{"start_time": start, "end_time": end}]} for start, end in TIMES]


@pytest.fixture(scope="module")
def amtool_verdicts(tmp_path_factory) -> list[tuple[bool, str]]:
    """amtool's verdict on a config holding each interval: one run for all of them (amtool
    checks every file it is given and says SUCCESS or FAILED for each, in order)."""
    folder = tmp_path_factory.mktemp("intervals")
    paths = []
    for index, interval in enumerate(INTERVALS):
        config = {"route": {"receiver": "x", "routes": [{"receiver": "x", "active_time_intervals": ["w"]}]},
                  "receivers": [{"name": "x"}], "time_intervals": [{"name": "w", "time_intervals": [interval]}]}
        paths.append(folder / f"{index:03d}.yml")
        paths[-1].write_text(json.dumps(config))  # JSON is YAML, and quotes every value
    result = subprocess.run([require_binary("amtool"), "check-config", *map(str, paths)], capture_output=True,
                            text=True, timeout=60)
    verdicts = [(line.split("'  ", 1)[1].startswith("SUCCESS"), line) for line in result.stdout.splitlines()
                if line.startswith("Checking '")]
    assert len(verdicts) == len(INTERVALS), result.stdout + result.stderr
    return verdicts


@pytest.mark.parametrize("index", range(len(INTERVALS)), ids=[json.dumps(i) for i in INTERVALS])
def test_validate_refuses_what_amtool_refuses_and_little_more(amtool_verdicts, index):
    interval = INTERVALS[index]
    ours = window_problems(interval, ALERTMANAGER_KEYS)
    accepted, said = amtool_verdicts[index]
    key, values = next(iter(interval.items()))
    value = values if isinstance(values, str) else values[0] if key != "times" else None
    if not accepted:
        assert ours, f"amtool refuses {interval} and validate does not: {said}"
    elif ours:
        assert (key, value) in STRICTER, f"validate refuses {interval}, which amtool accepts: {ours[0].message}"


def test_amtool_is_asked_about_each_interval_and_does_refuse_some(amtool_verdicts):
    assert sum(accepted for accepted, _ in amtool_verdicts) not in (0, len(INTERVALS))
    assert "FAILED: start day cannot be before end day" in amtool_verdicts[INTERVALS.index(
        {"weekdays": ["friday:monday"]})][1]


# -- evaluation: ours against what the real Alertmanager mails ---------------------------------

ZONES = ("UTC", "Europe/Berlin", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu", "America/St_Johns",
         "Australia/Lord_Howe", "America/Los_Angeles")
"""Both sides of the date line (UTC+14 and UTC-11), quarter- and half-hour offsets, DST in both
hemispheres: most of them are on another day or hour than UTC right now."""
STEADY = timedelta(seconds=15)
"""Alertmanager's `now` is the moment it flushes, a few seconds after the test's: the test
starts in the first 45 seconds of a minute, and checks that the mails are dated in that minute,
so the windows' boundaries can sit right at this minute."""


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def spelled(rng: random.Random, name: str) -> str:
    return rng.choice((name, name.upper(), name.capitalize()))


def field_around(rng: random.Random, field: str, local: datetime, holds: bool):
    """A value of `field` that (meant to) hold(s) at `local` or not, written one of the ways
    Alertmanager takes it. The expectation is computed afterwards, by `contains`."""
    if field == "times":
        minute = local.hour * 60 + local.minute
        if holds:  # often starting right at this minute: the start is inclusive
            start, end = max(0, minute - rng.choice((0, 0, 1, 5))), min(1440, minute + rng.choice((1, 1, 2, 30)))
        elif rng.random() < 0.5 and minute >= 1:
            start, end = max(0, minute - rng.randint(1, 30)), minute  # ends where now is: the end is exclusive
        else:
            start = min(1439, minute + rng.choice((1, 1, 2, 30)))  # starts right after
            end = min(1440, start + rng.randint(1, 60))
        ranges = [{"start": hhmm(start), "end": hhmm(max(end, start + 1))}]
        if rng.random() < 0.3:
            ranges.insert(0, {"start": "00:00", "end": hhmm(max(1, min(start, 60)))})
        return ranges
    if field == "weekdays":
        today = (local.weekday() + 1) % 7
        if holds:
            low, high = rng.randint(0, today), rng.randint(today, 6)
        else:
            other = [day for day in range(7) if day != today]
            low = high = rng.choice(other)
            if rng.random() < 0.5 and today > 0:
                low, high = 0, today - 1
        text = spelled(rng, WEEKDAYS[low]) if low == high else f"{spelled(rng, WEEKDAYS[low])}:{WEEKDAYS[high]}"
        return [text]
    if field == "daysOfMonth":
        days = _days_in_month(local.year, local.month, local.tzinfo)
        neighbours = [d for d in (local.day - 1, local.day + 1) if 1 <= d <= days]
        others = [d for d in range(1, days + 1) if d != local.day]
        day = local.day if holds else rng.choice(neighbours if rng.random() < 0.6 else others)
        negative = day - days - 1
        if rng.random() < 0.4:
            return [negative]
        if rng.random() < 0.5:
            return [f"{max(1, day - rng.randint(0, 3))}:{min(days, day + rng.randint(0, 3))}" if holds else str(day)]
        return [str(day) if rng.random() < 0.5 else f"{negative}:-1"]
    if field == "months":
        month = local.month if holds else rng.choice([m for m in (local.month - 1, local.month + 1) if 1 <= m <= 12]
                                                     if rng.random() < 0.6 else
                                                     [m for m in range(1, 13) if m != local.month])
        return [rng.choice((spelled(rng, MONTHS[month - 1]), month, f"{month}:{month}"))]
    if field == "years":
        year = local.year if holds else local.year + rng.choice((-1, 1))
        return [rng.choice((year, f"{year}:{year + 1}", f"{year - 1}:{year}"))]
    raise AssertionError(field)


def generated_windows(now: datetime, count: int, seed: int) -> list[dict]:
    """TimeWindow specs around `now`, each steady over the next minute, about half of them active."""
    rng = random.Random(seed)
    windows: list[dict] = []
    while len(windows) < count:
        zone = rng.choice(ZONES)
        local = now.astimezone(ZoneInfo(zone))
        fields = rng.sample(("times", "weekdays", "daysOfMonth", "months", "years"), rng.randint(1, 3))
        active = rng.random() < 0.5
        spec = {"location": zone}
        for index, field in enumerate(fields):
            spec[field] = field_around(rng, field, local, active or index > 0)
        if window_problems(spec, SPEC_KEYS):
            continue  # e.g. a times range squeezed against midnight
        interval = parse_interval(spec, SPEC_KEYS)
        if never_holds(interval):
            continue  # e.g. day 29 of this February in the year before: refused, as it never holds
        verdicts = {contains(interval, now + step) for step in (timedelta(0), STEADY / 2, STEADY)}
        if len(verdicts) == 1:
            windows.append(spec)
    return windows


def window_document(name: str, spec: dict) -> str:
    return document("TimeWindow", name, "\n".join(f"{key}: {json.dumps(value)}" for key, value in spec.items()))


@pytest.fixture
def sink():
    smtp = start_smtp_server()
    yield smtp
    smtp.controller.stop()


@pytest.mark.slow
def test_alertmanager_mails_exactly_the_lists_whose_windows_hold_now_and_who_gets_agrees(tmp_path, sink, capsys):
    now = datetime.now(timezone.utc)
    if now.second >= 60 - STEADY.total_seconds():  # too late in this minute: take the next one
        time.sleep(60.2 - now.second - now.microsecond / 1e6)
        now = datetime.now(timezone.utc)
    windows = generated_windows(now, 60, seed=int(now.timestamp()) // 60)
    files = {"server.yaml": server(port=sink.port),
             "policy.yaml": document("NotificationPolicy", "p", "groupWait: 0s\ngroupInterval: 10m\n")}
    expected: dict[str, bool] = {}
    for index, spec in enumerate(windows):
        files[f"w{index}.yaml"] = window_document(f"w{index}", spec)
        holds = contains(parse_interval(spec, SPEC_KEYS), now)
        # Each window guards one list as activeDuring; every third also mutes another list.
        files[f"active{index}.yaml"] = recipient_list(f"active{index}", [f"active{index}@example.com"],
                                                      activeDuring=f"[w{index}]")
        expected[f"active{index}"] = holds
        if index % 3 == 0:
            files[f"muted{index}.yaml"] = recipient_list(f"muted{index}", [f"muted{index}@example.com"],
                                                         mutedDuring=f"[w{index}]")
            expected[f"muted{index}"] = not holds
    # A list both active and muted by windows that hold is muted: Alertmanager checks both.
    holding = [f"w{i}" for i, spec in enumerate(windows) if contains(parse_interval(spec, SPEC_KEYS), now)]
    assert 2 <= len(holding) < len(windows), "the generator should give active and inactive windows"
    files["both.yaml"] = recipient_list("both", ["both@example.com"], activeDuring=f"[{holding[0]}]",
                                        mutedDuring=f"[{holding[-1]}]")
    expected["both"] = False
    folder = tmp_path / "specs"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)

    # who-gets, asked about this instant, before anything is sent.
    assert main(["who-gets", str(folder), "alertname=TimeWindowTest", "--at", now.isoformat(),
                 "--output", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert {item["name"]: item["mailed"] for item in answer["lists"]} == expected

    config = tmp_path / "alertmanager.yml"
    config.write_text(render_alertmanager_config(parse_specs({n: t.encode() for n, t in files.items()})))
    am = Alertmanager(require_binary("prometheus-alertmanager"), config, tmp_path / "am",
                      extra_args=("--log.level=debug",)).start()
    try:
        am.post_alerts([{"labels": {"alertname": "TimeWindowTest"}}])
        mailed = sorted(name for name, holds in expected.items() if holds)
        held = len(expected) - len(mailed)
        received = sink.wait_for(len(mailed), timeout=20)
        # Every list Alertmanager held back says so in its debug log, once per group it flushed.
        wait_until(lambda: am.log(whole=True).count("Notifications not sent, route is") >= held, 20,
                   f"Alertmanager to hold back {held} lists")
        assert am.log(whole=True).count("Notifications not sent, route is") == held
        wait_until(lambda: am.metric('alertmanager_notifications_total{integration="email"}') == len(mailed), 10,
                   "Alertmanager's count of e-mails sent")
        assert sorted(message.recipients[0].split("@")[0] for message in sink.messages) == mailed
        assert len(received) == len(mailed)
        sent = {parsedate_to_datetime(message.message["Date"]).astimezone(timezone.utc).replace(second=0,
                                                                                              microsecond=0)
                for message in received}
        assert sent == {now.replace(second=0, microsecond=0)}, "Alertmanager flushed in another minute than now"
    finally:
        am.stop()
