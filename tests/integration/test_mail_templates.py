"""Subjects, body templates and preview, against the real things: `apply` into a real
Alertmanager that mails the SMTP sink (the subject and bodies that arrive are the rendered
ones, and exactly what `preview` shows, Alertmanager's default templates included), amtool
locating template errors, and preview's HTML rendered in Debian's headless chromium."""

from __future__ import annotations

import html
import json
import os
import shutil
import socket
import subprocess
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from reconciler.cli.main import main

from tests.support.alertmanager import Alertmanager
from tests.support.audit import SECRET
from tests.support.gitrepo import GitRepo, document, recipient_list, server
from tests.support.png import read_png
from tests.support.services import _missing, require_binary
from tests.support.smtp import start_smtp_server


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mail-preview"
OPS_HTML = ('{{ define "ops.row" }}<li>{{ .Labels.alertname }} &amp; {{ .Annotations.summary }}</li>{{ end }}\n'
            '<h1>{{ .Alerts | len }} for {{ .Receiver }}</h1><ul>{{ range .Alerts }}{{ template "ops.row" . }}'
            '{{ end }}</ul>\n')
OPS_TEXT = '{{ define "ops.text" }}text body: {{ range .Alerts }}{{ .Labels.alertname }}{{ end }}{{ end }}\n'
SUBJECT = "'[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} on {{ .CommonLabels.team }} <ops>'"


def parts(content: bytes) -> tuple[str, dict[str, str]]:
    """(Subject, {content type: decoded body}) of a received or previewed mail."""
    message = message_from_bytes(content, policy=default)
    # Go's quoted-printable writer sends each line break as CRLF, MIME's canonical form: the
    # text is the same with either.
    bodies = {part.get_content_type(): part.get_content().replace("\r\n", "\n") for part in message.walk()
              if not part.is_multipart()}
    return str(message["Subject"]), bodies


