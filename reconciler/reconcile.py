"""One reconcile pass: the committed branch -> a verified, live alertmanager.yml.

`reconcile()` reads as the steps of SPEC.md. Each failing step ends the pass with an
`Outcome` named after it and leaves the last good config live:
- ``rejected``: the commit's specs are invalid (terminal until the branch changes);
- ``failed``: the source, a check, the write or an Alertmanager failed (worth retrying);
- ``unchanged``: the render equals the live file, nothing was reloaded;
- ``applied``: written, and every Alertmanager reloaded and runs exactly these bytes.
"""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping

from .config import Config
from .deploy import (CheckedParts, TargetResult, check_rendered, config_hash, read_live, reload_and_verify,
                     running_hash, wait_until_ready, write_password_files)
from .errors import DeployError, EnvironmentProblem, ReconcilerError, SourceError, SpecErrors, TransientDeployError
from .files import write_atomically
from .model import Specs
from .pipeline import ParseCache, parse_specs
from .render import RenderCache, RenderOptions, render_config
from .source import GitSource, Revision
from .state import Attempt, State, TargetStatus, load_state, save_state


@dataclass(frozen=True)
class Outcome:
    result: str
    """applied | unchanged | rejected | failed"""
    revision: Revision | None
    message: str
    errors: tuple[str, ...] = ()
    targets: tuple[TargetResult, ...] = field(default=())
    drift: tuple[str, ...] = ()
    """What had drifted from the last applied render and was put back (DriftCorrected)."""
    reason: str = ""
    """Why a pass did not succeed, named as the daemon's own alert: ConfigRejected,
    SourceUnavailable, AlertmanagerUnreachable or ApplyFailed."""
    specs: Specs | None = field(default=None, compare=False, repr=False)
    """The commit's specs when they were valid (live after applied or unchanged; valid but not
    applied after a failed write or reload)."""

    @property
    def ok(self) -> bool:
        return self.result in ("applied", "unchanged")


@dataclass(frozen=True)
class Host:
    """What a pass needs from the machine it runs on, passed in so tests control it."""

    now: Callable[[], float]
    environ: Mapping[str, str]
    hostname: str
    sleep: Callable[[float], None] = time.sleep
    """Waits between retries; the daemon's raises when it is told to stop."""


@dataclass
class Caches:
    """What one pass keeps for the next, so a commit that changes one file of a thousand
    parses, renders and checks that one file's part (the daemon keeps one; `apply` starts cold)."""

    parsed: ParseCache = field(default_factory=ParseCache)
    rendered: RenderCache = field(default_factory=RenderCache)
    checked: CheckedParts = field(default_factory=CheckedParts)


def render_options(config: Config, host: Host) -> RenderOptions:
    return RenderOptions(secrets_dir=str(Path(config.state_dir, "secrets")))


def reconcile(config: Config, host: Host, source: GitSource | None = None, caches: Caches | None = None) -> Outcome:
    state = load_state(config.state_dir)
    caches = caches or Caches()
    source = source or GitSource(config.source.repo, config.source.branch, config.source.path, config.state_dir)
    revision = None
    specs: Specs | None = None
    try:
        # 1. Fetch the source and resolve the branch to one commit.
        source.fetch()
        revision = source.head()
        if config.source.allowed_signers:
            # 1b. Only a commit signed by an allowed key may be applied (source.verify).
            check = source.check_signature(revision, config.source.allowed_signers)
            if check.problem:
                return _record(state, config, host, Outcome("rejected", revision, f"{revision.describe()} rejected: "
                                                            f"{check.problem}", (check.problem,),
                                                            reason="ConfigRejected"))
            revision = replace(revision, signed_by=check.signer)
        # 2. Read the spec tree of that commit (git objects only, never a working tree).
        tree = source.read(revision, known=caches.parsed.keys())
        # 3. Validate: every located error of the commit, or the specs (unchanged blobs from the cache).
        specs = parse_specs(tree.files, extra_errors=tree.errors, digests=tree.digests, cache=caches.parsed)
        # 4. Render into the base.
        base_text = _read_base(config)
        options = render_options(config, host)
        render = render_config(specs, base_text, base_name=config.target.base or "base", options=options,
                               cache=caches.rendered)
        rendered = render.text.encode("utf-8")
        digest = hashlib.sha256(rendered).hexdigest()
        # 5. Nothing to do when the live file holds these bytes and every Alertmanager runs
        #    them; an Alertmanager that runs something else is reloaded (drift).
        previous = read_live(config.target.output)
        if previous == rendered:
            targets, drift = _reload_drifted(config, rendered, host)
            message = f"{revision.describe()} is live" + (f"; reloaded {', '.join(drift)}" if drift else "")
            return _record(state, config, host, Outcome("unchanged", revision, message, targets=targets,
                                                        drift=drift, specs=specs), digest)
        drift = (f"{config.target.output} was edited by hand",) \
            if previous is not None and state.applied_digest == digest else ()
        # 6. Check it: our own checks, then amtool's (on the lists that changed, if only they did).
        check_rendered(render, caches.checked)
        # 7. Every Alertmanager must answer first: one that is down keeps finding, and would
        #    start with, the config it last accepted.
        _wait_until_ready(config, host)
        # 8. Write it atomically (and the password file passwordEnv asks for).
        write_password_files(specs, options, host.environ)
        write_atomically(config.target.output, rendered)
        # 9. Reload and verify every Alertmanager; any refusal rolls every one back.
        targets = _reload_all(config, rendered, previous, host)
    except SpecErrors as exc:
        return _record(state, config, host, Outcome(
            "rejected", revision, f"{_describe(revision)} rejected: {len(exc.errors)} error(s) in the specs",
            tuple(str(e) for e in exc.errors), reason="ConfigRejected"))
    except ReconcilerError as exc:  # source, base, check, write: the last good config stays
        reason = ("SourceUnavailable" if isinstance(exc, SourceError) else
                  "AlertmanagerUnreachable" if isinstance(exc, TransientDeployError) else "ApplyFailed")
        message = f"{revision.describe()} not applied: {exc}" if revision else f"nothing applied: {exc}"
        return _record(state, config, host, Outcome("failed", revision, message, (str(exc),), reason=reason,
                                                    specs=specs))
    failed = [t for t in targets if not t.ok]
    if failed:
        return _record(state, config, host, Outcome(
            "failed", revision, f"{revision.describe()} not applied: {failed[0].message}; the previous config "
                                "was restored", tuple(t.message for t in failed), tuple(targets),
            reason="AlertmanagerUnreachable" if failed[0].transient else "ApplyFailed", specs=specs))
    # 10. Record what runs now.
    message = f"restored {revision.describe()}: {drift[0]}" if drift else f"applied {revision.describe()}"
    if revision.signed_by:
        message += f", signed by {revision.signed_by}"
    return _record(state, config, host, Outcome("applied", revision, message, targets=tuple(targets),
                                                drift=drift, specs=specs), digest)


