"""One reconcile pass: the committed branch -> a verified, live Alertmanager config.

`reconcile()` composes the seams and records the result once, like kustomize-controller's
reconcile with its outer function that records the status:
committed specs (source) -> render -> target.apply (deploy) -> record (state).

Each failing step ends the pass with an `Outcome` named after it and leaves the last good
config live:
- REJECTED: the commit may not be applied (invalid specs, or unsigned when source.verify
  asks for signatures); terminal until the branch changes;
- FAILED: the source, the base, a check, the write or an Alertmanager failed (worth
  retrying); an exception nobody expected is recorded the same way, as InternalError;
- UNCHANGED: the render is live already (drift, if any, was put back);
- APPLIED: written, and every Alertmanager reloaded and runs exactly these bytes.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping

from .. import logfmt
from ..io.cache import DiskCache, PersistentParseCache, PersistentRenderCache
from ..specs.daemon_config import Config
from ..io.deploy import CheckedParts, Target, read_base, render_options, target_for
from ..errors import CommitRejected, EnvironmentProblem, ReconcilerError, SourceError, SpecErrors, TransientDeployError
from ..specs.model import Specs
from ..specs.pipeline import ParseCache
from ..core.render import RenderCache, render_config
from ..io.git_source import GitSource, committed_specs
from .state import Attempt, State, TargetStatus, load_state, save_state
from ..values import Deployment, Outcome, Reason, Result, Revision, describe

log = logging.getLogger("notify-reconciler")


@dataclass(frozen=True)
class Host:
    """What a pass needs from the machine it runs on, passed in so tests control it."""

    now: Callable[[], float]
    """Wall-clock time (Unix seconds), for records and own alerts."""
    environ: Mapping[str, str]
    hostname: str
    sleep: Callable[[float], None] = time.sleep
    """Waits between retries; the daemon's raises when it is told to stop."""
    monotonic: Callable[[], float] = time.monotonic
    """Time for intervals (polls, back-off, debounce): never jumps with the wall clock."""
    wait: Callable[[threading.Event, float], bool] = threading.Event.wait
    """Wait for an event at most so long; True if it was set. A fake clock advances instead."""


@dataclass
class Caches:
    """What one pass keeps for the next, so a commit that changes one file of a thousand
    parses, renders and has amtool check that one file's part (the daemon keeps one; `apply`
    starts cold)."""

    parsed: ParseCache = field(default_factory=ParseCache)
    rendered: RenderCache = field(default_factory=RenderCache)
    checked: CheckedParts = field(default_factory=CheckedParts)
    """What amtool accepted; the target that checks (file_target) holds it."""

    @classmethod
    def kept_in(cls, config: Config) -> Caches:
        """Caches that also live on disk, under <stateDir>/cache: the first pass after a
        restart (or an `apply`) parses, renders and has amtool check only what changed since
        the last one."""
        source, disk = config.source, DiskCache(Path(config.state_dir, "cache"))
        # A digest: the key is stored in the entry, and source.repo may hold a token.
        where = f"{source.repo}\0{source.branch}\0{source.path}"
        location = hashlib.sha256(where.encode("utf-8", "surrogatepass")).hexdigest()
        parsed = PersistentParseCache(disk, location=location)
        return cls(parsed=parsed, rendered=PersistentRenderCache(disk, parsed, location),
                   checked=CheckedParts(disk, key=f"accepted\0{config.target.output}"))


def file_target(config: Config, host: Host, checked: CheckedParts | None = None) -> Target:
    """The target the daemon config names: a file plus its Alertmanagers, or a file of
    KubeSphere's objects (target.format). `checked`: what amtool accepted before
    (Caches.checked), else nothing."""
    return target_for(config, host.environ, sleep=host.sleep, checked=checked)


def source_for(config: Config) -> GitSource:
    return GitSource(config.source.repo, config.source.branch, config.source.path, config.state_dir)


def reconcile(config: Config, host: Host, source: GitSource | None = None, caches: Caches | None = None,
              target: Target | None = None, *, allow_rewind: bool = False) -> Outcome:
    """One pass, recorded in the state directory whatever happened. `allow_rewind`: apply a
    head that does not descend from the applied commit this once (source.allowRewind always)."""
    state = load_state(config.state_dir)
    caches = caches or Caches()
    outcome, digest = _attempt(config, source or source_for(config), caches,
                               target or file_target(config, host, caches.checked), state,
                               allow_rewind or config.source.allow_rewind)
    return _record(state, config, host, outcome, digest)


