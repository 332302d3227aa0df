"""source.verify: only commits signed by an allowed SSH key are applied (real keys, real git)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli.main import main

from tests.support.gitrepo import GitRepo, recipient_list, server
from tests.support.services import require_binary


def make_key(folder: Path, name: str) -> Path:
    key = folder / name
    subprocess.run([require_binary("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                   check=True, capture_output=True, timeout=60)
    return key


def signed_commit(repo: GitRepo, key: Path, message: str, **files: str) -> str:
    for name, text in files.items():
        repo.write(name, text)
    repo.git("add", "-A")
    repo.git("-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "commit", "-q", "-S", "-m", message)
    return repo.head()


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
    capsys.readouterr()
    assert main(["apply", "--config", config]) == 0
    good = output.read_bytes()
    # Who signed what runs: the allowed-signers name and the key, in the apply and in status.
    fingerprint = subprocess.run(["ssh-keygen", "-l", "-f", f"{trusted}.pub"], capture_output=True, text=True,
                                 check=True).stdout.split()[1]
    signer = f"signed by author@example.com (ED25519 key {fingerprint})"
    assert signer in capsys.readouterr().out
    main(["status", "--config", config])
    assert f"'signed specs' by Test Author, {signer}, committed" in capsys.readouterr().out

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


def test_openpgp_signature_good_in_the_daemons_own_keyring_is_still_refused(signed, capsys, monkeypatch, tmp_path,
                                                                            request):
    """git picks the verifier from the signature: an OpenPGP one would be checked against the
    daemon user's keyring, not the allowed-signers file. Here that keyring holds the key and
    `git verify-commit` calls the commit good, and the commit is still refused."""
    repo, trusted, _, output, config = signed
    signed_commit(repo, trusted, "signed specs", **{"s.yaml": server(), "o.yaml": recipient_list("ops", ["o@example.com"])})
    assert main(["apply", "--config", config]) == 0
    good = output.read_bytes()

    _openpgp_keyring(tmp_path, request, monkeypatch)
    repo.write("o.yaml", recipient_list("ops", ["mallory@example.com"]))
    repo.git("add", "-A")
    repo.git("-c", "user.signingkey=author@example.com", "commit", "-q", "-S", "-m", "signed with OpenPGP")
    repo.git("verify-commit", "HEAD")  # raises unless git itself calls the signature good

    capsys.readouterr()
    assert main(["apply", "--config", config]) == 1
    err = capsys.readouterr().err
    assert "carries an OpenPGP signature, and source.verify checks SSH signatures only" in err
    assert output.read_bytes() == good


def test_the_repositorys_own_git_config_cannot_swap_the_verifier(signed, capsys, tmp_path):
    """Whoever can write the config repo's .git/config could name a gpg.ssh.program that
    always reports a good signature; the daemon pins ssh-keygen."""
    repo, trusted, stranger, output, config = signed
    signed_commit(repo, trusted, "signed specs", **{"s.yaml": server(), "o.yaml": recipient_list("ops", ["o@example.com"])})
    assert main(["apply", "--config", config]) == 0
    good = output.read_bytes()

    liar = tmp_path / "always-good"
    # It reads what git writes to it first: exiting before that makes git's write fail at random.
    liar.write_text('#!/bin/sh\ncat >/dev/null\n'
                    'echo \'Good "git" signature for author@example.com with ED25519 key SHA256:x\'\n')
    liar.chmod(0o755)
    signed_commit(repo, stranger, "signed by a stranger", **{"o.yaml": recipient_list("ops", ["x@example.com"])})
    repo.git("config", "gpg.ssh.program", str(liar))
    allowed = Path(config).with_name("allowed_signers")
    fooled = subprocess.run(["git", "-c", "gpg.format=ssh", "-c", f"gpg.ssh.allowedSignersFile={allowed}",
                             "verify-commit", "HEAD"], cwd=repo.path, capture_output=True, stdin=subprocess.DEVNULL)
    assert fooled.returncode == 0  # the repository's config fools a plain verify-commit

    capsys.readouterr()
    assert main(["apply", "--config", config]) == 1
    assert "is not signed by an allowed key" in capsys.readouterr().err
    assert output.read_bytes() == good


def test_daemon_mails_config_rejected_for_an_unsigned_commit_to_the_last_good_recipients(signed, tmp_path):
    """Who may change the config, end to end: an unsigned commit that would redirect the mail
    is rejected, the old recipients hear about it (not the new ones), and a signed fix resolves it."""
    from email import message_from_bytes
    from email.policy import default

    from tests.support.services import free_port, wait_until
    from tests.support.smtp import start_smtp_server
    from tests.support.daemon import DaemonProcess

    repo, trusted, _, output, config = signed
    smtp = start_smtp_server()
    config_path = Path(config)
    config_path.write_text(config_path.read_text().replace("source:\n", "source:\n  pollInterval: 1s\n")
                           + f"listen: 127.0.0.1:{free_port()}\n")
    signed_commit(repo, trusted, "signed specs", **{"s.yaml": server(port=smtp.port),
                                                    "o.yaml": recipient_list("ops", ["ops@example.com"])})
    daemon = DaemonProcess(config_path)
    try:
        wait_until(lambda: "event=applied" in daemon.text(), 15, "the first pass")
        good = output.read_bytes()
        unsigned = repo.commit("send it elsewhere", **{"o.yaml": recipient_list("ops", ["attacker@example.net"])})

        firing = smtp.wait_for_alert("ConfigRejected", timeout=30)
        mail = message_from_bytes(firing.content, policy=default)
        assert mail["Subject"].startswith(f"[FIRING] ConfigRejected: {unsigned[:7]}")
        assert firing.recipients == ["ops@example.com"]
        assert "is not signed: source.verify accepts only signed commits" in mail.get_content()
        assert output.read_bytes() == good
        status = subprocess.run([sys.executable, "-m", "reconciler", "status", "--config", config],
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 1 and "ConfigRejected firing" in status.stdout

        fixed = signed_commit(repo, trusted, "signed fix", **{"o.yaml": recipient_list("ops", ["ops@example.com",
                                                                                             "dba@example.com"])})
        resolved = message_from_bytes(smtp.wait_for_alert("ConfigRejected", "resolved", timeout=30).content,
                                      policy=default)
        assert resolved["Subject"].startswith(f"[RESOLVED] ConfigRejected resolved: applied {fixed[:7]}")
        assert b"dba@example.com" in output.read_bytes() and b"attacker" not in output.read_bytes()
    finally:
        assert daemon.stop() == 0
        smtp.controller.stop()


def test_mail_test_never_follows_an_unsigned_head_to_another_server(signed, capsys):
    """An unsigned commit that points host at another server must not make mail-test log in
    there with the real password: it uses the last verified commit and says which."""
    from tests.support.smtp import start_smtp_server

    repo, trusted, _, _, config = signed
    good = start_smtp_server()
    evil = socket.socket()
    evil.bind(("127.0.0.1", 0))
    evil.listen(8)
    evil.settimeout(0.5)
    evil_port = evil.getsockname()[1]
    try:
        signed_commit(repo, trusted, "signed specs", **{"s.yaml": server(port=good.port),
                                                        "o.yaml": recipient_list("ops", ["o@example.com"])})
        assert main(["apply", "--config", config]) == 0
        repo.commit("unsigned: mail through my server", **{"s.yaml": server(port=evil_port)})
        capsys.readouterr()
        assert main(["mail-test", "--config", config, "--to", "me@example.com"]) == 0
        out = capsys.readouterr().out
        assert "is not signed" in out and "using the last verified commit" in out and "'signed specs'" in out
        assert f"127.0.0.1:{good.port}" in out and str(evil_port) not in out
        assert [message.recipients for message in good.wait_for(1)] == [["me@example.com"]]
        with pytest.raises(socket.timeout):
            evil.accept()  # nobody ever connected to the unsigned commit's server
    finally:
        evil.close()
        good.controller.stop()


def test_mail_test_with_no_verified_commit_refuses(signed, capsys):
    repo, _, _, _, config = signed
    repo.commit("unsigned", **{"s.yaml": server(), "o.yaml": recipient_list("ops", ["o@example.com"])})
    assert main(["mail-test", "--config", config, "--to", "me@example.com"]) == 1
    err = capsys.readouterr().err
    assert "rejected: commit" in err and "is not signed" in err


def _openpgp_keyring(tmp_path: Path, request, monkeypatch) -> Path:
    """A real OpenPGP key for author@example.com in a throwaway GNUPGHOME, set for this test."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    # gpg starts an agent for this keyring that outlives the test: stop it at the end.
    request.addfinalizer(lambda: subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
                                                capture_output=True, timeout=30, check=False))
    subprocess.run([require_binary("gpg"), "--homedir", str(home), "--batch", "--quiet", "--passphrase", "",
                    "--quick-gen-key", "Mallory <author@example.com>", "ed25519", "sign", "never"],
                   check=True, capture_output=True, timeout=60)
    monkeypatch.setenv("GNUPGHOME", str(home))
    return home


