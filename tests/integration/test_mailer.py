"""mailer: real SMTP over plain, STARTTLS and implicit TLS (aiosmtpd, trustme certificates)."""

from __future__ import annotations

import ssl

import pytest
import trustme

from reconciler.io.outbox import Outbox
from reconciler.io.smtp import PermanentMailError, TemporaryMailError, read_password, send
from reconciler.specs.model import EmailServer, TLSSettings

from tests.support.audit import SECRET
from tests.support.services import free_port
from tests.support.smtp import start_smtp_server


PASSWORD = SECRET  # the suite-wide audit looks for it (tests/support/audit.py)
MESSAGE = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def server_context(ca) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def servers():
    started = []

    def start(**options):
        smtp = start_smtp_server(**options)
        started.append(smtp)
        return smtp

    yield start
    for smtp in started:
        smtp.controller.stop()


def email_server(port: int, *, ssl_: bool = False, starttls: bool = False, ca_file: str | None = None,
                 insecure: bool = False, username: str | None = None, password_file: str | None = None,
                 server_name: str | None = None, password_env: str | None = None,
                 host: str = "127.0.0.1") -> EmailServer:
    return EmailServer(name="smtp", host=host, port=port, ssl=ssl_, starttls=starttls,
                       tls=TLSSettings(ca_file, server_name, insecure), sender="a@example.com",
                       username=username, password_file=password_file, password_env=password_env)


def test_plain(servers):
    smtp = servers()
    delivery = send(email_server(smtp.port), None, "a@example.com", ["b@example.com", "c@example.com"], MESSAGE)
    assert delivery.accepted == ("b@example.com", "c@example.com")
    assert smtp.wait_for(1)[0].recipients == ["b@example.com", "c@example.com"]
    assert "(plain)" in delivery.transcript[0]


def test_starttls_with_the_ca_file(servers, server_context, ca_file):
    smtp = servers(tls_context=server_context, require_starttls=True)
    delivery = send(email_server(smtp.port, starttls=True, ca_file=ca_file), None, "a@example.com",
                    ["b@example.com"], MESSAGE)
    assert smtp.wait_for(1)
    assert any(line.startswith("STARTTLS: TLSv1.") and "verified for 127.0.0.1" in line for line in delivery.transcript)


def test_implicit_tls(servers, server_context, ca_file):
    smtp = servers(implicit_tls=server_context)
    delivery = send(email_server(smtp.port, ssl_=True, ca_file=ca_file, server_name="localhost"), None,
                    "a@example.com", ["b@example.com"], MESSAGE)
    assert smtp.wait_for(1)
    assert "implicit TLS" in delivery.transcript[0] and "verified for localhost" in delivery.transcript[0]


def test_a_wrong_ca_fails_clearly(servers, server_context, tmp_path):
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    smtp = servers(tls_context=server_context)
    with pytest.raises(PermanentMailError, match=r"certificate of 127\.0\.0\.1:\d+ is not trusted .*set tls.caFile"):
        send(email_server(smtp.port, starttls=True, ca_file=str(other)), None, "a@example.com",
             ["b@example.com"], MESSAGE)
    assert smtp.messages == []


def test_insecure_skip_verify_accepts_any_certificate_when_spelled_out(servers, server_context):
    smtp = servers(tls_context=server_context)
    delivery = send(email_server(smtp.port, starttls=True, insecure=True), None, "a@example.com",
                    ["b@example.com"], MESSAGE)
    assert smtp.wait_for(1)
    assert any("not checked (insecureSkipVerify)" in line for line in delivery.transcript)


def test_starttls_required_but_not_offered_is_refused(servers):
    smtp = servers()
    with pytest.raises(PermanentMailError, match="does not offer STARTTLS.*starttls: false"):
        send(email_server(smtp.port, starttls=True), None, "a@example.com", ["b@example.com"], MESSAGE)


