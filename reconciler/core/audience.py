"""Who is mailed what, read from a rendered Alertmanager config, and what changes between two
configs, in words: the summary `diff` prints before the YAML, so a reviewer sees who gains or
loses mail at a glance.

Pure: config texts in, lines out. Both sides are read from their text, the same way, because
the live side may be a file we wrote, a hand-made one, or Alertmanager's own view of what it
runs (defaults filled in, durations re-spelled, secrets as ``<secret>``); what Alertmanager
fills in is filled in on both sides before comparing, and durations compare by length.

- Both configs are read by reconciler.am, as Alertmanager reads them (scalars as Go's YAML
  reads them: `send_resolved: no` is false, `smtp_require_tls: off` too).
- A RecipientList is a route to one of our receivers (``notify-reconciler/<list>``), read
  with `am.routes.route_tree` as Alertmanager reads it, plus that receiver's e-mail configs:
  recipients, matchers, timing, grouping, resolved mails, delivery, time windows, subject
  and bodies. Adding a compared field is one row of `LIST_FIELDS`.
- The SMTP server is the ``global.smtp_*`` keys and our e-mail configs' ``tls_config``; the
  password only as where it comes from (a file's path, or "in the config"): its value, a
  password file's contents and a passwordEnv variable's value are never read here.
- A time window (``time_intervals``) whose times change is named with the lists it mails
  or mutes; Alertmanager's own view spells months as numbers, so both sides are normalised.
- The base's own receivers are summarised by name: routed now or no longer, or their routes
  changed (the render moves the base's routes under one route that matches everything and
  sets nothing; that move is no change).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Mapping, NamedTuple

from ..am.credentials import is_credential
from ..am.matchers import Matcher
from ..am.reading import go_bool, read_config
from ..am.receivers import EmailConfig, receivers as read_receivers
from ..am.routes import Route, route_tree
from ..errors import BaseConfigError
from ..specs.model import duration_nanoseconds
from .names import DISCARD_RECEIVER, MARK, PREFIX
from ..specs.templates import CARRIED_PREFIX, DEFAULT_HTML, DEFAULT_SUBJECT

NO_CHANGE = "no change in who is mailed"
CHANGES = "changes in who is mailed:"
ARROW = " -> "


class Shown(NamedTuple):
    """A value as compared (`key`) and as printed (`text`): '90m' and '1h30m' are one."""

    key: Any
    text: str


@dataclass(frozen=True)
class MailedList:
    """One RecipientList as the config mails it."""

    name: str
    route: Route
    """The route to its receiver, settings inherited as Alertmanager inherits them."""
    emails: tuple[EmailConfig, ...]
    """Its receiver's email_configs, one per message an alert is sent as."""

    @cached_property
    def recipients(self) -> dict[str, str]:
        """Address as compared (case ignored, as the specs do) -> as written, in order."""
        found: dict[str, str] = {}
        for email in self.emails:
            for address in email.addresses:
                found.setdefault(address.casefold(), address)
        return found


@dataclass(frozen=True)
class Mailing:
    """Who a config mails: our lists, the SMTP server, and the base's routed receivers."""

    lists: Mapping[str, MailedList] = field(default_factory=dict)
    server: Mapping[str, Any] | None = None
    """global, when it names an SMTP server (smtp_smarthost)."""
    tls: Mapping[str, Any] | None = None
    """The tls_config of our e-mail configs (the render gives each the same); None: no list."""
    base_routes: Mapping[str, frozenset] = field(default_factory=dict)
    """Each of the base's routed receivers -> what its routes match and how they time."""
    rendered: bool = False
    """A render wrote it (its comment says so): no list then means e-mail is off."""
    windows: Mapping[str, Any] = field(default_factory=dict)
    """Each time interval's name -> its definition, as compared (`_window_key`)."""


