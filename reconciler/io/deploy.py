"""Put a rendered config live, behind one seam: the `Target`.

A `Target` is where the live Alertmanager config is: it says what is live (`live`), puts a
render live (`apply`), puts back what drifted (`correct_drift`) and reports on itself
(`status`). `reconcile` only composes: committed specs -> render -> target.apply -> record.
A new kind of target (a Kubernetes Secret, say) is one class here and a branch of the
daemon config's schema.

`AlertmanagerFileTarget`, the first one: a file that Alertmanagers read, plus the
Alertmanagers to reload. Its guarantee (docs/contract.md, section 4): the file is at every moment a
complete config that Alertmanager accepted, the old one or the new one.
- the render is checked first (our own checks, and `amtool check-config` when installed);
- every Alertmanager must answer /-/ready before the file is written: while one is down,
  the file keeps the config it last accepted (and would start with), not a new one nobody
  verified;
- the file is written atomically, every Alertmanager is reloaded at once and verified by
  its config hash; if any refuses or cannot be reached, the previous bytes are restored and
  reloaded before the result is returned.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence, TypeVar

from .alertmanager_api import config_hash, reload_and_verify, running_config, running_hash, wait_until_ready
from .amtool import Budget, CannotLimit, OverBudget, run_amtool
from .cache import DiskCache, code_fingerprint
from ..errors import DeployError, EnvironmentProblem, TransientDeployError
from .files import write_atomically
from ..am.reading import decode_text
from ..core.render import MAX_HEADER_LINE, RenderOptions, Rendered, password_file_for
from ..values import Deployment, LiveConfig, Result, TargetHealth, TargetResult

if TYPE_CHECKING:
    from ..specs.daemon_config import Config
    from ..specs.model import Specs


def render_options(config: Config) -> RenderOptions:
    """How the daemon config's target renders: password files under <stateDir>/secrets."""
    return RenderOptions(secrets_dir=str(Path(config.state_dir, "secrets")))


def read_base(path: str | None) -> str | None:
    """The user's base alertmanager.yml, if the config names one."""
    if not path:
        return None
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot read the base config: {exc.strerror}") from exc
    return decode_text(data, path)

AMTOOL_TIMEOUT = 10.0
"""amtool check-config of a large render takes a fraction of a second, and a commit cannot
make it loop (it parses templates, it does not run them): this bounds a machine that is stuck. The daemon's
watchdog is fed while it runs (amtool.py, liveness.py)."""
CHECK_MEMORY = 128 << 20
"""Its data-segment limit (amtool.py): a 1,000-list render needs well over half of it in mappings."""
CHECK_OUTPUT = 1 << 20


class Target(Protocol):
    """Where the rendered Alertmanager config goes live."""

    def live(self) -> LiveConfig:
        """What is live now, for `diff` (secrets may show as <secret>)."""

    def apply(self, rendered: Rendered, specs: Specs, applied_digest: str | None) -> Deployment:
        """Check `rendered` and put it live, or find it live already (then put back what
        drifted). `applied_digest` is the sha256 of what was last applied, to tell a hand edit
        from a new render. Raises DeployError (or EnvironmentProblem) when nothing was
        changed; returns FAILED when a refusal after the write was rolled back."""

    def status(self, applied_digest: str | None) -> tuple[TargetHealth, ...]:
        """Whether what is live is what was applied, one line a part."""