def _reload_drifted(config: Config, rendered: bytes, host: Host) -> tuple[tuple[TargetResult, ...], tuple[str, ...]]:
    """Reload each Alertmanager that does not run `rendered`. Raises if one is unreachable."""
    expected = config_hash(rendered)
    drifted = [url for url in config.target.alertmanagers if running_hash(url) != expected]
    for url in drifted:
        reload_and_verify(url, rendered, sleep=host.sleep)
    return (tuple(TargetResult(url, True, "reloaded: it ran another config" if url in drifted else "runs it")
                  for url in config.target.alertmanagers),
            tuple(f"{url} ran another config" for url in drifted))


def _reload_all(config: Config, rendered: bytes, previous: bytes | None, host: Host) -> list[TargetResult]:
    """Reload every Alertmanager at once (ten take about as long as one); if any refuses or
    cannot be reached, put the previous file back and reload them all onto it."""
    urls = config.target.alertmanagers
    errors = dict(zip(urls, _in_parallel(lambda url: reload_and_verify(url, rendered, sleep=host.sleep), urls)))
    failed = [url for url in urls if errors[url] is not None]
    if not failed:
        return [TargetResult(url, True, "reloaded and verified") for url in urls]
    _roll_back(config, previous, host)
    return [TargetResult(url, False, str(errors[url]), transient=isinstance(errors[url], TransientDeployError))
            if errors[url] is not None else TargetResult(url, True, "rolled back to the previous config")
            for url in urls]


def _wait_until_ready(config: Config, host: Host) -> None:
    problems = _in_parallel(lambda url: wait_until_ready(url, sleep=host.sleep), config.target.alertmanagers)
    for problem in problems:
        if problem is not None:
            raise problem


def _roll_back(config: Config, previous: bytes | None, host: Host) -> None:
    if previous is None:
        # There was no file before: leave none rather than one an Alertmanager refused.
        try:
            os.unlink(config.target.output)
        except FileNotFoundError:
            pass
        return
    write_atomically(config.target.output, previous)
    # A target that refuses this too still runs the previous config: a refused reload changes nothing.
    _in_parallel(lambda url: reload_and_verify(url, previous, sleep=host.sleep), config.target.alertmanagers)


def _in_parallel(reload: Callable[[str], None], urls: tuple[str, ...]) -> list[DeployError | None]:
    """Run `reload` for every URL at once; each one's DeployError, or None, in URL order."""
    def attempt(url: str) -> DeployError | None:
        try:
            reload(url)
        except DeployError as exc:
            return exc
        return None

    if len(urls) <= 1:
        return [attempt(url) for url in urls]
    with ThreadPoolExecutor(max_workers=min(16, len(urls)), thread_name_prefix="reload") as pool:
        return list(pool.map(attempt, urls))


def _read_base(config: Config) -> str | None:
    if not config.target.base:
        return None
    try:
        return Path(config.target.base).read_text(encoding="utf-8")
    except OSError as exc:
        raise EnvironmentProblem(f"{config.target.base}: cannot read the base config: {exc.strerror}") from exc


def _record(state: State, config: Config, host: Host, outcome: Outcome, digest: str | None = None) -> Outcome:
    now = host.now()
    state.attempted = Attempt(outcome.revision, now, outcome.result,
                              None if outcome.ok else "\n".join(outcome.errors) or outcome.message)
    if outcome.result == "applied" or (outcome.result == "unchanged" and state.applied != outcome.revision):
        state.applied, state.applied_at = outcome.revision, now
    if digest is not None:
        state.applied_digest = digest
    for target in outcome.targets:
        state.alertmanagers[target.url] = TargetStatus(target.ok, target.message, now)
    try:
        save_state(config.state_dir, state)
    except EnvironmentProblem as exc:
        # The live config is whatever the pass left (old or new, whole either way); only the
        # record of it is missing. A success says so as a failure the next pass will retry; a
        # rejection or failure keeps its own reason (and alert), with this added.
        if outcome.ok:
            return replace(outcome, result="failed", reason="ApplyFailed",
                           message=f"{outcome.message}; but the state could not be recorded: {exc}",
                           errors=(*outcome.errors, str(exc)))
        return replace(outcome, message=f"{outcome.message}; and the state could not be recorded: {exc}",
                       errors=(*outcome.errors, str(exc)))
    return outcome


def _describe(revision: Revision | None) -> str:
    return revision.describe() if revision else "the branch"
