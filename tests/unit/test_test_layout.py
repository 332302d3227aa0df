"""What the tests share lives in tests/support/, never in a test module: importing one test
module from another runs its tests' module code twice, couples files that fail for unrelated
reasons, and hides helpers from the next person looking for them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


def imported_test_modules(source: str) -> set[str]:
    """The modules named test_* that `source` imports, relatively or not."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] + [f"{node.module or ''}.{alias.name}" for alias in node.names]
        found.update(name for name in names if any(part.startswith("test_") for part in name.split(".")))
    return found


@pytest.mark.parametrize("path", sorted(TESTS.rglob("*.py")), ids=lambda path: str(path.relative_to(TESTS)))
def test_no_module_imports_a_test_module(path):
    assert not imported_test_modules(path.read_text(encoding="utf-8")), \
        f"{path.relative_to(TESTS)}: move what it takes into tests/support/"


@pytest.mark.parametrize("source", [
    "from .test_daemon import DaemonProcess",
    "from tests.integration.test_apply import smtp",
    "import tests.hostile.test_fuzz",
    "from . import test_daemon",
])
def test_the_check_sees_each_form(source):
    assert imported_test_modules(source)
    assert not imported_test_modules("from tests.support.daemon import DaemonProcess\nfrom .machine import Machine\n")
