"""A commit cannot make a pass read more than the limits allow: the sizes come from git's
object headers (`git ls-tree -l`) before anything is read, and a commit over a limit is
rejected like an invalid one, the last good config staying live (issue 25, medium 3)."""

from __future__ import annotations

import subprocess

import pytest

from reconciler.cli.main import main

from tests.support.gitrepo import GitRepo, recipient_list, server


@pytest.fixture
def applied(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("good", **{"s.yaml": server(), "o.yaml": recipient_list("ops", ["o@example.com"])})
    output, config = tmp_path / "alertmanager.yml", tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {repo.path}}}\ntarget: {{output: {output}, alertmanagers: []}}\n"
                      f"stateDir: {tmp_path / 'state'}\n")
    assert main(["apply", "--config", str(config)]) == 0
    return repo, output, str(config)


def add_blob(repo: GitRepo, path: str, size: int, byte: bytes = b"\0") -> None:
    """A blob of `size` bytes added to the index without a file in the work tree (git
    compresses a run of one byte to almost nothing)."""
    oid = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo.path, input=byte * size,
                         capture_output=True, check=True).stdout.decode().strip()
    repo.git("update-index", "--add", "--cacheinfo", f"100644,{oid},{path}")


def commit_index(repo: GitRepo, message: str) -> str:
    repo.git("commit", "-q", "-m", message)
    return repo.head()


def test_a_huge_blob_is_refused_from_its_header_alone(applied, capsys):
    repo, output, config = applied
    live = output.read_bytes()
    add_blob(repo, "notes.bin", 64 * 1024 * 1024)  # 64 MiB, about 64 KB packed (bench/hostile_tree.py: 400 MB)
    sha = commit_index(repo, "a huge file")
    capsys.readouterr()
    assert main(["apply", "--config", config]) == 1
    err = capsys.readouterr().err
    assert f"{sha[:7]} 'a huge file' rejected" in err
    assert "the spec folder's files are more than the 16,777,216 bytes in all a commit's may have" in err
    assert output.read_bytes() == live


def test_many_unreferenced_files_are_refused(applied, capsys):
    repo, output, config = applied
    live = output.read_bytes()
    oid = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo.path, input=b"x\n",
                         capture_output=True, check=True).stdout.decode().strip()
    index = "".join(f"100644 {oid}\tjunk/{i}.txt\n" for i in range(5_001))
    subprocess.run(["git", "update-index", "--index-info"], cwd=repo.path, input=index.encode(), check=True)
    commit_index(repo, "many files")
    capsys.readouterr()
    assert main(["apply", "--config", config]) == 1
    assert "the spec folder holds more than the 5,000 files a commit's may have" in capsys.readouterr().err
    assert output.read_bytes() == live


def test_too_many_spec_bytes_in_all_are_refused_though_each_file_is_allowed(applied, capsys):
    repo, output, config = applied
    live = output.read_bytes()
    for i in range(5):  # each under the 1 MiB a file may have, 5 MB together
        add_blob(repo, f"big{i}.yaml", 1_000_000, b"#")
    commit_index(repo, "large specs")
    capsys.readouterr()
    assert main(["apply", "--config", config]) == 1
    assert "the spec and template files are more than the 4,194,304 bytes in all" in capsys.readouterr().err
    assert output.read_bytes() == live


def test_a_large_file_that_is_not_a_spec_is_not_read_but_allowed(applied, capsys):
    """A 2 MB picture beside the specs (under the folder limits) is neither read nor refused."""
    repo, output, config = applied
    add_blob(repo, "diagram.png", 2 * 1024 * 1024, b"\x89")
    repo.commit("a picture", **{"o.yaml": recipient_list("ops", ["p@example.com"])})
    assert main(["apply", "--config", config]) == 0
    assert b"p@example.com" in output.read_bytes()


def test_five_links_to_one_large_file_count_five_times(applied, capsys):
    """A symlink is read as its target: links cannot multiply what the limits allow."""
    repo, output, config = applied
    live = output.read_bytes()
    add_blob(repo, "big.txt", 1_000_000, b"#")
    for i in range(5):
        oid = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo.path, input=b"big.txt",
                             capture_output=True, check=True).stdout.decode().strip()
        repo.git("update-index", "--add", "--cacheinfo", f"120000,{oid},s{i}.yaml")
    commit_index(repo, "links")
    capsys.readouterr()
    assert main(["apply", "--config", config]) == 1
    assert "(each symlink counts its target again)" in capsys.readouterr().err
    assert output.read_bytes() == live


def test_submodule_entries_count_as_files(applied, capsys):
    repo, output, config = applied
    head = repo.head()
    index = "".join(f"160000 {head}\tmods/m{i}\n" for i in range(5_001))
    subprocess.run(["git", "update-index", "--index-info"], cwd=repo.path, input=index.encode(), check=True)
    commit_index(repo, "gitlinks")
    capsys.readouterr()
    assert main(["apply", "--config", config]) == 1
    assert "the spec folder holds more than the 5,000 files" in capsys.readouterr().err


@pytest.mark.parametrize("name, words", [
    (b"ops\xff.yaml", "the file name 'ops\\udcff.yaml' is not UTF-8"),
    (b"x.yaml\napplied 0000000 'all fine': nothing to do", "holds a control character"),
    (b"ops\x1b[2J.yaml", "holds a control character"),
])
def test_a_file_name_that_is_not_utf8_or_holds_a_control_character_is_refused(applied, capsys, name, words):
    """Such a name would reach status, the log and the mail: a line break in it would print
    a line that looks like the tool's own, and bytes that are not UTF-8 cannot be mailed."""
    repo, output, config = applied
    oid = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo.path, input=b"# x\n",
                         capture_output=True, check=True).stdout.decode().strip()
    subprocess.run(["git", "update-index", "-z", "--index-info"], cwd=repo.path,
                   input=b"100644 " + oid.encode() + b"\t" + name + b"\0", check=True)
    commit_index(repo, "odd name")
    capsys.readouterr()
    assert main(["apply", "--config", config]) == 1
    err = capsys.readouterr().err
    assert words in err
    assert "\napplied 0000000" not in err


def test_a_commit_with_a_huge_message_is_refused_unread(applied, capsys, tmp_path):
    repo, output, config = applied
    live = output.read_bytes()
    message = tmp_path / "message"
    message.write_bytes(b"subject\n\n" + b"a" * (2 * 1024 * 1024))
    repo.git("commit", "-q", "--allow-empty", "-F", str(message))
    capsys.readouterr()
    assert main(["apply", "--config", config]) == 1
    err = capsys.readouterr().err
    assert "the commit object is 2,097," in err and "more than the 1,048,576 a commit may have" in err
    assert output.read_bytes() == live
