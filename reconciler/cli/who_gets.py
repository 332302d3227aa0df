"""`who-gets DIR label=value ...`: which lists and base receivers an alert reaches."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .common import (EXIT_CANNOT_RUN, EXIT_INVALID, EXIT_OK, last_verified, load_config, load_specs, name_values,
                     read_bytes, unwrap_secret)

if TYPE_CHECKING:
    from datetime import datetime

    from ..core.who_gets import Answer
    from ..specs.model import Specs


def run(args: argparse.Namespace) -> int:
    from ..io.deploy import read_base, render_options
    from ..core.render import RenderOptions, render_alertmanager_config
    from ..am.timewindows import parse_instant
    from ..core.who_gets import Audience

    try:
        at = parse_instant(args.at) if args.at is not None else _now_utc()
    except ValueError as exc:
        print(f"--at: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN

    words = ([args.dir] if args.dir is not None else []) + args.labels
    folder = words.pop(0) if words and "=" not in words[0] else None
    if not words:
        print("give the alert's labels as LABEL=VALUE, e.g. severity=critical", file=sys.stderr)
        return EXIT_CANNOT_RUN
    labels = name_values(words, "", "LABEL")
    if labels is None:
        return EXIT_CANNOT_RUN
    if args.config:
        if folder is not None or args.base:
            print("give either DIR (and --base) or --config, not both", file=sys.stderr)
            return EXIT_CANNOT_RUN
        config = load_config(args.config)
        committed = last_verified(config, quiet=args.output == "json")
        specs, base, base_name = committed.specs, read_base(config.target.base), config.target.base or "base"
        options = render_options(config)
    else:
        from ..am.reading import decode_text

        specs = load_specs(folder or ".")
        base, base_name, options = None, args.base or "base", RenderOptions()
        if args.base:
            # A live Secret (kubectl get secret ... -o yaml) holds the config to render into.
            base = decode_text(read_bytes(args.base), args.base)
            base = unwrap_secret(base, args.base) or base
    text = render_alertmanager_config(specs, base, base_name=base_name, options=options)
    answer = Audience(text, specs.lists, "the render").answer(labels, at)
    if args.output == "json":
        return _json_answer(answer, specs, labels, at)
    return _text_answer(answer, specs, labels, at)


def _json_answer(answer: Answer, specs: Specs, labels: dict[str, str], at: datetime) -> int:
    """The answer as one JSON object on stdout, for scripts; the exit status says whether anyone is mailed."""
    import json

    taken = answer.taken()
    mailed = answer.mailed
    others, held = answer.base_receivers()
    print(json.dumps({
        "labels": labels,
        "at": _rfc3339(at),
        "lists": [{"name": item.name, "receiver": route.receiver,
                   "recipients": [recipient.email for recipient in item.recipients],
                   "repeatInterval": route.repeat_interval, "groupBy": ["..."] if route.group_by_all
                   else list(route.group_by), "groupWait": route.group_wait,
                   "groupInterval": route.group_interval,
                   "sendResolved": specs.routing_for(item).send_resolved,
                   **state.as_json()}
                  for route, item, state in taken],
        "baseReceivers": others, "baseReceiversHeldBack": held, "mailed": bool(mailed),
        "receivers": answer.receivers,
        "duplicates": [{"address": duplicate.address, "receivers": list(duplicate.receivers)}
                       for duplicate in answer.duplicates]}, indent=2))
    return EXIT_OK if mailed else EXIT_INVALID


def _text_answer(answer: Answer, specs: Specs, labels: dict[str, str], at: datetime) -> int:
    """The answer in words: each list that is mailed, with its timing, and the base's own
    receivers on stdout; duplicates, and why nobody is mailed, on stderr."""
    taken = answer.taken()
    mailed = answer.mailed
    others, held = answer.base_receivers()
    shown = " ".join(f"{name}={value}" for name, value in labels.items())
    for route, item, state in taken:
        routing = specs.routing_for(item)
        print(f"{item.name}: {', '.join(recipient.email for recipient in item.recipients)}")
        print(f"  repeat every {route.repeat_interval}, grouped by {route.grouping}, first mail after "
              f"{route.group_wait}, new alerts of a group after {route.group_interval}, "
              f"{'resolved mailed too' if routing.send_resolved else 'resolved not mailed'}")
        if state.windowed:
            print(f"  {state.describe(_rfc3339(at))}")
    if others:
        print(f"also the base's own receiver{'s' if len(others) > 1 else ''}: {', '.join(others)}")
    if held:
        print(f"held back at {_rfc3339(at)} by the base's own time intervals: {', '.join(held)}")
    for duplicate in answer.duplicates:
        print(f"warning: {duplicate.address} gets this alert {len(duplicate.receivers)} times: through "
              f"{_and(_receiver_words(name) for name in duplicate.receivers)}", file=sys.stderr)
    if not mailed and taken:
        quiet = "; ".join(f"{item.name} {state.reason}" for _, item, state in taken)
        print(f"nobody is mailed for {{{shown}}} at {_rfc3339(at)}: the lists that take it are muted then ({quiet})"
              + (f"; it goes to {', '.join(others)} only" if others else ""), file=sys.stderr)
        return EXIT_INVALID
    if not mailed:
        print(f"nobody is mailed for {{{shown}}}: no RecipientList's matchers take it"
              + (f" (it goes to {', '.join(others)} only)" if others else ""), file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def _receiver_words(receiver: str) -> str:
    """A receiver as people name it: a list by its RecipientList's name, a base's by its own."""
    from ..core.names import PREFIX

    return f"list {receiver.removeprefix(PREFIX)}" if receiver.startswith(PREFIX) else \
        f"the base's receiver {receiver}"


def _and(words) -> str:
    words = list(words)
    return ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1]


def _now_utc():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).replace(microsecond=0)


def _rfc3339(instant) -> str:
    from datetime import timezone

    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
