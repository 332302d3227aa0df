"""The pure stages stay pure: no git, network, SMTP, processes, clock or file access."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
PURE = ["loader.py", "schema.py", "model.py", "render.py", "pipeline.py", "diff.py", "config.py"]
FORBIDDEN_MODULES = {"git", "watchdog", "smtplib", "socket", "urllib", "http", "subprocess", "time",
                     "datetime", "os", "shutil", "tempfile", "pathlib", "random", "requests", "tenacity"}
FORBIDDEN_CALLS = {"open", "exec", "eval", "__import__"}


def imports_and_calls(path: Path) -> tuple[set[str], set[str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    modules, calls = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            calls.add(node.func.id)
    return modules, calls


@pytest.mark.parametrize("name", PURE)
def test_pure_stage_touches_no_effects(name):
    modules, calls = imports_and_calls(PACKAGE / name)
    assert not modules & FORBIDDEN_MODULES, f"{name} imports {sorted(modules & FORBIDDEN_MODULES)}"
    assert not calls & FORBIDDEN_CALLS, f"{name} calls {sorted(calls & FORBIDDEN_CALLS)}"


def test_the_check_can_fail():
    modules, _ = imports_and_calls(PACKAGE / "deploy.py")
    assert modules & FORBIDDEN_MODULES
