"""The import's conversions, one table per rule; the round trip through amtool is in
tests/integration/test_import.py."""

from __future__ import annotations

import base64

import pytest
from ruamel.yaml import YAML

from reconciler.am.matchers import Matcher
from reconciler.errors import SpecErrors
from reconciler.core.importer import disjoint, import_config, parse_smarthost, server_spec

SECRET_VALUE = "imported-test-value"  # not the audit's SECRET: these texts stay in memory


@pytest.mark.parametrize("these, those, expected", [
    ([Matcher("a", "=", "x")], [Matcher("a", "=", "y")], True),
    ([Matcher("a", "=", "x")], [Matcher("a", "=", "x")], False),
    ([Matcher("a", "=", "x")], [Matcher("a", "!=", "x")], True),
    ([Matcher("a", "=", "db")], [Matcher("a", "=~", "web|api")], True),
    ([Matcher("a", "=~", "d.*")], [Matcher("a", "=", "db")], False),
    ([Matcher("a", "=~", "x")], [Matcher("a", "=~", "y")], False),  # two regexes: not judged, so "may overlap"
    ([Matcher("a", "=", "x")], [Matcher("b", "=", "y")], False),
    ([Matcher("a", "=", "x")], [], False),
])
def test_disjoint_is_proved_or_denied(these, those, expected):
    assert disjoint(these, those) is expected


@pytest.mark.parametrize("text, expected", [
    ("smtp.example.com:587", ("smtp.example.com", 587)),
    ("mail.example.com:25", ("mail.example.com", 25)),
    ("192.0.2.10:465", ("192.0.2.10", 465)),
    ("[::1]:25", ("::1", 25)),
    ("[2001:db8::5]:587", ("2001:db8::5", 587)),
])
def test_smarthost_is_split_into_host_and_port(text, expected):
    assert parse_smarthost(text) == expected


@pytest.mark.parametrize("text, words", [
    ("smtp.example.com", "no port"),
    ("::1:25", "no port"),
    ("[::1]", "IPv6"),
    (":25", "no host"),
    ("smtp.example.com:smtp", "not a port"),
    ("smtp.example.com:70000", "not a port"),
])
def test_a_smarthost_without_host_or_port_is_refused(text, words):
    with pytest.raises(ValueError, match=words):
        parse_smarthost(text)


@pytest.mark.parametrize("settings, expected", [
    ({"smtp_smarthost": "smtp.example.com:465"}, {"host": "smtp.example.com", "port": 465, "ssl": True}),
    ({"smtp_smarthost": "smtp.example.com:465", "smtp_require_tls": True}, {"port": 465, "ssl": True}),
    ({"smtp_smarthost": "smtp.example.com:587"}, {"port": 587, "starttls": True}),
    ({"smtp_smarthost": "mail.example.com:25", "smtp_require_tls": False}, {"port": 25, "starttls": False}),
    ({"smtp_smarthost": "[::1]:25", "smtp_hello": "am.example.com"}, {"host": "::1", "hello": "am.example.com"}),
    ({"smtp_smarthost": "s:587", "smtp_auth_username": "u"}, {"username": "u", "passwordFile": "/p"}),
])
def test_server_settings_become_an_email_server(settings, expected):
    spec = server_spec({"smtp_from": "am@example.com", **settings}, {}, "/p")
    assert {key: spec.get(key) for key in expected} == expected
    assert "ssl" not in spec or "starttls" not in spec  # never both: the schema refuses ssl with starttls


CONFIG = """\
global:
  smtp_smarthost: smtp.example.com:587
  smtp_from: am@example.com
  smtp_auth_username: am@example.com
  smtp_auth_password: {password}
route:
  receiver: nobody
  group_by: [alertname]
  routes:
    - {{receiver: ops, matchers: [severity="critical"], continue: true}}
    - {{receiver: legacy, matchers: [team="old"], continue: true}}
receivers:
  - name: nobody
  - name: ops
    email_configs: [{{to: 'Ops Lead <lead@example.com>, ops@example.com'}}]
  - name: legacy
    email_configs:
      - to: old@example.com
        auth_password: other-{password}
        html: '<b>custom</b>'
"""


