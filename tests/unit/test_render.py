"""render: Specs (+ base) -> alertmanager.yml text. Pure, so no fixtures beyond text."""

from __future__ import annotations

import textwrap

import pytest
from ruamel.yaml import YAML

from reconciler.errors import BaseConfigError
from reconciler.specs.pipeline import parse_specs
from reconciler.core.render import (DISCARD_RECEIVER, MAX_HEADER_LINE, PREFIX, RenderOptions,
                                    render_alertmanager_config, render_kubernetes_secret, to_header)

OPTIONS = RenderOptions(secrets_dir="/var/lib/nr/secrets")


def doc(kind: str, name: str, spec: str) -> str:
    return (f"apiVersion: notify-reconciler/v1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n"
            + textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ") + "\n")


SERVER = doc("EmailServer", "smtp", """
    host: smtp.example.com
    port: 587
    username: alerts
    passwordFile: /etc/alertmanager/smtp-password
    from: alerts@example.com
""")


def specs_of(*documents: str):
    return parse_specs({f"doc{i:02d}.yaml": d.encode() for i, d in enumerate(documents)})


def rendered(*documents: str, base: str | None = None, options: RenderOptions = OPTIONS) -> dict:
    return YAML(typ="safe").load(render_alertmanager_config(specs_of(*documents), base, options=options))


def recipients(*addresses: str) -> str:
    return "recipients:\n" + "".join(f"  - {a}\n" for a in addresses)


OPS = doc("RecipientList", "ops", "recipients: [ops@example.com]\n")
"""One list, for the tests about the server: an enabled server needs one."""


def receiver(config: dict, name: str) -> dict:
    return next(r for r in config["receivers"] if r["name"] == PREFIX + name)


def test_render_is_deterministic_whatever_the_file_order():
    lists = [doc("RecipientList", f"team-{n}", recipients(f"a{n}@example.com")) for n in range(5)]
    forward = render_alertmanager_config(specs_of(SERVER, *lists), options=OPTIONS)
    backward = render_alertmanager_config(specs_of(*reversed(lists), SERVER), options=OPTIONS)
    assert forward == backward
    assert forward == render_alertmanager_config(specs_of(SERVER, *lists), options=OPTIONS)


def test_each_list_is_one_email_config_to_all_its_recipients():
    config = rendered(SERVER, doc("RecipientList", "ops", recipients("a@example.com", "b@example.com",
                                                                     "c@example.com")))
    email_configs = receiver(config, "ops")["email_configs"]
    assert len(email_configs) == 1
    assert email_configs[0]["to"] == "a@example.com, b@example.com, c@example.com"


def test_without_base_root_route_discards_what_no_list_matches():
    config = rendered(SERVER, doc("RecipientList", "ops", recipients("a@example.com")))
    assert config["route"]["receiver"] == DISCARD_RECEIVER
    assert {"name": DISCARD_RECEIVER} in config["receivers"]
    routes = config["route"]["routes"]
    assert [r["receiver"] for r in routes] == [PREFIX + "ops"]
    assert routes[0]["continue"] is True


def test_policy_defaults_apply_when_there_is_no_policy():
    route = rendered(SERVER, doc("RecipientList", "ops", recipients("a@example.com")))["route"]["routes"][0]
    assert (route["repeat_interval"], route["group_by"], route["group_wait"], route["group_interval"]) == \
        ("12h", ["alertname"], "30s", "5m")


def test_list_overrides_win_over_the_policy():
    policy = doc("NotificationPolicy", "default", """
        repeatInterval: 6h
        groupBy: [alertname, cluster]
        groupWait: 1m
        groupInterval: 10m
        sendResolved: false
    """)
    db = doc("RecipientList", "db", recipients("d@example.com") + """
matchers: ['severity="critical"', 'team=~"db|storage"']
repeatInterval: 1h
groupBy: [alertname]
groupWait: 5s
groupInterval: 1m
sendResolved: true
""")
    web = doc("RecipientList", "web", recipients("w@example.com"))
    config = rendered(SERVER, policy, db, web)
    routes = {r["receiver"]: r for r in config["route"]["routes"]}
    assert routes[PREFIX + "db"] == {
        "receiver": PREFIX + "db", "matchers": ['severity="critical"', 'team=~"db|storage"'],
        "group_by": ["alertname"], "group_wait": "5s", "group_interval": "1m", "repeat_interval": "1h",
        "continue": True}
    assert (routes[PREFIX + "web"]["repeat_interval"], routes[PREFIX + "web"]["group_by"]) == \
        ("6h", ["alertname", "cluster"])
    assert receiver(config, "db")["email_configs"][0]["send_resolved"] is True
    assert receiver(config, "web")["email_configs"][0]["send_resolved"] is False


def test_password_file_renders_as_smtp_auth_password_file():
    glob = rendered(SERVER, doc("RecipientList", "ops", recipients("a@example.com")))["global"]
    assert glob["smtp_auth_password_file"] == "/etc/alertmanager/smtp-password"
    assert glob["smtp_auth_username"] == "alerts"
    assert "smtp_auth_password" not in glob


def test_password_env_renders_as_a_file_in_the_state_directory_never_the_value():
    server = doc("EmailServer", "smtp", """
        host: smtp.example.com
        port: 587
        username: alerts
        passwordEnv: SMTP_PASSWORD
        from: alerts@example.com
    """)
    text = render_alertmanager_config(specs_of(server, OPS), options=OPTIONS)
    glob = YAML(typ="safe").load(text)["global"]
    assert glob["smtp_auth_password_file"] == "/var/lib/nr/secrets/smtp-password-smtp"
    assert "SMTP_PASSWORD" not in text


def test_no_username_means_no_auth_keys():
    server = doc("EmailServer", "smtp", "host: 10.0.0.5\nfrom: a@example.com\n")
    glob = rendered(server, OPS)["global"]
    assert not [k for k in glob if k.startswith("smtp_auth")]
    assert glob["smtp_smarthost"] == "10.0.0.5:25"
    assert glob["smtp_require_tls"] is True


@pytest.mark.parametrize("spec, smarthost, require_tls, tls_config", [
    ("host: smtp.example.com\nport: 465\nssl: true\nfrom: a@example.com\n", "smtp.example.com:465", False, {}),
    ("host: smtp.example.com\nport: 587\nfrom: a@example.com\ntls:\n  caFile: /etc/ca.pem\n"
     "  serverName: mail.example.com\n", "smtp.example.com:587", True,
     {"ca_file": "/etc/ca.pem", "server_name": "mail.example.com"}),
    ("host: smtp.example.com\nport: 25\nstarttls: false\nfrom: a@example.com\ntls:\n  caFile: /etc/ca.pem\n",
     "smtp.example.com:25", False, None),
    ("host: smtp.example.com\nport: 465\nssl: true\nfrom: a@example.com\ntls:\n  insecureSkipVerify: true\n",
     "smtp.example.com:465", False, {"insecure_skip_verify": True}),
    ("host: '::1'\nport: 2525\nfrom: a@example.com\n", "[::1]:2525", True, {}),
])
def test_server_transport_settings(spec, smarthost, require_tls, tls_config):
    config = rendered(doc("EmailServer", "smtp", spec), doc("RecipientList", "ops", recipients("a@example.com")))
    assert config["global"]["smtp_smarthost"] == smarthost
    assert config["global"]["smtp_require_tls"] is require_tls
    email = receiver(config, "ops")["email_configs"][0]
    assert email.get("tls_config", {}) == (tls_config or {})


def test_hello_is_rendered_only_when_the_spec_names_one():
    # SPEC.md: not rendered without spec.hello (Alertmanager sends `localhost`), so a render
    # never carries the name of the machine that made it.
    assert "smtp_hello" not in rendered(SERVER, OPS)["global"]
    named = SERVER.replace("from: alerts@example.com", "from: alerts@example.com\n  hello: mx.example.com")
    assert rendered(named, OPS)["global"]["smtp_hello"] == "mx.example.com"


def test_disabled_server_renders_no_email_receivers_or_routes():
    disabled = SERVER + "  enabled: false\n"
    config = rendered(disabled, doc("RecipientList", "ops", recipients("a@example.com")))
    assert config["receivers"] == [{"name": DISCARD_RECEIVER}]
    assert "routes" not in config["route"]
    assert not any("email_configs" in r for r in config["receivers"])


def _list_of(count: int, domain: str = "example.com") -> str:
    return doc("RecipientList", "big", recipients(*(f"oncall{n}@{domain}" for n in range(count))))


def test_fifty_recipients_get_a_short_group_to_header_and_all_envelope_addresses():
    specs = specs_of(SERVER, _list_of(50))
    email = YAML(typ="safe").load(render_alertmanager_config(specs, options=OPTIONS))["receivers"][1]
    email = email["email_configs"][0]
    assert email["headers"]["To"] == "big:;"
    assert len(email["to"].split(", ")) == 50


def test_to_header_lists_recipients_while_the_line_fits():
    specs = specs_of(SERVER, doc("RecipientList", "few", recipients("a@example.com") +
                                 "  - {name: Ops Lead, email: lead@example.com}\n"))
    assert to_header(specs.lists[0]) == 'a@example.com, "Ops Lead" <lead@example.com>'


def test_to_header_never_exceeds_998_octets_at_the_boundary():
    # Find addresses whose joined header is exactly at, and one past, the limit.
    for count in range(1, 51):
        specs = specs_of(SERVER, _list_of(count, "a-long-domain-name-for-testing.example.com"))
        header = to_header(specs.lists[0])
        assert len("To: " + header) <= MAX_HEADER_LINE
        listed = ", ".join(r.email for r in specs.lists[0].recipients)
        expect_group = len("To: " + listed) > MAX_HEADER_LINE
        assert (header == "big:;") is expect_group


def test_a_name_that_is_not_ascii_is_written_as_encoded_words_alertmanager_sends_as_they_are():
    # Alertmanager Q-encodes a whole header value that is not ASCII, address and all, which no
    # mail program reads as an address; RFC 2047 encoded-words for the name alone are ASCII.
    specs = specs_of(SERVER, doc("RecipientList", "intl", "recipients:\n  - {name: Jürgen Müller, email: j@example.com}\n"
                                                          "  - {name: 'Ops, Team (24/7)', email: ops@example.com}\n"))
    assert to_header(specs.lists[0]) == ('=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <j@example.com>, '
                                         '"Ops, Team (24/7)" <ops@example.com>')


BASE = """\
# Our base config.
global:
  resolve_timeout: 5m   # default is fine
  smtp_smarthost: old.example.com:25
  smtp_auth_username: old-user

route:
  receiver: chat        # default receiver
  group_by: [alertname]
  routes:
    # pages go to the pager
    - receiver: pager
      matchers: [severity="page"]

receivers:
  - name: chat
    webhook_configs:
      - url: http://127.0.0.1:8080/   # bridge

  # the pager
  - name: pager
    webhook_configs:
      - url: http://127.0.0.1:8081/

# keep this trailing comment
inhibit_rules: []
"""


def test_base_keeps_comments_order_and_foreign_receivers():
    text = render_alertmanager_config(specs_of(SERVER, doc("RecipientList", "ops", recipients("a@example.com"))),
                                      BASE, options=OPTIONS)
    for comment in ("# Our base config.", "# default is fine", "# default receiver", "# bridge",
                    "# the pager", "# keep this trailing comment"):
        assert comment in text
    # The comment above the base's first route stays with that route, below ours.
    assert "        # pages go to the pager\n        - receiver: pager\n" in text
    assert text.index(f"- receiver: {PREFIX}ops") < text.index("# pages go to the pager")
    config = YAML(typ="safe").load(text)
    assert list(config) == ["global", "route", "receivers", "inhibit_rules"]
    assert [r["name"] for r in config["receivers"]] == ["chat", "pager", PREFIX + "ops"]
    assert config["route"]["receiver"] == "chat"
    # Our route first; then the base's own routes, as written, under one route to the root receiver.
    assert config["route"]["routes"] == [
        {"receiver": PREFIX + "ops", "group_by": ["alertname"], "group_wait": "30s", "group_interval": "5m",
         "repeat_interval": "12h", "continue": True},
        {"receiver": "chat", "routes": [{"receiver": "pager", "matchers": ['severity="page"']}]}]


def test_without_lists_the_base_routes_are_left_as_written():
    config = rendered(SERVER + "  enabled: false\n", base=BASE)
    assert [r["receiver"] for r in config["route"]["routes"]] == ["pager"]


def test_base_smtp_keys_are_replaced_not_mixed():
    glob = rendered(SERVER.replace("  username: alerts\n", "").replace(
        "  passwordFile: /etc/alertmanager/smtp-password\n", ""), OPS, base=BASE)["global"]
    assert glob["smtp_smarthost"] == "smtp.example.com:587"
    assert "smtp_auth_username" not in glob
    assert glob["resolve_timeout"] == "5m"


@pytest.mark.parametrize("enabled", [True, False])
def test_rendering_a_render_as_base_gives_the_same_bytes(enabled):
    server = SERVER if enabled else SERVER + "  enabled: false\n"
    specs = specs_of(server, doc("RecipientList", "ops", recipients("a@example.com")),
                     doc("RecipientList", "db", recipients("d@example.com") + "matchers: ['team=\"db\"']\n"))
    for base in (BASE, None, ""):
        once = render_alertmanager_config(specs, base, options=OPTIONS)
        twice = render_alertmanager_config(specs, once, options=OPTIONS)
        assert twice == once


DB_KEEPS = doc("RecipientList", "db", recipients("d@example.com") + "matchers: ['team=\"db\"']\nkeepFromBase: true\n")


def test_a_list_keeping_its_alerts_from_the_base_ends_the_walk_after_every_list():
    config = rendered(SERVER, DB_KEEPS, OPS, base=BASE)
    routes = config["route"]["routes"]
    # Every list's route first (each still gets its alerts), then one route with db's matchers
    # to the discard receiver, without continue, before the base's routes.
    assert [r["receiver"] for r in routes] == [PREFIX + "db", PREFIX + "ops", DISCARD_RECEIVER, "chat"]
    assert routes[2] == {"receiver": DISCARD_RECEIVER, "matchers": ['team="db"']}
    assert {"name": DISCARD_RECEIVER} in config["receivers"]


def test_keep_from_base_renders_over_its_own_render_and_goes_when_removed():
    specs = specs_of(SERVER, DB_KEEPS, OPS)
    once = render_alertmanager_config(specs, BASE, options=OPTIONS)
    assert render_alertmanager_config(specs, once, options=OPTIONS) == once
    plain = specs_of(SERVER, DB_KEEPS.replace("keepFromBase: true\n", ""), OPS)
    assert render_alertmanager_config(plain, once, options=OPTIONS) == \
        render_alertmanager_config(plain, BASE, options=OPTIONS)


def test_without_a_base_keep_from_base_has_nothing_to_keep_from():
    config = rendered(SERVER, DB_KEEPS)
    assert [r["receiver"] for r in config["route"]["routes"]] == [PREFIX + "db"]


ALL_MAIL = doc("RecipientList", "all-mail", recipients("all@example.com") + "catchAll: true\n")
DISCARD_BASE = BASE.replace("  receiver: chat        #", f"  receiver: {DISCARD_RECEIVER}        #", 1)


def test_a_catch_all_list_is_the_root_receiver_and_gets_no_route():
    assert DISCARD_BASE != BASE
    config = rendered(SERVER, ALL_MAIL, DB_KEEPS, base=DISCARD_BASE)
    assert config["route"]["receiver"] == PREFIX + "all-mail"
    # No route to it and no wrapper: the base's routes stay under the root, after ours.
    assert [r["receiver"] for r in config["route"]["routes"]] == [PREFIX + "db", DISCARD_RECEIVER, "pager"]
    assert receiver(config, "all-mail")["email_configs"][0]["to"] == "all@example.com"
    assert rendered(SERVER, ALL_MAIL)["route"]["receiver"] == PREFIX + "all-mail"


def test_a_catch_all_list_renders_over_its_own_render_and_goes_when_removed():
    specs = specs_of(SERVER, ALL_MAIL, OPS)
    once = render_alertmanager_config(specs, DISCARD_BASE, options=OPTIONS)
    assert render_alertmanager_config(specs, once, options=OPTIONS) == once
    without = specs_of(SERVER, OPS)
    assert render_alertmanager_config(without, once, options=OPTIONS) == \
        render_alertmanager_config(without, DISCARD_BASE, options=OPTIONS)


def test_a_catch_all_list_and_a_base_root_receiver_are_refused_together():
    with pytest.raises(BaseConfigError) as caught:
        render_alertmanager_config(specs_of(SERVER, ALL_MAIL), BASE, options=OPTIONS)
    assert "route.receiver: the root route sends to 'chat'" in str(caught.value)
    assert f"write receiver: {DISCARD_RECEIVER}" in str(caught.value)


def test_a_hand_written_root_receiver_in_our_names_is_still_refused():
    with pytest.raises(BaseConfigError):
        render_alertmanager_config(specs_of(SERVER, ALL_MAIL),
                                   "route:\n  receiver: notify-reconciler/all-mail\nreceivers: [{name: x}]\n",
                                   options=OPTIONS)


def test_a_render_over_an_old_render_drops_lists_that_were_removed():
    old = render_alertmanager_config(specs_of(SERVER, doc("RecipientList", "gone", recipients("g@example.com")),
                                              doc("RecipientList", "kept", recipients("k@example.com"))),
                                     BASE, options=OPTIONS)
    new_specs = specs_of(SERVER, doc("RecipientList", "kept", recipients("k@example.com")))
    assert render_alertmanager_config(new_specs, old, options=OPTIONS) == \
        render_alertmanager_config(new_specs, BASE, options=OPTIONS)


def test_base_without_route_gets_a_discarding_root():
    config = rendered(SERVER, doc("RecipientList", "ops", recipients("a@example.com")),
                      base="receivers:\n  - name: hook\n    webhook_configs: [{url: 'http://x/'}]\n")
    assert config["route"]["receiver"] == DISCARD_RECEIVER
    assert [r["name"] for r in config["receivers"]] == ["hook", DISCARD_RECEIVER, PREFIX + "ops"]


@pytest.mark.parametrize("base, where", [
    ("route:\n  receiver: [x\n", "base.yml:3:1"),
    ("- just\n- a list\n", "base.yml:1:1"),
    ("route: 5\n", "base.yml:1:1"),
    ("receivers: {a: 1}\n", "base.yml:1:1"),
    ("a: 1\na: 2\n", "base.yml:2:"),
])
def test_unusable_base_is_a_located_error(base, where):
    with pytest.raises(BaseConfigError) as caught:
        render_alertmanager_config(specs_of(SERVER, OPS), base, base_name="base.yml", options=OPTIONS)
    assert str(caught.value).startswith(where)


def test_secret_format_wraps_the_config():
    config_text = render_alertmanager_config(specs_of(SERVER, OPS), options=OPTIONS)
    secret = YAML(typ="safe").load(render_kubernetes_secret(config_text))
    assert secret["kind"] == "Secret" and secret["apiVersion"] == "v1"
    assert secret["metadata"]["name"] == "alertmanager-main"
    assert secret["metadata"]["namespace"] == "kubesphere-monitoring-system"
    assert secret["stringData"]["alertmanager.yaml"] == config_text
    other = YAML(typ="safe").load(render_kubernetes_secret(config_text, name="am", namespace="mon"))
    assert (other["metadata"]["name"], other["metadata"]["namespace"]) == ("am", "mon")


@pytest.mark.parametrize("value", [
    "12h", "0", "0s", "yes", "No", "on", "y", "1_000", "0x1f", "1:20", "2024-01-01", "a@example.com, b@example.com",
    'severity="critical"', "it's", "ops:;", "...", "a #b", "- x", "true", "null", "Jürgen", "tab\there", "",
])
def test_every_scalar_we_write_reads_back_as_the_same_string(value):
    from reconciler.core.emit import scalar_text as _scalar_text

    for flow in (False, True):
        text = f"k: [{_scalar_text(value, flow=True)}]\n" if flow else f"k: {_scalar_text(value)}\n"
        # YAML 1.1, as Alertmanager's go-yaml v2 reads it...
        loaded = YAML(typ="safe", pure=True)
        loaded.version = (1, 1)
        got = loaded.load(text)["k"]
        assert (got[0] if flow else got) == value
        # ...and YAML 1.2.
        got = YAML(typ="safe").load(text)["k"]
        assert (got[0] if flow else got) == value


# -- a render cache: the next render reuses unchanged lists' lines, and is the same bytes --------

def _tree(files: dict[str, str]):
    import hashlib

    return ({name: text.encode() for name, text in files.items()},
            {name: hashlib.sha1(text.encode()).hexdigest() for name, text in files.items()})


BASE_FILES = {
    "server.yaml": SERVER,
    "policy.yaml": doc("NotificationPolicy", "p", "repeatInterval: 4h\n"),
    **{f"team{n}.yaml": doc("RecipientList", f"team{n}", recipients(f"t{n}@example.com", f"u{n}@example.com"))
       for n in range(5)},
}
CHANGES = {
    "one recipient": {"team2.yaml": doc("RecipientList", "team2", recipients("new@example.com"))},
    "a list's override": {"team1.yaml": doc("RecipientList", "team1", recipients("t1@example.com") +
                                            "repeatInterval: 1h\n")},
    "the policy (every list)": {"policy.yaml": doc("NotificationPolicy", "p", "repeatInterval: 6h\n")},
    "the server's TLS (every list)": {"server.yaml": SERVER + "  tls:\n    caFile: /etc/ca.pem\n"},
    "a new list": {"team9.yaml": doc("RecipientList", "team9", recipients("n@example.com"))},
    "a renamed list": {"team3.yaml": doc("RecipientList", "team3b", recipients("t3@example.com"))},
    "e-mail disabled": {"server.yaml": SERVER + "  enabled: false\n"},
}


@pytest.mark.parametrize("base", [None, "route: {receiver: web}\nreceivers: [{name: web}]\n",
                                  "{route: {receiver: web, routes: [{receiver: web}]}, receivers: [{name: web}]}\n"],
                         ids=["no base", "flow-style route", "all flow style"])
@pytest.mark.parametrize("change", list(CHANGES))
def test_render_cache_gives_the_bytes_of_a_cold_render(change, base):
    from reconciler.specs.pipeline import ParseCache
    from reconciler.core.render import RenderCache, render_config

    parsed, cache = ParseCache(), RenderCache()
    before = parse_specs(*_tree(BASE_FILES)[:1], digests=_tree(BASE_FILES)[1], cache=parsed)
    first = render_config(before, base, options=OPTIONS, cache=cache)
    assert first.text == render_alertmanager_config(before, base, options=OPTIONS)
    files = {name: text for name, text in {**BASE_FILES, **CHANGES[change]}.items()}
    if change == "a renamed list":
        files.pop("team3.yaml")
        files["team3b.yaml"] = CHANGES[change]["team3.yaml"]
    content, digests = _tree(files)
    after = parse_specs(content, digests=digests, cache=parsed)
    warm = render_config(after, base, options=OPTIONS, cache=cache)
    assert warm.text == render_alertmanager_config(after, base, options=OPTIONS)
    assert warm.text != first.text
    assert len(cache) == len(after.lists if after.email_enabled else ())  # nothing stale is kept
    # The parts put back together are the text; each list alone is a whole config too.
    assert warm.with_lists(list(warm.lists)) == warm.text
    for part in warm.lists:
        alone = YAML(typ="safe").load(warm.with_lists([part]))
        assert [r["name"] for r in alone["receivers"]][-1] == part[1].split("name: ")[1].split("\n")[0]


# -- the base: what it may not do, said where it does it ---------------------------------------

def base_error(base: str, *documents: str) -> str:
    with pytest.raises(BaseConfigError) as caught:
        render_alertmanager_config(specs_of(*(documents or (SERVER, OPS))), base, base_name="base.yml", options=OPTIONS)
    return str(caught.value)


@pytest.mark.parametrize("base", ["route:\n  group_by: [alertname]\nreceivers: [{name: x}]\n",
                                  "route:\n  receiver: ''\nreceivers: [{name: x}]\n"])
def test_a_root_route_without_receiver_is_a_located_error(base):
    assert base_error(base) == (
        "base.yml:1:1: route: the root route has no receiver, which Alertmanager requires (it gets every alert no "
        "other route takes): add `receiver: <name>` naming one of the base's receivers")


def test_a_base_receiver_named_in_our_namespace_is_refused_not_dropped():
    base = ("route:\n  receiver: x\n  routes:\n    - receiver: x\n      routes:\n"
            "        - receiver: notify-reconciler/x\n"
            "receivers:\n  - name: x\n  - name: notify-reconciler/x\n    webhook_configs: [{url: 'http://a/'}]\n")
    assert base_error(base) == (
        "base.yml:9:5: receivers[1].name: 'notify-reconciler/x' is a name notify-reconciler keeps for the receivers "
        "it writes (notify-reconciler/<list>, notify-reconciler/discard), and this one is not one of them: give your "
        "receiver (and its routes) a name that does not start with 'notify-reconciler/'")


def test_an_email_receiver_shaped_like_ours_without_our_route_is_the_bases_and_refused():
    base = ("route: {receiver: x}\nreceivers:\n  - name: x\n  - name: notify-reconciler/ops\n    email_configs:\n"
            "      - {to: a@example.com, send_resolved: true, headers: {To: a@example.com}}\n")
    assert base_error(base).startswith("base.yml:4:5: receivers[1].name: 'notify-reconciler/ops' is a name "
                                       "notify-reconciler keeps")


@pytest.mark.parametrize("base, where", [
    ("route:\n  receiver: x\n  routes:\n    - receiver: x\n      routes:\n        - receiver: notify-reconciler/ops\n"
     "receivers: [{name: x}]\n", "base.yml:6:11: route.routes[0].routes[0].receiver: 'notify-reconciler/ops'"),
    ("route:\n  receiver: notify-reconciler/mine\nreceivers: [{name: x}]\n",
     "base.yml:2:3: route.receiver: 'notify-reconciler/mine'"),
])
def test_a_base_route_to_a_receiver_of_ours_is_refused(base, where):
    assert base_error(base) == (f"{where} is a receiver notify-reconciler writes and replaces on every render (names "
                                "starting with 'notify-reconciler/' are its own): route to a receiver of your own "
                                "instead")


def test_names_that_only_look_like_ours_are_the_bases_and_kept():
    base = ("route:\n  receiver: notify-reconciler-chat\n  routes:\n    - receiver: notify-reconcilerx\n"
            "receivers:\n  - name: notify-reconciler-chat\n  - name: notify-reconcilerx\n")
    config = rendered(SERVER, OPS, base=base)
    assert [r["name"] for r in config["receivers"]] == ["notify-reconciler-chat", "notify-reconcilerx", PREFIX + "ops"]
    assert config["route"]["routes"][-1] == {"receiver": "notify-reconciler-chat",
                                             "routes": [{"receiver": "notify-reconcilerx"}]}


def test_rendering_with_email_off_over_a_render_with_lists_gives_the_clean_base_render():
    disabled = specs_of(SERVER + "  enabled: false\n", OPS)
    earlier = render_alertmanager_config(specs_of(SERVER, OPS), BASE, options=OPTIONS)
    assert render_alertmanager_config(disabled, earlier, options=OPTIONS) == \
        render_alertmanager_config(disabled, BASE, options=OPTIONS)


@pytest.mark.parametrize("base, message", [
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", "base.yml:1:103: nesting is deeper than the 100 levels a base may have"),
    ("".join("  " * i + f"k{i}:\n" for i in range(3000)),
     "base.yml:101:201: nesting is deeper than the 100 levels a base may have"),
])
def test_a_base_python_cannot_hold_is_a_base_error_not_a_crash(base, message):
    assert base_error(base) == message


def test_a_number_python_would_refuse_to_convert_is_kept_as_written():
    # 5,000 digits: Python's int() refuses it (its 4,300-digit limit); a string field of
    # Alertmanager's reads the text, so the base keeps the text and nothing is converted.
    digits = "9" * 5000
    base = f"route:\n  receiver: x\n  routes:\n    - {{receiver: x, match: {{n: {digits}}}}}\nreceivers: [{{name: x}}]\n"
    assert f"match: {{n: {digits}}}" in render_alertmanager_config(specs_of(SERVER, OPS), base, options=OPTIONS)


def test_a_base_shared_by_aliases_is_walked_once():
    import time

    layers = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8))
    started = time.monotonic()
    render_alertmanager_config(specs_of(SERVER, OPS), layers + "route: {receiver: x}\nreceivers: [{name: x}]\n")
    assert time.monotonic() - started < 60  # 10**9 paths: walking each would take hours


