"""`import FILE -o DIR`: turn an Alertmanager config's e-mail receivers into spec files."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import BaseConfigError, EnvironmentProblem
from .common import EXIT_OK


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

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
    from ..kubesphere.importing import is_kubesphere

    if is_kubesphere(text.encode("utf-8")):
        if getattr(args, "templates", None):
            raise EnvironmentProblem(f"--templates {args.templates}: {name} holds KubeSphere's notification-manager "
                                     "objects, whose templates are notification-manager's own: leave --templates out")
        return _kubesphere(text, name, folder, password_file)
    inner = unwrap(text, name)
    if inner is not None:
        text, name = inner.config, inner.name
    default = SECRET_PASSWORD_FILE if inner is not None else DEFAULT_PASSWORD_FILE
    templates = _read_templates(args.templates) if getattr(args, "templates", None) else None
    imported = import_config(text, name, password_file=password_file or default, templates=templates)
    _write(imported, folder, password_file, "the imported config",
           "create {path} (mode 0600, readable by Alertmanager's user) holding the SMTP password of the imported "
           "config, without a trailing line break (printf '%s' ...)"
           + (": in Kubernetes, a Secret alertmanager-smtp with key password, listed in the Alertmanager "
              "resource's spec.secrets" if password_file is None and default == SECRET_PASSWORD_FILE else ""))
    lists = ", ".join(f"{receiver} -> {name}" for receiver, names in imported.lists.items() for name in names)
    print(f"wrote {folder / SPEC_FOLDER} (EmailServer, NotificationPolicy, RecipientLists: {lists}) and "
          f"{folder / BASE_FILE}; check with: notify-reconciler render {folder / SPEC_FOLDER} --base "
          f"{folder / BASE_FILE}")
    return EXIT_OK


def _kubesphere(text: str, name: str, folder, password_file: str | None) -> int:
    """KubeSphere's notification-manager objects: specs only (notification-manager has no base)."""
    from ..kubesphere.importing import DEFAULT_PASSWORD_FILE, SPEC_FOLDER, import_objects

    imported = import_objects(text.encode("utf-8"), name, password_file=password_file or DEFAULT_PASSWORD_FILE)
    _write(imported, folder, password_file, "the imported Config",
           "create {path} (mode 0600) holding the SMTP password from the Secret given, without a trailing line "
           "break (printf '%s' ...), or import again with --password-file")
    lists = ", ".join(f"{receiver} -> {name}" for receiver, names in imported.lists.items() for name in names)
    print(f"wrote {folder / SPEC_FOLDER} (EmailServer, NotificationPolicy, RecipientLists: {lists}); check with: "
          f"notify-reconciler render {folder / SPEC_FOLDER} --format kubesphere")
    return EXIT_OK


def _write(imported, folder, password_file: str | None, whose: str, create: str) -> None:
    """Print the import's notes, write its files, and write each password to the file named
    with --password-file (mode 0600, no line break: Alertmanager would send it) or say which
    file to create (`create`, with {path})."""
    from ..io.files import write_atomically

    for note in imported.notes:
        print(note, file=sys.stderr)
    for relative, content in imported.files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        write_atomically(folder / relative, content, new_mode=0o644)
    for path, password in imported.passwords.items():
        if password_file:
            write_atomically(path, password, new_mode=0o600)
            os.chmod(path, 0o600)
            print(f"wrote the SMTP password of {whose} to {path} (mode 0600)", file=sys.stderr)
        else:
            print(create.format(path=path), file=sys.stderr)


def _read_templates(folder: str) -> dict[str, bytes]:
    """Base name -> content of each file directly in `folder`."""
    from pathlib import Path

    try:
        return {path.name: path.read_bytes() for path in sorted(Path(folder).iterdir()) if path.is_file()}
    except FileNotFoundError:
        raise EnvironmentProblem(f"--templates {folder}: no such folder") from None
    except NotADirectoryError:
        raise EnvironmentProblem(f"--templates {folder}: not a folder: give the folder holding the template "
                                 "files") from None
    except OSError as exc:
        raise EnvironmentProblem(f"--templates {folder}: cannot read: {exc.strerror}") from None


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
