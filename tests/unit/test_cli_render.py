"""`notify-reconciler render` end to end through `main`: what reaches the user."""

from __future__ import annotations

import socket
from pathlib import Path

from reconciler.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "config-repo"
EXAMPLE_BASE = ROOT / "examples" / "alertmanager-base.yml"


def test_render_and_secret_do_not_depend_on_the_machine_that_ran_them(monkeypatch, capsys):
    outputs = []
    for host in ("ci-runner-7", "alice-laptop"):
        monkeypatch.setattr(socket, "gethostname", lambda host=host: host)
        for extra in ([], ["--format", "secret"], ["--base", str(EXAMPLE_BASE)]):
            assert main(["render", str(EXAMPLE), *extra]) == 0
            out = capsys.readouterr().out
            assert host not in out and "smtp_hello" not in out
            outputs.append(out)
    assert outputs[:3] == outputs[3:]
