"""The layering of the whole package, read from each module's syntax tree (so an import
inside a function counts too), in the spirit of import-linter's contracts:

- every module, in every subpackage, is either pure or a named edge; a new module must be
  placed in one list;
- the pure stages stay pure: no git, file watching, SMTP, network, processes, clock or
  file access, and they import only pure modules;
- the edges are layered: an edge imports pure modules and only the edges listed before it
  (files before the clients of git, HTTP and SMTP, before the target, before the pass,
  before the daemon, before the CLI), so the effects keep one direction;
- a subpackage is a layer below the modules that use it: it imports only itself and the
  few root modules `SUBPACKAGES` names (`am/`, Alertmanager's own config, reads YAML with
  the loader and raises the package's errors; it never imports the render, the model or the
  CLI), and its `__init__.py` is empty, so importing one module of it imports no other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
PURE = ("errors.py", "values.py", "loader.py", "schema.py", "schema_codegen.py", "schema_compiled.py", "model.py",
        "render.py", "pipeline.py", "config.py", "templates.py", "diff.py", "mailing.py", "alerts.py",
        "addresses.py", "importer.py", "who_gets.py", "timewindows.py", "display.py", "logfmt.py", "headers.py",
        "__init__.py", "am/__init__.py", "am/matchers.py", "am/reading.py", "am/routes.py", "am/receivers.py",
        "am/credentials.py", "am/secret.py", "am/deliveries.py", "kubesphere/__init__.py", "kubesphere/objects.py",
        "kubesphere/selector.py", "kubesphere/importing.py", "kubesphere/rendering.py")
EDGES = ("liveness.py", "files.py", "password_sources.py", "cache.py", "journal.py", "alertmanager.py", "amtool.py",
         "template_engine.py", "source.py", "mailer.py", "probe.py", "http_endpoint.py", "deploy.py", "render_check.py",
         "preview.py", "state.py", "status.py", "reconcile.py", "pass_log.py", "daemon.py", "cli.py", "__main__.py")
"""In layer order: each may import the pure modules and the edges before it."""
SUBPACKAGES = {"am": frozenset({"errors", "loader", "timewindows"}),
               "kubesphere": frozenset({"errors", "values", "loader", "model", "pipeline", "am.matchers", "am.reading",
                                        "am.routes", "am.secret"})}
"""Each subpackage -> the root modules it may import besides its own."""
FORBIDDEN_MODULES = frozenset({"git", "watchdog", "smtplib", "socket", "urllib", "http", "subprocess", "time",
                               "datetime", "os", "shutil", "tempfile", "pathlib", "random", "requests"})
FORBIDDEN_CALLS = frozenset({"open", "exec", "eval", "__import__"})
CALENDAR = {"timewindows.py": {"datetime", "os"}}
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
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
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
    # `from .source import ...` would bring git in through the back door.
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
    ("from .source import read_spec_folder", "siblings"),
    ("from . import daemon", "siblings"),
])
def test_the_check_catches_each_kind_of_effect(source, forbidden):
    modules, siblings, calls = effects(source)
    found = {"modules": bool(modules & FORBIDDEN_MODULES), "calls": bool(calls),
             "siblings": bool(siblings - PURE_MODULES)}
    assert found == {kind: kind == forbidden for kind in found}


@pytest.mark.parametrize("source, name, expected", [
    ("from .am.matchers import Matcher", "routing.py", {"am.matchers"}),
    ("from .am import matchers", "routing.py", {"am.matchers"}),
    ("from .matchers import Matcher", "am/reading.py", {"am.matchers"}),
    ("from ..errors import BaseConfigError", "am/reading.py", {"errors"}),
    ("from .. import render", "am/reading.py", {"render"}),
    ("def f():\n    from ..model import Specs\n", "am/routes.py", {"model"}),
])
def test_relative_imports_are_resolved_in_their_subpackage(source, name, expected):
    assert effects(source, name)[1] == expected


def test_an_effectful_stage_is_flagged():
    modules, _, _ = effects(read("source.py"), "source.py")
    assert {"git", "os"} <= modules


def package_modules() -> set[str]:
    return {path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")}


def test_every_module_is_pure_or_a_named_edge():
    modules = package_modules()
    assert "am/matchers.py" in modules  # the search goes into subpackages
    assert modules == set(PURE) | set(EDGES), \
        f"place {sorted(modules - set(PURE) - set(EDGES))} in PURE or EDGES; gone: {sorted(set(PURE) | set(EDGES) - modules)}"
    assert not set(PURE) & set(EDGES)


@pytest.mark.parametrize("name", EDGES)
def test_an_edge_imports_only_pure_modules_and_earlier_edges(name):
    _, siblings, _ = effects(read(name), name)
    allowed = PURE_MODULES | {module_name(edge) for edge in EDGES[:EDGES.index(name)]}
    if name == "__main__.py":
        allowed |= {"cli"}
    assert siblings <= allowed, f"{name} imports {sorted(siblings - allowed)}, which come later in EDGES"


def test_the_edge_order_is_enforced():
    # reconcile importing the daemon would be a loop through the layers: the check sees it.
    _, siblings, _ = effects("from .daemon import Daemon", "reconcile.py")
    allowed = PURE_MODULES | {module_name(edge) for edge in EDGES[:EDGES.index("reconcile.py")]}
    assert not siblings <= allowed


def outside_imports(name: str, source: str) -> set[str]:
    """The package modules a subpackage's module imports that are neither its own nor allowed."""
    package = name.split("/")[0]
    _, siblings, _ = effects(source, name)
    return {module for module in siblings
            if module.split(".")[0] != package and module not in SUBPACKAGES[package]}


@pytest.mark.parametrize("name", sorted(name for name in PURE + EDGES if "/" in name))
def test_a_subpackage_imports_only_itself_and_what_lies_below_it(name):
    assert name.split("/")[0] in SUBPACKAGES, f"{name}: add its subpackage to SUBPACKAGES"
    assert not outside_imports(name, read(name)), \
        f"{name} imports {sorted(outside_imports(name, read(name)))}: a back import into a layer above it"


@pytest.mark.parametrize("source", [
    "from ..render import PREFIX",
    "from .. import model",
    "def later():\n    from ..cli import main\n",
    "from ..importer import import_config",
])
def test_a_back_import_from_a_subpackage_is_caught(source):
    assert outside_imports("am/routes.py", source)
    assert not outside_imports("am/routes.py", "from ..errors import BaseConfigError\nfrom .matchers import Matcher\n")


@pytest.mark.parametrize("package", sorted(SUBPACKAGES))
def test_a_subpackage_init_is_empty(package):
    # Empty: importing reconciler.am.matchers must not import the subpackage's other modules
    # (the cold-import budget, tests/unit/test_cold_imports.py).
    assert not read(f"{package}/__init__.py").strip()
