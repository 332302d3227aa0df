"""Time windows as Alertmanager 0.25 reads and evaluates them (timeinterval/timeinterval.go).

Pure: text in, values out; no clock (the instant is always an argument). The one thing it
reads besides its arguments is the IANA time zone database (/usr/share/zoneinfo, Debian's
tzdata), the same files Alertmanager's Go runtime loads with time.LoadLocation.

- `parse_interval` reads one entry of a `time_intervals` list, from a spec (`daysOfMonth`,
  `times: [{start, end}]`) or from an Alertmanager config (`days_of_month`,
  `times: [{start_time, end_time}]`), with Alertmanager's rules: names are
  case-insensitive, a range is `a:b` or one value, weekdays and months by name (months by
  number too), days of month 1..31 or -31..-1 counted from the month's end, `HH:MM` times
  on the minute with a two-digit hour (24:00 allowed as an end), start before end. It is
  stricter where Alertmanager accepts what can never match (month 13, year 0).
- `contains` is Go's `TimeInterval.ContainsTime(now.UTC())`: the instant in the window's
  location (UTC without one), start minute inclusive, end minute exclusive, negative days
  counted from the month's length as Go computes it (whole 24-hour days between the first
  of this month and of the next: a March with a spring-forward hour counts 30 days in 0.25),
  and every field present must hold (a field absent holds always).
"""

from __future__ import annotations

import calendar
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    import zoneinfo

WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
"""Go's time.Weekday order: 0 is Sunday."""
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")

_TIME = re.compile(r"(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)")
"""timeinterval.validTime, which Alertmanager matches before it reads a time."""
_ATOI = re.compile(r"[+-]?[0-9]+")
"""What Go's strconv.Atoi takes."""


class WindowError(ValueError):
    """One field of a window that Alertmanager would refuse (or that could never match).
    `path` is the field's path inside the window, such as ('weekdays', 1) or ('times', 0, 'end')."""

    def __init__(self, path: tuple, message: str):
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Range:
    """An inclusive range of ints, as Alertmanager's InclusiveRange."""

    begin: int
    end: int


@dataclass(frozen=True)
class TimeInterval:
    """One entry of Alertmanager's `time_intervals`; None means the field is absent (always holds)."""

    times: tuple[Range, ...] | None = None
    """Minutes of the day, begin inclusive, end exclusive."""
    weekdays: tuple[Range, ...] | None = None
    days_of_month: tuple[Range, ...] | None = None
    months: tuple[Range, ...] | None = None
    years: tuple[Range, ...] | None = None
    location: str | None = None


SPEC_KEYS = {"times": "times", "weekdays": "weekdays", "days_of_month": "daysOfMonth", "months": "months",
             "years": "years", "location": "location", "start": "start", "end": "end"}
"""A TimeWindow's spec field for each of Alertmanager's keys."""
ALERTMANAGER_KEYS = {"times": "times", "weekdays": "weekdays", "days_of_month": "days_of_month",
                     "months": "months", "years": "years", "location": "location", "start": "start_time",
                     "end": "end_time"}


def parse_interval(raw: Mapping[str, Any], keys: Mapping[str, str] = ALERTMANAGER_KEYS) -> TimeInterval:
    """One time interval, or the first WindowError. Use `window_problems` for all of them."""
    problems = window_problems(raw, keys)
    if problems:
        raise problems[0]
    return _parse(raw, keys)


