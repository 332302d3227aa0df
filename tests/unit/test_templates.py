"""Subject and body templates in the pure stages: which template is the body, the names the
render carries files under, what the render writes for them, and re-renders."""

from __future__ import annotations

import pytest

from reconciler.errors import SpecErrors
from reconciler.specs.pipeline import parse_specs
from reconciler.core.render import RenderOptions, render_config, render_kubernetes_secret
from reconciler.specs.templates import SECRET_TEMPLATE_DIR, ScanError, carried_name, scan, template_file

SERVER = b"""apiVersion: notify-reconciler/v1
kind: EmailServer
metadata: {name: smtp}
spec: {host: smtp.example.com, port: 587, from: am@example.com}
"""


def list_doc(name: str, extra: str = "") -> bytes:
    return (f"apiVersion: notify-reconciler/v1\nkind: RecipientList\nmetadata: {{name: {name}}}\nspec:\n"
            f"  recipients: [{name}@example.com]\n{extra}").encode()


@pytest.mark.parametrize("text, defines, top_level", [
    ('{{ define "a" }}x{{ end }}', [("a", 1)], False),
    ('{{ define "a" }}x{{ end }}\n\n{{/* a comment */}}\n', [("a", 1)], False),
    ('{{- define "a" -}}{{ if .Status }}{{ range .Alerts }}{{ end }}{{ end }}{{- end -}}', [("a", 1)], False),
    ('<h1>{{ .Status }}</h1>', [], True),
    ('{{ define "a" }}x{{ end }}\n{{ template "a" . }}', [("a", 1)], True),
    ('{{ define "a" }}{{ "}}" }}{{ `{{ end }}` }}{{ end }}\n{{ define `b` }}y{{ end }}', [("a", 1), ("b", 2)], False),
    ('{{ block "main" . }}default{{ end }}', [("main", 1)], True),
    ('text {{/* {{ end }} */}}', [], True),
    ('{{- /* don\'t "quote" */ -}}\n{{ define "a" }}x{{ end }}', [("a", 2)], False),
])
def test_the_scan_finds_defines_and_what_stands_outside_them(text, defines, top_level):
    assert scan(text) == (defines, top_level)


@pytest.mark.parametrize("text, line", [
    ('{{ define "a" }}x', 1),
    ('{{ end }}', 1),
    ('a\n{{ .Status ', 2),
    ('{{ if .Status }}{{ define "a" }}{{ end }}{{ end }}', 1),
    ('{{/* never closed', 1),
    ('{{ "unterminated }}', 1),
])
def test_the_scan_refuses_what_go_refuses(text, line):
    with pytest.raises(ScanError) as refused:
        scan(text)
    assert refused.value.line == line


@pytest.mark.parametrize("text, body", [
    (b'{{ define "mail.html" }}<p>x</p>{{ end }}\n', "mail.html"),   # the usual Alertmanager shape
    (b'{{ define "row" }}x{{ end }}<ul>{{ template "row" . }}</ul>', None),  # None: the whole file
    (b'<p>{{ .Status }}</p>', None),
])
def test_the_body_is_the_text_outside_defines_or_the_one_define(text, body):
    item, errors = template_file("t/mail.tmpl", text)
    assert errors == []
    assert item.body == (body or item.carried)


def test_carried_names_are_secret_keys_and_change_with_the_content():
    first, second = carried_name("team db/mail.html.tmpl", b"a"), carried_name("team db/mail.html.tmpl", b"b")
    assert first != second
    assert first.startswith("notify-reconciler-team-db-mail.html-") and first.endswith(".tmpl")
    import re
    assert re.fullmatch(r"[-._a-zA-Z0-9]+", first)


FILES = {"server.yaml": SERVER,
         "lists/ops.yaml": list_doc("ops", "  subject: '[{{ .Status | toUpper }}] ops'\n"
                                           "  templates: {html: ../tpl/ops.html.tmpl, text: ../tpl/ops.txt.tmpl}\n"),
         "lists/web.yaml": list_doc("web", "  delivery: perRecipient\n"),
         "policy.yaml": b"apiVersion: notify-reconciler/v1\nkind: NotificationPolicy\nmetadata: {name: p}\n"
                        b"spec: {subject: 'policy {{ .Status }}'}\n"}
TEMPLATES = {"tpl/ops.html.tmpl": b'{{ define "ops.html" }}<b>{{ .Status }}</b>{{ end }}\n',
             "tpl/ops.txt.tmpl": b'Status: {{ .Status }}\n', "tpl/unused.tmpl": b"{{ nonsense"}


def test_a_list_renders_its_subject_and_bodies_and_the_policy_gives_the_default_subject():
    specs = parse_specs(FILES, templates=TEMPLATES)
    assert [item.path for item in specs.template_files] == ["tpl/ops.html.tmpl", "tpl/ops.txt.tmpl"]  # used only
    rendered = render_config(specs)
    text_file = specs.templates["tpl/ops.txt.tmpl"].carried
    assert "          Subject: '[{{ .Status | toUpper }}] ops'\n" in rendered.text
    assert "        html: '{{ template \"ops.html\" . }}'\n" in rendered.text
    assert f"        text: '{{{{ template \"{text_file}\" . }}}}'\n" in rendered.text
    assert rendered.text.count("Subject: 'policy {{ .Status }}'") == 1  # web's, from the policy
    assert f"templates:\n  - {specs.templates['tpl/ops.html.tmpl'].carried}\n  - {text_file}\n" in rendered.text
    assert dict(rendered.templates)[text_file] == TEMPLATES["tpl/ops.txt.tmpl"]


