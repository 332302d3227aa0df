"""The compiled schema check (reconciler/specs/schema_compiled.py) is current, and never says
"valid" where jsonschema says "invalid": over the golden cases, the fuzzer's documents and a
table of the values where JSON Schema and Python disagree (booleans and integers, 25.0,
trailing newlines)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.specs import schema
from reconciler.specs import schema_compiled
from reconciler.yamlio.loader import load_file
from reconciler.specs.schema import KIND_SCHEMAS, compiled_schemas, schema_texts, validator_for
from reconciler.specs.schema_codegen import generate
from tests.support.fuzz import DOCUMENT, MUTATIONS, valid_repo

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = [path for folder in ("invalid", "valid") for path in sorted((ROOT / "tests" / "data" / folder).rglob("*"))
          if path.suffix in (".yaml", ".yml") and path.is_file()]
EXAMPLES = sorted((ROOT / "examples" / "config-repo").glob("*.yaml"))


def agrees(schema_name: str, content) -> None:
    """The one property: accepted by the compiled check => accepted by jsonschema."""
    if schema_compiled.is_valid(schema_name, content):
        errors = list(validator_for(schema_name).iter_errors(content))
        assert not errors, f"compiled check accepts what jsonschema refuses: {errors[0].message}"


def kind_schema(content) -> str | None:
    kind = content.get("kind") if isinstance(content, dict) else None
    return KIND_SCHEMAS.get(kind) if isinstance(kind, str) else None


def test_the_compiled_module_is_generated_from_the_schemas_as_they_are():
    expected = generate(compiled_schemas(), schema_texts())
    actual = (ROOT / "reconciler" / "specs" / "schema_compiled.py").read_text(encoding="utf-8")
    assert actual == expected, "reconciler/specs/schema_compiled.py is stale: run scripts/gen-validator"


def test_a_module_generated_from_other_schemas_is_not_used(monkeypatch):
    texts = dict(schema_texts())
    texts["common.json"] = texts["common.json"].replace('"maxLength": 100', '"maxLength": 50')
    monkeypatch.setattr(schema, "schema_texts", lambda: texts)
    schema._compiled_check.cache_clear()
    try:
        assert schema._compiled_check() is None
    finally:
        monkeypatch.undo()
        schema._compiled_check.cache_clear()
    assert schema._compiled_check() is schema_compiled.is_valid


@pytest.mark.parametrize("path", GOLDEN + EXAMPLES, ids=lambda path: str(path.relative_to(ROOT)))
def test_golden_documents_never_pass_the_compiled_check_alone(path):
    documents, _ = load_file(path.name, path.read_bytes())
    for document in documents:
        if kind_schema(document.content):
            agrees(kind_schema(document.content), document.content)


def test_valid_documents_take_the_fast_path():
    # Otherwise the check would be safe and useless: every valid example must pass it.
    paths = EXAMPLES + [path for path in GOLDEN if "/valid/" in str(path)]
    documents = [document for path in paths for document in load_file(path.name, path.read_bytes())[0]]
    assert documents
    for document in documents:
        assert schema_compiled.is_valid(kind_schema(document.content), document.content), document.file


def server(**spec):
    return {"apiVersion": "notify-reconciler/v1", "kind": "EmailServer", "metadata": {"name": "smtp"},
            "spec": {"host": "smtp.example.com", "from": "a@example.com", **spec}}


def policy(**spec):
    return {"apiVersion": "notify-reconciler/v1", "kind": "NotificationPolicy", "metadata": {"name": "p"},
            "spec": spec}


def recipients(*items, **spec):
    return {"apiVersion": "notify-reconciler/v1", "kind": "RecipientList", "metadata": {"name": "l"},
            "spec": {"recipients": list(items), **spec}}


@pytest.mark.parametrize("content, valid", [
    (server(), True),
    (server(port=True), False),                       # a boolean is not an integer
    (server(port=25.0), False),                       # nor is 25.0, here
    (server(port=465, ssl=True), True),
    (server(port=465.0, ssl=True), False),
    (server(port=465), False),                        # not: {const: 465}
    (server(ssl=1), False),
    (server(username="u", passwordFile="/pw"), True),
    (server(passwordFile="/pw"), False),              # not: {} under else
    (server(username="u", passwordFile="/pw", passwordEnv="X"), False),
    (server(hello="mx.example.com\n"), False),        # ECMA-262 `$`: no final newline
    (policy(repeatInterval="4h"), True),
    (policy(repeatInterval="4h\n"), False),
    (policy(groupBy=["..."]), True),
    (policy(groupBy=["...", "a"]), False),            # if contains '...' then maxItems 1
    (policy(groupBy=["a", "a"]), False),              # uniqueItems
    (policy(groupBy=[]), True),                       # the root route's one group for all alerts
    (policy(sendResolved=0), False),
    (recipients("a@example.com"), True),
    (recipients("a@example.com\n"), False),
    (recipients({"email": "a@example.com", "name": "A"}), True),
    (recipients({"email": "a@example.com", "name": ""}), False),
    (recipients({"name": "A"}), False),
    (recipients(1), False),
    (recipients(), False),
    (recipients(*[f"a{i}@example.com" for i in range(51)]), False),
    ({**recipients("a@example.com"), "metadata": {"name": "discard"}}, False),
    ({**recipients("a@example.com"), "extra": 1}, False),
])
def test_the_compiled_check_decides_as_jsonschema_does(content, valid):
    name = kind_schema(content)
    assert validator_for(name).is_valid(content) is valid  # the table itself is right
    assert schema_compiled.is_valid(name, content) is valid


def test_a_keyword_the_generator_does_not_know_refuses():
    # A new keyword costs speed (jsonschema decides), never correctness.
    namespace: dict = {}
    exec(generate({"x.json": {"type": "object", "patternProperties": {"^a": {"type": "string"}}}}, {}), namespace)
    assert namespace["is_valid"]("x.json", {}) is False
    assert namespace["is_valid"]("unknown.json", {}) is False


# Mostly refused by both (random fields); drawing them is the cost, so fewer than below.
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENT)
def test_fuzzed_documents_never_pass_the_compiled_check_alone(content):
    if kind_schema(content):
        agrees(kind_schema(content), content)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(MUTATIONS).flatmap(lambda mutation: st.tuples(st.just(mutation[0]), mutation[1])))
def test_near_valid_documents_never_pass_the_compiled_check_alone(mutation):
    kind, change = mutation
    content = next(doc for docs in valid_repo().values() for doc in docs if doc["kind"] == kind)
    for key, value in change.items():
        (content if key == "metadata" else content["spec"])[key] = value
    agrees(KIND_SCHEMAS[kind], content)
