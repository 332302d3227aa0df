"""Golden cases, Flux-style: each folder of tests/data/invalid/ is a small spec folder and its
expected.txt holds the exact stderr lines `notify-reconciler validate <folder>` prints, with
paths relative to the folder. Each folder of tests/data/valid/ must validate cleanly.

To add a case: make the folder, run `notify-reconciler validate` on it, read every line
critically (right line:col? does the message say what to change?), then save it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.cli.main import main

DATA = Path(__file__).resolve().parents[1] / "data"
INVALID = sorted(p for p in (DATA / "invalid").iterdir() if p.is_dir())
VALID = sorted(p for p in (DATA / "valid").iterdir() if p.is_dir())
LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>[1-9][0-9]*):(?P<column>[1-9][0-9]*): (?P<rest>.+)$")

REQUIRED_INVALID = {
    "plaintext-password", "ssl-on-587", "ssl-with-starttls", "port-465-without-ssl", "bad-address",
    "fifty-one-recipients", "duplicate-recipient-case", "unknown-field", "missing-host", "unknown-kind",
    "unknown-api-version", "two-servers", "two-policies", "duplicate-name", "list-without-server", "bad-durations",
    "zero-repeat-interval", "bad-matchers", "header-injection", "bad-name", "many-errors-many-files",
    "password-without-username", "yaml-syntax-error", "python-tag", "duplicate-key", "not-utf8", "merge-key",
    "no-recipients", "recipient-without-email", "kind-not-text", "port-not-integer", "several-unknown-fields",
    "bool-not-true-or-false", "not-utf8-after-bom", "server-typo-is-not-a-missing-server", "duration-out-of-range",
    "tab-indent", "wrong-indentation", "group-by-wildcard-and-labels", "list-named-discard", "server-without-lists",
    "kubernetes-metadata", "missing-api-version", "address-net-mail-rules", "yaml-1.1-line-breaks", "host-with-port",
    "password-pasted-into-password-file", "spec-in-a-file-not-read",
    "duplicate-recipient-through-alias", "empty-server-spec",
    "group-by-empty",
    "time-window-bad-ranges", "time-window-bad-location", "unknown-time-window", "time-window-without-location",
    "subject-control-characters", "time-window-never-holds", "subject-too-long",
}
REQUIRED_VALID = {"minimal", "everything", "disabled", "subfolders", "time-windows"}


def expected_lines(case: Path) -> list[str]:
    return (case / "expected.txt").read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("case", INVALID, ids=[p.name for p in INVALID])
def test_invalid_spec_folder_prints_exactly_the_expected_lines(case, capsys, monkeypatch):
    monkeypatch.chdir(case)  # run inside the folder: files are named as in expected.txt
    status = main(["validate"])
    captured = capsys.readouterr()
    assert captured.err.splitlines() == expected_lines(case)
    assert status == 1
    assert captured.out == ""


@pytest.mark.parametrize("case", VALID, ids=[p.name for p in VALID])
def test_valid_spec_folder_exits_0_without_errors(case, capsys):
    status = main(["validate", str(case)])
    captured = capsys.readouterr()
    # Warnings (valid but often a surprise) may be said; errors may not.
    assert all(": warning: " in line for line in captured.err.splitlines()), captured.err
    assert status == 0
    assert captured.out.startswith(f"{case}: valid: ")


def test_the_golden_cases_cover_every_rule_the_spec_names():
    assert REQUIRED_INVALID <= {case.name for case in INVALID}
    assert REQUIRED_VALID <= {case.name for case in VALID}


@pytest.mark.parametrize("case", INVALID, ids=[p.name for p in INVALID])
def test_every_expected_line_is_located_in_a_file_of_its_folder_and_sorted(case):
    lines = expected_lines(case)
    assert lines, "an invalid case must expect at least one error"
    keys = []
    for line in lines:
        parsed = LINE.match(line)
        assert parsed, f"not file:line:col: ...: {line}"
        assert (case / parsed["file"]).is_file(), f"{parsed['file']} is not a file of {case.name}"
        assert not parsed["file"].startswith(".")
        keys.append((parsed["file"], int(parsed["line"]), int(parsed["column"])))
    assert keys == sorted(keys)
