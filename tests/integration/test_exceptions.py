"""Every edge maps what it drives into the reconciler's own exception tree (httpx-style).

Each case drives one edge for real (files, git, HTTP, SMTP, a subprocess, the base's YAML,
the state directory) into one of its failures and asserts that what comes out is a
`ReconcilerError`, never an OSError, a git, urllib, http.client, smtplib, ssl, subprocess,
Unicode or YAML exception. A new edge, or a new failure of an old one, gets a row here.

The daemon loop and the CLI are checked at the end: an exception nobody expected becomes
a recorded failed pass (InternalError), not a dead loop or a traceback.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from reconciler.io import alertmanager_api as alertmanager
from reconciler.io import deploy
from reconciler.io.alertmanager_api import reload_and_verify, running_config, running_hash, wait_until_ready
from reconciler.specs.daemon_config import parse_config
from reconciler.io.deploy import check_config, read_base
from reconciler.errors import (DeployError, EnvironmentProblem, MailError, ReconcilerError, SourceError,
                               TransientDeployError)
from reconciler.io.files import remove_stale_temporaries, write_atomically
from reconciler.io.outbox import Outbox
from reconciler.io.smtp import read_password, send
from reconciler.specs.model import EmailServer, TLSSettings
from reconciler.specs.pipeline import parse_specs
from reconciler.service.reconcile import Host, reconcile
from reconciler.core.render import render_config
from reconciler.io.git_source import GitSource, committed_specs
from reconciler.service.state import acquire_lock, load_alerting, load_state, save_state, State
from reconciler.values import Reason, Result

from tests.support.gitrepo import GitRepo, recipient_list, server
from tests.support.services import free_port


NO_SLEEP = {"sleep": lambda seconds: None}


def raises_ours(call, *args, expected: type[ReconcilerError] = ReconcilerError, **kwargs) -> ReconcilerError:
    """Run `call`; it must raise one of ours (of `expected`), with a message for a person."""
    try:
        call(*args, **kwargs)
    except ReconcilerError as exc:
        assert isinstance(exc, expected), f"{type(exc).__name__} is not a {expected.__name__}: {exc}"
        assert str(exc).strip(), "an error without a message"
        return exc
    except BaseException as exc:  # noqa: BLE001 - the point of the test
        pytest.fail(f"{call.__name__} let {type(exc).__module__}.{type(exc).__name__} escape unmapped: {exc!r}")
    pytest.fail(f"{call.__name__} raised nothing")


# -- small misbehaving servers on loopback ------------------------------------------------

@contextmanager
def tcp_server(behaviour: str):
    """A listener that answers every connection by `behaviour`: 'close' (hang up at once),
    'garbage' (a line of nonsense, then hang up) or 'silent' (say nothing, keep the line)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            if behaviour == "garbage":
                connection.sendall(b"\x00\xffnot a protocol at all\r\n")
            if behaviour == "silent":
                held.append(connection)
            else:
                connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()
        for connection in held:
            connection.close()


# -- files -----------------------------------------------------------------------------------

def test_files_map_os_errors(tmp_path):
    raises_ours(write_atomically, tmp_path / "no-such-folder" / "x.yml", b"x", expected=EnvironmentProblem)
    raises_ours(write_atomically, "/proc/version", b"x", expected=EnvironmentProblem)  # no file can be made there
    (tmp_path / "a-file").write_text("x")
    raises_ours(write_atomically, tmp_path / "a-file" / "x.yml", b"x", expected=EnvironmentProblem)
    assert remove_stale_temporaries(tmp_path / "no-such-folder" / "x.yml") == []


# -- git ---------------------------------------------------------------------------------------

@pytest.fixture
def repo(tmp_path) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("first", **{"server.yaml": server(), "ops.yaml": recipient_list("ops", ["ops@example.com"])})
    return repo


@pytest.mark.parametrize("case", ["missing path", "not a repository", "no branch", "remote unreachable",
                                  "path is a file", "path missing", "dangling branch"])