def _with_second_signature(raw: bytes, signature: bytes) -> bytes:
    """The raw commit with a `gpgsig` header holding `signature` added after its own."""
    head, body = raw.split(b"\n\n", 1)
    lines = signature.rstrip(b"\n").split(b"\n")
    extra = b"gpgsig " + lines[0] + b"".join(b"\n " + line for line in lines[1:])
    return head + b"\n" + extra + b"\n\n" + body


@pytest.mark.parametrize("pusher_sets_gpg_program", [False, True])
def test_a_forged_commit_with_an_openpgp_and_an_ssh_signature_header_is_refused(
        signed, capsys, monkeypatch, tmp_path, request, pusher_sets_gpg_program):
    """The review's forgery, exactly: the first signature header an OpenPGP block (a key
    in the keyring of whoever runs apply), the last a copied SSH block. GitPython's
    `gpgsig` is the last header only; git verifies both as one, with gpg. git calls the
    commit good, and it must be refused."""
    repo, trusted, _, output, config = signed
    ssh_signed = signed_commit(repo, trusted, "signed specs", **{"s.yaml": server(),
                                                                 "o.yaml": recipient_list("ops", ["o@example.com"])})
    assert main(["apply", "--config", config]) == 0
    good = output.read_bytes()
    import git as gitpython

    ssh_block = gitpython.Repo(repo.path).commit(ssh_signed).gpgsig.encode()
    assert ssh_block.startswith(b"-----BEGIN SSH SIGNATURE-----")

    _openpgp_keyring(tmp_path, request, monkeypatch)
    repo.write("o.yaml", recipient_list("ops", ["mallory@example.com"]))
    repo.git("add", "-A")
    repo.git("-c", "user.signingkey=author@example.com", "commit", "-q", "-S", "-m", "forged")
    raw = subprocess.run(["git", "cat-file", "commit", "HEAD"], cwd=repo.path, capture_output=True,
                         check=True).stdout
    forged = subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--stdin"], cwd=repo.path,
                            input=_with_second_signature(raw, ssh_block), capture_output=True,
                            check=True).stdout.decode().strip()
    repo.git("update-ref", "refs/heads/main", forged)
    if pusher_sets_gpg_program:  # a pusher who can write a shared repo's config
        repo.git("config", "gpg.program", "gpg")
    # What the old check saw, and what git says of the commit:
    assert gitpython.Repo(repo.path).commit(forged).gpgsig.startswith("-----BEGIN SSH SIGNATURE-----")
    assert subprocess.run(["git", "verify-commit", forged], cwd=repo.path, capture_output=True).returncode == 0

    capsys.readouterr()
    assert main(["apply", "--config", config]) == 1
    err = capsys.readouterr().err
    assert f"commit {forged[:7]} carries 2 signature headers (gpgsig, gpgsig)" in err
    assert output.read_bytes() == good


