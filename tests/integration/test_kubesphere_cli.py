"""`import` of KubeSphere's objects and `render --format kubesphere`, through the CLI: the
console's objects (with the password Secret) in, specs out, the password only in the file
asked for; the specs rendered back give the same objects' meaning; what cannot be done exits 1
with the line, never a traceback."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from reconciler.cli.main import main

DATA = Path(__file__).resolve().parents[1] / "data" / "kubesphere"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "config-repo"


def run(argv, capsys, stdin: str | None = None):
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        code = main([str(a) for a in argv])
    finally:
        sys.stdin = sys.__stdin__
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_import_from_stdin_then_render_gives_the_console_s_objects_back(tmp_path, capsys):
    text = (DATA / "console-v2beta2-list.yaml").read_text() + "\n---\n" + (DATA / "console-secret.yaml").read_text()
    password = tmp_path / "smtp-password"
    code, out, err = run(["import", "-", "-o", tmp_path / "out", "--password-file", password], capsys, stdin=text)
    assert code == 0, err
    assert password.read_text() == "s3cret-password" and password.stat().st_mode & 0o777 == 0o600
    assert "s3cret" not in out + err
    assert not any("s3cret" in f.read_text() for f in (tmp_path / "out").rglob("*.yaml"))
    assert "global-slack-receiver' left out" in err

    code, out, err = run(["render", tmp_path / "out" / "specs", "--format", "kubesphere"], capsys)
    assert code == 0, err
    objects = list(YAML(typ="safe").load_all(out))
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Config", "default-email-config"), ("Receiver", "global-email-receiver")]
    original = YAML(typ="safe").load((DATA / "console-v2beta2-list.yaml").read_text())["items"]
    assert objects[0]["spec"]["email"]["smartHost"] == original[0]["spec"]["email"]["smartHost"]
    assert objects[0]["spec"]["email"]["authPassword"] == original[0]["spec"]["email"]["authPassword"]
    assert objects[1]["spec"]["email"]["to"] == original[1]["spec"]["email"]["to"]
    assert objects[1]["spec"]["email"]["alertSelector"] == original[1]["spec"]["email"]["alertSelector"]

    code, out, err = run(["render", tmp_path / "out" / "specs", "--format", "kubesphere", "--password-secret",
                          "-o", tmp_path / "objects.yaml"], capsys)
    assert code == 0, err
    written = (tmp_path / "objects.yaml")
    assert "kind: Secret" in written.read_text() and written.stat().st_mode & 0o777 == 0o600
    assert "s3cret" not in out + err + written.read_text()


def test_a_bad_object_exits_1_with_its_line(tmp_path, capsys):
    text = (DATA / "console-v2beta2-list.yaml").read_text().replace("operator: NotIn", "operator: Equals")
    source = tmp_path / "objects.yaml"
    source.write_text(text)
    code, out, err = run(["import", source, "-o", tmp_path / "out"], capsys)
    assert code == 1
    assert f"{source}:84:" in err and "'Equals' is not a valid label selector operator" in err


@pytest.mark.parametrize("matcher, api, refused", [
    ('team=~"db.*"', "v2beta1", "cannot say this (it needs Match"),
    ('team!~"db.*"', "v2beta2", "no negated regex"),
])
def test_what_notification_manager_cannot_select_exits_1_at_the_spec(tmp_path, capsys, matcher, api, refused):
    folder = tmp_path / "specs"
    folder.mkdir()
    for path in EXAMPLES.glob("*.yaml"):
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "extra.yaml").write_text("apiVersion: notify-reconciler/v1\nkind: RecipientList\n"
                                       f"metadata: {{name: extra}}\nspec:\n  recipients: [x@example.com]\n"
                                       f"  matchers: ['{matcher}']\n")
    code, out, err = run(["render", folder, "--format", "kubesphere", "--api", api], capsys)
    assert code == 1 and not out
    assert f"{folder / 'extra.yaml'}:" in err and "spec.matchers[0]" in err and refused in err


def test_templates_with_the_console_s_objects_exits_2_and_writes_nothing(tmp_path, capsys):
    # --templates names an Alertmanager config's template files; notification-manager's objects
    # have none to give, so it is refused rather than silently left unused.
    code, _, err = run(["import", DATA / "console-v2beta2-list.yaml", "-o", tmp_path / "out",
                        "--templates", tmp_path], capsys)
    assert code == 2
    assert "--templates" in err and "notification-manager" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_password_secret_is_never_printed(tmp_path, capsys):
    # --password-secret puts the password (base64) into the Secret: only into a 0600 file.
    text = (DATA / "console-v2beta2-list.yaml").read_text() + "\n---\n" + (DATA / "console-secret.yaml").read_text()
    code, _, err = run(["import", "-", "-o", tmp_path / "out", "--password-file", tmp_path / "pw"], capsys, stdin=text)
    assert code == 0, err
    code, out, err = run(["render", tmp_path / "out" / "specs", "--format", "kubesphere", "--password-secret"], capsys)
    assert code == 2 and "-o FILE" in err
    assert "kind: Secret" not in out and "s3cret" not in out + err
