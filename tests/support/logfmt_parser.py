"""A small strict logfmt reader, to read the daemon's log as a log pipeline would (Loki's
`| logfmt`, go-logfmt): `parse` turns one line into its keys and values, or raises ValueError.

Strict where a lenient reader would guess: every key has `=`; a bare value holds no space,
`"`, `=`, backslash or control character; a quoted value escapes `"` and backslash and
spells control characters as JSON does (\\n, \\t, \\u001b), and is followed by a space or the
end; a key given twice is an error (an injected key would be one)."""

from __future__ import annotations

import re

_KEY = re.compile(r'[^\s="\\\x00-\x1f\x7f]+')
_BARE = re.compile(r'[^\s="\\\x00-\x1f\x7f]*')
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def parse(line: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    at = 0
    while True:
        while at < len(line) and line[at] == " ":
            at += 1
        if at == len(line):
            return pairs
        key = _KEY.match(line, at)
        if not key or key.end() == len(line) or line[key.end()] != "=":
            raise ValueError(f"column {at + 1}: expected key=value in {line!r}")
        at = key.end() + 1
        if at < len(line) and line[at] == '"':
            value, at = _quoted(line, at + 1)
        else:
            bare = _BARE.match(line, at)
            value, at = bare[0], bare.end()
        if at < len(line) and line[at] != " ":
            raise ValueError(f"column {at + 1}: {line[at]!r} inside a value of {key[0]!r} in {line!r}")
        if key[0] in pairs:
            raise ValueError(f"key {key[0]!r} given twice in {line!r}")
        pairs[key[0]] = value


def _quoted(line: str, at: int) -> tuple[str, int]:
    out = []
    while at < len(line):
        char = line[at]
        if char == '"':
            return "".join(out), at + 1
        if ord(char) < 0x20 or char == "\x7f":
            raise ValueError(f"column {at + 1}: a raw control character in a quoted value in {line!r}")
        if char == "\\":
            escape = line[at + 1:at + 2]
            if escape == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", line[at + 2:at + 6]):
                out.append(chr(int(line[at + 2:at + 6], 16)))
                at += 6
                continue
            if escape not in _ESCAPES:
                raise ValueError(f"column {at + 1}: unknown escape \\{escape} in {line!r}")
            out.append(_ESCAPES[escape])
            at += 2
            continue
        out.append(char)
        at += 1
    raise ValueError(f"a quoted value is not closed in {line!r}")