def test_an_older_signed_commit_cannot_be_replayed(signed, capsys):
    """The review's replay: the branch moved back (git update-ref) to an older signed commit
    is refused, naming both commits; the config that runs stays; a new commit on top of
    the applied one is applied as before."""
    repo, trusted, _, output, config = signed
    old = signed_commit(repo, trusted, "all mail off", **{"s.yaml": server(enabled="false"),
                                                           "o.yaml": recipient_list("ops", ["o@example.com"])})
    assert main(["apply", "--config", config]) == 0
    new = signed_commit(repo, trusted, "mail on", **{"s.yaml": server()})
    assert main(["apply", "--config", config]) == 0
    live = output.read_bytes()

    repo.git("update-ref", "refs/heads/main", old)
    capsys.readouterr()
    assert main(["apply", "--config", config]) == 1
    err = capsys.readouterr().err
    assert (f"the branch moved to commit {old[:7]} ('all mail off'), which does not descend from the applied commit "
            f"{new[:7]} ('mail on')") in err
    assert "--allow-rewind" in err
    assert output.read_bytes() == live
    main(["status", "--config", config])
    out = capsys.readouterr().out
    assert new[:7] in out and old[:7] in out  # applied and attempted, both named

    # Another branch's signed commit that does not descend from the applied one: the same.
    repo.git("update-ref", "refs/heads/main", new)
    repo.git("checkout", "-q", "-b", "other", old)
    other = signed_commit(repo, trusted, "other branch", **{"o.yaml": recipient_list("ops", ["x@example.com"])})
    repo.git("checkout", "-q", "main")
    repo.git("update-ref", "refs/heads/main", other)
    assert main(["apply", "--config", config]) == 1
    assert f"does not descend from the applied commit {new[:7]}" in capsys.readouterr().err
    assert output.read_bytes() == live

    # Forward again: applied.
    repo.git("reset", "-q", "--hard", new)
    signed_commit(repo, trusted, "on top", **{"o.yaml": recipient_list("ops", ["y@example.com"])})
    assert main(["apply", "--config", config]) == 0
    assert b"y@example.com" in output.read_bytes()


