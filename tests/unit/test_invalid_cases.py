"""Golden cases, Flux-style: each folder of tests/data/invalid/ is a small spec repo and its
expected.txt holds the exact lines `notify-reconciler validate` prints for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
INVALID = sorted(p for p in (DATA / "invalid").iterdir() if p.is_dir())
VALID = sorted(p for p in (DATA / "valid").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", INVALID, ids=[p.name for p in INVALID])
def test_invalid_case_prints_exactly_the_expected_lines(case, capsys, monkeypatch):
    monkeypatch.chdir(case)
    assert main(["validate", "."]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == (case / "expected.txt").read_text().splitlines()
    assert captured.out == ""


@pytest.mark.parametrize("case", VALID, ids=[p.name for p in VALID])
def test_valid_case_passes(case, capsys):
    assert main(["validate", str(case)]) == 0
    assert capsys.readouterr().err == ""


def test_every_invalid_case_has_a_non_empty_expectation():
    assert len(INVALID) >= 20
    for case in INVALID:
        assert (case / "expected.txt").read_text().strip(), case.name
