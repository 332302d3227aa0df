"""source: the committed specs of a branch, from real git repositories."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from reconciler.errors import SourceError
from reconciler.io.git_source import GitSource, is_remote

from tests.support.gitrepo import GitRepo, recipient_list, server


@pytest.fixture
def repo(tmp_path):
    repo = GitRepo(tmp_path / "config")
    repo.commit("first specs", **{"server.yaml": server(), "ops.yaml": recipient_list("ops", ["a@example.com"])})
    return repo


def read(source: GitSource):
    source.fetch()
    revision = source.head()
    return revision, source.read(revision)


def test_reads_the_committed_tree_not_the_working_tree(repo, tmp_path):
    repo.write("ops.yaml", "half-written: [")
    repo.write("untracked.yaml", recipient_list("new", ["n@example.com"]))
    revision, tree = read(GitSource(str(repo.path), "main", ".", tmp_path / "state"))
    assert revision.sha == repo.head() and revision.subject == "first specs"
    assert revision.author == "Test Author"
    assert sorted(tree.files) == ["ops.yaml", "server.yaml"]
    assert tree.files["ops.yaml"].decode() == recipient_list("ops", ["a@example.com"])


def test_reads_only_the_configured_folder_and_skips_hidden_and_other_files(repo, tmp_path):
    repo.commit("move", **{"notify__team.yaml": recipient_list("team", ["t@example.com"]),
                           "notify__.hidden__x.yaml": "x", "notify__README.md": "# hi",
                           "notify__sub__more.yml": recipient_list("more", ["m@example.com"])})
    _, tree = read(GitSource(str(repo.path), "main", "notify", tmp_path / "state"))
    assert sorted(tree.files) == ["sub/more.yml", "team.yaml"]


def test_missing_folder_is_a_source_error(repo, tmp_path):
    with pytest.raises(SourceError, match="no folder 'nope'"):
        read(GitSource(str(repo.path), "main", "nope", tmp_path / "state"))


def test_missing_branch_is_a_source_error(repo, tmp_path):
    with pytest.raises(SourceError, match="no branch 'prod'"):
        read(GitSource(str(repo.path), "prod", ".", tmp_path / "state"))


def test_not_a_repository_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="not a git repository"):
        read(GitSource(str(tmp_path), "main", ".", tmp_path / "state"))


def test_url_is_cloned_into_the_state_dir_and_fetched_after(repo, tmp_path):
    state = tmp_path / "state"
    source = GitSource(f"file://{repo.path}", "main", ".", state)
    first, _ = read(source)
    assert list((state / "source").iterdir())
    second_sha = repo.commit("add db", **{"db.yaml": recipient_list("db", ["d@example.com"])})
    second, tree = read(source)
    assert (first.sha, second.sha) == (repo.git("rev-parse", "HEAD~1"), second_sha)
    assert "db.yaml" in tree.files


def test_force_pushed_branch_is_followed(repo, tmp_path):
    source = GitSource(f"file://{repo.path}", "main", ".", tmp_path / "state")
    repo.commit("to be rewritten", **{"db.yaml": recipient_list("db", ["d@example.com"])})
    read(source)
    repo.git("reset", "-q", "--hard", "HEAD~1")
    rewritten = repo.commit("rewritten", **{"web.yaml": recipient_list("web", ["w@example.com"])})
    revision, tree = read(source)
    assert revision.sha == rewritten
    assert "db.yaml" not in tree.files and "web.yaml" in tree.files


def test_deleted_remote_branch_is_a_clear_error(repo, tmp_path):
    repo.git("checkout", "-q", "-b", "prod")
    source = GitSource(f"file://{repo.path}", "prod", ".", tmp_path / "state")
    read(source)
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-q", "-D", "prod")
    with pytest.raises(SourceError, match="couldn't find remote ref refs/heads/prod"):
        source.fetch()


def test_unreachable_remote_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="does not appear to be a git repository"):
        GitSource(f"file://{tmp_path}/missing", "main", ".", tmp_path / "state").fetch()


def test_corrupt_clone_is_started_afresh(repo, tmp_path):
    state = tmp_path / "state"
    read(GitSource(f"file://{repo.path}", "main", ".", state))
    clone = next((state / "source").iterdir())
    shutil.rmtree(clone / "objects")
    (clone / "HEAD").write_text("garbage")
    revision, tree = read(GitSource(f"file://{repo.path}", "main", ".", state))
    assert revision.sha == repo.head() and "ops.yaml" in tree.files


def test_url_credentials_never_appear_in_errors(tmp_path):
    with pytest.raises(SourceError) as caught:
        GitSource(f"file://user:hunter2@{tmp_path}/missing", "main", ".", tmp_path / "state").fetch()
    assert "hunter2" not in str(caught.value)


def test_symlink_inside_the_folder_is_followed_outside_is_refused(repo, tmp_path):
    (repo.path / "specs").mkdir()
    (repo.path / "specs" / "real.yaml").write_text(recipient_list("real", ["r@example.com"]))
    (repo.path / "specs" / "inside.yaml").symlink_to("real.yaml")
    (repo.path / "specs" / "outside.yaml").symlink_to("../server.yaml")
    repo.commit("links")
    _, tree = read(GitSource(str(repo.path), "main", "specs", tmp_path / "state"))
    assert tree.files["inside.yaml"] == tree.files["real.yaml"]
    assert "outside.yaml" not in tree.files
    assert [str(e) for e in tree.errors] == [
        "outside.yaml:1:1: symlink to a file outside the spec folder: spec files must live inside it; "
        "copy the file in or remove the link"]


def test_oversized_file_is_not_read_and_its_real_size_is_named(repo, tmp_path):
    from reconciler.yamlio.loader import DEFAULT_LIMITS

    size = 2 + 3 * DEFAULT_LIMITS.max_file_bytes
    repo.commit("huge", **{"huge.yaml": "# " + "x" * (3 * DEFAULT_LIMITS.max_file_bytes)})
    _, tree = read(GitSource(str(repo.path), "main", ".", tmp_path / "state"))
    assert "huge.yaml" not in tree.files and "huge.yaml" not in tree.digests
    assert [str(e) for e in tree.errors] == [f"huge.yaml:1:1: file is {size:,} bytes, more than the 1,048,576 bytes "
                                             "a spec file may have: split it or remove what is not a spec"]


def test_a_template_over_the_size_limit_is_named_with_its_size_not_called_missing(repo, tmp_path, capsys):
    """From disk (validate) and from git (the daemon's committed_specs) alike: the file, its
    size, the limit; not also "there is no template file" for a file that is there."""
    from reconciler.cli.main import main
    from reconciler.errors import CommitRejected
    from reconciler.yamlio.loader import DEFAULT_LIMITS
    from reconciler.io.git_source import committed_specs

    size = DEFAULT_LIMITS.max_file_bytes + 2
    repo.commit("a big body", **{"ops.yaml": recipient_list("ops", ["a@example.com"],
                                                            templates="{html: templates/big.tmpl}"),
                                 "templates__big.tmpl": "x" * (size - 1) + "\n"})
    expected = (f"templates/big.tmpl:1:1: template file is {size:,} bytes, more than the 1,048,576 bytes a template "
                "file may have (Alertmanager would render it for every mail): make it smaller")
    assert main(["validate", str(repo.path), "--no-cache"]) == 1
    assert capsys.readouterr().err == f"{repo.path}/{expected}\n"
    with pytest.raises(CommitRejected) as rejected:
        committed_specs(GitSource(str(repo.path), "main", ".", tmp_path / "state"), None)
    assert rejected.value.problems == (expected,)


@pytest.mark.parametrize("repo_setting, remote", [
    ("/srv/notify-config", False), ("config", False), ("file:///srv/x", True),
    ("https://git.example.com/x.git", True), ("ssh://git@example.com/x.git", True),
    ("git@example.com:team/x.git", True),
])
def test_url_or_local_path(repo_setting, remote):
    assert is_remote(repo_setting) is remote


def test_known_blobs_are_listed_but_not_read_again(repo, tmp_path):
    source = GitSource(str(repo.path), "main", ".", tmp_path / "state")
    revision, first = read(source)
    assert set(first.digests) == {"ops.yaml", "server.yaml"}
    repo.commit("change ops", **{"ops.yaml": recipient_list("ops", ["b@example.com"])})
    revision = source.head()
    second = source.read(revision, known={("server.yaml", first.digests["server.yaml"]),
                                          ("ops.yaml", first.digests["ops.yaml"])})
    assert list(second.files) == ["ops.yaml"]  # changed: read; server.yaml: known, skipped
    assert second.digests["server.yaml"] == first.digests["server.yaml"]
    assert second.digests["ops.yaml"] != first.digests["ops.yaml"]


def test_a_repo_owned_by_another_user_is_read(repo, tmp_path, monkeypatch):
    # git refuses such a repo (safe.directory) unless told to trust it; the daemon runs as its
    # own user and the operator's repo belongs to someone else, as under systemd.
    from tests.support.services import require_root

    require_root("to give the repo to another user")  # fails under CI=true, skips elsewhere
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.gitconfig that trusts every directory
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for path in [repo.path, *repo.path.rglob("*")]:
        os.lchown(path, 65534, 65534)
    refused = subprocess.run(["git", "-C", str(repo.path), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert "dubious ownership" in refused.stderr  # the rule is in force for this process
    revision, tree = read(GitSource(str(repo.path), "main", ".", tmp_path / "state"))
    assert revision.subject == "first specs"
    assert sorted(tree.files) == ["ops.yaml", "server.yaml"]


@pytest.mark.parametrize(("repo_path", "expected"), [
    ("/srv/no-such-notify-config", "does not exist: check source.repo"),
    ("/home/nobody-here/notify-config", "ProtectHome=yes"),
    ("/root/no-such-notify-config", "keep the config repo elsewhere, e.g. /srv/notify-config"),
])
def test_a_missing_local_repo_says_why(repo_path, expected, tmp_path):
    with pytest.raises(SourceError, match=re.escape(expected)):
        read(GitSource(repo_path, "main", ".", tmp_path / "state"))


def test_a_committed_spec_in_a_file_that_is_not_read_is_named_not_skipped(repo, tmp_path):
    """ops.YAML is read; a spec saved as ops.yaml.txt or ops.txt is an error naming the file
    and the line of its apiVersion; a README quoting a spec, and other files, are left alone."""
    repo.commit("odd names", **{"db.YAML": recipient_list("db", ["d@example.com"]),
                                "ops.yaml.txt": "# old\n" + recipient_list("old", ["o@example.com"]),
                                "sub__team.txt": recipient_list("team", ["t@example.com"]),
                                "README.md": "```yaml\n" + recipient_list("example", ["e@example.com"]) + "```\n",
                                "notes.txt": "apiVersion is explained in the README\n"})
    _, tree = read(GitSource(str(repo.path), "main", ".", tmp_path / "state"))
    assert sorted(tree.files) == ["db.YAML", "ops.yaml", "server.yaml"]
    assert [(e.file, e.line, e.column) for e in tree.errors] == [("ops.yaml.txt", 2, 1), ("sub/team.txt", 1, 1)]
    assert all("only files ending in .yaml or .yml are read" in e.message for e in tree.errors)


@pytest.mark.parametrize("remote", [False, True])
def test_a_sha256_repository_is_named_as_such_not_as_a_missing_branch(tmp_path, remote):
    repo = tmp_path / "sha256"
    subprocess.run(["git", "init", "-q", "--object-format=sha256", "-b", "main", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=A", "-c", "user.email=a@example.com", "commit", "-q",
                    "--allow-empty", "-m", "first"], check=True)
    source = GitSource(f"file://{repo}" if remote else str(repo), "main", ".", tmp_path / "state")
    with pytest.raises(SourceError) as caught:
        source.fetch()
        source.head()
    assert "SHA-1 repositories, git's default, are supported" in str(caught.value)
    assert "no branch" not in str(caught.value)