def test_a_base_that_is_not_utf8_is_located():
    from reconciler.am.reading import decode_text as decode_base

    with pytest.raises(BaseConfigError) as caught:
        decode_base("route: {receiver: x}\n# café\n".encode("latin-1"), "base.yml")
    assert str(caught.value) == "base.yml:2:6: not UTF-8 text (byte 0xe9): save the base as UTF-8, as Alertmanager reads it"
    assert decode_base("# café\n".encode(), "base.yml") == "# café\n"


OLD_FORMAT_RENDER = """\
# managed by notify-reconciler: the notify-reconciler/* receivers, the routes to them and the global smtp_* keys come from the specs in git and are replaced on every render
route:
  receiver: chat
  routes:
    # managed by notify-reconciler: routes to notify-reconciler/* receivers
    - receiver: notify-reconciler/ops
      group_by: [alertname]
      group_wait: 30s
      group_interval: 5m
      repeat_interval: 12h
      continue: true
    - receiver: pager
      matchers: [severity="page"]
      continue: true
    # managed by notify-reconciler: what no route above took still reaches the root receiver
    - receiver: chat
receivers:
  - {name: chat}
  - {name: pager}
  # managed by notify-reconciler: notify-reconciler/* receivers
  - name: notify-reconciler/ops
    email_configs:
      - to: o@example.com
        send_resolved: true
        headers:
          To: o@example.com
"""
"""What renders wrote before the base's routes went under one route: a last bare route to the
root receiver, after the base's own."""