def test_no_password_reaches_the_files_and_each_gets_a_file():
    imported = import_config(CONFIG.format(password=SECRET_VALUE), "am.yml")
    for name, text in imported.files.items():
        assert SECRET_VALUE not in text, name
    assert imported.passwords == {"/etc/alertmanager/smtp-password": SECRET_VALUE,
                                  "/etc/alertmanager/smtp-password-legacy": f"other-{SECRET_VALUE}"}
    assert "auth_password_file: /etc/alertmanager/smtp-password-legacy" in imported.files["base.yml"]
    assert any("base.yml: receivers[1].email_configs[0].auth_password: written as auth_password_file" in note
               for note in imported.notes)
    assert all(SECRET_VALUE not in note for note in imported.notes)
    assert any("'legacy' is left in base.yml" in note and "html" in note for note in imported.notes)


def test_recipients_keep_their_display_names():
    imported = import_config(CONFIG.format(password=SECRET_VALUE), "am.yml")
    spec = YAML(typ="safe").load(imported.files["specs/ops.yaml"])["spec"]
    assert spec["recipients"] == [{"name": "Ops Lead", "email": "lead@example.com"}, "ops@example.com"]
    assert spec["matchers"] == ['severity="critical"']


def test_a_credential_left_in_the_base_is_named_without_its_value():
    config = (CONFIG.format(password=SECRET_VALUE)
              + "  - name: slack\n    slack_configs: [{api_url: 'https://hooks.example.com/T0/B0/xyz'}]\n")
    imported = import_config(config, "am.yml")
    assert any("base.yml: receivers[2].slack_configs[0].api_url: holds a credential" in note for note in imported.notes)
    assert all("hooks.example.com" not in note for note in imported.notes)


@pytest.mark.parametrize("text, expected", [
    ("route: [", "am.yml:1:9: YAML syntax error"),
    ("- a\n- b\n", "am.yml:1:1: is not an Alertmanager config"),
    ("global: {smtp_from: a@example.com, smtp_smarthost: smtp.example.com}\nroute: {receiver: x}\n",
     "am.yml:1:36: global.smtp_smarthost: 'smtp.example.com' has no port"),
    ("global: {smtp_smarthost: 'smtp.example.com:25'}\nroute: {receiver: x}\n",
     "am.yml:1:9: global.smtp_from: is missing"),
    ("global: {smtp_from: a@example.com, smtp_smarthost: 'h:25'}\nroute:\n  receiver: x\n  routes:\n"
     "    - {receiver: x, matchers: ['a=\"x']}\n", "am.yml:5:32: route.routes[0].matchers[0]: 'a=\"x'"),
    ("global: {smtp_from: a@example.com, smtp_smarthost: 'h:25', smtp_auth_secret: s}\nroute: {receiver: x}\n",
     "am.yml:1:60: global.smtp_auth_secret: an EmailServer cannot say this"),
    ("global: {smtp_from: a@example.com, smtp_smarthost: 'h:25'}\nroute: {receiver: x}\nreceivers: [{name: x}]\n",
     "am.yml:3:1: receivers: no e-mail receiver could become a RecipientList: the config has no receiver"),
    # Nothing about e-mail at all: said so, not that the receivers "do not agree on" a smarthost.
    ("route: {receiver: x}\nreceivers: [{name: x, webhook_configs: [{url: 'http://h/'}]}]\n",
     "am.yml:2:1: receivers: the config has no receiver with email_configs, so there is nothing to import"),
    # auth_secret written in an e-mail config is located there, not at 1:1.
    ("route: {receiver: x, group_by: [a]}\nreceivers:\n  - name: x\n    email_configs:\n"
     "      - {to: t@example.com, smarthost: 'h:25', from: a@example.com, auth_secret: s}\n",
     "am.yml:5:69: receivers[0].email_configs[0].auth_secret: an EmailServer cannot say this"),
])
def test_errors_name_file_line_column_and_path(text, expected):
    with pytest.raises(SpecErrors) as caught:
        import_config(text, "am.yml")
    assert str(caught.value.errors[0]).startswith(expected), str(caught.value.errors[0])


