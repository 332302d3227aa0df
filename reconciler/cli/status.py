"""`status --config FILE`: what the daemon last did, from its state directory."""

from __future__ import annotations

import argparse
import os

from .common import EXIT_INVALID, EXIT_OK, load_config


def run(args: argparse.Namespace) -> int:
    import time

    from ..io.deploy import target_for
    from ..service.status import gather_status, report_lines

    config = load_config(args.config)
    report = gather_status(config, target_for(config, os.environ))
    for line in report_lines(report, time.time()):
        print(line)
    return EXIT_OK if report.healthy else EXIT_INVALID
