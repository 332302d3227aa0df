"""loader: YAML bytes -> documents of plain values, every node located. Pure: bytes in,
values and located errors out, so these tests need no fixtures."""

from __future__ import annotations

import math

import pytest

from reconciler.errors import Location, SpecErrors
from reconciler.yamlio.loader import Limits, format_path, load_file, load_files
from reconciler.specs.pipeline import parse_specs

F = "f.yaml"


def loaded(data: str | bytes, limits: Limits = Limits()):
    docs, errors = load_file(F, data.encode() if isinstance(data, str) else data, limits)
    return docs, [str(error) for error in errors]


def only_document(data: str | bytes):
    docs, errors = loaded(data)
    assert errors == []
    assert len(docs) == 1
    return docs[0]


def only_error(data: str | bytes, limits: Limits = Limits()) -> str:
    docs, errors = loaded(data, limits)
    assert len(errors) == 1, errors
    return errors[0]


# -- positions -----------------------------------------------------------------------------

FLOW_IN_BLOCK = (
    "kind: X\n"                                   # 1
    "spec:\n"                                     # 2
    "  recipients:\n"                             # 3
    "    - a@example.com\n"                       # 4
    "    - {name: B, email: b@example.com}\n"     # 5
)
BLOCK_IN_LIST = (
    "spec:\n"                                     # 1
    "  recipients:\n"                             # 2
    "    - name: A\n"                             # 3
    "      email: a@example.com\n"                # 4
    "  tls:\n"                                    # 5
    "    caFile: /etc/ca.pem\n"                   # 6
)


@pytest.mark.parametrize("text, path, key, where", [
    (FLOW_IN_BLOCK, ("kind",), False, (1, 7)),
    (FLOW_IN_BLOCK, ("kind",), True, (1, 1)),
    (FLOW_IN_BLOCK, ("spec",), True, (2, 1)),
    (FLOW_IN_BLOCK, ("spec", "recipients"), True, (3, 3)),
    (FLOW_IN_BLOCK, ("spec", "recipients"), False, (4, 5)),
    (FLOW_IN_BLOCK, ("spec", "recipients", 0), False, (4, 7)),
    (FLOW_IN_BLOCK, ("spec", "recipients", 1), False, (5, 7)),
    (FLOW_IN_BLOCK, ("spec", "recipients", 1, "name"), True, (5, 8)),
    (FLOW_IN_BLOCK, ("spec", "recipients", 1, "name"), False, (5, 14)),
    (FLOW_IN_BLOCK, ("spec", "recipients", 1, "email"), True, (5, 17)),
    (FLOW_IN_BLOCK, ("spec", "recipients", 1, "email"), False, (5, 24)),
    (BLOCK_IN_LIST, ("spec", "recipients", 0), False, (3, 7)),
    (BLOCK_IN_LIST, ("spec", "recipients", 0, "name"), True, (3, 7)),
    (BLOCK_IN_LIST, ("spec", "recipients", 0, "name"), False, (3, 13)),
    (BLOCK_IN_LIST, ("spec", "recipients", 0, "email"), True, (4, 7)),
    (BLOCK_IN_LIST, ("spec", "recipients", 0, "email"), False, (4, 14)),
    (BLOCK_IN_LIST, ("spec", "tls", "caFile"), True, (6, 5)),
    (BLOCK_IN_LIST, ("spec", "tls", "caFile"), False, (6, 13)),
])
def test_values_and_keys_are_located_one_based(text, path, key, where):
    assert only_document(text).locate(path, key=key) == Location(F, *where)


@pytest.mark.parametrize("path, key, where", [
    (("spec", "recipients", 1, "missing"), False, (5, 7)),   # an unwritten field: its mapping
    (("spec", "recipients", 1, "missing"), True, (5, 7)),    # no key written either
    (("spec", "recipients", 9), False, (4, 5)),              # past the end: the list
    (("nothing", "here"), False, (1, 1)),                    # nothing written: the document
])
def test_an_unwritten_path_is_located_at_its_nearest_written_ancestor(path, key, where):
    assert only_document(FLOW_IN_BLOCK).locate(path, key=key) == Location(F, *where)


MULTI = (
    "---\n"               # 1
    "a: 1\n"              # 2
    "---\n"               # 3
    "---\n"               # 4  an empty document
    "# only a comment\n"  # 5  another one
    "---\n"               # 6
    "b: [x, y]\n"         # 7
    "...\n"               # 8
    "---\n"               # 9
    "c: {d: 2}\n"         # 10
)


