"""Command-line interface: argument parsing and presentation only.

Every command maps the reconciler's exceptions to SPEC.md's exit statuses and prints
errors to stderr one per line (``file:line:col: path: message``); a traceback reaching the
user for an expected failure is a bug.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from . import __version__
from .errors import BaseConfigError, EnvironmentProblem, ReconcilerError, SpecErrors
from .model import Specs
from .pipeline import parse_specs
from .render import RenderOptions, render_alertmanager_config, render_kubernetes_secret
from .source import read_spec_folder

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
    render.add_argument("--secret-name", default="alertmanager-main", help="Secret name (default: %(default)s)")
    render.add_argument("--namespace", default="kubesphere-monitoring-system",
                        help="Secret namespace (default: %(default)s)")
    render.set_defaults(handler=_render)
    return parser


def _validate(args: argparse.Namespace) -> int:
    specs = _load_specs(args.dir)
    print(f"{args.dir}: valid: {_summary(specs)}")
    return EXIT_OK


def _render(args: argparse.Namespace) -> int:
    specs = _load_specs(args.dir)
    base_text = _read_text(args.base) if args.base else None
    text = render_alertmanager_config(specs, base_text, base_name=args.base or "base",
                                      options=RenderOptions(hello_default=socket.gethostname()))
    if args.format == "secret":
        text = render_kubernetes_secret(text, name=args.secret_name, namespace=args.namespace)
    if args.output:
        _write_atomically(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _load_specs(folder: str) -> Specs:
    tree = read_spec_folder(folder)
    return parse_specs(tree.files, extra_errors=tree.errors)


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


def _write_atomically(path: Path, text: str) -> None:
    """Temporary file in the same folder, fsync, rename: readers see the old or the new file."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, mode)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot write: {exc.strerror}") from None


def _print_errors(lines) -> None:
    for line in lines:
        print(line, file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
