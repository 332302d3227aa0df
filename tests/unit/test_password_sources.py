"""password_sources: which password file or variable a spec may name, against the operator's
`secrets:` list, on a real folder tree with real symbolic links (issue 25, finding 5)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.specs.daemon_config import SecretSettings, parse_config
from reconciler.errors import SpecErrors
from reconciler.specs.model import EmailServer, TLSSettings
from reconciler.io.password_sources import password_source_problems, password_source_refusal
from reconciler.specs.pipeline import parse_specs


def email_server(password_file: str | None = None, password_env: str | None = None) -> EmailServer:
    return EmailServer("smtp", "smtp.example.com", 587, False, True, TLSSettings(), "am@example.com", "am",
                       password_file, password_env)


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """secrets/ (listed as a folder) with smtp-password, a subfolder and a link out of it;
    one/smtp-password (listed as a file); a token no list names; a folder linked to secrets/."""
    (tmp_path / "secrets" / "sub").mkdir(parents=True)
    (tmp_path / "one").mkdir()
    for name in ("secrets/smtp-password", "secrets/sub/smtp-password", "one/smtp-password", "git-token",
                 "one/other"):
        (tmp_path / name).write_text("x")
    os.symlink(tmp_path / "git-token", tmp_path / "secrets" / "link-out")
    os.symlink(tmp_path / "secrets", tmp_path / "secrets-link")
    os.symlink(tmp_path / "one" / "smtp-password", tmp_path / "link-to-listed")
    return tmp_path


ALLOWED = ["{t}/secrets/", "{t}/one/smtp-password"]


@pytest.mark.parametrize("path, allowed, problem", [
    ("{t}/one/smtp-password", ALLOWED, None),
    ("{t}/secrets/smtp-password", ALLOWED, None),
    ("{t}/secrets/not-there-yet", ALLOWED, None),  # a file still to be created is judged by where it will be
    ("{t}/secrets-link/smtp-password", ["{t}/secrets-link/"], None),  # a listed folder may itself be a link
    ("{t}/secrets/smtp-password", ["{t}/secrets-link/"], "not a file"),  # ... and is named as listed
    ("{t}/git-token", ALLOWED, "not a file"),
    ("{t}/one/other", ALLOWED, "not a file"),  # a listed file is not its folder
    ("{t}/secrets/sub/smtp-password", ALLOWED, "not a file"),  # directly inside only
    ("{t}/secrets/smtp-password", ["{t}/secrets"], "not a file"),  # no trailing '/': a file, not a folder
    ("{t}/link-to-listed", ALLOWED, "not a file"),  # another name for a listed file: a local user could move it
    ("{t}/secrets/link-out", ALLOWED, "symbolic link"),
    ("{t}/secrets/../git-token", ALLOWED, "'..'"),
    ("{t}/secrets/sub/../smtp-password", ALLOWED, "'..'"),  # even where it would land inside
    ("{t}/secrets/./smtp-password", ALLOWED, "'..'"),
    ("{t}/secrets/smtp\0password", ALLOWED, "NUL"),
    ("{t}/one/smtp-password", [], "not a file"),  # an empty list allows no file
    ("/etc/alertmanager/smtp-password", list(SecretSettings().password_files), None),  # the default
])
def test_a_password_file_is_allowed_only_as_listed_and_where_it_really_lies(host, path, allowed, problem):
    settings = SecretSettings(password_files=tuple(entry.format(t=host) for entry in allowed))
    refusal = password_source_refusal(email_server(password_file=path.format(t=host)), settings)
    if problem is None:
        assert refusal is None
    else:
        assert refusal is not None and refusal[0] == "spec.passwordFile" and problem in refusal[1]


@pytest.mark.parametrize("name, allowed, ok", [
    ("SMTP_PASSWORD", ("SMTP_PASSWORD",), True),
    ("AWS_SECRET_ACCESS_KEY", ("SMTP_PASSWORD",), False),
    ("smtp_password", ("SMTP_PASSWORD",), False),  # names are exact, as the environment's are
    ("SMTP_PASSWORD", (), False),
    ("MAIL_PW", ("SMTP_PASSWORD", "MAIL_PW"), True),
])
def test_a_password_variable_is_allowed_only_if_listed_exactly(name, allowed, ok):
    refusal = password_source_refusal(email_server(password_env=name), SecretSettings(password_env=allowed))
    assert (refusal is None) == ok
    if not ok:
        assert refusal[0] == "spec.passwordEnv"


def test_no_password_or_no_server_needs_nothing_listed():
    nothing = SecretSettings(password_files=(), password_env=())
    assert password_source_refusal(None, nothing) is None
    assert password_source_refusal(email_server(), nothing) is None


SERVER = """apiVersion: notify-reconciler/v1
kind: EmailServer
metadata: {name: smtp}
spec:
  host: smtp.example.com
  username: am
  passwordFile: /home/deploy/.git-credentials
  from: am@example.com