class AlertmanagerFileTarget:
    """`output`, the alertmanager.yml every URL of `alertmanagers` reads."""

    def __init__(self, output: str, alertmanagers: tuple[str, ...], *, options: RenderOptions,
                 environ: Mapping[str, str], sleep: Callable[[float], None] | None = None,
                 checked: CheckedParts | None = None) -> None:
        self.output = output
        self.alertmanagers = alertmanagers
        self.options = options
        self.environ = environ
        self.sleep = sleep
        self.checked = checked if checked is not None else CheckedParts()
        """What amtool last accepted: a one-file commit checks only that file's list."""
        self.known: bytes | None = None
        """What this target last wrote or found live and verified: a change of the file to
        anything else is someone else's (the daemon watches for it)."""

    @classmethod
    def for_config(cls, config: Config, environ: Mapping[str, str], *, sleep: Callable[[float], None] | None = None,
                   checked: CheckedParts | None = None) -> AlertmanagerFileTarget:
        """The target a daemon config names (`target.output` and its `alertmanagers`)."""
        return cls(config.target.output, config.target.alertmanagers, options=render_options(config), environ=environ,
                   sleep=sleep, checked=checked)

    # -- the seam --------------------------------------------------------------------------

    def live(self) -> LiveConfig:
        live = self._read()
        if live is not None:
            return LiveConfig(live.decode("utf-8", "replace"), self.output)
        for url in self.alertmanagers[:1]:
            try:
                return LiveConfig(running_config(url), f"{url} (as Alertmanager reports it, defaults filled in)",
                                  redacted=True)
            except DeployError as exc:
                raise EnvironmentProblem(f"{self.output} does not exist and {exc}") from exc
        return LiveConfig(None, f"{self.output} (does not exist yet)")

    def apply(self, rendered: Rendered, specs: Specs, applied_digest: str | None) -> Deployment:
        data = rendered.text.encode("utf-8")
        # A password from passwordEnv goes where the render told Alertmanager to read it;
        # written even when the config is unchanged (a restart may bring a new one).
        write_password_files(specs, self.options, self.environ)
        previous = self._read()
        if previous == data:
            write_template_files(self.output, rendered.templates)  # put back one deleted by hand
            deployment = self.correct_drift(data)
            self.known = data
            return deployment
        drift = (f"{self.output} was edited by hand",) \
            if previous is not None and applied_digest == hashlib.sha256(data).hexdigest() else ()
        check_rendered(rendered, self.checked)
        for problem in self._each(lambda url: wait_until_ready(url, sleep=self.sleep)):
            if problem is not None:
                raise problem
        # The template files first: their names change with their content, so none that the
        # live config reads is touched, and a rollback finds them all as they were.
        new_templates = write_template_files(self.output, rendered.templates)
        self.known = data  # before the write: the watch sees the rename at once
        write_atomically(self.output, data)
        errors = dict(zip(self.alertmanagers, self._each(lambda url: reload_and_verify(url, data, sleep=self.sleep))))
        if not any(errors.values()):
            remove_stale_template_files(self.output, rendered.templates)
            return Deployment(Result.APPLIED, tuple(TargetResult(url, True, "reloaded and verified")
                                                    for url in self.alertmanagers), drift)
        self._roll_back(previous)
        remove_template_files(self.output, new_templates)  # a glob of the base's must not find them
        return Deployment(Result.FAILED, tuple(
            TargetResult(url, False, str(error), transient=isinstance(error, TransientDeployError))
            if error is not None else TargetResult(url, True, "rolled back to the previous config")
            for url, error in errors.items()))

    def correct_drift(self, data: bytes) -> Deployment:
        """The file holds `data`: reload each Alertmanager that runs something else. Raises
        (TransientDeployError) if one cannot be reached."""
        expected = config_hash(data)
        drifted = [url for url in self.alertmanagers if running_hash(url) != expected]
        for url in drifted:
            reload_and_verify(url, data, sleep=self.sleep)
        return Deployment(Result.UNCHANGED,
                          tuple(TargetResult(url, True, "reloaded: it ran another config" if url in drifted
                                             else "runs it") for url in self.alertmanagers),
                          tuple(f"{url} ran another config" for url in drifted))

    def status(self, applied_digest: str | None) -> tuple[TargetHealth, ...]:
        live = self._read()
        as_applied = live is not None and applied_digest == hashlib.sha256(live).hexdigest()
        lines = [TargetHealth(self.output, as_applied, "missing" if live is None else
                              "as applied" if as_applied else "changed since applied (drift)")]
        for url in self.alertmanagers:
            try:
                runs_live = live is not None and running_hash(url) == config_hash(live)
            except DeployError as exc:
                lines.append(TargetHealth(url, False, str(exc).removeprefix(f"{url}: ")))
                continue
            lines.append(TargetHealth(url, runs_live, "runs the live file" if runs_live else "runs a different config"))
        return tuple(lines)

    # -- the steps -------------------------------------------------------------------------

    def _read(self) -> bytes | None:
        try:
            return Path(self.output).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise EnvironmentProblem(f"{self.output}: cannot read the live config: {exc.strerror}") from exc

    def _roll_back(self, previous: bytes | None) -> None:
        self.known = previous
        if previous is None:
            # There was no file before: leave none rather than one an Alertmanager refused.
            try:
                os.unlink(self.output)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise EnvironmentProblem(f"{self.output}: cannot remove the refused config: {exc.strerror}") \
                    from exc
            return
        write_atomically(self.output, previous)
        # A target that refuses this too still runs the previous config: a refused reload changes nothing.
        self._each(lambda url: reload_and_verify(url, previous, sleep=self.sleep))

    def _each(self, call: Callable[[str], None]) -> list[DeployError | None]:
        """`call` for every Alertmanager at once (ten take about as long as one); each one's
        DeployError, or None, in URL order."""
        def attempt(url: str) -> DeployError | None:
            try:
                call(url)
            except DeployError as exc:
                return exc
            return None

        return each_at_once(attempt, self.alertmanagers)


