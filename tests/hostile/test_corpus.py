"""The corpus of bad config repos, committed for real.

Each folder of tests/data/invalid/ is committed into a throwaway git repository on top of a
good first commit, and one reconcile pass runs the way the product runs it (`apply --config`
against that repository). The pass must reject the commit: exit status 1, stderr naming the
commit and then exactly the located lines of the case's expected.txt (the same lines
`validate` prints for the folder on disk, paths relative to the spec folder), and the live
file still holding the first commit's render, byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli.main import main

from tests.support.gitrepo import GitRepo

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "examples" / "config-repo"
INVALID = sorted(p for p in (ROOT / "tests" / "data" / "invalid").iterdir() if p.is_dir())


def case_files(case: Path) -> list[Path]:
    """The case's spec folder as committed: every file but expected.txt, relative to the case."""
    return sorted(p.relative_to(case) for p in case.rglob("*") if p.name != "expected.txt" and not p.is_dir())


def test_every_case_can_be_committed_as_it_is():
    # git stores any bytes (not-utf8 cases included) but a symlink or a FIFO would be committed
    # as something else than `validate` reads on disk: such a case needs its own test here.
    assert INVALID
    for case in INVALID:
        for name in case_files(case):
            assert (case / name).is_file() and not (case / name).is_symlink(), f"{case.name}/{name}"


@pytest.fixture
def applied(tmp_path, capsys):
    """A repository whose first commit (the example specs) is applied; the first good render."""
    repo = GitRepo(tmp_path / "config-repo")
    for path in GOOD.iterdir():
        repo.write(path.name, path.read_bytes())
    repo.commit("good specs")
    output = tmp_path / "alertmanager.yml"
    config = tmp_path / "config.yaml"
    config.write_text(f"source:\n  repo: {repo.path}\n  branch: main\n"
                      f"target:\n  output: {output}\n  alertmanagers: []\n"
                      f"stateDir: {tmp_path / 'state'}\n")
    assert main(["apply", "--config", str(config)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    return repo, str(config), output, output.read_bytes()


@pytest.mark.parametrize("case", INVALID, ids=[p.name for p in INVALID])
def test_committed_bad_repo_is_rejected_where_written_and_keeps_the_good_render(case, applied, capsys):
    repo, config, output, good = applied
    repo.git("rm", "-r", "-q", ".")
    for name in case_files(case):
        repo.write(str(name), (case / name).read_bytes())
    sha = repo.commit(f"case {case.name}")
    assert repo.git("ls-files").splitlines() == [str(name) for name in case_files(case)]
    # Only committed content is applied, so the work tree can go. That leaves the test password
    # of plaintext-password only in git's compressed objects, where the secret audit does not
    # look: a copy of it in the state, the output or stderr would then fail the run.
    for name in case_files(case):
        (repo.path / name).unlink()
    expected = (case / "expected.txt").read_text(encoding="utf-8").splitlines()

    status = main(["apply", "--config", config])
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert lines[1:] == expected
    assert lines[0].startswith(sha[:7]) and lines[0].endswith(f" rejected: {len(expected)} error(s) in the specs")
    assert captured.out == ""
    assert status == 1
    assert output.read_bytes() == good


def test_the_first_good_commit_renders_something_to_keep(applied):
    _, _, _, good = applied
    assert b"notify-reconciler/" in good and b"smtp_smarthost" in good
