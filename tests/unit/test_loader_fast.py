"""The loader's shortcuts give the answers of the slow paths they replace: the depth of
composed trees is the depth too_deep finds on the events, and the resolver whose version
table is cached builds the same documents as ruamel's own."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from reconciler import loader
from reconciler.loader import _check_tree_depth, _TooDeep, load_file, too_deep


def nested(depth: int, kind: str) -> str:
    if kind == "flow":
        return "a: " + "[" * depth + "x" + "]" * depth + "\n"
    if kind == "block":
        return "".join(" " * (2 * i) + f"k{i}:\n" for i in range(depth)) + " " * (2 * depth) + "v\n"
    if kind == "mixed":
        return "".join(" " * (2 * i) + ("- " if i % 2 else f"k{i}:") + "\n" for i in range(depth)) + "  " * depth + "v\n"
    if kind == "compact":
        return "- " * depth + "x\n"
    raise AssertionError(kind)


def tree_depth(text: str, limit: int) -> tuple[int, int] | None:
    loader._import_yaml()
    try:
        _check_tree_depth(list(YAML(typ="safe", pure=False).compose_all(text)), limit)
    except _TooDeep as exc:
        return exc.line, exc.column
    return None


@pytest.mark.parametrize("kind", ["flow", "block", "mixed", "compact"])
@pytest.mark.parametrize("depth", [3, 9, 10, 11, 40])
def test_tree_depth_is_the_event_depth(kind, depth):
    text = nested(depth, kind)
    for limit in (8, 10, 64):
        assert tree_depth(text, limit) == too_deep(text, limit)


def test_an_alias_nests_nothing_and_later_documents_count_from_zero():
    text = ("a: &deep [[[[[x]]]]]\nb: [*deep, *deep]\n---\n- [[[[y]]]]\n---\n" + nested(12, "flow"))
    for limit in (4, 5, 6, 10):
        assert tree_depth(text, limit) == too_deep(text, limit)


def test_a_text_too_deep_for_the_shortcut_is_still_reported_where_it_nests():
    deep = nested(70, "flow")
    documents, errors = load_file("deep.yaml", deep.encode())
    assert not documents and [str(error) for error in errors] == [
        "deep.yaml:1:67: nesting is deeper than the 32 levels a spec may have"]
    many = "x: " + "[" * 1001 + "]" * 1001 + "\n"   # past _SAFE_NESTING: measured on the events first
    assert str(load_file("many.yaml", many.encode())[1][0]).startswith("many.yaml:1:67: nesting is deeper")


@pytest.mark.parametrize("text", [
    "a: 1\nb: 0o17\nc: 1.5\nd: .inf\ne: true\nf: null\ng: ~\nh: 2001-12-14\ni: '1'\nj: =\nk: Yes\n",
    "%YAML 1.1\n---\na: yes\nb: 017\n",
    "".join(f"k{i}: {value}\n" for i, value in enumerate([
        "", "~", "null", "Null", "NULL", "true", "True", "FALSE", "on", "no", "0", "-1", "+1", "0x1F", "0o17", "017",
        "1_000", "1.5", ".5", "-.5", "1e3", "1.0e+3", ".inf", "-.Inf", ".NaN", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
        "12h", "oncall@example.com", "'quoted'", '"1"', "=", "<<", "a b", ".", "+", "a=b", "Tuesday"])),
])
def test_the_cached_resolver_builds_the_same_documents(text):
    loader._import_yaml()
    ours = YAML(typ="safe", pure=False)
    ours.Resolver = loader._CResolver
    theirs = YAML(typ="safe", pure=False)
    shape = [(node.tag, node.value if isinstance(node.value, str) else None)
             for root in ours.compose_all(text) for _, node in root.value]
    assert shape == [(node.tag, node.value if isinstance(node.value, str) else None)
                     for root in theirs.compose_all(text) for _, node in root.value]
