"""`apply --config FILE`: one pass of the daemon, now: render, write, reload, verify."""

from __future__ import annotations

import argparse
import os
import sys

from .common import EXIT_CANNOT_RUN, EXIT_INVALID, EXIT_OK, this_host, load_config


def run(args: argparse.Namespace) -> int:
    from ..service.reconcile import Caches, reconcile
    from ..service.state import acquire_lock
    from ..values import Reason

    config = load_config(args.config)
    # One writer per state directory: a running daemon would race this pass for the file,
    # the reloads and the state.
    lock = acquire_lock(config.state_dir, busy_hint="it reconciles by itself; to make it reconcile now, send it "
                                                    "SIGHUP (systemctl reload notify-reconciler)")
    try:
        outcome = reconcile(config, this_host(), caches=None if args.no_cache else Caches.kept_in(config),
                            allow_rewind=args.allow_rewind)
    finally:
        os.close(lock)
    from ..display import display_lines

    # A commit's subject, a pusher's file names and git's messages, shown on a terminal.
    stream = sys.stdout if outcome.ok else sys.stderr
    print("\n".join(display_lines(outcome.message)), file=stream)
    for line in outcome.errors:
        if line != outcome.message.split(": ", 1)[-1]:
            print("\n".join(display_lines(line)), file=sys.stderr)
    for target in outcome.targets:
        print("\n".join(display_lines(f"  {target.url}: {target.message}")), file=stream)
    if outcome.ok:
        return EXIT_OK
    # Nothing could be read to try: as for a missing config file, the pass could not run.
    return EXIT_CANNOT_RUN if outcome.reason is Reason.SOURCE_UNAVAILABLE and outcome.revision is None else EXIT_INVALID
