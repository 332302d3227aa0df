"""The layering of the whole package, read from each module's syntax tree (so an import
inside a function counts too), in the spirit of import-linter's `layers` and `forbidden`
contracts:

- the package is a stack of subpackages by role (`LAYERS`, bottom first): the root's shared
  errors and values, `yamlio/`, `am/` (Alertmanager's own config), `specs/`, `core/` (the
  pure work: render, import, diff, who-gets), `io/` (files, git, HTTP, SMTP, amtool),
  `service/` (one pass, its state and status), `daemon/` and `cli/`;
- every module is listed, and imports only modules listed before it: the layers below its
  own, and the modules before it in its own subpackage (so there is no loop inside one
  either). Only `__main__` (it runs the CLI) may import from above. An import under
  `if TYPE_CHECKING:` never runs and is not counted: it names a type for an annotation;
- the pure layers stay pure: no git, file watching, SMTP, network, processes, clock or file
  access (the forbidden contract);
- a subpackage's `__init__.py` is empty, so importing one module of it imports no other.

docs/architecture.md says the same for people; a new module goes into LAYERS after what it
imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("__init__", "display", "logfmt", "values", "errors")),
    ("yamlio", ("__init__", "loader")),
    ("am", ("__init__", "credentials", "matchers", "timewindows", "reading", "receivers", "secret", "routes",
            "deliveries")),
    ("specs", ("__init__", "addresses", "headers", "schema_codegen", "schema_compiled", "templates", "schema",
               "daemon_config", "model", "pipeline")),
    ("kubesphere", ("__init__", "selector", "objects", "importing", "rendering")),
    ("core", ("__init__", "names", "comments", "emit", "diff", "own_alerts", "render", "secret_render", "who_gets", "audience", "importer")),
    ("io", ("__init__", "liveness", "files", "password_sources", "cache", "journal", "alertmanager_api", "amtool",
            "template_engine", "git_source", "smtp", "outbox", "probe", "deploy", "amtool_check", "preview")),
    ("service", ("__init__", "state", "status", "reconcile", "verified", "pass_log")),
    ("daemon", ("__init__", "http", "metrics", "systemd", "fallback", "loop")),
    ("cli", ("__init__", "common", "validate", "render", "import_config", "diff", "apply", "run", "mail_test",
             "who_gets", "preview", "status", "main")),
)
"""Bottom first. Each module may import the modules listed before it, and no other."""
PURE_LAYERS = ("", "yamlio", "am", "specs", "kubesphere", "core")
ENTRY = "__main__.py"
"""`python -m reconciler`: it runs the CLI, so it sits above everything."""


def path_of(subpackage: str, module: str) -> str:
    return f"{subpackage}/{module}.py" if subpackage else f"{module}.py"


ORDER = tuple(path_of(subpackage, module) for subpackage, modules in LAYERS for module in modules)
PURE = tuple(path_of(subpackage, module) for subpackage, modules in LAYERS if subpackage in PURE_LAYERS
             for module in modules)
EDGES = tuple(name for name in ORDER if name not in PURE) + (ENTRY,)
SUBPACKAGES = tuple(subpackage for subpackage, _ in LAYERS if subpackage)
FORBIDDEN_MODULES = frozenset({"git", "watchdog", "smtplib", "socket", "urllib", "http", "subprocess", "time",
                               "datetime", "os", "shutil", "tempfile", "pathlib", "random", "requests"})
FORBIDDEN_CALLS = frozenset({"open", "exec", "eval", "__import__"})
CALENDAR = {"am/timewindows.py": {"datetime", "os"}}
"""Pure modules that compute with dates: they may import datetime, never read the clock with it
(and timewindows os.path, to follow the tz database's links as Go's time.LoadLocation does)."""
CLOCK_CALLS = frozenset({"now", "utcnow", "today", "time", "monotonic", "perf_counter", "time_ns"})


def module_name(path: str) -> str:
    """'am/matchers.py' -> 'am.matchers'; '__init__.py' -> '' (the package itself)."""
    parts = path.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


PURE_MODULES = frozenset(module_name(name) for name in PURE) | {"__version__"}
"""What a pure module may import from the package: `from . import __version__` names __init__'s."""
KNOWN = frozenset(module_name(name) for name in PURE + EDGES)


