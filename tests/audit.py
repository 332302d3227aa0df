"""The secret audit over the whole test run (issue 6): every test that needs an SMTP password
uses SECRET, and at the end of the session `tests/conftest.py` looks for it in everything the
run left behind: each test's captured output and log records, and every file under pytest's
temporary folder (daemon and Alertmanager logs, state directories, outboxes, rendered
configs, diffs). It may be found only where it is meant to be: a password file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

SECRET = "Zq9-AUDIT-c0rrect-h0rse-b4ttery"
"""Recognisable, and unlike any word a log line would hold by chance."""

MAX_SCANNED_BYTES = 64 * 1024 * 1024


def is_password_file(path: Path) -> bool:
    """A file whose whole job is to hold the password: one a test writes for passwordFile,
    or the one the daemon writes for Alertmanager from passwordEnv (secrets/smtp-password-*)."""
    return "password" in path.name


def find_leaks(root: Path, secret: str = SECRET) -> list[str]:
    """Every file under `root` holding `secret`, except password files."""
    leaks = []
    needle = secret.encode()
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            if is_password_file(path):
                continue
            try:
                status = path.lstat()
                # Regular files only: a test's FIFO would block the read, a symlink is seen
                # where it points (or is outside the run).
                if not stat.S_ISREG(status.st_mode) or status.st_size > MAX_SCANNED_BYTES:
                    continue
                data = path.read_bytes()
            except OSError:
                continue  # gone meanwhile
            if needle in data:
                line = data[:data.index(needle)].count(b"\n") + 1
                leaks.append(f"{path}:{line}")
    return sorted(leaks)
