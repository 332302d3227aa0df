"""A throwaway git repository for tests, driven through the real git command line."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

_ENV = {
    "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent",
}


class GitRepo:
    def __init__(self, path: Path, branch: str = "main") -> None:
        self.path = path
        self.branch = branch
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", branch)

    def git(self, *args: str) -> str:
        result = subprocess.run(["git", *args], cwd=self.path, capture_output=True, text=True,
                                env={**os.environ, **_ENV}, timeout=60)
        if result.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
        return result.stdout.strip()

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    def commit(self, message: str, **files: str) -> str:
        """Write `files` (name with '/' given as '__'), commit everything, return the sha."""
        for name, text in files.items():
            self.write(name.replace("__", "/"), text)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


def document(kind: str, name: str, spec: str) -> str:
    import textwrap

    return (f"apiVersion: notify-reconciler/v1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n"
            + textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ") + "\n")


def server(host: str = "127.0.0.1", port: int = 25, **extra: str) -> str:
    lines = [f"host: {host}", f"port: {port}", "starttls: false", "from: alertmanager@example.com"]
    lines += [f"{key}: {value}" for key, value in extra.items()]
    return document("EmailServer", "smtp", "\n".join(lines))


def recipient_list(name: str, addresses: list[str], **extra: str) -> str:
    body = "recipients:\n" + "".join(f"  - {a}\n" for a in addresses)
    body += "".join(f"{key}: {value}\n" for key, value in extra.items())
    return document("RecipientList", name, body)