def read_mailing(config_text: str | None, name: str = "alertmanager.yml") -> Mailing:
    """Who `config_text` mails; an empty `Mailing` for None (nothing live yet).
    BaseConfigError when it cannot be read as an Alertmanager config."""
    if config_text is None or not config_text.strip():
        return Mailing()
    read = read_config(config_text, name)
    config = read.data
    if not isinstance(config, dict):
        raise BaseConfigError("it is not an Alertmanager config (a mapping with route, receivers, ...)")
    receivers = read_receivers(read)
    lists: dict[str, MailedList] = {}
    base: dict[str, set] = {}
    for route, path in _walk(route_tree(read), ()):
        if route.receiver.startswith(PREFIX):
            receiver = receivers.get(route.receiver)
            list_name = route.receiver[len(PREFIX):]
            if route.receiver != DISCARD_RECEIVER and receiver is not None and list_name not in lists:
                lists[list_name] = MailedList(list_name, route, receiver.emails)
            continue
        # Matchers along the path, not per level: the route the render wraps the base's
        # routes in matches everything, so wrapped or not is the same.
        base.setdefault(route.receiver, set()).add((
            frozenset(path), route.continues, _grouping(route).key, _duration(route.group_wait).key,
            _duration(route.group_interval).key, _duration(route.repeat_interval).key,
            route.mute_time_intervals, route.active_time_intervals))
    glob = config.get("global") if isinstance(config.get("global"), dict) else {}
    server = {key: "<secret>" if is_credential(key) and value else value
              for key, value in glob.items() if key.startswith("smtp_")} if glob.get("smtp_smarthost") else None
    first = next((email for item in lists.values() for email in item.emails), None)
    tls = first.settings.get("tls_config") or {} if first is not None else None
    windows = {str(item.get("name")): _window_key(item.get("time_intervals"))
               for key in ("time_intervals", "mute_time_intervals") for item in config.get(key) or ()
               if isinstance(item, dict)}
    return Mailing(lists, server, tls if isinstance(tls, dict) else {},
                   {name: frozenset(routes) for name, routes in base.items()}, rendered=MARK in config_text,
                   windows=windows)


def _walk(route: Route, path: tuple[Matcher, ...]):
    """Every route under `route` with the matchers on the way to it (its own included)."""
    path = path + route.matchers
    yield route, path
    for child in route.routes:
        yield from _walk(child, path)


_MONTHS = {name: str(number) for number, name in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
     "december"), start=1)}


def _window_key(value: Any, key: str = "") -> Any:
    """A time interval's definition as compared: Alertmanager's own view spells months as
    numbers (january:march is 1:3) and may reorder keys."""
    if isinstance(value, dict):
        return tuple(sorted((str(name), _window_key(item, str(name))) for name, item in value.items()))
    if isinstance(value, list):
        return tuple(_window_key(item, key) for item in value)
    text = str(value).strip().lower()
    return ":".join(_MONTHS.get(part, part) for part in text.split(":")) if key == "months" else text


# -- how each compared value is shown -----------------------------------------------------

def _duration(text: str) -> Shown:
    return Shown(duration_nanoseconds(text), text)


def _grouping(route: Route) -> Shown:
    return Shown("..." if route.group_by_all else frozenset(route.group_by), route.grouping)


def _matchers(matchers: tuple[Matcher, ...]) -> Shown:
    return Shown(frozenset(matchers), matchers_text(matchers))


def matchers_text(matchers: tuple[Matcher, ...]) -> str:
    """`{severity="critical", team=~"db|storage"}`, as Alertmanager prints matchers; `every
    alert` for none."""
    if not matchers:
        return "every alert"
    quoted = (matcher.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for matcher in matchers)
    return "{" + ", ".join(f'{m.name}{m.op}"{value}"' for m, value in zip(matchers, quoted)) + "}"


def _windows(names: tuple[str, ...], none: str) -> Shown:
    return Shown(frozenset(names), ", ".join(map(_window_name, names)) or none)


def _window_name(name: str) -> str:
    """A time window as people name it: ours by its TimeWindow's name (the base may not use
    our prefix, so nothing of the base's is shown the same way by accident of the prefix)."""
    return name.removeprefix(PREFIX)


_CARRIED_BODY = re.compile(r'\{\{ template "' + re.escape(CARRIED_PREFIX) + r'(.+)-([0-9a-f]{12})\.tmpl" \. \}\}')


def _template(value: Any, default: str) -> Shown:
    text = str(value) if value not in (None, "") else default
    if text == default:
        return Shown(text, "default")
    carried = _CARRIED_BODY.fullmatch(text)
    if carried:  # a file of the repo, carried under a name that changes with its content
        return Shown(text, f"{carried[1]}.tmpl (version {carried[2][:7]})")
    return Shown(text, repr(text if len(text) <= 80 else text[:77] + "..."))


def _header(item: MailedList, name: str) -> Any:
    headers = item.emails[0].settings.get("headers") if item.emails else None
    if isinstance(headers, dict):
        return next((value for key, value in headers.items() if str(key).lower() == name.lower()), None)
    return None


def _delivery(item: MailedList) -> Shown:
    sizes = [len(email.addresses) for email in item.emails]
    if len(sizes) <= 1:
        return Shown("single", "one message to all")
    if max(sizes) == 1:
        return Shown("each", "one message each")
    return Shown(("split", max(sizes)), f"messages of at most {max(sizes)} recipients")


