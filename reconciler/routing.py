"""Which receivers an alert reaches in an Alertmanager config, read as Alertmanager 0.25 reads
it (dispatch/route.go). Pure: the config's text in, routes out.

- Each route's settings start as its parent's (the root's as Alertmanager's defaults: group
  wait 30s, group interval 5m, repeat 4h) and are replaced by what the route sets; an empty
  or missing group_by inherits, ['...'] groups by every label; mute and active time
  intervals are the route's own, not inherited.
- A route's matchers are its `match` (equality), `match_re` (regex) and `matchers` entries,
  parsed by `matchers.parse_matchers` as Alertmanager parses them; a label the alert lacks
  has the empty value; a regex must match the whole value (Go anchors it as ^(?:...)$),
  checked with RE2, the engine Go's regexp follows.
- Matching is depth first, left to right: a matching child that does not `continue` ends
  the walk at its level; a route none of whose children matched is itself a match.
- `time_intervals` reads the config's named time intervals (`time_intervals` and the
  deprecated `mute_time_intervals`, a later name winning as in Alertmanager's main.go), which
  `timewindows.window_state` evaluates for a route's active and mute names.

`tests/integration/test_who_gets.py` holds `receivers` equal to `amtool config routes test`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

import re2
from ruamel.yaml.error import YAMLError

from .errors import BaseConfigError
from .loader import TooDeep, read_plain
from .am.matchers import Matcher, MatcherError, parse_matchers
from .timewindows import TimeInterval, WindowError, parse_interval

ROOT_DEFAULTS = {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"}
"""dispatch.DefaultRouteOpts in Alertmanager 0.25."""


@dataclass(frozen=True)
class Route:
    """One route with the settings it has after inheritance."""

    receiver: str
    matchers: tuple[Matcher, ...]
    continues: bool
    group_by: tuple[str, ...]
    group_by_all: bool
    group_wait: str
    group_interval: str
    repeat_interval: str
    mute_time_intervals: tuple[str, ...]
    active_time_intervals: tuple[str, ...]
    routes: tuple[Route, ...]

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes that take an alert with `labels`, in Alertmanager's order."""
        if not all(matches(matcher, labels) for matcher in self.matchers):
            return []
        found: list[Route] = []
        for child in self.routes:
            taken = child.match(labels)
            found += taken
            if taken and not child.continues:
                break
        return found or [self]

    @property
    def grouping(self) -> str:
        return "every label" if self.group_by_all else ", ".join(self.group_by) or "nothing (one group)"


def routing_tree(config_text: str) -> Route:
    """The root route of an Alertmanager config's text; BaseConfigError if it has none."""
    return route_tree(read_config(config_text))


MAX_DEPTH = 128
"""Nesting a config read here may have: a render's is at most its base's (render.MAX_BASE_DEPTH,
100) plus the route the base's routes move under. Deeper, a composer runs out of stack."""


def read_config(config_text: str) -> Any:
    """An Alertmanager config's text as plain data; BaseConfigError if it is not YAML.

    As ruamel's safe loader reads it, the loader's quicker way (`loader.read_plain`: a
    thousand lists' config took 0.6 s, more than the diff it summarises)."""
    try:
        return read_plain(config_text, MAX_DEPTH)
    except TooDeep as exc:
        raise BaseConfigError(f"line {exc.line}, column {exc.column}: nested deeper than {MAX_DEPTH} levels") from None
    except YAMLError as exc:
        raise BaseConfigError(f"the config is not YAML: {exc}") from None


@lru_cache(maxsize=4096)
def _parsed(text: str) -> tuple[Matcher, ...]:
    """parse_matchers, once a text: `diff` reads two configs whose routes are mostly the same."""
    return tuple(parse_matchers(text))


def route_tree(config: Any) -> Route:
    """The root route of a config read by `read_config`; BaseConfigError if it has none."""
    root = config.get("route") if isinstance(config, dict) else None
    if not isinstance(root, dict):
        raise BaseConfigError("the config has no route: nothing is routed")
    return _route(root, None)


def _route(raw: dict[str, Any], parent: Route | None) -> Route:
    inherited = parent or Route("", (), False, (), False, ROOT_DEFAULTS["group_wait"],
                                ROOT_DEFAULTS["group_interval"], ROOT_DEFAULTS["repeat_interval"], (), (), ())
    group_by, group_by_all = inherited.group_by, inherited.group_by_all
    written = [str(label) for label in raw.get("group_by") or ()]
    if "..." in written:
        group_by_all = True
    elif written:
        group_by, group_by_all = tuple(written), False
    matchers: list[Matcher] = [Matcher(str(name), "=", str(value)) for name, value in (raw.get("match") or {}).items()]
    matchers += [Matcher(str(name), "=~", str(value)) for name, value in (raw.get("match_re") or {}).items()]
    for text in raw.get("matchers") or ():
        try:
            matchers += _parsed(str(text))
        except MatcherError as exc:
            raise BaseConfigError(f"route matcher {text!r}: {exc}") from None
    route = Route(
        receiver=str(raw.get("receiver") or inherited.receiver),
        matchers=tuple(matchers),
        continues=bool(raw.get("continue", False)),
        group_by=group_by, group_by_all=group_by_all,
        group_wait=str(raw.get("group_wait") or inherited.group_wait),
        group_interval=str(raw.get("group_interval") or inherited.group_interval),
        repeat_interval=str(raw.get("repeat_interval") or inherited.repeat_interval),
        mute_time_intervals=tuple(str(name) for name in raw.get("mute_time_intervals") or ()),
        active_time_intervals=tuple(str(name) for name in raw.get("active_time_intervals") or ()),
        routes=(),
    )
    children = tuple(_route(child, route) for child in raw.get("routes") or () if isinstance(child, dict))
    return Route(**{**route.__dict__, "routes": children})


_COMPILED: dict[str, Any] = {}
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


def matches(matcher: Matcher, labels: Mapping[str, str]) -> bool:
    value = labels.get(matcher.name, "")
    if matcher.op == "=":
        return value == matcher.value
    if matcher.op == "!=":
        return value != matcher.value
    pattern = _COMPILED.get(matcher.value)
    if pattern is None:
        pattern = _COMPILED[matcher.value] = re2.compile(f"^(?:{matcher.value})$", _OPTIONS)
    found = pattern.search(value) is not None
    return found if matcher.op == "=~" else not found


def time_intervals(config: Any) -> dict[str, tuple[TimeInterval, ...]]:
    """The named time intervals of a config read by `read_config`, as Alertmanager builds its
    map of them (mute_time_intervals first, then time_intervals)."""
    found: dict[str, tuple[TimeInterval, ...]] = {}
    for key in ("mute_time_intervals", "time_intervals"):
        entries = config.get(key) if isinstance(config, dict) else None
        for index, entry in enumerate(entries if isinstance(entries, list) else ()):
            if not isinstance(entry, dict):
                continue
            try:
                found[str(entry.get("name"))] = tuple(parse_interval(_as_text(raw))
                                                      for raw in entry.get("time_intervals") or ())
            except WindowError as exc:
                raise BaseConfigError(f"{key}[{index}] ({entry.get('name')}): {exc.message}") from None
    return found


def _as_text(raw: Any) -> dict[str, Any]:
    """One time interval with its range values as the strings Alertmanager reads (a YAML
    number such as `days_of_month: [1]` is the text '1' to it)."""
    if not isinstance(raw, dict):
        return {}
    return {key: [value if isinstance(value, dict) else str(value) for value in values]
            if isinstance(values, list) else values for key, values in raw.items()}

