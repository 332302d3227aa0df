"""Our verdict on a matcher equals Alertmanager's: a generated corpus of matcher strings
(non-ASCII spaces, escapes, named groups, Unicode classes, stacked repeats, quotes, commas,
braces) is judged by reconciler.model and by the real `amtool check-config`."""

from __future__ import annotations

import pytest

from reconciler.model import matcher_problem

from .amtool_oracle import amtool_accepts
from .matcher_corpus import corpus
from .services import require_binary

pytestmark = pytest.mark.alertmanager

EVERYDAY = ['severity="critical"', 'team=~"db|web"', 'instance=~"10\\.0\\.0\\.1:9100"', 'job!~"test-.*"',
            "severity=critical", '{env="prod", team=~"db.*"}', 'path=~"/api/v[0-9]+/.*"', 'x=~"\\d+\\s\\w"']


@pytest.mark.parametrize("seed", [20261129, 7])
def test_matcher_verdicts_equal_amtools_over_a_generated_corpus(seed, tmp_path):
    amtool = require_binary("amtool")
    cases = EVERYDAY + corpus(seed, 300)
    theirs = amtool_accepts(amtool, tmp_path, cases)
    ours = [matcher_problem(case) is None for case in cases]
    differ = [(case, mine, alertmanager) for case, mine, alertmanager in zip(cases, ours, theirs)
              if mine != alertmanager]
    assert not differ, "\n".join(f"{case!r}: ours {'accept' if mine else 'refuse'}, amtool "
                                 f"{'accept' if alertmanager else 'refuse'}" for case, mine, alertmanager in differ)
    # The corpus is worth something only if both verdicts occur often.
    assert 0.2 < sum(theirs) / len(cases) < 0.8
    assert all(theirs[:len(EVERYDAY)])
