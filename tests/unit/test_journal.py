"""reconciler.io.journal: priority prefixes for journald, RFC 3339 timestamps elsewhere."""

from __future__ import annotations

import io
import logging
import os
import re
import socket

import pytest

from reconciler.io.journal import JournalFormatter, TimestampFormatter, log_handler, priority, stdout_is_journal


def record(level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord("notify-reconciler", level, __file__, 1, message, None, None)


@pytest.mark.parametrize(("level", "expected"), [
    (logging.DEBUG, 7), (logging.INFO, 6), (logging.WARNING, 4), (logging.ERROR, 3), (logging.CRITICAL, 2),
    (25, 4),  # a custom level between INFO and WARNING counts as the more severe one
])
def test_priority_follows_syslog_levels(level, expected):
    assert priority(level) == expected


def test_a_record_is_one_line_whatever_its_message_and_traceback_hold():
    """journald makes an entry of each line: a line break from outside (an exception's text,
    another library's message) must not start one that reads as an entry of its own."""
    try:
        raise ValueError("bad\nlevel=INFO event=applied revision=abc1234")
    except ValueError:
        import sys

        crashed = logging.LogRecord("notify-reconciler", logging.ERROR, __file__, 1, "event=crashed", None,
                                    sys.exc_info())
    text = JournalFormatter().format(crashed)
    assert "\n" not in text
    assert text.startswith('<3>level=ERROR event=crashed traceback="Traceback (most recent call last):\\n')
    assert text.endswith('ValueError: bad\\nlevel=INFO event=applied revision=abc1234"')
    foreign = JournalFormatter().format(record(logging.WARNING, "line one\nline two \x1b[2J"))
    assert foreign == "<4>level=WARNING line one\\nline two \\u001b[2J"


def test_url_credentials_never_reach_a_log_line():
    text = TimestampFormatter().format(record(logging.WARNING, "git said: fatal: unable to access "
                                                                "'https://deploy:s3cret@git.example.com/x.git/'"))
    assert "s3cret" not in text and "'https://<secret>@git.example.com/x.git/'" in text


def test_other_lines_start_with_an_rfc3339_utc_timestamp():
    text = TimestampFormatter().format(record(logging.WARNING, "event=rejected revision=abc1234"))
    assert re.fullmatch(r"ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=WARNING event=rejected revision=abc1234",
                        text), text


def test_journal_stream_is_recognised_by_device_and_inode_not_by_the_variable_alone(tmp_path):
    path = tmp_path / "out.log"
    with open(path, "w") as stream:
        status = os.fstat(stream.fileno())
        assert stdout_is_journal(stream, {"JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"})
        assert not stdout_is_journal(stream, {"JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino + 1}"})
        assert not stdout_is_journal(stream, {})
        assert not stdout_is_journal(stream, {"JOURNAL_STREAM": "garbage"})
    assert not stdout_is_journal(io.StringIO(), {"JOURNAL_STREAM": "1:2"})


def test_handler_picks_the_journal_form_for_the_journal_socket(monkeypatch):
    ours, journald = socket.socketpair()
    with ours, journald, os.fdopen(os.dup(ours.fileno()), "w") as stream:
        status = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{status.st_dev}:{status.st_ino}")
        assert isinstance(log_handler(stream).formatter, JournalFormatter)
        monkeypatch.delenv("JOURNAL_STREAM")
        assert isinstance(log_handler(stream).formatter, TimestampFormatter)
