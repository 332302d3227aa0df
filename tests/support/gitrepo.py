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


class DumbHttpRemote:
    """A bare copy of a GitRepo served over git's dumb HTTP protocol (plain files: info/refs,
    objects) by Python's http.server on 127.0.0.1, so a test can name it by an http:// URL,
    credentials included (the server asks for none, so git sends none). `publish` pushes the
    branch and refreshes the files git reads; `stop` makes every fetch fail."""

    def __init__(self, repo: GitRepo, folder: Path) -> None:
        import functools
        import threading
        from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

        self.repo, self.bare = repo, folder / "remote.git"
        subprocess.run(["git", "init", "-q", "--bare", str(self.bare)], check=True, capture_output=True, timeout=60)
        self.publish()

        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0),
                                          functools.partial(Quiet, directory=str(self.bare.parent)))
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}/{self.bare.name}"

    def publish(self) -> None:
        self.repo.git("push", "-q", "--force", str(self.bare), f"{self.repo.branch}:{self.repo.branch}")
        subprocess.run(["git", "update-server-info"], cwd=self.bare, check=True, capture_output=True, timeout=60)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