def test_several_documents_per_file_keep_their_own_lines_and_empty_ones_are_skipped():
    docs, errors = loaded(MULTI)
    assert errors == []
    assert [doc.content for doc in docs] == [{"a": 1}, {"b": ["x", "y"]}, {"c": {"d": 2}}]
    assert [doc.start for doc in docs] == [Location(F, 2, 1), Location(F, 7, 1), Location(F, 10, 1)]
    assert docs[1].locate(("b", 1)) == Location(F, 7, 8)
    assert docs[2].locate(("c", "d")) == Location(F, 10, 8)
    assert docs[2].locate(("c", "d"), key=True) == Location(F, 10, 5)


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing but a comment\n", "---\n", "---\n---\n...\n"])
def test_a_file_without_content_has_no_documents_and_no_errors(text):
    assert loaded(text) == ([], [])


def test_an_error_in_one_document_leaves_the_others_loaded():
    docs, errors = loaded("a: !!binary aGVsbG8=\n---\nb: 1\n")
    assert [doc.content for doc in docs] == [{"b": 1}]
    assert [error.split(": ", 1)[0] for error in errors] == ["f.yaml:1:4"]


def test_files_are_loaded_in_name_order_whatever_the_mapping_order():
    docs, errors = load_files({"b.yaml": b"b: 1\n", "a.yaml": b"a: 1\n", "sub/c.yaml": b"c: 1\n"})
    assert errors == []
    assert [doc.file for doc in docs] == ["a.yaml", "b.yaml", "sub/c.yaml"]


# -- YAML 1.2 scalar typing --------------------------------------------------------------------

@pytest.mark.parametrize("written, value", [
    # YAML 1.1 booleans are plain text in YAML 1.2: `ssl: yes` must not mean true.
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("n", "n"), ("Yes", "Yes"),
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("False", False),
    ("25", 25), ("-3", -3), ("+12", 12), ("0", 0), ("0x1f", 31), ("0o17", 15),
    ("017", 17),            # YAML 1.2: decimal, not the YAML 1.1 octal 15
    ("1.5", 1.5), ("-0.25", -0.25), ("1e3", 1000.0), (".5", 0.5), (".inf", math.inf), ("-.inf", -math.inf),
    ("~", None), ("null", None), ("Null", None), ("", None),
    ("'25'", "25"), ('"true"', "true"), ("'null'", "null"),
    ("12h", "12h"), ("1:20", "1:20"),  # no YAML 1.1 sexagesimal
    ("2024-01-01", "2024-01-01"),      # timestamps stay text as written
    ("0b101", "0b101"),                # not a YAML 1.2 core integer
    ("!!str 5", "5"),
    ("!!bool true", True), ("!!bool FALSE", False),
    ("=", "="),                        # YAML 1.1's value key: in a spec, just the text
])
def test_scalars_follow_the_yaml_1_2_core_schema(written, value):
    content = only_document(f"v: {written}\n").content
    assert content == {"v": value}
    assert type(content["v"]) is type(value)


def test_nan_is_a_float():
    assert math.isnan(only_document("v: .nan\n").content["v"])


# -- duplicate keys ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("spec:\n  host: a\n  port: 25\n  host: b\n",
     "f.yaml:4:3: spec.host: 'host' is given twice in one mapping (first at line 2): keep one"),
    ("a: 1\nb: 2\na: 3\n", "f.yaml:3:1: a: 'a' is given twice in one mapping (first at line 1): keep one"),
    ("a: {x: 1, x: 2}\n", "f.yaml:1:11: a.x: 'x' is given twice in one mapping (first at line 1): keep one"),
    ("l:\n  - {x: 1, x: 2}\n", "f.yaml:2:12: l[0].x: 'x' is given twice in one mapping (first at line 2): keep one"),
    ('a: 1\n"a": 2\n', "f.yaml:2:1: a: 'a' is given twice in one mapping (first at line 1): keep one"),
])
def test_a_duplicate_key_is_located_at_the_second_and_names_the_first(text, expected):
    assert only_error(text) == expected


def test_the_same_key_in_different_mappings_is_fine():
    assert only_document("a: {x: 1}\nb: {x: 2}\n").content == {"a": {"x": 1}, "b": {"x": 2}}


# -- tags, merge keys, aliases -----------------------------------------------------------------