def test_auth_success_and_failure_without_leaking_the_password(servers, server_context, ca_file, tmp_path):
    smtp = servers(tls_context=server_context, credentials=("alerts", PASSWORD))
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    server = email_server(smtp.port, starttls=True, ca_file=ca_file, username="alerts",
                          password_file=str(password_file))
    password = read_password(server, {})
    assert password == PASSWORD
    delivery = send(server, password, "a@example.com", ["b@example.com"], MESSAGE)
    assert "AUTH as alerts: accepted" in delivery.transcript
    assert PASSWORD not in repr(delivery)
    with pytest.raises(PermanentMailError, match="AUTH as alerts refused: 535") as caught:
        send(server, "wrong", "a@example.com", ["b@example.com"], MESSAGE)
    assert "wrong" not in str(caught.value) and PASSWORD not in str(caught.value)
    assert f"check the username and the password (in passwordFile {password_file})" in str(caught.value)
    from_env = email_server(smtp.port, starttls=True, ca_file=ca_file, username="alerts", password_env="SMTP_PW")
    with pytest.raises(PermanentMailError, match="in the daemon's environment variable SMTP_PW \\(passwordEnv\\)"):
        send(from_env, "wrong", "a@example.com", ["b@example.com"], MESSAGE)


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_no_password_goes_in_clear_to_a_host_that_is_not_localhost(servers, mechanism):
    """Go's smtp.PlainAuth sends a password without TLS only to a server named localhost,
    127.0.0.1 or ::1; 127.0.0.2 is loopback too, but not by that name. The mailer holds every
    password-carrying mechanism to that rule: the server sees no AUTH and no mail, and the
    error says what to change (the outbox then tries the fallback)."""
    other = "LOGIN" if mechanism == "PLAIN" else "PLAIN"
    smtp = servers(hostname="127.0.0.2", credentials=("alerts", PASSWORD), auth_require_tls=False,
                   auth_exclude=(other,))
    server = email_server(smtp.port, host="127.0.0.2", username="alerts", password_env="SMTP_PW")
    with pytest.raises(PermanentMailError) as caught:
        send(server, PASSWORD, "a@example.com", ["b@example.com"], MESSAGE)
    assert str(caught.value) == (
        f"127.0.0.2:{smtp.port} offers AUTH on an unencrypted connection, and the password of alerts is sent "
        "without TLS only to localhost, 127.0.0.1 or ::1 (Go's smtp.PlainAuth, and so Alertmanager, refuses too): "
        "set starttls: true, or ssl: true on port 465")
    assert smtp.logins == [] and smtp.messages == []


def test_a_password_may_go_in_clear_to_127_0_0_1_as_go_allows(servers):
    smtp = servers(credentials=("alerts", PASSWORD), auth_require_tls=False, auth_exclude=("LOGIN",))
    server = email_server(smtp.port, username="alerts", password_env="SMTP_PW")
    delivery = send(server, PASSWORD, "a@example.com", ["b@example.com"], MESSAGE)
    assert "AUTH as alerts: accepted" in delivery.transcript
    assert [(login.mechanism, login.login) for login in smtp.logins] == [("PLAIN", "alerts")]


def test_one_refused_recipient_does_not_stop_the_others(servers):
    smtp = servers(refuse=frozenset({"gone@example.com"}))
    delivery = send(email_server(smtp.port), None, "a@example.com", ["b@example.com", "gone@example.com"], MESSAGE)
    assert delivery.accepted == ("b@example.com",)
    assert delivery.refused == {"gone@example.com": "550 5.1.1 no such mailbox here"}
    assert smtp.wait_for(1)[0].recipients == ["b@example.com"]


def test_every_recipient_refused_is_permanent(servers):
    smtp = servers(refuse=frozenset({"gone@example.com"}))
    with pytest.raises(PermanentMailError, match="every recipient was refused: gone@example.com: 550"):
        send(email_server(smtp.port), None, "a@example.com", ["gone@example.com"], MESSAGE)


def test_server_down_is_temporary():
    with pytest.raises(TemporaryMailError, match="cannot talk to 127.0.0.1"):
        send(email_server(free_port()), None, "a@example.com", ["b@example.com"], MESSAGE)


def test_outbox_keeps_mail_through_an_outage_and_a_restart(servers, tmp_path):
    port = free_port()
    server = email_server(port)
    outbox = Outbox(tmp_path / "outbox")
    letter = outbox.put("a@example.com", ["b@example.com"], MESSAGE, "hi", now=1000.0)
    assert (tmp_path / "outbox" / f"{letter.id}.json").exists()

    def transport(item):
        return send(server, None, item.sender, item.recipients, item.message.encode())

    report = outbox.deliver(transport, now=1000.0, sleep=lambda _: None)
    assert [item.id for item in report.deferred] == [letter.id]
    waiting = Outbox(tmp_path / "outbox").pending()  # a restarted daemon sees it
    assert [(item.id, item.attempts) for item in waiting] == [(letter.id, 1)]
    assert "cannot talk to" in waiting[0].last_error
    assert Outbox(tmp_path / "outbox").deliver(transport, now=1001.0).waiting  # backing off: not yet due

    smtp = servers(port=port)
    report = Outbox(tmp_path / "outbox").deliver(transport, now=waiting[0].next_attempt)
    assert [item.id for item in report.sent] == [letter.id]
    assert smtp.wait_for(1)[0].content.replace(b"\r\n", b"\n") == MESSAGE.replace(b"\r\n", b"\n")
    assert Outbox(tmp_path / "outbox").pending() == []


