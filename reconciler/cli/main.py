"""Command-line interface: argument parsing and presentation only.

Every command maps the reconciler's exceptions to the exit statuses of docs/contract.md and prints
errors to stderr one per line (``file:line:col: path: message``); a traceback reaching the
user for an expected failure is a bug.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

from .. import __version__
from ..errors import (BaseConfigError, CommitRejected, ConfigError, DeployError, EnvironmentProblem, Location,
                     ReconcilerError, SpecError, SpecErrors)

if TYPE_CHECKING:
    from ..specs.daemon_config import Config
    from ..specs.model import Specs
    from ..service.reconcile import Host
    from ..io.git_source import Committed

# Each command imports what it uses, in its handler: `validate` must not pay for git, HTTP,
# SMTP, prometheus-client or jsonschema (bench/cold.py times whole processes).

EXIT_OK, EXIT_INVALID, EXIT_CANNOT_RUN = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    # who-gets takes labels before and after its options (DIR --base FILE a=b c=d): argparse
    # leaves the later ones over, and only there are they welcome.
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "handler", None) is _who_gets and not any(word.startswith("-") for word in extra):
        args.labels += extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_CANNOT_RUN
    try:
        return args.handler(args)
    except SpecErrors as exc:
        _print_errors(str(error) for error in exc.errors)
        return EXIT_INVALID
    except CommitRejected as exc:
        _print_errors([str(exc), *(problem for problem in exc.problems if problem != exc.summary)])
        return EXIT_INVALID
    except BaseConfigError as exc:
        _print_errors([str(exc)])
        return EXIT_INVALID
    except ReconcilerError as exc:
        _print_errors([str(exc)])
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: one line for the person, not a traceback
        _print_errors([f"notify-reconciler: internal error (a bug, please report it): {type(exc).__name__}: {exc}"])
        return EXIT_CANNOT_RUN


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="notify-reconciler",
        description="Keep Alertmanager's e-mail notifications in sync with specs committed to git.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    validate = commands.add_parser(
        "validate", help="validate a spec folder as it is on disk",
        description="Validate every *.yaml/*.yml spec file under DIR. Exit 0 valid, 1 invalid, 2 could not run.")
    validate.add_argument("dir", nargs="?", default=".", metavar="DIR", help="spec folder (default: .)")
    _cache_option(validate)
    validate.set_defaults(handler=_validate)

    render = commands.add_parser(
        "render", help="print or write the Alertmanager config",
        description="Render the Alertmanager configuration for the specs in DIR. "
                    "Exit 0 rendered, 1 invalid specs or base, 2 could not run.")
    render.add_argument("dir", nargs="?", default=".", metavar="DIR", help="spec folder (default: .)")
    _cache_option(render)
    render.add_argument("--base", metavar="FILE",
                        help="base alertmanager.yml: everything the reconciler does not own is kept, comments too")
    render.add_argument("-o", "--output", metavar="FILE", help="write here (atomically) instead of stdout")
    render.add_argument("--format", choices=("alertmanager", "secret"), default="alertmanager",
                        help="alertmanager.yml, or a Kubernetes Secret holding it (default: alertmanager)")
    render.add_argument("--secret-name", type=_kubernetes_name("a Secret name", 253),
                        help="Secret name (default: the --base Secret's, else alertmanager-main)")
    render.add_argument("--namespace", type=_kubernetes_name("a namespace", 63),
                        help="Secret namespace (default: the --base Secret's, else kubesphere-monitoring-system)")
    render.set_defaults(handler=_render)

    import_ = commands.add_parser(
        "import", help="turn an alertmanager.yml or its Kubernetes Secret into specs plus a base",
        description="Read an Alertmanager config, or a Secret manifest holding one (kubectl get secret "
                    "alertmanager-main -o yaml), and write DIR/specs/ (EmailServer, one RecipientList per e-mail "
                    "receiver whose routing the specs can say, NotificationPolicy) and DIR/base.yml (everything "
                    "else, comments kept). What cannot be said as specs stays in the base, and stderr says why. "
                    "No password is written into DIR. Exit 0 written, 1 the input is invalid or holds nothing to "
                    "import, 2 could not run.")
    import_.add_argument("file", metavar="FILE", help="alertmanager.yml or a Secret manifest; - reads stdin")
    import_.add_argument("-o", "--output", required=True, metavar="DIR", help="new (or empty) folder to write")
    import_.add_argument("--password-file", metavar="PATH",
                         help="write the SMTP password here (mode 0600; outside DIR) and name it in the specs; "
                              "default: name /etc/alertmanager/smtp-password (from a Secret: "
                              "/etc/alertmanager/secrets/alertmanager-smtp/password, as the pod mounts it) and say "
                              "what to put there")
    import_.set_defaults(handler=_import)

    diff = commands.add_parser(
        "diff", help="dry run: what DIR would change in the live config",
        description="Render DIR as it is on disk and show a unified diff against what is live: target.output, "
                    "or else what the first Alertmanager reports. Secrets show as <secret>. "
                    "Exit 0 no change, 1 changes, 2 error (invalid specs included).")
    diff.add_argument("dir", nargs="?", default=".", metavar="DIR", help="spec folder (default: .)")
    _config_option(diff)
    _cache_option(diff)
    diff.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                      help="colour the diff (default: on a terminal)")
    diff.set_defaults(handler=_diff)

    apply = commands.add_parser(
        "apply", help="one reconcile pass of the committed branch",
        description="Render the committed branch, check it, write it atomically, reload and verify every "
                    "Alertmanager, roll back on refusal. Exit 0 applied or nothing to do, 1 rejected or failed, "
                    "2 could not run (no or invalid config file, the repository or branch cannot be read, a "
                    "daemon already runs on the same stateDir).")
    _config_option(apply)
    _cache_option(apply, "<stateDir>/cache")
    apply.add_argument("--allow-rewind", action="store_true",
                       help="apply the branch's head this once even if it does not descend from the last applied "
                            "commit (a rewind or a force-push that is meant); otherwise such a head is rejected")
    apply.set_defaults(handler=_apply)

    run = commands.add_parser(
        "run", help="the daemon: reconcile on every commit, poll, and SIGHUP",
        description="Run until SIGTERM: apply each new commit of the branch (a local repo is watched, every "
                    "source is polled every pollInterval), put back hand edits of the live config, serve "
                    "/metrics, /healthz and /readyz on listen, and talk to systemd (Type=notify). SIGHUP "
                    "reconciles now.")
    _config_option(run)
    run.set_defaults(handler=_run)

    mail_test = commands.add_parser(
        "mail-test", help="send a test e-mail with the committed server settings",
        description="Send a test message through the EmailServer of the committed branch, to --to or to every "
                    "recipient, and print each step of the SMTP conversation (TLS, AUTH, recipients). "
                    "Exit 0 sent, 1 not.")
    _config_option(mail_test)
    mail_test.add_argument("--to", metavar="ADDR", action="append", help="recipient (repeatable; default: all)")
    mail_test.add_argument("--probe", action="store_true",
                           help="send nothing: check connection, STARTTLS, certificate, AUTH mechanisms and login as "
                                "Alertmanager would; exit 0 when Alertmanager could send, 1 with what to change")
    mail_test.set_defaults(handler=_mail_test)

    who = commands.add_parser(
        "who-gets", help="who is mailed for an alert with these labels",
        description="Every recipient address an alert with LABEL=VALUE labels would be mailed to, per "
                    "RecipientList, with its timing and grouping, read from the routing tree of the config DIR "
                    "renders (or, with --config, of the committed branch, merged into target.base), as "
                    "Alertmanager walks it, and whether its time windows let it be mailed at --at; and the base's "
                    "own receivers that get it too, by name. Exit 0 someone is mailed, 1 nobody is, 2 could not "
                    "run.")
    who.add_argument("dir", nargs="?", default=None, metavar="DIR",
                     help="spec folder (default: . unless --config is given)")
    who.add_argument("labels", nargs="*", metavar="LABEL=VALUE", help="the alert's labels, e.g. severity=critical")
    who.add_argument("--config", metavar="FILE", help="the daemon's config.yaml: use the committed branch and its base")
    who.add_argument("--base", metavar="FILE", help="with DIR: the base alertmanager.yml to render into")
    who.add_argument("--output", choices=("text", "json"), default="text", help="text (default) or json for scripts")
    who.add_argument("--at", metavar="TIME", help="when the alert fires, RFC 3339 (2026-11-30T09:00:00Z or with an "
                                                 "offset such as +01:00); default now: lists outside their "
                                                 "activeDuring windows or inside their mutedDuring ones are not mailed")
    who.set_defaults(handler=_who_gets)

    preview = commands.add_parser(
        "preview", help="the mail a RecipientList would get for a sample alert, as .eml and .html",
        description="Render the mail list NAME would get for one firing alert with these labels and annotations "
                    "(subject, headers, HTML and text parts), with Alertmanager's own template engine (amtool), "
                    "and write it as FILE.eml (a mail program opens it) and FILE.html (a browser opens it). "
                    "Exit 0 written, 1 invalid specs, unknown list or a template that does not render, "
                    "2 could not run.")
    preview.add_argument("dir", nargs="?", default=".", metavar="DIR", help="spec folder (default: .)")
    preview.add_argument("--list", required=True, metavar="NAME", help="the RecipientList")
    preview.add_argument("--labels", nargs="+", action="extend", default=[], metavar="K=V",
                         help="the sample alert's labels (default: alertname=ExampleAlert)")
    preview.add_argument("--annotations", nargs="+", action="extend", default=[], metavar="K=V",
                         help="its annotations (default: a summary)")
    preview.add_argument("--external-url", default="http://localhost:9093", metavar="URL",
                         help="Alertmanager's external URL, for the links in the mail (default: %(default)s)")
    preview.add_argument("-o", "--output", required=True, metavar="FILE",
                         help="writes FILE.eml and FILE.html (a trailing .eml or .html is dropped first)")
    preview.set_defaults(handler=_preview)

    status = commands.add_parser(
        "status", help="applied and attempted revisions, last error, each Alertmanager",
        description="Show what runs and what was last tried. Exit 0 healthy, 1 not.")
    _config_option(status)
    status.set_defaults(handler=_status)
    return parser


def _config_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--config", required=True, metavar="FILE",
                         help="the daemon's config.yaml (e.g. /etc/notify-reconciler/config.yaml)")


def _cache_option(command: argparse.ArgumentParser, where: str = "$XDG_CACHE_HOME/notify-reconciler") -> None:
    command.add_argument("--no-cache", action="store_true",
                         help=f"parse every file again instead of taking unchanged ones from the cache ({where})")


def _validate(args: argparse.Namespace) -> int:
    import time

    tree = None if args.no_cache else _read_tree(args.dir)
    # Window warnings depend on the year (the months summer time shortens), so it is part of the question.
    year = time.gmtime().tm_year
    question = f"validate\0{year}"
    verdict = None if tree is None else _tree_answer(tree, question)
    if verdict is None:
        specs = _load_specs(args.dir, cached=not args.no_cache, tree=tree)
        warnings = [(specs.server.location, warning) for warning in specs.server.warnings()] if specs.server else []
        warnings += [(window.location, warning) for window in specs.windows for warning in window.warnings(year)]
        cap = specs.server.max_recipients_per_message if specs.server else None
        warnings += [(item.location, warning) for item in specs.lists for warning in item.warnings(cap)]
        verdict = (_summary(specs), tuple(warnings))
        if tree is not None:
            _tree_answer(tree, question, verdict)
    summary, warnings = verdict
    print(f"{args.dir}: valid: {summary}")
    for where, warning in warnings:
        shown = Location(os.path.normpath(os.path.join(args.dir, where.file)), where.line, where.column) \
            if where.file else Location(args.dir)
        print(f"{shown}: warning: {warning}", file=sys.stderr)
    return EXIT_OK


def _render(args: argparse.Namespace) -> int:
    from ..io.files import write_atomically
    from ..am.reading import decode_text
    from ..core.render import RenderOptions, password_file_for, render_config, render_into_secret, render_kubernetes_secret
    from ..io.amtool_check import check_render

    specs = _load_specs(args.dir, cached=not args.no_cache)
    server = specs.server
    if args.format == "secret" and server is not None and server.username and server.password_env:
        # passwordEnv becomes a file the daemon writes on its own host: no pod has it.
        where = server.location
        shown = Location(os.path.normpath(os.path.join(args.dir, where.file)), where.line, where.column)
        _print_errors([f"{shown}: spec.passwordEnv: a variable of the daemon's host cannot reach the Alertmanager "
                       "pod a Secret runs in: use passwordFile with the path where the pod mounts the password "
                       "(prometheus-operator: spec.secrets mounts /etc/alertmanager/secrets/<secret>/<key>)"])
        return EXIT_INVALID
    base_text = decode_text(_read_bytes(args.base), args.base) if args.base else None
    base_secret = None
    if base_text is not None and (inner := _unwrap_secret(base_text, args.base)) is not None:
        base_secret, base_text = base_text, inner  # the live Secret: merge into its config, wrap it back
    options = RenderOptions()
    if args.format == "secret":
        from ..specs.templates import SECRET_TEMPLATE_DIR
        options = RenderOptions(templates_dir=SECRET_TEMPLATE_DIR)  # where the pod mounts the Secret's keys
    rendered = render_config(specs, base_text, base_name=args.base or "base", options=options)
    text, templates = rendered.text, rendered.templates
    try:
        check_render(text, base_text, args.base or "base", templates)  # what apply would refuse, render refuses too
    except DeployError as exc:
        _print_errors([str(exc)])
        return EXIT_INVALID
    _warn_about_duplicates(text, base_text, _base_name(args.base, base_secret))
    if args.format == "secret" and base_secret is not None:
        text = render_into_secret(text, base_secret, name=args.secret_name, namespace=args.namespace,
                                  templates=templates)
    elif args.format == "secret":
        if base_text is None:
            print("warning: no --base: this Secret replaces Alertmanager's whole config, and every receiver, route "
                  "and inhibit rule not in the specs is lost; give the current one with --base (kubectl get secret "
                  "alertmanager-main -n kubesphere-monitoring-system -o yaml > base.yaml)", file=sys.stderr)
        text = render_kubernetes_secret(text, name=args.secret_name or "alertmanager-main",
                                        namespace=args.namespace or "kubesphere-monitoring-system", templates=templates)
        password_file = password_file_for(specs.server, options) if specs.server and specs.server.username else None
        if password_file:
            # The password stays out of the Secret; the pod must have the file the config names.
            print(f"note: the config reads the SMTP password from {password_file}: mount it there in the "
                  "Alertmanager pod (prometheus-operator: spec.secrets mounts /etc/alertmanager/secrets/<name>/)",
                  file=sys.stderr)
    if args.output:
        if args.format != "secret" and templates:
            from ..io.deploy import write_template_files
            write_template_files(args.output, templates)  # where the config's templates: entries point
        write_atomically(args.output, text, new_mode=0o644)
    else:
        if args.format != "secret" and templates:
            print(f"note: the config names {len(templates)} template file(s) Alertmanager must find next to it "
                  f"({', '.join(name for name, _ in templates)}): render with -o FILE to write them there",
                  file=sys.stderr)
        _write_stdout(text)
    return EXIT_OK


def _warn_about_duplicates(rendered: str, base: str | None, base_name: str) -> None:
    """Say on stderr which of the base's e-mail receivers mail an address a list mails too."""
    from ..display import display_lines
    from ..core.who_gets import duplicate_warnings

    for line in duplicate_warnings(rendered, base, base_name):
        print("\n".join(display_lines(f"warning: {line}")), file=sys.stderr)


