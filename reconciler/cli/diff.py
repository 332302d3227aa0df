"""`diff DIR --config FILE`: what an apply would change, and who would be mailed, without writing."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import SpecErrors
from .common import (EXIT_CANNOT_RUN, EXIT_INVALID, EXIT_OK, load_config, load_specs, print_errors, read_tree,
                     seen_from_here, tree_answer, warn_about_duplicates)


def run(args: argparse.Namespace) -> int:
    from ..io.deploy import AlertmanagerFileTarget, read_base, render_options
    from ..core.diff import colourise, unified_diff
    from ..core.render import render_alertmanager_config

    config = load_config(args.config, cached=not args.no_cache)
    if config.target.format == "kubesphere":
        return _kubesphere(args, config)
    base = read_base(config.target.base)
    base_name, options = config.target.base or "base", render_options(config)
    tree = None if args.no_cache else read_tree(args.dir)
    # What apply would refuse, diff refuses too: a password source the config does not list
    # (the secrets: list is part of the question, so a render cached under another list is not used).
    question = f"{options!r}\0{config.secrets!r}"
    rendered = None if tree is None else _cached_render(tree, base, base_name, question)
    if rendered is None:
        from ..io.password_sources import password_source_problems

        try:
            specs = load_specs(args.dir, cached=not args.no_cache, tree=tree)
            problems = password_source_problems(specs.server, config.secrets)
            if problems:
                raise seen_from_here(args.dir, problems)
        except SpecErrors as exc:
            print_errors(str(error) for error in exc.errors)
            return EXIT_CANNOT_RUN
        rendered = render_alertmanager_config(specs, base, base_name=base_name, options=options)
        if tree is not None:
            _cached_render(tree, base, base_name, question, rendered)
    warn_about_duplicates(rendered, base, base_name)
    live = AlertmanagerFileTarget.for_config(config, os.environ).live()
    diff = unified_diff(live.text or "", rendered, live.label, f"rendered from {args.dir}",
                        live_redacted=live.redacted)
    if not diff:
        print(f"no change: {live.label} already holds what {args.dir} renders", file=sys.stderr)
        return EXIT_OK
    from ..core.audience import summary_lines

    # Who gains or loses mail first, then the YAML: read from both configs' routing.
    summary = summary_lines(live.text, rendered, before_name=live.label, after_name=f"the render of {args.dir}")
    colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty()
                                        and not os.environ.get("NO_COLOR"))
    sys.stdout.write("\n".join(summary) + "\n\n" + (colourise(diff) if colour else diff))
    return EXIT_INVALID


def _kubesphere(args: argparse.Namespace, config) -> int:
    """target.format kubesphere: the objects file against what DIR renders."""
    from ..core.diff import colourise, unified_diff
    from ..io.deploy import target_for
    from ..io.password_sources import password_source_problems
    from ..kubesphere.rendering import render_kubesphere

    try:
        specs = load_specs(args.dir, cached=not args.no_cache)
        problems = password_source_problems(specs.server, config.secrets)
        if problems:
            raise seen_from_here(args.dir, problems)
        try:
            rendered = render_kubesphere(specs, config.target.api)
        except SpecErrors as exc:  # located in DIR, as load_specs' errors are
            raise seen_from_here(args.dir, exc.errors) from None
    except SpecErrors as exc:
        print_errors(str(error) for error in exc.errors)
        return EXIT_CANNOT_RUN
    live = target_for(config, os.environ).live()
    diff = unified_diff(live.text or "", rendered.text, live.label, f"rendered from {args.dir}")
    if not diff:
        print(f"no change: {live.label} already holds what {args.dir} renders", file=sys.stderr)
        return EXIT_OK
    colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty()
                                        and not os.environ.get("NO_COLOR"))
    sys.stdout.write(colourise(diff) if colour else diff)
    return EXIT_INVALID


def _cached_render(tree, base: str | None, base_name: str, question: str, rendered: str | None = None) -> str | None:
    """What `tree` rendered into `base` last time (see tree_answer), asked with the same
    `question` (the render options and what else decided it); with `rendered`, store it."""
    from ..io.cache import blob_id

    base_id = blob_id((base or "").encode("utf-8", "surrogatepass"))
    text = tree_answer(tree, f"render\0{question}\0{base_name}\0{base_id}\0{base is None}", rendered)
    return text if isinstance(text, str) else None
