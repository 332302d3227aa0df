"""JSON Schemas -> the Python source of `schema_compiled`: one yes/no function per schema.

Pure: takes the parsed schema files, returns text. `scripts/gen-validator` writes the result
to reconciler/specs/schema_compiled.py, and tests/unit/test_schema_compiled.py fails while that
file differs from what the schemas give now.

Why: jsonschema builds a validator object for every subschema it descends into; for a
large tree that is most of a cold run, and importing it (with its `referencing` stack) is
most of a small one. The compiled functions only say whether a document is valid; a
document they refuse goes to jsonschema, which says where and why, as before
(schema.validate_value). So they must never accept what jsonschema refuses: each keyword
is compiled to exactly what jsonschema 4 does with it under this package's validator
(schema._validator_class: ECMA-262 `$`, integers that are not booleans or floats). A keyword this
generator does not know compiles to "unsure", which refuses (jsonschema decides), so a new
keyword in a schema costs speed, never correctness.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples",
                         "errorMessage", "x-address", "x-may-be-secret", "format", "deprecated", "readOnly",
                         "writeOnly"})
"""Keywords that never make a document invalid: `format` only annotates, as schema._validator_class
is built without a format checker; errorMessage and x-* are read by schema.py's messages."""

_TYPES = {
    "object": "isinstance({x}, dict)",
    "array": "isinstance({x}, list)",
    "string": "isinstance({x}, str)",
    "boolean": "isinstance({x}, bool)",
    "null": "{x} is None",
    "integer": "(isinstance({x}, int) and not isinstance({x}, bool))",
    "number": "(isinstance({x}, (int, float)) and not isinstance({x}, bool))",
}

_RUNTIME = '''

class _Unsure(Exception):
    """A keyword the generator did not compile: let jsonschema decide."""


def _unsure(x):
    raise _Unsure


def _unbool(element, true=object(), false=object()):
    # jsonschema._utils.unbool: True and 1, False and 0 are different values in JSON Schema.
    if element is True:
        return true
    elif element is False:
        return false
    return element


def _equal(one, two):
    # jsonschema._utils.equal, for the values a YAML document holds.
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(i, j) for i, j in zip(one, two))
    if isinstance(one, dict) and isinstance(two, dict):
        return len(one) == len(two) and all(key in two and _equal(value, two[key]) for key, value in one.items())
    return _unbool(one) == _unbool(two)


def _unique(container):
    # jsonschema._utils.uniq.
    try:
        sort = sorted(_unbool(i) for i in container)
        for i, j in zip(sort, sort[1:]):
            if _equal(i, j):
                return False
    except (NotImplementedError, TypeError):
        seen = []
        for e in container:
            e = _unbool(e)
            for i in seen:
                if _equal(i, e):
                    return False
            seen.append(e)
    return True


def _pattern(text):
    # schema._ecma_pattern: a final `$` is the end of the text, not "before a final newline".
    if text.endswith("$") and not text.endswith("\\\\$"):
        text = text[:-1] + "\\\\Z"
    return re.compile(text).search
'''


def schema_digest(texts: Mapping[str, str]) -> str:
    """sha256 of the schema files' names and texts: what the compiled module was made from."""
    digest = hashlib.sha256()
    for name in sorted(texts):
        digest.update(name.encode() + b"\0" + texts[name].encode() + b"\0")
    return digest.hexdigest()


