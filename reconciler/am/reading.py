"""Alertmanager's config text, read the one way every command reads it: as Alertmanager 0.25
reads it (gopkg.in/yaml.v2 2.4.0, a YAML 1.1 reader, into Go structs). Pure.

Two readings of one text, with the same limits and the same located errors:

- `read_config`: plain values for the questions asked of a config (who is mailed, what an
  import means, what changed). Mappings and lists, and every scalar as the string Go gives a
  string field: its text as written. `match: {page: true}` matches the label value `true`,
  not `True`; `0x1F`, `1_000`, `+12`, `1e3`, `.INF` and `2001-12-14` stay those strings. A
  plain `~`, `null`, `Null`, `NULL` or nothing is None (Go's zero value: "" for a string),
  `!!binary` is decoded, and a merge key (`<<`) merges in Go's order (later keys win). The
  few boolean fields are read with `go_bool`, which takes Go's YAML 1.1 spellings (`yes`,
  `off`, `N`, ...). `ReadConfig.locate` finds where a value was written.
- `read_roundtrip`: ruamel's round-trip tree, for the render and the import, which write a
  config back with its comments and key order. A plain scalar the round trip would re-spell
  (`True` -> `true`, `+12` -> `12`, `-.INF` -> `-.inf`) keeps the text it had, so the file
  written back holds the strings Alertmanager read from the file given.

Both refuse a text nested deeper than their limit (before anything recurses), a text that
is not one YAML document, and a key given twice in one mapping (yaml.v2's UnmarshalStrict,
which Alertmanager uses, refuses that too), as `AlertmanagerConfigError`s located at
file:line:col.
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import AlertmanagerConfigError, BaseConfigError, Location
from ..yamlio.loader import KeyPath, TooDeep, collector_paused, compose_document, format_path, too_deep

if TYPE_CHECKING:
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import Node

MAX_DEPTH = 128
"""Nesting a config read by `read_config` may have: a render's is at most its base's
(BASE_DEPTH) plus the route the base's routes move under. Deeper, a composer runs out of stack."""
BASE_DEPTH = 100
"""Nesting a config read by `read_roundtrip` may have (a base, a config to import): fifty
routes deep. Deeper, ruamel's recursive composer runs out of stack (after many seconds), and no
Alertmanager config needs it."""

_TAG = "tag:yaml.org,2002:"
_STR, _NULL, _BINARY, _MERGE = (_TAG + name for name in ("str", "null", "binary", "merge"))
NULLS = frozenset({"", "~", "null", "Null", "NULL"})
"""What yaml.v2 reads as null when plain: Go's zero value in a string field."""
GO_BOOLEANS = {**dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
               **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False)}
"""yaml.v2's resolve table for booleans (YAML 1.1)."""


def decode_text(data: bytes, name: str) -> str:
    """The text of a config read as bytes, or a BaseConfigError saying where it is not UTF-8
    (Alertmanager reads its config as UTF-8). For every command that reads a base."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[start:exc.start].decode("utf-8", "replace")) + 1
        raise BaseConfigError(f"{name}:{line}:{column}: not UTF-8 text (byte 0x{data[exc.start]:02x}): save the "
                              "base as UTF-8, as Alertmanager reads it") from None


# -- the plain reading ---------------------------------------------------------------------

@dataclass(frozen=True)
class ReadConfig:
    """A config's plain values, and where each was written."""

    name: str
    """The file it was read from, as errors name it."""
    data: Any
    """Mappings, lists, strings and None (see the module's docstring)."""
    root: Node | None = None

    def locate(self, path: KeyPath, *, key: bool = False) -> Location:
        """Where the value at `path` (or, with `key`, its key) was written; the nearest
        enclosing node found when the path leads into a merge or nowhere."""
        node = self.root
        if node is None:
            return Location(self.name, 1, 1)
        found, key_node = node, None
        for part in path:
            child = _child(found, part)
            if child is None:
                break
            key_node, found = child
        marked = key_node if key and key_node is not None else found
        return Location(self.name, marked.start_mark.line + 1, marked.start_mark.column + 1)

    def error(self, path: KeyPath, message: str, *, key: bool = False) -> AlertmanagerConfigError:
        """An error located at `path`, which names it (`route.routes[0].matchers`)."""
        return AlertmanagerConfigError(self.locate(path, key=key), format_path(path), message)


def _child(node: Any, part: str | int) -> tuple[Any, Any] | None:
    """(key node or None, value node) of `part` in a mapping or list node."""
    kind = type(node).__name__
    if kind == "SequenceNode" and isinstance(part, int) and 0 <= part < len(node.value):
        return None, node.value[part]
    if kind == "MappingNode":
        for key, value in reversed(node.value):  # a later key wins, as in Go
            if type(key).__name__ == "ScalarNode" and _scalar(key) == part:
                return key, value
    return None


