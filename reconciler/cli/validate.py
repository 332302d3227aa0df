"""`validate DIR`: check a spec folder, print a summary or each error with its place."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from ..errors import Location
from .common import EXIT_OK, load_specs, read_tree, tree_answer

if TYPE_CHECKING:
    from ..specs.model import Specs


def run(args: argparse.Namespace) -> int:
    import time

    tree = None if args.no_cache else read_tree(args.dir)
    # Window warnings depend on the year (the months summer time shortens), so it is part of the question.
    year = time.gmtime().tm_year
    question = f"validate\0{year}"
    verdict = None if tree is None else tree_answer(tree, question)
    if verdict is None:
        specs = load_specs(args.dir, cached=not args.no_cache, tree=tree)
        warnings = [(specs.server.location, warning) for warning in specs.server.warnings()] if specs.server else []
        warnings += [(window.location, warning) for window in specs.windows for warning in window.warnings(year)]
        cap = specs.server.max_recipients_per_message if specs.server else None
        warnings += [(item.location, warning) for item in specs.lists for warning in item.warnings(cap)]
        verdict = (_summary(specs), tuple(warnings))
        if tree is not None:
            tree_answer(tree, question, verdict)
    summary, warnings = verdict
    print(f"{args.dir}: valid: {summary}")
    for where, warning in warnings:
        shown = Location(os.path.normpath(os.path.join(args.dir, where.file)), where.line, where.column) \
            if where.file else Location(args.dir)
        print(f"{shown}: warning: {warning}", file=sys.stderr)
    return EXIT_OK


def _summary(specs: Specs) -> str:
    parts = []
    if specs.server:
        state = "enabled" if specs.server.enabled else "disabled"
        parts.append(f"EmailServer {specs.server.name} ({specs.server.smarthost}, {specs.server.tls_mode}, "
                     f"e-mail {state})")
    recipients = sum(len(item.recipients) for item in specs.lists)
    cap = specs.server.max_recipients_per_message if specs.server else None
    at_once = max((item.messages_at_once(cap) for item in specs.lists), default=1)
    # Alertmanager opens an SMTP connection for each message of a notification, all at once.
    sent = f", up to {at_once} messages at once" if at_once > 1 else ""
    # keepFromBase changes what the base's receivers get: say how many lists do it.
    keeping = sum(1 for item in specs.lists if item.keep_from_base)
    kept = f", {keeping} keeping their alerts from the base's receivers (keepFromBase)" if keeping else ""
    catch_all = next((item.name for item in specs.lists if item.catch_all), None)
    kept += f", {catch_all} getting what no other list or base route takes (catchAll)" if catch_all else ""
    parts.append(f"{len(specs.lists)} RecipientList{'s' if len(specs.lists) != 1 else ''} "
                 f"({recipients} recipient{'s' if recipients != 1 else ''}{sent}{kept})")
    parts.append(f"NotificationPolicy {specs.policy.name}" if specs.policy else "default NotificationPolicy")
    if specs.windows:
        parts.append(f"{len(specs.windows)} TimeWindow{'s' if len(specs.windows) != 1 else ''} "
                     f"({', '.join(window.name for window in specs.windows)})")
    return ", ".join(parts)
