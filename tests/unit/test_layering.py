"""The pure stages stay pure: no git, file watching, SMTP, network, processes, clock or file
access. Read from each module's syntax tree, so an import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
PURE = ("loader.py", "schema.py", "model.py", "render.py", "pipeline.py", "config.py", "diff.py", "matchers.py", "addresses.py")
FORBIDDEN_MODULES = frozenset({"git", "watchdog", "smtplib", "socket", "urllib", "http", "subprocess", "time",
                               "datetime", "os", "shutil", "tempfile", "pathlib", "random", "requests"})
FORBIDDEN_CALLS = frozenset({"open", "exec", "eval", "__import__"})
PURE_SIBLINGS = frozenset(name.removesuffix(".py") for name in PURE) | {"errors"}


def effects(source: str) -> tuple[set[str], set[str], set[str]]:
    """(top-level modules imported, sibling modules imported, names of forbidden calls)."""
    modules: set[str] = set()
    siblings: set[str] = set()
    calls: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
            elif node.module:  # from .loader import x
                siblings.add(node.module.split(".")[0])
            else:  # from . import loader
                siblings.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Call):
            function = node.func
            name = function.id if isinstance(function, ast.Name) else \
                function.attr if isinstance(function, ast.Attribute) else None
            if name in FORBIDDEN_CALLS:
                calls.add(name)
    return modules, siblings, calls


@pytest.mark.parametrize("name", PURE)
def test_pure_stage_imports_no_effectful_module(name):
    modules, _, _ = effects((PACKAGE / name).read_text(encoding="utf-8"))
    assert not modules & FORBIDDEN_MODULES, f"{name} imports {sorted(modules & FORBIDDEN_MODULES)}"


@pytest.mark.parametrize("name", PURE)
def test_pure_stage_opens_no_file(name):
    _, _, calls = effects((PACKAGE / name).read_text(encoding="utf-8"))
    assert not calls, f"{name} calls {sorted(calls)}"


@pytest.mark.parametrize("name", PURE)
def test_pure_stage_imports_only_pure_siblings(name):
    # `from .source import ...` would bring git in through the back door.
    _, siblings, _ = effects((PACKAGE / name).read_text(encoding="utf-8"))
    assert siblings <= PURE_SIBLINGS, f"{name} imports {sorted(siblings - PURE_SIBLINGS)}"


@pytest.mark.parametrize("source, forbidden", [
    ("import os", "modules"),
    ("import os.path", "modules"),
    ("from datetime import datetime", "modules"),
    ("from urllib.request import urlopen", "modules"),
    ("def f():\n    import socket\n", "modules"),
    ("data = open('x').read()", "calls"),
    ("eval('1')", "calls"),
    ("handle = location.open()", "calls"),
    ("from .source import read_spec_folder", "siblings"),
    ("from . import daemon", "siblings"),
])
def test_the_check_catches_each_kind_of_effect(source, forbidden):
    modules, siblings, calls = effects(source)
    found = {"modules": bool(modules & FORBIDDEN_MODULES), "calls": bool(calls),
             "siblings": bool(siblings - PURE_SIBLINGS)}
    assert found == {kind: kind == forbidden for kind in found}


def test_an_effectful_stage_is_flagged():
    modules, _, _ = effects((PACKAGE / "source.py").read_text(encoding="utf-8"))
    assert {"git", "os"} <= modules