def test_a_render_over_an_old_format_render_gives_the_render_of_the_clean_base():
    clean = ("route:\n  receiver: chat\n  routes:\n    - receiver: pager\n      matchers: [severity=\"page\"]\n"
             "      continue: true\nreceivers:\n  - {name: chat}\n  - {name: pager}\n")
    specs = specs_of(SERVER, OPS)
    assert render_alertmanager_config(specs, OLD_FORMAT_RENDER, options=OPTIONS) == \
        render_alertmanager_config(specs, clean, options=OPTIONS)


# -- time windows: our time_intervals entries, and the routes that name them ---------------------

BUSINESS_HOURS = doc("TimeWindow", "business-hours", """
    location: Europe/Berlin
    weekdays: ['monday:friday']
    times: [{start: '09:00', end: '17:00'}]
""")
FREEZE = doc("TimeWindow", "freeze", """
    location: Etc/GMT+5
    daysOfMonth: [1, '-7:-1']
    months: ['november:december', 5]
    years: [2026]
""")
WINDOWED = doc("RecipientList", "office", recipients("o@example.com")
               + "activeDuring: [business-hours]\nmutedDuring: [freeze]\n")
BASE_WITH_INTERVALS = BASE.replace("inhibit_rules: []\n", """\
inhibit_rules: []
time_intervals:
  # our own nights
  - name: nights
    time_intervals:
      - times: [{start_time: '00:00', end_time: '06:00'}]   # UTC
mute_time_intervals:
  - name: old-style
    time_intervals: [{weekdays: [sunday]}]
# the end
""").replace("      matchers: [severity=\"page\"]\n",
            "      matchers: [severity=\"page\"]\n      mute_time_intervals: [nights]\n")