def read_config(text: str, name: str = "alertmanager.yml", *, limit: int = MAX_DEPTH,
                what: str = "a config") -> ReadConfig:
    """`text` read as Alertmanager reads it, as plain values; AlertmanagerConfigError, located,
    for a text that is not one YAML document, one nested deeper than `limit`, or one that
    gives a key twice in a mapping."""
    from ruamel.yaml.error import YAMLError

    try:
        with collector_paused():  # a large render is a great many nodes and values
            root = compose_document(text, limit, measure_tree=False)
            return ReadConfig(name, _GoValues(name, limit).build(root, ()) if root is not None else None, root)
    except TooDeep as exc:
        raise AlertmanagerConfigError(Location(name, exc.line, exc.column), "",
                                      f"nesting is deeper than the {limit} levels {what} may have") from None
    except (YAMLError, ValueError, RecursionError) as exc:
        raise _read_error(name, exc) from None


def _read_error(name: str, exc: Exception) -> AlertmanagerConfigError:
    """What either reader says when ruamel refuses the text: located where YAML says."""
    from ruamel.yaml.error import MarkedYAMLError

    if isinstance(exc, MarkedYAMLError):
        return _syntax_error(name, exc)
    if isinstance(exc, (ValueError, RecursionError)):  # an integer of more than 4,300 digits, among others
        return AlertmanagerConfigError(Location(name, 1, 1), "", f"cannot be read: {str(exc).split(';')[0]}")
    return AlertmanagerConfigError(Location(name, 1, 1), "", f"not YAML: {' '.join(str(exc).split())}")


def _syntax_error(name: str, exc: Any) -> AlertmanagerConfigError:
    mark = exc.problem_mark or exc.context_mark
    where = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name, 1, 1)
    problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
    return AlertmanagerConfigError(where, "", f"YAML syntax error: {problem}")