class KubeSphereFileTarget:
    """`output`, a file of notification-manager objects (reconciler.kubesphere.rendering) that
    `kubectl apply -f`, Flux or Argo CD take to the cluster: written atomically (never half a
    file), put back when edited by hand. No Alertmanager is reloaded: notification-manager
    reads the objects from the cluster once they are applied there."""

    def __init__(self, output: str) -> None:
        self.output = output
        self.known: bytes | None = None
        """What this target last wrote or found live (the daemon watches for other changes)."""

    def live(self) -> LiveConfig:
        live = _read_file(self.output)
        if live is None:
            return LiveConfig(None, f"{self.output} (does not exist yet)")
        return LiveConfig(live.decode("utf-8", "replace"), self.output)

    def apply(self, rendered: Any, specs: Specs, applied_digest: str | None) -> Deployment:
        """`rendered`: a reconciler.kubesphere.rendering.Rendered (its text is written)."""
        data = rendered.text.encode("utf-8")
        previous = _read_file(self.output)
        self.known = data  # before the write: the watch sees the rename at once
        if previous == data:
            return Deployment(Result.UNCHANGED)
        edited = previous is not None and applied_digest == hashlib.sha256(data).hexdigest()
        write_atomically(self.output, data)
        return Deployment(Result.APPLIED, (), (f"{self.output} was edited by hand",) if edited else ())

    def status(self, applied_digest: str | None) -> tuple[TargetHealth, ...]:
        live = _read_file(self.output)
        as_applied = live is not None and applied_digest == hashlib.sha256(live).hexdigest()
        return (TargetHealth(self.output, as_applied, "missing" if live is None else
                             "as applied (kubectl apply -f it, or let Flux or Argo CD)" if as_applied
                             else "changed since applied (drift)"),)


def target_for(config: Config, environ: Mapping[str, str], *, sleep: Callable[[float], None] | None = None,
               checked: CheckedParts | None = None) -> AlertmanagerFileTarget | KubeSphereFileTarget:
    """The target the daemon config names (target.format)."""
    if config.target.format == "kubesphere":
        return KubeSphereFileTarget(config.target.output)
    return AlertmanagerFileTarget.for_config(config, environ, sleep=sleep, checked=checked)


def _read_file(path: str) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot read the live config: {exc.strerror}") from exc


RELOAD_THREADS = 16
"""Alertmanagers reloaded at the same time at most."""
T = TypeVar("T")
R = TypeVar("R")


def each_at_once(call: Callable[[T], R], items: Sequence[T], most: int = RELOAD_THREADS) -> list[R]:
    """`call(item)` for every item, up to `most` at a time; the results in the items' order,
    or the first item's exception (by order) once all have run.

    The calling thread works through the items too, beside the helper threads it could
    start. A helper that cannot be started (the unit's TasksMax reached, whoever holds the
    tasks) is not an error: the pass is slower, never failed. A ThreadPoolExecutor raised
    "can't start new thread" out of the pass instead."""
    results: list = [None] * len(items)
    errors: dict[int, BaseException] = {}
    pending = iter(range(len(items)))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                index = next(pending, None)
            if index is None:
                return
            try:
                results[index] = call(items[index])
            except BaseException as exc:  # handed to the caller below
                errors[index] = exc

    helpers = []
    for number in range(min(most, len(items)) - 1):
        helper = threading.Thread(target=work, name=f"reload-{number}", daemon=True)
        try:
            helper.start()
        except RuntimeError:  # no task to be had: this thread does the rest
            break
        helpers.append(helper)
    work()
    for helper in helpers:
        helper.join()
    if errors:
        raise errors[min(errors)]
    return results


# -- checks ------------------------------------------------------------------------------------

