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
- `duplicate_warnings`, for `render` and `diff` with a base: the base's e-mail receivers that
  mail an address a RecipientList mails too, when some alert reaches both, with an example
  of such an alert (found by trying label sets: am.deliveries.possible_duplicates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, NamedTuple

from ..am.deliveries import Duplicate, duplicates, possible_duplicates
from ..am.reading import read_config
from ..am.receivers import Receiver, receivers
from ..am.routes import Route, route_tree, time_intervals
from ..errors import AlertmanagerConfigError
from ..yamlio.loader import format_path
from .names import PREFIX
from ..am.timewindows import WindowState, window_state, zone

if TYPE_CHECKING:
    from ..specs.model import RecipientList


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
    at: Any = None
    """The instant asked about (an aware datetime)."""

    def taken(self) -> list[tuple[Route, RecipientList, WindowView]]:
        """The RecipientLists' routes the alert ends at, each with its windows in words."""
        return [(item.route, item.recipient_list, window_view(item.state, self.at)) for item in self.lists]

    def base_receivers(self) -> tuple[list[str], list[str]]:
        """The base's own receivers the alert reaches: (mailed, held back by the base's own
        time intervals at that instant and reached by no route that mails)."""
        mailed = sorted({item.route.receiver for item in self.base if item.state.mailed})
        held = sorted({item.route.receiver for item in self.base if not item.state.mailed} - set(mailed))
        return mailed, held

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
        return Answer(dict(labels), reached, tuple(duplicates(mailed, self.receivers)), at)


class WindowView(NamedTuple):
    """A WindowState with our names as people write them (no render prefix), in words."""

    active: tuple[str, ...]
    muted: tuple[str, ...]
    active_by: str | None
    muted_by: str | None
    location: str | None
    mailed: bool
    at: Any

    @property
    def windowed(self) -> bool:
        return bool(self.active or self.muted)

    def _parts(self, held_only: bool) -> list[str]:
        parts = []
        if self.active and (self.active_by is None or not held_only):
            parts.append(f"inside its activeDuring window {self.active_by}" if self.active_by else
                         f"outside its activeDuring window{'s' if len(self.active) > 1 else ''} "
                         f"{', '.join(self.active)}")
        if self.muted and (self.muted_by is not None or not held_only):
            parts.append(f"inside its mutedDuring window {self.muted_by}" if self.muted_by else
                         f"outside its mutedDuring window{'s' if len(self.muted) > 1 else ''} {', '.join(self.muted)}")
        return parts

    @property
    def reason(self) -> str:
        """Why it is held back."""
        return "is " + " and ".join(self._parts(held_only=True))

    def describe(self, at: str) -> str:
        when = f" ({self.at.astimezone(zone(self.location)):%a %H:%M} in {self.location})" if self.location else ""
        return f"{'mailed' if self.mailed else 'NOT mailed'} at {at}{when}: {', '.join(self._parts(held_only=False))}"

    def as_json(self) -> dict:
        return {"activeDuring": list(self.active), "mutedDuring": list(self.muted), "activeBy": self.active_by,
                "mutedBy": self.muted_by, "mailed": self.mailed}


def window_view(state: WindowState, at: Any) -> WindowView:
    """A WindowState in words, with our window names as people write them."""
    def shown(name: str | None) -> str | None:
        return name.removeprefix(PREFIX) if name is not None else None

    return WindowView(tuple(map(shown, state.active)), tuple(map(shown, state.muted)), shown(state.active_by),
                       shown(state.muted_by), state.location, state.mailed, at)


def duplicate_warnings(rendered: str, base: str | None, base_name: str) -> list[str]:
    """One line per e-mail receiver of the base that mails, for some alert, an address a
    RecipientList mails for it too: `file:line:col: receivers[i]: ...`."""
    if base is None or "email_configs" not in base:
        return []  # not even read: `diff` from the cache imports no YAML library
    try:
        base_read = read_config(base, base_name)
        base_receivers = receivers(base_read)
        if not any(receiver.addresses for receiver in base_receivers.values()):
            return []  # most bases (an imported one) mail nobody themselves: no second reading
        read = read_config(rendered, "the render")
        tree, found = route_tree(read), receivers(read)
    except AlertmanagerConfigError:
        return []  # the render reports what it cannot read; this is only a warning

    def ours(route: Route) -> bool:
        return route.receiver.startswith(PREFIX)

    lines = []
    for pair in possible_duplicates(tree, found, lambda first, second: ours(first) != ours(second)):
        ours_route, theirs = (pair.first, pair.second) if ours(pair.first) else (pair.second, pair.first)
        receiver = base_receivers.get(theirs.receiver)
        if receiver is None:
            continue
        shared = {address.casefold() for address in pair.addresses}
        shown = ", ".join(address for address in receiver.addresses if address.casefold() in shared)
        example = ", ".join(f'{name}="{value}"' for name, value in sorted(pair.example.items()))
        lines.append(f"{base_read.locate(receiver.path)}: {format_path(receiver.path)}: {receiver.name!r} mails "
                     f"{shown}, as list {ours_route.receiver.removeprefix(PREFIX)} does: an alert such as "
                     f"{{{example}}} reaches both and is mailed to {'those addresses' if len(pair.addresses) > 1 else 'it'}"
                     " twice; take the address out of one of them (after an import, render into the imported base, "
                     "which no longer holds the receivers that became lists)")
    return lines
