"""Whom one alert is mailed, through which routes, and which addresses get it more than once.
Pure: a routing tree and the receivers of one config in.

Alertmanager notifies once per route an alert ends at (each route has its own aggregation
group), and each e-mail config of the route's receiver sends its own message. So an address
gets one alert twice when two routes it ends at mail it (a RecipientList and a base receiver
with the same address; one receiver reached by two routes), or one receiver lists it in two
e-mail configs.

- `duplicates` names them for one alert, from the routes it reached.
- `possible_duplicates` looks for alerts that would be mailed twice to one address, for the
  pairs of routes a caller asks about (a list and a base receiver, say): it tries label sets
  built from the matchers around the two routes and keeps one that reaches both, as an
  example. It can miss an overlap only a value it did not think of shows (a regular expression
  none of whose literal parts matches); what it reports always happens.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

from .receivers import Receiver
from .routes import Route, walk


@dataclass(frozen=True)
class Duplicate:
    address: str
    """As the first receiver writes it."""
    receivers: tuple[str, ...]
    """The receiver of each message it gets, in routing order (a name twice: twice through it)."""


def duplicates(reached: Sequence[Route], receivers: Mapping[str, Receiver]) -> list[Duplicate]:
    """The addresses the routes `reached` by one alert mail more than once."""
    messages: dict[str, list[str]] = {}
    written: dict[str, str] = {}
    for route in reached:
        receiver = receivers.get(route.receiver)
        for email in receiver.emails if receiver is not None else ():
            for address in dict.fromkeys(address.casefold() for address in email.addresses):
                messages.setdefault(address, []).append(route.receiver)
                written.setdefault(address, next(a for a in email.addresses if a.casefold() == address))
    return [Duplicate(written[address], tuple(names)) for address, names in messages.items() if len(names) > 1]


@dataclass(frozen=True)
class PossibleDuplicate:
    first: Route
    second: Route
    addresses: tuple[str, ...]
    """What both mail (as `first`'s receiver writes them)."""
    example: Mapping[str, str]
    """Labels of an alert that reaches both routes."""


MISS = "some-other-value"
"""A label value no matcher is likely to name (a label the alert has, set to nothing anyone asked for)."""


def possible_duplicates(tree: Route, receivers: Mapping[str, Receiver],
                        concerns: Callable[[Route, Route], bool], *, budget: int = 128) -> list[PossibleDuplicate]:
    """Pairs of routes whose receivers share an address and that one alert can reach together,
    among the pairs `concerns` accepts; at most `budget` label sets are tried a pair."""
    # A route with a child that matches every alert is never where an alert ends (the render's
    # root, above the route that holds the base's routes).
    routes = [route for route, _ in walk(tree) if all(child.matchers for child in route.routes)]
    above = {id(route): chain for route, chain in walk(tree)}
    mailing = {id(route): {address.casefold(): address for address in receivers[route.receiver].addresses}
               for route in routes if route.receiver in receivers and receivers[route.receiver].addresses}
    found = []
    for first, second in itertools.combinations([route for route in routes if id(route) in mailing], 2):
        shared = [address for key, address in mailing[id(first)].items() if key in mailing[id(second)]]
        if not shared or not concerns(first, second):
            continue
        example = _example(tree, first, second, above, budget)
        if example is not None:
            found.append(PossibleDuplicate(first, second, tuple(shared), example))
    return found


def _example(tree: Route, first: Route, second: Route, above: Mapping[int, tuple[Route, ...]],
             budget: int) -> dict[str, str] | None:
    """A label set whose alert ends at both routes, or None if none of those tried does."""
    wanted = [matcher for route in (first, second) for step in (*above[id(route)], route) for matcher in step.matchers]
    around = [matcher for route in (first, second) for step in (*above[id(route)], route)
              for sibling in step.routes for matcher in sibling.matchers]
    around += [matcher for route in (first, second) for step in above[id(route)]
               for sibling in step.routes for matcher in sibling.matchers]
    values: dict[str, list[str]] = {}
    for matcher in wanted + around:  # a label left out first: the first example found is a small one
        known = values.setdefault(matcher.name, [""])
        for value in _candidates(matcher.op, matcher.value):
            if value not in known:
                known.append(value)
    for known in values.values():
        known += [MISS] if MISS not in known else []
    names = sorted(values)
    for combination in itertools.islice(itertools.product(*(values[name] for name in names)), budget):
        labels = {name: value for name, value in zip(names, combination) if value}
        reached = tree.match(labels)
        if any(route is first for route in reached) and any(route is second for route in reached):
            return labels
    return None


_META = re.compile(r"[.*+?()\[\]{}^$\\|]")


def _candidates(op: str, value: str) -> Iterable[str]:
    """Values worth trying for a label a matcher names: its value, and for a regular
    expression the literal parts of its alternatives (`db|web.*` gives db, web)."""
    if op in ("=", "!="):
        return [value]
    parts = [part for part in value.split("|")]
    return [value, *(_META.sub("", part) for part in parts)]
