"""What runs and what was tried: one report for `status`, the daemon's /readyz and its
metrics, so the three never disagree about health.

Healthy means: a revision was applied, the last attempt succeeded, the live config is what
was applied, and every Alertmanager runs it (asked live by `status`; as last recorded by
the daemon, whose readiness probe must not wait on the network).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from ..core.own_alerts import AlertStream
from ..specs.daemon_config import Config
from ..io.deploy import Target
from ..display import display_line
from ..io.outbox import Outbox
from .state import load_alerting, load_state
from ..values import Revision, StatusReport, TargetHealth


def gather_status(config: Config, target: Target | None = None, *, mail: bool = True) -> StatusReport:
    """The report from the state directory, and from `target` asked live when given (else
    from what each Alertmanager last said, as recorded). `mail=False` leaves out the outbox
    and the own alerts (health does not depend on them; the daemon asks after every pass)."""
    state = load_state(config.state_dir)
    if target is not None:
        targets = list(target.status(state.applied_digest))
        for index, health in enumerate(targets):
            recorded = state.alertmanagers.get(health.name)
            if recorded is not None:
                targets[index] = TargetHealth(health.name, health.ok, f"{health.message}; last apply: "
                                                                      f"{recorded.message}")
    else:
        targets = [TargetHealth(url, recorded.ok, recorded.message) for url, recorded in state.alertmanagers.items()]
    if not mail:
        return StatusReport(state.applied, state.applied_at, state.attempted, tuple(targets), 0, 0, None, ())
    outbox = Outbox(Path(config.state_dir, "outbox"))
    pending, failed = outbox.pending(), outbox.failed()
    return StatusReport(
        applied=state.applied, applied_at=state.applied_at, attempted=state.attempted, targets=tuple(targets),
        outbox_waiting=len(pending), outbox_failed=len(failed),
        outbox_last_error=failed[-1].last_error if failed else None,
        firing=tuple(AlertStream(load_alerting(config.state_dir).alerts).firing()))


def report_lines(report: StatusReport, now: float) -> list[str]:
    """The report as a person reads it, each line safe to print (display.display_line); the
    last line says healthy or not healthy."""
    lines = [f"applied:    {_revision_line(report.applied, report.applied_at, now, 'applied')}"]
    attempt = report.attempted
    if attempt is None:
        lines.append("attempted:  nothing yet")
    else:
        lines.append(f"attempted:  {_revision_line(attempt.revision, attempt.at, now, 'tried')}: {attempt.result}")
        if attempt.error:
            first, *more = attempt.error.split("\n")  # only line breaks: other separators are escaped
            lines.append(f"last error: {first}")
            lines += [f"            {line}" for line in more]
    for health in report.targets:
        lines.append(f"  {health.name}: {health.message}")
    lines.append(f"outbox:     {report.outbox_waiting} waiting, {report.outbox_failed} given up"
                 + (f" (last: {report.outbox_last_error})" if report.outbox_last_error else ""))
    lines.append(f"own alerts: {', '.join(report.firing) + ' firing' if report.firing else 'none firing'}")
    lines.append("healthy" if report.healthy else "not healthy")
    # A commit's author and subject, a pusher's file names and git's messages come from
    # outside: shown on a terminal (and by /readyz) with control characters escaped and URL
    # credentials hidden.
    return [display_line(line) for line in lines]


def _revision_line(revision: Revision | None, at: float | None, now: float, verb: str) -> str:
    if revision is None:
        return "nothing yet"
    committed = datetime.fromtimestamp(revision.committed_at, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    signed = f", signed by {revision.signed_by}" if revision.signed_by else ""
    when = f"; {verb} {_ago(now - at)} ago" if at else ""
    return f"{revision.describe()} by {revision.author}{signed}, committed at {committed}{when}"


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
