"""Why `groupBy: []` is refused (tests/data/invalid/group-by-empty): the real Alertmanager
reads `group_by: []` on a child route as "group as the parent does", not "no grouping",
so a list that asked for no grouping would silently get the parent's. What validation
offers instead, `['...']`, really gives one group per alert."""

from __future__ import annotations

import json

import pytest

from tests.support.alertmanager import Alertmanager
from tests.support.services import require_binary, wait_until


pytestmark = pytest.mark.alertmanager

CONFIG = """\
route:
  receiver: root
  group_by: [alertname]
  routes:
    - receiver: inherits
      matchers: [route="empty"]
      group_by: []
    - receiver: each
      matchers: [route="wildcard"]
      group_by: ['...']
receivers: [{name: root}, {name: inherits}, {name: each}]
"""


@pytest.fixture
def alertmanager(tmp_path):
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG)
    am = Alertmanager(require_binary("prometheus-alertmanager"), config, tmp_path / "data").start()
    yield am
    am.stop()


def test_an_empty_group_by_on_a_child_route_means_the_parents_grouping(alertmanager):
    alerts = [{"labels": {"route": route, "alertname": name, "instance": instance}}
              for route in ("empty", "wildcard") for name in ("A", "B") for instance in ("1", "2")]
    alertmanager.post_alerts(alerts)

    def groups() -> dict[str, list[dict]]:
        found: dict[str, list[dict]] = {}
        for group in json.loads(alertmanager.get("/api/v2/alerts/groups")[1]):
            found.setdefault(group["receiver"]["name"], []).append(group["labels"])
        return found if sum(len(v) for v in found.values()) >= 6 else {}

    found = wait_until(groups, timeout=10, what="Alertmanager to group the alerts")
    # group_by: [] -> the parent's [alertname]: two groups of two alerts, not one group of four.
    assert sorted(labels["alertname"] for labels in found["inherits"]) == ["A", "B"]
    assert all(set(labels) == {"alertname"} for labels in found["inherits"])
    # ['...'] -> every alert its own group.
    assert len(found["each"]) == 4
