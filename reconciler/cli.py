"""Command-line interface: argument parsing and presentation only.

Every command maps the reconciler's exceptions to SPEC.md's exit statuses and prints
errors to stderr one per line (``file:line:col: path: message``); a traceback reaching the
user for an expected failure is a bug.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from . import __version__
from .config import Config, parse_config
from .deploy import config_hash, read_live, running_config, running_hash
from .diff import colourise, unified_diff
from .errors import (BaseConfigError, ConfigError, DeployError, EnvironmentProblem, Location, ReconcilerError,
                     SpecError, SpecErrors)
from .files import write_atomically
from .model import Specs
from .pipeline import parse_specs
from .render import (RenderOptions, decode_base, password_file_for, render_alertmanager_config,
                     render_kubernetes_secret)
from .render_check import check_render
from .reconcile import Host, reconcile, render_options
from .alerts import AlertStream
from .mailer import Outbox
from .source import GitSource, Revision, read_spec_folder
from .schema import email_problem
from .state import acquire_lock, load_alerting, load_state

EXIT_OK, EXIT_INVALID, EXIT_CANNOT_RUN = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_CANNOT_RUN
    try:
        return args.handler(args)
    except SpecErrors as exc:
        _print_errors(str(error) for error in exc.errors)
        return EXIT_INVALID
    except BaseConfigError as exc:
        _print_errors([str(exc)])
        return EXIT_INVALID
    except (EnvironmentProblem, ReconcilerError) as exc:
        _print_errors([str(exc)])
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        return 130


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
    validate.set_defaults(handler=_validate)

    render = commands.add_parser(
        "render", help="print or write the Alertmanager config",
        description="Render the Alertmanager configuration for the specs in DIR. "
                    "Exit 0 rendered, 1 invalid specs or base, 2 could not run.")
    render.add_argument("dir", nargs="?", default=".", metavar="DIR", help="spec folder (default: .)")
    render.add_argument("--base", metavar="FILE",
                        help="base alertmanager.yml: everything the reconciler does not own is kept, comments too")
    render.add_argument("-o", "--output", metavar="FILE", help="write here (atomically) instead of stdout")
    render.add_argument("--format", choices=("alertmanager", "secret"), default="alertmanager",
                        help="alertmanager.yml, or a Kubernetes Secret holding it (default: alertmanager)")
    render.add_argument("--secret-name", default="alertmanager-main", type=_kubernetes_name("a Secret name", 253),
                        help="Secret name (default: %(default)s)")
    render.add_argument("--namespace", default="kubesphere-monitoring-system",
                        type=_kubernetes_name("a namespace", 63), help="Secret namespace (default: %(default)s)")
    render.set_defaults(handler=_render)

    diff = commands.add_parser(
        "diff", help="dry run: what DIR would change in the live config",
        description="Render DIR as it is on disk and show a unified diff against what is live: target.output, "
                    "or else what the first Alertmanager reports. Secrets show as <secret>. "
                    "Exit 0 no change, 1 changes, 2 error (invalid specs included).")
    diff.add_argument("dir", nargs="?", default=".", metavar="DIR", help="spec folder (default: .)")
    _config_option(diff)
    diff.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                      help="colour the diff (default: on a terminal)")
    diff.set_defaults(handler=_diff)

    apply = commands.add_parser(
        "apply", help="one reconcile pass of the committed branch",
        description="Render the committed branch, check it, write it atomically, reload and verify every "
                    "Alertmanager, roll back on refusal. Exit 0 applied or nothing to do, 1 rejected or failed.")
    _config_option(apply)
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
    mail_test.set_defaults(handler=_mail_test)

    status = commands.add_parser(
        "status", help="applied and attempted revisions, last error, each Alertmanager",
        description="Show what runs and what was last tried. Exit 0 healthy, 1 not.")
    _config_option(status)
    status.set_defaults(handler=_status)
    return parser


def _config_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--config", required=True, metavar="FILE",
                         help="the daemon's config.yaml (e.g. /etc/notify-reconciler/config.yaml)")


def _validate(args: argparse.Namespace) -> int:
    specs = _load_specs(args.dir)
    print(f"{args.dir}: valid: {_summary(specs)}")
    return EXIT_OK


def _render(args: argparse.Namespace) -> int:
    specs = _load_specs(args.dir)
    base_text = decode_base(_read_bytes(args.base), args.base) if args.base else None
    options = RenderOptions()
    text = render_alertmanager_config(specs, base_text, base_name=args.base or "base", options=options)
    try:
        check_render(text, base_text, args.base or "base")  # what apply would refuse, render refuses too
    except DeployError as exc:
        _print_errors([str(exc)])
        return EXIT_INVALID
    if args.format == "secret":
        text = render_kubernetes_secret(text, name=args.secret_name, namespace=args.namespace)
        password_file = password_file_for(specs.server, options) if specs.server and specs.server.username else None
        if password_file:
            # The password stays out of the Secret; the pod must have the file the config names.
            print(f"note: the config reads the SMTP password from {password_file}: mount it there in the "
                  "Alertmanager pod (prometheus-operator: spec.secrets mounts /etc/alertmanager/secrets/<name>/)",
                  file=sys.stderr)
    if args.output:
        write_atomically(args.output, text, new_mode=0o644)
    else:
        _write_stdout(text)
    return EXIT_OK


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


def _diff(args: argparse.Namespace) -> int:
    config = _load_config(args.config)
    try:
        specs = _load_specs(args.dir)
    except SpecErrors as exc:
        _print_errors(str(error) for error in exc.errors)
        return EXIT_CANNOT_RUN
    host = _host()
    base_text = _read_text(config.target.base) if config.target.base else None
    rendered = render_alertmanager_config(specs, base_text, base_name=config.target.base or "base",
                                          options=render_options(config, host))
    live, label, live_redacted = _live_config(config)
    diff = unified_diff(live, rendered, label, f"rendered from {args.dir}", live_redacted=live_redacted)
    if not diff:
        print(f"no change: {label} already holds what {args.dir} renders", file=sys.stderr)
        return EXIT_OK
    colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty()
                                        and not os.environ.get("NO_COLOR"))
    sys.stdout.write(colourise(diff) if colour else diff)
    return EXIT_INVALID


def _live_config(config: Config) -> tuple[str, str, bool]:
    """The live config, where it came from (the output file, else the first Alertmanager), and
    whether its secrets are redacted already (Alertmanager shows them as <secret>)."""
    live = read_live(config.target.output)
    if live is not None:
        return live.decode("utf-8", "replace"), config.target.output, False
    for url in config.target.alertmanagers[:1]:
        try:
            return running_config(url), f"{url} (as Alertmanager reports it, defaults filled in)", True
        except DeployError as exc:
            raise EnvironmentProblem(f"{config.target.output} does not exist and {exc}") from exc
    return "", f"{config.target.output} (does not exist yet)", False


def _apply(args: argparse.Namespace) -> int:
    config = _load_config(args.config)
    # One writer per state directory: a running daemon would race this pass for the file,
    # the reloads and the state.
    lock = acquire_lock(config.state_dir, busy_hint="it reconciles by itself; to make it reconcile now, send it "
                                                    "SIGHUP (systemctl reload notify-reconciler)")
    try:
        outcome = reconcile(config, _host())
    finally:
        os.close(lock)
    stream = sys.stdout if outcome.ok else sys.stderr
    print(outcome.message, file=stream)
    for line in outcome.errors:
        if line != outcome.message.split(": ", 1)[-1]:
            print(line, file=sys.stderr)
    for target in outcome.targets:
        print(f"  {target.url}: {target.message}", file=stream)
    return EXIT_OK if outcome.ok else EXIT_INVALID


def _run(args: argparse.Namespace) -> int:
    import logging

    from .daemon import Daemon

    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="level=%(levelname)s %(message)s")
    config = _load_config(args.config)
    return Daemon(config, _host()).run()


def _mail_test(args: argparse.Namespace) -> int:
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    from .daemon import own_alert_recipients
    from .mailer import MailError, read_password, send

    config = _load_config(args.config)
    source = GitSource(config.source.repo, config.source.branch, config.source.path, config.state_dir)
    source.fetch()
    revision = source.head()
    tree = source.read(revision)
    specs = parse_specs(tree.files, extra_errors=tree.errors)
    server = specs.server
    if server is None:
        print(f"{revision.describe()} has no EmailServer: nothing to test", file=sys.stderr)
        return EXIT_INVALID
    problems = [problem for problem in map(email_problem, args.to or ()) if problem]
    if problems:
        for problem in problems:
            print(f"--to: {problem}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    recipients = args.to or own_alert_recipients(specs)
    if not recipients:
        print(f"{revision.describe()} has no recipients: give one with --to", file=sys.stderr)
        return EXIT_INVALID
    if not server.enabled:
        print(f"note: e-mail is disabled in {revision.describe()} (enabled: false); sending anyway, as asked")
    host = _host()
    mail = EmailMessage()
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
        delivery = send(server, read_password(server, host.environ), server.sender, recipients, bytes(mail),
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


def _status(args: argparse.Namespace) -> int:
    config = _load_config(args.config)
    state = load_state(config.state_dir)
    now = time.time()
    print(f"applied:    {_revision_line(state.applied, state.applied_at, now)}")
    attempt = state.attempted
    if attempt is None:
        print("attempted:  nothing yet")
    else:
        print(f"attempted:  {_revision_line(attempt.revision, attempt.at, now)}: {attempt.result}")
    if attempt is not None and attempt.error:
        lines = attempt.error.splitlines()
        print(f"last error: {lines[0]}")
        for line in lines[1:]:
            print(f"            {line}")
    live = read_live(config.target.output)
    live_ok = live is not None and state.applied_digest == hashlib.sha256(live).hexdigest()
    print(f"live file:  {config.target.output}: " + (
        "missing" if live is None else "as applied" if live_ok else "changed since applied (drift)"))
    healthy = state.healthy and live_ok
    for url in config.target.alertmanagers:
        try:
            running = running_hash(url)
        except DeployError as exc:
            print(f"  {exc}")  # names the URL and why
            healthy = False
            continue
        runs_live = live is not None and running == config_hash(live)
        recorded = state.alertmanagers.get(url)
        note = f"; last apply: {recorded.message}" if recorded else ""
        print(f"  {url}: {'runs the live file' if runs_live else 'runs a different config'}{note}")
        healthy = healthy and runs_live
    outbox = Outbox(Path(config.state_dir, "outbox"))
    pending, failed = outbox.pending(), outbox.failed()
    print(f"outbox:     {len(pending)} waiting, {len(failed)} given up"
          + (f" (last: {failed[-1].last_error})" if failed else ""))
    firing = AlertStream(load_alerting(config.state_dir).alerts).firing()
    print(f"own alerts: {', '.join(firing) + ' firing' if firing else 'none firing'}")
    print("healthy" if healthy else "not healthy")
    return EXIT_OK if healthy else EXIT_INVALID


def _revision_line(revision: Revision | None, at: float | None, now: float) -> str:
    if revision is None:
        return "nothing yet"
    when = datetime.fromtimestamp(revision.committed_at, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    ago = f", {_ago(now - at)} ago" if at else ""
    signed = f", signed by {revision.signed_by}" if revision.signed_by else ""
    return f"{revision.describe()} by {revision.author}{signed}, committed {when}{ago}"


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _load_config(path: str) -> Config:
    data = _read_bytes(path)
    try:
        config = parse_config(path, data)
    except SpecErrors as exc:
        raise ConfigError("\n".join(str(error) for error in exc.errors)) from None
    return config.relative_to(os.path.dirname(os.path.abspath(path)))


def _host() -> Host:
    return Host(now=time.time, environ=os.environ, hostname=socket.gethostname())


def _read_bytes(path: str) -> bytes:
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


def _load_specs(folder: str) -> Specs:
    """The specs of a folder on disk. Errors name each file as seen from here (DIR/file, as
    a compiler would), so that an editor or a terminal can open it at the line."""
    tree = read_spec_folder(folder)
    try:
        return parse_specs(tree.files, extra_errors=tree.errors)
    except SpecErrors as exc:
        raise SpecErrors([SpecError(Location(os.path.normpath(os.path.join(folder, error.file)), error.line,
                                             error.column), error.path, error.message)
                          for error in exc.errors]) from None


def _summary(specs: Specs) -> str:
    parts = []
    if specs.server:
        state = "enabled" if specs.server.enabled else "disabled"
        parts.append(f"EmailServer {specs.server.name} ({specs.server.smarthost}, e-mail {state})")
    recipients = sum(len(item.recipients) for item in specs.lists)
    parts.append(f"{len(specs.lists)} RecipientList{'s' if len(specs.lists) != 1 else ''} "
                 f"({recipients} recipient{'s' if recipients != 1 else ''})")
    parts.append(f"NotificationPolicy {specs.policy.name}" if specs.policy else "default NotificationPolicy")
    return ", ".join(parts)


def _read_text(path: str) -> str:
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
