"""`render DIR`: print or write the Alertmanager config (or its Secret) the specs make."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import DeployError, EnvironmentProblem, Location, SpecErrors
from .common import EXIT_INVALID, EXIT_OK, load_specs, print_errors, read_bytes, unwrap_secret, warn_about_duplicates


def run(args: argparse.Namespace) -> int:
    from ..am.reading import decode_text
    from ..core.render import RenderOptions, render_config
    from ..io.amtool_check import check_render
    from ..io.files import write_atomically

    if (args.api or args.password_secret) and args.format != "kubesphere":
        raise EnvironmentProblem("--api and --password-secret go with --format kubesphere")
    if args.password_secret and not args.output:
        raise EnvironmentProblem("--password-secret writes the password into the Secret: give -o FILE (written "
                                 "with mode 0600), the password never goes to standard output")
    specs = load_specs(args.dir, cached=not args.no_cache)
    if args.format == "kubesphere":
        return _kubesphere(args, specs)
    secret = args.format == "secret"
    if secret:
        from ..core import secret_render

        refusal = secret_render.password_env_refusal(specs)
        if refusal is not None:
            where = specs.server.location
            shown = Location(os.path.normpath(os.path.join(args.dir, where.file)), where.line, where.column)
            print_errors([f"{shown}: {refusal}"])
            return EXIT_INVALID
    base_text = decode_text(read_bytes(args.base), args.base) if args.base else None
    base_secret = None
    if base_text is not None and (inner := unwrap_secret(base_text, args.base)) is not None:
        base_secret, base_text = base_text, inner  # the live Secret: merge into its config, wrap it back
    options = secret_render.OPTIONS if secret else RenderOptions()
    rendered = render_config(specs, base_text, base_name=args.base or "base", options=options)
    text, templates = rendered.text, rendered.templates
    try:
        check_render(text, base_text, args.base or "base", templates)  # what apply would refuse, render refuses too
    except DeployError as exc:
        print_errors([str(exc)])
        return EXIT_INVALID
    warn_about_duplicates(text, base_text, _base_name(args.base, base_secret))
    if secret:
        text, notes = secret_render.as_secret(specs, text, templates, base_secret=base_secret,
                                              has_base=base_text is not None, name=args.secret_name,
                                              namespace=args.namespace)
        for note in notes:
            print(note, file=sys.stderr)
    if args.output:
        if not secret and templates:
            from ..io.deploy import write_template_files
            write_template_files(args.output, templates)  # where the config's templates: entries point
        write_atomically(args.output, text, new_mode=0o644)
    else:
        if not secret and templates:
            print(f"note: the config names {len(templates)} template file(s) Alertmanager must find next to it "
                  f"({', '.join(name for name, _ in templates)}): render with -o FILE to write them there",
                  file=sys.stderr)
        _write_stdout(text)
    return EXIT_OK


def _kubesphere(args: argparse.Namespace, specs) -> int:
    """The notification-manager objects: no base, no amtool; refusals and warnings located."""
    from ..io.files import write_atomically
    from ..kubesphere.rendering import render_kubesphere
    from .common import seen_from_here

    if args.base:
        raise EnvironmentProblem("--base goes with --format alertmanager or secret: KubeSphere's objects have no base")
    password = _password(specs) if args.password_secret else None
    options = {"secret_namespace": args.namespace} if args.namespace else {}
    try:
        rendered = render_kubesphere(specs, args.api or "v2beta2", password=password, **options)
    except SpecErrors as exc:
        raise seen_from_here(args.dir, exc.errors) from None
    for warning in rendered.warnings:
        print(f"warning: {os.path.normpath(os.path.join(args.dir, warning))}", file=sys.stderr)
    if args.output:
        write_atomically(args.output, rendered.text, new_mode=0o600 if password is not None else 0o644)
    else:
        _write_stdout(rendered.text)
    return EXIT_OK


def _password(specs) -> str:
    from ..errors import MailError
    from ..io.smtp import read_password

    server = specs.server
    if server is None or not server.username or not (server.password_file or server.password_env):
        raise EnvironmentProblem("--password-secret: the EmailServer has no username with passwordFile or "
                                 "passwordEnv, so there is no password to write")
    try:
        password = read_password(server, os.environ)
    except MailError as exc:
        raise EnvironmentProblem(f"--password-secret: {exc}") from None
    assert password is not None
    return password


def _base_name(path: str | None, secret: str | None) -> str:
    if path is None:
        return "base"
    return f"{path}[alertmanager.yaml]" if secret is not None else path


def _write_stdout(text: str) -> None:
    """Write and flush now, so that a full disk or a closed pipe is an error we report (exit
    2), not a traceback from the interpreter's own flush at exit."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        try:  # what is still buffered must not fail again at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        raise EnvironmentProblem(f"cannot write to standard output: {exc.strerror or exc}") from None