def window_problems(raw: Mapping[str, Any], keys: Mapping[str, str] = SPEC_KEYS) -> list[WindowError]:
    """Every field of one window Alertmanager would refuse, in field order. Values of the
    wrong type are left to the schema (skipped here)."""
    problems: list[WindowError] = []
    readers = (("weekdays", weekday_range), ("days_of_month", day_of_month_range), ("months", month_range),
               ("years", year_range))
    times = raw.get(keys["times"])
    for index, item in enumerate(times if isinstance(times, list) else ()):
        if not isinstance(item, Mapping) or not all(isinstance(item.get(keys[k]), str) for k in ("start", "end")):
            continue  # the schema says what is missing
        try:
            time_range(item.get(keys["start"]), item.get(keys["end"]))
        except WindowError as exc:
            field = keys["start"] if exc.path == ("start",) else keys["end"]
            problems.append(WindowError((keys["times"], index, field), exc.message))
    for name, reader in readers:
        values = raw.get(keys[name])
        for index, value in enumerate(values if isinstance(values, list) else ()):
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                continue  # the schema says what it is
            try:
                reader(str(value))
            except WindowError as exc:
                problems.append(WindowError((keys[name], index), exc.message))
    location = raw.get(keys["location"])
    if isinstance(location, str):
        problem = location_problem(location)
        if problem:
            problems.append(WindowError((keys["location"],), problem))
    return problems


def _parse(raw: Mapping[str, Any], keys: Mapping[str, str]) -> TimeInterval:
    def ranges(name: str, reader) -> tuple[Range, ...] | None:
        values = raw.get(keys[name])
        return None if values is None else tuple(reader(str(value)) for value in values)

    times = raw.get(keys["times"])
    location = raw.get(keys["location"])
    return TimeInterval(
        times=None if times is None else tuple(time_range(item.get(keys["start"]), item.get(keys["end"]))
                                               for item in times),
        weekdays=ranges("weekdays", weekday_range), days_of_month=ranges("days_of_month", day_of_month_range),
        months=ranges("months", month_range), years=ranges("years", year_range),
        location=None if location in (None, "", "UTC") else str(location))


# -- the fields, as timeinterval.go reads them -------------------------------------------------

def _split(text: str, member) -> Range:
    """stringableRangeFromString: lower-cased, `a:b` or one value."""
    text = text.lower()
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 2:
            raise WindowError((), f"{text!r} is not a range: write one value, or two joined by one ':'")
        return Range(member(parts[0]), member(parts[1]))
    value = member(text)
    return Range(value, value)


def _in(text: str) -> str:
    """Where a bad end of a range is: a range is named, one value speaks for itself."""
    return f"{text!r}: " if ":" in text else ""


def _weekday(text: str) -> int:
    if text not in WEEKDAYS:
        raise WindowError((), f"{text!r} is not a weekday: write its English name, such as monday, or a range "
                              "such as 'monday:friday'")
    return WEEKDAYS.index(text)


def _number(what: str):
    def member(text: str) -> int:
        if not _ATOI.fullmatch(text):
            raise WindowError((), f"{text!r} is not a {what}: write a whole number")
        return int(text)
    return member


def _month(text: str) -> int:
    if text in MONTHS:
        return MONTHS.index(text) + 1
    if not _ATOI.fullmatch(text):
        raise WindowError((), f"{text!r} is not a month: write its English name, such as january, or its "
                              "number 1 to 12")
    return int(text)


def weekday_range(text: str) -> Range:
    found = _split(text, _weekday)
    if found.begin > found.end:
        raise WindowError((), f"{text!r} ends before it starts (Alertmanager's week starts on Sunday and does "
                              "not wrap): write 'saturday:sunday' as two entries, 'saturday' and 'sunday'")
    return found


def day_of_month_range(text: str) -> Range:
    found = _split(text, _number("day of the month"))
    for day in (found.begin, found.end):
        if day == 0 or not -31 <= day <= 31:
            raise WindowError((), f"{_in(text)}{day} is not a day of the month: use 1 to 31, or -1 (the last day) "
                                  "to -31")
    if found.begin < 0 < found.end:
        raise WindowError((), f"{text!r}: a range that starts counting from the month's end (negative) must end "
                              "so too, such as '-7:-1'")
    begin = 28 + found.begin if found.begin < 0 else found.begin
    end = 28 + found.end if found.end < 0 else found.end
    if begin > end and found.begin > 0 > found.end:
        raise WindowError((), f"{text!r} may end before it starts: Alertmanager checks a negative end as 28 + end "
                              f"(here {found.begin} to {end}) and refuses it; start earlier or end later")
    if begin > end:
        raise WindowError((), f"{text!r} ends before it starts: write the earlier day first")
    return found


