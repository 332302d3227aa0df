"""Values for each field of a time interval, from Alertmanager's own edge cases and beyond:
what tests/integration/test_time_windows.py asks amtool about and the time-window fuzzer
(tests/hostile/test_fuzz_windows.py) draws from. Keys are Alertmanager's field names."""

from __future__ import annotations

FIELD_VALUES = {
    "weekdays": ["monday", "MONDAY", "monday:friday", "friday:monday", "mon", "1", "sunday:saturday", "monday:",
                 "monday:tuesday:wednesday", "", " monday", "saturday:saturday"],
    "days_of_month": ["1", "31", "32", "0", "-1", "-31", "-32", "1:5", "5:1", "-1:5", "-5:-1", "-1:-5", "+3", "03",
                      "1:-1", "-3:25", "25:-3", "28:-1", "29:-1", "a", "1.5", " 1", "-0"],
    "months": ["january", "JANUARY", "1", "12", "13", "0", "january:march", "march:january", "jan", "-1", "+2",
               "may"],
    "years": ["2026", "2026:2027", "2027:2026", "0", "-1", "99999", "+2026", "20_26", "99999999999999999999"],
    "location": ["Europe/Berlin", "UTC", "Local", "europe/berlin", "US/Pacific", "Etc/GMT+5", "Mars/Phobos",
                 "../etc/passwd", "/etc/localtime", "Europe", "Europe/Berlin/", "Europe/./Berlin", "Europe//Berlin",
                 "zone.tab", "tzdata.zi", "America/Argentina/Buenos_Aires", "GMT", "Factory"],
}
TIMES = [("09:00", "17:00"), ("9:00", "17:00"), ("00:00", "24:00"), ("23:59", "24:00"), ("24:00", "24:00"),
         ("17:00", "09:00"), ("09:00", "09:00"), ("09:00", "24:01"), ("09:60", "10:00"), ("25:00", "26:00"),
         ("09:00:00", "10:00"), ("0900", "1000"), ("09:00", "")]
