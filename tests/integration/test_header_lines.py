"""Header lines as the real Alertmanager 0.25 writes them, against what validate and the render
predict (reconciler/specs/headers.py): it writes each header on one line, never folded, and Q-encodes
a value that is not printable ASCII (Go's mime.QEncoding), so a line can pass the 998 octets a
strict server takes while Alertmanager logs success.

- Subjects generated around the limit (ASCII, '=?_', two-, three- and four-byte characters)
  are sent through Alertmanager to a server that takes long lines: each Subject: line that
  arrives is exactly as long as predicted, and validate refuses exactly those over 998.
- Display names generated from the characters a name may hold (ASCII specials, accents, CJK,
  emoji, up to the 100 characters a name may have), in every delivery mode, arrive at a strict
  server in a To: header that names each recipient with their own name and address (or, for a
  list whose header would not fit, the group `<list>:;`)."""

from __future__ import annotations

import json
import random
import textwrap
from email import message_from_bytes
from email.header import decode_header, make_header
from email.policy import default
from email.utils import getaddresses

import pytest

from reconciler.errors import SpecErrors
from reconciler.specs.headers import MAX_HEADER_LINE, line_octets
from reconciler.specs.pipeline import parse_specs
from reconciler.core.render import render_alertmanager_config

from tests.support.alertmanager import Alertmanager
from tests.support.gitrepo import document, server
from tests.support.services import require_binary, wait_until
from tests.support.smtp import start_smtp_server


POLICY = document("NotificationPolicy", "p", "groupWait: 0s\ngroupInterval: 1m\nrepeatInterval: 1h\n")
ALPHABETS = {
    "ascii": "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!#$%&'()*+-/<>@[]^`|~",
    "specials": "=?_ ",
    "latin": "äöüßéèçñÅØ ",
    "cjk": "日本語警報障害発生 ",
    "emoji": "🔥🚨💥 ",
    "mixed": "abc äö日🔥=?_ ,",
}


def generated_subjects(rng: random.Random) -> list[str]:
    """For each alphabet: subjects whose Subject: line ends just below, at, and just past 998
    octets (grown a character at a time), and one short one."""
    subjects = []
    for alphabet in ALPHABETS.values():
        for target in (rng.randint(900, 997), MAX_HEADER_LINE, MAX_HEADER_LINE + 1, rng.randint(999, 1400)):
            text = rng.choice(alphabet.strip())
            while line_octets("Subject", text) < target and len(text) < 1024:
                text += rng.choice(alphabet)
            subjects.append(text.rstrip() or "x")
        subjects.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))).strip() or "y")
    return subjects


def raw_header_lines(content: bytes) -> list[bytes]:
    head = content.split(b"\r\n\r\n", 1)[0]
    return head.split(b"\r\n")


@pytest.fixture
def alertmanager_sending(tmp_path):
    """start(config_text) -> a running Alertmanager with that config, stopped after the test."""
    started = []

    def start(text: str) -> Alertmanager:
        config = tmp_path / f"alertmanager-{len(started)}.yml"
        config.write_text(text)
        am = Alertmanager(require_binary("prometheus-alertmanager"), config, tmp_path / f"am-{len(started)}").start()
        started.append(am)
        return am

    yield start
    for am in started:
        am.stop()


@pytest.mark.alertmanager
def test_each_subject_line_alertmanager_writes_is_as_long_as_predicted_and_validate_refuses_those_too_long(
        alertmanager_sending):
    rng = random.Random(24)
    subjects = generated_subjects(rng)
    sink = start_smtp_server(line_length_limit=100_000)  # to see every line as Alertmanager writes it
    try:
        receivers = [{"name": "none"}] + [
            {"name": f"s{index}", "email_configs": [{"to": f"s{index}@example.com", "headers": {"Subject": subject},
                                                    "send_resolved": False}]}
            for index, subject in enumerate(subjects)]
        config = {
            "global": {"smtp_smarthost": f"127.0.0.1:{sink.port}", "smtp_from": "am@example.com",
                       "smtp_require_tls": False},
            "route": {"receiver": "none", "group_wait": "0s",
                      "routes": [{"receiver": f"s{index}", "continue": True} for index in range(len(subjects))]},
            "receivers": receivers}
        # JSON is YAML and says every string exactly (as UTF-8: Go's YAML refuses JSON's surrogate pairs).
        am = alertmanager_sending(json.dumps(config, ensure_ascii=False))
        am.post_alerts([{"labels": {"alertname": "HeaderLines"}}])
        wanted = {f"s{index}@example.com" for index in range(len(subjects))}
        wait_until(lambda: wanted <= {address for message in list(sink.messages) for address in message.recipients},
                   30, f"a mail to each of the {len(subjects)} receivers")
    finally:
        sink.controller.stop()
    by_recipient = {message.recipients[0]: message for message in sink.messages}
    for index, subject in enumerate(subjects):
        message = by_recipient[f"s{index}@example.com"]
        lines = [line for line in raw_header_lines(message.content) if line.startswith(b"Subject: ")]
        assert len(lines) == 1, lines
        assert len(lines[0]) == line_octets("Subject", subject), (subject, lines[0][:200])
        assert str(message_from_bytes(message.content, policy=default)["Subject"]) == subject

    # validate's verdict on each, as a list's subject: refused exactly when the line would not fit.
    for subject in subjects:
        spec = "recipients: [ops@example.com]\nsubject: " + json.dumps(subject, ensure_ascii=False)
        files = {"server.yaml": server(), "ops.yaml": document("RecipientList", "ops", spec)}
        try:
            parse_specs({name: text.encode() for name, text in files.items()})
            refused = ""
        except SpecErrors as exc:
            refused = str(exc.errors[0])
            assert refused.startswith("ops.yaml:7:12: spec.subject: the Subject: line Alertmanager writes would be ")
            assert f"more than the {MAX_HEADER_LINE} a line of mail may have" in refused
        assert bool(refused) is (line_octets("Subject", subject) > MAX_HEADER_LINE), (subject, refused)


