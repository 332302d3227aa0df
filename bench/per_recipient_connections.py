"""One alert to a list of N recipients, sent by the real Alertmanager 0.25 through an SMTP server
that takes at most M connections from one client at once (aiosmtpd answering 421 beyond M, as
Postfix's smtpd_client_connection_count_limit does): how long until every recipient has the
mail, how many connections were open at once and how many were turned away, for each delivery
mode.

Alertmanager sends a receiver's email_configs in parallel, one SMTP connection each: a
perRecipient list of 50 opens 50 at once; a refused one is retried with Alertmanager's backoff
(a notification's retries start at about 1 s and grow), so most of the list waits.

    .venv/bin/python bench/per_recipient_connections.py [--recipients 50] [--limit 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.specs.pipeline import parse_specs  # noqa: E402
from reconciler.core.render import render_alertmanager_config  # noqa: E402
from tests.support.gitrepo import document, recipient_list, server  # noqa: E402
from tests.support.alertmanager import Alertmanager  # noqa: E402
from tests.support.services import require_binary, wait_until  # noqa: E402
from tests.support.smtp import start_smtp_server  # noqa: E402

POLICY = document("NotificationPolicy", "p", "groupWait: 0s\ngroupInterval: 10m\nrepeatInterval: 1h\n")
MODES = {
    "perRecipient": ("", "perRecipient"),
    "maxRecipientsPerMessage: 10": ("  maxRecipientsPerMessage: 10\n", "single"),
    "single": ("", "single"),
}


def one_round(work: Path, recipients: int, limit: int | None, mode: str,
              session: float) -> tuple[float, int, int, int]:
    """(seconds from the alert to the last recipient's mail, connections open at most at once,
    connections refused, messages). `session`: seconds the server takes to answer EHLO, as a
    server at a distance, with TLS and a login, takes for a session."""
    extra, delivery = MODES[mode]

    async def handle_EHLO(self, server, session_, envelope, hostname, responses):  # noqa: N802 (aiosmtpd's name)
        await asyncio.sleep(session)
        session_.host_name = hostname
        return responses

    sink = start_smtp_server(max_connections=limit, handler_extra={"handle_EHLO": handle_EHLO} if session else None)
    am = None
    try:
        addresses = [f"oncall{n:02d}@example.com" for n in range(recipients)]
        specs = parse_specs({"server.yaml": (server(port=sink.port) + extra).encode(), "policy.yaml": POLICY.encode(),
                             "ops.yaml": recipient_list("ops", addresses, delivery=delivery).encode()})
        config = work / "alertmanager.yml"
        config.write_text(render_alertmanager_config(specs))
        am = Alertmanager(require_binary("prometheus-alertmanager"), config, work / "am").start()
        start = time.monotonic()
        am.post_alerts([{"labels": {"alertname": "PerRecipient"}}])
        wanted = set(addresses)
        wait_until(lambda: wanted <= {a for message in list(sink.messages) for a in message.recipients}, 600,
                   "every recipient's mail")
        took = time.monotonic() - start
        return took, sink.most_connections, sink.refused_connections, len(sink.messages)
    finally:
        if am is not None:
            am.stop()
        sink.controller.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=50)
    parser.add_argument("--limit", type=int, default=5, help="connections the server takes at once (0: no limit)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--session", type=float, nargs="+", default=[0.0, 0.2],
                        help="seconds the server takes for a session (its EHLO answer), each a run")
    args = parser.parse_args()
    limits = [None, args.limit or None] if args.limit else [None]
    print(f"{args.recipients} recipients, {args.rounds} round(s) each; seconds from the alert to the last mail")
    print(f"{'mode':<28} {'session s':>9} {'limit':>5} {'median s':>9} {'max s':>7} {'open at once':>12} "
          f"{'refused':>8} {'messages':>8}")
    for session in args.session:
        for mode in MODES:
            for limit in limits:
                results = []
                for _ in range(args.rounds):
                    with tempfile.TemporaryDirectory(prefix="bench-per-recipient-") as folder:
                        results.append(one_round(Path(folder), args.recipients, limit, mode, session))
                times = [result[0] for result in results]
                print(f"{mode:<28} {session:>9.1f} {limit or 'none':>5} {statistics.median(times):>9.2f} "
                      f"{max(times):>7.2f} {max(r[1] for r in results):>12} {max(r[2] for r in results):>8} "
                      f"{results[0][3]:>8}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