def month_range(text: str) -> Range:
    found = _split(text, _month)
    for month in (found.begin, found.end):
        if not 1 <= month <= 12:
            raise WindowError((), f"{_in(text)}{month} is not a month: use 1 to 12 or a name such as january")
    if found.begin > found.end:
        raise WindowError((), f"{text!r} ends before it starts (a range does not wrap around the new year): "
                              "write two entries, such as 'november:december' and 'january:february'")
    return found


def year_range(text: str) -> Range:
    found = _split(text, _number("year"))
    for year in (found.begin, found.end):
        if not 1 <= year <= 9999:
            raise WindowError((), f"{_in(text)}{year} is not a year: write a year such as 2026")
    if found.begin > found.end:
        raise WindowError((), f"{text!r} ends before it starts: write the earlier year first")
    return found


def _minute(text: Any, which: str) -> int:
    if not isinstance(text, str) or not text:
        raise WindowError((which,), f"missing {which} time: give both start and end, as 'HH:MM'")
    if not _TIME.fullmatch(text):
        raise WindowError((which,), f"{text!r} is not a time of day as Alertmanager reads it: write 'HH:MM' with "
                                    "two-digit hours 00 to 23 (or 24:00 as an end), such as '09:00'")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def time_range(start: Any, end: Any) -> Range:
    """Minutes of the day [start, end)."""
    begin, finish = _minute(start, "start"), _minute(end, "end")
    if begin >= finish:
        raise WindowError(("end",), f"{end!r} is not after the start {start!r}: a time range ends later the same "
                                    "day (24:00 at the latest); for a night write two ranges, such as 22:00-24:00 "
                                    "and 00:00-06:00")
    return Range(begin, finish)


def location_problem(name: str) -> str | None:
    """Why Alertmanager (Go's time.LoadLocation) would not load `name` as a time zone, or why
    we refuse it anyway, or None. Checked against the tz database of this host."""
    if not name:
        return None  # the schema says it must not be empty
    if name == "Local":
        return ("'Local' is the time zone of whatever host runs Alertmanager, not a fixed one: write an IANA "
                "name such as Europe/Berlin, or UTC")
    import zoneinfo

    try:
        zone(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        if not _has_tz_database():
            return (f"{name!r} cannot be checked: this host has no IANA time zone database (on Debian: "
                    "apt-get install tzdata, which Alertmanager reads too)")
        return (f"{name!r} is not a time zone of the IANA database: write a name such as Europe/Berlin, "
                "America/New_York or UTC (names are case-sensitive)")
    if _host_zone_link(name):
        return (f"{name!r} is a link to {HOST_ZONE}, the time zone of whatever host runs Alertmanager (as 'Local' "
                "is), not a fixed one: write an IANA name such as Europe/Berlin, or UTC")
    return None


HOST_ZONE = "/etc/localtime"
"""The host's own zone: the tz database's `localtime` is a link to it (Debian's tzdata)."""


def _host_zone_link(name: str) -> bool:
    """Whether `name` reaches the host's own zone: its last part is `localtime`, or the file
    the tz database has for it is a chain of symbolic links through /etc/localtime. Go's
    time.LoadLocation follows the links (/usr/share/zoneinfo first, as Python's zoneinfo)."""
    import zoneinfo

    if name.rsplit("/", 1)[-1] == "localtime":
        return True
    for folder in zoneinfo.TZPATH:
        path = os.path.join(folder, name)
        if not os.path.lexists(path):
            continue
        for _ in range(40):  # the kernel's limit on a chain of links
            if path == HOST_ZONE or os.path.basename(path) == "localtime":
                return True
            if not os.path.islink(path):
                return False
            try:
                path = os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))
            except OSError:
                return False  # zoneinfo read it: a file, whatever it is
        return True  # a loop: not a zone anyone can read
    return False