def test_git_failures_are_source_errors(case, repo, tmp_path):
    repo_path, branch, path = str(repo.path), "main", "."
    if case == "missing path":
        repo_path = str(tmp_path / "nowhere")
    elif case == "not a repository":
        repo_path = str(tmp_path)
    elif case == "no branch":
        branch = "production"
    elif case == "remote unreachable":
        repo_path = f"file://{tmp_path}/nowhere.git"
    elif case == "path is a file":
        path = "server.yaml"
    elif case == "path missing":
        path = "specs"
    elif case == "dangling branch":
        (repo.path / ".git" / "refs" / "heads" / "main").write_text("1" * 40 + "\n")
    source = GitSource(repo_path, branch, path, tmp_path / "state")
    try:
        raises_ours(committed_specs, source, None, expected=SourceError)
    finally:
        source.close()


def test_signature_check_of_a_missing_commit_is_a_source_error(repo, tmp_path):
    from reconciler.values import Revision

    signers = tmp_path / "allowed_signers"
    signers.write_text("someone@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL4bYQUNy0Qj8RklJHmrqUS4rXnS0l4Ij0Cuvh6m6/fs\n")
    source = GitSource(str(repo.path), "main", ".", tmp_path / "state")
    try:
        raises_ours(source.check_signature, Revision("2" * 40, "gone", "nobody", 0), str(signers),
                    expected=SourceError)
    finally:
        source.close()


# -- HTTP (Alertmanager) -----------------------------------------------------------------

@pytest.mark.parametrize("behaviour", ["refused", "close", "garbage", "silent", "bad url"])
def test_alertmanager_client_failures_are_transient_deploy_errors(behaviour, monkeypatch):
    monkeypatch.setattr(alertmanager, "HTTP_TIMEOUT", 0.5)
    if behaviour == "refused":
        calls = [f"http://127.0.0.1:{free_port()}"]
    elif behaviour == "bad url":
        calls = ["http://[::1"]
    else:
        calls = None
    with tcp_server(behaviour if calls is None else "close") as port:
        url = calls[0] if calls else f"http://127.0.0.1:{port}"
        raises_ours(wait_until_ready, url, expected=TransientDeployError, **NO_SLEEP)
        raises_ours(reload_and_verify, url, b"x", expected=TransientDeployError, **NO_SLEEP)
        raises_ours(running_config, url, expected=TransientDeployError)
        raises_ours(running_hash, url, expected=TransientDeployError)


def test_a_status_without_a_config_is_a_deploy_error():
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class NotAlertmanager(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = b"[1, 2]"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotAlertmanager)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        raises_ours(running_config, f"http://127.0.0.1:{server.server_port}", expected=DeployError)
    finally:
        server.shutdown()
        server.server_close()


# -- SMTP -------------------------------------------------------------------------------------

def smtp_server_spec(port: int, **changes) -> EmailServer:
    values = dict(name="smtp", host="127.0.0.1", port=port, ssl=False, starttls=False, tls=TLSSettings(),
                  sender="alertmanager@example.com")
    values.update(changes)
    return EmailServer(**values)


@pytest.mark.parametrize("behaviour", ["refused", "close", "garbage", "silent", "implicit TLS to a plain server",
                                       "unresolvable host"])
def test_smtp_failures_are_mail_errors(behaviour, monkeypatch):
    with tcp_server({"implicit TLS to a plain server": "garbage"}.get(behaviour, behaviour
                                                                      if behaviour in ("close", "garbage", "silent")
                                                                      else "close")) as port:
        spec = smtp_server_spec(port)
        if behaviour == "refused":
            spec = smtp_server_spec(free_port())
        elif behaviour == "implicit TLS to a plain server":
            spec = smtp_server_spec(port, ssl=True, tls=TLSSettings(insecure_skip_verify=True))
        elif behaviour == "unresolvable host":
            spec = smtp_server_spec(port, host="no-such-host.invalid")
        raises_ours(send, spec, None, spec.sender, ["a@example.com"], b"Subject: x\r\n\r\nx\r\n", timeout=0.5,
                    expected=MailError)