class _Generator:
    def __init__(self) -> None:
        self.functions: dict[str, str] = {}
        """A function's body -> its name."""
        self.constants: dict[str, str] = {}
        self.code: list[str] = []
        self.patterns: dict[str, str] = {}

    def function(self, schema: Any) -> str:
        """The name of a function for `schema`; subschemas that compile to the same code
        (the e-mail address in five places, say) share one."""
        if schema is True or schema == {}:
            return "_anything"
        if schema is False:
            return "_nothing"
        body = "".join(f"    {line}\n" for line in self.body(schema))
        if not body:
            return "_anything"  # annotations only
        if body not in self.functions:
            name = self.functions[body] = f"_s{len(self.functions)}"
            self.code.append(f"\n\ndef {name}(x):\n{body}    return True\n")
        return self.functions[body]

    def constant(self, names: Any) -> str:
        """A module-level frozenset of property names, written in a stable order."""
        text = f"frozenset({tuple(sorted(names))!r})"
        if text not in self.constants:
            self.constants[text] = f"_K{len(self.constants)}"
        return self.constants[text]

    def pattern(self, text: str) -> str:
        if text not in self.patterns:
            self.patterns[text] = f"_P{len(self.patterns)}"
        return self.patterns[text]

    def body(self, schema: dict[str, Any]) -> list[str]:
        if not isinstance(schema, dict):
            return ["_unsure(x)"]
        lines: list[str] = []
        unknown = sorted(set(schema) - ANNOTATIONS - _KNOWN)
        if unknown:
            return [f"_unsure(x)  # not compiled: {', '.join(unknown)}"]
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not all(kind in _TYPES for kind in types):
                return ["_unsure(x)  # unknown type"]
            test = " or ".join(_TYPES[kind].format(x="x") for kind in types)
            lines.append(f"if not ({test}):\n        return False")
        if "const" in schema:
            lines.append(f"if not _equal(x, {schema['const']!r}):\n        return False")
        if "enum" in schema:
            lines.append(f"if not any(_equal(x, each) for each in {schema['enum']!r}):\n        return False")
        lines += self.object_keywords(schema)
        lines += self.array_keywords(schema)
        lines += self.string_keywords(schema)
        lines += self.number_keywords(schema)
        for sub in schema.get("allOf", ()):
            lines.append(f"if not {self.function(sub)}(x):\n        return False")
        if "anyOf" in schema:
            tests = " or ".join(f"{self.function(sub)}(x)" for sub in schema["anyOf"])
            lines.append(f"if not ({tests}):\n        return False")
        if "oneOf" in schema:
            calls = ", ".join(f"{self.function(sub)}(x)" for sub in schema["oneOf"])
            lines.append(f"if [{calls}].count(True) != 1:\n        return False")
        if "not" in schema:
            lines.append(f"if {self.function(schema['not'])}(x):\n        return False")
        if "if" in schema and ("then" in schema or "else" in schema):
            condition = f"{self.function(schema['if'])}(x)"
            then = f"{self.function(schema['then'])}(x)" if "then" in schema else "True"
            otherwise = f"{self.function(schema['else'])}(x)" if "else" in schema else "True"
            lines.append(f"if not ({then} if {condition} else {otherwise}):\n        return False")
        return lines

    def object_keywords(self, schema: dict[str, Any]) -> list[str]:
        inner: list[str] = []
        properties = schema.get("properties", {})
        for key in schema.get("required", ()):
            inner.append(f"if {key!r} not in x:\n            return False")
        for key, sub in properties.items():
            name = self.function(sub)
            if name != "_anything":
                inner.append(f"if {key!r} in x and not {name}(x[{key!r}]):\n            return False")
        extra = schema.get("additionalProperties", True)
        if extra is not True and extra != {}:
            known = self.constant(properties)
            if extra is False:
                inner.append(f"if not {known}.issuperset(x):\n            return False")
            else:
                name = self.function(extra)
                inner.append(f"for key, value in x.items():\n            if key not in {known} and not "
                             f"{name}(value):\n                return False")
        return ["if isinstance(x, dict):\n        " + "\n        ".join(inner)] if inner else []

    def array_keywords(self, schema: dict[str, Any]) -> list[str]:
        inner = _length_limits(schema, "minItems", "maxItems")
        if schema.get("uniqueItems"):
            inner.append("if not _unique(x):\n            return False")
        if "items" in schema:
            name = self.function(schema["items"])
            if name != "_anything":
                inner.append(f"for item in x:\n            if not {name}(item):\n                return False")
        if "contains" in schema:
            inner.append(f"if not any({self.function(schema['contains'])}(item) for item in x):\n"
                         "            return False")
        return ["if isinstance(x, list):\n        " + "\n        ".join(inner)] if inner else []

    def string_keywords(self, schema: dict[str, Any]) -> list[str]:
        inner = _length_limits(schema, "minLength", "maxLength")
        if "pattern" in schema:
            inner.append(f"if not {self.pattern(schema['pattern'])}(x):\n            return False")
        return ["if isinstance(x, str):\n        " + "\n        ".join(inner)] if inner else []

    def number_keywords(self, schema: dict[str, Any]) -> list[str]:
        inner: list[str] = []
        if "minimum" in schema:
            inner.append(f"if x < {schema['minimum']!r}:\n            return False")
        if "maximum" in schema:
            inner.append(f"if x > {schema['maximum']!r}:\n            return False")
        test = _TYPES["number"].format(x="x")
        return [f"if {test}:\n        " + "\n        ".join(inner)] if inner else []


def _length_limits(schema: dict[str, Any], least: str, most: str) -> list[str]:
    """The checks of minItems/maxItems or minLength/maxLength: both bound len(x)."""
    checks = []
    if least in schema:
        checks.append(f"if len(x) < {schema[least]!r}:\n            return False")
    if most in schema:
        checks.append(f"if len(x) > {schema[most]!r}:\n            return False")
    return checks


_KNOWN = frozenset({"type", "const", "enum", "properties", "required", "additionalProperties", "minItems",
                    "maxItems", "uniqueItems", "items", "contains", "minLength", "maxLength", "pattern", "minimum",
                    "maximum", "allOf", "anyOf", "oneOf", "not", "if", "then", "else"})


def generate(schemas: Mapping[str, Any], texts: Mapping[str, str]) -> str:
    """The module's source. `schemas`: schema file name -> that schema with its $refs
    inlined (schema._inlined), one per file that documents are validated against; `texts`:
    every schema file's text, for the digest the module checks against at run time."""
    generator = _Generator()
    roots = {name: generator.function(schema) for name, schema in sorted(schemas.items())}
    patterns = "".join(f"{name} = _pattern({text!r})\n" for text, name in generator.patterns.items())
    patterns += "".join(f"{name} = {text}\n" for text, name in generator.constants.items())
    table = "".join(f"    {name!r}: {function},\n" for name, function in roots.items())
    return (f'"""Generated by scripts/gen-validator from reconciler/schemas/*.json: do not edit.\n\n'
            f"Yes/no validity of a document against each schema, as jsonschema decides it (see\n"
            f'schema_codegen.py). Pure: imports only `re`."""\n\n'
            f"import re\n\n"
            f"SCHEMA_DIGEST = {schema_digest(texts)!r}\n"
            f'"""schema_codegen.schema_digest of the schema files this was generated from."""\n'
            + _RUNTIME + "\n\n"
            + "def _anything(x):\n    return True\n\n\n"
            + "def _nothing(x):\n    return False\n\n\n"
            + patterns
            + "".join(generator.code)
            + f"\n\nVALIDATORS = {{\n{table}}}\n"
            + '"""Schema file name -> whether a value is valid against it."""\n\n\n'
            + "def is_valid(schema_name, instance):\n"
            + '    """True only if `instance` is valid against the schema; False if not, or if unsure."""\n'
            + "    function = VALIDATORS.get(schema_name)\n"
            + "    try:\n"
            + "        return function is not None and function(instance)\n"
            + "    except (_Unsure, RecursionError):\n"
            + "        return False\n")
