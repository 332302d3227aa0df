"""reconciler.am, the one reading of Alertmanager's config: its reader, matchers, route tree,
receivers, credential keys and Secret codec, one table per rule. What Alertmanager itself says
about the same texts is held against amtool in tests/integration/test_am_reading.py and
test_am_differential.py."""

from __future__ import annotations

import base64
import json

import pytest
from ruamel.yaml import YAML

from reconciler.am.credentials import is_credential
from reconciler.am.deliveries import duplicates, possible_duplicates
from reconciler.am.matchers import Matcher, MatcherError, parse_matchers
from reconciler.am.reading import dump, read_config, read_roundtrip, roundtrip_yaml
from reconciler.am.receivers import receivers
from reconciler.am.routes import route_tree, routing_tree
from reconciler.am.secret import new_secret, unwrap, wrap
from reconciler.errors import AlertmanagerConfigError, BaseConfigError

from tests.support.routing import nested_routes


# -- matchers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("written, expected", [
    ("match: {severity: critical}", ['severity="critical"']),
    ("match_re: {service: '(postgres|mysql)-.*'}", ['service=~"(postgres|mysql)-.*"']),
    ("match: {a: x}\n      match_re: {b: y|z}", ['a="x"', 'b=~"y|z"']),
    ("match: {quote: 'say \"hi\"'}", ['quote="say \\"hi\\""']),
    ("match_re: {path: 'C:\\\\temp\\d+'}", [r'path=~"C:\\\\temp\\d+"']),
    # YAML 1.1 scalars are the text as written, as Go's YAML reads them into strings
    ("match: {flag: true, count: 3, big: True, hex: 0x1F, none: ~}",
     ['flag="true"', 'count="3"', 'big="True"', 'hex="0x1F"', 'none=""']),
])
def test_match_and_match_re_become_matchers(written, expected):
    tree = routing_tree(f"route:\n  receiver: x\n  routes:\n    - receiver: y\n      {written}\n")
    assert [m.text() for m in tree.routes[0].matchers] == expected


@pytest.mark.parametrize("line, expected", [
    ('severity="critical"', [Matcher("severity", "=", "critical")]),
    ("severity=critical", [Matcher("severity", "=", "critical")]),
    ('  team =~ "db|web" ', [Matcher("team", "=~", "db|web")]),
    ('{a="1", b!~"x,y"}', [Matcher("a", "=", "1"), Matcher("b", "!~", "x,y")]),
    ("a=1,b!=2", [Matcher("a", "=", "1"), Matcher("b", "!=", "2")]),
    (r'msg="a \"quoted\" \\ word"', [Matcher("msg", "=", 'a "quoted" \\ word')]),
    (r'path=~"\d+"', [Matcher("path", "=~", r"\d+")]),  # a spurious escape stays, as in Alertmanager
])
def test_matchers_are_read_as_alertmanager_reads_them(line, expected):
    assert parse_matchers(line) == expected


# A no-break space is no space to Go's matcher parser (amtool check-config refuses it);
# Python's \s took it for one.
@pytest.mark.parametrize("line", ['severity', '="x"', 'a="unterminated', 'a="x"y"', 'a\u00a0=\u00a0"b"'])
def test_a_matcher_alertmanager_would_refuse_is_an_error(line):
    with pytest.raises(MatcherError):
        parse_matchers(line)


def test_a_matcher_written_back_reads_the_same():
    for matcher in (Matcher("a", "=", 'x"y\\z'), Matcher("b", "=~", r"\d+|\\"), Matcher("c", "!=", "line\nbreak")):
        assert parse_matchers(matcher.text()) == [matcher]


# -- the reader --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("a: 1\na: 2\n", "c.yml:2:1: a: given twice in one mapping"),
    ("a: " + "[" * 200 + "]" * 200 + "\n", "c.yml:1:131: nesting is deeper than the 128 levels a config may have"),
    ("a: b: c\n", "c.yml:1:5: YAML syntax error: mapping values are not allowed here"),
    ("x: &a [*a]\n", "c.yml:1:"),
])
def test_what_alertmanager_cannot_read_is_a_located_error(text, expected):
    with pytest.raises(AlertmanagerConfigError) as caught:
        read_config(text, "c.yml")
    assert str(caught.value).startswith(expected), str(caught.value)
    assert isinstance(caught.value, BaseConfigError)