def _scalar(node: Any) -> str | None:
    """What a string field of Alertmanager's gets from a scalar node (None: Go's zero value)."""
    tag, value = node.tag, node.value
    if tag == _BINARY:
        try:
            return base64.b64decode("".join(value.split()), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return value  # Go refuses the config ("!!binary value contains invalid base64 data")
    if node.style in (None, "") and value in NULLS and tag != _STR:  # `!!str ~` is the text "~"
        return None
    return value


class _GoValues:
    """Builds plain values from a composed tree the way yaml.v2 fills Go values: shared nodes
    (an alias) once, a merge key's mappings merged in order, a key given twice refused, and
    nothing nested deeper than `limit` (TooDeep, where the tree is met in the text's order)."""

    _BUILDING = object()

    def __init__(self, name: str, limit: int) -> None:
        from ..yamlio import loader  # its YAML names are bound once compose_document ran

        self.name, self.limit = name, limit
        self.built: dict[int, Any] = {}
        self.text = loader._CResolver.DEFAULT_SCALAR_TAG
        """The resolvers' own tag object for text, which both composers give a string they
        resolve: such a scalar is its text to Go too (an explicit `!!str` is another object)."""
        self.scalar, self.sequence = loader.ScalarNode, loader.SequenceNode

    def fail(self, node: Any, path: KeyPath, message: str) -> AlertmanagerConfigError:
        where = Location(self.name, node.start_mark.line + 1, node.start_mark.column + 1)
        return AlertmanagerConfigError(where, format_path(path), message)

    def build(self, node: Any, path: KeyPath, depth: int = 1) -> Any:
        if node.ctag is self.text:
            return node.value
        if node.__class__ is self.scalar:
            return _scalar(node)
        known = self.built.get(id(node))
        if known is self._BUILDING:
            raise self.fail(node, path, "an alias inside the value it names: Alertmanager cannot read that")
        if known is not None:
            return known
        if depth > self.limit:
            raise TooDeep(node.start_mark.line + 1, node.start_mark.column + 1)
        self.built[id(node)] = self._BUILDING
        if node.__class__ is self.sequence:
            value: Any = [self.build(item, path + (index,), depth + 1) for index, item in enumerate(node.value)]
        else:
            value = {}
            written: set[str] = set()
            for key_node, value_node in node.value:
                if key_node.__class__ is not self.scalar:
                    raise self.fail(key_node, path, "a key that is a mapping or a list: Alertmanager's keys are text")
                if key_node.style in (None, "") and key_node.value == "<<" and key_node.tag in (_MERGE, _STR):
                    self._merge(value, value_node, path, depth)
                    continue
                key = _scalar(key_node) or ""
                if key in written:
                    raise self.fail(key_node, path + (key,), "given twice in one mapping: Alertmanager refuses "
                                                              "that (keep one)")
                written.add(key)
                value[key] = self.build(value_node, path + (key,), depth + 1)
        self.built[id(node)] = value
        return value

    def _merge(self, into: dict, node: Any, path: KeyPath, depth: int) -> None:
        """`<<: *defaults` or `<<: [*a, *b]`: yaml.v2 sets the merged keys as they come (for a
        list, the last mapping first, so an earlier one wins), and later keys overwrite them."""
        sources = list(reversed(node.value)) if node.__class__ is self.sequence else [node]
        for source in sources:
            merged = self.build(source, path, depth + 1)
            if not isinstance(merged, dict):
                raise self.fail(source, path, "a merge key (<<) takes a mapping or a list of mappings")
            into.update(merged)


def go_bool(value: Any) -> bool | None:
    """A boolean field's value as yaml.v2 reads it (YAML 1.1: `yes`, `on`, `N`, ...); None
    when absent or null (Go's false), or when it is no boolean (Alertmanager refuses that)."""
    if isinstance(value, bool):
        return value
    return GO_BOOLEANS.get(value) if isinstance(value, str) else None


def go_text(value: Any) -> str:
    """A string field's value: "" for absent or null."""
    return value if isinstance(value, str) else ""


# -- the round-trip reading ------------------------------------------------------------------

def roundtrip_yaml() -> YAML:
    """The round-trip YAML every Alertmanager file (and spec) we write goes through: block
    style, no folding, quotes kept, and plain scalars that keep their spelling (KeptScalar)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.Constructor = _keeping_constructor()
    yaml.Representer = _keeping_representer()
    yaml.width = 1_000_000  # never fold a long `to:` list over lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    return yaml


def dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def read_roundtrip(text: str, name: str, *, limit: int = BASE_DEPTH, what: str = "a config") -> Any:
    """`text` as ruamel's round-trip tree (a CommentedMap for a config; None for an empty text),
    to be changed and written back with `dump`; AlertmanagerConfigError, located, as for
    `read_config`."""
    from ruamel.yaml.error import YAMLError

    where = too_deep(text, limit, pure=True)
    if where is not None:
        raise AlertmanagerConfigError(Location(name, *where), "", f"nesting is deeper than the {limit} levels "
                                                                  f"{what} may have")
    try:
        return roundtrip_yaml().load(text)
    except (YAMLError, ValueError, RecursionError) as exc:
        raise _read_error(name, exc) from None


class KeptScalar(str):
    """A plain scalar of a non-string type (boolean, number, date) as it was written, with the
    tag it was read with: written back plain and unchanged (`True` stays `True`, which a string
    field of Alertmanager's reads as the text "True", not "true")."""

    __slots__ = ("tag",)

    def __new__(cls, text: str, tag: str) -> KeptScalar:
        kept = super().__new__(cls, text)
        kept.tag = tag
        return kept


_CONSTRUCTOR: Any = None
_REPRESENTER: Any = None


def _keeping_constructor() -> Any:
    """ruamel's round-trip constructor, building KeptScalar for plain booleans, numbers and
    dates, whose text its own types do not keep (`True`, `+12`, `.INF`, `2001-12-14t1:2:3`)."""
    global _CONSTRUCTOR
    if _CONSTRUCTOR is None:
        from ruamel.yaml.constructor import RoundTripConstructor

        defaults = {_TAG + kind: getattr(RoundTripConstructor, f"construct_yaml_{kind}")
                    for kind in ("bool", "int", "float", "timestamp")}

        class Constructor(RoundTripConstructor):
            def keep(self, node: Any) -> Any:
                if node.style in (None, "") and not (node.tag == _TAG + "bool" and node.value in ("true", "false")):
                    return KeptScalar(node.value, node.tag)
                return defaults[node.tag](self, node)

        for tag in defaults:
            Constructor.add_constructor(tag, Constructor.keep)
        _CONSTRUCTOR = Constructor
    return _CONSTRUCTOR


def _keeping_representer() -> Any:
    global _REPRESENTER
    if _REPRESENTER is None:
        from ruamel.yaml.representer import RoundTripRepresenter

        class Representer(RoundTripRepresenter):
            pass

        Representer.add_representer(KeptScalar, lambda self, data: self.represent_scalar(data.tag, str(data)))
        _REPRESENTER = Representer
    return _REPRESENTER