def effects(source: str, name: str = "x.py") -> tuple[set[str], set[str], set[str]]:
    """(top-level modules imported, package modules imported, names of forbidden calls) of
    the module at `name` (a path inside the package). A relative import is resolved against
    that module's folder: `from ..errors import X` in am/reading.py is `errors`, `from .matchers
    import X` there is `am.matchers`, and `from .am import matchers` at the root is too."""
    modules: set[str] = set()
    siblings: set[str] = set()
    calls: set[str] = set()
    folder = name.split("/")[:-1]
    tree = ast.parse(source)
    typing_only = {id(inner) for node in ast.walk(tree) if _is_type_checking_block(node)
                   for statement in node.body for inner in ast.walk(statement)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
                continue
            if id(node) in typing_only:
                continue
            base = folder[:len(folder) - (node.level - 1)] if node.level - 1 <= len(folder) else ["<outside>"]
            target = ".".join(base + (node.module.split(".") if node.module else []))
            for alias in node.names:
                whole = f"{target}.{alias.name}" if target else alias.name
                # `from . import loader` names a module; `from .am.matchers import Matcher` names a thing in one
                siblings.add(whole if whole in KNOWN or not node.module else target)
        elif isinstance(node, ast.Call):
            function = node.func
            called = function.id if isinstance(function, ast.Name) else \
                function.attr if isinstance(function, ast.Attribute) else None
            if called in FORBIDDEN_CALLS:
                calls.add(called)
    return modules, siblings, calls


def _is_type_checking_block(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`): imports only a type checker runs."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def read(name: str) -> str:
    return (PACKAGE / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", PURE)
def test_pure_stage_imports_no_effectful_module(name):
    modules, _, _ = effects(read(name), name)
    forbidden = FORBIDDEN_MODULES - CALENDAR.get(name, set())
    assert not modules & forbidden, f"{name} imports {sorted(modules & forbidden)}"


def clock_calls(source: str) -> set[str]:
    """Names of calls that read the clock (datetime.now(), date.today(), time.time())."""
    return {node.func.attr for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_CALLS}


@pytest.mark.parametrize("name", sorted(CALENDAR))
def test_a_calendar_module_never_reads_the_clock(name):
    assert not clock_calls(read(name)), f"{name} reads the clock"
    assert clock_calls("from datetime import datetime\nx = datetime.now()\n") == {"now"}


@pytest.mark.parametrize("name", PURE)
def test_pure_stage_opens_no_file(name):
    _, _, calls = effects(read(name), name)
    assert not calls, f"{name} calls {sorted(calls)}"


@pytest.mark.parametrize("name", PURE)
def test_pure_stage_imports_only_pure_modules(name):
    # `from ..io.git_source import ...` would bring git in through the back door.
    _, siblings, _ = effects(read(name), name)
    assert siblings <= PURE_MODULES, f"{name} imports {sorted(siblings - PURE_MODULES)}"


@pytest.mark.parametrize("source, forbidden", [
    ("import os", "modules"),
    ("import os.path", "modules"),
    ("from datetime import datetime", "modules"),
    ("from urllib.request import urlopen", "modules"),
    ("def f():\n    import socket\n", "modules"),
    ("data = open('x').read()", "calls"),
    ("eval('1')", "calls"),
    ("handle = location.open()", "calls"),
    ("from ..io.git_source import read_spec_folder", "siblings"),
    ("from ..daemon import loop", "siblings"),
])
def test_the_check_catches_each_kind_of_effect(source, forbidden):
    modules, siblings, calls = effects(source, "core/render.py")
    found = {"modules": bool(modules & FORBIDDEN_MODULES), "calls": bool(calls),
             "siblings": bool(siblings - PURE_MODULES)}
    assert found == {kind: kind == forbidden for kind in found}


@pytest.mark.parametrize("source, name, expected", [
    ("from .am.matchers import Matcher", "values.py", {"am.matchers"}),
    ("from .am import matchers", "values.py", {"am.matchers"}),
    ("from .matchers import Matcher", "am/reading.py", {"am.matchers"}),
    ("from ..errors import BaseConfigError", "am/reading.py", {"errors"}),
    ("from .. import errors", "am/reading.py", {"errors"}),
    ("from ..core import render", "am/reading.py", {"core.render"}),
    ("def f():\n    from ..specs.model import Specs\n", "am/routes.py", {"specs.model"}),
    ("if TYPE_CHECKING:\n    from ..specs.model import Specs\n", "values.py", set()),
    ("if typing.TYPE_CHECKING:\n    from ..specs.model import Specs\n", "values.py", set()),
    ("if DEBUG:\n    from ..specs.model import Specs\n", "am/routes.py", {"specs.model"}),
])
def test_relative_imports_are_resolved_in_their_subpackage(source, name, expected):
    assert effects(source, name)[1] == expected


def test_an_effectful_stage_is_flagged():
    modules, _, _ = effects(read("io/git_source.py"), "io/git_source.py")
    assert {"git", "os"} <= modules


def package_modules() -> set[str]:
    return {path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")}


def test_every_module_is_placed_in_a_layer():
    modules = package_modules()
    assert "am/matchers.py" in modules and "io/smtp.py" in modules  # the search goes into subpackages
    assert modules == set(ORDER) | {ENTRY}, \
        f"place {sorted(modules - set(ORDER) - {ENTRY})} in LAYERS; gone: {sorted(set(ORDER) - modules)}"
    assert len(set(ORDER)) == len(ORDER)


def later_imports(name: str, source: str) -> set[str]:
    """The package modules `source`, read as the module at `name`, imports that are not listed
    before it in LAYERS: a back import, or a loop."""
    allowed = {module_name(earlier) for earlier in ORDER[:ORDER.index(name)]} | {"__version__"}
    _, siblings, _ = effects(source, name)
    return siblings - allowed


@pytest.mark.parametrize("name", ORDER)
def test_a_module_imports_only_what_is_listed_before_it(name):
    assert not later_imports(name, read(name)), \
        f"{name} imports {sorted(later_imports(name, read(name)))}, which LAYERS lists after it"


@pytest.mark.parametrize("source, name", [
    ("from ..core.render import PREFIX", "am/routes.py"),        # a layer above
    ("from .. import specs", "am/routes.py"),
    ("def later():\n    from ..cli.main import main\n", "am/routes.py"),
    ("from ..daemon.loop import Daemon", "service/reconcile.py"),
    ("from .deliveries import deliveries", "am/routes.py"),      # a later module of its own subpackage
    ("from .importer import import_config", "core/render.py"),
    ("from .io.files import write_atomically", "errors.py"),
])
def test_a_back_import_is_caught(source, name):
    assert later_imports(name, source)
    assert not later_imports(name, "from ..errors import BaseConfigError\n" if "/" in name else "")


def test_the_entry_point_runs_the_cli():
    _, siblings, _ = effects(read(ENTRY), ENTRY)
    assert siblings == {"cli.main"}


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_a_subpackage_init_is_empty(package):
    # Empty: importing reconciler.am.matchers must not import the subpackage's other modules
    # (the cold-import budget, tests/unit/test_cold_imports.py).
    assert not read(f"{package}/__init__.py").strip()
