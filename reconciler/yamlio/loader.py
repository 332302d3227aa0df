"""YAML text -> documents of plain values, with the file, line and column of every node.

Pure: takes the bytes of each file, returns values; touches no disk.

Guarantees, for any input whatsoever: a list of documents plus a list of located
`SpecError`s, never an exception, a hang or unbounded memory. Concretely:
- only the YAML 1.2 core types are built (mapping, sequence, string, integer, float,
  boolean, null); any other tag (``!!python/object``, ``!custom``, ``!!binary``) is an error;
- aliases are expanded, but a document may not grow past `Limits.max_nodes` nodes
  (alias bombs) nor nest deeper than `Limits.max_depth`;
- a key given twice in one mapping is an error (YAML forbids it; most parsers keep the last);
- files larger than `Limits.max_file_bytes`, bytes that are not UTF-8, and YAML syntax
  errors are errors located at the offending byte.
"""

from __future__ import annotations

import codecs
import gc
import math
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import Location, SpecError

if TYPE_CHECKING:
    from ruamel.yaml.nodes import Node

KeyPath = tuple[str | int, ...]
"""Where a value stands in a document: its keys and list indexes, e.g. ('spec', 'recipients', 3).
Not a file path (that is pathlib.Path)."""

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ, _TIMESTAMP, _MERGE = (_TAG + t for t in ("map", "seq", "timestamp", "merge"))
_SCALAR_TAGS = {_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP}
_VALUE = _TAG + "value"
"""What the resolver makes of a plain `=` (YAML 1.1's value key); a spec means the text."""
_BOOLEANS = {"true": True, "false": False}


@dataclass(frozen=True)
class Limits:
    """Bounds that keep hostile input cheap to reject."""

    max_file_bytes: int = 1024 * 1024
    """A spec file is a few kilobytes; a megabyte is already absurd."""
    max_documents: int = 1000
    """Documents in one file."""
    max_nodes: int = 200_000
    """Values in one file after alias expansion; a 50-recipient list has about 70."""
    max_depth: int = 32
    """Nesting depth of a document; the deepest spec field sits at 4."""
    max_tree_files: int = 5_000
    """Files of any kind in the spec folder of a commit (a 1,000-list folder has 1,000)."""
    max_tree_bytes: int = 16 * 1024 * 1024
    """All files of the spec folder of a commit together, as git's object headers give them."""
    max_spec_bytes: int = 4 * 1024 * 1024
    """Spec and template files together: what a pass reads and parses. Parsing takes many
    times the text's size in memory (bench/README.md); this keeps a pass well inside the
    unit's MemoryMax."""


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Document:
    """One YAML document: its plain value, and where each part of it was written."""

    file: str
    index: int
    """Position of the document in its file, from 0."""
    start: Location
    content: Any
    positions: Mapping[KeyPath, Location] = field(repr=False)
    """Key path of every value -> where the value starts."""
    key_positions: Mapping[KeyPath, Location] = field(repr=False)
    """Key path of every mapping entry -> where its key starts."""

    def locate(self, path: KeyPath, *, key: bool = False) -> Location:
        """The location of `path`, or of its nearest written ancestor."""
        path = tuple(path)
        if key and path in self.key_positions:
            return self.key_positions[path]
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return self.positions.get((), self.start)


class _Positions(Mapping):
    """Key path -> Location, each made when it is first read, from the parser's mark (or the
    Location of an alias): a valid document's are never read, and making one for every
    value of a large tree was a noticeable part of loading it."""

    __slots__ = ("_file", "_raw")

    def __init__(self, file: str, raw: dict[KeyPath, Any]) -> None:
        self._file, self._raw = file, raw

    def __getitem__(self, path: KeyPath) -> Location:
        value = self._raw[path]
        if not isinstance(value, Location):
            value = self._raw[path] = Location(self._file, value.line + 1, value.column + 1)
        return value

    def __contains__(self, path: object) -> bool:
        return path in self._raw

    def __iter__(self):
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


