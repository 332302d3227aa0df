"""The suite-wide secret audit can fail: it finds the password in any file but a password file."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.support.audit import GIT_TOKEN, SECRET, find_leaks


def test_audit_finds_the_secret_in_any_file_but_a_password_file():
    # Not in tmp_path: the session's audit would rightly find these files there.
    with tempfile.TemporaryDirectory() as folder:
        audit_a_folder(Path(folder))


def audit_a_folder(tmp_path: Path) -> None:
    (tmp_path / "state" / "secrets").mkdir(parents=True)
    (tmp_path / "state" / "secrets" / "smtp-password-smtp").write_text(SECRET)
    (tmp_path / "password").write_text(SECRET + "\n")
    (tmp_path / "daemon.log").write_text("level=INFO event=started\n")
    assert find_leaks(tmp_path) == []

    (tmp_path / "daemon.log").write_text(f"level=INFO event=started\nlevel=ERROR auth failed with {SECRET}\n")
    (tmp_path / "state" / "outbox").mkdir()
    (tmp_path / "state" / "outbox" / "1.json").write_bytes(b"\xff\x00" + SECRET.encode())
    assert find_leaks(tmp_path) == [f"{tmp_path / 'daemon.log'}:2", f"{tmp_path / 'state' / 'outbox' / '1.json'}:1"]


def test_audit_skips_what_is_not_a_regular_file():
    import os

    with tempfile.TemporaryDirectory() as folder:
        os.mkfifo(Path(folder, "pipe.yaml"))  # reading it would block the session's end
        Path(folder, "leak.txt").write_text(SECRET)
        assert find_leaks(Path(folder)) == [f"{folder}/leak.txt:1"]


def test_audit_finds_the_git_token_anywhere_but_the_config_that_holds_it():
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "config.credentials.yaml").write_text(f"source: {{repo: 'https://deploy:{GIT_TOKEN}@h/x.git'}}\n")
        (root / "state" / "cache" / "3b").mkdir(parents=True)
        (root / "state" / "cache" / "3b" / "entry").write_bytes(b"\x80\x05snapshot\0https://deploy:"
                                                                 + GIT_TOKEN.encode())
        (root / "daemon.log").write_text("level=INFO event=started repo=https://<secret>@h/x.git\n")
        assert find_leaks(root) == [f"{root / 'state' / 'cache' / '3b' / 'entry'}:1"]
