"""maxRecipientsPerMessage and delivery: perRecipient, checked with the real Alertmanager
sending to the SMTP sink: the number of transactions, the recipients of each, its To:
header, and that the union is the list with every recipient exactly once."""

from __future__ import annotations

from collections import Counter
from email import message_from_bytes
from email.policy import default

import pytest

from reconciler.specs.pipeline import parse_specs
from reconciler.core.render import render_alertmanager_config

from tests.support.alertmanager import Alertmanager
from tests.support.gitrepo import document, recipient_list, server
from tests.support.services import require_binary, wait_until
from tests.support.smtp import start_smtp_server


POLICY = document("NotificationPolicy", "p", "groupWait: 0s\ngroupInterval: 1s\n")


@pytest.fixture
def sink():
    smtp = start_smtp_server()
    yield smtp
    smtp.controller.stop()


def send_one_alert(tmp_path, files: dict[str, str], expected_messages: int, smtp) -> list:
    specs = parse_specs({name: text.encode() for name, text in files.items()})
    config = tmp_path / "alertmanager.yml"
    config.write_text(render_alertmanager_config(specs))
    am = Alertmanager(require_binary("prometheus-alertmanager"), config, tmp_path / "am").start()
    try:
        am.post_alerts([{"labels": {"alertname": "DiskFull"}}])
        received = smtp.wait_for(expected_messages)
        # Nothing more comes: the count is exact, not at least.
        wait_until(lambda: am.metric('alertmanager_notification_requests_total{integration="email"}')
                   == expected_messages, 10, "Alertmanager's count of e-mail sends")
        assert len(smtp.messages) == expected_messages
        return received
    finally:
        am.stop()


@pytest.mark.alertmanager
def test_a_recipient_cap_splits_a_list_and_mails_everyone_once(tmp_path, sink):
    seven = [f"oncall{n}@example.com" for n in range(7)]
    received = send_one_alert(tmp_path, {
        "server.yaml": server(port=sink.port) + "  maxRecipientsPerMessage: 3\n",
        "ops.yaml": recipient_list("ops", seven), "policy.yaml": POLICY}, 3, sink)
    assert sorted(len(message.recipients) for message in received) == [1, 3, 3]
    assert Counter(address for message in received for address in message.recipients) == Counter(seven)
    for message in received:  # each message's To: names its own recipients
        to = str(message_from_bytes(message.content, policy=default)["To"])
        assert sorted(address.strip() for address in to.split(",")) == sorted(message.recipients)


@pytest.mark.alertmanager
def test_per_recipient_delivery_sends_each_their_own_message(tmp_path, sink):
    four = [f"dev{n}@example.com" for n in range(4)]
    received = send_one_alert(tmp_path, {
        "server.yaml": server(port=sink.port),
        "ops.yaml": recipient_list("ops", four, delivery="perRecipient"), "policy.yaml": POLICY}, 4, sink)
    assert sorted(message.recipients[0] for message in received) == sorted(four)
    assert all(len(message.recipients) == 1 for message in received)
    for message in received:
        assert str(message_from_bytes(message.content, policy=default)["To"]) == message.recipients[0]


def test_a_bad_cap_or_delivery_is_a_located_error():
    from reconciler.errors import SpecErrors

    with pytest.raises(SpecErrors) as caught:
        parse_specs({"server.yaml": (server() + "  maxRecipientsPerMessage: 0\n").encode(),
                     "ops.yaml": recipient_list("ops", ["a@example.com"], delivery="each").encode()})
    assert [str(error) for error in caught.value.errors] == [
        "ops.yaml:8:13: spec.delivery: 'each' is not a delivery: write single (one message to the whole list) "
        "or perRecipient (one message each)",
        "server.yaml:10:28: spec.maxRecipientsPerMessage: 0 is not a recipient cap: write a whole number from 1 to "
        "1000, such as 50",
    ]


@pytest.mark.alertmanager
@pytest.mark.parametrize("extra, delivery, count", [("  maxRecipientsPerMessage: 2\n", "single", 2),
                                                    ("", "perRecipient", 3)])
def test_preview_shows_the_messages_alertmanager_sends(tmp_path, sink, capsys, extra, delivery, count):
    """A capped list of three is two messages (To: a, b and To: c), never one To: a, b, c; each
    recipient of a perRecipient list gets their own. preview says which, as Alertmanager sends them."""
    from reconciler.cli.main import main

    files = {"server.yaml": server(port=sink.port) + extra, "policy.yaml": POLICY,
             "ops.yaml": document("RecipientList", "ops", "recipients:\n  - a@example.com\n"
                                                          "  - {name: Bé Ops, email: b@example.com}\n"
                                                          f"  - c@example.com\ndelivery: {delivery}")}
    folder = tmp_path / "specs"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    assert main(["preview", str(folder), "--list", "ops", "--labels", "alertname=DiskFull",
                 "-o", str(tmp_path / "mail")]) == 0
    out = capsys.readouterr().out.splitlines()
    shown = [line.split(". To: ", 1)[1] for line in out if ". To: " in line]
    assert len(shown) == count, out
    received = send_one_alert(tmp_path, files, count, sink)
    sent = [message_from_bytes(message.content)["To"] for message in received]
    assert sorted(shown) == sorted(sent)
    assert out[2] == f"ops is sent as {len(sent)} messages, the same but for their To: ({tmp_path / 'mail'}.eml is " \
                     "the first):"
    first = message_from_bytes((tmp_path / "mail.eml").read_bytes())["To"]
    assert first == shown[0] and first != "a@example.com, =?utf-8?q?B=C3=A9_Ops?= <b@example.com>, c@example.com"


@pytest.mark.alertmanager
def test_alertmanager_opens_a_connection_for_each_message_at_once_as_validate_warns(tmp_path):
    """What validate's warning says (issue 24, case 10): the twelve messages of a perRecipient
    list are twelve SMTP connections open together (the server takes its time over each EHLO, so
    they overlap), and a server that takes five at a time turns the others away: Alertmanager's
    retries deliver them later. bench/per_recipient_connections.py measures how much later."""
    import asyncio

    async def slow_ehlo(self, server, session, envelope, hostname, responses):
        await asyncio.sleep(2)
        session.host_name = hostname
        return responses

    twelve = [f"dev{n:02d}@example.com" for n in range(12)]
    for limit in (None, 5):
        smtp = start_smtp_server(max_connections=limit, handler_extra={"handle_EHLO": slow_ehlo})
        folder = tmp_path / f"limit-{limit}"
        folder.mkdir()
        specs = parse_specs({"server.yaml": server(port=smtp.port).encode(), "policy.yaml": POLICY.encode(),
                             "ops.yaml": recipient_list("ops", twelve, delivery="perRecipient").encode()})
        (folder / "alertmanager.yml").write_text(render_alertmanager_config(specs))
        am = Alertmanager(require_binary("prometheus-alertmanager"), folder / "alertmanager.yml", folder / "am").start()
        try:
            am.post_alerts([{"labels": {"alertname": "DiskFull"}}])
            wait_until(lambda: set(twelve) <= {a for message in list(smtp.messages) for a in message.recipients}, 60,
                       "each recipient's own message")
        finally:
            am.stop()
            smtp.controller.stop()
        assert sorted(message.recipients[0] for message in smtp.messages) == twelve
        if limit is None:
            assert (smtp.most_connections, smtp.refused_connections) == (12, 0)
        else:
            assert smtp.most_connections == 5 and smtp.refused_connections >= 7
