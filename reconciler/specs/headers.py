"""Mail header lines as Alertmanager 0.25 writes them, and the 998-octet limit they must keep.

Pure. Alertmanager's e-mail notifier (notify/email/email.go) writes each configured header
as `Name: value` on one line, the value first rendered as a template and then passed
through Go's `mime.QEncoding.Encode("utf-8", value)`: a value of printable ASCII (tabs
allowed) stays as it is, anything else becomes RFC 2047 encoded-words of at most 75
characters, joined by single spaces on the same line. Nothing is ever folded. RFC 5321 and
5322 allow at most 998 octets before a line's CRLF, and a strict server refuses the whole
message for one longer line, after DATA, which Alertmanager 0.25 does not even notice.

- `q_encode` is that Go function, byte for byte, so the length of a line can be known
  before Alertmanager writes it (tests/integration/test_header_lines.py compares it with
  the lines the real Alertmanager sends);
- `phrase` writes a display name for a `To:` header: as a quoted string when it is ASCII,
  else as encoded-words with RFC 2047's rules for a phrase, which Go's encoder leaves as
  they are (they are printable ASCII) and mail programs decode to the name.
"""

from __future__ import annotations

MAX_HEADER_LINE = 998
"""RFC 5321/5322: a line is at most 998 octets before its CRLF."""

_MAX_ENCODED_WORD = 75
"""RFC 2047: an encoded-word is at most 75 characters."""
_MAX_CONTENT = _MAX_ENCODED_WORD - len("=?UTF-8?q?") - len("?=")
"""Go's mime.maxContentLen: what one encoded-word carries, header and footer aside."""
_CHARSET = "utf-8"
"""What Alertmanager passes to mime.QEncoding.Encode."""


def needs_encoding(value: str) -> bool:
    """Go's mime.needsEncoding: any character outside printable ASCII but the tab."""
    return any((char < " " or char > "~") and char != "\t" for char in value)


def q_encode(value: str) -> str:
    """Go's `mime.QEncoding.Encode("utf-8", value)` (Go 1.19, which Debian's Alertmanager
    0.25 is built with): `value` itself when it needs no encoding, else encoded-words that
    never split a character, each at most 75 characters, separated by one space."""
    if not needs_encoding(value):
        return value
    words: list[str] = []
    current: list[str] = []
    length = 0
    for char in value:
        data = char.encode("utf-8", "surrogatepass")
        if len(data) == 1 and " " <= char <= "~" and char not in "=?_":
            encoded, size = ("_" if char == " " else char), 1
        else:
            encoded, size = "".join(f"={byte:02X}" for byte in data), 3 * len(data)
        if length + size > _MAX_CONTENT:
            words.append("".join(current))
            current, length = [], 0
        current.append(encoded)
        length += size
    words.append("".join(current))
    return " ".join(f"=?{_CHARSET}?q?{word}?=" for word in words)


def line_octets(name: str, value: str) -> int:
    """The octets of the header line Alertmanager writes for `name` and the rendered
    `value`, without its CRLF (the encoded value is ASCII: characters are octets)."""
    return len(name) + len(": ") + len(q_encode(value))


# RFC 2047 section 5 (3): in a phrase, an encoded-word's text may hold letters, digits and
# "!*+-/" as themselves, "_" for a space, and everything else as "=XX".
_PHRASE_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")


def phrase(name: str) -> str:
    """A display name as it goes before `<address>` in a To: header: quoted when it is
    printable ASCII (the schema keeps quotes and backslashes out of names), else RFC 2047
    encoded-words (printable ASCII too, so Alertmanager's own encoding leaves them alone)."""
    if not needs_encoding(name):
        return f'"{name}"'
    words: list[str] = []
    current: list[str] = []
    length = 0
    for char in name:
        if char in _PHRASE_SAFE:
            encoded = char
        elif char == " ":
            encoded = "_"
        else:
            encoded = "".join(f"={byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        if current and length + len(encoded) > _MAX_CONTENT:
            words.append("".join(current))
            current, length = [], 0
        current.append(encoded)
        length += len(encoded)
    words.append("".join(current))
    return " ".join(f"=?{_CHARSET}?q?{word}?=" for word in words)


def too_long(name: str, value: str, *, example: bool = False) -> str | None:
    """Why the `name:` line Alertmanager would write for the rendered `value` cannot reach a
    strict server, or None. `example`: `value` is a template rendered with Alertmanager's
    example data (real alerts may make it longer)."""
    octets = line_octets(name, value)
    if octets <= MAX_HEADER_LINE:
        return None
    how = "once Q-encoded, as Alertmanager writes text that is not ASCII, and never folded" \
        if needs_encoding(value) else "Alertmanager 0.25 never folds a header"
    data = "rendered with Alertmanager's example data, " if example else ""
    return (f"{data}the {name}: line Alertmanager writes would be {octets:,} octets ({how}), more than the "
            f"{MAX_HEADER_LINE} a line of mail may have: a strict mail server refuses the whole message, and "
            f"Alertmanager counts it as sent; shorten it")
