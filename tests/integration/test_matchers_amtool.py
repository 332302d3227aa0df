"""Our verdict on a matcher equals Alertmanager's: a generated corpus of matcher strings
(non-ASCII spaces, escapes, named groups, Unicode classes, stacked repeats, quotes, commas,
braces) is judged by reconciler.specs.model and by the real `amtool check-config`."""

from __future__ import annotations

import pytest

from reconciler.specs.model import matcher_problem

from tests.support.amtool_oracle import amtool_accepts
from tests.support.matcher_corpus import corpus
from tests.support.services import require_binary


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


def test_every_accepted_matcher_survives_the_render_and_amtool_accepts_the_config(tmp_path):
    """What validate accepts is written into alertmanager.yml so that Alertmanager reads the
    same string: a spec holding the accepted corpus renders to a config amtool accepts."""
    import json
    import subprocess

    from reconciler.specs.pipeline import parse_specs
    from reconciler.core.render import RenderOptions, render_alertmanager_config

    from tests.support.gitrepo import document, server

    amtool = require_binary("amtool")
    line_breaks = ("\x85", "\u2028", "\u2029")  # refused by the loader, see test_loader
    accepted = [case for case in EVERYDAY + corpus(20261129, 300)
                if matcher_problem(case) is None and not any(c in case for c in line_breaks)]
    assert len(accepted) > 60
    lists = [document("RecipientList", f"l{n}", "recipients: [a@example.com]\nmatchers:\n"
                      + "".join(f"  - {json.dumps(m)}\n" for m in accepted[n:n + 50]))
             for n in range(0, len(accepted), 50)]
    specs = parse_specs({f"{i}.yaml": text.encode() for i, text in enumerate([server(), *lists])})
    assert sorted(m for item in specs.lists for m in item.matchers) == sorted(accepted)
    path = tmp_path / "alertmanager.yml"
    path.write_text(render_alertmanager_config(specs, None, options=RenderOptions()))
    result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
