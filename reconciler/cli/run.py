"""`run --config FILE`: the daemon."""

from __future__ import annotations

import argparse
import sys

from .common import this_host, load_config


def run(args: argparse.Namespace) -> int:
    import logging

    from ..daemon.loop import Daemon
    from ..io.journal import log_handler

    logging.basicConfig(level=logging.INFO, handlers=[log_handler(sys.stdout)])
    config = load_config(args.config)
    return Daemon(config, this_host()).run()
