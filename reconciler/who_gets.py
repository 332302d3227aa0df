"""who-gets: whom an alert with some labels is mailed, read from the rendered config as
Alertmanager routes it (reconciler.am). Pure: the render's text, the lists and an instant in.

- The routes the alert ends at are Alertmanager's (`amtool config routes test` names the same
  receivers, in the same order: tests/integration/test_am_differential.py), the render read as
  Alertmanager reads it: a base's `match: {page: true}` matches the label value `true`.
- Each route is a RecipientList's (its receiver is ours) or the base's; each is mailed now or
  held back by its time windows at the instant asked about.
- Duplicates: an address mailed more than once for this alert (a list and a base e-mail
  receiver with the same address, one receiver reached by two routes), with the receivers it
  comes through; only what is mailed at that instant counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .am.deliveries import Duplicate, duplicates
from .am.reading import read_config
from .am.receivers import Receiver, receivers
from .am.routes import Route, route_tree, time_intervals
from .render import PREFIX
from .timewindows import WindowState, window_state

if TYPE_CHECKING:
    from .model import RecipientList


@dataclass(frozen=True)
class Reached:
    """One route the alert ends at."""

    route: Route
    recipient_list: RecipientList | None
    """The list whose route it is; None for a route of the base's."""
    receiver: Receiver | None
    state: WindowState
    """Whether its time windows let it be mailed at the instant asked about."""


@dataclass(frozen=True)
class Answer:
    labels: Mapping[str, str]
    reached: tuple[Reached, ...]
    """In Alertmanager's order, a receiver as often as a route takes the alert to it."""
    duplicates: tuple[Duplicate, ...]

    @property
    def receivers(self) -> list[str]:
        """The receivers reached, as `amtool config routes test` prints them."""
        return [item.route.receiver for item in self.reached]

    @property
    def lists(self) -> list[Reached]:
        return [item for item in self.reached if item.recipient_list is not None]

    @property
    def base(self) -> list[Reached]:
        return [item for item in self.reached if item.recipient_list is None]

    @property
    def mailed(self) -> bool:
        """Whether a RecipientList is mailed."""
        return any(item.state.mailed for item in self.lists)


class Audience:
    """A rendered config, read once, to answer for many alerts."""

    def __init__(self, rendered: str, lists: Iterable[RecipientList], name: str = "the render") -> None:
        read = read_config(rendered, name)
        self.tree = route_tree(read)
        self.windows = time_intervals(read)
        self.receivers = receivers(read)
        self.lists = {PREFIX + item.name: item for item in lists}

    def answer(self, labels: Mapping[str, str], at: Any) -> Answer:
        """The answer for an alert with `labels` at the instant `at` (an aware datetime)."""
        reached = tuple(Reached(route, self.lists.get(route.receiver), self.receivers.get(route.receiver),
                                window_state(route.active_time_intervals, route.mute_time_intervals, self.windows, at))
                        for route in self.tree.match(labels))
        mailed = [item.route for item in reached if item.state.mailed]
        return Answer(dict(labels), reached, tuple(duplicates(mailed, self.receivers)))