def test_a_password_file_in_the_config_is_kept_and_nothing_to_create():
    config = CONFIG.format(password="x").replace("smtp_auth_password: x", "smtp_auth_password_file: /run/pw")
    imported = import_config(config, "am.yml")
    assert "passwordFile: /run/pw" in imported.files["specs/email-server.yaml"]
    assert "/run/pw" not in imported.passwords


def test_the_root_receiver_becomes_the_catch_all_and_a_receiver_with_two_routes_two_lists():
    config = """\
global: {smtp_smarthost: 'h:25', smtp_from: a@example.com}
route:
  receiver: all-mail
  group_by: [alertname]
  routes:
    - {receiver: twice, matchers: [a="1"], continue: true}
    - {receiver: twice, matchers: [a="2"], continue: true}
    - {receiver: once, matchers: [a="3"], continue: true}
    - {receiver: stops, matchers: [a="4"]}
receivers:
  - {name: all-mail, email_configs: [{to: all@example.com}]}
  - {name: twice, email_configs: [{to: twice@example.com}]}
  - {name: once, email_configs: [{to: once@example.com}]}
  - {name: stops, email_configs: [{to: stops@example.com}]}
"""
    imported = import_config(config, "am.yml")
    assert imported.lists == {"all-mail": ("all-mail",), "twice": ("twice", "twice-2"), "once": ("once",),
                              "stops": ("stops",)}
    notes = "\n".join(imported.notes)
    # The root's receiver gets what no route takes: a catch-all list, the render's root receiver.
    assert YAML(typ="safe").load(imported.files["specs/all-mail.yaml"])["spec"] == {
        "recipients": ["all@example.com"], "catchAll": True}
    assert "  receiver: notify-reconciler/discard\n" in imported.files["base.yml"]
    assert "is left in base.yml" not in notes
    # One list per route, each with its route's matchers (rule 1).
    for name, value in (("twice", "1"), ("twice-2", "2")):
        assert YAML(typ="safe").load(imported.files[f"specs/{name}.yaml"])["spec"]["matchers"] == [f'a="{value}"']
    assert "twice" not in imported.files["base.yml"]
    # Taken away from the base, their alerts would go to the root receiver: with or without
    # continue, a route that matched kept them from it, and the lists keep them from the base.
    for name in ("twice", "twice-2", "once", "stops"):
        assert YAML(typ="safe").load(imported.files[f"specs/{name}.yaml"])["spec"]["keepFromBase"] is True
    assert "route.receiver" not in notes


def test_a_route_with_children_stays_and_its_receiver_sends_nothing():
    config = """\
global: {smtp_smarthost: 'h:25', smtp_from: a@example.com}
route:
  receiver: hook
  group_by: [alertname]
  routes:
    - receiver: db-mail
      matchers: [team="db"]
      routes:
        - {receiver: pager, matchers: [severity="critical"]}
        - {receiver: pager, matchers: [team="web"]}
receivers:
  - {name: hook, webhook_configs: [{url: 'http://h/'}]}
  - {name: pager, webhook_configs: [{url: 'http://h/p'}]}
  - {name: db-mail, email_configs: [{to: db@example.com}]}
"""
    imported = import_config(config, "am.yml")
    spec = YAML(typ="safe").load(imported.files["specs/db-mail.yaml"])["spec"]
    # A matching child keeps the alert from db-mail; team="web" cannot match team="db" alerts.
    assert spec["matchers"] == ['team="db"', 'severity!="critical"'] and "keepFromBase" not in spec
    base = YAML(typ="safe").load(imported.files["base.yml"])
    assert {"name": "db-mail"} in base["receivers"]
    assert base["route"]["routes"][0]["receiver"] == "db-mail" and len(base["route"]["routes"][0]["routes"]) == 2
    assert any("'db-mail' keeps its name without its e-mail configs (its routes stay" in note
               for note in imported.notes)