def _attempt(config: Config, source: GitSource, caches: Caches, target: Target, state: State,
             allow_rewind: bool) -> tuple[Outcome, str | None]:
    revision: Revision | None = None
    specs: Specs | None = None
    try:
        # 1. The committed specs: fetch, resolve the branch to one commit, verify its
        #    signature (source.verify) and that it descends from the applied one, read its
        #    tree from git objects and validate it (its password only from where the
        #    operator's secrets: lets specs take it).
        committed = committed_specs(source, config.source.allowed_signers, cache=caches.parsed,
                                    applied=state.applied, allow_rewind=allow_rewind, secrets=config.secrets)
        revision, specs = committed.revision, committed.specs
        # 2. Render into the base (or, for KubeSphere, notification-manager's objects).
        rendered = _render(config, specs, caches, committed.revision)
        # 3. Put it live: check, wait for every Alertmanager, write atomically, reload and
        #    verify each, roll back on refusal; or find it live already and put back drift.
        deployment = target.apply(rendered, specs, state.applied_digest)
    except CommitRejected as exc:
        return Outcome(Result.REJECTED, exc.revision, str(exc), exc.problems, reason=Reason.CONFIG_REJECTED), None
    except ReconcilerError as exc:  # source, base, check, write: the last good config stays
        message = f"{revision.describe()} not applied: {exc}" if revision else f"nothing applied: {exc}"
        return Outcome(Result.FAILED, revision, message, (str(exc),), reason=_reason(exc), specs=specs), None
    except Exception as exc:  # a bug: recorded and alerted like any failure, never a crashed pass
        log.exception(logfmt.line("internal_error", revision=revision.short if revision else "-"))
        message = (f"{describe(revision)} not applied: internal error (a bug in notify-reconciler, please report "
                   f"it): {type(exc).__name__}: {exc}")
        return Outcome(Result.FAILED, revision, message, (message,), reason=Reason.INTERNAL_ERROR, specs=specs), None
    # 4. What runs now.
    outcome = _deployed(revision, specs, deployment)
    if committed.rewound_from is not None and outcome.ok:
        outcome = replace(outcome, message=f"{outcome.message}; moved back from {committed.rewound_from.describe()}, "
                                           "which it does not descend from (allowed)")
    return outcome, hashlib.sha256(rendered.text.encode("utf-8")).hexdigest()


def _render(config: Config, specs: Specs, caches: Caches, revision: Revision):
    if config.target.format != "kubesphere":
        return render_config(specs, read_base(config.target.base), base_name=config.target.base or "base",
                             options=render_options(config), cache=caches.rendered)
    from ..kubesphere.rendering import render_kubesphere

    try:
        rendered = render_kubesphere(specs, config.target.api)
    except SpecErrors as exc:  # what notification-manager cannot do is the commit's to change
        raise CommitRejected(revision, f"{len(exc.errors)} thing(s) the specs say that KubeSphere's notification-manager "
                                       "cannot do", tuple(str(error) for error in exc.errors), exc) from None
    for warning in rendered.warnings:
        log.warning(logfmt.line("kubesphere_render", revision=revision.short, warning=warning))
    return rendered


def _deployed(revision: Revision, specs: Specs, deployment: Deployment) -> Outcome:
    if deployment.failed:
        first = deployment.failed[0]
        return Outcome(Result.FAILED, revision, f"{revision.describe()} not applied: {first.message}; the previous "
                                                "config was restored",
                       tuple(t.message for t in deployment.failed), deployment.targets,
                       reason=Reason.ALERTMANAGER_UNREACHABLE if first.transient else Reason.APPLY_FAILED, specs=specs)
    if deployment.result is Result.UNCHANGED:
        message = f"{revision.describe()} is live"
        if deployment.drift:
            message += "; reloaded " + ", ".join(deployment.drift)
    elif deployment.drift:
        message = f"restored {revision.describe()}: {deployment.drift[0]}"
    else:
        message = f"applied {revision.describe()}"
    if revision.signed_by and deployment.result is Result.APPLIED:
        message += f", signed by {revision.signed_by}"
    return Outcome(deployment.result, revision, message, targets=deployment.targets, drift=deployment.drift,
                   specs=specs)


def _reason(exc: ReconcilerError) -> Reason:
    if isinstance(exc, SourceError):
        return Reason.SOURCE_UNAVAILABLE
    if isinstance(exc, TransientDeployError):
        return Reason.ALERTMANAGER_UNREACHABLE
    return Reason.APPLY_FAILED


def _record(state: State, config: Config, host: Host, outcome: Outcome, digest: str | None) -> Outcome:
    now = host.now()
    state.attempted = Attempt(outcome.revision, now, outcome.result,
                              None if outcome.ok else "\n".join(outcome.errors) or outcome.message)
    if outcome.result is Result.APPLIED or (outcome.result is Result.UNCHANGED and state.applied != outcome.revision):
        state.applied, state.applied_at = outcome.revision, now
    if outcome.ok and digest is not None:
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
            return replace(outcome, result=Result.FAILED, reason=Reason.APPLY_FAILED,
                           message=f"{outcome.message}; but the state could not be recorded: {exc}",
                           errors=(*outcome.errors, str(exc)))
        return replace(outcome, message=f"{outcome.message}; and the state could not be recorded: {exc}",
                       errors=(*outcome.errors, str(exc)))
    return outcome
