"""JSON Schema validation of each document, with errors mapped back to file:line:col.

Pure: the schemas are package data (``reconciler/schemas/*.json``, draft 2020-12) and are
the single source of truth for field names, types, defaults and limits. Each error is
turned into one `SpecError` located at the offending value (or key), with the field's
path and a message that says what to change: a schema may give that message itself with
the ``errorMessage`` keyword (which yaml-language-server shows in editors too).
"""

from __future__ import annotations

import json
import pkgutil
import re
from functools import cache
from typing import Any, Mapping

from typing import TYPE_CHECKING

from .addresses import address_problem
from ..errors import SpecError
from ..yamlio.loader import Document, KeyPath, format_path
from .schema_codegen import schema_digest

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError

API_VERSION = "notify-reconciler/v1"

KIND_SCHEMAS: Mapping[str, str] = {
    "EmailServer": "emailserver.json",
    "RecipientList": "recipientlist.json",
    "NotificationPolicy": "notificationpolicy.json",
    "TimeWindow": "timewindow.json",
}
"""Every kind a config repo may hold, and the schema file that describes it."""

CONFIG_SCHEMA = "config.json"
SCHEMA_FILES = ("common.json", *KIND_SCHEMAS.values(), "document.json", CONFIG_SCHEMA)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """One schema file of the package, parsed."""
    return json.loads(schema_texts()[name])


@cache
def schema_texts() -> dict[str, str]:
    """Every schema file of the package (SCHEMA_FILES): name -> text. Read as package data
    through the import system (pkgutil), which importlib.resources does too, but at the
    cost of its imports (pathlib, tempfile, zipfile's kin), which every `validate` would pay."""
    return {name: pkgutil.get_data("reconciler", f"schemas/{name}").decode("utf-8") for name in SCHEMA_FILES}


def compiled_schemas() -> dict[str, Any]:
    """What schema_compiled.py is generated from: each schema a document is validated
    against (every kind's, the daemon config's), its $refs inlined."""
    return {name: _inlined(load_schema(name), name) for name in (*KIND_SCHEMAS.values(), CONFIG_SCHEMA)}


@cache
def _compiled_check() -> Any:
    """schema_compiled.is_valid, if that file was generated from the schema files as they are;
    else None. A stale file is never trusted: a rule tightened since would pass unchecked."""
    from . import schema_compiled
    return schema_compiled.is_valid if schema_compiled.SCHEMA_DIGEST == schema_digest(schema_texts()) else None


@cache
def validator_for(name: str) -> jsonschema.Draft202012Validator:
    """A validator for one schema file, its references to siblings inlined.

    The files keep their $refs (editors read them as they are); resolving each $ref while
    validating cost about half of the validation time, so they are resolved once here.
    jsonschema (with its `referencing` stack) is imported here, on first use: a run whose
    documents are all valid never needs it (validate_value)."""
    return _validator_class()(_inlined(load_schema(name), name))


def _ecma_pattern(validator, pattern: str, instance: Any, schema: dict):
    """JSON Schema patterns are ECMA-262 regular expressions, where a final `$` means the end
    of the text. Python's `$` also matches before a trailing newline, which let "5m\n" or
    "a@example.com\n" through every check (and into a mail header)."""
    from jsonschema.exceptions import ValidationError

    if not isinstance(instance, str):
        return
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + "\\Z"
    if not re.search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _is_integer(checker, instance: Any) -> bool:
    """JSON Schema counts 25.0 as an integer; a spec does not (it rendered as `:25.0`)."""
    return isinstance(instance, int) and not isinstance(instance, bool)


@cache
def _validator_class() -> type[jsonschema.Draft202012Validator]:
    import jsonschema

    return jsonschema.validators.extend(
        jsonschema.Draft202012Validator, {"pattern": _ecma_pattern},
        type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer))


