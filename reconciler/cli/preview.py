"""`preview DIR`: a list's mail, rendered by amtool, as a file a browser opens."""

from __future__ import annotations

import argparse
import re
import sys

from .common import EXIT_CANNOT_RUN, EXIT_OK, load_specs, name_values


def run(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from ..io.files import write_atomically
    from ..io.preview import preview_mail

    pairs = {option: name_values(words, f"{option}: ", what) for option, words, what in (
        ("--labels", args.labels, "LABEL"), ("--annotations", args.annotations, "NAME"))}
    if None in pairs.values():
        return EXIT_CANNOT_RUN
    labels = pairs["--labels"] or {"alertname": "ExampleAlert"}
    from ..io.preview import DEFAULT_ANNOTATIONS
    annotations = pairs["--annotations"] or DEFAULT_ANNOTATIONS
    specs = load_specs(args.dir)
    mail = preview_mail(specs, args.list, labels, annotations, now=datetime.now(timezone.utc),
                        external_url=args.external_url)
    stem = re.sub(r"\.(eml|html)$", "", args.output)
    write_atomically(f"{stem}.eml", mail.eml, new_mode=0o644)
    # A byte-order mark: a browser opening a local file then reads it as UTF-8, as a mail program would.
    write_atomically(f"{stem}.html", "\ufeff" + mail.html, new_mode=0o644)
    print(f"wrote {stem}.eml and {stem}.html: the mail {args.list} would get for "
          f"{{{', '.join(f'{k}={v}' for k, v in labels.items())}}}")
    print(f"Subject: {mail.subject}")
    if len(mail.to) > 1:
        # A recipient cap or perRecipient: Alertmanager sends several messages, alike but for To:.
        print(f"{args.list} is sent as {len(mail.to)} messages, the same but for their To: ({stem}.eml is the first):")
        for number, to in enumerate(mail.to, 1):
            print(f"  {number}. To: {to}")
    if mail.subject_problem:
        print(f"warning: for this alert, {mail.subject_problem}", file=sys.stderr)
    return EXIT_OK
