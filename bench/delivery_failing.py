"""Time from Alertmanager's first failed e-mail send to EmailDeliveryFailing in the fallback
SMTP server's hands, over N rounds; the aim is within one poll interval plus 1 s.

Each round: a real Alertmanager runs the rendered config of a repo whose EmailServer is a
closed port; the daemon (pollInterval P) watches it with a fallback relay (aiosmtpd). An
alert is posted; the clock starts when alertmanager_notification_requests_failed_total
first rises (sampled every 10 ms) and stops when the fallback server has the mail.

    .venv/bin/python bench/delivery_failing.py [--rounds 5] [--poll 2s]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from email import message_from_bytes
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.specs.model import duration_seconds  # noqa: E402
from tests.support.alertmanager import Alertmanager  # noqa: E402
from tests.support.daemon import DaemonProcess  # noqa: E402
from tests.support.gitrepo import GitRepo, document, recipient_list, server  # noqa: E402
from tests.support.services import free_port, require_binary, wait_until  # noqa: E402
from tests.support.smtp import start_smtp_server  # noqa: E402

FAILED = 'alertmanager_notification_requests_failed_total{integration="email"}'


def one_round(work: Path, poll: str) -> float:
    fallback = start_smtp_server()
    repo = GitRepo(work / "repo")
    repo.commit("server", **{
        "server.yaml": server(port=free_port()),
        "ops.yaml": recipient_list("ops", ["ops@example.com"]),
        "policy.yaml": document("NotificationPolicy", "p", "groupWait: 0s\ngroupInterval: 1s\n")})
    output = work / "alertmanager.yml"
    output.write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    am = Alertmanager(require_binary("prometheus-alertmanager"), output, work / "am").start()
    config = work / "config.yaml"
    config.write_text(f"source: {{repo: {repo.path}, pollInterval: {poll}}}\n"
                      f"target: {{output: {output}, alertmanagers: [{am.url}]}}\n"
                      f"stateDir: {work}/state\nlisten: 127.0.0.1:{free_port()}\n"
                      f"ownAlerts: {{gracePeriod: 1h, fallback: {{smtp: {{host: 127.0.0.1, port: {fallback.port}, "
                      "starttls: false, from: relay@example.com}}}\n")
    daemon = DaemonProcess(config)
    try:
        try:
            wait_until(lambda: "event=applied" in daemon.text(), 30, "the first pass")
        except AssertionError:
            raise AssertionError(f"the daemon did not apply:\n{daemon.text()[-3000:]}") from None
        am.post_alerts([{"labels": {"alertname": "DiskFull"}}])
        while not am.metric(FAILED):
            time.sleep(0.01)
        first_failure = time.monotonic()

        def alerted() -> bool:
            return any("EmailDeliveryFailing" in str(message_from_bytes(m.content)["Subject"])
                       for m in list(fallback.messages))

        wait_until(alerted, 60, "EmailDeliveryFailing at the fallback", interval=0.01)
        return time.monotonic() - first_failure
    finally:
        daemon.stop()
        am.stop()
        fallback.controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--poll", default="2s")
    args = parser.parse_args()
    figures = []
    for number in range(args.rounds):
        with tempfile.TemporaryDirectory() as folder:
            figures.append(one_round(Path(folder), args.poll))
            print(f"round {number + 1}: {figures[-1]:.2f} s")
    aim = duration_seconds(args.poll) + 1
    print(f"first failed send -> EmailDeliveryFailing at the fallback: median {statistics.median(figures):.2f} s, "
          f"worst {max(figures):.2f} s over {len(figures)} rounds; aim (pollInterval + 1 s): {aim:.1f} s: "
          + ("met" if max(figures) <= aim else "NOT met"))


if __name__ == "__main__":
    main()