@pytest.mark.parametrize("base", [None, "route:\n  receiver: web\nreceivers:\n  - name: web\n",
                                  "templates: ['/etc/am/*.tmpl']\nroute: {receiver: web}\nreceivers: [{name: web}]\n"])
def test_rendering_over_an_earlier_render_gives_the_same_bytes(base):
    specs = parse_specs(FILES, templates=TEMPLATES)
    first = render_config(specs, base).text
    assert render_config(specs, first).text == first
    if base and "/etc/am/" in base:
        assert "- /etc/am/*.tmpl\n" in first or "'/etc/am/*.tmpl'" in first  # the base's own entry stays
    without = parse_specs({**FILES, "lists/ops.yaml": list_doc("ops")}, templates=TEMPLATES)
    assert render_config(without, first).text == render_config(without, base).text  # ours go again


def test_a_secret_carries_the_template_files_as_keys_named_in_the_config():
    specs = parse_specs(FILES, templates=TEMPLATES)
    rendered = render_config(specs, options=RenderOptions(templates_dir=SECRET_TEMPLATE_DIR))
    secret = render_kubernetes_secret(rendered.text, templates=rendered.templates)
    from ruamel.yaml import YAML
    data = YAML(typ="safe").load(secret)["stringData"]
    for name, content in rendered.templates:
        assert data[name] == content.decode()
        assert f"{SECRET_TEMPLATE_DIR}/{name}" in data["alertmanager.yaml"]


def test_a_template_file_that_no_list_names_is_not_parsed_nor_carried():
    specs = parse_specs({"server.yaml": SERVER, "ops.yaml": list_doc("ops")}, templates=TEMPLATES)
    assert specs.template_files == ()
    assert "templates:" not in render_config(specs).text


def test_an_ambiguous_body_is_a_located_error():
    with pytest.raises(SpecErrors) as caught:
        parse_specs({"server.yaml": SERVER, "ops.yaml": list_doc("ops", "  templates: {html: m.tmpl}\n")},
                    templates={"m.tmpl": b'\n{{ define "a" }}{{ end }}{{ define "b" }}{{ end }}'})
    assert [str(error).split(" and has")[0] for error in caught.value.errors] == ["m.tmpl:1:1: defines 'a', 'b'"]


def test_rendering_into_a_live_secret_replaces_the_template_keys_of_an_earlier_render():
    import base64

    from ruamel.yaml import YAML

    from reconciler.core.render import render_into_secret as wrap_secret

    live = ("apiVersion: v1\nkind: Secret\nmetadata: {name: alertmanager-main, namespace: m}\ndata:\n"
            "  alertmanager.yaml: cm91dGU6IHtyZWNlaXZlcjogeH0K\n  notify-reconciler-old-0123456789ab.tmpl: eA==\n"
            "  team.tmpl: eQ==\n")
    wrapped = YAML(typ="safe").load(wrap_secret("route: {}\n", live, templates=(("notify-reconciler-new.tmpl", b"z"),)))
    assert sorted(wrapped["data"]) == ["alertmanager.yaml", "notify-reconciler-new.tmpl", "team.tmpl"]
    assert base64.b64decode(wrapped["data"]["notify-reconciler-new.tmpl"]) == b"z"


@pytest.mark.parametrize("entry, refused", [
    ("*.tmpl", True), ("./notify-*", True), ("*", True), ("[a-z]*.tmpl", True),
    ("templates/*.tmpl", False), ("/etc/alertmanager/templates/*.tmpl", False), ("mine.tmpl", False),
    ("*.html", False),
])
def test_a_base_glob_that_would_load_our_carried_files_is_refused_with_its_line(entry, refused):
    from reconciler.errors import BaseConfigError
    from reconciler.specs.pipeline import parse_specs
    from reconciler.core.render import render_alertmanager_config

    files = {"server.yaml": (b"apiVersion: notify-reconciler/v1\nkind: EmailServer\nmetadata: {name: s}\n"
                             b"spec: {host: smtp.example.com, port: 587, from: a@example.com}\n"),
             "ops.yaml": (b"apiVersion: notify-reconciler/v1\nkind: RecipientList\nmetadata: {name: ops}\n"
                          b"spec:\n  recipients: [ops@example.com]\n  templates: {html: body.html.tmpl}\n")}
    specs = parse_specs(files, templates={"body.html.tmpl": b"<p>{{ .Status }}</p>"})
    base = f"route: {{receiver: chat}}\nreceivers: [{{name: chat}}]\ntemplates:\n  - mine.tmpl\n  - '{entry}'\n"
    if refused:
        with pytest.raises(BaseConfigError, match=r"base:5:5: templates\[1\]: .* would also load the template files"):
            render_alertmanager_config(specs, base)
    else:
        assert "notify-reconciler-body.html-" in render_alertmanager_config(specs, base)
