"""model: frozen dataclasses built from schema-valid documents, defaults, per-list overrides,
and the rules that span documents or that JSON Schema cannot say."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from reconciler.errors import SpecErrors
from reconciler.yamlio.loader import load_file
from reconciler.specs.model import Recipient, Routing, TLSSettings, check_document, duration_seconds
from reconciler.specs.pipeline import ParseCache, parse_specs

HEAD = "apiVersion: notify-reconciler/v1\n"


def specs(**files: str):
    return parse_specs({f"{name}.yaml": text.encode() for name, text in files.items()})


def errors(**files: str) -> list[str]:
    with pytest.raises(SpecErrors) as caught:
        specs(**files)
    return [str(error) for error in caught.value.errors]


def server(spec: str = "", name: str = "s") -> str:
    return (f"{HEAD}kind: EmailServer\nmetadata: {{name: {name}}}\n"
            f"spec: {{host: h.example.com, from: a@example.com{spec}}}\n")


def recipient_list(name: str, spec: str = "", address: str | None = None) -> str:
    return (f"{HEAD}kind: RecipientList\nmetadata: {{name: {name}}}\n"
            f"spec: {{recipients: [{address or name + '@example.com'}]{spec}}}\n")


def policy(spec: str | None, name: str = "p") -> str:
    """A NotificationPolicy; spec=None leaves the spec out altogether."""
    text = f"{HEAD}kind: NotificationPolicy\nmetadata: {{name: {name}}}\n"
    return text if spec is None else text + f"spec: {{{spec}}}\n"


# -- EmailServer -------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, ssl, starttls", [
    ("", False, True),                                   # starttls is on unless ssl
    (", port: 587", False, True),
    (", starttls: false", False, False),                 # spelled out: plain SMTP
    (", port: 465, ssl: true", True, False),             # ssl implies no STARTTLS
    (", port: 465, ssl: true, starttls: false", True, False),
])
def test_starttls_defaults_to_true_unless_ssl(spec, ssl, starttls):
    result = specs(s=server(spec), l=recipient_list("ops")).server
    assert (result.ssl, result.starttls) == (ssl, starttls)


def test_every_server_field_reaches_the_model():
    result = specs(s=server(", port: 465, ssl: true, tls: {caFile: /ca.pem, serverName: mail.example.com, "
                            "insecureSkipVerify: true}, username: am, passwordEnv: SMTP_PASSWORD, "
                            "hello: am.example.com, enabled: false")).server
    assert (result.name, result.host, result.port, result.sender, result.username, result.password_env,
            result.password_file, result.hello, result.enabled) == (
        "s", "h.example.com", 465, "a@example.com", "am", "SMTP_PASSWORD", None, "am.example.com", False)
    assert result.tls == TLSSettings("/ca.pem", "mail.example.com", True)


def test_tls_checks_are_on_unless_spelled_out():
    assert specs(s=server(), l=recipient_list("ops")).server.tls == TLSSettings(None, None, False)
    assert specs(s=server(", tls: {caFile: /ca.pem}"), l=recipient_list("ops")).server.tls.insecure_skip_verify is False


def test_password_file_reaches_the_model():
    result = specs(s=server(", username: am, passwordFile: /etc/pw"), l=recipient_list("ops")).server
    assert (result.password_file, result.password_env) == ("/etc/pw", None)


@pytest.mark.parametrize("host, port, smarthost", [
    ("smtp.example.com", 587, "smtp.example.com:587"),
    ("10.0.0.1", 25, "10.0.0.1:25"),
    ("'2001:db8::1'", 25, "[2001:db8::1]:25"),
    ("'[2001:db8::1]'", 25, "[2001:db8::1]:25"),
])
def test_smarthost_brackets_ipv6_addresses(host, port, smarthost):
    text = (f"{HEAD}kind: EmailServer\nmetadata: {{name: s}}\n"
            f"spec: {{host: {host}, port: {port}, from: a@example.com}}\n")
    assert specs(s=text, l=recipient_list("ops")).server.smarthost == smarthost


@pytest.mark.parametrize("files, enabled", [
    ({"s": server(), "l": recipient_list("ops")}, True),
    ({"s": server(", enabled: true"), "l": recipient_list("ops")}, True),
    ({"s": server(", enabled: false")}, False),
    ({"s": server(", enabled: false"), "l": recipient_list("ops")}, False),
])
def test_email_enabled_follows_the_toggle(files, enabled):
    assert specs(**files).email_enabled is enabled


def test_an_empty_folder_is_refused_not_rendered_as_no_email():
    """Argo CD's allowEmpty, for e-mail: a commit that deletes every spec must not silence
    every notification unnoticed."""
    for files in ({}, {"p": policy("repeatInterval: 6h")}):
        where = "p.yaml:1:1" if files else "."
        assert errors(**files) == [f"{where}: no EmailServer and no RecipientList in the spec folder: an empty "
                                   "config would remove every e-mail notification; commit an EmailServer and at "
                                   "least one RecipientList (enabled: false turns e-mail off)"]


def test_an_enabled_server_needs_a_list_and_a_disabled_one_does_not():
    assert errors(s=server()) == [
        "s.yaml:1:1: kind: EmailServer 's' has e-mail enabled but there is no RecipientList, so nobody would get a "
        "mail (the daemon's own alerts included): add a RecipientList, or set spec.enabled: false to turn e-mail off"]
    result = specs(s=server(", enabled: false"))
    assert result.server is not None and result.lists == () and not result.email_enabled


@pytest.mark.parametrize("files", [
    {"s": server(), "l": "kind: [\n"},                                  # a file that does not parse
    {"s": server(), "l": recipient_list("ops", ", oops: 1")},          # a list that fails its schema
    {"s": server(), "l": recipient_list("ops").replace("RecipientList", "RecipientLsit")},  # a misspelt kind
])
def test_a_list_that_could_not_be_read_is_not_also_reported_missing(files):
    assert not any("there is no RecipientList" in line for line in errors(**files))


# -- RecipientList and routing -----------------------------------------------------------------

@pytest.mark.parametrize("policy_text, list_spec, expected", [
    # no policy: the schema's defaults
    (None, "", ("12h", ("alertname",), "30s", "5m", True)),
    # a policy without spec, or with an empty one: still the defaults
    (policy(None), "", ("12h", ("alertname",), "30s", "5m", True)),
    (policy(""), "", ("12h", ("alertname",), "30s", "5m", True)),
    # the policy over the defaults, field by field
    (policy("repeatInterval: 6h, groupWait: 1m"), "", ("6h", ("alertname",), "1m", "5m", True)),
    (policy("groupBy: ['...'], sendResolved: false"), "", ("12h", ("...",), "30s", "5m", False)),
    # the list over the policy over the defaults
    (policy("repeatInterval: 6h, groupWait: 1m"), ", repeatInterval: 1h",
     ("1h", ("alertname",), "1m", "5m", True)),
    (policy("sendResolved: false, groupBy: [a, b]"), ", sendResolved: true, groupInterval: 10m",
     ("12h", ("a", "b"), "30s", "10m", True)),
    (policy("sendResolved: true"), ", sendResolved: false, groupBy: ['...']", ("12h", ("...",), "30s", "5m", False)),
    (None, ", repeatInterval: 4h, groupWait: 0s, groupBy: [cluster]", ("4h", ("cluster",), "0s", "5m", True)),
])
def test_list_overrides_win_over_the_policy_which_wins_over_schema_defaults(policy_text, list_spec, expected):
    files = {"s": server(), "l": recipient_list("l", list_spec)}
    if policy_text is not None:
        files["p"] = policy_text
    result = specs(**files)
    routing = result.routing_for(result.lists[0])
    assert (routing.repeat_interval, routing.group_by, routing.group_wait, routing.group_interval,
            routing.send_resolved) == expected


def test_the_policy_routing_ignores_list_overrides():
    result = specs(s=server(), p=policy("repeatInterval: 6h"), l=recipient_list("l", ", repeatInterval: 1h"))
    assert result.routing.repeat_interval == "6h"
    assert result.lists[0].overrides == Routing(repeat_interval="1h")


@pytest.mark.parametrize("order", list(itertools.permutations(["team-a", "team-b", "zeta", "alpha"]))[::5])
def test_lists_are_sorted_by_name_whatever_the_file_names(order):
    # File names run opposite to the order given, so neither file nor insertion order can pass.
    files = {f"f{9 - n}-{name}": recipient_list(name) for n, name in enumerate(order)}
    assert [item.name for item in specs(s=server(), **files).lists] == ["alpha", "team-a", "team-b", "zeta"]


def test_lists_in_one_file_are_sorted_by_name_too():
    text = recipient_list("web") + "---\n" + recipient_list("db") + "---\n" + recipient_list("api")
    assert [item.name for item in specs(s=server(), l=text).lists] == ["api", "db", "web"]


def test_recipients_and_matchers_are_kept_as_written_in_order():
    text = (f"{HEAD}kind: RecipientList\nmetadata: {{name: l}}\nspec:\n  recipients:\n"
            "    - Ops@Example.com\n    - {name: Database on-call, email: db@example.com}\n"
            "    - {email: x@example.com}\n"
            "  matchers: ['severity=\"critical\"', 'team=~\"db|web\"']\n")
    result = specs(s=server(), l=text).lists[0]
    assert result.recipients == (Recipient("Ops@Example.com"), Recipient("db@example.com", "Database on-call"),
                                 Recipient("x@example.com"))
    assert result.matchers == ('severity="critical"', 'team=~"db|web"')


def test_model_objects_are_frozen():
    result = specs(s=server(), l=recipient_list("l"))
    for value in (result, result.server, result.lists[0], result.server.tls, result.lists[0].overrides):
        field = dataclasses.fields(value)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, None)


# -- rules across documents --------------------------------------------------------------------

def test_the_same_name_in_different_kinds_is_fine():
    result = specs(s=server(name="ops"), l=recipient_list("ops"), p=policy("", name="ops"))
    assert (result.server.name, result.lists[0].name, result.policy.name) == ("ops", "ops", "ops")


@pytest.mark.parametrize("files, expected", [
    ({"a": server(), "b": server(", enabled: false", name="t"), "l": recipient_list("l")},
     ["b.yaml:1:1: kind: a second EmailServer ('t'; the first is 's' at a.yaml:1:1): keep exactly one"]),
    ({"a": server(), "b": recipient_list("l"), "c": recipient_list("l", address="x@example.com")},
     ["c.yaml:3:18: metadata.name: a RecipientList named 'l' is already defined at b.yaml:3:18: names must be "
      "unique per kind"]),
    ({"a": server(), "b": server(name="s"), "l": recipient_list("l")},
     ["b.yaml:3:18: metadata.name: an EmailServer named 's' is already defined at a.yaml:3:18: names must be "
      "unique per kind"]),
    ({"l": recipient_list("l")},
     ["l.yaml:1:1: kind: RecipientList 'l' has no EmailServer to send through: add one EmailServer (with "
      "enabled: false to keep e-mail off)"]),
])
def test_rules_across_documents(files, expected):
    assert errors(**files) == expected


# -- rules JSON Schema cannot say --------------------------------------------------------------

@pytest.mark.parametrize("field, value, zero", [
    ("repeatInterval", "0s", True), ("repeatInterval", "'0'", True), ("repeatInterval", "0m0s", True),
    ("repeatInterval", "00h", True), ("repeatInterval", "0ms", True), ("groupInterval", "0h0m0s", True),
    ("repeatInterval", "1ms", False), ("groupInterval", "10s", False), ("repeatInterval", "0h1m", False),
    ("groupWait", "0s", False),  # Alertmanager allows a zero group_wait: send at once
])
def test_a_zero_repeat_or_group_interval_is_refused(field, value, zero):
    files = {"s": server(), "l": recipient_list("ops"), "p": policy(f"{field}: {value}")}
    if not zero:
        assert specs(**files).policy is not None
        return
    shown = repr(value.strip("'"))
    assert errors(**files) == [f"p.yaml:4:{10 + len(field)}: spec.{field}: {shown} is zero, which Alertmanager "
                               "refuses: use a positive duration such as 5m or 12h"]


@pytest.mark.parametrize("matcher, problem", [
    ('team=~"db|web"', None),
    ('team!~"test-.*"', None),
    ('instance=~"(?i)DB-[0-9]+"', None),
    ('job=~"(?P<name>api)"', None),
    ('team="("', None),  # not a regular expression: = and != take the value as it is
    ('instance=~"10\\.0\\.0\\.1:9100"', None),  # \. is a spurious escape: the backslash stays, Go reads \.
    ('team=~"db|("', "'db|(' is not a regular expression Alertmanager accepts (Go's regexp says 'missing closing "
                     ")'): fix the pattern after =~ or !~"),
    ('team!~"[a-"', "'[a-' is not a regular expression Alertmanager accepts (Go's regexp says 'invalid character "
                    "class range: a-)'): fix the pattern after =~ or !~"),  # Go sees ^(?:[a-)$
    ('team=~"(?=db)"', "'(?=db)' is not a regular expression Alertmanager accepts (Go's regexp says 'invalid or "
                       "unsupported Perl syntax: (?=') (Go's regexp has no look-around or back-references): fix the "
                       "pattern after =~ or !~"),
    ('team=~"(a)\\\\1"', "'(a)\\\\1' is not a regular expression Alertmanager accepts (Go's regexp says 'invalid "
                         "escape sequence: \\\\1') (Go's regexp has no look-around or back-references): fix the "
                         "pattern after =~ or !~"),
])
def test_regex_matchers_must_compile_as_alertmanager_would(matcher, problem):
    quoted = matcher.replace("'", "''")
    files = {"s": server(), "l": f"{HEAD}kind: RecipientList\nmetadata: {{name: l}}\nspec:\n  recipients: "
                                 f"[a@example.com]\n  matchers:\n    - '{quoted}'\n"}
    if problem is None:
        assert specs(**files).lists[0].matchers == (matcher,)
    else:
        assert errors(**files) == [f"l.yaml:7:7: spec.matchers[0]: {problem}"]


@pytest.mark.parametrize("text", [
    f"{HEAD}kind: RecipientList\nspec: {{recipients: a@example.com, matchers: x}}\n",
    f"{HEAD}kind: RecipientList\nspec: {{recipients: [1, [a], {{email: [x]}}, null], matchers: [1, null]}}\n",
    f"{HEAD}kind: RecipientList\nspec: [not, a, mapping]\n",
    f"{HEAD}kind: NotificationPolicy\nspec: {{repeatInterval: [0s], groupInterval: 0}}\n",
    "- a list\n",
])
def test_the_extra_rules_are_safe_on_schema_invalid_documents(text):
    docs, problems = load_file("x.yaml", text.encode())
    assert problems == []
    assert check_document(docs[0]) == []


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("5m", 300), ("12h", 43200), ("1d", 86400), ("1h30m", 5400), ("1w", 604800), ("0", 0),
    ("500ms", 0.5), ("2y", 2 * 365 * 86400), ("1m30s500ms", 90.5),
])
def test_duration_seconds(text, seconds):
    assert duration_seconds(text) == seconds


# -- the parse cache keeps all of the above while reading only what changed --------------------

def test_parse_cache_reuses_unchanged_files_and_still_reports_their_errors():
    lists = {f"l{n}.yaml": recipient_list(f"l{n}", address=f"a{n}@example.com").encode() for n in range(3)}
    files = {"s.yaml": server().encode(), **lists}
    digests = {name: f"blob-{name}-1" for name in files}
    cache = ParseCache()
    first = parse_specs(files, digests=digests, cache=cache)
    assert len(cache) == 4
    # Unchanged files need not be given again: only the changed one is.
    changed = {"l1.yaml": files["l1.yaml"].replace(b"a1@", b"b1@")}
    second = parse_specs(changed, digests={**digests, "l1.yaml": "blob-l1-2"}, cache=cache)
    assert [r.email for lst in second.lists for r in lst.recipients] == ["a0@example.com", "b1@example.com",
                                                                          "a2@example.com"]
    assert first.server == second.server
    # A broken file stays broken while its blob is unchanged, whether parsed or taken from the cache.
    broken_digests = {**digests, "l1.yaml": "blob-l1-2", "l2.yaml": "blob-l2-bad"}
    for given in ({"l2.yaml": b"kind: [\n"}, {}):
        with pytest.raises(SpecErrors) as caught:
            parse_specs(given, digests=broken_digests, cache=cache)
        assert [error.file for error in caught.value.errors] == ["l2.yaml"]
    # Removed files leave the cache.
    kept = {name: digests[name] for name in ("l0.yaml", "s.yaml")}
    parse_specs({}, digests=kept, cache=cache)
    assert sorted(cache) == sorted(kept.items())


@pytest.mark.parametrize("pattern, accepted", [
    ("db|web", True), (".*", True), ("(?i)critical", True), (r"\pL+", True), (r"\p{Greek}", True),
    ("[a-z]{2,3}", True), ("(?P<team>db)", True), (r"10\.0\.0\.1", True), (r"\Qa.b\E", True), (r"\Qa.b", False), (r"\z", True),
    (r"\_", True), (r"[\d-z]", True), ("(?)", True), ("a)|(b", True),  # Alertmanager wraps it: ^(?:a)|(b)$
    ("(?=x)", False), ("(?<!x)y", False), (r"(a)\1", False), ("(?P<t>a)(?P=t)", False), ("a*+", False),
    ("(?>ab)", False), ("db|(", False), ("[", False), (r"\Z", False),
    ("a**", False), ("x{2}{3}", False), ("(?<n>x)", False), (r"\C", False), (r"\p{Toto}", False),
    (r"\p{greek}", False), (r"\p{Cn}", False), ("x{1001}", False), ("(x{500}){3}", False), (r"[\b]", False),
    (r"\é", False), ("(?i-)x", False),
])
def test_regex_matchers_are_checked_as_go_1_19_compiles_them(pattern, accepted):
    """Python's re would accept the look-arounds, back-references, possessive and atomic
    forms, and refuse \\pL; C++ RE2 accepts a** and (?<n>); Go decides as Alertmanager does.
    tests/integration/test_matchers_amtool.py holds this equal to amtool over a corpus."""
    from reconciler.am.matchers import go_regexp_problem

    assert (go_regexp_problem("^(?:" + pattern + ")$") is None) is accepted


def test_the_default_repeat_is_the_schemas_in_one_place():
    # KubeSphere's 12 hours, said once (the NotificationPolicy schema's default): the daemon's
    # own alerts before any valid spec, and an old state file without the figure, use it too.
    from reconciler.service.state import Alerting
    from reconciler.specs.model import default_repeat_seconds, default_routing, duration_seconds

    assert default_routing().repeat_interval == "12h"
    assert default_repeat_seconds() == duration_seconds("12h") == 12 * 3600
    assert Alerting().repeat_seconds == default_repeat_seconds()