class CheckedParts:
    """What the check last accepted, as sha256 digests (never config text): the context the
    lists were checked in (`check_context`: the skeleton, the template files, the checker)
    and each list's part (`part_digest`).

    With a `disk` (cache.DiskCache, the daemon's <stateDir>/cache) the record outlives the
    process: the first pass after a restart sends amtool only the lists that changed. A record
    that is missing, damaged or not ours there is ignored (the whole text is checked). It
    holds digests only; what they are digests of may include a password the user's base
    writes inline, which a digest does not give away (and stateDir holds the passwordEnv
    password files themselves)."""

    def __init__(self, disk: DiskCache | None = None, key: str = "accepted") -> None:
        self.context: bytes | None = None
        self.lists: frozenset[bytes] = frozenset()
        self._disk = disk
        self._key = key
        self._loaded = disk is None
        self._digests: dict[tuple[str, str], bytes] = {}
        """The last parts' digests: the render cache hands back the same strings next pass."""

    def digests(self, parts: tuple[tuple[str, str], ...]) -> list[bytes]:
        """`part_digest` of each part, hashing only the text of parts not seen last time (a
        pass in the running daemon would otherwise hash the whole render again)."""
        known = self._digests
        digests = [known.get(part) or part_digest(part) for part in parts]
        self._digests = dict(zip(parts, digests))
        return digests

    def accepted_in(self, context: bytes) -> frozenset[bytes] | None:
        """The digests of the parts accepted in `context`; None if the last acceptance was in
        another one (or there was none)."""
        if not self._loaded:
            self._loaded = True
            record = self._disk.get(self._key)
            if (isinstance(record, tuple) and len(record) == 2 and isinstance(record[0], bytes)
                    and isinstance(record[1], frozenset) and all(isinstance(d, bytes) for d in record[1])):
                self.context, self.lists = record
        return self.lists if self.context is not None and self.context == context else None

    def accept(self, context: bytes, lists: frozenset[bytes]) -> None:
        if (context, lists) == (self.context, self.lists):
            return
        self.context, self.lists = context, lists
        self._loaded = True  # what is on disk is older than this
        if self._disk is not None:
            self._disk.put(self._key, (context, lists))


def check_rendered(rendered: Rendered, checked: CheckedParts | None = None) -> None:
    """`check_config` on what changed since the last accepted render.

    With the same skeleton (base, globals, root route), template files and checker, a list's
    route and receiver are valid or not by their own text: each route names only its own
    receiver, and names are unique (the schema sees to that). So only the lists whose text is
    new are checked, in the skeleton, and a one-file commit costs amtool a small file instead
    of the whole config. Anything else (a new base, server, policy, template, amtool)
    checks the whole text."""
    context = check_context(rendered)
    digests = checked.digests(rendered.lists) if checked is not None else []
    accepted = checked.accepted_in(context) if checked is not None else None
    if accepted is not None:
        try:
            check_config(rendered.with_lists([part for part, digest in zip(rendered.lists, digests)
                                              if digest not in accepted]), rendered.templates)
        except DeployError:
            check_config(rendered.text, rendered.templates)  # refused: say it with the line numbers of the real file
            raise
    else:
        check_config(rendered.text, rendered.templates)
    if checked is not None:
        checked.accept(context, frozenset(digests))


def check_context(rendered: Rendered) -> bytes:
    """What a list part's verdict depends on besides its own text: the skeleton it is checked
    in, the template files next to it, and what checks (amtool's binary, our own code)."""
    return _digest(_checker(), rendered.skeleton, *(piece for name, content in rendered.templates
                                                    for piece in (name, content)))


def part_digest(part: tuple[str, str]) -> bytes:
    """One list's route and receiver, as a sha256 digest."""
    return _digest(*part)


def _digest(*pieces: str | bytes) -> bytes:
    digest = hashlib.sha256()
    for piece in pieces:
        data = piece.encode("utf-8", "surrogatepass") if isinstance(piece, str) else piece
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.digest()


def _checker() -> str:
    """Which checks `check_config` runs: amtool's real path, size and modification time (an
    upgrade changes them), or none; and this package's code (our own checks)."""
    amtool = shutil.which("amtool")
    where = "no amtool"
    if amtool is not None:
        try:
            real = os.path.realpath(amtool)
            info = os.stat(real)
            where = f"amtool {real} {info.st_size} {info.st_mtime_ns}"
        except OSError:
            where = f"amtool {amtool} unreadable"
    return f"{where}\0{code_fingerprint()}"


