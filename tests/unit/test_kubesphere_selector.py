"""notification-manager's alertSelector and Alertmanager's matchers select the same alerts.

`selects` is written from notification-manager's Go code (apis/v2beta2/common.go and
apimachinery's LabelSelectorAsSelector/Requirement.Matches); `Matcher.matches` is Alertmanager's
meaning (held equal to amtool by tests/integration/test_matchers_amtool.py, and the matchers made
here are put to amtool by tests/integration/test_kubesphere_amtool.py). Over generated selectors,
matchers and label sets (no empty label values: Alertmanager sends none), a translation in either
direction must select exactly the same alerts, on every release it claims to."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.am.matchers import Matcher
from reconciler.kubesphere.selector import (RELEASES, Requirement, Selector, SelectorError, Untranslatable,
                                            as_matchers, from_matchers, requirement_problem, selects)

from tests.support.kubesphere_cases import LABEL_SETS, matcher, selector


def am_matches(matchers, labels) -> bool:
    return all(matcher.matches(labels.get(matcher.name, "")) for matcher in matchers)


@settings(max_examples=400, deadline=None)
@given(selector)
def test_an_imported_selector_selects_what_its_matchers_match(chosen):
    assert all(requirement_problem(r) is None for r in chosen.requirements())
    try:
        translated = as_matchers(chosen)
    except Untranslatable:
        # Said to select nothing: no alert may pass.
        assert not any(selects(chosen, labels) for labels in LABEL_SETS), chosen
        return
    for labels in LABEL_SETS:
        assert selects(chosen, labels) == am_matches(translated.matchers, labels), (chosen, labels, translated)
        if not translated.notes:  # the releases only differ where a note says so
            assert selects(chosen, labels, "2.4") == selects(chosen, labels), (chosen, labels)


@settings(max_examples=400, deadline=None)
@given(st.lists(matcher, max_size=3), st.sampled_from(["v2beta2", "v2beta1"]))
def test_a_rendered_selector_selects_what_the_matchers_match(matchers, api):
    try:
        rendered = from_matchers(matchers, api)
    except Untranslatable as exc:
        assert any(m.op == "!~" for m in matchers) or api == "v2beta1", exc
        return
    if rendered.selector is not None:
        assert all(requirement_problem(r, api) is None for r in rendered.selector.requirements()), rendered
    for labels, release in itertools.product(LABEL_SETS, RELEASES):
        if release != "2.6" and rendered.notes:
            continue
        assert selects(rendered.selector, labels, release) == am_matches(matchers, labels), \
            (matchers, rendered, labels, release)


@pytest.mark.parametrize("requirements, labels, expected", [
    # Match searches: not anchored, as regexp.MatchString.
    ([Requirement("team", "Match", regex="db")], {"team": "xdbx"}, True),
    ([Requirement("team", "Match", regex="^db$")], {"team": "xdbx"}, False),
    # NotIn holds for an alert without the label; In does not.
    ([Requirement("team", "NotIn", ("db",))], {}, True),
    ([Requirement("team", "In", ("db",))], {}, False),
    ([Requirement("team", "Exists")], {"team": "db"}, True),
    ([Requirement("team", "DoesNotExist")], {"team": "db"}, False),
    ([], {"team": "db"}, True),
])
def test_selects_follows_the_go_code(requirements, labels, expected):
    assert selects(Selector((), tuple(requirements)), labels) is expected


def test_match_on_an_absent_label_changed_in_2_6():
    chosen = Selector((), (Requirement("team", "Match", regex="db"),))
    assert selects(chosen, {}, "2.4") is True   # 2.4 and 2.5 skip it
    assert selects(chosen, {}, "2.6") is False  # 2.6 searches ''
    assert as_matchers(chosen).notes


@pytest.mark.parametrize("chosen", [
    Selector((), (Requirement("team", "Match", regex="a("),)),
    Selector((), (Requirement("team", "Gt", ("1",)),)),
    Selector((("team", "x y"),)),
])
def test_what_the_go_code_refuses_is_an_error(chosen):
    with pytest.raises(SelectorError):
        selects(chosen, {"team": "a"})


@pytest.mark.parametrize("written, expected", [
    ('severity="critical"', [{"key": "severity", "operator": "In", "values": ["critical"]}]),
    ('alertname!="Watchdog"', [{"key": "alertname", "operator": "NotIn", "values": ["Watchdog"]}]),
    ('team=~"db|storage"', [{"key": "team", "operator": "In", "values": ["db", "storage"]}]),
    ('team!~"db|storage"', [{"key": "team", "operator": "NotIn", "values": ["db", "storage"]}]),
    ('team=""', [{"key": "team", "operator": "DoesNotExist"}]),
    ('team!=""', [{"key": "team", "operator": "Exists"}]),
    ('team=~"db.*"', [{"key": "team", "operator": "Exists"},
                      {"key": "team", "operator": "Match", "regexValue": "^(?:db.*)$"}]),
])
def test_the_console_s_operators_come_first(written, expected):
    from reconciler.am.matchers import parse_matchers

    rendered = from_matchers(parse_matchers(written))
    assert rendered.selector.to_object() == {"matchExpressions": expected}


def test_a_negated_regex_is_refused_with_what_to_write():
    with pytest.raises(Untranslatable, match="no negated regex"):
        from_matchers([Matcher("team", "!~", "db.*")])
