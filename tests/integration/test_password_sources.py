"""A spec's password comes only from where the operator's config lets specs take it (issue 25,
finding 5): a pusher who points spec.passwordFile or spec.passwordEnv at another secret of
the host, and spec.host at a server of their own, gets a rejected commit, and their server
never sees a login. Real parts: the daemon as a process, git repos, aiosmtpd servers that
record every AUTH attempt."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default

import pytest

from reconciler.cli.main import main

from tests.support.audit import SECRET
from tests.support.daemon import DaemonProcess, ready
from tests.support.gitrepo import GitRepo, recipient_list, server
from tests.support.services import free_port, wait_until
from tests.support.smtp import start_smtp_server


STOLEN = "ghp_n0t-a-real-t0ken-but-the-attackers-prize"
"""What the host holds that no spec should reach: a git token, a cloud key."""


@pytest.fixture
def attacker():
    """The pusher's own SMTP server: offers AUTH PLAIN without TLS (on loopback, where a
    client may send it) and records whatever a client logs in with."""
    smtp = start_smtp_server(credentials=("alerts", "anything"), auth_require_tls=False, auth_exclude=("LOGIN",))
    yield smtp
    smtp.controller.stop()


@pytest.fixture
def ours():
    """The own alerts' server of the last good commit: no AUTH."""
    smtp = start_smtp_server()
    yield smtp
    smtp.controller.stop()


def stolen_token(tmp_path):
    token = tmp_path / "git-token"
    token.write_text(STOLEN + "\n")
    return token


@pytest.mark.parametrize("field", ["passwordFile", "passwordEnv"])
def test_a_commit_pointing_the_password_at_another_secret_is_rejected_before_it_is_read(field, setup, ours,
                                                                                         attacker):
    setup.repo.commit("good", **{"server.yaml": server(port=ours.port),
                                 "ops.yaml": recipient_list("ops", ["ops@example.com"])})
    value = str(stolen_token(setup.tmp)) if field == "passwordFile" else "AWS_SECRET_ACCESS_KEY"
    daemon = setup.start(env={"AWS_SECRET_ACCESS_KEY": STOLEN})
    ready(setup)
    setup.repo.commit("steal", **{"server.yaml": server(port=attacker.port, username="alerts", **{field: value})})

    rejected = ours.wait_for_alert("ConfigRejected")
    body = message_from_bytes(rejected.content, policy=default).get_content()
    key = "secrets.passwordFiles" if field == "passwordFile" else "secrets.passwordEnv"
    assert f"server.yaml:11:{len(field) + 5}: spec.{field}: " in body  # at the value: "  passwordFile: /..."
    assert f"{key} in {setup.tmp / 'config.yaml'}" in body
    assert value not in body  # the field's value may be a pasted password: never repeated
    assert attacker.logins == [] and attacker.messages == []
    assert "notify-reconciler/ops" in setup.output.read_text()  # the last good config stays
    assert daemon.stop() == 0
    assert STOLEN not in daemon.text()
    assert not (setup.tmp / "state" / "secrets").exists()  # the render never wrote it for Alertmanager


