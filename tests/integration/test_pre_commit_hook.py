"""The pre-commit hook this repository ships (.pre-commit-hooks.yaml), run by the real
`pre-commit` program (from PyPI, a test dependency) on real `git commit`s of a throwaway config
repo: a good commit passes, a bad one is stopped with the located error, and a commit that
leaves the spec folder as it was is answered from validate's cache.

Offline: pre-commit would clone this repository and pip-install it with its dependencies from
the package index. The test takes the hook as shipped (id, name, args, pass_filenames,
always_run, ...) into a `repo: local` hook with `language: system` whose entry is this
checkout's console script, which is what the README tells users without the index to do."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.support.gitrepo import recipient_list, server
from tests.support.services import require_binary


ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "notify-reconciler"


def shipped_hook(hook_id: str) -> dict:
    hooks = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text())
    return next(hook for hook in hooks if hook["id"] == hook_id)


def local_config(spec_folder: str) -> str:
    """.pre-commit-config.yaml running the shipped `validate` hook from this checkout."""
    hook = dict(shipped_hook("validate"))
    command, *rest = hook["entry"].split()
    assert command == "notify-reconciler"
    hook.update(entry=" ".join([str(SCRIPT), *rest]), language="system", args=[spec_folder])
    hook.pop("minimum_pre_commit_version", None)  # a key of the manifest, not of a local hook
    config = {"repos": [{"repo": "local", "hooks": [hook]}]}
    out = io.StringIO()
    YAML().dump(config, out)
    return out.getvalue()


def cache_state(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every file of the cache folder: (inode, size, modification time). An entry written again
    is a new file (cache.DiskCache.put replaces it), so an unchanged state means nothing was."""
    return {str(path.relative_to(folder)): (path.stat().st_ino, path.stat().st_size, path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


def pre_commit_program() -> str:
    """The pre-commit of this environment (the test extras install it), else one on PATH."""
    beside = Path(sys.executable).parent / "pre-commit"
    return str(beside) if beside.exists() else require_binary("pre-commit")


@pytest.fixture
def config_repo(tmp_path):
    pre_commit = pre_commit_program()
    env = {**os.environ, "HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
           "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "author@example.com"}
    (tmp_path / "home").mkdir()
    repo = tmp_path / "config"
    repo.mkdir()

    def run(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=120)

    assert run("git", "init", "-q", "-b", "main").returncode == 0
    (repo / ".pre-commit-config.yaml").write_text(local_config("specs"))
    installed = run(pre_commit, "install")
    assert installed.returncode == 0, installed.stderr
    return repo, run, tmp_path / "cache" / "notify-reconciler"


def commit(run, message: str) -> tuple[int, str]:
    """(git commit's exit status, what it and the hook printed: git passes the hook's output on
    to stderr)."""
    run("git", "add", "-A")
    done = run("git", "commit", "-q", "-m", message)
    return done.returncode, done.stdout + done.stderr


def test_the_shipped_hook_passes_a_good_commit_stops_a_bad_one_and_answers_an_unchanged_folder_from_the_cache(
        config_repo):
    repo, run, cache = config_repo
    specs = repo / "specs"
    specs.mkdir()
    (specs / "server.yaml").write_text(server(host="smtp.example.com", port=587))
    (specs / "ops.yaml").write_text(recipient_list("ops", ["ops@example.com"]))
    (repo / "README.md").write_text("Our alert mail.\n")

    # 1. A good commit: the hook runs validate on the spec folder, which passes.
    status, said = commit(run, "specs")
    assert status == 0, said
    assert "notify-reconciler validate" in said and "Passed" in said
    assert run("git", "log", "--format=%s").stdout.split() == ["specs"]

    # 2. A commit that leaves the spec folder as it was: validate runs (always_run), and its
    #    answer comes from the cache the first run left: nothing is parsed, nothing written.
    before = cache_state(cache)
    assert before, "the first run left nothing in the cache"
    (repo / "README.md").write_text("Our alert mail, from git.\n")
    status, said = commit(run, "readme")
    assert status == 0 and "Passed" in said, said
    assert cache_state(cache) == before

    # 3. A bad commit is stopped, with the error located in the file, line, column and field.
    (specs / "ops.yaml").write_text(recipient_list("ops", ["ops@@example"]))
    status, said = commit(run, "a typo")
    assert status != 0 and "Failed" in said, said
    assert "specs/ops.yaml:7:7: spec.recipients[0]: 'ops@@example' is not an e-mail address" in said
    assert run("git", "log", "--format=%s").stdout.split() == ["readme", "specs"]

    # ... and a spec deleted (no spec file staged at all) is checked too: e-mail would go quiet.
    (specs / "ops.yaml").write_text(recipient_list("ops", ["ops@example.com"]))
    (specs / "ops.yaml").unlink()
    status, said = commit(run, "delete the only list")
    assert status != 0
    assert "specs/server.yaml:1:1: kind: EmailServer 'smtp' has e-mail enabled but there is no RecipientList" \
        in said, said


def test_the_shipped_manifest_is_one_pre_commit_accepts():
    checked = subprocess.run([pre_commit_program(), "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    hook = shipped_hook("validate")
    assert hook["entry"] == "notify-reconciler validate" and hook["pass_filenames"] is False
    assert hook["always_run"] is True and hook["language"] == "python"


def test_a_hook_example_in_the_docs_is_the_shipped_one():
    readme = (ROOT / "docs" / "pre-commit.md").read_text()
    assert "id: validate" in readme and ".pre-commit-hooks.yaml" in readme
    assert f"entry: {shipped_hook('validate')['entry']}" in readme