def _has_tz_database() -> bool:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo("UTC")
    except (zoneinfo.ZoneInfoNotFoundError, OSError):
        return False
    return True


def zone(name: str) -> zoneinfo.ZoneInfo:
    if ".." in name or name.startswith(("/", "\\")):  # Go refuses these before it looks
        raise ValueError(name)
    import zoneinfo  # here: validate pays for it only when a TimeWindow names a zone

    return zoneinfo.ZoneInfo(name)


# -- evaluation --------------------------------------------------------------------------------

def contains(interval: TimeInterval, instant: datetime) -> bool:
    """Go's TimeInterval.ContainsTime(instant.UTC()). `instant` must be timezone-aware."""
    tz = zone(interval.location) if interval.location else timezone.utc
    local = instant.astimezone(tz)
    if interval.times is not None:
        minute = local.hour * 60 + local.minute
        if not any(r.begin <= minute < r.end for r in interval.times):
            return False
    if interval.days_of_month is not None:
        days = _days_in_month(local.year, local.month, tz)
        if not any(_day_in(r, local.day, days) for r in interval.days_of_month):
            return False
    if interval.months is not None and not any(r.begin <= local.month <= r.end for r in interval.months):
        return False
    weekday = (local.weekday() + 1) % 7  # Python counts from Monday, Go from Sunday
    if interval.weekdays is not None and not any(r.begin <= weekday <= r.end for r in interval.weekdays):
        return False
    if interval.years is not None and not any(r.begin <= local.year <= r.end for r in interval.years):
        return False
    return True


def _days_in_month(year: int, month: int, tz) -> int:
    """timeinterval.daysInMonth: the hours from midnight on the 1st to midnight on the 1st of
    the next month, over 24, truncated (so a month that loses an hour to DST is a day short)."""
    if year == 9999 and month == 12:
        return 31  # its next month is past Python's dates; no zone changes its clock in December
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return int((end.timestamp() - start.timestamp()) / 3600 / 24)


def _day_in(r: Range, day: int, days: int) -> bool:
    begin = days + r.begin + 1 if r.begin < 0 else r.begin
    end = days + r.end + 1 if r.end < 0 else r.end
    if begin > days:  # the range starts after this month's end
        return False
    begin, end = max(-days, min(begin, days)), max(-days, min(end, days))
    return begin <= day <= end


CYCLE_YEARS = range(2000, 2400)
"""Where a window without `years` is looked for: one whole cycle of the Gregorian calendar
(dates and weekdays repeat every 400 years), read with the zone's rules for those years."""
_SEARCH_MONTHS = 1200
"""A search that reads the zone's clock looks at this many months at most (a short search), then
gives up: a window is refused only when it is known never to hold, and a commit cannot make
validate read the clock of 2,000 years for each of a thousand windows. CYCLE_YEARS takes 624
at most (38 years before 2038, then 14 kinds of year)."""
_NEVER = ("so this window never holds: a list mailed only during it would never be mailed, and one muted "
          "during it never muted")


