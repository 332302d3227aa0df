"""After a restart, the committed specs come from the parse cache on disk: unchanged files
are neither read from git nor parsed again, a changed or damaged one is, and the specs are
the same as a cold read's. The rendered lists and what amtool accepted are on disk too: a
restarted process renders, and has amtool check, only the lists that changed, unless the
record is damaged or another amtool is installed, and a refusal is never recorded as
accepted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.specs import pipeline
from reconciler.core import render
from reconciler.io.cache import DiskCache, PersistentParseCache
from reconciler.cli.main import main
from reconciler.specs.pipeline import parse_specs
from reconciler.io.git_source import GitSource, committed_specs

from tests.support.gitrepo import GitRepo, recipient_list
from tests.support.services import require_binary

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


# -- what amtool accepted, across restarts -----------------------------------------------------

REFUSED_ADDRESS = "refused-by-amtool@example.com"


@pytest.fixture
def amtool_log(tmp_path, monkeypatch) -> Path:
    """The real amtool behind a wrapper on PATH that keeps a copy of each config it is given.
    It also refuses any config naming REFUSED_ADDRESS, as amtool refuses a list it finds
    wrong: a list our schema takes is one amtool accepts, so a refusal has to be made up."""
    real = require_binary("amtool")
    log = tmp_path / "amtool-given"
    log.mkdir()
    wrapper = tmp_path / "bin" / "amtool"
    wrapper.parent.mkdir()
    wrapper.write_text(f"""#!/bin/sh
n=$(ls '{log}' | wc -l)
cp "$2" '{log}'/$(printf %03d "$n").yml
if grep -q '{REFUSED_ADDRESS}' "$2"; then
  echo "Checking '$2'  FAILED: made up by the test: {REFUSED_ADDRESS} is refused"
  exit 1
fi
exec '{real}' "$@"
""")
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    return log


def given(log: Path) -> list[str]:
    """The configs amtool was given since the last call, in order."""
    texts = [path.read_text() for path in sorted(log.iterdir())]
    for path in log.iterdir():
        path.unlink()
    return texts


@pytest.fixture
def lists_repo(tmp_path) -> GitRepo:
    repo = GitRepo(tmp_path / "lists")
    repo.commit("lists", **{path.name: path.read_text() for path in EXAMPLE.glob("*.yaml")},
                **{f"team-{n}.yaml": recipient_list(f"team-{n}", [f"on-call@team-{n}.example.com"])
                   for n in range(5)})
    return repo


def apply_config(tmp_path: Path, repo: GitRepo) -> str:
    config = tmp_path / "config.yaml"
    config.write_text(f"source:\n  repo: {repo.path}\n  branch: main\n"
                      f"target:\n  output: {tmp_path / 'alertmanager.yml'}\n  alertmanagers: []\n"
                      f"stateDir: {tmp_path / 'state'}\n")
    return str(config)


def apply(config: str, capsys) -> tuple[int, str]:
    """`notify-reconciler apply`: a new process as far as the caches go (they start from disk)."""
    status = main(["apply", "--config", config])
    out, err = capsys.readouterr()
    return status, out + err


def test_a_restarted_process_renders_and_has_amtool_check_only_the_changed_list(lists_repo, tmp_path, amtool_log,
                                                                                capsys, monkeypatch):
    rendered: list[str] = []
    real_receiver = render._receiver
    monkeypatch.setattr(render, "_receiver", lambda recipient_list, *rest: rendered.append(recipient_list.name)
                        or real_receiver(recipient_list, *rest))
    config = apply_config(tmp_path, lists_repo)
    assert apply(config, capsys)[0] == 0
    [whole] = given(amtool_log)
    assert whole == (tmp_path / "alertmanager.yml").read_text()
    assert len(rendered) == 7

    lists_repo.commit("one list", **{"team-3.yaml": recipient_list("team-3", ["new@team-3.example.com"])})
    rendered.clear()
    assert apply(config, capsys)[0] == 0
    assert rendered == ["team-3"]
    monkeypatch.setattr(render, "_receiver", real_receiver)
    assert (tmp_path / "alertmanager.yml").read_text() == render.render_config(
        parse_specs({path.name: path.read_bytes() for path in lists_repo.path.glob("*.yaml")})).text
    [part] = given(amtool_log)
    assert "new@team-3.example.com" in part and "receiver: notify-reconciler/team-3" in part
    for other in ("team-0", "team-4", "db-oncall", "platform-oncall"):
        assert f"notify-reconciler/{other}" not in part  # checked before, by the first process
    assert "smtp_smarthost" in part  # in the skeleton they were accepted in
    assert "new@team-3.example.com" in (tmp_path / "alertmanager.yml").read_text()


@pytest.mark.parametrize("how", ["damaged", "another amtool"])
def test_a_damaged_record_or_another_amtool_has_the_whole_config_checked(lists_repo, tmp_path, amtool_log, capsys,
                                                                          how):
    config = apply_config(tmp_path, lists_repo)
    assert apply(config, capsys)[0] == 0
    given(amtool_log)
    if how == "damaged":  # every entry: the parse cache's are parsed again, the record is ignored
        for entry in (tmp_path / "state" / "cache").rglob("*"):
            if entry.is_file():
                entry.write_bytes(entry.read_bytes()[:-3])
    else:  # an upgrade: another modification time
        wrapper = tmp_path / "bin" / "amtool"
        info = wrapper.stat()
        os.utime(wrapper, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))

    lists_repo.commit("one list", **{"team-3.yaml": recipient_list("team-3", ["new@team-3.example.com"])})
    assert apply(config, capsys)[0] == 0
    [whole] = given(amtool_log)
    assert whole == (tmp_path / "alertmanager.yml").read_text()


def test_a_refused_list_is_refused_again_after_a_restart(lists_repo, tmp_path, amtool_log, capsys):
    config = apply_config(tmp_path, lists_repo)
    assert apply(config, capsys)[0] == 0
    accepted = (tmp_path / "alertmanager.yml").read_bytes()
    given(amtool_log)

    lists_repo.commit("a list amtool refuses", **{"team-3.yaml": recipient_list("team-3", [REFUSED_ADDRESS])})
    for attempt in range(2):  # the second as a restarted process would make it: the refusal was not recorded
        status, output = apply(config, capsys)
        assert status != 0 and "amtool check-config refused the rendered config" in output
        part, whole = given(amtool_log)  # the new list alone, then the whole file for the refusal's lines
        assert "notify-reconciler/team-0" not in part and REFUSED_ADDRESS in part
        assert "notify-reconciler/team-0" in whole and REFUSED_ADDRESS in whole
        assert (tmp_path / "alertmanager.yml").read_bytes() == accepted
