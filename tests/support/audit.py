"""The secret audit over the whole test run (issues 6 and 25): every test that needs an SMTP
password uses SECRET, every test that puts credentials into a git URL uses GIT_TOKEN, and at
the end of the session `tests/conftest.py` looks for both in everything the run left behind:
each test's captured output and log records, and every file under pytest's temporary folder
(daemon and Alertmanager logs, state directories, outboxes, caches, rendered configs, diffs).
They may be found only where they are meant to be: a password file, or a daemon config
written to hold credentials (its name says so).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

SECRET = "Zq9-AUDIT-c0rrect-h0rse-b4ttery"
"""Recognisable, and unlike any word a log line would hold by chance."""
GIT_TOKEN = "ghp_AUDITgitT0kenWr0ngPlace42"
"""A deploy token as it sits in source.repo (https://deploy:GIT_TOKEN@host/repo.git)."""
SECRETS = (SECRET, GIT_TOKEN)

MAX_SCANNED_BYTES = 64 * 1024 * 1024


def is_password_file(path: Path) -> bool:
    """A file whose whole job is to hold a secret: one a test writes for passwordFile, the
    one the daemon writes for Alertmanager from passwordEnv (secrets/smtp-password-*), or a
    daemon config a test writes with a token in source.repo (config.credentials.yaml)."""
    return "password" in path.name or "credentials" in path.name


def find_leaks(root: Path, secrets: tuple[str, ...] = SECRETS) -> list[str]:
    """Every file under `root` holding one of `secrets`, except password files."""
    leaks = []
    needles = [secret.encode() for secret in secrets]
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
            found = [data.index(needle) for needle in needles if needle in data]
            if found:
                line = data[:min(found)].count(b"\n") + 1
                leaks.append(f"{path}:{line}")
    return sorted(leaks)
