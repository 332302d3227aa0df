"""loader: YAML bytes -> located documents. Pure: text in, values out."""

from __future__ import annotations

import math

import pytest

from reconciler.errors import Location
from reconciler.loader import Limits, format_path, load_file


def one(text: str):
    docs, errors = load_file("f.yaml", text.encode())
    assert errors == []
    assert len(docs) == 1
    return docs[0]


def errors_of(data: bytes | str, limits: Limits = Limits()) -> list[str]:
    docs, errors = load_file("f.yaml", data.encode() if isinstance(data, str) else data, limits)
    return [str(e) for e in errors]


def test_positions_of_values_and_keys_are_one_based():
    doc = one("kind: X\nspec:\n  recipients:\n    - a@example.com\n    - {name: B, email: b@example.com}\n")
    assert doc.locate(("kind",)) == Location("f.yaml", 1, 7)
    assert doc.locate(("spec", "recipients"), key=True) == Location("f.yaml", 3, 3)
    assert doc.locate(("spec", "recipients", 0)) == Location("f.yaml", 4, 7)
    assert doc.locate(("spec", "recipients", 1, "email")) == Location("f.yaml", 5, 24)
    # A path that was never written falls back to its nearest written ancestor.
    assert doc.locate(("spec", "recipients", 1, "missing")) == Location("f.yaml", 5, 7)


def test_several_documents_keep_their_own_lines_and_empty_ones_are_skipped():
    docs, errors = load_file("f.yaml", b"---\na: 1\n---\n---\nb: 2\n...\n")
    assert errors == []
    assert [d.content for d in docs] == [{"a": 1}, {"b": 2}]
    assert [d.locate(()).line for d in docs] == [2, 5]


@pytest.mark.parametrize("text, value", [
    ("v: yes", "yes"), ("v: no", "no"), ("v: on", "on"), ("v: true", True), ("v: False", False),
    ("v: 25", 25), ("v: -3", -3), ("v: 0x1f", 31), ("v: 0o17", 15), ("v: 1_000", 1000),
    ("v: 1.5", 1.5), ("v: ~", None), ("v: null", None), ("v:", None), ("v: '25'", "25"),
    ("v: 12h", "12h"), ("v: 2024-01-01", "2024-01-01"), ("v: .inf", math.inf),
])
def test_yaml_1_2_core_scalars(text, value):
    assert one(text).content["v"] == value


def test_duplicate_key_is_an_error_at_the_second_key():
    assert errors_of("spec:\n  host: a\n  port: 25\n  host: b\n") == [
        "f.yaml:4:3: spec.host: 'host' is given twice in one mapping (first at line 2): keep one"]


@pytest.mark.parametrize("text, tag", [
    ("a: !!python/object/apply:os.system ['true']", "!!python/object/apply:os.system"),
    ("a: !!binary aGVsbG8=", "!!binary"),
    ("a: !custom x", "!custom"),
    ("a: !!set {x, y}", "!!set"),
    ("a: !!omap [x: 1]", "!!omap"),
])
def test_foreign_tags_are_refused(text, tag):
    [message] = errors_of(text)
    assert f"YAML tag {tag} is not allowed" in message
    assert message.startswith("f.yaml:1:4: a:")


def test_merge_keys_are_refused():
    [message] = errors_of("base: &b {x: 1}\nspec:\n  <<: *b\n")
    assert message == "f.yaml:3:3: spec: merge keys (<<) are not supported: write the fields out"


def test_aliases_are_expanded():
    assert one("a: &x [1, 2]\nb: *x\n").content == {"a": [1, 2], "b": [1, 2]}


def test_non_utf8_byte_is_located():
    assert errors_of(b"a: 1\nb: caf\xe9\n") == ["f.yaml:2:7: byte 0xe9 is not UTF-8: save the file as UTF-8"]


def test_utf8_bom_is_accepted():
    assert one("\ufeffa: 1\n".encode("utf-8").decode("utf-8")).content == {"a": 1}
    docs, errors = load_file("f.yaml", b"\xef\xbb\xbfa: 1\n")
    assert errors == [] and docs[0].content == {"a": 1}


def test_nul_byte_is_located():
    assert errors_of(b"a: 1\nb: x\x00y\n") == ["f.yaml:2:5: NUL character: this is not a text file"]


def test_syntax_error_is_located():
    [message] = errors_of("a: [1, 2\nb: 3\n")
    assert message.startswith("f.yaml:2:") and "YAML syntax error" in message


def test_non_string_keys_are_refused():
    assert errors_of("1: x\n") == ["f.yaml:1:1: key '1' is not a name: write field names as text"]
    assert "not a list or mapping" in errors_of("? [a]\n: x\n")[0]


def test_file_size_limit():
    assert errors_of("a: 1\n" * 10, Limits(max_file_bytes=20)) == [
        "f.yaml:1:1: file is 50 bytes, more than the 20 a spec file may have: split it or remove what is not a spec"]


def test_document_count_limit():
    [message] = errors_of("a: 1\n---\nb: 2\n---\nc: 3\n", Limits(max_documents=2))
    assert message == "f.yaml:5:1: more than 2 documents in one file: split it"


def test_depth_limit():
    [message] = errors_of("a: {b: {c: {d: 1}}}\n", Limits(max_depth=2))
    assert "nesting is deeper than the 2 levels" in message


@pytest.mark.parametrize("path, shown", [
    ((), ""), (("spec",), "spec"), (("spec", "recipients", 3), "spec.recipients[3]"),
    (("spec", "recipients", 1, "email"), "spec.recipients[1].email"), ((0,), "[0]"),
])
def test_format_path(path, shown):
    assert format_path(path) == shown


def test_yaml_1_2_plain_scalars_with_colons_in_flow_sequences():
    # The C parser's YAML 1.1 scanner refuses this; the loader must still accept it.
    assert one("alertmanagers: [http://127.0.0.1:9093, 'http://[::1]:9093']\n").content == {
        "alertmanagers": ["http://127.0.0.1:9093", "http://[::1]:9093"]}