@pytest.mark.parametrize("text, where, tag", [
    ("a: !!python/object/apply:os.system ['touch /tmp/x']\n", "f.yaml:1:4: a:", "!!python/object/apply:os.system"),
    ("!!python/object/apply:os.system ['touch /tmp/x']\n", "f.yaml:1:1:", "!!python/object/apply:os.system"),
    ("a: !!python/object:os.system {x: 1}\n", "f.yaml:1:4: a:", "!!python/object:os.system"),
    ("a: !!python/name:os.system\n", "f.yaml:1:4: a:", "!!python/name:os.system"),
    ("a: !!python/tuple [1]\n", "f.yaml:1:4: a:", "!!python/tuple"),
    ("a: !!binary aGVsbG8=\n", "f.yaml:1:4: a:", "!!binary"),
    ("a: !custom x\n", "f.yaml:1:4: a:", "!custom"),
    ("a: !!set {x, y}\n", "f.yaml:1:4: a:", "!!set"),
    ("a: !!omap [x: 1]\n", "f.yaml:1:4: a:", "!!omap"),
    ("a: !!pairs [x: 1]\n", "f.yaml:1:4: a:", "!!pairs"),
    ("a:\n  b: [1, !!binary aGVsbG8=]\n", "f.yaml:2:10: a.b[1]:", "!!binary"),
    ("%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n", "f.yaml:3:4: a:", "tag:example.com,2000:x"),
])
def test_tags_other_than_the_core_types_are_refused_where_written(text, where, tag):
    assert only_error(text) == (f"{where} YAML tag {tag} is not allowed: specs hold plain text, numbers, "
                                "booleans, lists and mappings")


@pytest.mark.parametrize("text, expected", [
    ("base: &b {x: 1}\nspec:\n  <<: *b\n",
     "f.yaml:3:3: spec: merge keys (<<) are not supported: write the fields out"),
    ("spec: {<<: {x: 1}, y: 2}\n", "f.yaml:1:8: spec: merge keys (<<) are not supported: write the fields out"),
])
def test_merge_keys_are_refused(text, expected):
    assert only_error(text) == expected


def test_a_quoted_double_angle_key_is_only_a_name():
    assert only_document('"<<": 1\n').content == {"<<": 1}


def test_aliases_are_expanded_into_copies():
    content = only_document("a: &x [1, {b: c}]\nd: *x\ne: &s text\nf: *s\n").content
    assert content == {"a": [1, {"b": "c"}], "d": [1, {"b": "c"}], "e": "text", "f": "text"}


# -- bytes that are not YAML text --------------------------------------------------------------

@pytest.mark.parametrize("data, expected", [
    (b"a: 1\nb: caf\xe9\n", "f.yaml:2:7: byte 0xe9 is not UTF-8: save the file as UTF-8"),
    (b"\xff\xfea: 1\n", "f.yaml:1:1: byte 0xff is not UTF-8: save the file as UTF-8"),
    (b"a: 1\r\nb: \xff\r\n", "f.yaml:2:4: byte 0xff is not UTF-8: save the file as UTF-8"),
    (b"a: 1\nb: 2\nc: \xc3", "f.yaml:3:4: byte 0xc3 is not UTF-8: save the file as UTF-8"),  # cut in half
    ("a: 1\n".encode("utf-16"), "f.yaml:1:1: byte 0xff is not UTF-8: save the file as UTF-8"),
])
def test_a_byte_that_is_not_utf8_is_located(data, expected):
    assert only_error(data) == expected


def test_a_utf8_byte_order_mark_is_accepted_and_does_not_shift_columns():
    doc = only_document(b"\xef\xbb\xbfa: 1\nb: x\n")
    assert doc.content == {"a": 1, "b": "x"}
    assert doc.locate(("a",)) == Location(F, 1, 4)
    assert doc.locate(("b",)) == Location(F, 2, 4)


@pytest.mark.parametrize("data, expected", [
    (b"a: 1\nb: x\x00y\n", "f.yaml:2:5: NUL character: this is not a text file"),
    (b"\x00", "f.yaml:1:1: NUL character: this is not a text file"),
    ("a: 1\nname: J\u00f6rg\x00\n".encode(), "f.yaml:2:11: NUL character: this is not a text file"),
])
def test_a_nul_character_is_located(data, expected):
    assert only_error(data) == expected