def _base_name(path: str | None, secret: str | None) -> str:
    if path is None:
        return "base"
    return f"{path}[alertmanager.yaml]" if secret is not None else path


def _unwrap_secret(text: str, name: str) -> str | None:
    """The config a base given as a Kubernetes Secret (or a List holding one) carries, or None
    for a base that is a config itself."""
    # A Secret's manifest says `kind: Secret` (or spells it with a YAML escape, which takes a
    # backslash): other bases are not read twice.
    if "Secret" not in text and "\\" not in text:
        return None
    from ..am.secret import unwrap

    inner = unwrap(text, name)
    return inner.config if inner is not None else None


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


def _import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..io.files import write_atomically
    from ..am.secret import unwrap
    from ..core.importer import BASE_FILE, DEFAULT_PASSWORD_FILE, SECRET_PASSWORD_FILE, SPEC_FOLDER, import_config

    name = "<stdin>" if args.file == "-" else args.file
    text = sys.stdin.read() if args.file == "-" else _read_text(args.file)
    folder = Path(args.output)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise EnvironmentProblem(f"{folder}: exists and is not an empty folder: give a new folder")
    password_file = os.path.abspath(args.password_file) if args.password_file else None
    if password_file and Path(password_file).resolve().is_relative_to(folder.resolve()):
        raise EnvironmentProblem(f"--password-file {args.password_file}: inside {folder}, which is meant for git: "
                                 "put the password file outside it (e.g. /etc/alertmanager/smtp-password)")
    inner = unwrap(text, name)
    if inner is not None:
        text, name = inner.config, inner.name
    default = SECRET_PASSWORD_FILE if inner is not None else DEFAULT_PASSWORD_FILE
    imported = import_config(text, name, password_file=password_file or default)
    for note in imported.notes:
        print(note, file=sys.stderr)
    for relative, content in imported.files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        write_atomically(folder / relative, content, new_mode=0o644)
    for path, password in imported.passwords.items():
        if password_file:
            write_atomically(path, password, new_mode=0o600)  # no line break: Alertmanager would send it
            os.chmod(path, 0o600)
            print(f"wrote the SMTP password of the imported config to {path} (mode 0600)", file=sys.stderr)
        else:
            print(f"create {path} (mode 0600, readable by Alertmanager's user) holding the SMTP password of the "
                  "imported config, without a trailing line break (printf '%s' ...)"
                  + (": in Kubernetes, a Secret alertmanager-smtp with key password, listed in the Alertmanager "
                     "resource's spec.secrets" if path == SECRET_PASSWORD_FILE else ""), file=sys.stderr)
    lists = ", ".join(f"{receiver} -> {name}" for receiver, name in imported.lists.items())
    print(f"wrote {folder / SPEC_FOLDER} (EmailServer, NotificationPolicy, RecipientLists: {lists}) and "
          f"{folder / BASE_FILE}; check with: notify-reconciler render {folder / SPEC_FOLDER} --base "
          f"{folder / BASE_FILE}")
    return EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    from ..io.deploy import AlertmanagerFileTarget, read_base, render_options
    from ..core.diff import colourise, unified_diff
    from ..core.render import render_alertmanager_config

    config = _load_config(args.config, cached=not args.no_cache)
    base = read_base(config.target.base)
    base_name, options = config.target.base or "base", render_options(config)
    tree = None if args.no_cache else _read_tree(args.dir)
    # What apply would refuse, diff refuses too: a password source the config does not list
    # (the secrets: list is part of the question, so a render cached under another list is not used).
    question = f"{options!r}\0{config.secrets!r}"
    rendered = None if tree is None else _cached_render(tree, base, base_name, question)
    if rendered is None:
        from ..io.password_sources import password_source_problems

        try:
            specs = _load_specs(args.dir, cached=not args.no_cache, tree=tree)
            problems = password_source_problems(specs.server, config.secrets)
            if problems:
                raise _seen_from_here(args.dir, problems)
        except SpecErrors as exc:
            _print_errors(str(error) for error in exc.errors)
            return EXIT_CANNOT_RUN
        rendered = render_alertmanager_config(specs, base, base_name=base_name, options=options)
        if tree is not None:
            _cached_render(tree, base, base_name, question, rendered)
    _warn_about_duplicates(rendered, base, base_name)
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