LIST_FIELDS: tuple[tuple[str, Callable[[MailedList], Shown]], ...] = (
    ("takes", lambda item: _matchers(item.route.matchers)),
    ("repeat", lambda item: _duration(item.route.repeat_interval)),
    ("group wait", lambda item: _duration(item.route.group_wait)),
    ("group interval", lambda item: _duration(item.route.group_interval)),
    ("grouped by", lambda item: _grouping(item.route)),
    ("resolved mails", lambda item: Shown(True, "on") if any(email.send_resolved for email in item.emails)
                                    else Shown(False, "off")),
    ("delivery", _delivery),
    ("active during", lambda item: _windows(item.route.active_time_intervals, "always")),
    ("muted during", lambda item: _windows(item.route.mute_time_intervals, "never")),
    ("subject", lambda item: _template(_header(item, "Subject"), DEFAULT_SUBJECT)),
    ("html body", lambda item: _template(item.emails[0].settings.get("html") if item.emails else None, DEFAULT_HTML)),
    ("text body", lambda item: _template(item.emails[0].settings.get("text") if item.emails else None, "")),
)
"""What is compared for a list that stays, as (label, value): `label old -> new`."""
NEW_LIST_FIELDS = ("takes", "repeat", "active during", "muted during")
"""What a new list's line says besides its recipients (when not the default)."""


def _setting(key: str, default: str, compare: Callable[[str], Any] = str.lower) -> Callable[[Mapping], Shown]:
    """A setting's value, or what it means when unset; compared as `compare` makes it."""
    def shown(settings: Mapping[str, Any]) -> Shown:
        text = str(settings.get(key) or default)
        return Shown(compare(text), text)
    return shown


def _tls_mode(server: Mapping[str, Any]) -> Shown:
    """How Alertmanager talks to the server: port 465 is implicit TLS, whatever require_tls says."""
    if str(server.get("smtp_smarthost")).rpartition(":")[2] == "465":
        return Shown("implicit", "implicit TLS")
    # Alertmanager's default is true; written as null it is Go's zero value, false.
    if go_bool(server["smtp_require_tls"]) if "smtp_require_tls" in server else True:
        return Shown("starttls", "STARTTLS required")
    return Shown("plain", "plain, no TLS")


def _password(server: Mapping[str, Any]) -> Shown:
    """Where the password comes from; never its value."""
    if server.get("smtp_auth_password_file"):
        path = str(server["smtp_auth_password_file"])
        return Shown(("file", path), f"from file {path}")
    if server.get("smtp_auth_password"):
        return Shown("config", "in the config")
    return Shown(None, "none")


SERVER_FIELDS: tuple[tuple[str, Callable[[Mapping[str, Any]], Shown]], ...] = (
    ("address", _setting("smtp_smarthost", "none")),
    ("TLS", _tls_mode),
    ("sender", _setting("smtp_from", "none")),
    ("EHLO name", _setting("smtp_hello", "localhost")),  # Alertmanager's default
    ("login", _setting("smtp_auth_username", "none", str)),
    ("password", _password),
)
TLS_FIELDS: tuple[tuple[str, Callable[[Mapping[str, Any]], Shown]], ...] = (
    ("CA file", _setting("ca_file", "system CAs", str)),
    ("certificate name", _setting("server_name", "the host")),
    ("certificate check", lambda tls: Shown(True, "skipped") if go_bool(tls.get("insecure_skip_verify"))
                                      else Shown(False, "on")),
)


# -- the changes ---------------------------------------------------------------------------

def _compared(fields, before, after) -> list[str]:
    changes = []
    for label, value in fields:
        old, new = value(before), value(after)
        if old.key != new.key:
            changes.append(f"{label} {old.text}{ARROW}{new.text}" + _scope(label, old, new))
    return changes


def _scope(label: str, old: Shown, new: Shown) -> str:
    """For matchers: whether the list now takes fewer alerts or more, when that is certain."""
    if label != "takes" or old.key == new.key:
        return ""
    if old.key < new.key:
        return " (narrower: fewer alerts)"
    if new.key < old.key:
        return " (wider: more alerts)"
    return ""


def _addresses(values: list[str]) -> str:
    return ", ".join(values)


