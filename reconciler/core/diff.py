"""Dry run: a unified diff between what a spec folder would render and what is live.

Pure. Secrets are shown as ``<secret>`` on both sides, the way Alertmanager's own
/api/v2/status shows them: values of secret-bearing keys (block or flow style, and the lines
of a block scalar under such a key), and passwords inside URLs. Lines are compared as they
really are and only shown redacted, so a changed secret still counts as a change.
"""

from __future__ import annotations

import difflib
import re

from ..am.credentials import CREDENTIAL_WORDS, KEY_PATTERN

SECRET = "<secret>"
# A key that holds a credential (reconciler.am.credentials: Alertmanager's Secret fields and
# any key whose last word says so), followed by its value on the same line.
_SECRET_KEY = re.compile(r"(?:^|(?<=[\s{,\[]))(?P<quote>[\"']?)" + KEY_PATTERN + r"(?P=quote)[ \t]*:[ \t]+(?=\S)")
_SECRET_WORD = re.compile("|".join(CREDENTIAL_WORDS))
"""What every match of _SECRET_KEY holds."""
_BLOCK_SCALAR = re.compile(r"[|>][-+0-9]*[ \t]*(?:#.*)?$")
_URL_PASSWORD = re.compile(r"(://[^/:@\s]+):[^@/\s]+@")
_EMPTY = ("''", '""', SECRET)


def redact(text: str) -> str:
    return "".join(redact_lines(text.splitlines(keepends=True)))


def redact_lines(lines: list[str]) -> list[str]:
    """The same lines, as many, with every secret value replaced by <secret>."""
    shown: list[str] = []
    block_column: int | None = None  # inside a block scalar under a secret key deeper than this
    for line in lines:
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        if block_column is not None:
            indent = len(body) - len(body.lstrip(" "))
            if not body.strip() or indent > block_column:
                shown.append((body[:indent] + SECRET if body.strip() else body) + ending)
                continue
            block_column = None
        if _SECRET_WORD.search(body):  # most lines have none: one quick search, not _SECRET_KEY's
            body, block_column = _redact_line(body)
        if "://" in body:
            body = _URL_PASSWORD.sub(rf"\1:{SECRET}@", body)
        shown.append(body + ending)
    return shown


def _redact_line(body: str) -> tuple[str, int | None]:
    """The line with each secret value replaced, and the key's column if its value is a block
    scalar whose lines follow."""
    out, position = [], 0
    for match in _SECRET_KEY.finditer(body):
        if match.start() < position:
            continue  # inside a value already replaced
        start = match.end()
        rest = body[start:]
        if _BLOCK_SCALAR.match(rest) and _flow_depth(body[:match.start()]) == 0:
            out.append(body[position:start] + rest)
            return "".join(out), match.start()
        end = start + _value_length(rest, in_flow=_flow_depth(body[:match.start()]) > 0)
        value = body[start:end].strip()
        out.append(body[position:start] + (value if value in _EMPTY else SECRET))
        position = end
    out.append(body[position:])
    return "".join(out), None


def _value_length(rest: str, *, in_flow: bool) -> int:
    """How much of `rest` is the value: a quoted scalar to its closing quote; a plain one to
    the end of the line, or in a flow collection to the next , } or ]."""
    if rest[:1] == '"':
        match = re.match(r'"(?:[^"\\]|\\.)*"?', rest)
        return match.end()
    if rest[:1] == "'":
        match = re.match(r"'(?:[^']|'')*'?", rest)
        return match.end()
    if in_flow:
        match = re.match(r"[^,}\]]*", rest)
        return len(match.group(0).rstrip())
    return len(rest)


def _flow_depth(prefix: str) -> int:
    """How many flow collections ({ or [) are open at the end of `prefix` (quotes skipped)."""
    depth, quote = 0, ""
    for char in prefix:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth = max(0, depth - 1)
    return depth


def unified_diff(live: str, rendered: str, live_label: str, rendered_label: str, *,
                 live_redacted: bool = False) -> str:
    """'' when they are the same; otherwise a unified diff with secrets redacted.

    The real lines are compared, so a changed secret is a change: its line shows as
    ``-key: <secret>`` / ``+key: <secret>``. When `live` comes redacted already (Alertmanager's
    own status), only the redacted texts can be compared."""
    if live_redacted:
        rendered = redact(rendered)
    if live == rendered:
        return ""
    before, after = live.splitlines(keepends=True), rendered.splitlines(keepends=True)
    before_shown, after_shown = redact_lines(before), redact_lines(after)
    out = [f"--- {live_label}\n", f"+++ {rendered_label}\n"]
    for group in _TrimmedMatcher(before, after).get_grouped_opcodes(3):
        out.append(f"@@ -{_hunk_range(group[0][1], group[-1][2])} +{_hunk_range(group[0][3], group[-1][4])} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [" " + line for line in before_shown[i1:i2]]
                continue
            out += ["-" + line for line in before_shown[i1:i2]]
            out += ["+" + line for line in after_shown[j1:j2]]
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in out)


class _TrimmedMatcher(difflib.SequenceMatcher):
    """difflib's matcher over only what lies between the common first and last lines.

    A render's lines repeat a lot (every list has the same `send_resolved:` and `headers:`
    lines), which makes the matcher's longest-match search slow over a whole config (seconds
    for a large one of which one line changed); the lines both texts begin and end with are equal
    anyway, and are added back as one equal run each."""

    def __init__(self, before: list[str], after: list[str]):
        limit = min(len(before), len(after))
        head = 0
        while head < limit and before[head] == after[head]:
            head += 1
        tail = 0
        while tail < limit - head and before[-1 - tail] == after[-1 - tail]:
            tail += 1
        self._head, self._tail, self._sizes = head, tail, (len(before), len(after))
        super().__init__(None, before[head:len(before) - tail], after[head:len(after) - tail], autojunk=False)

    def get_opcodes(self) -> list[tuple[str, int, int, int, int]]:
        head, tail, (size_a, size_b) = self._head, self._tail, self._sizes
        codes = [(tag, i1 + head, i2 + head, j1 + head, j2 + head) for tag, i1, i2, j1, j2 in super().get_opcodes()
                 if i1 != i2 or j1 != j2]
        if head:
            codes.insert(0, ("equal", 0, head, 0, head))
        if tail:
            codes.append(("equal", size_a - tail, size_a, size_b - tail, size_b))
        merged: list[tuple[str, int, int, int, int]] = []
        for code in codes:  # equal runs that now touch become one, as difflib would give them
            if merged and code[0] == "equal" and merged[-1][0] == "equal":
                last = merged.pop()
                code = ("equal", last[1], code[2], last[3], code[4])
            merged.append(code)
        return merged or [("equal", 0, size_a, 0, size_b)]


def _hunk_range(start: int, stop: int) -> str:
    """A hunk's line range as unified diffs write it (difflib's own convention)."""
    length = stop - start
    if length == 1:
        return f"{start + 1}"
    return f"{start + 1 if length else start},{length}"


def colourise(diff: str) -> str:
    colours = {"+": "\x1b[32m", "-": "\x1b[31m", "@": "\x1b[36m"}
    out = []
    for line in diff.splitlines(keepends=True):
        colour = "\x1b[1m" if line.startswith(("+++", "---")) else colours.get(line[:1])
        out.append(f"{colour}{line.rstrip(chr(10))}\x1b[0m\n" if colour else line)
    return "".join(out)
