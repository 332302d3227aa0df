"""After a restart, the committed specs come from the parse cache on disk: unchanged files
are neither read from git nor parsed again, a changed or damaged one is, and the specs are
the same as a cold read's."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import pipeline
from reconciler.cache import DiskCache, PersistentParseCache
from reconciler.source import GitSource, committed_specs
from tests.integration.gitrepo import GitRepo

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config-repo"


@pytest.fixture
def repo(tmp_path) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("example", **{path.name: path.read_text() for path in EXAMPLE.glob("*.yaml")})
    return repo


def restarted(repo: GitRepo, tmp_path: Path):
    """One pass as a freshly started daemon makes it: a new source, a new cache on the same disk."""
    source = GitSource(str(repo.path), "main", ".", tmp_path / "state")
    try:
        return committed_specs(source, None, cache=PersistentParseCache(DiskCache(tmp_path / "state" / "cache")))
    finally:
        source.close()


def test_a_restart_reads_and_parses_only_what_changed(repo, tmp_path, monkeypatch):
    cold = restarted(repo, tmp_path)
    parsed: list[str] = []
    real_parse = pipeline._parse_file
    monkeypatch.setattr(pipeline, "_parse_file", lambda name, *rest: parsed.append(name) or real_parse(name, *rest))
    read = []
    real_read = GitSource._read
    monkeypatch.setattr(GitSource, "_read", lambda self, *args: read.append(real_read(self, *args)) or read[-1])

    assert restarted(repo, tmp_path).specs == cold.specs
    assert parsed == [] and read[-1].files == {}

    team = (repo.path / "team-db.yaml").read_text().replace("@example.com", ".x@example.com", 1)
    repo.commit("one list", **{"team-db.yaml": team})
    changed = restarted(repo, tmp_path)
    assert parsed == ["team-db.yaml"] and set(read[-1].files) == {"team-db.yaml"}
    assert changed.specs != cold.specs


def test_a_damaged_entry_is_read_from_git_and_parsed_again(repo, tmp_path, monkeypatch):
    cold = restarted(repo, tmp_path)
    for entry in (tmp_path / "state" / "cache").rglob("*"):
        if entry.is_file():
            entry.write_bytes(entry.read_bytes()[:10])
    assert restarted(repo, tmp_path).specs == cold.specs