def test_a_config_nested_thousands_deep_is_refused_before_anything_recurses():
    assert routing_tree(nested_routes(20)).routes[0].routes[0].receiver == "x"
    deep = nested_routes(3000)
    for read in (lambda: read_config(deep, "c.yml"), lambda: read_roundtrip(deep, "c.yml")):
        with pytest.raises(AlertmanagerConfigError, match="nesting is deeper than"):
            read()


def test_merge_keys_merge_in_gos_order():
    text = "d: &d {a: '1', b: '2'}\ne: &e {b: '3', c: '4'}\nx: {<<: [*d, *e], c: '5'}\n"
    assert read_config(text).data["x"] == {"a": "1", "b": "2", "c": "5"}


def test_the_round_trip_keeps_scalars_as_written():
    text = "match: {a: True, b: +12, c: -.INF, d: 0x1F, e: 2001-12-14, f: 'x', g: true, h: 1_000}\n# kept\n"
    assert dump(roundtrip_yaml(), read_roundtrip(text, "c.yml")) == text


def test_locate_finds_keys_and_items():
    read = read_config("route:\n  receiver: x\n  routes:\n    - {receiver: y, matchers: ['a=\"b\"']}\n", "c.yml")
    assert str(read.locate(("route", "routes", 0, "matchers", 0))) == "c.yml:4:32"
    assert str(read.locate(("route", "receiver"), key=True)) == "c.yml:2:3"
    assert str(read.locate(("route", "nowhere"))) == "c.yml:2:3"  # the nearest that exists


# -- routes and receivers ----------------------------------------------------------------------

def test_routes_inherit_and_know_their_path():
    tree = routing_tree("route:\n  receiver: a\n  group_by: [x]\n  group_wait: 1m\n  routes:\n"
                        "    - match: {t: db}\n      continue: yes\n      routes:\n        - group_by: ['...']\n"
                        "          receiver: b\n")
    child, grandchild = tree.routes[0], tree.routes[0].routes[0]
    assert (child.receiver, child.group_by, child.group_wait, child.continues) == ("a", ("x",), "1m", True)
    assert grandchild.group_by_all and grandchild.receiver == "b" and grandchild.group_wait == "1m"
    assert grandchild.where == "route.routes[0].routes[0]"


@pytest.mark.parametrize("text, expected", [
    ("route:\n  receiver: x\n  routes: [{matchers: ['a=~\"(\"']}]\n", "c.yml:3:24: route.routes[0].matchers[0]:"),
    ("route:\n  receiver: x\n  routes: [{match_re: {a: '('}}]\n", "c.yml:3:27: route.routes[0].match_re.a:"),
    ("route:\n  receiver: [x]\n", "c.yml:2:13: route.receiver: must be text"),
    ("route:\n  receiver: x\n  routes: [x]\n", "c.yml:3:12: route.routes[0]: is not a route"),
    ("receivers: []\n", "c.yml:1:1: the config has no route"),
])
def test_a_route_alertmanager_refuses_is_a_located_error(text, expected):
    with pytest.raises(AlertmanagerConfigError) as caught:
        routing_tree(text, "c.yml")
    assert str(caught.value).startswith(expected), str(caught.value)


def test_receivers_with_their_addresses():
    read = read_config("receivers:\n  - name: ops\n    email_configs:\n      - {to: 'A@x.org, \"B\" <b@x.org>', "
                       "send_resolved: yes}\n      - {to: 'a@X.org'}\n  - name: hook\n    webhook_configs: "
                       "[{url: 'http://h'}]\n  - name: silent\n  - name: templated\n    email_configs: "
                       "[{to: '{{ .GroupLabels.team }}@x.org'}]\n")
    found = receivers(read)
    assert found["ops"].addresses == ("A@x.org", "b@x.org") and found["ops"].emails[0].send_resolved
    assert not found["ops"].emails[1].send_resolved
    assert found["hook"].notifies and not found["silent"].notifies
    assert found["templated"].emails[0].templated and found["templated"].addresses == ()


def test_duplicates_name_the_address_and_each_receiver_it_comes_through():
    read = read_config("route:\n  receiver: all\n  routes:\n    - {receiver: db, continue: true, match: {t: db}}\n"
                       "    - {receiver: all, match: {t: db}}\nreceivers:\n  - {name: all, email_configs: "
                       "[{to: 'ops@x.org'}]}\n  - {name: db, email_configs: [{to: 'dba@x.org, OPS@x.org'}]}\n")
    tree, found = route_tree(read), receivers(read)
    (duplicate,) = duplicates(tree.match({"t": "db"}), found)
    assert (duplicate.address, duplicate.receivers) == ("OPS@x.org", ("db", "all"))
    assert duplicates(tree.match({"t": "web"}), found) == []
    (possible,) = possible_duplicates(tree, found, lambda first, second: True)
    assert possible.example == {"t": "db"} and possible.addresses == ("OPS@x.org",)
    assert {possible.first.receiver, possible.second.receiver} == {"db", "all"}