@pytest.mark.parametrize("text, where, words", [
    ("a: [1, 2\nb: 3\n", "f.yaml:2:2", "expected ',' or ']'"),
    ("a: {b: 1\n", "f.yaml:2:1", "expected ',' or '}'"),
    ("a:\n\tb: 1\n", "f.yaml:2:1", "'\\t' that cannot start any token"),
    ('a: "\\q"\n', "f.yaml:1:6", "unknown escape character 'q'"),
    ("a: *nope\n", "f.yaml:1:4", "undefined alias 'nope'"),
    ("a: b: c\n", "f.yaml:1:5", "mapping values are not allowed here"),
    ("a: 1\n b: 2\n", "f.yaml:2:3", "mapping values are not allowed here"),
    ('a: "abc\n', "f.yaml:2:1", "found unexpected end of stream"),
    ("- a\nb: 1\n", "f.yaml:2:1", "expected <block end>"),
])
def test_a_yaml_syntax_error_is_located(text, where, words):
    message = only_error(text)
    assert message.startswith(f"{where}: YAML syntax error: ")
    assert words in message


# -- document and key shapes -------------------------------------------------------------------

@pytest.mark.parametrize("text, where", [
    ("- a\n- b\n", "f.yaml:1:1"),
    ("just text\n", "f.yaml:1:1"),
    ("--- |\n  a block of text\n", "f.yaml:1:5"),
    ("a: 1\n---\n- x\n", "f.yaml:3:1"),
])
def test_a_document_that_is_not_a_mapping_is_a_located_error(text, where):
    with pytest.raises(SpecErrors) as caught:
        parse_specs({F: text.encode()})
    assert f"{where}: a document must be a mapping with apiVersion, kind, metadata and spec" in [
        str(error) for error in caught.value.errors]


@pytest.mark.parametrize("text, expected", [
    ("1: x\n", "f.yaml:1:1: key '1' is not a name: write field names as text"),
    ("true: x\n", "f.yaml:1:1: key 'true' is not a name: write field names as text"),
    ("~: x\n", "f.yaml:1:1: key '~' is not a name: write field names as text"),
    ("1.5: x\n", "f.yaml:1:1: key '1.5' is not a name: write field names as text"),
    ("a:\n  1: x\n", "f.yaml:2:3: a: key '1' is not a name: write field names as text"),
    ("? [a]\n: x\n", "f.yaml:1:3: a key must be a plain name, not a list or mapping"),
    ("? {a: 1}\n: x\n", "f.yaml:1:3: a key must be a plain name, not a list or mapping"),
    ("{[a]: 1}\n", "f.yaml:1:2: a key must be a plain name, not a list or mapping"),
])
def test_a_key_that_is_not_text_is_refused(text, expected):
    assert only_error(text) == expected


def test_a_quoted_number_is_a_fine_key():
    assert only_document("'1': x\n").content == {"1": "x"}


def test_plain_scalars_with_colons_in_flow_sequences_are_yaml_1_2():
    # The C parser's YAML 1.1 scanner refuses this; the loader must still accept it.
    assert only_document("alertmanagers: [http://127.0.0.1:9093, 'http://[::1]:9093']\n").content == {
        "alertmanagers": ["http://127.0.0.1:9093", "http://[::1]:9093"]}


# -- limits ------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, limits, expected", [
    ("a: 1\n" * 10, Limits(max_file_bytes=20),
     "f.yaml:1:1: file is larger than the 20 bytes a spec file may have: split it or remove what is not a spec"),
    ("a: 1\n---\nb: 2\n---\nc: 3\n", Limits(max_documents=2),
     "f.yaml:5:1: more than 2 documents in one file: split it"),
    ("a: {b: {c: {d: 1}}}\n", Limits(max_depth=2),
     "f.yaml:1:12: a.b.c: nesting is deeper than the 2 levels a spec may have"),
    ("a: [1, 2, 3, 4, 5]\n", Limits(max_nodes=5),
     "f.yaml:1:14: a[3]: more than 5 values in one file (aliases count each time they are used): this is not a spec"),
    ("a: 1\n---\nb: [1, 2]\n", Limits(max_nodes=4),
     "f.yaml:3:5: b[0]: more than 4 values in one file (aliases count each time they are used): this is not a spec"),
])
def test_limits_end_in_one_located_error(data, limits, expected):
    docs, errors = loaded(data, limits)
    assert errors == [expected]


def test_a_file_at_the_size_limit_is_still_read():
    text = "a: 1\n" * 4
    assert loaded(text, Limits(max_file_bytes=len(text))) == loaded(text)