def format_path(path: KeyPath) -> str:
    """('spec', 'recipients', 3) -> 'spec.recipients[3]'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = str(part)
    return out


class _Invalid(Exception):
    """Aborts building one document; carries the located reason."""

    def __init__(self, node: Node | None, path: KeyPath, message: str) -> None:
        super().__init__(message)
        self.node, self.path, self.message = node, path, message


def _not_utf8(name: str, data: bytes, exc: UnicodeDecodeError) -> SpecError:
    """Where the first byte that is not UTF-8 is, as an editor counts: the line, and the
    characters before it on that line (a byte-order mark is not one)."""
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    at = bom + exc.start  # utf-8-sig reports offsets after the mark
    line_start = max(data.rfind(b"\n", 0, at) + 1, bom)
    column = len(data[line_start:at].decode("utf-8")) + 1
    return SpecError(Location(name, data.count(b"\n", 0, at) + 1, column), "",
                     f"byte 0x{data[at]:02x} is not UTF-8: save the file as UTF-8")


# What YAML 1.2 allows in a stream (ruamel's Reader checks the same): tab, line breaks,
# printable ASCII, NEL, and the rest of Unicode but surrogates, U+FFFE and U+FFFF.
_NOT_YAML_TEXT = "[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]"
_NOT_YAML_ASCII = re.compile("[^\x09\x0A\x0D\x20-\x7E]")
"""The same for ASCII text (most spec files): compiling the full class is a large part of a
small run, so it is compiled only for text that is not ASCII."""


def _not_yaml_text(text: str) -> re.Match | None:
    return (_NOT_YAML_ASCII if text.isascii() else re.compile(_NOT_YAML_TEXT)).search(text)


# YAML 1.1 (go-yaml, which Alertmanager reads its config with) counts NEL, LS and PS as line
# breaks; YAML 1.2 (ruamel, here) does not. A value holding one would be read as one string
# here and as two lines, or one folded with a space, by Alertmanager: refused, wherever it is.
_OTHER_LINE_BREAKS = re.compile("[\x85\u2028\u2029]")
_LINE_BREAK_NAMES = {"\x85": "NEL, next line", "\u2028": "LS, line separator", "\u2029": "PS, paragraph separator"}


def _line_break_message(character: str, escaped: bool = False) -> str:
    fix = "remove that escape (\\N, \\L, \\P or \\u....)" if escaped else "delete it"
    return (f"character U+{ord(character):04X} ({_LINE_BREAK_NAMES[character]}) is a line break to Alertmanager's "
            f"YAML reader and not to this one, so the two would read different text: {fix}")


def _offset_location(name: str, text: str, offset: int) -> Location:
    """The line and column (in characters, as an editor counts) of `offset` in `text`."""
    return Location(name, text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1)


def load_file(name: str, data: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[list[Document], list[SpecError]]:
    """Parse every document of one file. Returns the documents and the errors found."""
    text = _spec_text(name, data, limits)
    if isinstance(text, SpecError):
        return [], [text]

    _import_yaml()
    documents: list[Document] = []
    errors: list[SpecError] = []
    budget = _Budget(limits.max_nodes)
    try:
        aliases = _alias_locations(name, text) if "&" in text and "*" in text else {}
        for index, root in enumerate(_compose_all(text)):
            if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL):
                continue  # an empty document, as between two `---` lines
            if index >= limits.max_documents:
                errors.append(SpecError(_location(name, root), "",
                                        f"more than {limits.max_documents} documents in one file: split it"))
                break
            builder = _Builder(name, limits, budget, aliases.get(index, ()), escapes="\\" in text)
            try:
                content = builder.value(root, (), 0)
            except _Invalid as exc:
                where = _location(name, exc.node) if exc.node is not None else Location(name, 1, 1)
                errors.append(SpecError(where, format_path(exc.path), exc.message))
                if budget.exhausted:
                    break
                continue
            documents.append(Document(name, index, _location(name, root), content,
                                      _Positions(name, builder.positions), _Positions(name, builder.key_positions)))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name, 1, 1)
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        hint = next((hint for needle, hint in _SYNTAX_HINTS if needle in problem), "")
        errors.append(SpecError(where, "", f"YAML syntax error: {problem}{hint}"))
    except YAMLError as exc:
        errors.append(SpecError(Location(name, 1, 1), "", f"YAML error: {_one_line(str(exc))}"))
    except TooDeep as exc:
        errors.append(SpecError(Location(name, exc.line, exc.column), "",
                                f"nesting is deeper than the {limits.max_depth} levels a spec may have"))
    except RecursionError:
        errors.append(SpecError(Location(name, 1, 1), "",
                                f"nesting is deeper than the {limits.max_depth} levels a spec may have"))
    return documents, errors


def _spec_text(name: str, data: bytes, limits: Limits) -> str | SpecError:
    """The file's text, or the one error that keeps it from being parsed at all: too large,
    not UTF-8, or holding what YAML does not allow where the parser would not say exactly."""
    if len(data) > limits.max_file_bytes:
        # Readers stop one byte past the limit, so the real size is not known here (the
        # readers in source.py know it and report it with too_large_message).
        return SpecError(Location(name, 1, 1), "", too_large_message(None, limits))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _not_utf8(name, data, exc)
    if "\x00" in text:
        # The YAML scanner rejects NUL too, but only after scanning up to it.
        return SpecError(_offset_location(name, text, text.index("\x00")), "",
                         "NUL character: this is not a text file")
    line_break = _OTHER_LINE_BREAKS.search(text)
    if line_break:
        # Even ruamel is not consistent about them (a plain scalar ends there, a quoted one
        # goes on), so the file is not parsed: the location is exact, the field is the one there.
        return SpecError(_offset_location(name, text, line_break.start()), "",
                         _line_break_message(line_break.group()))
    unprintable = _not_yaml_text(text)
    if unprintable:
        # The parser would say only "position N" of the whole file.
        character = unprintable.group()
        return SpecError(_offset_location(name, text, unprintable.start()), "",
                         f"character U+{ord(character):04X} is not allowed in YAML (a control character, or "
                         "one Unicode reserves): delete it")
    return text


def too_large_message(size: int | None, limits: Limits = DEFAULT_LIMITS, *, template: bool = False) -> str:
    """The words for a file over the size limit; `size`, the file's size, when known;
    `template`: a template file (*.tmpl) rather than a spec file."""
    kind = "template file" if template else "file"
    what = f"{kind} is {size:,} bytes, more than" if size is not None else f"{kind} is larger than"
    if template:
        return (f"{what} the {limits.max_file_bytes:,} bytes a template file may have (Alertmanager would render it "
                "for every mail): make it smaller")
    return f"{what} the {limits.max_file_bytes:,} bytes a spec file may have: split it or remove what is not a spec"


def load_files(files: Mapping[str, bytes], limits: Limits = DEFAULT_LIMITS) -> tuple[list[Document], list[SpecError]]:
    """Parse every file, in name order so results never depend on the order files were read."""
    documents: list[Document] = []
    errors: list[SpecError] = []
    for name in sorted(files):
        docs, errs = load_file(name, files[name], limits)
        documents.extend(docs)
        errors.extend(errs)
    return documents, errors


def _compose_all(text: str) -> list[Node | None]:
    """Every document's node tree. Composing builds nodes only, never Python objects, so no
    tag can run code; tags are checked in _Builder.

    ruamel.yaml.clib's C parser is much faster than the pure-Python one, but its
    scanner follows YAML 1.1, which refuses some valid YAML 1.2 (a ':' inside a plain
    scalar in a flow sequence, as in `[http://127.0.0.1:9093]`). So it only takes the
    first try: whatever it refuses is parsed again by the pure-Python YAML 1.2 parser,
    whose verdict (and error position) stands."""
    if _HAVE_C_PARSER:
        # The C composer recurses in C: far too deep a text would crash the process, so such
        # a text is measured on the event stream first. Any other (every real spec file) is
        # composed, and its tree measured instead: the same answer without a second parse of
        # the text (a large part of loading a large tree).
        checked = not _c_composer_may_take(text)
        if checked:
            _check_depth(text)
        try:
            nodes = _CComposer(text).compose_all()
        except YAMLError:
            if not checked:
                _check_depth(text)
        else:
            if not checked:
                _check_tree_depth(nodes)
            return nodes
    return list(YAML(typ="safe", pure=True).compose_all(text))


def _alias_locations(name: str, text: str) -> dict[int, list[Location]]:
    """Where each alias (*name) stands, per document, in order. The composed tree holds the
    anchor's node at both places, so without this a duplicate written through an alias
    would be reported where the anchor is."""
    found: dict[int, list[Location]] = {}
    document = -1
    parser = YAML(typ="safe", pure=not _HAVE_C_PARSER)
    try:
        events = list(parser.parse(text))
    except YAMLError:
        try:
            events = list(YAML(typ="safe", pure=True).parse(text))
        except YAMLError:
            return {}  # the composer reports the syntax error
    for event in events:
        kind = type(event).__name__
        if kind == "DocumentStartEvent":
            document += 1
        elif kind == "AliasEvent":
            mark = event.start_mark
            found.setdefault(document, []).append(Location(name, mark.line + 1, mark.column + 1))
    return found


class TooDeep(Exception):
    """A mapping or list nested deeper than a limit, at (line, column), 1-based."""

    def __init__(self, line: int, column: int) -> None:
        super().__init__(line, column)
        self.line, self.column = line, column


def too_deep(text: str, limit: int, *, pure: bool = False) -> tuple[int, int] | None:
    """(line, column), 1-based, of the first mapping or list nested deeper than `limit`, or
    None. Counted on the event stream, which does not recurse: a composer (the C one
    crashes the process a few ten thousand levels deep) would. A syntax error is None here:
    the parse that follows reports it, located."""
    _import_yaml()
    depth = 0
    try:
        for event in YAML(typ="safe", pure=pure).parse(text):
            name = type(event).__name__
            if name in ("MappingStartEvent", "SequenceStartEvent"):
                depth += 1
                if depth > limit:
                    return event.start_mark.line + 1, event.start_mark.column + 1
            elif name in ("MappingEndEvent", "SequenceEndEvent"):
                depth -= 1
    except YAMLError:
        return None
    return None


def _check_depth(text: str, limit: int = 64) -> None:
    """Stop at `limit` (more than the loader's own max_depth, which then says so)."""
    where = too_deep(text, limit)
    if where is not None:
        raise TooDeep(*where)




def _check_tree_depth(roots: list[Node | None], limit: int = 64) -> None:
    """_check_depth on composed trees: the first mapping or list deeper than `limit`, in the
    order of the text, as too_deep finds it on the events. A node met again is an alias,
    which nests nothing in the event stream, so it is not walked again."""
    seen: set[int] = set()
    for root in roots:
        stack = [(root, 1)]
        while stack:
            node, depth = stack.pop()
            if node is None or isinstance(node, ScalarNode) or id(node) in seen:
                continue
            seen.add(id(node))
            if depth > limit:
                raise TooDeep(node.start_mark.line + 1, node.start_mark.column + 1)
            children = ([part for pair in node.value for part in pair] if isinstance(node, MappingNode)
                        else node.value)
            stack.extend((child, depth + 1) for child in reversed(children))


@contextmanager
def collector_paused() -> Iterator[None]:
    """Without the cyclic garbage collector for a while: while a large tree is built (nodes,
    values, model objects, an unpickled snapshot), every few hundred new containers start a
    collection that walks the new ones again, though none is garbage yet: a sixth to a third
    of the time. Reference counting still frees what is dropped; cycles wait for the
    collector's next run, after this."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def compose_document(text: str, limit: int, *, measure_tree: bool = True) -> Node | None:
    """The node tree of one YAML document (None for an empty text): the C parser first (the
    cached resolver table, _CResolver), the pure-Python one's verdict standing for what that
    refuses, and no mapping or list nested deeper than `limit` (TooDeep, located, found
    before the tree is walked by anything that recurses). Nodes only: what a scalar means is
    the caller's to say (reconciler.am.reading reads them as Alertmanager's Go YAML does).
    With `measure_tree` False, a tree the C composer built is not measured here: the caller
    walks it, and raises TooDeep past `limit` itself, before its own recursion could fail.
    Raises YAMLError for a text that is not one YAML document."""
    _import_yaml()
    if _HAVE_C_PARSER:
        checked = not _c_composer_may_take(text)
        if checked:
            _check_depth(text, limit)
        yaml = YAML(typ="safe", pure=False)
        yaml.Resolver = _CResolver
        try:
            root = yaml.compose(text)
        except YAMLError:
            pass  # read again below: the pure parser's verdict, and its words, stand
        else:
            if not checked and measure_tree:
                _check_tree_depth([root], limit)
            return root
    where = too_deep(text, limit, pure=True)
    if where is not None:
        raise TooDeep(*where)
    return YAML(typ="safe", pure=True).compose(text)


_C_COMPOSER_SAFE = 10_000
"""Nesting the C composer is given without measuring the events first: half of the 20,000
levels it was seen to handle (it crashed the process at 100,000, measured)."""


def _c_composer_may_take(text: str) -> bool:
    """Whether `text` cannot nest deeper than _C_COMPOSER_SAFE, by either of two bounds: each
    level of nesting takes one of the characters counted first (cheap, and enough for a spec
    file), or _nesting_bound (for a long text with many of them, such as a render)."""
    return (sum(map(text.count, "[{-?:")) <= _C_COMPOSER_SAFE
            or _nesting_bound(text) <= _C_COMPOSER_SAFE)


def _nesting_bound(text: str) -> int:
    """More than the deepest nesting `text` can have. A block mapping or list nested in another
    starts in a column to the right of its parent's, but for a list that is a mapping's
    value, which may start in the same column; so block nesting is under twice the longest
    line. Flow collections nest one a bracket, and hold no block collection."""
    longest = max(map(len, text.splitlines()), default=0)
    return 2 * (longest + 1) + text.count("[") + text.count("{")


YAML = MarkedYAMLError = YAMLError = MappingNode = ScalarNode = SequenceNode = _CResolver = _CComposer = None
_HAVE_C_PARSER = False


def _import_yaml() -> None:
    """Import ruamel.yaml on first use: an import that a run whose files all come from the
    cache (cache.py) never needs. Binds this module's names for it. One piece, though long:
    most of it is the classes that subclass ruamel's, which can only be defined once ruamel
    is imported, and every name is bound together, so no half-imported state is seen."""
    global YAML, MarkedYAMLError, YAMLError, MappingNode, ScalarNode, SequenceNode, _CResolver, _CComposer
    global _HAVE_C_PARSER
    if YAML is not None:
        return
    from ruamel.yaml import YAML as RuamelYAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
    from ruamel.yaml.resolver import VersionedResolver
    from ruamel.yaml.tag import Tag

    class _CResolver(VersionedResolver):
        """ruamel's resolver, minus the per-scalar lookup of the YAML version (one for every
        scalar, each through two AttributeErrors on the C parser's path: much of the time of
        composing). On that path the version is always the YAML object's (None: 1.2), since
        the C parser's %YAML directive never reaches the resolver, so the table it picks
        never changes within a stream: looked up once. The pure parser, which does pass
        %YAML on per document, keeps ruamel's own resolver. For the same reason a plain
        scalar's tag depends on its text only, and a text met again (keys, `true`, `30s`)
        gets the tag found the first time, which makes composing a render faster again."""

        _shared_table: Any = None
        """The YAML 1.2 table, built once a process: ruamel builds it again for every
        resolver (one a file), from the same constant list."""

        @property
        def versioned_resolver(self) -> Any:
            table = _CResolver._shared_table
            if table is None:
                table = _CResolver._shared_table = VersionedResolver.versioned_resolver.fget(self)
            return table

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            """VersionedResolver.resolve for a plain scalar, without its per-call list
            building: the same table, in the same order, the same default."""
            if kind is ScalarNode and implicit[0] and not self.yaml_path_resolvers:
                known = self.__dict__.setdefault("_known", {})
                found = known.get(value)
                if found is not None:
                    return found
                table = _CResolver._shared_table or self.versioned_resolver
                if table.get(None) is None:  # no resolvers for every first character (YAML 1.2)
                    found = self.DEFAULT_SCALAR_TAG
                    for tag, regexp in table.get(value[0] if value else "", ()):
                        if regexp.match(value):
                            found = Tag(suffix=tag)
                            break
                    known[value] = found
                    return found
            return super().resolve(kind, value, implicit)

    class yaml(RuamelYAML):
        def official_plug_ins(self) -> list:
            """None: ruamel looks for plug-ins with a glob of its folder for every YAML object
            (one a file, a real part of loading a large tree), and a spec is read without any."""
            return []

    try:
        from _ruamel_yaml import CParser  # ruamel.yaml.clib
    except ImportError:  # pragma: no cover - the dependency is declared; this keeps a bare install working
        _HAVE_C_PARSER = False
    else:
        class _CComposer(CParser, _CResolver):
            """The C parser and our resolver, as YAML(typ="safe", pure=False).compose_all
            puts them together, minus what that does for every stream: make a loader
            class, a YAML object and a constructor (a real part of loading many files)."""

            def __init__(self, text: str) -> None:
                CParser.__init__(self, text)
                _CResolver.__init__(self, version=None, loadumper=self)

            def compose_all(self) -> list[Node | None]:
                try:
                    nodes = []
                    while self.check_node():
                        nodes.append(self.get_node())
                    return nodes
                finally:
                    self.dispose()

        _HAVE_C_PARSER = True
    YAML = yaml  # last: the others are bound once this says so


def _location(name: str, node: Node) -> Location:
    return Location(name, node.start_mark.line + 1, node.start_mark.column + 1)


# The parser's words for the usual slips, and what to change. The parser reports where it
# noticed, which is the line to look at (or the one above it).
_SYNTAX_HINTS = (
    ("found character '\\t' that cannot start any token",
     ": this is a tab; YAML indents with spaces only, so replace it with spaces"),
    ("mapping values are not allowed here",
     ": a 'key: value' where a plain value was expected: check this line's indentation against the lines "
     "above, or quote a value that holds ': '"),
    ("expected <block end>",
     ": a line is indented differently from the keys beside it: line the keys of one mapping up in the same "
     "column"),
)


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _Budget:
    """Counts the nodes built for one file, across its documents."""

    def __init__(self, limit: int) -> None:
        self.left = limit
        self.limit = limit
        self.exhausted = False

    def spend(self) -> bool:
        self.left -= 1
        if self.left < 0:
            self.exhausted = True
        return not self.exhausted


class _Builder:
    """Turns one composed node tree into plain values, recording positions."""

    def __init__(self, name: str, limits: Limits, budget: _Budget, aliases=(), escapes: bool = True) -> None:
        self.name = name
        self.escapes = escapes
        """Whether the text has a backslash: the only way a value can hold a YAML 1.1 line
        break or a lone surrogate (load_file refuses them written as themselves), so
        without one no value needs searching for them."""
        self._aliases = list(reversed(aliases))  # where each alias stands, the next one last
        self._seen: set[int] = set()
        self._expanding = 0
        self.limits = limits
        self.budget = budget
        self.positions: dict[KeyPath, Any] = {}
        """Where each value starts: the parser's mark, or the Location of an alias (_Positions)."""
        self.key_positions: dict[KeyPath, Any] = {}

    def value(self, node: Node, path: KeyPath, depth: int) -> Any:
        if not self.budget.spend():
            raise _Invalid(node, path, f"more than {self.limits.max_nodes:,} values in one file "
                                       "(aliases count each time they are used): this is not a spec")
        if depth > self.limits.max_depth:
            raise _Invalid(node, path, f"nesting is deeper than the {self.limits.max_depth} levels a spec may have")
        if self._aliases and not self._expanding:
            alias = self._alias(node)
            if alias is not None:
                # Built again as a copy of the anchor's value, located here; counted once.
                self.positions.setdefault(path, alias)
                self.budget.left += 1
                self._expanding += 1
                try:
                    return self.value(node, path, depth)
                finally:
                    self._expanding -= 1
        self.positions.setdefault(path, node.start_mark)
        if isinstance(node, ScalarNode):
            if node.ctag is _CResolver.DEFAULT_SCALAR_TAG and not (self.escapes and _SUSPECT.search(node.value)):
                return node.value  # text, most values by far
            tag = _tag_of(node)
            if tag == _VALUE and node.value == "=":
                return "="
            if tag == _BOOL and node.value.lower() not in _BOOLEANS:
                # `!!bool yes`: YAML 1.2 has two booleans, and a guess would be silent.
                raise _Invalid(node, path, f"{node.value!r} is not a boolean: write true or false")
            if tag not in _SCALAR_TAGS:
                raise _Invalid(node, path, self._tag_message(tag))
            if self.escapes and _SUSPECT.search(node.value):
                line_break = _OTHER_LINE_BREAKS.search(node.value)
                if line_break:
                    self._line_break(node, path, line_break.group())
                raise _Invalid(node, path, "a lone surrogate escape (\\ud800 to \\udfff) is not a character: "
                                           "write the character itself")
            return _scalar(node, tag)
        if isinstance(node, MappingNode):
            self._expect_tag(node, path, _MAP)
            return self._mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            self._expect_tag(node, path, _SEQ)
            return [self.value(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        raise _Invalid(node, path, "unsupported YAML node")  # pragma: no cover - composer yields only these

    def _alias(self, node: Node) -> Location | None:
        """Where this use of `node` stands if it is an alias (*name), else None. The tree is
        walked in the order of the text, so the n-th node seen again outside an alias's own
        expansion is the n-th alias. Called only while aliases are left and none is being
        expanded (a bomb's millions of copies pass by without a call)."""
        if id(node) not in self._seen:
            self._seen.add(id(node))
            return None
        return self._aliases.pop()

    def _mapping(self, node: MappingNode, path: KeyPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_alias = self._alias(key_node) if self._aliases and not self._expanding else None
            key_tag = _tag_of(key_node) if isinstance(key_node, ScalarNode) else None
            if key_tag == _MERGE:
                raise _Invalid(key_node, path, "merge keys (<<) are not supported: write the fields out")
            if key_tag not in _SCALAR_TAGS:
                raise _Invalid(key_node, path, "a key must be a plain name, not a list or mapping")
            key = key_node.value
            if self.escapes and _SUSPECT.search(key):
                line_break = _OTHER_LINE_BREAKS.search(key)
                if line_break:
                    self._line_break(key_node, path, line_break.group())
            if key_tag != _STR:
                # `1: x` or `true: x` as a key is almost certainly a mistake; say so.
                raise _Invalid(key_node, path, f"key {key!r} is not a name: write field names as text")
            child = path + (key,)
            if key in result:
                first = _Positions(self.name, self.key_positions)[child]
                raise _Invalid(key_node, child, f"{key!r} is given twice in one mapping (first at line "
                                                f"{first.line}): keep one")
            self.key_positions[child] = key_alias or key_node.start_mark
            result[key] = self.value(value_node, child, depth + 1)
        return result

    @staticmethod
    def _line_break(node: Node, path: KeyPath, character: str) -> None:
        """Refuse a value holding NEL, LS or PS written as an escape (\\N, \\L, \\P, \\u2028):
        the renderer would write the character itself, and Alertmanager would read a line break."""
        raise _Invalid(node, path, _line_break_message(character, escaped=True))

    def _expect_tag(self, node: Node, path: KeyPath, tag: str) -> None:
        if _tag_of(node) != tag:
            raise _Invalid(node, path, self._tag_message(node.tag))

    @staticmethod
    def _tag_message(tag: str) -> str:
        shown = "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag
        return f"YAML tag {shown} is not allowed: specs hold plain text, numbers, booleans, lists and mappings"


def _tag_of(node: Node) -> str:
    """`node.tag`, a property that builds a string each time (once a node), read
    without it for the resolver's own tags: the tags of nearly every node."""
    tag = node.ctag
    if tag is _CResolver.DEFAULT_SCALAR_TAG:
        return _STR
    if tag is _CResolver.DEFAULT_MAPPING_TAG:
        return _MAP
    if tag is _CResolver.DEFAULT_SEQUENCE_TAG:
        return _SEQ
    return node.tag


_SUSPECT = re.compile("[\x85\u2028\u2029\ud800-\udfff]")
"""One search per value for the rare cases: a YAML 1.1 line break or a lone surrogate."""
_INT_RE = re.compile(r"[-+]?(0|[1-9][0-9_]*|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*)")


def _scalar(node: ScalarNode, tag: str) -> Any:
    value: str = node.value
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return _BOOLEANS[value.lower()]
    if tag == _INT and _INT_RE.fullmatch(value):
        sign = -1 if value.startswith("-") else 1
        digits = value.lstrip("+-").replace("_", "")
        if digits.startswith(("0o", "0x")):
            return sign * int(digits, 0)
        return sign * int(digits, 10)
    if tag == _FLOAT:
        lowered = value.lower().replace("_", "")
        if lowered in (".nan",):
            return math.nan
        if lowered in (".inf", "+.inf"):
            return math.inf
        if lowered == "-.inf":
            return -math.inf
        try:
            return float(lowered)
        except ValueError:
            return value
    # str, timestamp (kept as written) and anything the resolver tagged oddly.
    return value