def test_smtp_with_an_address_smtplib_cannot_encode_is_a_mail_error():
    from tests.support.smtp import start_smtp_server

    smtp = start_smtp_server()
    try:
        spec = smtp_server_spec(smtp.port)
        raises_ours(send, spec, None, spec.sender, ["jörg@example.com"], b"Subject: x\r\n\r\nx\r\n",
                    expected=MailError)
    finally:
        smtp.controller.stop()


def test_password_files_that_cannot_be_read_are_mail_errors(tmp_path):
    binary = tmp_path / "binary-password"
    binary.write_bytes(b"\xff\xfe not utf-8")
    for path in (tmp_path / "missing", tmp_path, binary):
        spec = smtp_server_spec(25, username="u", password_file=str(path))
        raises_ours(read_password, spec, {}, expected=MailError)
    raises_ours(read_password, smtp_server_spec(25, username="u", password_env="NOT_SET"), {}, expected=MailError)


def test_an_outbox_on_a_folder_that_cannot_be_made_keeps_mail_in_memory(tmp_path):
    (tmp_path / "a-file").write_text("x")
    outbox = Outbox(tmp_path / "a-file" / "outbox")
    letter = outbox.put("a@example.com", ["b@example.com"], b"Subject: x\r\n\r\nx\r\n", "x", 0.0)
    assert [pending.id for pending in outbox.pending()] == [letter.id]


# -- subprocess (amtool) ------------------------------------------------------------------

@pytest.mark.parametrize("amtool", ["not a program", "hangs"])
def test_amtool_that_cannot_run_is_ours(amtool, tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "amtool"
    fake.parent.mkdir()
    fake.write_bytes(b"\x7fELF garbage" if amtool == "not a program" else b"#!/bin/sh\nexec sleep 5\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setattr(deploy, "AMTOOL_TIMEOUT", 0.3)
    raises_ours(check_config, "route: {receiver: x}\nreceivers: [{name: x}]\n")


# -- the base's YAML ------------------------------------------------------------------------

SPECS = parse_specs({"s.yaml": server().encode(), "l.yaml": recipient_list("ops", ["ops@example.com"]).encode()})


@pytest.mark.parametrize("base", [
    "route: [\n", "- a list\n", "route: 5\n", "receivers: {a: b}\n", "route:\n  routes: 5\n",
    "global: [1]\n", "\t- tab\n", "a: b: c\n", "[\n", "x: *nowhere\n",
])
def test_bad_base_configs_are_base_config_errors(base):
    raises_ours(render_config, SPECS, base)


def test_a_base_that_cannot_be_read_is_ours(tmp_path):
    not_utf8 = tmp_path / "base.yml"
    not_utf8.write_bytes(b"route:\n  receiver: \xff\n")
    raises_ours(read_base, str(not_utf8))
    raises_ours(read_base, str(tmp_path / "missing.yml"))
    raises_ours(read_base, str(tmp_path))


# -- the state directory -------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"[]", b"{", b'{"attempted": {"revision": null, "at": 1, "result": "bogus"}}',
                                     b'{"applied": 5}', b"\xff\xfe", b'{"alertmanagers": {"u": 3}}'])
def test_a_damaged_state_is_an_environment_problem(content, tmp_path):
    (tmp_path / "state.json").write_bytes(content)
    raises_ours(load_state, tmp_path, expected=EnvironmentProblem)


@pytest.mark.parametrize("content", [b"[]", b"{", b"\xff\xfe", b'{"alerts": {"NoSuchAlert": {"since": 1}}}',
                                     b'{"alerts": {"ConfigRejected": 5}}', b'{"server": {"host": "h"}}',
                                     b'{"repeat_seconds": "soon"}'])
def test_a_damaged_alert_state_is_an_environment_problem(content, tmp_path):
    (tmp_path / "alerting.json").write_bytes(content)
    raises_ours(load_alerting, tmp_path, expected=EnvironmentProblem)


