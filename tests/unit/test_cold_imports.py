"""What a command imports is part of its cost (bench/cold.py times whole processes; issue
17): `validate` must not pay for git, HTTP, SMTP, metrics or jsonschema's error path, and a
`validate` whose answer is in the cache needs neither the YAML parser nor the model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "config-repo"
NEVER_FOR_VALIDATE = {"git", "jsonschema", "prometheus_client", "smtplib", "http.client", "urllib.request",
                      "watchdog", "tenacity", "reconciler.io.deploy", "reconciler.daemon.loop", "reconciler.service.reconcile"}

PROBE = """
import json, sys
from reconciler.cli.main import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def imported(*argv: str, cache: Path) -> tuple[int, set[str]]:
    environ = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    result = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, env=environ,
                            timeout=60, check=True)
    answer = json.loads(result.stdout.splitlines()[-1])
    return answer["status"], set(answer["modules"])


def test_validate_imports_only_what_saying_valid_needs(tmp_path):
    status, modules = imported("validate", "--no-cache", str(EXAMPLE), cache=tmp_path)
    assert status == 0
    assert not modules & NEVER_FOR_VALIDATE
    assert "ruamel.yaml" in modules and "reconciler.specs.model" in modules  # it did parse: the check can fail


def test_a_validate_answered_from_the_cache_imports_no_parser_and_no_model(tmp_path):
    first_status, first = imported("validate", str(EXAMPLE), cache=tmp_path)
    status, modules = imported("validate", str(EXAMPLE), cache=tmp_path)
    assert first_status == status == 0
    assert {"ruamel.yaml", "reconciler.specs.model"} <= first
    assert not modules & (NEVER_FOR_VALIDATE | {"ruamel.yaml", "reconciler.specs.model", "reconciler.specs.pipeline"})


def test_a_diff_whose_render_is_in_the_cache_imports_no_yaml_library(tmp_path):
    output, base = tmp_path / "alertmanager.yml", EXAMPLE.parent / "alertmanager-base.yml"
    config = tmp_path / "config.yaml"
    config.write_text(f"source:\n  repo: {EXAMPLE}\ntarget:\n  output: {output}\n  base: {base}\n"
                      f"  alertmanagers: []\nstateDir: {tmp_path / 'state'}\n")
    render_status, _ = imported("render", str(EXAMPLE), "--base", str(base), "-o", str(output), cache=tmp_path / "cache")
    first_status, first = imported("diff", str(EXAMPLE), "--config", str(config), cache=tmp_path / "cache")
    status, modules = imported("diff", str(EXAMPLE), "--config", str(config), cache=tmp_path / "cache")
    assert render_status == first_status == status == 0  # 0: the output holds the render already
    assert "ruamel.yaml" in first
    assert not modules & NEVER_FOR_A_CACHED_DIFF


NEVER_FOR_A_CACHED_DIFF = {"ruamel.yaml", "git", "jsonschema", "prometheus_client", "smtplib", "reconciler.daemon.loop",
                           "reconciler.service.reconcile", "reconciler.specs.model", "reconciler.service.state",
                           "logging"}


def test_every_module_these_tests_forbid_exists():
    # A module moved or renamed (the move into subpackages renamed most) would leave its old
    # name here, forbidden and never imported: the tests above would pass and check nothing.
    import importlib.util

    named = {name for name in NEVER_FOR_VALIDATE | NEVER_FOR_A_CACHED_DIFF | {"reconciler.specs.pipeline"}
             if name.startswith("reconciler.")}
    assert len(named) >= 6
    assert not [name for name in named if importlib.util.find_spec(name) is None]
    assert importlib.util.find_spec("reconciler.deploy") is None  # the old flat name: this check would catch it