@pytest.mark.parametrize("key, secret", [
    ("smtp_auth_password", True), ("auth_password", True), ("webhook_url", True), ("api_url", True),
    ("routing_key", True), ("client_secret", True), ("my_api_key", True),
    ("auth_password_file", False), ("smtp_auth_username", False), ("url", False), ("to", False),
])
def test_credential_keys(key, secret):
    assert is_credential(key) is secret


# -- the Secret codec --------------------------------------------------------------------------

def secret(section: str, config: str) -> str:
    value = base64.b64encode(config.encode()).decode() if section == "data" else config
    body = f"  alertmanager.yaml: {value}\n" if section == "data" else \
        "  alertmanager.yaml: |\n" + "".join(f"    {line}\n" for line in config.splitlines())
    return ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: alertmanager-main\n"
            "  namespace: kubesphere-monitoring-system\n"
            "  labels: {app: alertmanager}\n  resourceVersion: '12'\n  uid: abc\n  annotations:\n"
            "    kubectl.kubernetes.io/last-applied-configuration: '{\"old\": \"config\"}'\n"
            f"type: Opaque\n{section}:\n{body}")


@pytest.mark.parametrize("section", ["data", "stringData"])
def test_a_secret_is_unwrapped_and_wrapped_back_in_the_same_shape(section):
    config = "route:\n  receiver: x\nreceivers:\n  - name: x\n"
    manifest = secret(section, config)
    assert unwrap(manifest, "s.yaml").config == config
    assert unwrap(manifest, "s.yaml").name == "s.yaml[alertmanager.yaml]"
    wrapped = YAML(typ="safe").load(wrap("route: {receiver: y}\n", manifest))
    assert set(wrapped) == {"apiVersion", "kind", "metadata", "type", section}
    assert wrapped["metadata"] == {"name": "alertmanager-main", "namespace": "kubesphere-monitoring-system",
                                   "labels": {"app": "alertmanager"}}
    assert unwrap(wrap("route: {receiver: y}\n", manifest)).config == "route: {receiver: y}\n"
    renamed = YAML(typ="safe").load(wrap("x: 1\n", manifest, name="am", namespace="mon"))["metadata"]
    assert (renamed["name"], renamed["namespace"]) == ("am", "mon")


def test_a_list_of_secrets_gives_the_one_holding_the_config():
    config = "route: {receiver: x}\n"
    items = [YAML(typ="safe").load(secret("stringData", "x: 1\n").replace("alertmanager.yaml", "other.yaml")),
             YAML(typ="safe").load(secret("data", config))]
    listed = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    assert unwrap(listed, "l.json").config == config
    twice = json.dumps({"apiVersion": "v1", "kind": "List", "items": [items[1], items[1]]})
    with pytest.raises(AlertmanagerConfigError, match="2 Secrets of this List hold alertmanager.yaml"):
        unwrap(twice, "l.json")


def test_a_new_secret_reads_back():
    manifest = new_secret("route: {receiver: x}\n", name="am", namespace="mon", templates=(("t.tmpl", b"{{ x }}"),))
    assert unwrap(manifest).config == "route: {receiver: x}\n"
    assert YAML(typ="safe").load(manifest)["stringData"]["t.tmpl"] == "{{ x }}"


def test_not_a_secret_is_left_to_the_caller():
    assert unwrap("route: {receiver: x}\n") is None
    assert unwrap("kind: ConfigMap\ndata: {}\n") is None
    assert unwrap("{not yaml") is None
    assert unwrap("kind: Secret\n" + "a:\n" + "".join("  " * i + "  - x:\n" for i in range(3000))) is None


@pytest.mark.parametrize("manifest, expected", [
    ("kind: Secret\ndata:\n  other.yaml: eA==\n", "s.yaml:1:1: data: this Secret holds no alertmanager.yaml (it has "
                                                   "other.yaml)"),
    ("kind: Secret\ndata:\n  alertmanager.yaml: '%%%'\n", "s.yaml:3:3: data.alertmanager.yaml: is not base64"),
])
def test_a_secret_without_a_config_is_a_located_error(manifest, expected):
    with pytest.raises(AlertmanagerConfigError) as caught:
        unwrap(manifest, "s.yaml")
    assert str(caught.value).startswith(expected)
