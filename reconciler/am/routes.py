"""The routing tree of an Alertmanager config, as Alertmanager 0.25 builds and walks it
(config/config.go, dispatch/route.go). Pure: a config read by `reading.read_config` in,
routes out.

- Each route's settings start as its parent's (the root's as Alertmanager's defaults: group
  wait 30s, group interval 5m, repeat 4h) and are replaced by what the route sets; an empty
  or missing group_by inherits, ['...'] groups by every label; mute and active time
  intervals are the route's own, not inherited.
- A route's matchers are its `match` (equality), `match_re` (regex) and `matchers` entries,
  parsed by `matchers.parse_matchers` as Alertmanager parses them; their values are the
  strings Go's YAML reads (`match: {page: true}` is the text "true").
- Matching is depth first, left to right: a matching child that does not `continue` ends
  the walk at its level; a route none of whose children matched is itself a match.
- Each route knows its path in the config (`route.routes[1].routes[0]`), for messages and
  for a caller that changes the config's round-trip tree at the same place.
- `time_intervals` reads the config's named time intervals (`time_intervals` and the
  deprecated `mute_time_intervals`, a later name winning as in Alertmanager's main.go), which
  `timewindows.window_state` evaluates for a route's active and mute names.

What Alertmanager would refuse (a matcher it cannot parse, a route that is not a mapping,
a list where a name goes) is an AlertmanagerConfigError located in the config.
tests/integration/test_who_gets.py and test_am_differential.py hold `Route.match` equal to
`amtool config routes test`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Iterator, Mapping

from ..errors import AlertmanagerConfigError
from ..yamlio.loader import KeyPath, format_path
from .timewindows import TimeInterval, WindowError, parse_interval
from .matchers import Matcher, MatcherError, go_regexp_problem, parse_matchers
from .reading import ReadConfig, go_bool, read_config

ROOT_DEFAULTS = {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"}
"""dispatch.DefaultRouteOpts in Alertmanager 0.25."""


@dataclass(frozen=True)
class Route:
    """One route with the settings it has after inheritance."""

    receiver: str
    matchers: tuple[Matcher, ...]
    """Its own, not those of the routes above it."""
    continues: bool
    group_by: tuple[str, ...]
    group_by_all: bool
    group_wait: str
    group_interval: str
    repeat_interval: str
    mute_time_intervals: tuple[str, ...]
    active_time_intervals: tuple[str, ...]
    routes: tuple[Route, ...]
    path: KeyPath = ("route",)
    """Where it is written: ('route', 'routes', 1) is route.routes[1]."""

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes that take an alert with `labels`, in Alertmanager's order."""
        if not all(matcher.matches(labels.get(matcher.name, "")) for matcher in self.matchers):
            return []
        found: list[Route] = []
        for child in self.routes:
            taken = child.match(labels)
            found += taken
            if taken and not child.continues:
                break
        return found or [self]

    @property
    def where(self) -> str:
        """Its path as messages write it: route.routes[1].routes[0]."""
        return format_path(self.path)

    @property
    def grouping(self) -> str:
        return "every label" if self.group_by_all else ", ".join(self.group_by) or "nothing (one group)"


def walk(route: Route, above: tuple[Route, ...] = ()) -> Iterator[tuple[Route, tuple[Route, ...]]]:
    """Every route of the tree, depth first in the config's order, with the routes above it
    (root first)."""
    yield route, above
    for child in route.routes:
        yield from walk(child, above + (route,))


def routing_tree(config_text: str, name: str = "alertmanager.yml") -> Route:
    """The root route of an Alertmanager config's text."""
    return route_tree(read_config(config_text, name))


def route_tree(config: ReadConfig) -> Route:
    """The root route of a config read by `read_config`; AlertmanagerConfigError if it has none."""
    root = config.data.get("route") if isinstance(config.data, dict) else None
    if not isinstance(root, dict):
        where = ("route",) if isinstance(config.data, dict) and "route" in config.data else ()
        raise config.error(where, "the config has no route (a mapping): nothing is routed")
    top = Route("", (), False, (), False, ROOT_DEFAULTS["group_wait"], ROOT_DEFAULTS["group_interval"],
                ROOT_DEFAULTS["repeat_interval"], (), (), ())
    return _Builder(config).route(root, top, ("route",))


