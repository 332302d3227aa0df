"""Reading notification-manager's objects and importing them into specs: the console's own
objects in both API versions, a kubectl List with the API server's bookkeeping, and bad input,
each with an error located at the line of the input that causes it."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import SpecErrors
from reconciler.kubesphere.importing import import_objects
from reconciler.kubesphere.objects import read_objects
from reconciler.specs.pipeline import parse_specs

DATA = Path(__file__).resolve().parents[1] / "data" / "kubesphere"
SECRET = (DATA / "console-secret.yaml").read_bytes()


def with_secret(name: str) -> bytes:
    return (DATA / name).read_bytes() + b"\n---\n" + SECRET


def specs_of(imported):
    return parse_specs({path.removeprefix("specs/"): text.encode() for path, text in imported.files.items()})


def test_the_console_s_v2beta2_list_becomes_specs():
    imported = import_objects(with_secret("console-v2beta2-list.yaml"), "objects.yaml")
    specs = specs_of(imported)
    server = specs.server
    assert (server.host, server.port, server.ssl, server.starttls) == ("smtp.example.com", 587, False, True)
    assert server.tls.insecure_skip_verify  # no tls block: notification-manager checks no certificate
    assert server.username == "alerts@example.com" and server.password_file
    [recipients] = specs.lists
    assert [r.email for r in recipients.recipients] == ["ops@example.com", "dba@example.com"]
    assert recipients.matchers == ('severity=~"critical|error"', 'alertname!="Watchdog"')
    # The password is never written, only named as the file to create.
    assert imported.passwords == {server.password_file: "s3cret-password"}
    assert not any("s3cret" in text for text in imported.files.values())
    assert any("slack" in note for note in imported.notes)


def test_the_console_s_v2beta1_objects_keep_the_toggle_and_port_465():
    imported = import_objects(with_secret("console-v2beta1.yaml"), "objects.yaml")
    server = specs_of(imported).server
    assert (server.port, server.ssl, server.enabled) == (465, True, False)
    assert imported.passwords == {server.password_file: "s3cret-password"}


def test_without_the_secret_the_note_says_where_the_password_is():
    imported = import_objects((DATA / "console-v2beta2-list.yaml").read_bytes(), "objects.yaml")
    assert imported.passwords == {}
    [note] = [note for note in imported.notes if "global-email-config-secret" in note]
    assert note.startswith("objects.yaml:") and "kubectl -n kubesphere-monitoring-federated" in note


def test_the_repeat_interval_comes_from_alertmanager_main():
    config = ("global: {resolve_timeout: 5m}\nroute:\n  group_by: [namespace, alertname, rule_id]\n"
              "  group_wait: 30s\n  group_interval: 5m\n  repeat_interval: 12h\n  receiver: 'null'\n  routes:\n"
              "  - receiver: notification-manager\n    repeat_interval: 3h\n    matchers: ['alertname!=Watchdog']\n"
              "receivers:\n- name: 'null'\n- name: notification-manager\n  webhook_configs:\n"
              "  - url: http://notification-manager-svc.kubesphere-monitoring-system.svc:19093/api/v2/alerts\n")
    secret = ("apiVersion: v1\nkind: Secret\nmetadata: {name: alertmanager-main, namespace: "
              "kubesphere-monitoring-system}\ndata:\n  alertmanager.yaml: "
              + base64.b64encode(config.encode()).decode() + "\n")
    imported = import_objects(with_secret("console-v2beta2-list.yaml") + b"\n---\n" + secret.encode(), "all.yaml")
    policy = specs_of(imported).policy
    assert policy.routing.repeat_interval == "3h"
    assert policy.routing.group_by == ("namespace", "alertname", "rule_id")


CONFIG = """apiVersion: notification.kubesphere.io/v2beta2
kind: Config
metadata: {name: default-email-config, labels: {type: default}}
spec:
  email:
    from: alerts@example.com
    smartHost: {host: smtp.example.com, port: 25}
