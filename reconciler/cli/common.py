"""What the commands share: reading the daemon's config and a spec folder (through the
user's cache), printing errors, the host the daemon and `apply` run on."""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, Sequence

from ..errors import ConfigError, EnvironmentProblem, Location, SpecError, SpecErrors

if TYPE_CHECKING:
    from ..specs.daemon_config import Config
    from ..specs.model import Specs
    from ..service.reconcile import Host
    from ..io.git_source import Committed


EXIT_OK, EXIT_INVALID, EXIT_CANNOT_RUN = 0, 1, 2


def warn_about_duplicates(rendered: str, base: str | None, base_name: str) -> None:
    """Say on stderr which of the base's e-mail receivers mail an address a list mails too."""
    from ..display import display_lines
    from ..core.who_gets import duplicate_warnings

    for line in duplicate_warnings(rendered, base, base_name):
        print("\n".join(display_lines(f"warning: {line}")), file=sys.stderr)


def unwrap_secret(text: str, name: str) -> str | None:
    """The config a base given as a Kubernetes Secret (or a List holding one) carries, or None
    for a base that is a config itself."""
    # A Secret's manifest says `kind: Secret` (or spells it with a YAML escape, which takes a
    # backslash): other bases are not read twice.
    if "Secret" not in text and "\\" not in text:
        return None
    from ..am.secret import unwrap

    inner = unwrap(text, name)
    return inner.config if inner is not None else None


def name_values(words: Sequence[str], prefix: str, what: str) -> dict[str, str] | None:
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


def last_verified(config: Config, quiet: bool = False) -> Committed:
    """The commit to use (service.verified): says which, and why not the head if it is not."""
    from ..service.verified import last_verified as verified

    committed, passed_over = verified(config)
    if passed_over is not None:
        print(f"note: the head of {config.source.branch}, {passed_over}; using the last verified commit "
              f"{committed.revision.describe()} instead", file=sys.stderr if quiet else sys.stdout)
    elif not quiet:
        print(f"using {committed.revision.describe()}, the head of {config.source.branch}"
              + (f", signed by {committed.revision.signed_by}" if committed.revision.signed_by else ""))
    return committed


def load_config(path: str, cached: bool = False) -> Config:
    from ..specs.daemon_config import parse_config

    data = read_bytes(path)
    disk = key = config = None
    if cached:  # a valid config file seen before, same path and bytes: as parsed then
        from ..io.cache import blob_id, code_fingerprint

        disk, key = user_cache(), f"config\0{code_fingerprint()}\0{path}\0{blob_id(data)}"
        config = disk.get(key)
    if not isinstance(config, config_class()):
        try:
            config = parse_config(path, data)
        except SpecErrors as exc:
            raise ConfigError("\n".join(str(error) for error in exc.errors)) from None
        if disk is not None:
            disk.put(key, config)
    return config.relative_to(os.path.dirname(os.path.abspath(path)))


def config_class() -> type:
    from ..specs.daemon_config import Config

    return Config


def user_cache():
    """The user's cache on disk (cache.py): $XDG_CACHE_HOME/notify-reconciler."""
    from ..io.cache import DiskCache, user_cache_dir

    return DiskCache(user_cache_dir(os.environ))


def read_tree(folder: str):
    """A spec folder as read from disk (source.SpecFolder), each file's blob id in `digests`."""
    from ..io.cache import blob_id
    from ..io.git_source import read_spec_folder

    tree = read_spec_folder(folder)
    tree.folder = os.path.abspath(folder)
    tree.digests = {name: blob_id(data) for name, data in tree.files.items()}
    tree.template_digests = {name: blob_id(data) for name, data in tree.templates.items()}
    return tree


def tree_answer(tree, question: str, answer=None):
    """The answer to `question` (a command's result) last given for this folder, if its tree
    was then the same: every spec and template file the same bytes (keyed by their blob ids,
    see read_tree), from the user's cache; with `answer`, store it in place of the last. Only
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
        user_cache().put(key, answer, slot)
        return answer
    return user_cache().get(key, slot)


def this_host() -> Host:
    import socket
    import time

    from ..service.reconcile import Host

    return Host(now=time.time, environ=os.environ, hostname=socket.gethostname())


def read_bytes(path: str) -> bytes:
    from pathlib import Path

    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise EnvironmentProblem(f"{path}: no such file") from None
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot read: {exc.strerror}") from None


def load_specs(folder: str, cached: bool = False, tree=None) -> Specs:
    """The specs of a folder on disk. Errors name each file as seen from here (DIR/file, as
    a compiler would), so that an editor or a terminal can open it at the line. `cached`:
    files parsed before (same path, same bytes) come from the user's cache (cache.py).
    `tree`: the folder as read_tree read it already."""
    from ..specs.pipeline import parse_specs
    from ..io.template_engine import check_templates

    cache = None
    if cached:
        from ..io.cache import DiskCache, PersistentParseCache, user_cache_dir

        tree = tree if tree is not None else read_tree(folder)
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
        raise seen_from_here(folder, exc.errors) from None


def seen_from_here(folder: str, errors: Sequence[SpecError]) -> SpecErrors:
    """`errors` located in spec `folder`, each file named as seen from here (DIR/file)."""
    return SpecErrors([SpecError(Location(os.path.normpath(os.path.join(folder, error.file)), error.line,
                                          error.column), error.path, error.message) for error in errors])


def print_errors(lines) -> None:
    for line in lines:
        print(line, file=sys.stderr)
