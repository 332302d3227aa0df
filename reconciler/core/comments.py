"""Comment placement for the render: ruamel.yaml keeps a comment in slots of the node
before it, so when the render moves, wraps or removes entries, their comments must be moved
with them, re-indented, or removed (an earlier render's marks). Pure.

ruamel.yaml is imported on the first call (`_bind`), as the render does: a module that only
needs render's names must not pay for it.
"""

from __future__ import annotations

from typing import Any

CommentedBase = CommentedMap = CommentedSeq = CommentMark = CommentToken = None


def _bind() -> None:
    global CommentedBase, CommentedMap, CommentedSeq, CommentMark, CommentToken
    if CommentToken is not None:
        return
    from ruamel.yaml.comments import CommentedBase, CommentedMap, CommentedSeq
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken  # last: the others are bound once this is


NESTED = 4
"""How much deeper the base's routes sit under the wrapper: `routes:` and its sequence indent."""


def shift_comments(node: Any, by: int, seen: set[int] | None = None) -> None:
    """Indent every whole-line comment in `node` by `by` columns (or less, when negative), so
    comments moved one level deeper or shallower with their routes stay in line with them.
    ruamel writes a comment's first line at the token's column and the lines after it as
    they are; one token can hang in two places, and is shifted once."""
    _bind()
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    seen.add(id(node))

    def shift(token: Any, first_line_inline: bool) -> None:
        if isinstance(token, list):
            for item in token:
                shift(item, False)
            return
        if not isinstance(token, CommentToken) or id(token) in seen:
            return
        seen.add(id(token))
        lines = token.value.split("\n")
        for index, line in enumerate(lines):
            if index == 0 and (first_line_inline or line.startswith("#")):
                if line.startswith("#") and not first_line_inline:
                    token.column = max(0, token.column + by)
                continue
            if not line.lstrip().startswith("#"):
                continue
            if by > 0:
                lines[index] = " " * by + line
            else:
                lines[index] = line[min(-by, len(line) - len(line.lstrip(" "))):]
        token.value = "\n".join(lines)

    if isinstance(node, CommentedBase):
        inline_slot = 2 if isinstance(node, CommentedMap) else 0
        comments = node.ca
        if comments.comment:
            shift(comments.comment[0], True)
            for slot in comments.comment[1:]:
                shift(slot, False)
        for slots in comments.items.values():
            for index, slot in enumerate(slots):
                shift(slot, index == inline_slot)
    if isinstance(node, dict):
        for value in node.values():
            shift_comments(value, by, seen)
    elif isinstance(node, list):
        for value in node:
            shift_comments(value, by, seen)


def move_key_comment(source: CommentedMap, target: CommentedMap, key: str) -> None:
    """Move the comment that stands between `key:` and its first entry ("# pages go to the
    pager" above the first route) from `source` to `target`, so it stays with that entry."""
    _bind()
    slot = source.ca.items.get(key)
    if slot and len(slot) > 3 and slot[3]:
        target.ca.items.setdefault(key, [None, None, None, None])[3] = slot[3]
        slot[3] = None


def give_leading_comment(parent: CommentedMap, key: str, text: str) -> None:
    """Put `text` (comment lines, as `take_trailing_comment` returns them) between `key:` and
    the first entry of its list, where ruamel keeps such a comment."""
    _bind()
    if not text:
        return
    first = text.lstrip("\n")
    column = len(first) - len(first.lstrip(" "))
    token = CommentToken(text[:len(text) - len(first)] + first[column:], CommentMark(column), None)
    slot = parent.ca.items.setdefault(key, [None, None, None, None])
    slot[3] = [token, *(slot[3] or ())]


def take_trailing_comment(node: Any) -> str:
    """Detach what follows the last line of `node` (blank lines, comments), keeping an
    end-of-line comment of that line where it is. Returns the detached text."""
    _bind()
    holder, slot = _last_comment_slot(node)
    if holder is None:
        return ""
    token = holder[slot]
    if not isinstance(token, CommentToken):
        return ""
    head, newline, tail = token.value.partition("\n")
    if not head.lstrip().startswith("#"):
        head = ""
    if not tail:
        return ""
    if head:
        token.value = head + newline
    else:
        holder[slot] = None
    return tail


def give_trailing_comment(node: Any, tail: str) -> None:
    """Attach `tail` (from `take_trailing_comment`) after the last line of `node`."""
    _bind()
    if not tail:
        return
    holder, slot = _last_comment_slot(node)
    if holder is None:
        return
    token = holder[slot]
    if isinstance(token, CommentToken):
        token.value = token.value + tail if token.value.endswith("\n") else token.value + "\n" + tail
    else:
        holder[slot] = CommentToken("\n" + tail, CommentMark(0), None)


def _last_comment_slot(node: Any) -> tuple[list | None, int]:
    """The comment slot after the deepest last entry of `node`: (list, index) or (None, 0)."""
    while isinstance(node, (CommentedMap, CommentedSeq)) and len(node):
        if isinstance(node, CommentedMap):
            key = list(node)[-1]
            value = node[key]
            if isinstance(value, (CommentedMap, CommentedSeq)) and len(value):
                node = value
                continue
            return node.ca.items.setdefault(key, [None, None, None, None]), 2
        index = len(node) - 1
        value = node[index]
        if isinstance(value, (CommentedMap, CommentedSeq)) and len(value):
            node = value
            continue
        return node.ca.items.setdefault(index, [None, None, None, None]), 0
    return None, 0


def add_header_comment(config: CommentedMap, text: str) -> None:
    _bind()
    # Not yaml_set_start_comment: that would replace the base's own opening comment.
    token = CommentToken(f"# {text}\n", CommentMark(0), None)
    if config.ca.comment is None:
        config.ca.comment = [None, [token]]
    else:
        config.ca.comment[1] = [token, *(config.ca.comment[1] or ())]


def scrub_marks(node: Any, mark: str, seen: set[int] | None = None) -> None:
    """Remove every comment line an earlier render wrote, wherever ruamel attached it. A
    node an alias shares is visited once (an alias bomb is cheap to write, not to walk)."""
    _bind()
    seen = set() if seen is None else seen
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, CommentedBase):
        comments = node.ca
        comments.comment = _scrub_slot(comments.comment, mark)
        for key in list(comments.items):
            comments.items[key] = _scrub_slot(comments.items[key], mark)
        if getattr(comments, "end", None):
            comments.end = _scrub_slot(comments.end, mark)
    if isinstance(node, dict):
        for value in node.values():
            scrub_marks(value, mark, seen)
    elif isinstance(node, list):
        for value in node:
            scrub_marks(value, mark, seen)


def _scrub_slot(slot: Any, mark: str) -> Any:
    """`slot` without our comment lines. A list emptied by that becomes None, which is how
    ruamel marks "no comment here" (an empty list makes it drop a line break)."""
    if isinstance(slot, CommentToken):
        if mark in slot.value:
            slot.value = "\n".join(line for line in slot.value.split("\n") if mark not in line)
        return slot
    if isinstance(slot, list):
        kept = []
        for item in slot:
            item = _scrub_slot(item, mark)
            if isinstance(item, CommentToken) and not item.value.strip() and item.value.count("\n") == 0:
                continue
            kept.append(item)
        return kept if kept or not slot else None
    return slot