def check_config(text: str, templates: tuple[tuple[str, bytes], ...] = ()) -> None:
    """Our own checks always, and `amtool check-config` when it is installed; without amtool
    the text must at least parse as YAML. (Parsing a large render in Python takes several
    times as long as amtool, which parses it and checks far more.) `templates`, the files the render
    carries, are put next to the config, where Alertmanager will find them."""
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("To: ") and len(stripped) > MAX_HEADER_LINE:
            raise DeployError("a rendered To: header is longer than 998 octets, which strict SMTP servers refuse "
                              "(a bug: please report it)")
    amtool = shutil.which("amtool")
    if amtool is None:
        from ..am.reading import read_config
        from ..errors import AlertmanagerConfigError

        try:
            read_config(text, "the rendered config")
        except AlertmanagerConfigError as exc:  # pragma: no cover - the renderer only writes valid YAML
            raise DeployError(f"the rendered config cannot be read as Alertmanager reads it: {exc}") from exc
        return
    budget = Budget(seconds=AMTOOL_TIMEOUT, output_bytes=CHECK_OUTPUT, memory_bytes=CHECK_MEMORY)
    try:
        with tempfile.TemporaryDirectory(prefix="notify-reconciler-") as folder:
            candidate = Path(folder, "alertmanager.yml")
            candidate.write_text(text, encoding="utf-8")
            for name, content in templates:
                Path(folder, name).write_bytes(content)
            result = run_amtool(amtool, ["check-config", str(candidate)], budget)
    except OverBudget as exc:
        raise DeployError(f"amtool check-config {exc}: the rendered config is too large for this host, "
                          "or the host is overloaded") from exc
    except CannotLimit as exc:
        raise EnvironmentProblem(f"cannot run amtool check-config within a memory limit: {exc}") from exc
    except OSError as exc:  # no room for the temporary file, amtool not executable, ...
        where = exc.filename or f"the temporary folder {tempfile.gettempdir()}"
        raise EnvironmentProblem(f"cannot run amtool check-config: {exc.strerror or exc} ({where})") from exc
    if result.returncode != 0:
        reason = _amtool_reason((result.stdout + result.stderr).decode("utf-8", "replace"))
        raise DeployError(f"amtool check-config refused the rendered config: {reason}")


def write_template_files(output: str, templates: tuple[tuple[str, bytes], ...]) -> list[str]:
    """Each template file the render carries, next to `output` (where the config's relative
    `templates:` entries point), written atomically; one already there as it should be is
    left alone. Returns the names of those that were not there before."""
    folder = Path(output).parent
    new = []
    for name, content in templates:
        path = folder / name
        try:
            if path.is_file() and path.read_bytes() == content:
                continue
            if not path.exists():
                new.append(name)
        except OSError:
            pass
        write_atomically(path, content, new_mode=0o644)
    return new


def remove_template_files(output: str, names: list[str]) -> None:
    for name in names:
        try:
            (Path(output).parent / name).unlink()
        except OSError:
            pass  # a leftover is harmless: the config does not list it


def remove_stale_template_files(output: str, templates: tuple[tuple[str, bytes], ...]) -> None:
    """After a config is live: the template files an earlier render carried and this one does
    not (notify-reconciler-*.tmpl next to `output`) are read by nothing any more."""
    from ..specs.templates import CARRIED_PREFIX

    keep = {name for name, _ in templates}
    for path in Path(output).parent.glob(f"{CARRIED_PREFIX}*.tmpl"):
        if path.name not in keep:
            try:
                path.unlink()
            except OSError:
                pass  # a leftover is harmless: nothing lists it


def write_password_files(specs: Specs, options: RenderOptions, environ: Mapping[str, str]) -> None:
    """Write a password named by passwordEnv where the render told Alertmanager to read it."""
    server = specs.server
    if server is None or not server.password_env or not server.username:
        return
    value = environ.get(server.password_env)
    if value is None:
        raise EnvironmentProblem(f"EmailServer {server.name}: spec.passwordEnv names {server.password_env}, "
                                 "which is not set in the daemon's environment: set it (for systemd, in an "
                                 "EnvironmentFile) or use passwordFile")
    path = Path(password_file_for(server, options))
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        current = path.read_bytes() if path.exists() else None
    except OSError as exc:
        raise EnvironmentProblem(f"{path.parent}: cannot write the password file for passwordEnv: "
                                 f"{exc.strerror}") from exc
    if current != value.encode():
        write_atomically(path, value, new_mode=0o600)


def _amtool_reason(output: str) -> str:
    """The FAILED line's reason and the indented detail lines under it (go-yaml lists each
    unmarshal error on its own line)."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if "FAILED" in line:
            details = [line.split("FAILED:", 1)[-1].strip()]
            details += [more.strip() for more in lines[index + 1:index + 6] if more[:1].isspace()]
            return " ".join(details)[:500]
    return " ".join(output.split())[:300]
