"""A render keeps the base's routing of every alert and adds exactly the e-mail lists whose
matchers match, as Alertmanager itself reads both files (`amtool config routes test`)."""

from __future__ import annotations

import pytest

from reconciler.specs.pipeline import parse_specs
from reconciler.core.render import PREFIX, render_alertmanager_config

from tests.support.gitrepo import recipient_list, server
from tests.support.routing import BASES, all_match, label_sets, matchers_of_config, receivers_reached
from tests.support.services import require_binary

pytestmark = pytest.mark.alertmanager

LISTS = [recipient_list("all", ["a@example.com"]),
         recipient_list("db", ["d@example.com"], matchers="['team=\"db\"']"),
         recipient_list("urgent", ["u@example.com"], matchers="['severity=~\"critical|page\"', 'alertname!=\"Watchdog\"']")]
SPECS = parse_specs({f"{i}.yaml": d.encode() for i, d in enumerate([server(), *LISTS])})


@pytest.mark.parametrize("name", list(BASES))
def test_a_render_keeps_the_base_routing_of_every_alert_and_adds_exactly_the_matching_lists(amtool, name):
    base = BASES[name]
    text = render_alertmanager_config(SPECS, base)
    every_matcher = matchers_of_config(base) + [m for item in SPECS.lists for m in item.matchers]
    sets = label_sets(every_matcher, limit=40)
    before = receivers_reached(amtool, base, sets)
    after = receivers_reached(amtool, text, sets)
    for labels, was, now in zip(sets, before, after):
        ours = [receiver for receiver in now if receiver.startswith(PREFIX)]
        expected = [PREFIX + item.name for item in SPECS.lists if all_match(item.matchers, labels)]
        assert (ours, now[len(ours):]) == (expected, was), f"alert {labels}: {was} before, {now} after"
    assert len(sets) >= 8 if name != "no child routes" else len(sets) >= 4


@pytest.mark.parametrize("name", list(BASES))
def test_rendering_over_an_earlier_render_gives_the_render_of_the_clean_base(name):
    once = render_alertmanager_config(SPECS, BASES[name])
    assert render_alertmanager_config(SPECS, once) == once
    disabled = parse_specs({"s.yaml": server(enabled="false").encode()})
    assert render_alertmanager_config(disabled, once) == render_alertmanager_config(disabled, BASES[name])


GROUPING_BASE = """\
route:
  receiver: chat
  group_by: [cluster]
  routes:
    - receiver: pager
      matchers: [severity="page"]
      continue: true
    - receiver: dba
      matchers: [team="db"]
      routes:
        - receiver: dba-night
          matchers: [shift="night"]
          group_by: [alertname]
receivers: [{name: chat}, {name: pager}, {name: dba}, {name: dba-night}]
"""


def test_the_base_routes_group_alerts_as_before_on_the_real_alertmanager(tmp_path):
    """Grouping is inherited from the root, and the route that holds the base's routes sets
    none of its own: the real Alertmanager forms the same groups for the base's receivers."""
    import json

    from tests.support.alertmanager import Alertmanager
    from tests.support.services import wait_until

    config = tmp_path / "alertmanager.yml"
    config.write_text(GROUPING_BASE)
    am = Alertmanager(require_binary("prometheus-alertmanager"), config, tmp_path / "data").start()
    try:
        am.post_alerts([{"labels": {"alertname": name, "cluster": cluster, **extra}}
                        for name in ("A", "B") for cluster in ("c1", "c2")
                        for extra in ({}, {"severity": "page"}, {"team": "db"}, {"team": "db", "shift": "night"},
                                      {"team": "db", "severity": "page"})])

        def groups() -> list[tuple[str, tuple, int]]:
            found = json.loads(am.get("/api/v2/alerts/groups")[1])
            return sorted((g["receiver"]["name"], tuple(sorted(g["labels"].items())), len(g["alerts"]))
                          for g in found)

        before = wait_until(lambda: groups() if sum(n for _, _, n in groups()) >= 24 else None, 10,
                            "the base's groups")
        config.write_text(render_alertmanager_config(SPECS, GROUPING_BASE))
        assert am.reload()[0] == 200
        def settled():  # every alert dispatched again, through the new routes
            found = groups()
            ours = [group for group in found if group[0].startswith(PREFIX)]
            theirs = [group for group in found if not group[0].startswith(PREFIX)]
            return theirs if ours and sum(n for _, _, n in theirs) >= sum(n for _, _, n in before) else None

        assert wait_until(settled, 10, "the render's groups") == before
        assert {r for r, _, _ in before} == {"chat", "pager", "dba", "dba-night"}
    finally:
        am.stop()
