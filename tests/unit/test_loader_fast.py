"""The loader's shortcuts give the answers of the slow paths they replace: the depth of
composed trees is the depth too_deep finds on the events, and the resolver whose version
table is cached builds the same documents as ruamel's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from reconciler.yamlio import loader
from reconciler.yamlio.loader import TooDeep, _check_tree_depth, compose_document, load_file, too_deep


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
    except TooDeep as exc:
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
    for levels in (1001, 10_001):  # composed, then its tree measured; past _C_COMPOSER_SAFE: its events first
        many = "x: " + "[" * levels + "]" * levels + "\n"
        assert str(load_file("many.yaml", many.encode())[1][0]).startswith("many.yaml:1:67: nesting is deeper")


@pytest.mark.parametrize("text", [
    "a: 1\nb: 0o17\nc: 1.5\nd: .inf\ne: true\nf: null\ng: ~\nh: 2001-12-14\ni: '1'\nj: =\nk: Yes\n",
    "%YAML 1.1\n---\na: yes\nb: 017\n",
    "a: 1\nb: '1'\nc: 1\nd: \"1\"\ne: true\nf: true\ng: x\nh: x\ni: ~\nj: ~\n",  # a value met again: remembered
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


# -- compose_document: what reconciler.am.reading reads an Alertmanager config with -------------

def safe_loader_reading(text: str, limit: int) -> tuple:
    """The reference: the depth on the C parser's events, ruamel's safe loader with the C
    parser, and the pure one's verdict where that refused."""
    where = too_deep(text, limit)
    if where is not None:
        return "too deep", where
    try:
        return "value", repr(YAML(typ="safe", pure=False).load(text))
    except YAMLError:
        pass
    try:
        return "value", repr(YAML(typ="safe", pure=True).load(text))
    except YAMLError as exc:
        return "refused", str(exc)



def composed(text: str, limit: int) -> tuple:
    try:
        root = compose_document(text, limit)
    except TooDeep as exc:
        return "too deep", (exc.line, exc.column)
    except YAMLError as exc:
        return "refused", str(exc)
    return "value", root


PLAIN_CASES = [
    "", "# only a comment\n", "a: 1\n", "- x\n- y\n", "just text\n", "null\n",
    "a: &x {b: [1, 2]}\nc: *x\nd: [*x, *x]\n",          # shared, as ruamel shares it
    "base: &b {x: 1, y: 2}\nmore:\n  <<: *b\n  y: 3\n",  # a merge key
    "a: 1\na: 2\n",                                      # a key given twice
    "? [a, b]\n: c\n",                                   # a key that is not text
    "1: x\ntrue: y\nnull: z\n",
    "a: !!str 5\nb: !!int '7'\nc: !!float 1\n", "a: !!set {x, y}\n", "a: !!omap [{x: 1}]\n",
    "a: !!binary aGVsbG8=\n", "a: !custom x\n", "a: !!map {b: 1}\nc: !!seq [1]\n",
    "- !!seq a\n", "a: !!map ''\n", "a: !!set x\n", "a: !!omap x\n", "a: !!pairs x\n", "a: [!!map b]\n",
    "route:\n  receiver: r\n  routes: !!seq x\nreceivers: !!seq\n",  # collection tags on scalars: refused
    "a: &r [1, *r]\n",                                   # an alias inside its own anchor
    "a: 2001-12-14\nb: 2001-12-14t21:59:43.10-05:00\nc: =\nd: .nan\ne: -.inf\nf: 0o17\ng: 0x1F\n",
    "%YAML 1.1\n---\na: yes\nb: 017\n",
    "urls: [http://127.0.0.1:9093]\n",                   # YAML 1.2 the C parser refuses
    "a: 1\n---\nb: 2\n",                                 # two documents: refused, as load refuses them
    "a: [1, 2\n", "a:\n\tb: 1\n", "a: 'x\n", "- a\nb: 1\n",
    "route:\n  receiver: r\n  routes:\n  - match: {a: b}\n    receiver: s\n    continue: true\n",
    "a: " + "[" * 20 + "]" * 20 + "\n", "- " * 25 + "x\n",
    "".join(" " * (2 * i) + f"k{i}:\n" for i in range(25)) + " " * 50 + "v\n",
    "x: " + "[" * 12_000 + "]" * 12_000 + "\n",          # past what the C composer is given unmeasured
]



@pytest.mark.parametrize("text", PLAIN_CASES)
@pytest.mark.parametrize("limit", [8, 128])
def test_compose_document_finds_the_depth_and_takes_what_the_safe_loader_takes(text, limit):
    # Composing builds no value, so what only building refuses (a key given twice, a tag on
    # the wrong kind of node) is the reader's to refuse (tests/unit/test_am.py).
    expected, found = safe_loader_reading(text, limit), composed(text, limit)
    if expected[0] == "too deep":
        assert found == expected
    elif expected[0] == "value":
        assert found[0] == "value"


def test_compose_document_reads_every_config_of_the_repository():
    root = Path(__file__).resolve().parents[2]
    texts = [path for folder in ("examples", "tests/data") for path in sorted((root / folder).rglob("*.y*ml"))]
    assert len(texts) > 100
    for path in texts:
        text = path.read_bytes().decode("utf-8", "replace")
        if safe_loader_reading(text, 128)[0] == "value":
            assert composed(text, 128)[0] == "value", path


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#%<=?,.~1 \n")), max_size=120))
def test_compose_document_finds_the_depth_of_any_text_as_the_events_do(text):
    expected, found = safe_loader_reading(text, 6), composed(text, 6)
    if expected[0] == "too deep":
        assert found == expected
    elif expected[0] == "value":
        assert found[0] == "value"


def test_the_collector_is_paused_while_a_tree_is_built_and_left_as_it_was():
    import gc

    assert gc.isenabled()
    with loader.collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), loader.collector_paused():
        raise ValueError("a parse that fails")
    assert gc.isenabled()
    gc.disable()
    try:
        with loader.collector_paused():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