def test_a_rewind_the_operator_means_is_applied_once_with_allow_rewind(signed, capsys):
    repo, trusted, _, output, config = signed
    old = signed_commit(repo, trusted, "first", **{"s.yaml": server(), "o.yaml": recipient_list("ops", ["a@example.com"])})
    assert main(["apply", "--config", config]) == 0
    new = signed_commit(repo, trusted, "second", **{"o.yaml": recipient_list("ops", ["b@example.com"])})
    assert main(["apply", "--config", config]) == 0
    repo.git("reset", "-q", "--hard", old)  # a force-push back, meant
    assert main(["apply", "--config", config]) == 1
    capsys.readouterr()
    assert main(["apply", "--config", config, "--allow-rewind"]) == 0
    out = capsys.readouterr().out
    assert f"applied {old[:7]}" in out and f"moved back from {new[:7]}" in out
    assert b"a@example.com" in output.read_bytes()
    # Once: the applied commit is now the old one, and what follows it applies as usual.
    assert main(["apply", "--config", config]) == 0
    signed_commit(repo, trusted, "third", **{"o.yaml": recipient_list("ops", ["c@example.com"])})
    assert main(["apply", "--config", config]) == 0
    assert b"c@example.com" in output.read_bytes()


def test_source_allow_rewind_applies_every_rewind(tmp_path, capsys):
    """Without source.verify too the history only moves forward, unless the config says."""
    repo = GitRepo(tmp_path / "repo")
    old = repo.commit("first", **{"s.yaml": server(), "o.yaml": recipient_list("ops", ["a@example.com"])})
    output, config = tmp_path / "alertmanager.yml", tmp_path / "config.yaml"
    text = (f"source: {{repo: {repo.path}}}\ntarget: {{output: {output}, alertmanagers: []}}\n"
            f"stateDir: {tmp_path / 'state'}\n")
    config.write_text(text)
    assert main(["apply", "--config", str(config)]) == 0
    repo.commit("second", **{"o.yaml": recipient_list("ops", ["b@example.com"])})
    assert main(["apply", "--config", str(config)]) == 0
    repo.git("reset", "-q", "--hard", old)
    assert main(["apply", "--config", str(config)]) == 1
    config.write_text(text.replace(f"repo: {repo.path}", f"repo: {repo.path}, allowRewind: true"))
    assert main(["apply", "--config", str(config)]) == 0
    assert b"a@example.com" in output.read_bytes()