def _inlined(node: Any, file: str) -> Any:
    if isinstance(node, list):
        return [_inlined(item, file) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" not in node:
        return {key: _inlined(value, file) for key, value in node.items()}
    target_file, _, pointer = node["$ref"].partition("#")
    target_file = target_file or file
    target: Any = load_schema(target_file)
    for part in filter(None, pointer.split("/")):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    # Keywords beside a $ref (description, default, errorMessage) refine the target.
    siblings = {key: _inlined(value, file) for key, value in node.items() if key != "$ref"}
    return {**_inlined(target, target_file), **siblings}


def schema_default(schema_name: str, *path: str) -> Any:
    """The `default` the schema declares for a property, following $ref; KeyError if none."""
    node = load_schema(schema_name)
    for part in path:
        node = node["properties"][part]
    return node["default"]


def email_problem(text: str) -> str | None:
    """Why `text` is not an e-mail address as a RecipientList accepts one (common.json's
    `email`), or None. For addresses typed on a command line."""
    problem = address_problem(text)
    return f"{text!r} {problem}" if problem else None


def validate_document(document: Document) -> list[SpecError]:
    """Every schema error of one document, located. Unknown apiVersion or kind included."""
    content = document.content
    if not isinstance(content, dict):
        return [SpecError(document.start, "", "a document must be a mapping with apiVersion, kind, "
                                              "metadata and spec")]
    api_version, kind = content.get("apiVersion"), content.get("kind")
    problems: list[SpecError] = []
    if "apiVersion" in content and api_version != API_VERSION:
        problems.append(SpecError(document.locate(("apiVersion",)), "apiVersion",
                                  f"{api_version!r} is not a known apiVersion: use {API_VERSION}"))
    if "kind" in content and not (isinstance(kind, str) and kind in KIND_SCHEMAS):
        shown = f"{kind!r} is not a known kind" if isinstance(kind, str) else f"{_describe(kind)} is not a kind"
        problems.append(SpecError(document.locate(("kind",)), "kind",
                                  f"{shown}: use one of {', '.join(KIND_SCHEMAS)}"))
    if problems:
        return problems
    if kind is None:
        return [SpecError(document.start, "kind", f"missing kind: add one of {', '.join(KIND_SCHEMAS)}")]
    return validate_value(document, KIND_SCHEMAS[kind])


def validate_value(document: Document, schema_name: str) -> list[SpecError]:
    """Every error of `document.content` against one schema file, located.

    The compiled check (schema_compiled.py, about 10x faster) says only "valid"; whatever it
    refuses is validated again by jsonschema, for the located, worded errors."""
    check = _compiled_check()
    if check is not None and check(schema_name, document.content):
        return []
    validator = validator_for(schema_name)
    return [located for error in _leaf_errors(validator.iter_errors(document.content))
            for located in _located(document, error)]


def _leaf_errors(errors) -> list[ValidationError]:
    """Flatten if/then/else and allOf wrappers: the user needs the innermost reason."""
    out: list[ValidationError] = []
    for error in errors:
        if error.validator in ("allOf", "$ref", "then", "else") and error.context:
            out.extend(_leaf_errors(error.context))
        else:
            out.append(error)
    return out


def _custom_message(schema: Any, validator: str) -> str | None:
    """The schema's `errorMessage`: one text for every keyword, or one per keyword
    ({"minItems": ..., "maxItems": ...}), as ajv-errors reads it in editors."""
    message = schema.get("errorMessage") if isinstance(schema, dict) else None
    if isinstance(message, dict):
        return message.get(validator)
    return message


def _located(document: Document, error: ValidationError) -> list[SpecError]:
    """The user's words for one schema error (several for several unknown fields)."""
    if error.validator == "additionalProperties":
        return _unknown_fields(document, error)
    return [_located_one(document, error)]


def _unknown_fields(document: Document, error: ValidationError) -> list[SpecError]:
    from difflib import get_close_matches  # only for a refused document

    path: KeyPath = tuple(error.absolute_path)
    known = sorted(error.schema.get("properties", {}))
    errors = []
    for key in sorted(set(error.instance) - set(known)):
        message = f"unknown field {key!r}"
        close = get_close_matches(key, known, n=1)
        if path == ("metadata",) and key in _KUBERNETES_METADATA:
            message += ": a Kubernetes habit; specs here have only metadata name, labels and annotations, so remove it"
        else:
            message += f": did you mean {close[0]!r}?" if close else f": the fields here are {', '.join(known)}"
        errors.append(SpecError(document.locate(path + (key,), key=True), format_path(path + (key,)), message))
    return sorted(errors, key=lambda e: (e.location.line, e.location.column))


# metadata fields a Kubernetes manifest has and a spec does not ('namespace' is not a typo of 'name').
_KUBERNETES_METADATA = frozenset({"namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                                  "ownerReferences", "finalizers", "generateName"})


def _located_one(document: Document, error: ValidationError) -> SpecError:
    path: KeyPath = tuple(error.absolute_path)
    validator = error.validator
    custom = _custom_message(error.schema, validator)

    if validator == "required":
        missing = _quoted_name(error.message)
        where = document.locate(path, key=True)
        if custom:
            return SpecError(where, format_path(path + (missing,)), custom)
        wanted = (error.schema.get("properties") or {}).get(missing) if isinstance(error.schema, dict) else None
        if isinstance(wanted, dict) and "const" in wanted:  # one value is right: name it
            return SpecError(where, format_path(path + (missing,)),
                             f"missing required field {missing!r}: add {missing}: {wanted['const']}")
        return SpecError(where, format_path(path + (missing,)), f"missing required field {missing!r}")

    where = document.locate(path, key=validator in ("not", "false"))
    field = format_path(path)

    if isinstance(error.schema, dict) and error.schema.get("x-may-be-secret"):
        # A password pasted into passwordFile or passwordEnv must not be printed, logged or mailed.
        return SpecError(where, field, _secret_prone_message(validator, custom, error))

    if isinstance(error.schema, dict) and error.schema.get("x-address") and isinstance(error.instance, str):
        # The pattern says yes or no; address_problem says which rule, as Alertmanager applies it.
        problem = address_problem(error.instance)
        if problem:
            return SpecError(where, field, f"{error.instance!r} {problem}")

    if validator == "type":
        if custom and custom.startswith("is "):
            # `groupWait: 0` or `repeatInterval: 12`: a number where a duration belongs.
            return SpecError(where, field, f"{_describe(error.instance)} {custom}")
        expected = error.validator_value
        return SpecError(where, field, f"expected {_type_words(expected)}, got {_describe(error.instance)}")
    if custom:
        if custom.startswith("is ") and not isinstance(error.instance, (dict, list)):
            return SpecError(where, field, f"{error.instance!r} {custom}")
        return SpecError(where, field, custom)
    if validator == "const":
        return SpecError(where, field, f"{error.instance!r}: must be {error.validator_value!r}")
    if validator == "enum":
        return SpecError(where, field, f"{error.instance!r} is not one of {', '.join(map(repr, error.validator_value))}")
    if validator in ("minimum", "maximum"):
        schema = error.schema
        return SpecError(where, field, f"{error.instance!r} is out of range: use {schema.get('minimum')} "
                                       f"to {schema.get('maximum')}")
    if validator in ("minLength",):
        return SpecError(where, field, "must not be empty")
    if validator in ("maxLength",):
        return SpecError(where, field, f"is longer than {error.validator_value} characters")
    if validator == "uniqueItems":
        return SpecError(where, field, "lists the same value twice: keep one")
    # Anything else: jsonschema's own words, which name the value and the rule.
    return SpecError(where, field, error.message)


_NOT_SHOWN = "the value (not shown: it may be a password)"
_IF_PASTED = "; if it is the password itself, change the password: it is in git now"


def _secret_prone_message(validator: str, custom: str | None, error: ValidationError) -> str:
    """The problem with a value that may be a secret, without the value."""
    if validator == "type":
        return f"expected {_type_words(error.validator_value)}, got {_kind_of(error.instance)}"
    if validator == "minLength":
        return "must not be empty"
    if custom and custom.startswith("is "):
        return f"{_NOT_SHOWN} {custom}{_IF_PASTED}"
    return f"{_NOT_SHOWN} is not valid here{_IF_PASTED}" if not custom else custom


def _kind_of(value: Any) -> str:
    """What a value is, without the value: for fields that may hold a secret."""
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return _describe(value)
    return "a number"


def _quoted_name(message: str) -> str:
    # jsonschema's required message: "'host' is a required property"
    if message.startswith("'"):
        return message[1:message.index("'", 1)]
    return message.split()[0]


_TYPE_WORDS = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
               "array": "a list", "object": "a mapping", "null": "nothing"}


def _type_words(expected: Any) -> str:
    if isinstance(expected, list):
        return " or ".join(_TYPE_WORDS.get(t, t) for t in expected)
    return _TYPE_WORDS.get(expected, str(expected))


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"text {value!r}"
    return repr(value)