def test_a_time_window_renders_as_our_time_interval_and_the_lists_route_names_it():
    config = rendered(SERVER, WINDOWED, BUSINESS_HOURS, FREEZE)
    assert config["time_intervals"] == [
        {"name": PREFIX + "business-hours", "time_intervals": [
            {"times": [{"start_time": "09:00", "end_time": "17:00"}], "weekdays": ["monday:friday"],
             "location": "Europe/Berlin"}]},
        {"name": PREFIX + "freeze", "time_intervals": [
            {"days_of_month": [1, "-7:-1"], "months": ["november:december", 5], "years": [2026],
             "location": "Etc/GMT+5"}]},
    ]
    route = next(r for r in config["route"]["routes"] if r["receiver"] == PREFIX + "office")
    assert route["active_time_intervals"] == [PREFIX + "business-hours"]
    assert route["mute_time_intervals"] == [PREFIX + "freeze"]


def test_times_are_quoted_for_alertmanagers_yaml_1_1_reader():
    # Unquoted, 09:00 is the base-60 number 540 to a YAML 1.1 reader.
    text = render_alertmanager_config(specs_of(SERVER, WINDOWED, BUSINESS_HOURS, FREEZE), options=OPTIONS)
    assert "{start_time: '09:00', end_time: '17:00'}" in text
    assert "'-7:-1'" in text and "'monday:friday'" in text


