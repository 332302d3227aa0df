"""The layering of the whole package, read from each module's syntax tree (so an import
inside a function counts too), in the spirit of import-linter's contracts:

- every module is either pure or a named edge; a new module must be placed in one list;
- the pure stages stay pure: no git, file watching, SMTP, network, processes, clock or
  file access, and they import only pure siblings;
- the edges are layered: an edge imports pure modules and only the edges listed before it
  (files before the clients of git, HTTP and SMTP, before the target, before the pass,
  before the daemon, before the CLI), so the effects keep one direction."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
PURE = ("errors.py", "values.py", "loader.py", "schema.py", "schema_codegen.py", "schema_compiled.py", "model.py",
        "render.py", "pipeline.py", "config.py", "templates.py", "diff.py", "mailing.py", "alerts.py", "matchers.py",
        "addresses.py", "routing.py", "importer.py", "timewindows.py", "display.py", "logfmt.py", "headers.py",
        "__init__.py")
EDGES = ("liveness.py", "files.py", "password_sources.py", "cache.py", "journal.py", "alertmanager.py", "amtool.py",
         "template_engine.py", "source.py", "mailer.py", "probe.py", "http_endpoint.py", "deploy.py", "render_check.py",
         "preview.py", "state.py", "status.py", "reconcile.py", "pass_log.py", "daemon.py", "cli.py", "__main__.py")
"""In layer order: each may import the pure modules and the edges before it."""
FORBIDDEN_MODULES = frozenset({"git", "watchdog", "smtplib", "socket", "urllib", "http", "subprocess", "time",
                               "datetime", "os", "shutil", "tempfile", "pathlib", "random", "requests"})
FORBIDDEN_CALLS = frozenset({"open", "exec", "eval", "__import__"})
CALENDAR = {"timewindows.py": {"datetime", "os"}}
"""Pure modules that compute with dates: they may import datetime, never read the clock with it
(and timewindows os.path, to follow the tz database's links as Go's time.LoadLocation does)."""
CLOCK_CALLS = frozenset({"now", "utcnow", "today", "time", "monotonic", "perf_counter", "time_ns"})
PURE_SIBLINGS = frozenset(name.removesuffix(".py") for name in PURE if name != "__init__.py") | {"__version__"}
"""What a module may import from the package: `from . import __version__` names __init__'s."""


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
    forbidden = FORBIDDEN_MODULES - CALENDAR.get(name, set())
    assert not modules & forbidden, f"{name} imports {sorted(modules & forbidden)}"


def clock_calls(source: str) -> set[str]:
    """Names of calls that read the clock (datetime.now(), date.today(), time.time())."""
    return {node.func.attr for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_CALLS}


@pytest.mark.parametrize("name", sorted(CALENDAR))
def test_a_calendar_module_never_reads_the_clock(name):
    assert not clock_calls((PACKAGE / name).read_text(encoding="utf-8")), f"{name} reads the clock"
    assert clock_calls("from datetime import datetime\nx = datetime.now()\n") == {"now"}


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


def test_every_module_is_pure_or_a_named_edge():
    modules = {path.name for path in PACKAGE.glob("*.py")}
    assert modules == set(PURE) | set(EDGES), \
        f"place {sorted(modules - set(PURE) - set(EDGES))} in PURE or EDGES; gone: {sorted(set(PURE) | set(EDGES) - modules)}"
    assert not set(PURE) & set(EDGES)


@pytest.mark.parametrize("name", EDGES)
def test_an_edge_imports_only_pure_modules_and_earlier_edges(name):
    _, siblings, _ = effects((PACKAGE / name).read_text(encoding="utf-8"))
    allowed = PURE_SIBLINGS | {edge.removesuffix(".py") for edge in EDGES[:EDGES.index(name)]}
    if name == "__main__.py":
        allowed |= {"cli"}
    assert siblings <= allowed, f"{name} imports {sorted(siblings - allowed)}, which come later in EDGES"


def test_the_edge_order_is_enforced():
    # reconcile importing the daemon would be a loop through the layers: the check sees it.
    _, siblings, _ = effects("from .daemon import Daemon")
    allowed = PURE_SIBLINGS | {edge.removesuffix(".py") for edge in EDGES[:EDGES.index("reconcile.py")]}
    assert not siblings <= allowed
