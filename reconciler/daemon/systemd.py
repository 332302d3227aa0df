"""Talking to systemd (Type=notify): sd_notify datagrams (READY=1, STATUS=, WATCHDOG=1), the
watchdog's interval, and the STATUS= line a person reads in `systemctl status`. Outside
systemd (no NOTIFY_SOCKET) every call is a no-op."""

from __future__ import annotations

import logging
import os
import socket
import time

from .. import logfmt
from ..display import display_line
from ..values import Outcome

log = logging.getLogger("notify-reconciler")


def sd_notify(message: str) -> None:
    """Send one sd_notify(3) datagram; a no-op outside systemd (no NOTIFY_SOCKET)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(message.encode(), address)
        except OSError as exc:
            log.warning(logfmt.line("sd_notify_failed", error=exc))


def watchdog_interval() -> float | None:
    """Half of systemd's WatchdogSec, if this process is the one being watched."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2e6


def status_line(outcome: Outcome, now: float) -> str:
    """What `systemctl status` shows, e.g. "applied a1b2c3d 'raise repeat interval' 12s ago"
    (shown on a terminal: control characters escaped, URL credentials hidden)."""
    revision = outcome.revision
    if outcome.ok and revision is not None:
        return display_line(f"{outcome.result} {revision.short} {revision.subject!r}; last pass "
                            f"{time.strftime('%H:%M:%S', time.gmtime(now))}Z")
    return display_line(outcome.message.splitlines()[0][:200])