def test_a_state_directory_that_cannot_be_used_is_an_environment_problem(tmp_path):
    (tmp_path / "a-file").write_text("x")
    raises_ours(save_state, tmp_path / "a-file", State(), expected=EnvironmentProblem)
    raises_ours(acquire_lock, tmp_path / "a-file", expected=EnvironmentProblem)
    (tmp_path / "state.json").mkdir()
    raises_ours(load_state, tmp_path, expected=EnvironmentProblem)


def test_a_bad_daemon_config_is_ours():
    raises_ours(parse_config, "config.yaml", b"source: 5\n")
    raises_ours(parse_config, "config.yaml", b"\xff")


# -- the pass and the daemon loop ------------------------------------------------------------

class BrokenTarget:
    """A target with a bug: every call raises what no edge maps."""

    def live(self):
        raise RuntimeError("boom")

    def apply(self, rendered, specs, applied_digest):
        raise RuntimeError("boom in apply")

    def status(self, applied_digest):
        raise RuntimeError("boom")


def daemon_config(tmp_path: Path, repo: GitRepo) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {repo.path}, pollInterval: 1h}}\n"
                      f"target: {{output: {tmp_path}/alertmanager.yml, alertmanagers: []}}\n"
                      f"stateDir: {tmp_path}/state\nlisten: 127.0.0.1:{free_port()}\n")
    return config


def test_an_unexpected_exception_is_a_recorded_failed_pass(repo, tmp_path):
    config = parse_config(str(tmp_path / "config.yaml"), daemon_config(tmp_path, repo).read_bytes())
    host = Host(now=lambda: 1000.0, environ={}, hostname="test")
    outcome = reconcile(config, host, target=BrokenTarget())
    assert (outcome.result, outcome.reason) == (Result.FAILED, Reason.INTERNAL_ERROR)
    assert "internal error" in outcome.message and "boom in apply" in outcome.message
    state = load_state(config.state_dir)
    assert state.attempted is not None and state.attempted.result is Result.FAILED
    assert "boom in apply" in state.attempted.error


def test_the_daemon_loop_records_measures_and_alerts_an_internal_error(repo, tmp_path):
    from reconciler.daemon.loop import Daemon

    config = parse_config(str(tmp_path / "config.yaml"), daemon_config(tmp_path, repo).read_bytes())
    daemon = Daemon(config, Host(now=lambda: 1000.0, environ={}, hostname="test"))
    daemon.target = BrokenTarget()
    outcome = daemon._pass({"test"})
    assert outcome.reason is Reason.INTERNAL_ERROR
    assert daemon.metrics.reconciles.labels("failed")._value.get() == 1
    assert daemon.metrics.healthy._value.get() == 0
    assert Reason.INTERNAL_ERROR in daemon.stream.state  # the own alert fires (mailed once a server is known)
    status, body = daemon.readiness()
    assert status == 200 and "internal error" in body and body.rstrip().endswith("not healthy")
    daemon.source.close()


def test_the_cli_turns_an_unexpected_exception_into_one_line(repo, tmp_path, capsys, monkeypatch):
    from reconciler.cli.main import main

    config = daemon_config(tmp_path, repo)
    # status imports gather_status when it runs (cli imports each command's modules lazily)
    monkeypatch.setattr("reconciler.service.status.gather_status", lambda *args: (_ for _ in ()).throw(RuntimeError("boom")))
    assert main(["status", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "notify-reconciler: internal error (a bug, please report it): RuntimeError: boom"


def test_messages_say_what_to_do_for_a_missing_folder_and_an_unreachable_alertmanager(tmp_path):
    missing = raises_ours(write_atomically, tmp_path / "no-such-folder" / "alertmanager.yml", b"x")
    assert str(missing) == (f"{tmp_path}/no-such-folder/alertmanager.yml: cannot write: the folder "
                            f"{tmp_path}/no-such-folder does not exist: create it (mkdir -p), or correct the path")
    url = f"http://127.0.0.1:{free_port()}"
    unreachable = raises_ours(wait_until_ready, url, **NO_SLEEP)
    assert str(unreachable).startswith(f"{url}: unreachable: ")
    assert str(unreachable).endswith(": start it, or remove it from target.alertmanagers")
