"""schema: the JSON Schemas are valid, usable by editors, and the single source of defaults."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from reconciler.loader import load_file
from reconciler.model import default_routing
from reconciler.pipeline import parse_specs
from reconciler.schema import SCHEMA_FILES, load_schema, validate_document, validate_value

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_each_schema_is_valid_draft_2020_12(name):
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_top_level_schemas_folder_is_the_package_one():
    assert (ROOT / "schemas").resolve() == (ROOT / "reconciler" / "schemas").resolve()
    for name in SCHEMA_FILES:
        assert json.loads((ROOT / "schemas" / name).read_text()) == load_schema(name)


def documents_of(path: Path):
    docs, errors = load_file(path.name, path.read_bytes())
    assert errors == []
    return docs


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "config-repo").glob("*.yaml")), ids=lambda p: p.name)
def test_editor_schema_accepts_the_example_documents(path):
    for doc in documents_of(path):
        assert validate_value(doc, "document.json") == []


def test_editor_schema_rejects_an_unknown_kind_and_a_bad_field():
    docs, _ = load_file("x.yaml", b"apiVersion: notify-reconciler/v1\nkind: Slack\nmetadata: {name: x}\n")
    assert [e.path for e in validate_value(docs[0], "document.json")] == ["kind"]
    docs, _ = load_file("x.yaml", b"apiVersion: notify-reconciler/v1\nkind: EmailServer\nmetadata: {name: x}\n"
                                  b"spec: {host: h, from: a@example.com, port: nope}\n")
    assert [e.path for e in validate_value(docs[0], "document.json")] == ["spec.port"]


def test_defaults_come_from_the_schema():
    policy = load_schema("notificationpolicy.json")["properties"]["spec"]["properties"]
    routing = default_routing()
    assert routing.repeat_interval == policy["repeatInterval"]["default"] == "12h"
    assert list(routing.group_by) == policy["groupBy"]["default"] == ["alertname"]
    assert routing.group_wait == policy["groupWait"]["default"] == "30s"
    assert routing.group_interval == policy["groupInterval"]["default"] == "5m"
    assert routing.send_resolved is policy["sendResolved"]["default"] is True
    server = parse_specs({"s.yaml": b"apiVersion: notify-reconciler/v1\nkind: EmailServer\nmetadata: {name: s}\n"
                                    b"spec: {host: h.example.com, from: a@example.com}\n"}).server
    spec = load_schema("emailserver.json")["properties"]["spec"]["properties"]
    assert server.port == spec["port"]["default"] == 25
    assert server.enabled is spec["enabled"]["default"] is True


def _duration_errors(value: str):
    text = f"apiVersion: notify-reconciler/v1\nkind: NotificationPolicy\nmetadata: {{name: p}}\nspec: {{repeatInterval: '{value}'}}\n"
    docs, _ = load_file("p.yaml", text.encode())
    return validate_document(docs[0])


@pytest.mark.parametrize("value", ["90s", "5m", "12h", "1d", "1h30m", "1w", "0", "500ms", "2y", "1d2h3m4s5ms"])
def test_valid_durations(value):
    assert _duration_errors(value) == []


@pytest.mark.parametrize("value", ["12 hours", "-5m", "1.5h", "5 m", "h", "1m1h", "", "5", "1H", "10sec"])
def test_invalid_durations(value):
    [error] = _duration_errors(value)
    assert error.message.startswith(f"{value!r} is not a duration")
