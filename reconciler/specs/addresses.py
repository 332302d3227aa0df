"""E-mail addresses as Alertmanager will use them. Pure.

Alertmanager 0.25 parses `to` and `from` at send time with Go's `net/mail`
(`ParseAddressList`), then gives each address to the SMTP server in `MAIL FROM`/`RCPT TO`.
An address that parses nowhere but here fails every message of its list at 3 a.m., so an
address is accepted only if all of these hold:

- the local part is a dot-atom as `net/mail` reads one: atext characters
  (letters, digits and ``!#$%&'*+-/=?^_`{|}~``) in dot-separated pieces, no leading,
  trailing or doubled dot. A quoted local part (``"j doe"@x``) is refused: `net/mail`
  drops the quotes, and the server would be sent ``j doe@x``;
- the domain is a host name (letters, digits, '-', labels of 1 to 63, at least one dot):
  `net/mail` takes any dot-atom there, but only a host name can be delivered to;
- ASCII only: `net/mail` takes UTF-8, but a server without SMTPUTF8 refuses it;
- no ``{{``: Alertmanager expands `to` as a template before parsing it;
- RFC 5321's limits: 64 characters before the '@', 254 in all.

tests/integration/test_addresses_alertmanager.py sends a mail to each accepted shape
through the real Alertmanager to an SMTP server.
"""

from __future__ import annotations

import re

MAX_LOCAL_PART = 64
MAX_ADDRESS = 254

_ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~-"
_DOT_ATOM = re.compile(f"[{_ATEXT}]+(?:\\.[{_ATEXT}]+)*")
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(f"{_LABEL}(?:\\.{_LABEL})+")
_SPECIALS = '()<>[]:;@\\," '


def address_problem(text: str) -> str | None:
    """Why `text` is not an address Alertmanager can send to, in a user's words, or None.
    The words follow "'<text>' " in a message."""
    local, at, domain = text.rpartition("@")
    plain = "is not an e-mail address: write it as name@example.com"
    if any(ord(c) < 0x20 or c == "\x7f" for c in text):
        return "is not an e-mail address: it holds a control character (a line break?): write it on one line"
    if not at or not local or not domain or "@" in local and not local.startswith('"'):
        return plain
    if "<" in text or ">" in text:
        return ("is not an e-mail address: write the bare address, or a mapping with the person's name under "
                "name: and the address under email:")
    if not text.isascii():
        return ("is not an e-mail address a mail server without SMTPUTF8 accepts: it has characters outside ASCII; "
                "write the domain in its xn-- form and use an ASCII mailbox name")
    if "{{" in text or "}}" in text:
        return "is not an e-mail address: '{{' and '}}' would be read by Alertmanager as a template; remove them"
    go = "is not an e-mail address Alertmanager (Go's net/mail) accepts"
    if local.startswith('"'):
        return ("is an address Alertmanager (Go's net/mail) would pass on without its quotes, so the server would "
                "be sent another address: use an address without quotes")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        where = "starts with a dot" if local.startswith(".") else "ends with a dot" if local.endswith(".") \
            else "has two dots in a row"
        return f"{go}: the part before the '@' {where}; a dot may only stand between other characters"
    if not _DOT_ATOM.fullmatch(local):
        bad = " ".join(repr(c) for c in sorted({c for c in local if c in _SPECIALS})) or "a character it refuses"
        return (f"{go}: the part before the '@' holds {bad}; use letters, digits, dots and "
                "!#$%&'*+-/=?^_`{|}~ only")
    if len(local) > MAX_LOCAL_PART:
        return (f"is not an e-mail address every mail server accepts: {len(local)} characters before the '@', more "
                f"than the {MAX_LOCAL_PART} of RFC 5321's limit; use a shorter address")
    if len(text) > MAX_ADDRESS:
        return (f"is not an e-mail address every mail server accepts: {len(text)} characters, more than the "
                f"{MAX_ADDRESS} of RFC 5321's limit; use a shorter address")
    if not _HOST_NAME.fullmatch(domain):
        return (f"is not an e-mail address: {domain!r} after the '@' is not a host name mail can be delivered to; "
                "write a domain such as example.com (letters, digits and '-', parts separated by single dots)")
    return None
