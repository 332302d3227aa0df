"""reconciler.service.pass_log: a rejected revision is logged once, not at every poll."""

from __future__ import annotations

import logging

from reconciler.service.pass_log import PassLog
from reconciler.values import Outcome, Reason, Result, Revision

REPEAT = 3600.0


def rejected(sha: str = "a" * 40, errors: tuple[str, ...] = ("ops.yaml:7:7: bad",)) -> Outcome:
    return Outcome(Result.REJECTED, Revision(sha, "typo", "author", 0), f"{sha[:7]} 'typo' rejected",
                   errors, reason=Reason.CONFIG_REJECTED)


def warnings(caplog) -> list[str]:
    """The WARNING lines since the last look."""
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    caplog.clear()
    return lines


def test_a_rejection_is_told_once_then_at_the_repeat_interval_and_anew_for_a_new_revision(caplog):
    caplog.set_level(logging.DEBUG, "notify-reconciler")
    log = PassLog()
    log.write(rejected(), {"commit"}, 0.01, 0, REPEAT)
    assert [line.split()[0] for line in warnings(caplog)] == ["event=rejected", "event=rejected_error"]
    for now in (1, 2, 3, REPEAT - 1):
        log.write(rejected(), {"poll"}, 0.01, now, REPEAT)
    assert [r.levelno for r in caplog.records] == [logging.DEBUG] * 8  # still there, for debugging
    assert warnings(caplog) == []
    log.write(rejected(), {"poll"}, 0.01, REPEAT, REPEAT)  # a reminder, as the own alert's mail
    assert len(warnings(caplog)) == 2
    log.write(rejected(errors=("ops.yaml:7:7: other",)), {"poll"}, 0.01, REPEAT + 1, REPEAT)
    assert len(warnings(caplog)) == 2  # the same revision, rejected for another reason
    log.write(rejected("b" * 40), {"commit"}, 0.01, REPEAT + 2, REPEAT)
    assert len(warnings(caplog)) == 2


def test_a_failure_between_polls_does_not_make_the_rejection_new(caplog):
    caplog.set_level(logging.DEBUG, "notify-reconciler")
    log = PassLog()
    log.write(rejected(), {"commit"}, 0.01, 0, REPEAT)
    warnings(caplog)
    unreachable = Outcome(Result.FAILED, None, "nothing applied: remote gone", ("remote gone",),
                          reason=Reason.SOURCE_UNAVAILABLE)
    log.write(unreachable, {"poll"}, 0.01, 1, REPEAT)
    assert len(warnings(caplog)) == 2  # failures are told every time: they are retried, backing off
    log.write(rejected(), {"poll"}, 0.01, 2, REPEAT)
    assert warnings(caplog) == []
    applied = Outcome(Result.APPLIED, Revision("c" * 40, "fix", "author", 0), "applied")
    log.write(applied, {"commit"}, 0.01, 3, REPEAT)
    log.write(rejected(), {"commit"}, 0.01, 4, REPEAT)  # back to the rejected commit: told again
    assert [line.split()[0] for line in warnings(caplog)] == ["event=rejected", "event=rejected_error"]
