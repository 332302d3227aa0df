"""`notify-reconciler render` end to end through `main`: what reaches the user."""

from __future__ import annotations

import socket
from pathlib import Path

from reconciler.cli.main import main

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


def test_diff_against_a_render_made_on_another_machine_is_no_change(tmp_path, monkeypatch, capsys):
    output = tmp_path / "alertmanager.yml"
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {tmp_path}}}\ntarget: {{output: {output}, base: {EXAMPLE_BASE}, "
                      f"alertmanagers: []}}\nstateDir: {tmp_path / 'state'}\n")
    monkeypatch.setattr(socket, "gethostname", lambda: "ci-runner-7")
    assert main(["render", str(EXAMPLE), "--base", str(EXAMPLE_BASE), "-o", str(output)]) == 0
    monkeypatch.setattr(socket, "gethostname", lambda: "alice-laptop")
    capsys.readouterr()
    assert main(["diff", str(EXAMPLE), "--config", str(config)]) == 0
    assert capsys.readouterr().out == ""