@pytest.mark.alertmanager
def test_the_mail_that_arrives_has_the_rendered_subject_and_bodies_and_preview_shows_it(tmp_path, capsys):
    require_binary("amtool")
    binary = require_binary("prometheus-alertmanager")
    smtp = start_smtp_server()
    repo = GitRepo(tmp_path / "config-repo")
    repo.commit("lists with and without templates", **{
        "server.yaml": server(port=smtp.port),
        "policy.yaml": document("NotificationPolicy", "default", "groupWait: 0s\ngroupInterval: 1s\n"),
        "lists__ops.yaml": recipient_list("ops", ["ops@example.com"], matchers="['team=\"ops\"']", subject=SUBJECT,
                                          templates="{html: ../templates/ops.html.tmpl, "
                                                    "text: ../templates/ops.txt.tmpl}"),
        "lists__plain.yaml": recipient_list("plain", ["plain@example.com"], matchers="['team=\"plain\"']"),
        "templates__ops.html.tmpl": OPS_HTML, "templates__ops.txt.tmpl": OPS_TEXT,
    })
    output = tmp_path / "am" / "alertmanager.yml"
    output.parent.mkdir()
    output.write_text("route: {receiver: x}\nreceivers: [{name: x}]\n")
    am = Alertmanager(binary, output, tmp_path / "am-data").start()
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{repo: {repo.path}, branch: main}}\ntarget: {{output: {output}, "
                      f"alertmanagers: [{am.url}]}}\nstateDir: {tmp_path / 'state'}\n")
    try:
        assert main(["apply", "--config", str(config)]) == 0
        carried = sorted(path.name for path in output.parent.glob("notify-reconciler-*.tmpl"))
        assert len(carried) == 2 and all(name in output.read_text() for name in carried)

        annotations = {"summary": "disk <97%> full"}
        for team in ("ops", "plain"):
            am.post_alerts([{"labels": {"alertname": "DiskFull", "team": team}, "annotations": annotations}])
        received = {message.recipients[0]: message.content for message in smtp.wait_for(2)}

        subject, bodies = parts(received["ops@example.com"])
        assert subject == "[FIRING] DiskFull on ops <ops>"  # a text template: not HTML-escaped
        assert bodies["text/plain"] == "text body: DiskFull"
        assert "<h1>1 for notify-reconciler/ops</h1><ul><li>DiskFull &amp; disk &lt;97%&gt; full</li></ul>" \
            in bodies["text/html"]

        # preview, with the same alert and the URL Alertmanager computes for itself, writes the same mail;
        # for the list without templates too, where Alertmanager's default subject and HTML are used.
        external_url = f"http://{socket.gethostname()}:{am.port}"
        for team, address in (("ops", "ops@example.com"), ("plain", "plain@example.com")):
            out = tmp_path / f"preview-{team}"
            assert main(["preview", str(repo.path), "--list", team, "--labels", "alertname=DiskFull", f"team={team}",
                         "--annotations", f"summary={annotations['summary']}", "--external-url", external_url,
                         "-o", str(out)]) == 0
            previewed, sent = parts(out.with_suffix(".eml").read_bytes()), parts(received[address])
            assert previewed == sent
            assert out.with_suffix(".html").read_text(encoding="utf-8-sig") == sent[1]["text/html"]
        assert "DiskFull" in parts(received["plain@example.com"])[0]  # Alertmanager's default subject

        # A template that does not parse: rejected with its file and line, the live config and its
        # template files stay as they were.
        live = output.read_bytes()
        repo.commit("broken template", **{"templates__ops.html.tmpl": OPS_HTML + "<p>{{ .Status }</p>\n"})
        capsys.readouterr()
        assert main(["apply", "--config", str(config)]) == 1
        assert "templates/ops.html.tmpl:3:1: unexpected \"}\" in operand" in capsys.readouterr().err
        assert output.read_bytes() == live
        assert sorted(path.name for path in output.parent.glob("notify-reconciler-*.tmpl")) == carried

        # A good change: new file names for the new content, the old file goes once the config is live.
        repo.commit("new heading", **{"templates__ops.html.tmpl": OPS_HTML.replace("<h1>", "<h2>")})
        assert main(["apply", "--config", str(config)]) == 0
        now = sorted(path.name for path in output.parent.glob("notify-reconciler-*.tmpl"))
        assert len(now) == 2 and len(set(now) & set(carried)) == 1  # the text template did not change
        assert all(name in output.read_text() for name in now)
    finally:
        am.stop()
        smtp.controller.stop()


@pytest.mark.alertmanager
def test_a_subject_or_template_that_does_not_parse_is_located(tmp_path, capsys):
    require_binary("amtool")
    folder = tmp_path / "specs"
    (folder / "t").mkdir(parents=True)
    (folder / "server.yaml").write_text(server())
    (folder / "ops.yaml").write_text(recipient_list("ops", ["ops@example.com"], subject="'{{ .Status | nosuch }}'",
                                                    templates="{text: t/ops.tmpl}"))
    (folder / "t" / "ops.tmpl").write_text("line one\n{{ .Alerts.Firing | len }}\n{{ .NoSuchField }}\n")
    assert main(["validate", str(folder)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{folder}/ops.yaml:8:12: spec.subject: the subject does not render with Alertmanager's example data: "
        "template: :1: function \"nosuch\" not defined",
        f"{folder}/t/ops.tmpl:3:4: executing \"t/ops.tmpl\" at <.NoSuchField>: can't evaluate field NoSuchField "
        "in type template.Data (Alertmanager's template engine)",
    ]


@pytest.mark.parametrize("first, second, errors", [
    ("{{ if true }}A", "{{- end }}", ["unexpected EOF", "unexpected {{end}}"]),
    ('{{ $x := \\"A\\" }}', "{{ $x }}", [None, 'undefined variable "$x"']),
    ('{{ define \\"x\\" }}X{{ end }}', '{{ template \\"x\\" . }}', [None, 'template "x" not defined']),
], ids=["block", "variable", "define"])
def test_each_subject_is_checked_as_alertmanager_parses_it_alone(tmp_path, capsys, first, second, errors):
    """Subjects are rendered together for speed; two that fail alone (as Alertmanager parses
    each) must not pass together."""
    require_binary("amtool")
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "server.yaml").write_text(server())
    for name, subject in (("a", first), ("b", second)):
        (folder / f"{name}.yaml").write_text(recipient_list(name, [f"{name}@example.com"], subject=f'"{subject}"'))
    assert main(["validate", str(folder)]) == 1
    said = capsys.readouterr().err.splitlines()
    assert len(said) == sum(error is not None for error in errors)
    for name, error in zip("ab", errors):
        if error is not None:
            assert any(line.startswith(f"{folder}/{name}.yaml:8:12: spec.subject: the subject does not render")
                       and error in line for line in said), said


def test_preview_renders_in_a_real_browser(tmp_path):
    require_binary("amtool")
    chromium = shutil.which("chromium")
    if chromium is None:
        _missing("chromium is not installed: run ./scripts/setup (installs Debian's chromium)")
    out = tmp_path / "diskfull"
    assert main(["preview", str(EXAMPLE), "--list", "oncall", "--labels", "alertname=DiskFull", "severity=critical",
                 "instance=db-1:9100", "--annotations", "summary=Disk /var/lib/postgresql is 97% full",
                 "-o", str(out)]) == 0
    screenshot = tmp_path / "diskfull.png"
    sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []
    subprocess.run([chromium, "--headless", *sandbox, "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=480,260",
                    f"--screenshot={screenshot}", out.with_suffix(".html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    image = read_png(screenshot.read_bytes())
    assert (image.width, image.height) == (480, 260)
    assert image.luminance_variance() > 500  # not one flat colour: text and boxes were drawn
    assert len(image.colours()) > 50  # anti-aliased text
    assert (0xC6, 0x28, 0x28) in image.colours()  # the template's red "firing" header, so its CSS applied


def test_a_template_sees_alert_data_only_never_the_server_or_its_password(tmp_path, monkeypatch):
    require_binary("amtool")
    monkeypatch.setenv("SMTP_PASSWORD", SECRET)
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "server.yaml").write_text(server(username="am@example.com", passwordEnv="SMTP_PASSWORD"))
    # The subject shows what it was given too, cut to fit a Subject: line (validate refuses a longer one).
    (folder / "ops.yaml").write_text(recipient_list("ops", ["ops@example.com"],
                                                    subject="'{{ printf \"%.400s\" (printf \"%v\" .) }}'",
                                                    templates="{html: all.tmpl, text: all.tmpl}"))
    (folder / "all.tmpl").write_text("{{ . }} {{ printf \"%#v\" . }} {{ .ExternalURL }}\n")
    out = tmp_path / "mail"
    assert main(["preview", str(folder), "--list", "ops", "-o", str(out)]) == 0
    written = out.with_suffix(".eml").read_bytes() + out.with_suffix(".html").read_bytes()
    assert SECRET.encode() not in written
    assert b"127.0.0.1" not in written and b"Username" not in written  # nothing of the server either
    # What the template was given: exactly Alertmanager's template.Data, as Go printed it.
    assert 'template.Data{Receiver:"notify-reconciler/ops", Status:"firing", Alerts:template.Alerts{' \
        in html.unescape(out.with_suffix(".html").read_text(encoding="utf-8-sig"))
    from reconciler.io.template_engine import sample_data
    assert set(sample_data("r", {}, {}, None, "2026-01-01T00:00:00Z", "u")) == {
        "receiver", "status", "alerts", "groupLabels", "commonLabels", "commonAnnotations", "externalURL"}
    assert json.dumps(sample_data("r", {"a": "b"}, {}, ("a",), "x", "u")["groupLabels"]) == '{"a": "b"}'


@pytest.mark.alertmanager
def test_a_refused_config_takes_its_new_template_files_away_again(tmp_path, request, capsys):
    """Alertmanager runs as nobody and cannot read the config (0600, root), which amtool, run
    by us, accepts: the reload is refused, the old config is put back, and the template files
    written for the new one go too (a glob of the base's could otherwise load them)."""
    import tempfile

    from tests.support.services import require_root
    require_root("to run Alertmanager as another user")
    require_binary("amtool")
    binary = require_binary("prometheus-alertmanager")
    shared = Path(tempfile.mkdtemp(prefix="nr-nobody-"))
    request.addfinalizer(lambda: shutil.rmtree(shared, ignore_errors=True))
    shared.chmod(0o755)
    output = shared / "alertmanager.yml"
    output.write_text("route: {receiver: x}\nreceivers: [{name: x}]\n")
    output.chmod(0o644)
    am = Alertmanager(binary, output, shared / "data", run_as="nobody").start()
    try:
        repo = GitRepo(tmp_path / "config-repo")
        repo.commit("a list with a template", **{
            "server.yaml": server(), "ops.yaml": recipient_list("ops", ["ops@example.com"],
                                                                templates="{html: ops.tmpl}"),
            "ops.tmpl": OPS_HTML})
        config = tmp_path / "config.yaml"
        config.write_text(f"source: {{repo: {repo.path}, branch: main}}\ntarget: {{output: {output}, "
                          f"alertmanagers: [{am.url}]}}\nstateDir: {tmp_path / 'state'}\n")
        output.chmod(0o600)  # our atomic write keeps the mode it finds
        assert main(["apply", "--config", str(config)]) == 1
        assert "refused the new config" in capsys.readouterr().err
        assert output.read_text().startswith("route: {receiver: x}")
        assert list(shared.glob("notify-reconciler-*")) == []
    finally:
        am.stop()