def test_the_bases_own_time_intervals_stay_as_written_and_ours_follow_them():
    text = render_alertmanager_config(specs_of(SERVER, WINDOWED, BUSINESS_HOURS, FREEZE), BASE_WITH_INTERVALS,
                                      options=OPTIONS)
    config = YAML(typ="safe").load(text)
    assert [entry["name"] for entry in config["time_intervals"]] == ["nights", PREFIX + "business-hours",
                                                                     PREFIX + "freeze"]
    assert config["mute_time_intervals"] == [{"name": "old-style", "time_intervals": [{"weekdays": ["sunday"]}]}]
    assert "  # our own nights\n  - name: nights\n" in text
    assert "end_time: '06:00'}]   # UTC\n" in text
    assert text.endswith("# the end\n")


@pytest.mark.parametrize("base", [BASE, BASE_WITH_INTERVALS, None, ""])
@pytest.mark.parametrize("windows", [(BUSINESS_HOURS, FREEZE), (BUSINESS_HOURS,)], ids=["two windows", "one"])
def test_rendering_a_render_with_time_windows_as_base_gives_the_same_bytes(base, windows):
    listed = WINDOWED if len(windows) == 2 else WINDOWED.replace("  mutedDuring: [freeze]\n", "")
    specs = specs_of(SERVER, listed, *windows)
    once = render_alertmanager_config(specs, base, options=OPTIONS)
    assert render_alertmanager_config(specs, once, options=OPTIONS) == once