@pytest.mark.parametrize("group_by, folds", [("[alertname, severity]", True), ("[alertname]", False)])
def test_a_child_to_the_same_receiver_folds_only_where_no_group_changes(group_by, folds):
    config = f"""\
global: {{smtp_smarthost: 'h:25', smtp_from: a@example.com}}
route:
  receiver: all-mail
  group_by: {group_by}
  routes:
    - {{receiver: all-mail, matchers: [severity="critical"]}}
receivers:
  - {{name: all-mail, email_configs: [{{to: all@example.com}}]}}
"""
    if folds:
        imported = import_config(config, "am.yml")
        assert YAML(typ="safe").load(imported.files["specs/all-mail.yaml"])["spec"]["catchAll"] is True
        assert "routes" not in YAML(typ="safe").load(imported.files["base.yml"])["route"]
    else:
        # Two routes, one list each (rule 1): the root's catch-all, and the child's, which keeps
        # its alerts from the root's receiver (the catch-all) as the route did.
        imported = import_config(config, "am.yml")
        assert imported.lists == {"all-mail": ("all-mail", "all-mail-critical")}
        spec = YAML(typ="safe").load(imported.files["specs/all-mail-critical.yaml"])["spec"]
        assert spec["matchers"] == ['severity="critical"'] and spec["keepFromBase"] is True


def test_nothing_to_import_lists_every_reason():
    config = """\
global: {smtp_smarthost: 'h:25', smtp_from: a@example.com}
route: {receiver: all-mail}
receivers:
  - {name: all-mail, email_configs: [{to: all@example.com, headers: {X-Team: db}}]}
  - {name: custom, email_configs: [{to: c@example.com, text: 'hi'}]}
"""
    with pytest.raises(SpecErrors) as caught:
        import_config(config, "am.yml")
    lines = [str(error) for error in caught.value.errors]
    assert lines[0].startswith("am.yml:3:1: receivers: no e-mail receiver could become a RecipientList")
    assert lines[1].startswith("am.yml:4:5: receivers[0]: 'all-mail' is left in base.yml")
    assert lines[2].startswith("am.yml:5:5: receivers[1]: 'custom' is left in base.yml") and "text" in lines[2]


def test_server_settings_the_receivers_agree_on_fill_in_for_the_global():
    config = """\
route:
  receiver: silent
  group_by: [alertname]
  routes: [{receiver: ops, continue: true}]
receivers:
  - name: silent
  - name: ops
    email_configs: [{to: o@example.com, smarthost: 'mail.example.com:25', from: am@example.com, require_tls: false}]
"""
    spec = YAML(typ="safe").load(import_config(config, "am.yml").files["specs/email-server.yaml"])["spec"]
    assert spec == {"host": "mail.example.com", "port": 25, "starttls": False, "from": "am@example.com"}


def test_an_earlier_stop_above_the_route_counts_too():
    # route.routes[0] stops the walk for team="db", env="prod" before the route above ops is tried:
    # NOT(team="db" and env="prod") is no matcher list.
    config = """\
global: {smtp_smarthost: 'h:25', smtp_from: a@example.com}
route:
  receiver: silent
  routes:
    - {receiver: silent, matchers: [team="db", env="prod"]}
    - receiver: silent
      matchers: [team="db"]
      routes: [{receiver: ops, matchers: [severity="critical"]}]
receivers:
  - name: silent
  - name: ops
    email_configs: [{to: o@example.com}]
"""
    with pytest.raises(SpecErrors) as caught:
        import_config(config, "am.yml")
    assert "the earlier route route.routes[0] (without continue: true) takes some of its alerts" in str(caught.value)


