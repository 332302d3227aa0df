"""Render 1,000 RecipientList files of 50 recipients each, next to `amtool check-config` of
the result, in one run. Prints figures and ratios; timing never changes the exit status.

    .venv/bin/python bench/render_vs_amtool.py [--files 1000] [--recipients 50] [--repeat 5]
                                               [--profile] [--experiments]

Stages, each timed over --repeat runs (median and min):
  read      reconciler.io.git_source.read_spec_folder
  load      reconciler.yamlio.loader.load_files         (YAML -> located plain values)
  schema    reconciler.specs.schema.validate_document  (JSON Schema, per document)
  rules     reconciler.specs.model.check_document      (per-document rules JSON Schema cannot say)
  model     reconciler.specs.model.specs_from_documents (model objects + cross-document rules)
  render    reconciler.core.render.render_alertmanager_config
and, as the product runs it, `parse_specs` in one call (load + schema + rules + model) and
`amtool check-config` of the rendered file (subprocess wall time, process start included;
the same on a two-line config gives amtool's fixed cost).

Always also compares YAML composition with ruamel.yaml.clib's C parser against the
pure-Python one (`YAML(typ='safe', pure=...).compose_all`). `--experiments` measures
candidate optimisations in this process only (the product code is not changed):
a resolver that caches its per-version table, both cores (one process per core) for
parse_specs, and JSON Schema validity pre-checks with fastjsonschema / jsonschema-rs when
they are importable (they are not dependencies; see bench/README.md). `--profile` prints
the 15 costliest functions of one read-to-render pass, by cumulative and by own time.

Exit status: 0, whatever the timings; 1 only if the generated specs are refused or amtool
refuses the render (then the figures would describe a broken pipeline).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ruamel.yaml import YAML  # noqa: E402
from ruamel.yaml.error import YAMLError  # noqa: E402
from ruamel.yaml.resolver import VersionedResolver  # noqa: E402

from reconciler.yamlio import loader as loader_module  # noqa: E402
from reconciler.specs import pipeline as pipeline_module  # noqa: E402
from reconciler.yamlio.loader import load_files  # noqa: E402
from reconciler.specs.model import check_document, specs_from_documents, specs_from_objects  # noqa: E402
from reconciler.specs.pipeline import parse_specs  # noqa: E402
from reconciler.core.render import RenderOptions, render_alertmanager_config  # noqa: E402
from reconciler.specs.schema import KIND_SCHEMAS, validate_document, validator_for  # noqa: E402
from reconciler.io.git_source import read_spec_folder  # noqa: E402

getattr(loader_module, "_import_yaml", lambda: None)()  # ruamel is imported on first use: import it now

HEAD = ("# yaml-language-server: $schema=../../schemas/document.json\n"
        "apiVersion: notify-reconciler/v1\n")
OPTIONS = RenderOptions()


class Failed(Exception):
    """The pipeline refused what it should accept: the figures would mean nothing."""


# -- the spec folder ----------------------------------------------------------------------

def make_repo(folder: Path, files: int, recipients: int) -> None:
    """One EmailServer, one NotificationPolicy and `files` RecipientLists (team-0001.yaml, ...)
    of `recipients` addresses each: every tenth address as {name, email}, every other list
    with two matchers and its own repeat interval. Deterministic: same arguments, same bytes."""
    (folder / "email-server.yaml").write_text(
        f"{HEAD}kind: EmailServer\nmetadata:\n  name: corporate-smtp\nspec:\n"
        "  host: smtp.example.com\n  port: 587\n  username: alertmanager@example.com\n"
        "  passwordFile: /etc/alertmanager/smtp-password\n  from: alertmanager@example.com\n")
    (folder / "notification-policy.yaml").write_text(
        f"{HEAD}kind: NotificationPolicy\nmetadata:\n  name: default\nspec:\n  repeatInterval: 12h\n"
        "  groupBy: [alertname, namespace]\n  groupWait: 30s\n  groupInterval: 5m\n  sendResolved: true\n")
    for n in range(1, files + 1):
        team = f"team-{n:04d}"
        lines = [f"{HEAD}kind: RecipientList\nmetadata:\n  name: {team}\nspec:\n  recipients:\n"]
        for r in range(recipients):
            address = f"oncall{r:02d}@{team}.example.com"
            if r % 10 == 0:
                lines.append(f"    - name: On-call {r}\n      email: {address}\n")
            else:
                lines.append(f"    - {address}\n")
        if n % 2:
            lines.append(f'  matchers:\n    - team="{team}"\n    - severity=~"critical|page"\n'
                         "  repeatInterval: 4h\n")
        (folder / f"{team}.yaml").write_text("".join(lines))


# -- timing helpers -----------------------------------------------------------------------

def timed(function: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def repeated(function: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    """Wall times of `repeat` calls (a full GC before each, as the daemon settles memory
    after each pass), and the last result."""
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        elapsed, result = timed(function)
        times.append(elapsed)
    return times, result


def median(values: list[float]) -> float:
    return statistics.median(values)


# -- the stages ---------------------------------------------------------------------------

def stages(folder: Path) -> tuple[dict[str, float], str]:
    """One pass, stage by stage, as separate calls from outside the pipeline."""
    times: dict[str, float] = {}
    times["read"], tree = timed(read_spec_folder, folder)
    if tree.errors:
        raise Failed(f"read: {tree.errors[:3]}")
    times["load (YAML -> located values)"], (documents, errors) = timed(load_files, tree.files)
    if errors:
        raise Failed(f"load: {errors[:3]}")

    def schema() -> list:
        return [problem for document in documents for problem in validate_document(document)]

    def rules() -> list:
        return [problem for document in documents for problem in check_document(document)]

    times["schema (JSON Schema)"], problems = timed(schema)
    if problems:
        raise Failed(f"schema: {problems[:3]}")
    times["rules (per document)"], problems = timed(rules)
    if problems:
        raise Failed(f"rules: {problems[:3]}")
    times["model (+ cross-document)"], (specs, problems) = timed(specs_from_documents, documents)
    if problems:
        raise Failed(f"model: {problems[:3]}")
    times["render"], text = timed(lambda: render_alertmanager_config(specs, None, options=OPTIONS))
    return times, text


def product_pass(folder: Path) -> tuple[dict[str, float], str]:
    """One pass as the product runs it: read, parse_specs, render."""
    times: dict[str, float] = {}
    times["read"], tree = timed(read_spec_folder, folder)
    times["parse_specs"], specs = timed(parse_specs, tree.files)
    times["render"], text = timed(lambda: render_alertmanager_config(specs, None, options=OPTIONS))
    return times, text


def amtool_check(amtool: str, text: str) -> float:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "alertmanager.yml")
        path.write_text(text)
        started = time.perf_counter()
        result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True)
        elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise Failed(f"amtool refused the render: {(result.stdout + result.stderr).strip()[:2000]}")
    return elapsed


TINY_CONFIG = "route: {receiver: x}\nreceivers: [{name: x}]\n"


# -- C parser vs pure ---------------------------------------------------------------------

def compose_all(texts: list[str], pure: bool, resolver: type | None = None) -> int:
    """Compose every document of every file as loader._compose_all does (one YAML per file)."""
    nodes = 0
    for text in texts:
        yaml = YAML(typ="safe", pure=pure)
        if resolver is not None:
            yaml.Resolver = resolver
        nodes += len(list(yaml.compose_all(text)))
    return nodes


class CachedResolver(VersionedResolver):
    """ruamel's resolver, minus the per-scalar lookup of the YAML version.

    `VersionedResolver.resolve` asks `versioned_resolver` twice per scalar, which asks
    `processing_version` (three attribute lookups through the loader, with exceptions on the
    C parser's path) every time. Within one stream without a %YAML directive the answer
    never changes, so compute it once. (A product version would key the cache by version.)"""

    @property
    def versioned_resolver(self) -> Any:
        try:
            return self.__table
        except AttributeError:
            self.__table = VersionedResolver.versioned_resolver.fget(self)
            return self.__table


def compose_with(resolver: type) -> Callable[[str], list]:
    def compose(text: str) -> list:
        if loader_module._HAVE_C_PARSER:
            try:
                yaml = YAML(typ="safe", pure=False)
                yaml.Resolver = resolver
                return list(yaml.compose_all(text))
            except YAMLError:
                pass
        yaml = YAML(typ="safe", pure=True)
        yaml.Resolver = resolver
        return list(yaml.compose_all(text))
    return compose


def same_documents(a: list, b: list) -> bool:
    return [(d.file, d.index, d.start, d.content, dict(d.positions), dict(d.key_positions)) for d in a] == \
           [(d.file, d.index, d.start, d.content, dict(d.positions), dict(d.key_positions)) for d in b]


# -- both cores ---------------------------------------------------------------------------

def _parse_chunk(chunk: list[tuple[str, bytes]]) -> list:
    return [pipeline_module._parse_file(name, data, loader_module.DEFAULT_LIMITS) for name, data in chunk]


def parse_parallel(pool: ProcessPoolExecutor, files: dict[str, bytes], workers: int) -> Any:
    """parse_specs's work with the files split over `workers` processes (by name order, in
    contiguous chunks so the result keeps that order)."""
    names = sorted(files)
    size = -(-len(names) // workers)
    chunks = [[(name, files[name]) for name in names[i:i + size]] for i in range(0, len(names), size)]
    valid, errors = [], []
    for results in pool.map(_parse_chunk, chunks):
        for parsed in results:
            valid.extend(parsed.objects)
            errors.extend(parsed.errors)
    specs, problems = specs_from_objects(valid)
    if errors or problems:
        raise Failed(f"parallel parse: {(errors + problems)[:3]}")
    return specs


# -- the promising changes together ------------------------------------------------------

_PRECHECK: Callable[[Any], bool] | None = None
"""The fast is-valid function parse_file_combined uses (set before the pool forks)."""


def _prechecked(content: Any) -> bool:
    if not isinstance(content, dict) or content.get("kind") not in KIND_SCHEMAS:
        return False
    return _PRECHECK is not None and _PRECHECK(content)


def parse_file_combined(name: str, data: bytes) -> tuple[list, list]:
    """pipeline._parse_file with a fast validity pre-check (and, as the caller sets it up, the
    resolver's version table cached): jsonschema runs only on documents the pre-check
    refuses, to word their errors."""
    documents, errors = loader_module.load_file(name, data, loader_module.DEFAULT_LIMITS)
    valid = []
    for document in documents:
        schema_problems = [] if _prechecked(document.content) else validate_document(document)
        errors.extend(schema_problems)
        errors.extend(check_document(document))
        if not schema_problems:
            valid.append(pipeline_module.model_object(document))
    return valid, errors


def _combined_chunk(chunk: list[tuple[str, bytes]]) -> list[tuple[list, list]]:
    return [parse_file_combined(name, data) for name, data in chunk]


def parse_combined(files: dict[str, bytes], pool: ProcessPoolExecutor | None, workers: int) -> Any:
    names = sorted(files)
    if pool is None:
        results = [_combined_chunk([(name, files[name]) for name in names])]
    else:
        size = -(-len(names) // workers)
        results = list(pool.map(_combined_chunk, [[(n, files[n]) for n in names[i:i + size]]
                                                  for i in range(0, len(names), size)]))
    valid, errors = [], []
    for chunk in results:
        for objects, problems in chunk:
            valid.extend(objects)
            errors.extend(problems)
    specs, problems = specs_from_objects(valid)
    if errors or problems:
        raise Failed(f"combined parse: {(errors + problems)[:3]}")
    return specs


# -- schema pre-checks --------------------------------------------------------------------

def _mutants(content: dict) -> list[Any]:
    """Variants of one RecipientList, most of them invalid, to compare verdicts on."""
    import copy

    def variant(path: tuple, value: Any = None, delete: bool = False) -> Any:
        doc = copy.deepcopy(content)
        node = doc
        for part in path[:-1]:
            node = node[part]
        if delete:
            del node[path[-1]]
        else:
            node[path[-1]] = value
        return doc
    r = ("spec", "recipients")
    cases = [variant(r + (1,), bad) for bad in ("ops@@example", "ops@example", "ops@example.com\n", "ops@ex ample.com",
                                                  " ops@example.com", "ops@example.com ", "o" * 250 + "@example.com",
                                                  "ops@-example.com", "ops@example..com", 5, None, [],
                                                  {"name": "x"}, {"email": "a@example.com", "x": 1},
                                                  {"name": "a{b", "email": "a@example.com"},
                                                  {"name": "", "email": "a@example.com"},
                                                  {"name": "line\u2028break", "email": "a@example.com"},
                                                  {"name": "ok", "email": "a@example.com"})]
    cases += [variant(r, []), variant(r, ["a@example.com"] * 51), variant(r, "a@example.com")]
    cases += [variant(("spec", "matchers"), [bad]) for bad in ('severity = critical', 'team=~"a"b"', '1team="x"',
                                                              'team="x"\n', 'team =~ "db|web"', 'team="a\\qb"')]
    cases += [variant(("spec", "repeatInterval"), bad) for bad in ("12 hours", "-5m", "1.5h", 5, "", "4h\n", "1h30m",
                                                                   "30m1h", "0", "1ms", "1d12h")]
    cases += [variant(("spec", "groupBy"), bad) for bad in (["a", "a"], ["1abc"], ["..."], "alertname", ["a-b"])]
    cases += [variant(("spec", "sendResolved"), bad) for bad in ("yes", 1, True)]
    cases += [variant(("spec", "extra"), 1), variant(("spec", "recipients"), delete=True), variant(("extra",), 1),
              variant(("apiVersion",), "notify-reconciler/v2"), variant(("metadata", "name"), "Team_X"),
              variant(("metadata", "name"), "-a"), variant(("metadata", "name"), "a" * 64),
              variant(("metadata", "name"), "team-x\n"), variant(("metadata", "labels"), {"a": 1}),
              variant(("metadata", "name"), delete=True), variant(("spec",), None)]
    return cases


def agreement(is_valid: Callable[[Any], bool], documents: list) -> tuple[int, int, int]:
    """Over variants of the lists: (variants, fast says valid where jsonschema says invalid,
    the reverse). A pre-check is safe only if the first count is 0."""
    lists = [d for d in documents if d.content.get("kind") == "RecipientList"]
    samples = [_mutants(d.content) for d in lists[:2]]
    validator = validator_for(KIND_SCHEMAS["RecipientList"])
    unsafe = extra = total = 0
    for variants in samples:
        for content in variants:
            total += 1
            reference, fast = validator.is_valid(content), is_valid(content)
            unsafe += fast and not reference
            extra += reference and not fast
    return total, unsafe, extra


def _escape_class_dollars(node: Any) -> Any:
    """The schema with every unescaped `$` inside a pattern's [...] written as a backslash
    and `$` (the same character class)."""
    if isinstance(node, list):
        return [_escape_class_dollars(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _escape_class_dollars(value) for key, value in node.items()}
    if isinstance(node.get("pattern"), str):
        pattern, text, opened, i = node["pattern"], [], -1, 0
        while i < len(pattern):
            char = pattern[i]
            if char == "\\":
                text.append(pattern[i:i + 2])
                i += 2
                continue
            if opened < 0 and char == "[":
                opened = i
            elif opened >= 0 and char == "]" and i > opened + (2 if pattern[opened + 1:opened + 2] == "^" else 1):
                opened = -1  # a `]` first in the class is a literal
            text.append("\\$" if char == "$" and opened >= 0 else char)
            i += 1
        out["pattern"] = "".join(text)
    return out


def precheck_validators() -> dict[str, Callable[[Any], bool] | str]:
    """Compiled is-valid functions for each kind's schema (the same $ref-inlined schema the
    product validates with), from every fast validator that can be imported."""
    schemas = {kind: validator_for(name).schema for kind, name in KIND_SCHEMAS.items()}
    found: dict[str, Callable[[Any], bool] | str] = {}
    try:
        import fastjsonschema
    except ImportError:
        pass
    else:
        label = "fastjsonschema"
        try:
            compiled = {kind: fastjsonschema.compile(schema) for kind, schema in schemas.items()}
        except Exception as exc:  # noqa: BLE001 - report why it cannot take our schemas
            found[label] = f"cannot compile our schemas: {type(exc).__name__}: {exc}"
            # It rewrites a pattern's `$` as `\Z`, also inside a character class (the e-mail
            # pattern's [...#$%...]), where `\Z` is a bad escape; `\$` there means the same.
            label += ", [$] escaped"
            try:
                compiled = {kind: fastjsonschema.compile(_escape_class_dollars(schema))
                            for kind, schema in schemas.items()}
            except Exception as exc:  # noqa: BLE001
                found[label] = f"cannot compile our schemas: {type(exc).__name__}: {exc}"
                compiled = {}
        if compiled:
            def fast(content: Any) -> bool:
                try:
                    compiled[content["kind"]](content)
                    return True
                except fastjsonschema.JsonSchemaException:
                    return False
            found[label] = fast
    try:
        import jsonschema_rs
    except ImportError:
        pass
    else:
        label = "jsonschema-rs"
        try:
            rust = {kind: jsonschema_rs.validator_for(schema) for kind, schema in schemas.items()}
        except Exception as exc:  # noqa: BLE001
            found[label] = f"cannot compile our schemas: {type(exc).__name__}: {exc}"
        else:
            found[label] = lambda content: rust[content["kind"]].is_valid(content)
    return found


# -- output -------------------------------------------------------------------------------

def row(label: str, values: list[float], note: str = "") -> str:
    return f"  {label:<38}{median(values):>9.3f}{min(values):>9.3f}  {note}".rstrip()


def versions(amtool: str | None) -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    amtool_version = "amtool not found"
    if amtool:
        answer = subprocess.run([amtool, "--version"], capture_output=True, text=True)
        amtool_version = (answer.stdout + answer.stderr).strip().splitlines()[0]
    libraries = ", ".join(f"{name} {metadata.version(name)}" for name in ("ruamel.yaml", "ruamel.yaml.clib", "jsonschema")
                          if _installed(name))
    return (f"machine: {model}, {os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}); "
            f"{platform.python_implementation()} {platform.python_version()}\n"
            f"libraries: {libraries}; C parser (_ruamel_yaml) importable: {loader_module._HAVE_C_PARSER}\n"
            f"{amtool_version}")


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
        return True
    except metadata.PackageNotFoundError:
        return False


# -- main ---------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> None:
    amtool = shutil.which("amtool") or ("/usr/bin/amtool" if Path("/usr/bin/amtool").exists() else None)
    print(versions(amtool))
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder)
        make_repo(repo, args.files, args.recipients)
        yaml_bytes = sum(p.stat().st_size for p in repo.iterdir())

        # 1. Stage by stage, and the product's own path, and amtool, in the same run.
        runs: list[dict[str, float]] = []
        text = ""
        for _ in range(args.repeat):
            gc.collect()
            times, text = stages(repo)
            times["sum of stages, read..render"] = sum(times.values())
            gc.collect()
            product, product_text = product_pass(repo)
            if product_text != text:
                raise Failed("parse_specs + render gave other bytes than the stage-by-stage pass")
            times["parse_specs (as the product)"] = product["parse_specs"]
            times["pipeline: read+parse_specs+render"] = sum(product.values())
            if amtool:
                times["amtool check-config"] = amtool_check(amtool, text)
                times["amtool on a 2-line config"] = amtool_check(amtool, TINY_CONFIG)
            runs.append(times)

        print(f"input: {args.files:,} RecipientList files x {args.recipients} recipients (+ 1 EmailServer, "
              f"1 NotificationPolicy): {yaml_bytes / 1e6:.2f} MB of YAML")
        print(f"rendered alertmanager.yml: {len(text.encode()):,} bytes ({len(text.encode()) / 1e6:.2f} MB), "
              f"{text.count(chr(10)):,} lines; amtool: {'accepted' if amtool else 'not run'}")
        print(f"{args.repeat} runs; seconds:")
        print(f"  {'stage':<38}{'median':>9}{'min':>9}")
        for stage in runs[0]:
            print(row(stage, [r[stage] for r in runs]))
        if amtool:
            check = median([r["amtool check-config"] for r in runs])
            render = median([r["render"] for r in runs])
            total = median([r["pipeline: read+parse_specs+render"] for r in runs])
            print(f"ratio render / amtool check-config:            {render / check:6.2f}"
                  f"   ({'within' if render <= check else 'over'} the aim of <= 1)")
            print(f"ratio read+parse_specs+render / amtool check:   {total / check:6.2f}")

        # 2. The C parser against the pure-Python one, composition only.
        tree = read_spec_folder(repo)
        texts = [tree.files[name].decode("utf-8-sig") for name in sorted(tree.files)]
        print("\nYAML composition only (YAML(typ='safe').compose_all per file, no building or checks); seconds:")
        print(f"  {'parser':<38}{'median':>9}{'min':>9}")
        pure_times, _ = repeated(lambda: compose_all(texts, pure=True), args.repeat)
        print(row("pure Python (pure=True)", pure_times))
        if loader_module._HAVE_C_PARSER:
            c_times, _ = repeated(lambda: compose_all(texts, pure=False), args.repeat)
            print(row("C parser (ruamel.yaml.clib)", c_times, f"{median(pure_times) / median(c_times):.1f}x faster"))
            fallback = 0
            for t in texts:
                try:
                    list(YAML(typ="safe", pure=False).compose_all(t))
                except YAMLError:
                    fallback += 1
            print(f"  files the C parser refused (re-parsed pure, as the loader does): {fallback}")
            saved = loader_module._HAVE_C_PARSER
            loader_module._HAVE_C_PARSER = False
            try:
                pure_load, _ = repeated(lambda: load_files(tree.files), args.repeat)
            finally:
                loader_module._HAVE_C_PARSER = saved
            c_load, _ = repeated(lambda: load_files(tree.files), args.repeat)
            print(row("load_files, pure parser forced", pure_load))
            print(row("load_files, as shipped (C first)", c_load, f"{median(pure_load) / median(c_load):.1f}x faster"))
        else:
            print("  C parser: not importable (pip install ruamel.yaml.clib)")

        if args.experiments:
            experiments(repo, tree.files, texts, args.repeat)

        if args.profile:
            profile(repo, args.profile_sort)


def experiments(repo: Path, files: dict[str, bytes], texts: list[str], repeat: int) -> None:
    print("\nexperiments (this process only; the product code is unchanged); seconds:")
    print(f"  {'variant':<38}{'median':>9}{'min':>9}")

    # a) The resolver's version lookup, cached.
    c_plain, _ = repeated(lambda: compose_all(texts, pure=False), repeat)
    c_cached, _ = repeated(lambda: compose_all(texts, pure=False, resolver=CachedResolver), repeat)
    print(row("compose, C, ruamel resolver", c_plain))
    print(row("compose, C, cached version table", c_cached,
              f"saves {median(c_plain) - median(c_cached):.3f} s"))
    shipped, (reference, _) = repeated(lambda: load_files(files), repeat)
    original = loader_module._compose_all
    loader_module._compose_all = compose_with(CachedResolver)
    try:
        patched, (documents, _) = repeated(lambda: load_files(files), repeat)
    finally:
        loader_module._compose_all = original
    identical = same_documents(reference, documents)
    print(row("load_files, as shipped", shipped))
    print(row("load_files, cached version table", patched,
              f"saves {median(shipped) - median(patched):.3f} s; same documents: {identical}"))

    # b) parse_specs on every core, one process per core (fork, pool started inside the timing).
    serial, specs = repeated(lambda: parse_specs(files), repeat)
    workers = len(os.sched_getaffinity(0))

    def parallel() -> Any:
        with ProcessPoolExecutor(max_workers=workers, mp_context=_fork_context()) as pool:
            return parse_parallel(pool, files, workers)
    both, parallel_specs = repeated(parallel, repeat)
    print(row("parse_specs, 1 process", serial))
    print(row(f"parse_specs work, {workers} processes", both,
              f"{median(serial) / median(both):.2f}x; same specs: {parallel_specs == specs}"))

    def without_gc() -> Any:
        gc.disable()
        try:
            return parse_specs(files)
        finally:
            gc.enable()
    no_gc, _ = repeated(without_gc, repeat)
    print(row("parse_specs, cyclic GC off", no_gc, f"saves {median(serial) - median(no_gc):.3f} s"))

    # c) JSON Schema: a compiled validity check first, jsonschema only to explain a failure.
    documents = load_files(files)[0]
    full, _ = repeated(lambda: [validate_document(d) for d in documents], repeat)
    print(row("schema, jsonschema (as shipped)", full))
    checkers = precheck_validators()
    if checkers:
        print(f"  {'':38}fast validators: " + ", ".join(f"{name} {metadata.version(name)}" for name in
                                                     ("fastjsonschema", "jsonschema-rs") if _installed(name)))
    if not checkers:
        print("  fast validators: none importable (fastjsonschema, jsonschema-rs); see bench/README.md")
    for label, is_valid in checkers.items():
        if isinstance(is_valid, str):
            print(f"  schema, {label}: {is_valid}")
            continue
        times, verdicts = repeated(lambda: [is_valid(d.content) for d in documents], repeat)
        print(row(f"schema, {label}", times,
                  f"{median(full) / median(times):.0f}x; accepts all {len(documents)}: {all(verdicts)}"))
        total, unsafe, extra = agreement(is_valid, documents)
        print(f"  {'':38}on {total} edited lists: {unsafe} passed it that jsonschema refuses (must be 0), "
              f"{extra} refused that jsonschema passes")

    # d) Together: cached resolver table + a pre-check, on one core and on all.
    global _PRECHECK
    original = loader_module._compose_all
    loader_module._compose_all = compose_with(CachedResolver)
    try:
        for label, check in checkers.items():
            if isinstance(check, str):
                continue
            _PRECHECK = check
            one, combined_specs = repeated(lambda: parse_combined(files, None, 1), repeat)

            def on_all() -> Any:
                with ProcessPoolExecutor(max_workers=workers, mp_context=_fork_context()) as pool:
                    return parse_combined(files, pool, workers)
            every, every_specs = repeated(on_all, repeat)
            name = label.split(",")[0]
            print(row(f"parse: cached table + {name}", one,
                      f"{median(serial) / median(one):.2f}x; same specs: {combined_specs == specs}"))
            print(row(f"  the same, {workers} processes", every,
                      f"{median(serial) / median(every):.2f}x; same specs: {every_specs == specs}"))
    finally:
        loader_module._compose_all = original
        _PRECHECK = None


def _fork_context() -> Any:
    import multiprocessing
    return multiprocessing.get_context("fork")


def profile(repo: Path, sort: str) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    product_pass(repo)
    profiler.disable()
    for order in dict.fromkeys([sort, "tottime"]):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.strip_dirs().sort_stats(order).print_stats(15)
        print(f"\nprofile of one read + parse_specs + render pass (cProfile roughly doubles pure-Python "
              f"time), top 15 by {order}:")
        print("\n".join(line for line in out.getvalue().splitlines()
                        if line.strip() and not line.lstrip().startswith(("Ordered by", "List reduced"))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="RecipientList files (default 1000)")
    parser.add_argument("--recipients", type=int, default=50, help="recipients per list, 1 to 50 (default 50)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each measurement (default 5)")
    parser.add_argument("--profile", action="store_true", help="print the 15 costliest functions of one pass")
    parser.add_argument("--profile-sort", default="cumulative", choices=["cumulative", "tottime", "ncalls"],
                        help="first profile order (own time is printed as well)")
    parser.add_argument("--experiments", action="store_true",
                        help="also measure candidate optimisations (about 30 s more)")
    args = parser.parse_args()
    try:
        run(args)
    except Failed as failure:
        print(f"render_vs_amtool: FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