def never_holds(interval: TimeInterval) -> tuple[str, str] | None:
    """(Alertmanager's name of the field to correct, why) when Alertmanager 0.25 would never
    find `interval` holding (`contains`, minute by minute, in the years it names, or in
    CYCLE_YEARS without years); None when it holds at some minute, or when the search gave up.
    The reason names the first constraint, in the order days and months, years, Alertmanager
    0.25's count of a month's days, weekdays, times, that leaves no minute at all."""
    where = interval.location or "UTC"
    days = _ranges_text(interval.days_of_month or (), str)
    months = _ranges_text(interval.months or (), lambda month: MONTHS[month - 1].capitalize())
    # The calendar alone first (no zone: fast). A day the calendar never has, Alertmanager's
    # count of the month's days (the calendar's, or one less) never gives either.
    if interval.days_of_month is not None and _holds_somewhere(interval, years=False, go_count=False, weekdays=False,
                                                               times=False) is False:
        return "days_of_month", (f"{days} is not a day of {months}, {_NEVER}; correct daysOfMonth or months")
    if interval.years is not None and _holds_somewhere(interval, go_count=False, weekdays=False,
                                                       times=False) is False:
        named = f"day {days} of {months}" if days and months else f"day {days}" if days else months
        return "years", f"{named} never comes in {_ranges_text(interval.years, str)}, {_NEVER}; correct the years"
    if _holds_somewhere(interval) is not False:
        return None
    if interval.days_of_month is not None and _holds_somewhere(interval, weekdays=False, times=False) is False:
        return "days_of_month", (f"Alertmanager 0.25 counts {months or 'the months it names'} in {where} one day "
                                 f"short (the hour summer time takes) and never reaches day {days} there (fixed in "
                                 f"later releases), {_NEVER}; name an earlier day, or count from the month's end (-1)")
    if interval.weekdays is not None and _holds_somewhere(interval, times=False) is False:
        weekdays = _ranges_text(interval.weekdays, lambda day: WEEKDAYS[day].capitalize())
        years = f" in {_ranges_text(interval.years, str)}" if interval.years is not None else ""
        return "weekdays", (f"none of the days it names falls on {weekdays}{years}, {_NEVER}; correct the weekdays or "
                            "the days")
    if interval.times is not None:
        return "times", (f"its times fall where the clock skips ahead in {where} (summer time) on every day it names, "
                         f"{_NEVER}; correct the times")
    # Reached only when a narrower search above gave up (_SEARCH_MONTHS).
    return "location", f"no day has all of its fields hold, {_NEVER}; correct the window"


def _holds_somewhere(interval: TimeInterval, *, years: bool = True, go_count: bool = True, weekdays: bool = True,
                     times: bool = True) -> bool | None:
    """Whether some minute has `interval` hold, as `contains` decides (None: the search gave
    up). Without `years`, `go_count`, `weekdays` or `times`, that part of it is left out (the
    calendar's day count stands for Alertmanager 0.25's), for saying which part is to blame."""
    tz = zone(interval.location) if interval.location else timezone.utc
    candidates = _years(interval.years) if years and interval.years is not None else iter(CYCLE_YEARS)
    months = [month for month in range(1, 13)
              if interval.months is None or any(r.begin <= month <= r.end for r in interval.months)]
    by_minute = times and interval.times is not None
    by_zone = by_minute or (go_count and interval.days_of_month is not None and bool(interval.location))
    seen: set = set()
    budget = _SEARCH_MONTHS
    for year in candidates:
        # A year is its calendar (leap or not, the weekday it starts on: 14 kinds), and, where
        # the zone's clock matters, that clock too: from 2038 on it follows the zone's last
        # rule (the tz database lists transitions up to 2037 at most), whose dates the
        # calendar decides ("the last Sunday of March"); before, each year has its own.
        kind = (calendar.isleap(year), calendar.weekday(year, 1, 1)) if not by_zone or year >= 2038 else year
        if kind in seen:
            continue
        seen.add(kind)
        if by_zone:
            budget -= len(months)
            if budget < 0:
                return None
        for month in months:
            length = calendar.monthrange(year, month)[1]
            counted = _days_in_month(year, month, tz) if go_count and interval.days_of_month is not None \
                and interval.location else length
            first = (calendar.weekday(year, month, 1) + 1) % 7  # Go's weekday (Sunday is 0) of the 1st
            for day in range(1, length + 1):
                if interval.days_of_month is not None and \
                        not any(_day_in(r, day, counted) for r in interval.days_of_month):
                    continue
                weekday = (first + day - 1) % 7
                if weekdays and interval.weekdays is not None and \
                        not any(r.begin <= weekday <= r.end for r in interval.weekdays):
                    continue
                if not by_minute or any(_on_the_clock(year, month, day, minute, tz)
                                        for r in interval.times for minute in range(r.begin, r.end)):
                    return True
    return False