def test_a_value_a_spec_may_not_hold_is_a_located_error():
    config = """\
global:
  smtp_smarthost: 'h:25'
  smtp_from: 'Alerts <am@example.com>'
route:
  receiver: silent
  group_by: [alertname]
  routes: [{receiver: ops, continue: true}]
receivers: [{name: silent}, {name: ops, email_configs: [{to: o@example.com}]}]
"""
    with pytest.raises(SpecErrors) as caught:
        import_config(config, "am.yml")
    assert str(caught.value).startswith("am.yml:3:3: global.smtp_from: the EmailServer this becomes would be "
                                        "invalid: spec.from: 'Alerts <am@example.com>' is not an e-mail address")


TUTORIAL = """\
global:
  smtp_smarthost: smtp.gmail.com:587
  smtp_from: alerts@example.com
  smtp_auth_username: alerts@example.com
  smtp_auth_identity: alerts@example.com
  smtp_auth_password_file: /run/pw
route:
  receiver: silent
  group_by: [alertname]
  routes:
    - {receiver: ops, matchers: [team="ops"]}
receivers:
  - name: silent
  - name: ops
    email_configs:
      - to: ops@example.com
        headers: {Subject: '[ALERT] {{ .CommonLabels.alertname }}'}
"""


def test_auth_identity_becomes_the_servers_and_is_rendered():
    imported = import_config(TUTORIAL, "am.yml")
    server = YAML(typ="safe").load(imported.files["specs/email-server.yaml"])["spec"]
    assert server["authIdentity"] == "alerts@example.com"
    specs = {path.removeprefix("specs/"): text.encode() for path, text in imported.files.items()
             if path.startswith("specs/")}
    from reconciler.specs.pipeline import parse_specs
    from reconciler.core.render import render_alertmanager_config
    rendered = YAML(typ="safe").load(render_alertmanager_config(parse_specs(specs), imported.files["base.yml"]))
    assert rendered["global"]["smtp_auth_identity"] == "alerts@example.com"


def test_auth_identity_in_every_email_config_fills_in_for_the_global():
    config = TUTORIAL.replace("  smtp_auth_identity: alerts@example.com\n", "").replace(
        "      - to: ops@example.com\n", "      - to: ops@example.com\n        auth_identity: alerts@example.com\n")
    server = YAML(typ="safe").load(import_config(config, "am.yml").files["specs/email-server.yaml"])["spec"]
    assert server["authIdentity"] == "alerts@example.com"


WITHOUT_IDENTITY = TUTORIAL.replace("  smtp_auth_identity: alerts@example.com\n", "")


def test_a_subject_header_becomes_the_lists_subject():
    spec = YAML(typ="safe").load(import_config(WITHOUT_IDENTITY, "am.yml").files["specs/ops.yaml"])["spec"]
    assert spec["subject"] == "[ALERT] {{ .CommonLabels.alertname }}"


def test_another_header_keeps_the_receiver_in_the_base():
    config = WITHOUT_IDENTITY.replace("headers: {Subject:", "headers: {Reply-To: x@example.com, Subject:")
    with pytest.raises(SpecErrors) as caught:
        import_config(config, "am.yml")
    assert "'ops' is left in base.yml" in str(caught.value) and "headers sets Reply-To" in str(caught.value)


def _render(imported) -> dict:
    from reconciler.specs.pipeline import parse_specs
    from reconciler.core.render import render_alertmanager_config
    specs = parse_specs({path.removeprefix("specs/"): text.encode() for path, text in imported.files.items()
                         if path.startswith("specs/")})
    return YAML(typ="safe").load(render_alertmanager_config(specs, imported.files["base.yml"]))


def test_a_route_grouping_by_nothing_keeps_one_group_not_alertname():
    # Neither the identity nor the Subject header (which the unfixed import refused first).
    config = WITHOUT_IDENTITY.replace("  group_by: [alertname]\n", "").replace(
        "headers: {Subject: '[ALERT] {{ .CommonLabels.alertname }}'}", "send_resolved: true")
    imported = import_config(config, "am.yml")
    assert YAML(typ="safe").load(imported.files["specs/notification-policy.yaml"])["spec"]["groupBy"] == []
    assert "groupBy" not in YAML(typ="safe").load(imported.files["specs/ops.yaml"])["spec"]
    assert not any("alertname" in note for note in imported.notes)
    rendered = _render(imported)
    # The list's route inherits the root's grouping, and the root has none: one group.
    assert "group_by" not in rendered["route"]
    assert rendered["route"]["routes"][0]["group_by"] == []