def generated_name(rng: random.Random, length: int | None = None) -> str:
    """A display name the schema takes: no quotes, backslashes, braces or control characters."""
    alphabet = rng.choice(list(ALPHABETS.values()))
    text = "".join(rng.choice(alphabet) for _ in range(length or rng.randint(1, 30))).strip()
    return text or "x"


def list_spec(name: str, people: list[tuple[str, str]], **extra: str) -> str:
    lines = ["recipients:"] + [f"  - {{name: {json.dumps(who, ensure_ascii=False)}, email: {address}}}"
                               for who, address in people]
    lines += [f"{key}: {value}" for key, value in extra.items()]
    return document("RecipientList", name, "\n".join(lines))


@pytest.mark.alertmanager
def test_every_recipient_is_named_in_to_with_their_own_name_as_alertmanager_sends_it(alertmanager_sending):
    rng = random.Random(8)
    each = [(generated_name(rng), f"each{n}@example.com") for n in range(8)]
    each.append(("🔥" * 100, "longest@example.com"))  # 1,300 octets encoded: the address alone
    each.append(("Jürgen Müller (Ops, 24/7)", "juergen@example.com"))
    team = [(generated_name(rng), f"team{n}@example.com") for n in range(5)]
    crowd = [(generated_name(rng, 60), f"crowd{n}@example.com") for n in range(30)]
    capped = [(generated_name(rng), f"capped{n}@example.com") for n in range(5)]
    sink = start_smtp_server()  # strict: 1,000 octets a line with its CRLF
    try:
        folders = [
            {"server.yaml": server(port=sink.port), "policy.yaml": POLICY,
             "each.yaml": list_spec("each", each, delivery="perRecipient"), "team.yaml": list_spec("team", team),
             "crowd.yaml": list_spec("crowd", crowd)},
            {"server.yaml": server(port=sink.port) + "  maxRecipientsPerMessage: 2\n", "policy.yaml": POLICY,
             "capped.yaml": list_spec("capped", capped)}]
        for files in folders:
            specs = parse_specs({name: text.encode() for name, text in files.items()})
            alertmanager_sending(render_alertmanager_config(specs)).post_alerts([{"labels": {"alertname": "To"}}])
        everyone = {address for _, address in each + team + crowd + capped}
        wait_until(lambda: everyone <= {address for message in list(sink.messages) for address in message.recipients},
                   30, "a mail to every recipient")
    finally:
        sink.controller.stop()

    names = dict((address, who) for who, address in each + team + crowd + capped)
    for message in sink.messages:
        assert max(len(line) for line in message.content.split(b"\r\n")) <= MAX_HEADER_LINE
        to = message_from_bytes(message.content)["To"]
        if message.recipients[0].startswith("crowd"):
            assert to == "crowd:;"  # 30 names of 60 characters do not fit one line
            continue
        assert sorted(addresses(to)) == sorted((names[address] if address != "longest@example.com" else "", address)
                                               for address in message.recipients), textwrap.shorten(to, 300)


def addresses(header: str) -> list[tuple[str, str]]:
    """(display name, address) of each mailbox, the names decoded as RFC 2047 says: the space
    between two encoded-words is not part of the text. (Python's newer header parser keeps it
    inside a phrase; its decode_header, like mail programs, does not.)"""
    return [(str(make_header(decode_header(name))), address) for name, address in getaddresses([header])]


@pytest.mark.alertmanager
def test_a_subject_template_is_measured_as_it_renders_with_alertmanagers_example_data(tmp_path, capsys):
    from reconciler.cli.main import main

    require_binary("amtool")
    # amtool's example data has the status 'alertstatus': ALERTSTATUS and 980 characters, a line of 1,001 octets.
    long = "{{ .Status | toUpper }} " + "y" * 980
    short = "{{ .Status | toUpper }} " + "y" * 975  # 996
    (tmp_path / "server.yaml").write_text(server())
    for name, subject in (("long", long), ("short", short)):
        (tmp_path / f"{name}.yaml").write_text(document("RecipientList", name, f"recipients: [{name}@example.com]\n"
                                                                                f"subject: '{subject}'"))
    assert main(["validate", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"{tmp_path}/long.yaml:7:12: spec.subject: rendered with Alertmanager's example data, the Subject: line "
        "Alertmanager writes would be 1,001 octets (Alertmanager 0.25 never folds a header), more than the 998 a "
        "line of mail may have: a strict mail server refuses the whole message, and Alertmanager counts it as sent; "
        "shorten it\n")