@lru_cache(maxsize=4096)
def _parsed(text: str) -> tuple[Matcher, ...]:
    """parse_matchers, once a text: `diff` reads two configs whose routes are mostly the same."""
    return tuple(parse_matchers(text))


class _Builder:
    def __init__(self, config: ReadConfig) -> None:
        self.config = config

    def text(self, value: Any, path: KeyPath) -> str:
        """A string field's value ("" when absent or null); a mapping or list is refused."""
        if value is None or isinstance(value, str):
            return value or ""
        raise self.config.error(path, "must be text, not a mapping or a list: Alertmanager refuses that")

    def texts(self, value: Any, path: KeyPath) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.config.error(path, "must be a list: Alertmanager refuses anything else")
        return tuple(self.text(item, path + (index,)) for index, item in enumerate(value))

    def pairs(self, value: Any, path: KeyPath) -> list[tuple[str, str]]:
        if value is None:
            return []
        if not isinstance(value, dict):
            raise self.config.error(path, "must be a mapping of label names to values: Alertmanager refuses "
                                          "anything else")
        return [(name, self.text(item, path + (name,))) for name, item in value.items()]

    def route(self, raw: dict[str, Any], parent: Route, path: KeyPath) -> Route:
        group_by, group_by_all = parent.group_by, parent.group_by_all
        written = self.texts(raw.get("group_by"), path + ("group_by",))
        if "..." in written:
            group_by, group_by_all = (), True
        elif written:
            group_by, group_by_all = written, False
        matchers = [Matcher(name, "=", value) for name, value in self.pairs(raw.get("match"), path + ("match",))]
        for name, value in self.pairs(raw.get("match_re"), path + ("match_re",)):
            problem = go_regexp_problem(f"^(?:{value})$")
            if problem:
                raise self.config.error(path + ("match_re", name), f"{value!r} is not a regular expression "
                                                                   f"Alertmanager accepts (Go's regexp says {problem!r})")
            matchers.append(Matcher(name, "=~", value))
        for index, text in enumerate(self.texts(raw.get("matchers"), path + ("matchers",))):
            try:
                matchers += _parsed(text)
            except MatcherError as exc:
                raise self.config.error(path + ("matchers", index), f"{text!r}: {exc}") from None
        timing = {key: self.text(raw.get(key), path + (key,)) or getattr(parent, key)
                  for key in ("group_wait", "group_interval", "repeat_interval")}
        route = Route(
            receiver=self.text(raw.get("receiver"), path + ("receiver",)) or parent.receiver,
            matchers=tuple(matchers),
            continues=bool(go_bool(raw.get("continue"))),
            group_by=group_by, group_by_all=group_by_all, **timing,
            mute_time_intervals=self.texts(raw.get("mute_time_intervals"), path + ("mute_time_intervals",)),
            active_time_intervals=self.texts(raw.get("active_time_intervals"), path + ("active_time_intervals",)),
            routes=(), path=path)
        children = raw.get("routes")
        if children is None:
            return route
        if not isinstance(children, list):
            raise self.config.error(path + ("routes",), "must be a list of routes")
        built = []
        for index, child in enumerate(children):
            if not isinstance(child, dict):
                raise self.config.error(path + ("routes", index), "is not a route (a mapping)")
            built.append(self.route(child, route, path + ("routes", index)))
        return replace(route, routes=tuple(built))


def time_intervals(config: ReadConfig) -> dict[str, tuple[TimeInterval, ...]]:
    """The named time intervals of a config read by `read_config`, as Alertmanager builds its
    map of them (mute_time_intervals first, then time_intervals)."""
    found: dict[str, tuple[TimeInterval, ...]] = {}
    data = config.data if isinstance(config.data, dict) else {}
    for key in ("mute_time_intervals", "time_intervals"):
        entries = data.get(key)
        for index, entry in enumerate(entries if isinstance(entries, list) else ()):
            if not isinstance(entry, dict):
                continue
            try:
                found[str(entry.get("name"))] = tuple(parse_interval(raw) for raw in entry.get("time_intervals") or ()
                                                      if isinstance(raw, dict))
            except WindowError as exc:
                raise AlertmanagerConfigError(config.locate((key, index)), f"{key}[{index}]",
                                              f"({entry.get('name')}): {exc.message}") from None
    return found