def _apply(args: argparse.Namespace) -> int:
    from ..service.reconcile import Caches, reconcile
    from ..service.state import acquire_lock
    from ..values import Reason

    config = _load_config(args.config)
    # One writer per state directory: a running daemon would race this pass for the file,
    # the reloads and the state.
    lock = acquire_lock(config.state_dir, busy_hint="it reconciles by itself; to make it reconcile now, send it "
                                                    "SIGHUP (systemctl reload notify-reconciler)")
    try:
        outcome = reconcile(config, _host(), caches=None if args.no_cache else Caches.kept_in(config),
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


def _run(args: argparse.Namespace) -> int:
    import logging

    from ..daemon.loop import Daemon
    from ..io.journal import log_handler

    logging.basicConfig(level=logging.INFO, handlers=[log_handler(sys.stdout)])
    config = _load_config(args.config)
    return Daemon(config, _host()).run()


def _mail_test(args: argparse.Namespace) -> int:
    from email.message import EmailMessage
    from email.policy import SMTP
    from email.utils import formatdate, make_msgid

    from ..core.own_alerts import own_alert_recipients
    from ..errors import MailError
    from ..io.smtp import read_password, send
    from ..specs.schema import email_problem

    config = _load_config(args.config)
    problems = [problem for problem in map(email_problem, args.to or ()) if problem]
    if problems:
        for problem in problems:
            print(f"--to: {problem}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    committed = _last_verified(config)
    revision, server = committed.revision, committed.specs.server
    if server is None:
        print(f"{revision.describe()} has no EmailServer: nothing to test", file=sys.stderr)
        return EXIT_INVALID
    if args.probe:
        return _probe(server)
    recipients = args.to or own_alert_recipients(committed.specs)
    if not recipients:
        print(f"{revision.describe()} has no recipients: give one with --to", file=sys.stderr)
        return EXIT_INVALID
    if not server.enabled:
        print(f"note: e-mail is disabled in {revision.describe()} (enabled: false); sending anyway, as asked")
    host = _host()
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


def _probe(server) -> int:
    from ..io.probe import probe

    print(f"probing {server.smarthost} as Alertmanager would talk to it (nothing is sent)")
    report = probe(server, os.environ)
    for line in report.transcript:
        print(f"  {line}")
    for finding in report.findings:
        print(f"{finding.alert}: {finding.message}", file=sys.stderr)
    if report.can_send:
        print("ok: Alertmanager can send through this server as configured")
        return EXIT_OK
    return EXIT_INVALID


def _who_gets(args: argparse.Namespace) -> int:
    import json

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
    labels = _name_values(words, "", "LABEL")
    if labels is None:
        return EXIT_CANNOT_RUN
    if args.config:
        if folder is not None or args.base:
            print("give either DIR (and --base) or --config, not both", file=sys.stderr)
            return EXIT_CANNOT_RUN
        config = _load_config(args.config)
        committed = _last_verified(config, quiet=args.output == "json")
        specs, base, base_name = committed.specs, read_base(config.target.base), config.target.base or "base"
        options = render_options(config)
    else:
        from ..am.reading import decode_text

        specs = _load_specs(folder or ".")
        base, base_name, options = None, args.base or "base", RenderOptions()
        if args.base:
            # A live Secret (kubectl get secret ... -o yaml) holds the config to render into.
            base = decode_text(_read_bytes(args.base), args.base)
            base = _unwrap_secret(base, args.base) or base
    text = render_alertmanager_config(specs, base, base_name=base_name, options=options)
    answer = Audience(text, specs.lists, "the render").answer(labels, at)
    views = [(item, _window_view(item.state, at)) for item in answer.reached]
    taken = [(item.route, item.recipient_list, view) for item, view in views if item.recipient_list is not None]
    mailed = [entry for entry in taken if entry[2].mailed]
    # The base's own receivers: by name, and also held back by the base's own time intervals.
    base_routes = [(item.route, view) for item, view in views if item.recipient_list is None]
    others = sorted({route.receiver for route, state in base_routes if state.mailed})
    held = sorted({route.receiver for route, state in base_routes if not state.mailed} - set(others))
    if args.output == "json":
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
    from ..core.render import PREFIX

    return f"list {receiver.removeprefix(PREFIX)}" if receiver.startswith(PREFIX) else \
        f"the base's receiver {receiver}"


def _and(words) -> str:
    words = list(words)
    return ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1]


def _name_values(words: Sequence[str], prefix: str, what: str) -> dict[str, str] | None:
    """NAME=VALUE arguments (labels, annotations) as a mapping; None, said on stderr, when one
    is not that shape (a name is letters, digits and '_', as Prometheus label names are)."""
    found: dict[str, str] = {}
    for word in words:
        name, equals, value = word.partition("=")
        if not equals or not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", name):
            print(f"{prefix}{word}: not {what}=VALUE (a name is letters, digits and '_')", file=sys.stderr)
            return None
        found[name] = value
    return found


def _preview(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from ..io.files import write_atomically
    from ..io.preview import preview_mail

    pairs = {option: _name_values(words, f"{option}: ", what) for option, words, what in (
        ("--labels", args.labels, "LABEL"), ("--annotations", args.annotations, "NAME"))}
    if None in pairs.values():
        return EXIT_CANNOT_RUN
    labels = pairs["--labels"] or {"alertname": "ExampleAlert"}
    from ..io.preview import DEFAULT_ANNOTATIONS
    annotations = pairs["--annotations"] or DEFAULT_ANNOTATIONS
    specs = _load_specs(args.dir)
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


def _window_view(state, at) -> "_WindowView":
    """timewindows.WindowState in words, with our window names as people write them."""
    from ..core.render import PREFIX

    def shown(name: str | None) -> str | None:
        return name.removeprefix(PREFIX) if name is not None else None

    return _WindowView(tuple(map(shown, state.active)), tuple(map(shown, state.muted)), shown(state.active_by),
                       shown(state.muted_by), state.location, state.mailed, at)


class _WindowView(NamedTuple):
    """routing.WindowState with our names as people write them (no render prefix), in words."""

    active: tuple[str, ...]
    muted: tuple[str, ...]
    active_by: str | None
    muted_by: str | None
    location: str | None
    mailed: bool
    at: Any

    @property
    def windowed(self) -> bool:
        return bool(self.active or self.muted)

    def _parts(self, held_only: bool) -> list[str]:
        parts = []
        if self.active and (self.active_by is None or not held_only):
            parts.append(f"inside its activeDuring window {self.active_by}" if self.active_by else
                         f"outside its activeDuring window{'s' if len(self.active) > 1 else ''} "
                         f"{', '.join(self.active)}")
        if self.muted and (self.muted_by is not None or not held_only):
            parts.append(f"inside its mutedDuring window {self.muted_by}" if self.muted_by else
                         f"outside its mutedDuring window{'s' if len(self.muted) > 1 else ''} {', '.join(self.muted)}")
        return parts

    @property
    def reason(self) -> str:
        """Why it is held back."""
        return "is " + " and ".join(self._parts(held_only=True))

    def describe(self, at: str) -> str:
        from ..am.timewindows import zone

        when = f" ({self.at.astimezone(zone(self.location)):%a %H:%M} in {self.location})" if self.location else ""
        return f"{'mailed' if self.mailed else 'NOT mailed'} at {at}{when}: {', '.join(self._parts(held_only=False))}"

    def as_json(self) -> dict:
        return {"activeDuring": list(self.active), "mutedDuring": list(self.muted), "activeBy": self.active_by,
                "mutedBy": self.muted_by, "mailed": self.mailed}


def _now_utc():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).replace(microsecond=0)


def _rfc3339(instant) -> str:
    from datetime import timezone

    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _last_verified(config: Config, quiet: bool = False) -> Committed:
    """The branch's head if it may be applied, else the last commit that was (verified
    again): a command that logs in with the real password never follows an unverified or
    invalid commit to another server. Says which commit it uses."""
    from ..service.reconcile import source_for
    from ..io.git_source import committed_specs
    from ..service.state import load_state

    source = source_for(config)
    applied = load_state(config.state_dir).applied
    try:
        committed = committed_specs(source, config.source.allowed_signers, applied=applied,
                                    allow_rewind=config.source.allow_rewind, secrets=config.secrets)
        if not quiet:
            print(f"using {committed.revision.describe()}, the head of {config.source.branch}"
                  + (f", signed by {committed.revision.signed_by}" if committed.revision.signed_by else ""))
        return committed
    except CommitRejected as rejected:
        if applied is None or applied.sha == rejected.revision.sha:
            raise
        committed = committed_specs(source, config.source.allowed_signers, revision=applied,
                                    secrets=config.secrets)
        print(f"note: the head of {config.source.branch}, {rejected}; using the last verified commit "
              f"{committed.revision.describe()} instead", file=sys.stderr if quiet else sys.stdout)
        return committed
    finally:
        source.close()


def _status(args: argparse.Namespace) -> int:
    import time

    from ..io.deploy import AlertmanagerFileTarget
    from ..service.status import gather_status, report_lines

    config = _load_config(args.config)
    report = gather_status(config, AlertmanagerFileTarget.for_config(config, os.environ))
    for line in report_lines(report, time.time()):
        print(line)
    return EXIT_OK if report.healthy else EXIT_INVALID


def _load_config(path: str, cached: bool = False) -> Config:
    from ..specs.daemon_config import parse_config

    data = _read_bytes(path)
    disk = key = config = None
    if cached:  # a valid config file seen before, same path and bytes: as parsed then
        from ..io.cache import blob_id, code_fingerprint

        disk, key = _user_cache(), f"config\0{code_fingerprint()}\0{path}\0{blob_id(data)}"
        config = disk.get(key)
    if not isinstance(config, _config_class()):
        try:
            config = parse_config(path, data)
        except SpecErrors as exc:
            raise ConfigError("\n".join(str(error) for error in exc.errors)) from None
        if disk is not None:
            disk.put(key, config)
    return config.relative_to(os.path.dirname(os.path.abspath(path)))


def _config_class() -> type:
    from ..specs.daemon_config import Config

    return Config


def _user_cache():
    """The user's cache on disk (cache.py): $XDG_CACHE_HOME/notify-reconciler."""
    from ..io.cache import DiskCache, user_cache_dir

    return DiskCache(user_cache_dir(os.environ))


def _cached_render(tree, base: str | None, base_name: str, question: str, rendered: str | None = None) -> str | None:
    """What `tree` rendered into `base` last time (see _tree_answer), asked with the same
    `question` (the render options and what else decided it); with `rendered`, store it."""
    from ..io.cache import blob_id

    base_id = blob_id((base or "").encode("utf-8", "surrogatepass"))
    text = _tree_answer(tree, f"render\0{question}\0{base_name}\0{base_id}\0{base is None}", rendered)
    return text if isinstance(text, str) else None


def _read_tree(folder: str):
    """A spec folder as read from disk (source.SpecFolder), each file's blob id in `digests`."""
    from ..io.cache import blob_id
    from ..io.git_source import read_spec_folder

    tree = read_spec_folder(folder)
    tree.folder = os.path.abspath(folder)
    tree.digests = {name: blob_id(data) for name, data in tree.files.items()}
    tree.template_digests = {name: blob_id(data) for name, data in tree.templates.items()}
    return tree


def _tree_answer(tree, question: str, answer=None):
    """The answer to `question` (a command's result) last given for this folder, if its tree
    was then the same: every spec and template file the same bytes (keyed by their blob ids,
    see _read_tree), from the user's cache; with `answer`, store it in place of the last. Only
    valid trees' answers are stored, and a folder with a file it could not read gets None."""
    from ..io.cache import code_fingerprint

    if tree.errors:
        return None
    # The template files too: a list's body is checked (and rendered) from them.
    files = "\0".join(f"{name}\0{digest}" for name, digest in sorted({**tree.digests,
                                                                        **tree.template_digests}.items()))
    key = f"tree\0{code_fingerprint()}\0{question}\0{files}"
    slot = f"answer\0{tree.folder}\0{question}"  # the last answer a folder got, not one a tree ever seen
    if answer is not None:
        _user_cache().put(key, answer, slot)
        return answer
    return _user_cache().get(key, slot)


def _host() -> Host:
    import socket
    import time

    from ..service.reconcile import Host

    return Host(now=time.time, environ=os.environ, hostname=socket.gethostname())


def _read_bytes(path: str) -> bytes:
    from pathlib import Path

    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise EnvironmentProblem(f"{path}: no such file") from None
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot read: {exc.strerror}") from None


def _kubernetes_name(what: str, longest: int):
    """An argparse type: a lower-case DNS name, as Kubernetes names Secrets and namespaces."""
    pattern = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?" + (r"(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*" if longest > 63 else "")

    def check(text: str) -> str:
        if len(text) > longest or not re.fullmatch(pattern, text):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} Kubernetes accepts: use at most {longest} "
                                             "lower-case letters, digits and '-'" + (" or '.'" if longest > 63 else "")
                                             + ", starting and ending with a letter or digit")
        return text
    return check


