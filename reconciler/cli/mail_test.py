"""`mail-test --config FILE`: send one mail (or --probe the server) as Alertmanager would."""

from __future__ import annotations

import argparse
import os
import sys

from .common import EXIT_CANNOT_RUN, EXIT_INVALID, EXIT_OK, this_host, last_verified, load_config


def run(args: argparse.Namespace) -> int:
    from email.message import EmailMessage
    from email.policy import SMTP
    from email.utils import formatdate, make_msgid

    from ..core.own_alerts import own_alert_recipients
    from ..errors import MailError
    from ..io.smtp import read_password, send
    from ..specs.schema import email_problem

    config = load_config(args.config)
    problems = [problem for problem in map(email_problem, args.to or ()) if problem]
    if problems:
        for problem in problems:
            print(f"--to: {problem}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    committed = last_verified(config)
    revision, server = committed.revision, committed.specs.server
    if server is None:
        print(f"{revision.describe()} has no EmailServer: nothing to test", file=sys.stderr)
        return EXIT_INVALID
    if args.probe:
        return _probe(server, config.target.format == "kubesphere")
    recipients = args.to or own_alert_recipients(committed.specs)
    if not recipients:
        print(f"{revision.describe()} has no recipients: give one with --to", file=sys.stderr)
        return EXIT_INVALID
    if not server.enabled:
        print(f"note: e-mail is disabled in {revision.describe()} (enabled: false); sending anyway, as asked")
    host = this_host()
    # SMTP's own line endings (CRLF): a message with bare LF reaches a strict server as one
    # endless line, and its dot-stuffing is not undone.
    mail = EmailMessage(policy=SMTP.clone(max_line_length=998))
    mail["Subject"] = f"notify-reconciler test mail from {host.hostname}"
    mail["From"] = server.sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = formatdate()
    mail["Message-ID"] = make_msgid(domain=host.hostname)
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(f"This is a test of the e-mail settings of {revision.describe()} "
                     f"({server.smarthost}).\nIf you read this, the daemon's own alerts can reach you.\n")
    print(f"sending a test mail through {server.smarthost} to {len(recipients)} recipient(s)")
    try:
        delivery = send(server, read_password(server, host.environ), server.sender, recipients, mail.as_bytes(),
                        hello=server.hello or host.hostname)
    except MailError as exc:
        for line in exc.transcript:
            print(f"  {line}")
        print(f"not sent: {exc}", file=sys.stderr)
        return EXIT_INVALID
    for line in delivery.transcript:
        print(f"  {line}")
    for address, reply in delivery.refused.items():
        print(f"  refused {address}: {reply}", file=sys.stderr)
    print(f"sent: the server accepted it for {len(delivery.accepted)} recipient(s)")
    return EXIT_OK if delivery.accepted else EXIT_INVALID


def _probe(server, kubesphere: bool = False) -> int:
    from ..io.probe import probe

    who = "Alertmanager"
    if kubesphere:  # target.format kubesphere: notification-manager sends, from the rendered Config
        from ..kubesphere.rendering import as_dialled

        server, who = as_dialled(server), "KubeSphere's notification-manager"
    print(f"probing {server.smarthost} as {who} would talk to it (nothing is sent)")
    report = probe(server, os.environ)
    for line in report.transcript:
        print(f"  {line}")
    for finding in report.findings:
        print(f"{finding.alert}: {finding.message}", file=sys.stderr)
    if report.can_send:
        print(f"ok: {who} can send through this server as configured")
        return EXIT_OK
    return EXIT_INVALID
