"""source.verify: only commits signed by an allowed SSH key are applied (real keys, real git)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reconciler.cli import main

from .gitrepo import GitRepo, recipient_list, server
from .services import require_binary


def make_key(folder: Path, name: str) -> Path:
    key = folder / name
    subprocess.run([require_binary("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                   check=True, capture_output=True, timeout=60)
    return key


def signed_commit(repo: GitRepo, key: Path, message: str, **files: str) -> None:
    for name, text in files.items():
        repo.write(name, text)
    repo.git("add", "-A")
    repo.git("-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "commit", "-q", "-S", "-m", message)


@pytest.fixture
def signed(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    trusted, stranger = make_key(keys, "trusted"), make_key(keys, "stranger")
    allowed = tmp_path / "allowed_signers"
    # The committer of GitRepo's commits is author@example.com.
    allowed.write_text(f"author@example.com {Path(str(trusted) + '.pub').read_text().strip()}\n")
    repo = GitRepo(tmp_path / "repo")
    output = tmp_path / "alertmanager.yml"
    config = tmp_path / "config.yaml"
    config.write_text(f"source:\n  repo: {repo.path}\n  verify: {{allowedSignersFile: allowed_signers}}\n"
                      f"target: {{output: {output}, alertmanagers: []}}\nstateDir: {tmp_path / 'state'}\n")
    return repo, trusted, stranger, output, str(config)


def test_only_commits_signed_by_an_allowed_key_are_applied(signed, capsys):
    repo, trusted, stranger, output, config = signed
    signed_commit(repo, trusted, "signed specs", **{"s.yaml": server(), "o.yaml": recipient_list("ops", ["o@example.com"])})
    assert main(["apply", "--config", config]) == 0
    good = output.read_bytes()

    repo.commit("unsigned change", **{"o.yaml": recipient_list("ops", ["someone@example.com"])})
    capsys.readouterr()
    assert main(["apply", "--config", config]) == 1
    err = capsys.readouterr().err
    assert "is not signed: source.verify accepts only signed commits" in err
    assert output.read_bytes() == good

    signed_commit(repo, stranger, "signed by a stranger", **{"o.yaml": recipient_list("ops", ["x@example.com"])})
    assert main(["apply", "--config", config]) == 1
    err = capsys.readouterr().err
    assert "is not signed by an allowed key" in err and "allowed_signers" in err
    assert output.read_bytes() == good

    signed_commit(repo, trusted, "signed again", **{"o.yaml": recipient_list("ops", ["y@example.com"])})
    assert main(["apply", "--config", config]) == 0
    assert b"y@example.com" in output.read_bytes()


def test_missing_allowed_signers_file_trusts_nothing(signed, capsys):
    repo, trusted, _, output, config = signed
    signed_commit(repo, trusted, "signed", **{"s.yaml": server()})
    Path(config).with_name("allowed_signers").unlink()
    assert main(["apply", "--config", config]) == 1
    assert "does not exist: no commit can be trusted" in capsys.readouterr().err
    assert not output.exists()