@pytest.mark.parametrize("path, shown", [
    ((), ""), (("spec",), "spec"), (("spec", "recipients", 3), "spec.recipients[3]"),
    (("spec", "recipients", 1, "email"), "spec.recipients[1].email"), ((0,), "[0]"), ((0, "a"), "[0].a"),
])
def test_format_path(path, shown):
    assert format_path(path) == shown


@pytest.mark.parametrize("written", ["!!bool yes", "!!bool on", "!!bool 1", "!!bool ''"])
def test_an_explicit_bool_tag_on_something_else_is_an_error_not_a_guess(written):
    assert only_error(f"a: 1\nv: {written}\n").startswith(f"{F}:2:4: v: ")
    assert "is not a boolean: write true or false" in only_error(f"v: {written}\n")


@pytest.mark.parametrize("data, where, byte", [
    (b"\xef\xbb\xbfa: \xff\n", "1:4", "0xff"),                 # the mark is not a column
    (b"\xef\xbb\xbfa: b\nc: d # \xfe\n", "2:8", "0xfe"),
    (b"a: \"J\xc3\xbcrgen \xff\"\n", "1:12", "0xff"),             # columns count characters
    (b"\xef\xbb\xbf\xff\n", "1:1", "0xff"),
])
def test_a_byte_that_is_not_utf8_is_located_as_an_editor_counts(data, where, byte):
    assert only_error(data) == f"{F}:{where}: byte {byte} is not UTF-8: save the file as UTF-8"


@pytest.mark.parametrize("character", ["\x85", "\u2028", "\u2029"])
@pytest.mark.parametrize("text, where", [
    ("a: 1\nb: 'x{c}y'\n", (2, 6)),      # single-quoted: ruamel reads one line, go-yaml two
    ("a: 1\nb: x{c}y\n", (2, 5)),        # plain: ruamel itself ends the value there
    ("a: 1\n# note{c}b: 2\n", (2, 7)),   # a comment: an editor shows a line that is not there
    ("a: [x, \"y{c}\"]\n", (1, 10)),
])
def test_yaml_1_1_line_breaks_are_refused_where_they_stand(text, where, character):
    """NEL, LS and PS are line breaks to go-yaml (Alertmanager) and not to YAML 1.2."""
    documents, errors = load_file("f.yaml", text.format(c=character).encode())
    assert documents == []
    assert [(e.line, e.column, e.path) for e in errors] == [(*where, "")]
    assert errors[0].message.startswith(f"character U+{ord(character):04X} (")
    assert errors[0].message.endswith("is a line break to Alertmanager's YAML reader and not to this one, so the "
                                      "two would read different text: delete it")


@pytest.mark.parametrize("escape, code", [("\\N", "0085"), ("\\L", "2028"), ("\\P", "2029"), ("\\u2028", "2028"),
                                          ("\\x85", "0085")])
def test_yaml_1_1_line_breaks_written_as_escapes_are_refused_at_the_value(escape, code):
    documents, errors = load_file("f.yaml", f'a: 1\nb: ["ok", "x{escape}y"]\n"k{escape}": 2\n'.encode())
    assert [(e.line, e.column, e.path) for e in errors] == [(2, 11, "b[1]")]
    assert f"U+{code}" in errors[0].message and errors[0].message.endswith("remove that escape (\\N, \\L, \\P or "
                                                                            "\\u....)")
    documents, errors = load_file("f.yaml", f'"k{escape}": 2\n'.encode())
    assert [(e.line, e.column, e.path) for e in errors] == [(1, 1, "")]


def test_a_value_written_through_an_alias_is_located_where_the_alias_stands():
    text = ("a: &x {k: 1}\nb: [&y v, w, *y]\nc: *x\n---\nd: &z q\ne: *z\n*z : 3\n")
    documents, errors = load_file(F, text.encode())
    assert errors == []
    first, second = documents
    assert first.content == {"a": {"k": 1}, "b": ["v", "w", "v"], "c": {"k": 1}}
    assert first.locate(("b", 2)) == Location(F, 2, 14)
    assert first.locate(("c",)) == Location(F, 3, 4)
    assert first.locate(("a",)) == Location(F, 1, 4)
    assert second.locate(("e",)) == Location(F, 6, 4)
    assert second.locate(("q",), key=True) == Location(F, 7, 1)


@pytest.mark.parametrize("written", ["=", "'='", "[=]"])
def test_a_plain_equals_sign_is_text_not_a_yaml_1_1_value_key(written):
    assert only_document(f"a: {written}\n").content in ({"a": "="}, {"a": ["="]})
