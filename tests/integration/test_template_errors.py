"""Template errors are located where they are, for templates generated around an error planted
at a known line and column: the file, line and column validate prints are those of the place
Alertmanager's engine (the real amtool) refuses, whichever way Go words it (text/template's
`template: FILE:LINE:COL:`, html/template's `html/template:FILE:LINE:COL:`, a parse error's
line alone, an error that names no file at all), in a body that is a whole file or a define,
HTML or text, called directly or through a template of another file, with text before the
error that is not ASCII (Go counts a column in bytes)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from reconciler.cli.main import main

from tests.support.gitrepo import document, server
from tests.support.services import require_binary


# (the error, the part of it Go points at; None: Go names the line only, or nothing)
ERRORS = [
    ("{{ .Nope }}", ".Nope"),
    ('{{ template "nowhere" . }}', '"nowhere"'),
    ("{{ range .Status }}x{{ end }}", ".Status"),
    ("{{ index .Alerts 99 }}", "index"),
    ("{{ .Alerts.Nope }}", ".Nope"),
    ("{{ len 3 }}", "len"),
    ("{{ nosuch . }}", None),
    ("{{ if }}x{{ end }}", None),
]
WORDS = ["Alert", "Störung", "障害", "🔥", "on", "<b>", "</b>", "x", "=", "'", "&amp;"]


def text_line(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 6)))


def generated_case(rng: random.Random, index: int) -> tuple[dict[str, str], str, int, int]:
    """(files of a spec folder, the template file with the error, its line, its column)."""
    error, anchor = rng.choice(ERRORS)
    kind = rng.choice(["html", "text"])
    folder = rng.choice(["", "templates/", "t/deeper/"])
    before = [text_line(rng) for _ in range(rng.randint(0, 5))]
    prefix = text_line(rng) + " "
    after = [text_line(rng) for _ in range(rng.randint(0, 3))]
    body = before + [prefix + error] + after
    line = len(before) + 1
    as_define = rng.random() < 0.5
    if as_define:
        body = [f'{{{{ define "body-{index}" }}}}', *body, "{{ end }}"]
        line += 1
    column = len(prefix) + error.index(anchor) + 1 if anchor else 1
    files = {"server.yaml": server(), "policy.yaml": document("NotificationPolicy", "p", "groupWait: 0s")}
    path = f"{folder}mail-{index}.tmpl"
    if rng.random() < 0.3:  # the body calls a template of another file, which holds the error
        files[f"{folder}caller-{index}.tmpl"] = f'<p>{text_line(rng)}</p>\n{{{{ template "helper-{index}" . }}}}\n'
        body = [f'{{{{ define "helper-{index}" }}}}', *(body[1:-1] if as_define else body), "{{ end }}"]
        line += 0 if as_define else 1
        named = f"{folder}caller-{index}.tmpl"
    else:
        named = path
    files[path] = "\n".join(body) + "\n"
    # Alertmanager loads the files the lists name: a file another calls is named too (as the other body).
    other = {"html": "text", "text": "html"}[kind]
    named = f"{kind}: {named}" + (f", {other}: {path}" if named != path else "")
    files["ops.yaml"] = document("RecipientList", "ops", f"recipients: [ops@example.com]\ntemplates: {{{named}}}")
    return files, path, line, column


@pytest.mark.alertmanager
def test_a_template_error_is_located_in_its_file_at_its_line_and_column(tmp_path, capsys):
    require_binary("amtool")
    rng = random.Random(24)
    for index in range(24):
        files, path, line, column = generated_case(rng, index)
        folder = tmp_path / f"case-{index}"
        for name, text in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8")
        assert main(["validate", str(folder)]) == 1
        said = capsys.readouterr().err.splitlines()
        assert len(said) == 1 and said[0].startswith(f"{folder}/{path}:{line}:{column}: "), \
            (said, files[path], files.get("ops.yaml"))
        assert said[0].endswith("(Alertmanager's template engine)"), said


@pytest.mark.alertmanager
def test_an_error_go_does_not_place_is_at_the_body_it_happened_in(tmp_path, capsys):
    """html/template's "ends in a non-text context" names no file: the body's own file is where
    to look, at its define."""
    require_binary("amtool")
    (tmp_path / "server.yaml").write_text(server())
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "link.tmpl").write_text('{{/* a link */}}\n{{ define "link" }}<a href="{{ .ExternalURL }}>\n'
                                              '{{ end }}\n')
    (tmp_path / "ops.yaml").write_text(document("RecipientList", "ops", "recipients: [ops@example.com]\n"
                                                                      "templates: {html: t/link.tmpl}"))
    assert main(["validate", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith(
        f"{tmp_path}/t/link.tmpl:2:1: as the html body, it does not render with Alertmanager's example data: "
        "html/template: ends in a non-text context: ")


@pytest.mark.alertmanager
def test_the_issue_example_a_missing_template_on_line_4(tmp_path, capsys):
    require_binary("amtool")
    (tmp_path / "server.yaml").write_text(server())
    (tmp_path / "templates").mkdir()
    Path(tmp_path / "templates" / "oncall.html.tmpl").write_text("<h1>Alert</h1>\n<p>\n</p>\n"
                                                                  '{{ template "nowhere" . }}\n')
    (tmp_path / "oncall.yaml").write_text(document("RecipientList", "oncall", "recipients: [ops@example.com]\n"
                                                                             "templates: {html: templates/oncall.html.tmpl}"))
    assert main(["validate", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (f"{tmp_path}/templates/oncall.html.tmpl:4:13: no such template \"nowhere\" "
                                       "(Alertmanager's template engine)\n")