def mailing_changes(before: Mailing, after: Mailing) -> list[str]:
    """One line per thing whose mail changes, `subject: change; change`, in a fixed order:
    e-mail on/off, the lists by name, the SMTP server, the base's receivers by name. []
    when nobody gains or loses mail and nothing about the mail changes."""
    lines = []
    if before.lists and not after.lists:
        lines.append("e-mail: on -> off (EmailServer enabled: false): no RecipientList is mailed")
    elif after.lists and not before.lists and before.rendered:
        lines.append("e-mail: off -> on")
    for name in sorted(set(before.lists) | set(after.lists)):
        old, new = before.lists.get(name), after.lists.get(name)
        if old is None:
            said = [f"mails {_addresses(list(new.recipients.values()))}"]
            said += [f"{label} {value(new).text}" for label, value in LIST_FIELDS if label in NEW_LIST_FIELDS
                     and not (label.endswith("during") and not value(new).key)]
            lines.append(f"list {name}: new: " + "; ".join(said))
            continue
        if new is None:
            lines.append(f"list {name}: gone: {_addresses(list(old.recipients.values()))} no longer mailed "
                         f"(it took {matchers_text(old.route.matchers)})")
            continue
        if old.route == new.route and old.emails == new.emails:
            continue  # most lists of a thousand: nothing to compare
        changes = []
        added = [address for key, address in new.recipients.items() if key not in old.recipients]
        removed = [address for key, address in old.recipients.items() if key not in new.recipients]
        if added:
            changes.append(f"+{len(added)} recipient{'s' if len(added) > 1 else ''} ({_addresses(added)})")
        if removed:
            changes.append(f"-{len(removed)} recipient{'s' if len(removed) > 1 else ''} ({_addresses(removed)})")
        changes += _compared(LIST_FIELDS, old, new)
        if changes:
            lines.append(f"list {name}: " + "; ".join(changes))
    lines += _window_changes(before, after)
    lines += _server_changes(before, after)
    for name in sorted(set(before.base_routes) | set(after.base_routes)):
        old_routes, new_routes = before.base_routes.get(name), after.base_routes.get(name)
        if old_routes is None:
            lines.append(f"base receiver {name}: newly routed")
        elif new_routes is None:
            lines.append(f"base receiver {name}: no longer routed (it gets no alert)")
        elif old_routes != new_routes:
            lines.append(f"base receiver {name}: its routes changed (which alerts it gets, or when, may differ)")
    return lines


def _window_changes(before: Mailing, after: Mailing) -> list[str]:
    """A time window whose times changed, with the lists it changes: those mailed only during
    it or muted during it (a list that starts or stops using one says so itself)."""
    lines = []
    for name in sorted(set(before.windows) & set(after.windows)):
        if before.windows[name] == after.windows[name]:
            continue
        users = [f"{item.name} ({how})" for item in sorted(after.lists.values(), key=lambda item: item.name)
                 for how, names in (("active during", item.route.active_time_intervals),
                                    ("muted during", item.route.mute_time_intervals)) if name in names]
        if users:
            lines.append(f"time window {_window_name(name)}: times changed, for list {', list '.join(users)}")
    return lines


def _server_changes(before: Mailing, after: Mailing) -> list[str]:
    old, new = before.server, after.server
    if old is None and new is None:
        return []
    if old is None:
        said = [f"{label} {value(new).text}" for label, value in SERVER_FIELDS]
        return ["SMTP server: new: " + "; ".join(said)]
    if new is None:
        return [f"SMTP server: gone: {old.get('smtp_smarthost')} is no longer configured"]
    changes = _compared(SERVER_FIELDS, old, new)
    if before.tls is not None and after.tls is not None:  # known only while some list is mailed
        changes += _compared(TLS_FIELDS, before.tls, after.tls)
    return ["SMTP server: " + "; ".join(changes)] if changes else []


def summary_lines(before_text: str | None, after_text: str, *, before_name: str = "the live config",
                  after_name: str = "the render") -> list[str]:
    """What `diff` prints before the YAML: `changes in who is mailed:` and an indented line
    per change, or `no change in who is mailed`; a line saying why not when a side cannot be
    read (the YAML diff still follows)."""
    sides = []
    for text, name in ((before_text, before_name), (after_text, after_name)):
        try:
            sides.append(read_mailing(text, name))
        except (BaseConfigError, AttributeError, TypeError, ValueError) as exc:
            # A hand-edited live file may be anything: the summary must not stop the diff.
            return [f"who is mailed: cannot tell, {name} cannot be read as an Alertmanager config: {exc}"]
    changes = mailing_changes(*sides)
    if not changes:
        return [f"{NO_CHANGE}: same lists, recipients, matchers, timing and SMTP server; the changes are elsewhere"]
    return [CHANGES, *(f"  {line}" for line in changes)]