def _years(ranges: tuple[Range, ...]):
    """Each year of `ranges` once, in order."""
    last = 0
    for r in sorted(ranges, key=lambda item: item.begin):
        for year in range(max(r.begin, last + 1), r.end + 1):
            yield year
        last = max(last, r.end)


def _on_the_clock(year: int, month: int, day: int, minute: int, tz) -> bool:
    """Whether the clock in `tz` shows this minute of this day at all (not in the hour it skips
    when summer time starts)."""
    wall = datetime(year, month, day, minute // 60, minute % 60)
    try:
        shown = datetime.fromtimestamp(wall.replace(tzinfo=tz).timestamp(), tz).replace(tzinfo=None)
    except (OverflowError, ValueError, OSError):
        return True  # at the ends of Python's dates: no clock skips there
    return shown == wall


def _ranges_text(ranges: tuple[Range, ...], name) -> str:
    texts = [name(r.begin) if r.begin == r.end else f"{name(r.begin)}:{name(r.end)}" for r in ranges]
    return ", ".join(texts[:-1]) + " or " + texts[-1] if len(texts) > 1 else "".join(texts)


def first_containing(intervals: Mapping[str, tuple[TimeInterval, ...]], names: tuple[str, ...],
                     instant: datetime) -> str | None:
    """notify.inTimeIntervals: the first of `names` one of whose intervals holds `instant`."""
    for name in names:
        if any(contains(interval, instant) for interval in intervals.get(name, ())):
            return name
    return None


EARLIEST = datetime(1, 1, 2, tzinfo=timezone.utc)
LATEST = datetime(9999, 12, 30, 23, 59, 59, tzinfo=timezone.utc)
"""The instants a window can be evaluated at here: a day inside the years 1 to 9999 that
Python's dates hold, in every zone (the tz database has clocks up to 16 hours off UTC)."""


def parse_instant(text: str) -> datetime:
    """An RFC 3339 time (`2026-11-30T09:00:00Z`, `...+01:00`) between EARLIEST and LATEST, or
    ValueError saying what to write."""
    try:
        instant = datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ].+", text):
        raise ValueError(f"{text!r} is not an RFC 3339 time: write it with a date, a time and an offset, such as "
                         "2026-11-30T09:00:00Z or 2026-11-30T10:00:00+01:00")
    try:
        utc = instant.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(f"{text!r} is outside the times a window can be evaluated at: write a time from "
                         f"{_rfc3339(EARLIEST)} to {_rfc3339(LATEST)}")
    return instant


def _rfc3339(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def short_months(location: str, year: int) -> tuple[int, ...]:
    """The months of `year` that Alertmanager 0.25 counts a day short in `location` (those
    that gain an hour of summer time), where a negative day of the month lands a day early."""
    tz = zone(location)
    return tuple(month for month in range(1, 13)
                 if _days_in_month(year, month, tz) != calendar.monthrange(year, month)[1])


@dataclass(frozen=True)
class WindowState:
    """Whether a route with these active and mute time intervals lets a mail out at one
    instant, and which interval says so. Alertmanager 0.25 checks the active intervals, then the mute ones (notify.TimeActiveStage,
    TimeMuteStage); the first interval of a route that holds is the one named."""

    active: tuple[str, ...]
    muted: tuple[str, ...]
    active_by: str | None
    muted_by: str | None
    location: str | None
    """The location of the first named interval that has one: where people read the instant."""

    @property
    def windowed(self) -> bool:
        return bool(self.active or self.muted)

    @property
    def mailed(self) -> bool:
        return (not self.active or self.active_by is not None) and self.muted_by is None


def window_state(active: tuple[str, ...], muted: tuple[str, ...], intervals: Mapping[str, tuple[TimeInterval, ...]],
                 at: datetime) -> WindowState:
    """For a route with these active and mute time interval names, at `at`."""
    location = next((interval.location for name in (*active, *muted) for interval in intervals.get(name, ())
                     if interval.location), None)
    return WindowState(active, muted, first_containing(intervals, active, at) if active else None,
                       first_containing(intervals, muted, at), location)
