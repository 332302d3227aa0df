"""The daemon's log lines as logfmt: ``event=rejected revision=a1b2c3d message="..."``, every
value quoted and escaped one way, whatever it holds. Pure.

A value is written bare when it is non-empty and holds no space, ``"``, ``=``, ``\\`` or
control character; otherwise in double quotes, with ``"`` and ``\\`` escaped by a
backslash and control characters as ``\\n``, ``\\r``, ``\\t`` or ``\\u001b`` (the escapes
go-logfmt and JSON read). So a commit subject like ``x" event=applied revision=abc`` stays
inside its own value: a logfmt parser never reads a key out of it, and no value ever breaks
the line. Credentials in a URL are hidden (display.redact_urls) before a value is written.
"""

from __future__ import annotations

import re

from .display import CONTROL_CHARACTERS, redact_urls

_KEY = re.compile(r"[a-z_][a-z0-9_]*")
_BARE = re.compile(r'[^\s"=\\]+')
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(text: str) -> str:
    """Control characters of `text` as escapes (``\\n``, ``\\u001b``); nothing else changed."""
    return CONTROL_CHARACTERS.sub(lambda match: _SHORT_ESCAPES.get(match[0], f"\\u{ord(match[0]):04x}"), text)


def value(raw: object) -> str:
    """One value, bare if it can be, else quoted and escaped."""
    text = redact_urls(str(raw))
    if _BARE.fullmatch(text) and not CONTROL_CHARACTERS.search(text):
        return text
    return '"' + escape(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def line(event: str, **fields: object) -> str:
    """``event=<event>`` and each field as ``key=value``, in the order given. None leaves a
    field out."""
    parts = [f"event={value(event)}"]
    for key, raw in fields.items():
        if raw is None:
            continue
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a logfmt key: {key!r}")
        parts.append(f"{key}={value(raw)}")
    return " ".join(parts)