def test_daemon_mails_config_rejected_naming_both_commits_for_a_replay(signed, tmp_path):
    from tests.support.services import free_port, wait_until
    from tests.support.smtp import start_smtp_server
    from tests.support.daemon import DaemonProcess

    repo, trusted, _, output, config = signed
    smtp = start_smtp_server()
    config_path = Path(config)
    config_path.write_text(config_path.read_text().replace("source:\n", "source:\n  pollInterval: 1s\n")
                           + f"listen: 127.0.0.1:{free_port()}\n")
    old = signed_commit(repo, trusted, "mail off", **{"s.yaml": server(port=smtp.port, enabled="false"),
                                                       "o.yaml": recipient_list("ops", ["ops@example.com"])})
    new = signed_commit(repo, trusted, "mail on", **{"s.yaml": server(port=smtp.port)})
    daemon = DaemonProcess(config_path)
    try:
        wait_until(lambda: f"event=applied revision={new[:7]}" in daemon.text(), 15, "the first pass")
        live = output.read_bytes()
        repo.git("update-ref", "refs/heads/main", old)
        mail = smtp.wait_for_alert("ConfigRejected", timeout=30).message
        assert mail["Subject"].startswith(f"[FIRING] ConfigRejected: {old[:7]}")
        body = mail.get_payload(decode=True).decode()
        assert f"does not descend from the applied commit {new[:7]} ('mail on')" in " ".join(body.split())
        assert output.read_bytes() == live
    finally:
        assert daemon.stop() == 0
        smtp.controller.stop()


def test_a_pushed_replace_ref_does_not_change_what_a_signed_commit_applies(signed, capsys, tmp_path):
    """git honours refs/replace/* by default, in every command: a pusher without a key could
    make the signed head's tree read as one of theirs (or an old commit's parents read as
    the applied one). The daemon reads objects as stored."""
    repo, trusted, _, output, config = signed
    signed_commit(repo, trusted, "signed", **{"s.yaml": server(), "o.yaml": recipient_list("ops", ["o@example.com"])})
    assert main(["apply", "--config", config]) == 0
    good = output.read_bytes()
    tree = repo.git("rev-parse", "HEAD^{tree}")
    repo.write("o.yaml", recipient_list("ops", ["mallory@example.com"]))
    repo.git("add", "-A")
    evil = repo.git("write-tree")
    repo.git("reset", "-q", "--hard", "HEAD")
    repo.git("replace", tree, evil)  # what a push of refs/replace/<tree> leaves
    assert "mallory" in repo.git("show", "HEAD:o.yaml")  # git itself now reads the pusher's tree
    capsys.readouterr()
    assert main(["apply", "--config", config, "--no-cache"]) == 0
    assert output.read_bytes() == good and b"mallory" not in output.read_bytes()


def test_the_pinned_verifiers_refuse_an_openpgp_signature_by_themselves(signed, monkeypatch, tmp_path, request):
    """The header check refuses an OpenPGP signature first; behind it, the pinned verifier
    programs do too, whatever the keyring holds."""
    from reconciler.io.git_source import _pinned_verifiers

    repo, _, _, _, _ = signed
    _openpgp_keyring(tmp_path, request, monkeypatch)
    repo.write("o.yaml", recipient_list("ops", ["x@example.com"]))
    repo.git("add", "-A")
    repo.git("-c", "user.signingkey=author@example.com", "commit", "-q", "-S", "-m", "openpgp")
    assert subprocess.run(["git", "verify-commit", "HEAD"], cwd=repo.path, capture_output=True).returncode == 0
    allowed = Path(tmp_path, "allowed_signers")
    pinned = subprocess.run(["git", *_pinned_verifiers(), "-c", f"gpg.ssh.allowedSignersFile={allowed}",
                             "verify-commit", "HEAD"], cwd=repo.path, capture_output=True)
    assert pinned.returncode != 0
