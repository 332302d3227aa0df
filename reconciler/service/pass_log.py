"""What the daemon's log says about each reconcile pass.

Every pass is logged, but a rejected revision is terminal until the branch moves: the
daemon polls it again and again (every second with ``pollInterval: 1s``) and each pass
rejects it for the same reasons. Its WARNING lines (the pass, and each error) are written
once; the same rejection again is logged at DEBUG, with a WARNING reminder once the own
alert's repeat interval has passed (as ConfigRejected is mailed again then). A new
revision, or the same one rejected for other reasons, is logged in full at once. Other
results are logged every pass, as before: a failure is worth seeing each time it is
retried, and retries back off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .. import logfmt
from ..values import Outcome, Result

log = logging.getLogger("notify-reconciler")


@dataclass
class _Told:
    """The rejection last logged at WARNING, and when."""

    key: tuple
    at: float


class PassLog:
    def __init__(self) -> None:
        self._told: _Told | None = None

    def write(self, outcome: Outcome, reasons: set[str], seconds: float, now: float, repeat_seconds: float) -> None:
        """Log one pass; `now` and `repeat_seconds` decide whether a repeated rejection is
        told again."""
        level = logging.INFO if outcome.ok else logging.WARNING
        repeated = False
        if outcome.result is Result.REJECTED:
            key = (outcome.revision.sha if outcome.revision else None, outcome.message, outcome.errors)
            told = self._told
            repeated = told is not None and told.key == key and now - told.at < repeat_seconds
            if repeated:
                level = logging.DEBUG
            else:
                self._told = _Told(key, now)
        elif outcome.revision is not None:  # the branch moved on (a failure with no revision says nothing)
            self._told = None
        revision = outcome.revision.short if outcome.revision else "-"
        log.log(level, logfmt.line(str(outcome.result), revision=revision, trigger=",".join(sorted(reasons)),
                                   seconds=f"{seconds:.3f}", message=outcome.message,
                                   repeated="true" if repeated else None))
        for error in outcome.errors:
            log.log(level, logfmt.line(f"{outcome.result}_error", revision=revision, error=error))
        for drift in outcome.drift:
            log.warning(logfmt.line("DriftCorrected", revision=revision, what=drift))