def test_a_root_receiver_grouping_by_nothing_keeps_one_group():
    config = "global: {smtp_smarthost: 'h:25', smtp_from: a@example.com}\nroute: {receiver: all-mail}\n" \
             "receivers: [{name: all-mail, email_configs: [{to: all@example.com}]}]\n"
    imported = import_config(config, "am.yml")
    assert imported.lists == {"all-mail": ("all-mail",)}
    assert _render(imported)["route"]["group_by"] == []


def test_a_policy_grouping_by_nothing_under_a_base_root_grouping_by_labels_is_refused():
    from reconciler.errors import BaseConfigError
    imported = import_config(WITHOUT_IDENTITY.replace("  group_by: [alertname]\n", ""), "am.yml")
    with pytest.raises(BaseConfigError) as caught:
        _render(imported.__class__({**imported.files, "base.yml": imported.files["base.yml"].replace(
            "route:\n", "route:\n  group_by: [job]\n", 1)}, imported.notes, imported.passwords, imported.lists))
    assert "route.group_by: the NotificationPolicy groups by nothing" in str(caught.value)


BODY_CALL = """\
global: {smtp_smarthost: 'h:25', smtp_from: a@example.com}
templates: ['/etc/alertmanager/*.tmpl']
route: {receiver: all-mail}
receivers:
  - {name: all-mail, email_configs: [{to: all@example.com, html: '{{ template "team.html" . }}'}]}
"""


@pytest.mark.parametrize("files, why", [
    ({"team.tmpl": b'{{ define "team.html" }}<b>{{ .Status }}</b>{{ end }}\n'}, None),
    # The call is the whole html, and the file holds that define alone: the copy's body is the same.
    ({}, "calls the template 'team.html', and no file given to import"),
    ({"team.tmpl": b'{{ define "team.html" }}a{{ end }}{{ define "other" }}b{{ end }}'}, "calls the template"),
    ({"team.tmpl": b'<p>top</p>{{ define "team.html" }}a{{ end }}'}, "calls the template"),
    # A file the config's templates: does not read is not what Alertmanager runs.
    ({"team.txt": b'{{ define "team.html" }}a{{ end }}'}, "calls the template"),
    # Defined twice among the config's files: Alertmanager takes the last loaded.
    ({"a.tmpl": b'{{ define "team.html" }}a{{ end }}', "b.tmpl": b'{{ define "team.html" }}b{{ end }}'},
     "calls the template"),
    ({"a.tmpl": b'{{ define "team.html" }}a{{ end }}', "b.tmpl": b'{{ define "x" }}{{ end }}{{ define "team.html" }}'
      b'b{{ end }}', "c.tmpl": b'{{ define "team.html" }}c{{ end }}'}, "calls the template"),
])
def test_a_body_that_only_calls_a_template_of_the_configs_files_names_a_copy(files, why):
    if why is None:
        imported = import_config(BODY_CALL, "am.yml", templates=files)
        spec = YAML(typ="safe").load(imported.files["specs/all-mail.yaml"])["spec"]
        assert spec["templates"] == {"html": "templates/team.tmpl"} and spec["catchAll"] is True
        assert imported.files["specs/templates/team.tmpl"].encode() == files["team.tmpl"]
        return
    with pytest.raises(SpecErrors, match=why):
        import_config(BODY_CALL, "am.yml", templates=files)


def test_a_body_with_more_than_a_template_call_stays_in_the_base():
    config = BODY_CALL.replace("html: '{{ template \"team.html\" . }}'",
                               "html: '<p>{{ template \"team.html\" . }}</p>'")
    with pytest.raises(SpecErrors, match=r"email_configs\[0\]\.html is a template of its own"):
        import_config(config, "am.yml", templates={"team.tmpl": b'{{ define "team.html" }}a{{ end }}'})