"""
LIST = "apiVersion: notify-reconciler/v1\nkind: RecipientList\nmetadata: {name: ops}\nspec: {recipients: [a@b.c]}\n"


def test_the_refusal_is_located_at_the_field_names_the_key_to_change_and_never_repeats_the_value():
    specs = parse_specs({"server.yaml": SERVER.encode(), "ops.yaml": LIST.encode()})
    settings = SecretSettings(password_files=("/etc/alertmanager/smtp-password", "/etc/notify-reconciler/smtp/"),
                              file="/etc/notify-reconciler/config.yaml")
    [problem] = password_source_problems(specs.server, settings)
    assert str(problem) == (
        "server.yaml:7:17: spec.passwordFile: not a file the daemon's configuration lets specs name: the daemon "
        "reads this file and sends it to spec.host as the SMTP password, so only what secrets.passwordFiles in "
        "/etc/notify-reconciler/config.yaml lists may be named (now: /etc/alertmanager/smtp-password, "
        "/etc/notify-reconciler/smtp/); name a listed file, or have the operator add this one there (or its "
        "folder, written with a trailing '/')")
    pasted = SERVER.replace("passwordFile: /home/deploy/.git-credentials", "passwordEnv: Hunter2Hunter2")
    [problem] = password_source_problems(parse_specs({"server.yaml": pasted.encode(), "ops.yaml": LIST.encode()})
                                         .server, SecretSettings(password_env=()))
    assert str(problem).startswith("server.yaml:7:16: spec.passwordEnv: ") and "(now: none)" in str(problem)
    assert "Hunter2" not in str(problem)


def test_the_config_lists_files_and_variables_with_a_closed_default():
    config = parse_config("c.yaml", b"source: {repo: /r}\n")
    assert config.secrets == SecretSettings(("/etc/alertmanager/smtp-password",), ("SMTP_PASSWORD",), "c.yaml")
    config = parse_config("c.yaml", b"source: {repo: /r}\nsecrets: {passwordFiles: [/etc/nr/secrets/], "
                                    b"passwordEnv: []}\n")
    assert config.secrets == SecretSettings(("/etc/nr/secrets/",), (), "c.yaml")
    # The fallback relay's password file is the operator's own: no list limits it.
    config = parse_config("c.yaml", b"source: {repo: /r}\nsecrets: {passwordFiles: []}\nownAlerts: {fallback: "
                                    b"{smtp: {host: relay, username: u, passwordFile: /etc/nr/relay, from: a@b.c}}}\n")
    assert config.own_alerts.fallback.smtp.password_file == "/etc/nr/relay"


@pytest.mark.parametrize("text, expected", [
    (b"secrets: {passwordFiles: [smtp-password]}", "c.yaml:2:27: secrets.passwordFiles[0]: 'smtp-password' is not "
                                                   "an absolute path"),
    (b"secrets: {passwordEnv: [AWS-KEY]}", "c.yaml:2:25: secrets.passwordEnv[0]: 'AWS-KEY' is not an environment "
                                           "variable name"),
    (b"secrets: {passwordFile: [/x]}", "c.yaml:2:11: secrets.passwordFile: unknown field 'passwordFile': did you "
                                       "mean 'passwordFiles'?"),
])
def test_a_wrong_secrets_list_is_a_located_config_error(text, expected):
    with pytest.raises(SpecErrors) as caught:
        parse_config("c.yaml", b"source: {repo: /r}\n" + text + b"\n")
    assert str(caught.value.errors[0]).startswith(expected)
