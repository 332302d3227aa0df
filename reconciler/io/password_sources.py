"""Which password an EmailServer spec may make the daemon read: the operator's list decides.

A spec names where its SMTP password lives (spec.passwordFile, spec.passwordEnv); the daemon
reads it there and sends it as SMTP AUTH to spec.host (the probe, mail-test, the own alerts),
and writes a passwordEnv value into <stateDir>/secrets for Alertmanager. Whoever may push to
the branch writes the spec, so without a limit a commit could name any file or variable the
daemon can read (a deploy key, a git token, this config) and a host of its own. The operator's
config (`secrets:`, config.SecretSettings) lists what specs may name; everything else is
refused here, before anything reads it, as an error located at the field.

Guarantees:
- a file is allowed only if its path, as written, is a listed file, or lies directly inside
  a listed folder (an entry ending in '/'); and, with every symbolic link resolved
  (realpath), it is still that file or still directly inside that folder: neither '..' nor a
  link can lead out of what the operator listed;
- a variable is allowed only if its name is listed, exactly;
- a message never repeats the value the spec wrote (someone may have pasted the password
  itself there): it names the field, the config key to change and what that key allows.

Not pure: realpath reads the file system's links (never a file's contents).
"""

from __future__ import annotations

import os.path
import posixpath

from ..specs.daemon_config import SecretSettings
from ..errors import SpecError
from ..specs.model import EmailServer


def password_source_problems(server: EmailServer | None, allowed: SecretSettings) -> list[SpecError]:
    """The located refusal of `server`'s password source, if `allowed` does not let specs use it."""
    refusal = password_source_refusal(server, allowed)
    if refusal is None:
        return []
    assert server is not None
    field, message = refusal
    return [SpecError(server.password_at or server.location, field, message)]


def password_source_refusal(server: EmailServer | None, allowed: SecretSettings) -> tuple[str, str] | None:
    """(field, message) when `server` names a password file or variable `allowed` does not list."""
    if server is None:
        return None
    if server.password_file is not None:
        problem = _file_problem(server.password_file, allowed.password_files)
        if problem:
            listed = ", ".join(allowed.password_files) or "none"
            return "spec.passwordFile", (
                f"{problem}: the daemon reads this file and sends it to spec.host as the SMTP password, so only "
                f"what secrets.passwordFiles in {allowed.file} lists may be named (now: {listed}); name a "
                "listed file, or have the operator add this one there (or its folder, written with a trailing '/')")
    if server.password_env is not None and server.password_env not in allowed.password_env:
        listed = ", ".join(allowed.password_env) or "none"
        return "spec.passwordEnv", (
            f"not a variable the daemon's configuration lets specs name: the daemon reads it and sends it to "
            f"spec.host as the SMTP password, so only what secrets.passwordEnv in {allowed.file} lists may be "
            f"named (now: {listed}); name a listed variable, or have the operator add this one there")
    return None


def _file_problem(path: str, entries: tuple[str, ...]) -> str | None:
    """Why `path` is not allowed by `entries`, or None when it is."""
    if "\0" in path:
        return "holds a NUL character, which no file name has"
    if any(part in (".", "..") for part in path.split("/")):
        return "holds a '.' or '..' step: write the file's own path"
    written, real = posixpath.normpath(path), os.path.realpath(path)
    lexically_inside = False
    for entry in entries:
        if entry.endswith("/"):
            folder = posixpath.normpath(entry)
            if posixpath.dirname(written) != folder:
                continue
            lexically_inside = True
            if posixpath.dirname(real) == os.path.realpath(folder):
                return None
        elif written == posixpath.normpath(entry):
            lexically_inside = True
            if real == os.path.realpath(entry):
                return None
    if lexically_inside:
        return "leads through a symbolic link out of what the daemon's configuration lists"
    return "not a file the daemon's configuration lets specs name"