def _load_specs(folder: str, cached: bool = False, tree=None) -> Specs:
    """The specs of a folder on disk. Errors name each file as seen from here (DIR/file, as
    a compiler would), so that an editor or a terminal can open it at the line. `cached`:
    files parsed before (same path, same bytes) come from the user's cache (cache.py).
    `tree`: the folder as _read_tree read it already."""
    from ..specs.pipeline import parse_specs
    from ..io.template_engine import check_templates

    cache = None
    if cached:
        from ..io.cache import DiskCache, PersistentParseCache, user_cache_dir

        tree = tree if tree is not None else _read_tree(folder)
        cache = PersistentParseCache(DiskCache(user_cache_dir(os.environ)), location=os.path.abspath(folder))
    elif tree is None:
        from ..io.git_source import read_spec_folder

        tree = read_spec_folder(folder)
    digests = tree.digests if cache is not None else None
    try:
        specs = parse_specs(tree.files, extra_errors=tree.errors, digests=digests, cache=cache,
                            templates=tree.templates)
        template_errors = check_templates(specs)  # Alertmanager's own engine, through amtool
        if template_errors:
            raise SpecErrors(template_errors)
        return specs
    except SpecErrors as exc:
        raise _seen_from_here(folder, exc.errors) from None


def _seen_from_here(folder: str, errors: Sequence[SpecError]) -> SpecErrors:
    """`errors` located in spec `folder`, each file named as seen from here (DIR/file)."""
    return SpecErrors([SpecError(Location(os.path.normpath(os.path.join(folder, error.file)), error.line,
                                          error.column), error.path, error.message) for error in errors])


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


def _read_text(path: str) -> str:
    from pathlib import Path

    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EnvironmentProblem(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise BaseConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot read: {exc.strerror}") from None


def _print_errors(lines) -> None:
    for line in lines:
        print(line, file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