def test_apply_mail_test_and_diff_refuse_a_password_source_the_config_does_not_list(tmp_path, attacker, capsys):
    token = stolen_token(tmp_path)
    repo = GitRepo(tmp_path / "repo")
    sha = repo.commit("steal", **{"server.yaml": server(port=attacker.port, username="alerts",
                                                        passwordFile=str(token)),
                                  "ops.yaml": recipient_list("ops", ["ops@example.com"])})
    output, config = tmp_path / "alertmanager.yml", tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {repo.path}}}\ntarget: {{output: {output}, alertmanagers: []}}\n"
                      f"stateDir: {tmp_path / 'state'}\n")
    refusal = (f"server.yaml:11:17: spec.passwordFile: not a file the daemon's configuration lets specs name: the "
               f"daemon reads this file and sends it to spec.host as the SMTP password, so only what "
               f"secrets.passwordFiles in {config} lists may be named (now: /etc/alertmanager/smtp-password); name "
               "a listed file, or have the operator add this one there (or its folder, written with a trailing '/')")

    assert main(["apply", "--config", str(config)]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"{sha[:7]} 'steal' rejected: 1 error(s) in the specs", refusal]
    assert not output.exists()

    assert main(["mail-test", "--config", str(config), "--probe"]) == 1
    captured = capsys.readouterr()
    assert refusal in captured.err and "probing" not in captured.out

    assert main(["mail-test", "--config", str(config), "--to", "me@example.com"]) == 1
    assert refusal in capsys.readouterr().err

    assert main(["diff", str(repo.path), "--config", str(config)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"{repo.path}/{refusal}"]

    # validate knows no operator's list: it checks the folder alone.
    assert main(["validate", str(repo.path)]) == 0
    assert attacker.logins == []

    # Listed, the same commit applies: the check is the operator's list, nothing else.
    config.write_text(config.read_text() + f"secrets: {{passwordFiles: [{tmp_path}/]}}\n")
    assert main(["apply", "--config", str(config)]) == 0, capsys.readouterr().err
    assert f"smtp_auth_password_file: {token}" in output.read_text()
    assert main(["diff", str(repo.path), "--config", str(config)]) == 0
    assert STOLEN not in "".join(capsys.readouterr())
    # The render diff kept in the cache for that list is not the answer under a narrower one.
    config.write_text(config.read_text().replace(f"[{tmp_path}/]", "[]"))
    assert main(["diff", str(repo.path), "--config", str(config)]) == 2
    assert "spec.passwordFile: not a file" in capsys.readouterr().err


def test_a_kept_server_the_config_no_longer_allows_is_neither_probed_nor_mailed_through(setup, tmp_path):
    """The EmailServer of the last valid commit is kept in the state (so a bad commit cannot
    silence the alert about it). After the operator narrows secrets:, the daemon must not log
    in with it on its next start."""
    password = tmp_path / "secrets" / "smtp-password"
    password.parent.mkdir()
    password.write_text(SECRET)
    smtp = start_smtp_server(credentials=("alerts", SECRET), auth_require_tls=False, auth_exclude=("LOGIN",))
    try:
        setup.repo.commit("good", **{"server.yaml": server(port=smtp.port, username="alerts",
                                                           passwordFile=str(password)),
                                     "ops.yaml": recipient_list("ops", ["ops@example.com"])})
        daemon = setup.start(config=f"secrets: {{passwordFiles: [{password.parent}/]}}\n")
        ready(setup)
        wait_until(lambda: "event=probe_" in daemon.text(), 15, "the probe of the allowed server")
        assert daemon.stop() == 0
        logins = list(smtp.logins)
        assert logins and {(login.login, login.password) for login in logins} == {("alerts", SECRET)}  # it was used while it was allowed

        daemon = setup.start()  # the default list: the file is no longer allowed
        wait_until(lambda: "event=own_alert_not_mailed alert=ConfigRejected" in daemon.text(), 15,
                   "the ConfigRejected alert to stay unmailed")
        log = daemon.text()
        assert "event=kept_server_not_allowed" in log and "field=spec.passwordFile" in log
        assert smtp.logins == logins and smtp.messages == []
        assert daemon.stop() == 0
    finally:
        smtp.controller.stop()


def test_the_fallback_relays_own_password_file_is_the_operators_and_not_limited(tmp_path):
    """ownAlerts.fallback.smtp.passwordFile is written by the operator in the config, not by a
    pusher: the secrets: list does not apply to it."""
    relay_password = tmp_path / "relay-password"
    relay_password.write_text(SECRET)
    relay = start_smtp_server(credentials=("relay", SECRET), auth_require_tls=False, auth_exclude=("LOGIN",))
    repo = GitRepo(tmp_path / "repo")
    repo.commit("server", **{"server.yaml": server(port=free_port()),
                             "ops.yaml": recipient_list("ops", ["ops@example.com"])})
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {repo.path}, pollInterval: 1s}}\n"
                      f"target: {{output: {tmp_path}/alertmanager.yml, alertmanagers: []}}\n"
                      f"stateDir: {tmp_path}/state\nlisten: 127.0.0.1:{free_port()}\nsecrets: {{passwordFiles: []}}\n"
                      f"ownAlerts: {{fallback: {{smtp: {{host: 127.0.0.1, port: {relay.port}, starttls: false, "
                      f"username: relay, passwordFile: {relay_password}, from: relay@example.com}}}}}}\n")
    daemon = DaemonProcess(config)
    try:
        wait_until(lambda: "event=applied" in daemon.text(), 20, "the first pass")
        repo.commit("typo", **{"ops.yaml": recipient_list("ops", ["ops@@example"])})
        relay.wait_for_alert("ConfigRejected")
        assert ("relay", SECRET) in [(login.login, login.password) for login in relay.logins]
    finally:
        daemon.stop()
        relay.controller.stop()
