"""Our routes and receivers written as text, formatted as ruamel.yaml formats the rest of the
file (mapping indent 2, sequence dash offset 2), and put in where the skeleton's placeholders
are: writing 50 lists' entries as text is much cheaper than through ruamel's emitter
(bench/README.md has the figures). Pure.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .names import MARK, PREFIX

PLACEHOLDER = "notify-reconciler-generated-{}-go-here"
PLACEHOLDER_LINE = re.compile(r"^(?P<indent> *)- notify-reconciler-generated-(?P<name>routes|receivers)-go-here\n",
                               re.MULTILINE)


def placeholder_indent(skeleton: str, name: str) -> int:
    match = re.search(rf"^( *)- {PLACEHOLDER.format(name)}\n", skeleton, re.MULTILINE)
    return len(match.group(1)) if match else 0


def assemble(skeleton: str, lists: list[tuple[str, str]] | tuple[tuple[str, str], ...], fixed: str, *,
              wrapped: bool = False, blocking: str = "") -> str:
    """Put our routes and receivers where the skeleton's placeholders are, formatted as
    ruamel formats the rest (mapping indent 2, sequence dash offset 2)."""
    pieces, position = [], 0
    for match in PLACEHOLDER_LINE.finditer(skeleton):  # in the skeleton, which is small: not in the large result
        indent = match.group("indent")
        if match.group("name") == "routes":
            lines = [f"{indent}# {MARK}: routes to {PREFIX}* receivers\n", *(route for route, _ in lists)]
            if blocking:
                lines += [f"{indent}# {MARK}: what lists with keepFromBase keep from the base's receivers\n",
                          blocking]
            if wrapped:
                lines.append(f"{indent}# {MARK}: the base's own routes, as written, under one route to its "
                             "root receiver\n")
        else:
            lines = [f"{indent}# {MARK}: {PREFIX}* receivers\n", fixed, *(receiver for _, receiver in lists)]
        pieces += [skeleton[position:match.start()], *lines]
        position = match.end()
    pieces.append(skeleton[position:])
    return "".join(pieces)


def item_lines(mapping: dict, dash: int) -> list[str]:
    lines = mapping_lines(mapping, dash + 2)
    lines[0] = " " * dash + "- " + lines[0][dash + 2:]
    return lines


def mapping_lines(mapping: dict, column: int) -> list[str]:
    pad = " " * column
    lines = []
    for key, value in mapping.items():
        if isinstance(value, dict):
            lines.append(f"{pad}{key}:\n")
            lines.extend(mapping_lines(value, column + 2))
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            lines.append(f"{pad}{key}:\n")
            for item in value:
                lines.extend(item_lines(item, column + 2))
        elif isinstance(value, list):
            lines.append(f"{pad}{key}: [{', '.join(scalar_text(item, flow=True) for item in value)}]\n")
        else:
            lines.append(f"{pad}{key}: {scalar_text(value)}\n")
    return lines


# Plain (unquoted) only where no YAML reader could take it for anything but this string.
# Alertmanager reads YAML 1.1 (go-yaml v2), where yes/no/on/off/y/n are booleans and
# 1_000, 0x1f, 1:20 are numbers, so those are quoted too. Block context also allows ", "
# (a `to:` list); flow context (inside [...]) does not.
_PLAIN_FLOW = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./@-]*")
_PLAIN_BLOCK = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_./@, -]*[A-Za-z0-9])?")
_LOOKS_TYPED = re.compile(r"[-+]?[0-9_.:]+([eE][-+]?[0-9]+)?|0[xob][0-9a-fA-F_]+|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*"
                          r"|(?i:y|yes|n|no|true|false|on|off|null)")


def scalar_text(value: Any, flow: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    plain = _PLAIN_FLOW if flow else _PLAIN_BLOCK
    if plain.fullmatch(text) and not _LOOKS_TYPED.fullmatch(text):
        return text
    if "'" not in text and text.isprintable():
        return f"'{text}'"  # single quotes: nothing inside is an escape
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid YAML double-quoted one
