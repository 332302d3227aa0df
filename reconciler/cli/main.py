"""Command-line interface: the parser, and the mapping of the reconciler's exceptions to exit
statuses. Each command lives in a module of its own (`validate.py`, `render.py`, ...), with a
`run(args)` that parses nothing and prints its answer; what they share is in `common.py`.

Every command maps the reconciler's exceptions to the exit statuses of docs/contract.md and prints
errors to stderr one per line (``file:line:col: path: message``); a traceback reaching the
user for an expected failure is a bug.
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import import_module
from typing import Sequence

from .. import __version__
from ..errors import BaseConfigError, CommitRejected, ReconcilerError, SpecErrors
from .common import EXIT_CANNOT_RUN, EXIT_INVALID, print_errors


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    # who-gets takes labels before and after its options (DIR --base FILE a=b c=d): argparse
    # leaves the later ones over, and only there are they welcome.
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "command", None) == "who_gets" and not any(word.startswith("-") for word in extra):
        args.labels += extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_CANNOT_RUN
    try:
        # Only the command's own module is imported: `validate` must not pay for git, HTTP,
        # SMTP, prometheus-client or jsonschema (bench/cold.py times whole processes).
        return import_module(f"{__package__}.{args.command}").run(args)
    except SpecErrors as exc:
        print_errors(str(error) for error in exc.errors)
        return EXIT_INVALID
    except CommitRejected as exc:
        print_errors([str(exc), *(problem for problem in exc.problems if problem != exc.summary)])
        return EXIT_INVALID
    except BaseConfigError as exc:
        print_errors([str(exc)])
        return EXIT_INVALID
    except ReconcilerError as exc:
        print_errors([str(exc)])
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: one line for the person, not a traceback
        print_errors([f"notify-reconciler: internal error (a bug, please report it): {type(exc).__name__}: {exc}"])
        return EXIT_CANNOT_RUN


def _parser() -> argparse.ArgumentParser:
    """The whole command line: one subparser per command, in the order `--help` lists them."""
    parser = argparse.ArgumentParser(
        prog="notify-reconciler",
        description="Keep Alertmanager's e-mail notifications in sync with specs committed to git.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _validate_command(commands)
    _render_command(commands)
    _import_command(commands)
    _diff_command(commands)
    _apply_command(commands)
    _run_command(commands)
    _mail_test_command(commands)
    _who_gets_command(commands)
    _preview_command(commands)
    _status_command(commands)
    return parser


def _validate_command(commands: argparse._SubParsersAction) -> None:
    """`validate` and its arguments."""
    validate = commands.add_parser(
        "validate", help="validate a spec folder as it is on disk",
        description="Validate every *.yaml/*.yml spec file under DIR. Exit 0 valid, 1 invalid, 2 could not run.")
    validate.add_argument("dir", nargs="?", default=".", metavar="DIR", help="spec folder (default: .)")
    _cache_option(validate)
    validate.set_defaults(command="validate")


def _render_command(commands: argparse._SubParsersAction) -> None:
    """`render` and its arguments."""
    render = commands.add_parser(
        "render", help="print or write the Alertmanager config",
        description="Render the Alertmanager configuration for the specs in DIR. "
                    "Exit 0 rendered, 1 invalid specs or base, 2 could not run.")
    render.add_argument("dir", nargs="?", default=".", metavar="DIR", help="spec folder (default: .)")
    _cache_option(render)
    render.add_argument("--base", metavar="FILE",
                        help="base alertmanager.yml: everything the reconciler does not own is kept, comments too")
    render.add_argument("-o", "--output", metavar="FILE", help="write here (atomically) instead of stdout")
    render.add_argument("--format", choices=("alertmanager", "secret", "kubesphere"), default="alertmanager",
                        help="alertmanager.yml, a Kubernetes Secret holding it, or the notification-manager objects "
                             "KubeSphere's console reads (default: alertmanager)")
    render.add_argument("--api", choices=("v2beta2", "v2beta1"), default=None,
                        help="with --format kubesphere: the API version (v2beta2, KubeSphere 3.4, the default; "
                             "v2beta1, KubeSphere 3.1 to 3.3)")
    render.add_argument("--password-secret", action="store_true",
                        help="with --format kubesphere: also write the Secret global-email-config-secret holding the "
                             "password, read from the EmailServer's passwordFile or passwordEnv")
    render.add_argument("--secret-name", type=_kubernetes_name("a Secret name", 253),
                        help="Secret name (default: the --base Secret's, else alertmanager-main)")
    render.add_argument("--namespace", type=_kubernetes_name("a namespace", 63),
                        help="Secret namespace (default: the --base Secret's, else kubesphere-monitoring-system; with "
                             "--format kubesphere, the password Secret's: kubesphere-monitoring-federated)")
    render.set_defaults(command="render")


def _import_command(commands: argparse._SubParsersAction) -> None:
    """`import` and its arguments."""
    import_ = commands.add_parser(
        "import", help="turn an alertmanager.yml, its Kubernetes Secret or KubeSphere's objects into specs",
        description="Read an Alertmanager config, or a Secret manifest holding one (kubectl get secret "
                    "alertmanager-main -o yaml), and write DIR/specs/ (EmailServer, one RecipientList per e-mail "
                    "receiver whose routing the specs can say, NotificationPolicy) and DIR/base.yml (everything "
                    "else, comments kept). What cannot be said as specs stays in the base, and stderr says why. "
                    "KubeSphere's notification-manager objects (kubectl get configs.notification.kubesphere.io,"
                    "receivers.notification.kubesphere.io -o yaml, optionally with the password Secret and "
                    "alertmanager-main in the same input) become DIR/specs/ alone. "
                    "No password is written into DIR. Exit 0 written, 1 the input is invalid or holds nothing to "
                    "import, 2 could not run.")
    import_.add_argument("file", metavar="FILE", help="alertmanager.yml or a Secret manifest; - reads stdin")
    import_.add_argument("-o", "--output", required=True, metavar="DIR", help="new (or empty) folder to write")
    import_.add_argument("--password-file", metavar="PATH",
                         help="write the SMTP password here (mode 0600; outside DIR) and name it in the specs; "
                              "default: name /etc/alertmanager/smtp-password (from a Secret: "
                              "/etc/alertmanager/secrets/alertmanager-smtp/password, as the pod mounts it) and say "
                              "what to put there")
    import_.add_argument("--templates", metavar="DIR",
                         help="the folder holding the template files the config's templates: reads (each found by "
                              "its base name): an e-mail config whose html or text only calls a template one of "
                              "them defines alone becomes a list with a copy of that file as its body")
    import_.set_defaults(command="import_config")


def _diff_command(commands: argparse._SubParsersAction) -> None:
    """`diff` and its arguments."""
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
    diff.set_defaults(command="diff")


def _apply_command(commands: argparse._SubParsersAction) -> None:
    """`apply` and its arguments."""
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
    apply.set_defaults(command="apply")


def _run_command(commands: argparse._SubParsersAction) -> None:
    """`run` and its arguments."""
    run = commands.add_parser(
        "run", help="the daemon: reconcile on every commit, poll, and SIGHUP",
        description="Run until SIGTERM: apply each new commit of the branch (a local repo is watched, every "
                    "source is polled every pollInterval), put back hand edits of the live config, serve "
                    "/metrics, /healthz and /readyz on listen, and talk to systemd (Type=notify). SIGHUP "
                    "reconciles now.")
    _config_option(run)
    run.set_defaults(command="run")


def _mail_test_command(commands: argparse._SubParsersAction) -> None:
    """`mail-test` and its arguments."""
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
    mail_test.set_defaults(command="mail_test")


def _who_gets_command(commands: argparse._SubParsersAction) -> None:
    """`who-gets` and its arguments."""
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
    who.set_defaults(command="who_gets")


def _preview_command(commands: argparse._SubParsersAction) -> None:
    """`preview` and its arguments."""
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
    preview.set_defaults(command="preview")


def _status_command(commands: argparse._SubParsersAction) -> None:
    """`status` and its arguments."""
    status = commands.add_parser(
        "status", help="applied and attempted revisions, last error, each Alertmanager",
        description="Show what runs and what was last tried. Exit 0 healthy, 1 not.")
    _config_option(status)
    status.set_defaults(command="status")


def _config_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--config", required=True, metavar="FILE",
                         help="the daemon's config.yaml (e.g. /etc/notify-reconciler/config.yaml)")


def _cache_option(command: argparse.ArgumentParser, where: str = "$XDG_CACHE_HOME/notify-reconciler") -> None:
    command.add_argument("--no-cache", action="store_true",
                         help=f"parse every file again instead of taking unchanged ones from the cache ({where})")


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


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
