"""Every address shape validate accepts is one Alertmanager can send to: each goes into a
receiver's `to`, an alert is routed to it, and the mail must reach the SMTP server with
that address as its recipient. The shapes Go's net/mail refuses, which validate refuses
too, fail there ("parse 'to' addresses"): the rule is Alertmanager's, not ours."""

from __future__ import annotations

import json
import random

import pytest

from reconciler.specs.addresses import address_problem

from tests.support.alertmanager import Alertmanager
from tests.support.services import require_binary, wait_until
from tests.support.smtp import start_smtp_server


pytestmark = pytest.mark.alertmanager

ATEXT = "abcXYZ019!#$%&'*+-/=?^_`{|}~"


def generated_local_parts(seed: int, count: int) -> list[str]:
    """Dot-atoms and near misses: dots at the ends or doubled, specials, spaces."""
    rng = random.Random(seed)
    pieces = list(ATEXT) + [".", ".", "..", " ", "(", ")", ",", ";", ":", "[", "]", "<", ">", "\\", '"']
    out = set()
    while len(out) < count:
        out.add("".join(rng.choice(pieces if rng.random() < 0.3 else ATEXT + ".") for _ in range(rng.randint(1, 8))))
    return sorted(out)


SHAPES = ["plain@example.com", "first.last@example.com", "a.b.c.d@mail.example.co.uk", "o'brien@example.ie",
          "alerts+db@example.com", "x@a.io", "UPPER@EXAMPLE.COM", "#!$%&'*+-/=?^_`{|}~@example.com",
          "a{b}c@example.com", "x" * 64 + "@example.com", "dash-ed_under@sub-domain.example.com",
          ".lead@example.com", "trail.@example.com", "dou..ble@example.com", "sp ace@example.com",
          "comma,here@example.com", "semi;colon@example.com", "br[ack]et@example.com"]


def test_every_address_validate_accepts_is_delivered_by_alertmanager_and_go_refusals_fail(tmp_path):
    binary = require_binary("prometheus-alertmanager")
    addresses = SHAPES + [f"{local}@example.com" for local in generated_local_parts(20261129, 40)]
    verdicts = {address: address_problem(address) for address in addresses}
    accepted = [address for address, problem in verdicts.items() if problem is None]
    go_refused = [address for address, problem in verdicts.items() if problem and "Go's net/mail" in problem]
    assert len(accepted) >= 15 and len(go_refused) >= 10, (accepted, go_refused)

    smtp = start_smtp_server()
    routes = "".join(f"    - {{receiver: r{i}, matchers: ['idx=\"{i}\"']}}\n" for i in range(len(addresses)))
    receivers = "".join(f"  - {{name: r{i}, email_configs: [{{to: {json.dumps(address)}, send_resolved: false}}]}}\n"
                        for i, address in enumerate(addresses))
    config = tmp_path / "alertmanager.yml"
    config.write_text(f"global:\n  smtp_smarthost: 127.0.0.1:{smtp.port}\n  smtp_from: am@example.com\n"
                      f"  smtp_require_tls: false\nroute:\n  receiver: none\n  group_by: [idx]\n  group_wait: 0s\n"
                      f"  routes:\n{routes}receivers:\n  - name: none\n{receivers}")
    am = Alertmanager(binary, config, tmp_path / "data").start()
    try:
        am.post_alerts([{"labels": {"alertname": "AddressShape", "idx": str(i)}} for i in range(len(addresses))])
        wanted = set(accepted)
        wait_until(lambda: wanted <= {r for m in smtp.messages for r in m.recipients}, 20,
                   "a mail to every accepted address")
        wait_until(lambda: am.log().count("parse 'to' addresses") >= min(len(go_refused), 3), 10,
                   "Alertmanager to refuse the addresses Go's net/mail refuses")
        delivered = {r for m in smtp.messages for r in m.recipients}
        assert not delivered & set(go_refused), "net/mail refuses these, yet they were delivered"
        assert delivered == wanted
    finally:
        am.stop()
        smtp.controller.stop()