"""


def receiver(email: str, labels: str = "{type: global}", api: str = "v2beta2") -> str:
    return (f"---\napiVersion: notification.kubesphere.io/{api}\nkind: Receiver\nmetadata: {{name: r, labels: "
            f"{labels}}}\nspec:\n  email:\n{email}")


@pytest.mark.parametrize("text, line, path, message", [
    (CONFIG + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n", 10, "kind",
     "is not a notification-manager Config or Receiver"),
    (CONFIG + "---\napiVersion: notification.kubesphere.io/v2beta2\nkind: Router\nmetadata: {name: x}\n", 10,
     "kind", "a Router is not an e-mail setting"),
    (CONFIG + "---\napiVersion: notification.kubesphere.io/v1alpha1\nkind: Receiver\nmetadata: {name: x}\n", 9,
     "apiVersion", "are read in notification.kubesphere.io/v2beta2 or"),
    (CONFIG + receiver("    enabled: true\n"), 14, "spec.email.to", "is required"),
    (CONFIG + receiver("    to: [a@example.com]\n", "{type: tenant, user: alice}"), 11, "metadata.labels.type",
     "a tenant's Receiver of user 'alice'"),
    (CONFIG + receiver("    to: [a@example.com]\n    alertSelector:\n      matchExpressions:\n"
                       "      - {key: severity, operator: Equals, values: [x]}\n"), 17,
     "spec.email.alertSelector.matchExpressions[0].operator", "'Equals' is not a valid label selector operator"),
    (CONFIG + receiver("    to: [a@example.com]\n    alertSelector:\n      matchExpressions:\n"
                       "      - {key: severity, operator: Match, regexValue: x}\n", api="v2beta1"), 17,
     "spec.email.alertSelector.matchExpressions[0].operator", "'Match' is not a valid label selector operator"),
    (CONFIG + receiver("    to: [a@example.com]\n    alertSelector:\n      matchExpressions:\n"
                       "      - {key: severity, operator: Match, regexValue: 'a('}\n"), 17,
     "spec.email.alertSelector.matchExpressions[0]", "is not a Go regular expression"),
    (CONFIG + receiver("    to: [a@example.com]\n    alertSelector:\n      matchLabels: {severity: Disk Full}\n"), 16,
     "spec.email.alertSelector.matchLabels.severity", "is not a Kubernetes label value"),
    (CONFIG.replace("port: 25", "port: '25'") + receiver("    to: [a@example.com]\n"), 7,
     "spec.email.smartHost.port", "must be a port number"),
    ("apiVersion: v1\nkind: List\nitems:\n- " + CONFIG.replace("\n", "\n  ").rstrip() + "\n- 42\n", 11, "items[1]",
     "is not a Kubernetes object"),
])
def test_bad_objects_are_located_errors(text, line, path, message):
    with pytest.raises(SpecErrors) as caught:
        import_objects(text.encode(), "in.yaml")
    error = caught.value.errors[0]
    assert (error.file, error.line) == ("in.yaml", line), str(caught.value)
    assert error.path.endswith(path) and message in error.message, str(caught.value)


def test_a_secret_without_the_key_is_an_error_at_the_reference():
    text = with_secret("console-v2beta2-list.yaml").replace(b"authPassword: czNj", b"password: czNj")
    with pytest.raises(SpecErrors) as caught:
        import_objects(text, "in.yaml")
    [error] = caught.value.errors
    assert error.file == "in.yaml" and error.line == 56 and "has no key 'authPassword' (it has password)" in error.message
    assert "czNj" not in str(error) and "s3cret" not in str(error)


def test_a_selector_that_selects_nothing_is_refused_where_written():
    text = CONFIG + receiver("    to: [a@example.com]\n    alertSelector:\n      matchExpressions:\n"
                             "      - {key: app.kubernetes.io/name, operator: Exists}\n")
    with pytest.raises(SpecErrors) as caught:
        import_objects(text.encode(), "in.yaml")
    [error] = caught.value.errors
    assert (error.line, error.path) == (16, "spec.email.alertSelector") and "selects no alert" in error.message


def test_a_list_with_server_bookkeeping_reads_like_the_objects_alone():
    listed = read_objects((DATA / "console-v2beta2-list.yaml").read_bytes(), "list.yaml")
    assert [c.name for c in listed.configs] == ["default-email-config"]
    assert [r.name for r in listed.receivers] == ["global-email-receiver"]


def test_more_than_fifty_addresses_become_several_lists_with_the_same_matchers():
    addresses = ", ".join(f"u{n}@example.com" for n in range(120))
    text = CONFIG + receiver(f"    to: [{addresses}]\n    alertSelector: {{matchLabels: {{team: db}}}}\n")
    imported = import_objects(text.encode(), "in.yaml")
    lists = specs_of(imported).lists
    assert [len(item.recipients) for item in lists] == [50, 50, 20]
    assert {item.matchers for item in lists} == {('team="db"',)}


def test_a_disabled_receiver_beside_enabled_ones_is_left_out_with_a_note():
    text = CONFIG + receiver("    to: [a@example.com]\n") + receiver("    to: [b@example.com]\n    enabled: false\n"
                                                                         ).replace("name: r,", "name: off,")
    imported = import_objects(text.encode(), "in.yaml")
    assert [item.name for item in specs_of(imported).lists] == ["r"]
    assert any("'off' left out: it is disabled" in note for note in imported.notes)


@pytest.mark.parametrize("text, expected", [
    (b"apiVersion: notification.kubesphere.io/v2beta2\nkind: Config\n", True),
    (b"items:\n- apiVersion: 'notification.kubesphere.io/v2beta1'\n", True),
    (b'{"items": [{\n  "apiVersion": "notification.kubesphere.io/v2beta2"}]}', True),
    (b"# from notification.kubesphere.io/v2beta2\nroute: {receiver: x}\n", False),
    (b"receivers:\n- name: nm\n  webhook_configs: [{url: 'http://notification.kubesphere.io/api'}]\n", False),
])
def test_the_cli_tells_notification_manager_objects_from_a_config(text, expected):
    from reconciler.kubesphere.importing import is_kubesphere

    assert is_kubesphere(text) is expected


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, path + (index,))


def _replaced(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


SAMPLE = None


def _sample():
    import json

    from ruamel.yaml import YAML

    global SAMPLE
    if SAMPLE is None:
        SAMPLE = json.loads(json.dumps(list(YAML(typ="safe").load_all(with_secret("console-v2beta2-list.yaml")))))
    return SAMPLE


@settings(max_examples=300, deadline=None)
@given(st.data(), st.sampled_from([None, 0, 465, -1, "", "x y", "In", True, [], {}, [1], {"a": None}, ["a@b.c"]]))
def test_any_value_anywhere_is_imported_or_a_located_error(data, new):
    import json

    documents = _sample()
    index = data.draw(st.integers(0, len(documents) - 1))
    path = data.draw(st.sampled_from(list(_paths(documents[index]))))
    changed = list(documents)
    changed[index] = _replaced(documents[index], path, new)
    text = "\n---\n".join(json.dumps(document) for document in changed)
    try:
        import_objects(text.encode(), "in.yaml")
    except SpecErrors as exc:
        assert all(error.file == "in.yaml" and error.line >= 1 for error in exc.errors), str(exc)
        assert "s3cret" not in str(exc)


def test_an_address_given_twice_in_any_case_is_listed_once():
    imported = import_objects((CONFIG + receiver("    to: [A@example.com, b@example.com, a@example.com]\n")).encode(),
                              "in.yaml")
    [item] = specs_of(imported).lists
    assert [r.email for r in item.recipients] == ["A@example.com", "b@example.com"]
    assert any("given twice" in note for note in imported.notes)
