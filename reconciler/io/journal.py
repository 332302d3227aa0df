"""How the daemon's log lines look: for journald under systemd, for a file or terminal elsewhere.

Every line is logfmt, ``level=INFO event=applied revision=a1b2c3d ...`` (values quoted and
escaped by logfmt.py), and a record is always one line: a traceback is the quoted value of
``traceback=``, and a message from another library has its line breaks and other control
characters escaped. A line break from outside (a commit subject, an exception's text) can
never start a line that reads as an entry of its own, and URL credentials never reach the
log (display.redact_urls runs over the whole line).

- Under systemd, when stdout is the journal (systemd sets ``JOURNAL_STREAM``), each line
  starts with an sd-daemon(3) priority prefix, ``<6>`` for INFO, ``<4>`` WARNING, ``<3>``
  ERROR, which journald strips and turns into the entry's PRIORITY (``SyslogLevelPrefix=``
  is on by default), so ``journalctl -p warning`` finds the warnings. journald stamps the
  time itself.
- Elsewhere each line starts with an RFC 3339 UTC timestamp, ``ts=2026-11-29T03:40:00.123Z``,
  as Alertmanager's own lines do.
"""

from __future__ import annotations

import logging
import os
import time
from typing import IO, Mapping

from .. import logfmt
from ..display import redact_urls

FORMAT = "level=%(levelname)s %(message)s"

# syslog(3) priorities, as sd-daemon(3)'s SD_ERR ... SD_DEBUG spell them.
_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


def priority(levelno: int) -> int:
    """The syslog priority for a logging level (a custom level takes the next standard one up)."""
    for level in sorted(_PRIORITY):
        if levelno <= level:
            return _PRIORITY[level]
    return _PRIORITY[logging.CRITICAL]


def stdout_is_journal(stream: IO[str], environ: Mapping[str, str] = os.environ) -> bool:
    """True when `stream` is the journal stream systemd connected, per systemd.exec(5):
    JOURNAL_STREAM is "device:inode" of that socket. A stdout redirected elsewhere by the
    program's caller keeps the variable but not the inode, so it is compared, not trusted."""
    value = environ.get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (status.st_dev, status.st_ino) == (int(device), int(inode))


class OneLineFormatter(logging.Formatter):
    """Each record as one logfmt line (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = logfmt.escape(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        if record.exc_info:
            text += " traceback=" + logfmt.value(self.formatException(record.exc_info))
        if record.stack_info:
            text += " stack=" + logfmt.value(self.formatStack(record.stack_info))
        return redact_urls(text)


class JournalFormatter(OneLineFormatter):
    """``<N>level=... message``: journald reads N as the priority."""

    def __init__(self) -> None:
        super().__init__(FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return f"<{priority(record.levelno)}>" + super().format(record)


class TimestampFormatter(OneLineFormatter):
    """``ts=<RFC 3339, UTC, milliseconds> level=... message``."""

    def __init__(self) -> None:
        super().__init__("ts=%(asctime)s " + FORMAT)

    converter = time.gmtime

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(record.created)) + f".{int(record.msecs):03d}Z"


def log_handler(stream: IO[str]) -> logging.Handler:
    """A handler writing to `stream` in the form that suits where it goes."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JournalFormatter() if stdout_is_journal(stream) else TimestampFormatter())
    return handler
