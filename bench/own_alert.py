"""Time from a rejected commit to the daemon's own ConfigRejected mail in the SMTP server's
hands (aiosmtpd on loopback), over N bad commits, each followed by a fix. Prints figures.

    .venv/bin/python bench/own_alert.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.daemon import _ok, example_repo, free_port, git, wait  # noqa: E402
from tests.support.smtp import start_smtp_server  # noqa: E402

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    smtp = start_smtp_server()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        repo = example_repo(work)
        server = repo / "email-server.yaml"
        server.write_text(server.read_text().replace("host: smtp.example.com", "host: 127.0.0.1")
                          .replace("port: 587", f"port: {smtp.port}").replace("starttls: true", "starttls: false")
                          .replace("  username: alertmanager@example.com\n", "")
                          .replace("  passwordFile: /etc/alertmanager/smtp-password\n", ""))
        git(repo, "commit", "-qam", "point the server at the local SMTP server")
        listen = free_port()
        config = work / "config.yaml"
        config.write_text(f"source: {{repo: {repo}}}\ntarget: {{output: {work / 'am.yml'}, alertmanagers: []}}\n"
                          f"stateDir: {work / 'state'}\nlisten: 127.0.0.1:{listen}\n")
        daemon = subprocess.Popen([str(Path(sys.executable).with_name("notify-reconciler")), "run", "--config",
                                   str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait(lambda: _ok(f"http://127.0.0.1:{listen}/readyz"), 15, 0.05)
            team = repo / "team-db.yaml"
            good = team.read_text()
            latencies = []
            for n in range(args.rounds):
                team.write_text(good.replace("dba-lead@example.com", f"dba-lead-{n}@@example"))
                git(repo, "commit", "-qam", f"typo {n}")
                committed = time.monotonic()
                expected = 2 * n + 1
                wait(lambda: len(smtp.messages) >= expected, 10, 0.002)
                latencies.append((time.monotonic() - committed) * 1000)
                team.write_text(good)
                git(repo, "commit", "-qam", f"fix {n}")
                wait(lambda: len(smtp.messages) >= expected + 1, 10, 0.002)  # the resolved mail
            latencies.sort()
            print(f"rejected commit -> ConfigRejected mail accepted by the SMTP server, {len(latencies)} rounds:")
            print(f"  median {statistics.median(latencies):.1f} ms, worst {latencies[-1]:.1f} ms, "
                  f"best {latencies[0]:.1f} ms ({len(smtp.messages)} mails: firing and resolved)")
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=15)
            smtp.controller.stop()


if __name__ == "__main__":
    main()