def test_outbox_backs_off_as_one_queue_and_sends_in_order_when_the_server_returns(servers, tmp_path):
    port = free_port()
    outbox = Outbox(tmp_path / "outbox")

    def transport(item):
        return send(email_server(port), None, item.sender, item.recipients, item.message.encode())

    def deliver(now):
        return outbox.deliver(transport, now=now, sleep=lambda _: None)

    outbox.put("a@example.com", ["b@example.com"], MESSAGE.replace(b"hi", b"firing"), "firing", now=0.0)
    first = deliver(0.0)
    assert [item.subject for item in first.deferred] == ["firing"]
    # The wait doubles per failed try, and never grows past MAX_BACKOFF.
    waits, now = [], 0.0
    for _ in range(5):
        now = outbox.pending()[0].next_attempt
        report = deliver(now)
        waits.append(report.deferred[0].next_attempt - now)
    assert waits == [20.0, 40.0, Outbox.MAX_BACKOFF, Outbox.MAX_BACKOFF, Outbox.MAX_BACKOFF]
    assert deliver(now + 1).waiting and not deliver(now + 1).deferred  # backing off: nothing tried

    # A new letter is due at once: the queue is tried, oldest first, and both wait together.
    outbox.put("a@example.com", ["b@example.com"], MESSAGE.replace(b"hi", b"resolved"), "resolved", now=now + 2)
    report = deliver(now + 2)
    assert [item.subject for item in report.deferred] == ["firing"]
    assert [item.subject for item in report.waiting] == ["resolved"]
    assert len({item.next_attempt for item in outbox.pending()}) == 1

    smtp = servers(port=port)
    report = deliver(outbox.pending()[0].next_attempt)
    assert [item.subject for item in report.sent] == ["firing", "resolved"]
    assert [m.content.split(b"Subject: ")[1][:8] for m in smtp.wait_for(2)] == [b"firing\r\n", b"resolved"]
    assert outbox.pending() == []


def test_letters_put_in_the_same_millisecond_keep_their_order(tmp_path):
    outbox = Outbox(tmp_path / "outbox")
    subjects = [f"letter {n}" for n in range(30)]
    for subject in subjects:
        outbox.put("a@example.com", ["b@example.com"], MESSAGE, subject, now=1000.0)
    assert [letter.subject for letter in Outbox(tmp_path / "outbox").pending()] == subjects


def test_outbox_on_an_unwritable_disk_sends_from_memory_and_stores_once_it_can(servers, tmp_path):
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state folder should be: every write under it fails\n")
    outbox = Outbox(blocker / "outbox")
    port = free_port()

    def deliver(now):
        return outbox.deliver(lambda item: send(email_server(port), None, item.sender, item.recipients,
                                                item.message.encode()), now=now, sleep=lambda _: None)

    outbox.put("a@example.com", ["b@example.com"], MESSAGE.replace(b"hi", b"first"), "first", now=0.0)
    report = deliver(0.0)  # the SMTP server is down too
    assert [item.subject for item in report.deferred] == ["first"]
    assert any("kept in memory and sent anyway" in problem for problem in report.unrecorded)
    assert [(item.subject, item.attempts) for item in outbox.pending()] == [("first", 1)]
    assert deliver(1.0).waiting  # the back-off holds without a file

    blocker.unlink()  # the disk is usable again: the letter is stored, still waiting
    assert deliver(2.0).waiting
    [stored] = Outbox(blocker / "outbox").pending()  # what a restart would find
    assert (stored.subject, stored.attempts) == ("first", 1)

    smtp = servers(port=port)
    report = deliver(stored.next_attempt)
    assert [item.subject for item in report.sent] == ["first"] and report.unrecorded == []
    assert len(smtp.wait_for(1)) == 1 and list((blocker / "outbox").glob("*.json")) == []


def test_outbox_gives_up_on_a_permanent_failure_and_keeps_it_for_status(servers, tmp_path):
    smtp = servers(refuse=frozenset({"gone@example.com"}))
    outbox = Outbox(tmp_path / "outbox")
    outbox.put("a@example.com", ["gone@example.com"], MESSAGE, "hi", now=1.0)
    report = outbox.deliver(lambda item: send(email_server(smtp.port), None, item.sender, item.recipients,
                                              item.message.encode()), now=1.0)
    assert len(report.failed) == 1 and outbox.pending() == []
    assert "550" in outbox.failed()[0].last_error


def test_outbox_records_a_recipient_refused_while_the_others_got_it(servers, tmp_path):
    smtp = servers(refuse=frozenset({"gone@example.com"}))
    outbox = Outbox(tmp_path / "outbox")
    outbox.put("a@example.com", ["b@example.com", "gone@example.com"], MESSAGE, "hi", now=1.0)
    report = outbox.deliver(lambda item: send(email_server(smtp.port), None, item.sender, item.recipients,
                                              item.message.encode()), now=1.0)
    assert len(report.sent) == 1 and outbox.pending() == []
    assert smtp.wait_for(1)[0].recipients == ["b@example.com"]
    [refused] = outbox.failed()
    assert refused.recipients == ["gone@example.com"]
    assert refused.last_error == "refused: gone@example.com: 550 5.1.1 no such mailbox here"
