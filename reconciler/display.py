"""How text from outside is shown to a person: credentials in URLs hidden, control characters
escaped. Pure: text in, text out.

Text reaches `status`, /readyz, the own-alert mails and the log from places we do not
control: a commit's author and subject, file names in a pusher's tree, git's own error
messages, the operator's source.repo. Two things must never pass through as they are:

- `redact_urls`: the credentials of a URL (``https://deploy:TOKEN@host/``). For ssh URLs
  the user name stays (``ssh://git@host``: a key logs in, the name is no secret); for any
  other scheme the whole user part is hidden, because a token is often the user name
  itself (``https://TOKEN@github.com``, ``https://TOKEN:x-oauth-basic@...``).
- `escape_controls`: C0 and C1 control characters, DEL, and the Unicode characters that
  reorder or break lines (bidi overrides, U+2028/U+2029). A terminal acts on ESC [ 2 J (it
  clears the screen) and a mail reader on a right-to-left override; shown as ``\\x1b`` or
  ``\\u202e`` they are only text.

`display_line` does both to one line; every line `status`, /readyz and a mail show from
such text goes through it.
"""

from __future__ import annotations

import re

SECRET = "<secret>"

_URL_USER_PART = re.compile(r"\b(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<userinfo>[^/?#\s]*)@")
"""A URL's scheme and user part: everything up to the last '@' before the path (a password
may hold an '@' of its own, and git takes the last one too)."""
_SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})

CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                                "\ud800-\udfff]")
"""C0, DEL, C1, and the bidi and line-separator characters that change how a line reads;
and lone surrogates (bytes that were not UTF-8, kept by surrogateescape), which no encoder
can write."""


def redact_urls(text: str) -> str:
    """`text` with the credentials of every URL in it replaced by <secret>."""
    if "://" not in text:
        return text
    return _URL_USER_PART.sub(_hide_user_part, text)


def _hide_user_part(match: re.Match) -> str:
    scheme, userinfo = match["scheme"], match["userinfo"]
    if userinfo == SECRET:
        return match[0]
    if scheme.lower() in _SSH_SCHEMES:
        user, colon, _ = userinfo.partition(":")
        return f"{scheme}://{user}:{SECRET}@" if colon else match[0]
    return f"{scheme}://{SECRET}@"


def escape_controls(text: str) -> str:
    """`text` with every control character written as an escape (ESC as \\x1b, U+202E as
    \\u202e); printable text, any language's letters included, is left as it is."""
    return CONTROL_CHARACTERS.sub(_escape, text)


def _escape(match: re.Match) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def display_line(text: str) -> str:
    """One line as a person may safely see it: credentials hidden, controls escaped (a line
    break inside `text` too: split a text into lines first where its lines matter)."""
    return escape_controls(redact_urls(text))


def display_lines(text: str) -> list[str]:
    """A text of several lines, each made safe by `display_line`."""
    return [display_line(line) for line in text.split("\n")]
