"""The matcher side of the KubeSphere translation, put to the real amtool: for generated
alertSelectors and matchers, the alerts `amtool config routes test` routes to a route holding
the matchers are the alerts notification-manager's selector (reconciler.kubesphere.selector,
written from its Go code) selects. Import direction: a selector's matchers (as_matchers);
render direction: matchers and the selector rendered from them (from_matchers)."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from reconciler.am.matchers import Matcher
from reconciler.kubesphere.selector import RELEASES, Untranslatable, as_matchers, from_matchers, selects

from tests.support.kubesphere_cases import LABEL_SETS, matcher, selector
from tests.support.amtool_batch import receivers_reached
from tests.support.services import require_binary

LABELS = ["severity", "team", "_hidden"]
SETS = [labels for labels in LABEL_SETS if "\n" not in "".join(labels.values())]


@pytest.fixture(scope="module")
def amtool():
    return require_binary("amtool")


def config(cases: list[tuple[Matcher, ...]]) -> str:
    """One route per case (receiver `case<N>`), each with continue: true."""
    lines = ["route:", "  receiver: casenone", "  routes:"]
    for number, matchers in enumerate(cases):
        lines += [f"    - receiver: case{number}", "      continue: true",
                  f"      matchers: [{', '.join(json.dumps(m.text()) for m in matchers)}]"]
    lines += ["receivers:", "  - name: casenone"] + [f"  - name: case{n}" for n in range(len(cases))]
    return "\n".join(lines) + "\n"


@settings(max_examples=int(os.environ.get("KS_EXAMPLES", "6")), deadline=None,
          phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(selector, min_size=10, max_size=20), st.lists(st.lists(matcher, min_size=1, max_size=3),
                                                              min_size=10, max_size=20))
def test_amtool_routes_what_notification_manager_selects(amtool, selectors, matcher_lists):
    cases, expected = [], []
    for chosen in selectors:  # import: selector -> matchers
        try:
            translated = as_matchers(chosen)
        except Untranslatable:
            continue
        if translated.matchers:
            cases.append(translated.matchers)
            expected.append(lambda labels, chosen=chosen: selects(chosen, labels))
    for matchers in matcher_lists:  # render: matchers -> selector
        try:
            rendered = from_matchers(matchers)
        except Untranslatable:
            continue
        releases = ("2.6",) if rendered.notes else RELEASES
        cases.append(tuple(matchers))
        expected.append(lambda labels, s=rendered.selector, rs=releases: {selects(s, labels, r) for r in rs})
    text = config(cases)
    for labels, reached in zip(SETS, receivers_reached(amtool, text, SETS, LABELS, r"case\w+")):
        for number, verdict in enumerate(expected):
            answer = verdict(labels)
            assert answer in (f"case{number}" in reached, {f"case{number}" in reached}), \
                (labels, cases[number], reached)