@pytest.mark.parametrize("base", [BASE, BASE_WITH_INTERVALS, None])
def test_a_render_over_a_render_with_windows_drops_the_windows_that_were_removed(base):
    old = render_alertmanager_config(specs_of(SERVER, WINDOWED, BUSINESS_HOURS, FREEZE), base, options=OPTIONS)
    for now in (specs_of(SERVER, OPS), specs_of(SERVER, OPS, BUSINESS_HOURS), specs_of(SERVER + "  enabled: false\n")):
        assert render_alertmanager_config(now, old, options=OPTIONS) == \
            render_alertmanager_config(now, base, options=OPTIONS)


def test_email_off_renders_no_time_intervals():
    config = rendered(SERVER + "  enabled: false\n", WINDOWED, BUSINESS_HOURS, FREEZE)
    assert "time_intervals" not in config


@pytest.mark.parametrize("base, where", [
    ("route: {receiver: x}\nreceivers: [{name: x}]\ntime_intervals:\n  - name: notify-reconciler/mine\n"
     "    time_intervals: [{weekdays: [monday]}, {weekdays: [friday]}]\n", "base.yml:4:5: time_intervals[0].name"),
    ("route: {receiver: x}\nreceivers: [{name: x}]\nmute_time_intervals:\n  - name: notify-reconciler/business-hours\n"
     "    time_intervals: [{weekdays: [monday]}]\n", "base.yml:4:5: mute_time_intervals[0].name"),
    ("route:\n  receiver: x\n  routes:\n    - receiver: x\n"
     "      active_time_intervals: [notify-reconciler/business-hours]\nreceivers: [{name: x}]\n", "base.yml:5:7: route.routes[0].active_time_intervals"),
])
def test_a_base_time_interval_in_our_namespace_is_refused_with_its_line(base, where):
    message = base_error(base, SERVER, WINDOWED, BUSINESS_HOURS, FREEZE)
    assert message.startswith(where)
    assert "time interval" in message and "receiver" not in message
