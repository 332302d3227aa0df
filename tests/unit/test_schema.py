"""schema: the JSON Schemas are valid draft 2020-12, accept what users should write, refuse
the rest with a located message, and are the single source of the defaults."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from reconciler.errors import Location
from reconciler.yamlio.loader import load_file
from reconciler.specs.pipeline import parse_specs
from reconciler.specs.schema import (SCHEMA_FILES, load_schema, schema_default, validate_document, validate_value,
                                     validator_for)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "config-repo").glob("*.yaml"))
HEAD = "apiVersion: notify-reconciler/v1\n"


def document(text: str, name: str = "x.yaml"):
    docs, errors = load_file(name, text.encode())
    assert errors == []
    [doc] = docs
    return doc


def errors_of(text: str) -> list[str]:
    # Two keywords may give the same message (minLength and pattern on ''); a run reports it once.
    return list(dict.fromkeys(str(error) for error in validate_document(document(text))))


def server(spec: str) -> str:
    return f"{HEAD}kind: EmailServer\nmetadata:\n  name: s\nspec:\n{spec}"


def recipients(*items: str) -> str:
    lines = "".join(f"    - {item}\n" for item in items)
    return f"{HEAD}kind: RecipientList\nmetadata:\n  name: l\nspec:\n  recipients:\n{lines}"


def with_matcher(matcher: str) -> str:
    quoted = matcher.replace("'", "''")  # YAML single quotes: the matcher as written, nothing escaped
    return f"{HEAD}kind: RecipientList\nmetadata: {{name: l}}\nspec:\n  recipients: [a@example.com]\n" \
           f"  matchers:\n    - '{quoted}'\n"


# -- the schema files themselves ---------------------------------------------------------------

def test_every_schema_file_is_one_the_package_reads():
    # schema_texts reads SCHEMA_FILES (and the compiled check's digest covers them): a schema
    # file left out of that list would be missed by both.
    assert sorted(path.name for path in (ROOT / "reconciler" / "schemas").glob("*.json")) == sorted(SCHEMA_FILES)


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_each_schema_file_is_valid_draft_2020_12(name):
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_every_reference_of_each_schema_resolves(name):
    # Inlining follows every $ref; a dangling one raises KeyError here, not in front of a user.
    jsonschema.Draft202012Validator.check_schema(validator_for(name).schema)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_dispatch_schema_accepts_the_example_documents(path):
    docs, errors = load_file(path.name, path.read_bytes())
    assert errors == [] and docs
    for doc in docs:
        assert validate_value(doc, "document.json") == []
        assert validate_document(doc) == []


def test_dispatch_schema_rejects_an_unknown_kind_at_the_kind():
    errors = validate_value(document(f"{HEAD}kind: SlackChannel\nmetadata: {{name: x}}\n"), "document.json")
    assert [(e.path, e.location) for e in errors] == [("kind", Location("x.yaml", 2, 7))]
    assert "is not a known kind" in errors[0].message


def test_dispatch_schema_applies_the_kind_schema():
    errors = validate_value(document(f"{HEAD}kind: EmailServer\nmetadata: {{name: x}}\n"
                                     "spec: {host: h, from: a@example.com, port: nope}\n"), "document.json")
    assert [str(e) for e in errors] == ["x.yaml:4:44: spec.port: expected a whole number, got text 'nope'"]


# -- defaults: declared once, in the schema, and used by the model -----------------------------

MINIMAL = {
    "server.yaml": server("  host: smtp.example.com\n  from: alerts@example.com\n").encode(),
    "list.yaml": recipients("ops@example.com").encode(),
}


@pytest.mark.parametrize("schema, path, declared, used", [
    ("emailserver.json", ("spec", "port"), 25, lambda s: s.server.port),
    ("emailserver.json", ("spec", "ssl"), False, lambda s: s.server.ssl),
    ("emailserver.json", ("spec", "enabled"), True, lambda s: s.server.enabled),
    ("notificationpolicy.json", ("spec", "repeatInterval"), "12h", lambda s: s.routing_for(s.lists[0]).repeat_interval),
    ("notificationpolicy.json", ("spec", "groupBy"), ["alertname"], lambda s: list(s.routing_for(s.lists[0]).group_by)),
    ("notificationpolicy.json", ("spec", "groupWait"), "30s", lambda s: s.routing_for(s.lists[0]).group_wait),
    ("notificationpolicy.json", ("spec", "groupInterval"), "5m", lambda s: s.routing_for(s.lists[0]).group_interval),
    ("notificationpolicy.json", ("spec", "sendResolved"), True, lambda s: s.routing_for(s.lists[0]).send_resolved),
])
def test_the_model_uses_the_defaults_the_schema_declares(schema, path, declared, used):
    assert schema_default(schema, *path) == declared
    assert used(parse_specs(MINIMAL)) == declared


def test_starttls_has_no_schema_default_because_it_depends_on_ssl():
    with pytest.raises(KeyError):
        schema_default("emailserver.json", "spec", "starttls")


# -- value syntax ------------------------------------------------------------------------------

def _duration_errors(value: str) -> list[str]:
    return errors_of(f"{HEAD}kind: NotificationPolicy\nmetadata: {{name: p}}\nspec:\n  repeatInterval: '{value}'\n")


@pytest.mark.parametrize("value", ["90s", "5m", "12h", "1d", "1h30m", "1w", "0", "500ms", "2y", "0s",
                                   "1d2h3m4s5ms", "1w1d", "100h"])
def test_an_alertmanager_duration_is_accepted(value):
    assert _duration_errors(value) == []


@pytest.mark.parametrize("value", ["12 hours", "-5m", "1.5h", "5 m", "h", "1m1h", "", "5", "1H", "10sec",
                                   "1h 30m", "+5m", "5m ", "P1D", "1s1s"])
def test_anything_else_is_not_a_duration(value):
    assert _duration_errors(value) == [
        f"x.yaml:5:19: spec.repeatInterval: {value!r} is not a duration: write whole numbers with units ms, s, m, "
        "h, d, w, y, largest first, such as 30s, 5m, 12h or 1h30m"]


@pytest.mark.parametrize("address", ["a@example.com", "first.last+tag@mail.example.co.uk", "o'brien@example.ie",
                                     "ops_team-1@sub-domain.example.com", "UPPER@EXAMPLE.COM", "x@a.io",
                                     "#!$%&'*+-/=?^_`{|}~@example.com", "a.b.c@example.com", "a{b}@example.com",
                                     "x" * 64 + "@example.com"])
def test_an_email_address_is_accepted(address):
    assert errors_of(recipients(f'"{address}"')) == []


GO = "is not an e-mail address Alertmanager (Go's net/mail) accepts"
HOST = ("is not a host name mail can be delivered to; write a domain such as example.com (letters, digits and '-', "
        "parts separated by single dots)")


@pytest.mark.parametrize("address, message", [
    ("ops@@example", "is not an e-mail address: write it as name@example.com"),
    ("@example.com", "is not an e-mail address: write it as name@example.com"),
    ("a@", "is not an e-mail address: write it as name@example.com"),
    ("a@example.com,b@example.com", "is not an e-mail address: write it as name@example.com"),
    ("a@localhost", f"is not an e-mail address: 'localhost' after the '@' {HOST}"),
    ("a@-x.com", f"is not an e-mail address: '-x.com' after the '@' {HOST}"),
    ("a@x-.com", f"is not an e-mail address: 'x-.com' after the '@' {HOST}"),
    ("a@example..com", f"is not an e-mail address: 'example..com' after the '@' {HOST}"),
    ("a@ex_ample.com", f"is not an e-mail address: 'ex_ample.com' after the '@' {HOST}"),
    ("a@example.com.", f"is not an e-mail address: 'example.com.' after the '@' {HOST}"),
    ("a b@example.com", f"{GO}: the part before the '@' holds ' '; use letters, digits, dots and "
                        "!#$%&'*+-/=?^_`{|}~ only"),
    (" a@example.com", f"{GO}: the part before the '@' holds ' '; use letters, digits, dots and "
                       "!#$%&'*+-/=?^_`{|}~ only"),
    ("a(b)@example.com", f"{GO}: the part before the '@' holds '(' ')'; use letters, digits, dots and "
                         "!#$%&'*+-/=?^_`{|}~ only"),
    (".ops@example.com", f"{GO}: the part before the '@' starts with a dot; a dot may only stand between other "
                         "characters"),
    ("ops.@example.com", f"{GO}: the part before the '@' ends with a dot; a dot may only stand between other "
                         "characters"),
    ("first..last@example.com", f"{GO}: the part before the '@' has two dots in a row; a dot may only stand "
                                "between other characters"),
    ('\\"j doe\\"@example.com', "is an address Alertmanager (Go's net/mail) would pass on without its quotes, so the "
                                "server would be sent another address: use an address without quotes"),
    ("Ops <a@example.com>", "is not an e-mail address: write the bare address, or a mapping with the person's "
                            "name under name: and the address under email:"),
    ("jöhn@example.com", "is not an e-mail address a mail server without SMTPUTF8 accepts: it has characters "
                         "outside ASCII; write the domain in its xn-- form and use an ASCII mailbox name"),
    ("a{{b@example.com", "is not an e-mail address: '{{' and '}}' would be read by Alertmanager as a template; "
                         "remove them"),
    ("x" * 65 + "@example.com", "is not an e-mail address every mail server accepts: 65 characters before the '@', "
                                "more than the 64 of RFC 5321's limit; use a shorter address"),
    ("a@" + "b" * 62 + ("." + "b" * 62) * 3 + ".com", "is not an e-mail address every mail server accepts: 257 "
                                                      "characters, more than the 254 of RFC 5321's limit; use a "
                                                      "shorter address"),
    ("a@example.com\\r\\nBcc: b@example.com", "is not an e-mail address: it holds a control character (a line "
                                              "break?): write it on one line"),
    ("a@exa\\nmple.com", "is not an e-mail address: it holds a control character (a line break?): write it on one "
                         "line"),
])
def test_anything_else_is_not_an_email_address(address, message):
    shown = repr(address.replace("\\r", "\r").replace("\\n", "\n").replace('\\"', '"'))
    assert errors_of(recipients(f'"{address}"')) == [f"x.yaml:7:7: spec.recipients[0]: {shown} {message}"]


@pytest.mark.parametrize("name", ["Database on-call", "Jörg Müller", "Ops, Platform", "A (team)", "x"])
def test_a_display_name_is_accepted(name):
    assert errors_of(recipients(f'{{name: "{name}", email: a@example.com}}')) == []


# NEL (\\u0085) and LS (\\u2028) are refused by the loader already: see test_loader.
@pytest.mark.parametrize("name", ["Ops\\r\\nBcc: evil@example.net", "Ops\\nX: y", "Ops\\r", "A\\tB", "A\\u0090B",
                                  "A\\u009fB", "{{ template \\\"x\\\" }}", "a{b", "a}b", 'say \\"hi\\"',
                                  "back\\\\slash"])
def test_a_display_name_that_could_break_the_header_is_refused(name):
    [message] = errors_of(recipients(f'{{name: "{name}", email: a@example.com}}'))
    assert message.startswith("x.yaml:7:14: spec.recipients[0].name: ")
    assert message.endswith("is not a usable display name: leave out line breaks, control characters, quotes, "
                            "backslashes and braces (Alertmanager treats {{ }} as a template)")


@pytest.mark.parametrize("name, message", [
    ("x" * 101, "has more than the 100 characters a display name may have: shorten it"),
    ("", "must not be empty: write a name, or leave name out"),
])
def test_a_display_name_over_a_limit_is_told_which_limit(name, message):
    assert errors_of(recipients(f'{{name: "{name}", email: a@example.com}}')) == [
        f"x.yaml:7:14: spec.recipients[0].name: {message}"]


@pytest.mark.parametrize("matcher", ['severity="critical"', 'team=~"db|web"', 'env!="dev"', 'svc!~"test-.*"',
                                     'a = "b"', 'msg="say \\"hi\\""', '_x1="a b"', 'a=""'])
def test_an_alertmanager_matcher_is_accepted(matcher):
    assert errors_of(with_matcher(matcher)) == []


HOW = 'write label, one of = != =~ !~, and a double-quoted value, such as severity="critical" or team=~"db|web"'


@pytest.mark.parametrize("matcher", ["severity=critical", "severity='critical'", '{a="1"}', 'a="1", b=~"x|y"',
                                     'a:b="x"', 'instance=~"10\\.0\\.0\\.1:9100"', 'a="x",', 'a="1"\u00a0'])
def test_what_alertmanager_parses_is_accepted_as_alertmanager_parses_it(matcher):
    """Alertmanager 0.25 takes unquoted values, {braces}, several matchers per entry, and a
    spurious escape such as \\. as a literal backslash; so do we."""
    from reconciler.specs.model import check_document

    assert errors_of(with_matcher(matcher)) == []
    assert check_document(document(with_matcher(matcher))) == []


@pytest.mark.parametrize("matcher, message", [
    ('1abc="x"', f"'1abc=\"x\"' is not a matcher: {HOW}"),
    ('a~="x"', f"'a~=\"x\"' is not a matcher: {HOW}"),
    ('"a"="x"', f"'\"a\"=\"x\"' is not a matcher: {HOW}"),
    ('a-b="x"', f"'a-b=\"x\"' is not a matcher: {HOW}"),
    ('a\u00a0="x"', f"'a\\xa0=\"x\"' is not a matcher: {HOW}"),
    ('a=="x"', f"'a==\"x\"': the value '=\"x\"' holds a double quote that is not escaped: {HOW}"),
    ('a="x" b="y"', f"'a=\"x\" b=\"y\"': the value '\"x\" b=\"y\"' holds a double quote that is not escaped: {HOW}"),
    ('a="unterminated', f"'a=\"unterminated': the value '\"unterminated' has no closing double quote: {HOW}"),
    ('a="1",,b="2"', f"'a=\"1\",,b=\"2\"': '' is not a matcher (a comma outside double quotes starts another "
                     f"matcher): {HOW}"),
    ("", f"'' holds no matcher: {HOW}, or remove the entry"),
])
def test_what_alertmanager_refuses_is_not_a_matcher(matcher, message):
    from reconciler.specs.model import check_document

    assert errors_of(with_matcher(matcher)) == []  # the schema leaves matchers to model.check_document
    assert [str(e) for e in check_document(document(with_matcher(matcher)))] == [
        f"x.yaml:7:7: spec.matchers[0]: {message}"]


@pytest.mark.parametrize("name, valid", [
    ("a", True), ("team-db", True), ("0ops", True), ("a" * 63, True),
    ("a" * 64, False), ("Team-db", False), ("team_db", False), ("-db", False), ("db-", False),
    ("team.db", False), ("", False), ("db ops", False),
])
def test_metadata_name_is_a_dns_label(name, valid):
    errors = errors_of(f"{HEAD}kind: NotificationPolicy\nmetadata:\n  name: '{name}'\n")
    assert errors == ([] if valid else [
        f"x.yaml:4:9: metadata.name: {name!r} is not a DNS-label name: use 1 to 63 lower-case letters, digits and "
        "'-', starting and ending with a letter or digit"])


NAME_RULE = ("is not a host name or IP address: use letters, digits, '-' and '_' in parts of 1 to 63 separated by "
             "dots (not starting with '-'), such as smtp.example.com")
BRACKETS = ("is not an IPv6 address in brackets: write [2001:db8::1] or 2001:db8::1 (the brackets are optional; the "
            "port goes in port)")
NOT_IPV4 = ("is not an IPv4 address (four numbers 0 to 255, no leading zeros), and a host name does not end in a "
            "number: correct it")


@pytest.mark.parametrize("host, message", [
    ("smtp.example.com", None), ("mail", None), ("smtp.example.com.", None), ("10.0.0.1", None), ("::1", None),
    ("[::1]", None), ("[2001:db8::1]", None), ("smtp_relay.corp", None), ("fe80::1%eth0", None),
    ("smtp.example.com:587", "holds a port: write the host alone and the port in port, as host: smtp.example.com and "
                             "port: 587"),
    ("10.0.0.1:2525", "holds a port: write the host alone and the port in port, as host: 10.0.0.1 and port: 2525"),
    ("[::1]:25", "holds a port: write the host alone and the port in port, as host: '[::1]' and port: 25"),
    ("[::1", BRACKETS), ("::1]", BRACKETS), ("[smtp.example.com]", BRACKETS), ("[::1]]", BRACKETS),
    ("smtp://smtp.example.com", "is not a host name or IP address: write it without scheme or path, such as "
                                "smtp.example.com"),
    ("smtp example", NAME_RULE), ("-smtp.example.com", NAME_RULE), ("a..b", NAME_RULE),
    ("999.1.1.1", NOT_IPV4), ("10.0.0.010", NOT_IPV4), ("10.0.1", NOT_IPV4),
    ("1:2:3", "is not an IPv6 address (and a host name has no ':'): write an address such as 2001:db8::1, or a "
              "name; the port goes in port"),
])
def test_host_makes_a_smarthost_alertmanager_can_split_and_dial(host, message):
    """Alertmanager splits smtp_smarthost with Go's net.SplitHostPort: a port inside host
    ended up inside the brackets, and unbalanced brackets passed."""
    from reconciler.specs.model import check_document

    text = server(f"  host: '{host}'\n  from: a@example.com\n")
    errors = errors_of(text) + [str(e) for e in check_document(document(text))]
    assert errors == ([] if message is None else [f"x.yaml:6:9: spec.host: {host!r} {message}"])


def test_an_empty_host_is_told_it_is_empty():
    assert errors_of(server("  host: ''\n  from: a@example.com\n")) == ["x.yaml:6:9: spec.host: must not be empty"]


# -- how schema errors read --------------------------------------------------------------------

@pytest.mark.parametrize("spec, expected", [
    ("  host: h\n  from: a@example.com\n  prot: 25\n",
     "x.yaml:8:3: spec.prot: unknown field 'prot': did you mean 'port'?"),
    ("  host: h\n  from: a@example.com\n  tls: {cafile: /ca.pem}\n",
     "x.yaml:8:9: spec.tls.cafile: unknown field 'cafile': did you mean 'caFile'?"),
    ("  host: h\n  from: a@example.com\n  port: '587'\n",
     "x.yaml:8:9: spec.port: expected a whole number, got text '587'"),
    ("  host: h\n  from: a@example.com\n  port: 0\n", "x.yaml:8:9: spec.port: 0 is out of range: use 1 to 65535"),
    ("  host: h\n  from: a@example.com\n  port: 70000\n",
     "x.yaml:8:9: spec.port: 70000 is out of range: use 1 to 65535"),
    ("  host: h\n  from: a@example.com\n  ssl: yes\n  port: 25\n",
     "x.yaml:8:8: spec.ssl: expected true or false, got text 'yes'"),
    ("  host: h\n  from: a@example.com\n  enabled:\n",
     "x.yaml:8:11: spec.enabled: expected true or false, got nothing"),
    ("  from: a@example.com\n", "x.yaml:5:1: spec.host: missing required field 'host'"),
    ("  host: h\n  from: a@example.com\n  username: u\n  passwordFile: etc/pw\n",
     "x.yaml:9:17: spec.passwordFile: the value (not shown: it may be a password) is not an absolute path: "
     "passwordFile names a file on the host, such as /etc/alertmanager/smtp-password; if it is the password itself, "
     "change the password: it is in git now"),
    ("  host: h\n  from: a@example.com\n  username: u\n  passwordEnv: SMTP-PASSWORD\n",
     "x.yaml:9:16: spec.passwordEnv: the value (not shown: it may be a password) is not an environment variable "
     "name: use letters, digits and '_', such as SMTP_PASSWORD; if it is the password itself, change the password: "
     "it is in git now"),
    ("  host: h\n  from: a@example.com\n  passwordEnv: SMTP_PASSWORD\n",
     "x.yaml:8:3: spec.passwordEnv: a password needs a username: add username, or remove passwordEnv"),
    ("  host: h\n  from: a@example.com\n  username: \"u\\r\\nx\"\n",
     "x.yaml:8:13: spec.username: 'u\\r\\nx' is not a usable user name: leave out line breaks and control characters"),
    ("  host: h\n  from: a@example.com\n  hello: 'my host'\n",
     "x.yaml:8:10: spec.hello: 'my host' is not a host name for EHLO, such as alertmanager.example.com"),
    ("  host: h\n  from: a@example.com\n  password: hunter2\n",
     "x.yaml:8:3: spec.password: a plaintext password must not be committed to git: put it in a file on the host "
     "and name it with passwordFile, or in an environment variable of the daemon named by passwordEnv"),
])
def test_a_schema_error_names_the_field_and_what_to_write(spec, expected):
    assert errors_of(server(spec)) == [expected]


def test_an_unknown_field_without_a_close_match_lists_the_fields():
    [message] = errors_of(server("  host: h\n  from: a@example.com\n  zzz: 1\n"))
    assert message.startswith("x.yaml:8:3: spec.zzz: unknown field 'zzz': the fields here are ")
    assert "host" in message and "starttls" in message


def test_a_conditional_rule_reports_its_innermost_reason_at_the_value():
    assert errors_of(server("  host: h\n  from: a@example.com\n  ssl: true\n  port: 587\n")) == [
        "x.yaml:9:9: spec.port: ssl: true needs port: 465: Alertmanager speaks implicit TLS on port 465 only and "
        "STARTTLS everywhere else (use starttls: true on this port instead)"]


@pytest.mark.parametrize("text, expected", [
    ("kind: EmailServer\nmetadata: {name: x}\nspec: {host: h, from: a@example.com}\n",
     "x.yaml:1:1: apiVersion: missing required field 'apiVersion': add apiVersion: notify-reconciler/v1"),
    (f"{HEAD}metadata: {{name: x}}\n",
     "x.yaml:1:1: kind: missing kind: add one of EmailServer, RecipientList, NotificationPolicy, TimeWindow"),
    (f"{HEAD}kind: Slack\n",
     "x.yaml:2:7: kind: 'Slack' is not a known kind: use one of EmailServer, RecipientList, NotificationPolicy, TimeWindow"),
    ("apiVersion: v1\nkind: EmailServer\n",
     "x.yaml:1:13: apiVersion: 'v1' is not a known apiVersion: use notify-reconciler/v1"),
    (f"{HEAD}kind: RecipientList\nmetadata: {{name: x}}\n", "x.yaml:1:1: spec: missing required field 'spec'"),
    (f"{HEAD}kind: RecipientList\nmetadata: {{}}\nspec: {{recipients: [a@example.com]}}\n",
     "x.yaml:3:1: metadata.name: missing required field 'name'"),
])
def test_document_level_errors_are_located(text, expected):
    assert errors_of(text) == [expected]


def test_a_policy_needs_no_spec():
    assert errors_of(f"{HEAD}kind: NotificationPolicy\nmetadata: {{name: p}}\n") == []


@pytest.mark.parametrize("kind, shown", [("[EmailServer]", "a list is not a kind"), ("{a: b}", "a mapping is not a kind"),
                                         ("5", "5 is not a kind"), ("true", "true is not a kind"),
                                         ("~", "nothing is not a kind")])
def test_a_kind_that_is_not_text_is_a_located_error(kind, shown):
    [error] = errors_of(f"{HEAD}kind: {kind}\nmetadata: {{name: s}}\nspec: {{}}\n")
    assert error.startswith(f"x.yaml:2:7: kind: {shown}: use one of EmailServer")


@pytest.mark.parametrize("port", ["25.0", "587.5", "1e2", "true", "'25'"])
def test_port_must_be_a_whole_number_written_as_one(port):
    [error] = errors_of(server(f"  host: h\n  port: {port}\n  starttls: false\n  from: a@example.com\n"))
    assert "spec.port: expected a whole number" in error


def test_every_unknown_field_is_reported_at_its_own_line():
    errors = errors_of(server("  colour: red\n  host: h\n  port: 25\n  starttls: false\n  from: a@example.com\n"
                              "  flavour: mint\n"))
    assert [e.split(": ")[0] for e in errors] == ["x.yaml:6:3", "x.yaml:11:3"]
    assert "unknown field 'colour'" in errors[0] and "unknown field 'flavour'" in errors[1]


@pytest.mark.parametrize("items, message", [
    ((), "spec.recipients: needs at least one recipient"),
    (tuple(f"a{n}@example.com" for n in range(51)), "spec.recipients: holds at most 50 recipients"),
    (("{name: Bob}",), "spec.recipients[0].email: a recipient written as a mapping needs email"),
    (("[a@example.com]",), "spec.recipients[0]: a list is not a recipient: write an address, or a mapping"),
])
def test_recipient_list_messages_fit_the_mistake(items, message):
    text = recipients(*items) if items else recipients().replace("recipients:\n", "recipients: []\n")
    assert any(message in error for error in errors_of(text)), errors_of(text)


@pytest.mark.parametrize("field", ["passwordFile", "passwordEnv"])
@pytest.mark.parametrize("value", ["'hunter2-Sekr3t!'", "'S3cr3t pass'", "8675309", "'hunter2/Sekr3t'", "''",
                                   "[hunter2Sekr3t]", "{hunter2Sekr3t: 1}", "'hunter2\\u00e9Sekr3t'"])
def test_a_password_pasted_into_password_file_or_env_is_never_printed(field, value):
    """Any schema error of these two fields says where and what to do, never the value."""
    text = server(f"  host: h\n  from: a@example.com\n  username: u\n  {field}: {value}\n")
    errors = errors_of(text)
    secret = value.strip("'[]{}: 1").replace("\\u00e9", "\u00e9")
    assert errors and all(f"spec.{field}" in error for error in errors)
    if secret:
        assert not any(secret in error or secret[:5] in error for error in errors), errors


def test_the_matcher_limits_are_named():
    long_one = 'a=~"' + "x" * 1100 + '"'
    assert errors_of(with_matcher(long_one)) == [
        "x.yaml:7:7: spec.matchers[0]: has more than the 1024 characters a matcher may have: shorten it, or split "
        "it into several matchers"]
    many = "".join(f"    - 'a{n}=\"x\"'\n" for n in range(51))
    text = f"{HEAD}kind: RecipientList\nmetadata: {{name: l}}\nspec:\n  recipients: [a@example.com]\n  matchers:\n{many}"
    assert errors_of(text) == [
        "x.yaml:7:5: spec.matchers: holds more than the 50 matchers a list may have: a list needs only a few; join "
        "values into one regex such as team=~\"db|web\""]
