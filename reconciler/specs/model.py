"""The validated specs as frozen dataclasses, and the rules that span documents.

Pure. `specs_from_documents` takes documents that passed their schema and returns one
`Specs`, or the located errors of the cross-document rules: exactly one EmailServer when
e-mail is used, at most one NotificationPolicy, names unique per kind, no address twice in
a list, no zero intervals, matchers Alertmanager can parse. Defaults come from the schemas.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from typing import Any, Collection, NamedTuple

from ..errors import Location, SpecError
from .headers import too_long
from ..yamlio.loader import Document, format_path
from ..am.matchers import MatcherError, parse_matchers
from .schema import schema_default
from .templates import TemplateFile
from ..am.timewindows import (MONTHS, SPEC_KEYS, TimeInterval, WindowError, never_holds, parse_interval, short_months,
                              window_problems)

_POLICY = "notificationpolicy.json"


@dataclass(frozen=True)
class TLSSettings:
    ca_file: str | None = None
    server_name: str | None = None
    insecure_skip_verify: bool = False


@dataclass(frozen=True)
class EmailServer:
    """The one SMTP server. The password itself never enters this object."""

    name: str
    host: str
    port: int
    ssl: bool
    starttls: bool
    tls: TLSSettings
    sender: str
    username: str | None = None
    password_file: str | None = None
    password_env: str | None = None
    hello: str | None = None
    auth_identity: str | None = None
    """Alertmanager's smtp_auth_identity (the PLAIN authorization identity), when set."""
    enabled: bool = True
    location: Location = field(default=Location(""), compare=False)
    max_recipients_per_message: int | None = None
    """The provider's cap: a longer list goes as several messages."""
    starttls_written: bool = field(default=True, compare=False)
    """Whether spec.starttls was written, or defaulted to "true unless ssl"."""
    password_at: Location | None = field(default=None, compare=False)
    """Where spec.passwordFile or spec.passwordEnv was written."""

    @property
    def smarthost(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"

    @property
    def tls_mode(self) -> str:
        """How Alertmanager talks to it, in words."""
        if self.ssl:
            return "implicit TLS"
        return "STARTTLS required" if self.starttls else "plain, no TLS"

    def warnings(self) -> list[str]:
        """What is valid but often a surprise, with what to write instead."""
        if self.port == 25 and self.starttls and not self.starttls_written:
            return ["spec.starttls: port 25 with STARTTLS required, the default: Alertmanager refuses a relay "
                    "that does not offer STARTTLS (many internal port-25 relays do not); write starttls: false "
                    "for such a relay, or starttls: true to keep requiring it and silence this warning"]
        return []


class Recipient(NamedTuple):
    """One address of a list. A tuple, not a dataclass: a thousand lists hold 50,000 of them,
    and a frozen dataclass takes five times as long to build."""

    email: str
    name: str | None = None


@dataclass(frozen=True)
class Routing:
    """Grouping and repetition; every field set on a policy, any subset on a list."""

    repeat_interval: str | None = None
    group_by: tuple[str, ...] | None = None
    group_wait: str | None = None
    group_interval: str | None = None
    send_resolved: bool | None = None

    def over(self, base: Routing) -> Routing:
        """These settings where given, `base`'s elsewhere."""
        if self == _NO_OVERRIDES:
            return base  # most lists override nothing: 1,000 of them render in one pass
        return Routing(*(mine if mine is not None else theirs
                         for mine, theirs in zip(self._values(), base._values())))

    def _values(self) -> tuple:
        return (self.repeat_interval, self.group_by, self.group_wait, self.group_interval, self.send_resolved)


_NO_OVERRIDES = Routing()


@dataclass(frozen=True)
class MailFormat:
    """What a mail looks like: the Subject (an Alertmanager template string) and the template
    files of its HTML and text bodies (paths relative to the spec folder). None: not set here
    (a list's falls back to the policy's, the policy's to Alertmanager's default)."""

    subject: str | None = None
    html: str | None = None
    text: str | None = None
    subject_at: Location | None = field(default=None, compare=False)
    html_at: Location | None = field(default=None, compare=False)
    text_at: Location | None = field(default=None, compare=False)

    def over(self, base: MailFormat) -> MailFormat:
        """These settings where given, `base`'s elsewhere, each with where it was written."""
        if self == _NO_MAIL_FORMAT:
            return base
        pick = [(mine, at) if mine is not None else (theirs, theirs_at) for mine, at, theirs, theirs_at in (
            (self.subject, self.subject_at, base.subject, base.subject_at),
            (self.html, self.html_at, base.html, base.html_at),
            (self.text, self.text_at, base.text, base.text_at))]
        return MailFormat(pick[0][0], pick[1][0], pick[2][0], pick[0][1], pick[1][1], pick[2][1])


_NO_MAIL_FORMAT = MailFormat()


CONNECTIONS_AT_ONCE = 10
"""More messages than this for one notification of a list is a warning (RecipientList.warnings)."""


@dataclass(frozen=True)
class RecipientList:
    name: str
    recipients: tuple[Recipient, ...]
    matchers: tuple[str, ...] = ()
    overrides: Routing = Routing()
    location: Location = field(default=Location(""), compare=False)
    delivery: str = "single"
    """single: one message to the whole list; perRecipient: one message each, own To:."""
    mail: MailFormat = MailFormat()
    """Subject and body templates set on this list (see Specs.mail_for)."""
    active_during: tuple[str, ...] = ()
    """Names of TimeWindows: mailed only while one of them holds."""
    muted_during: tuple[str, ...] = ()
    """Names of TimeWindows: not mailed while one of them holds."""
    window_references: tuple[tuple[str, Location], ...] = field(default=(), compare=False)
    """(field path, where written) of each name in activeDuring and mutedDuring, for errors."""
    keep_from_base: bool = False
    """Its alerts reach none of the base's receivers (spec.keepFromBase)."""
    catch_all: bool = False
    """It is the root route's receiver: it gets what no other list or base route takes."""

    def messages_at_once(self, cap: int | None) -> int:
        """How many messages, each its own SMTP connection, Alertmanager sends this list at
        once for one notification, with the EmailServer's recipient cap `cap`."""
        if self.delivery == "perRecipient":
            return len(self.recipients)
        return -(-len(self.recipients) // cap) if cap else 1

    def warnings(self, cap: int | None) -> list[str]:
        """What is valid but a surprise: more messages at once than many servers take; a
        keepFromBase that keeps every alert, or keeps them also while the list is not mailed."""
        found = []
        if self.keep_from_base and not self.matchers:
            found.append("spec.keepFromBase: without matchers, this list keeps every alert from the base's receivers "
                         "(they get nothing): add matchers, or remove keepFromBase")
        if self.keep_from_base and (self.active_during or self.muted_during):
            found.append("spec.keepFromBase: the base's receivers miss this list's alerts at all times, also while "
                         "activeDuring/mutedDuring keep the list itself from being mailed")
        count = self.messages_at_once(cap)
        if count <= CONNECTIONS_AT_ONCE:
            return found
        field, how = ("spec.delivery", "delivery: perRecipient") if self.delivery == "perRecipient" else \
            ("spec.recipients", f"the EmailServer's maxRecipientsPerMessage: {cap}")
        return found + [f"{field}: with {how}, each notification is {count} messages, and Alertmanager 0.25 opens an SMTP "
                f"connection for each, all at once: a server that takes fewer connections from one client at a time "
                "(many take 5 to 10) refuses the rest, and Alertmanager's retries hold them back (seconds to minutes, "
                f"bench/README.md); split the list, or send it as one message (delivery: single)"]

    def __reduce__(self) -> tuple:
        """Pickled (by the parse cache) with its recipients as plain tuples, made Recipients
        again in C: pickle asks each NamedTuple for its arguments in Python, and a large
        tree holds tens of thousands (this makes writing its cache much faster)."""
        state = dict(self.__dict__)
        state["recipients"] = tuple(map(tuple, self.recipients))
        return _unpickled_list, (state,)


def _unpickled_list(state: dict[str, Any]) -> RecipientList:
    state["recipients"] = tuple(map(partial(tuple.__new__, Recipient), state["recipients"]))
    recipient_list = object.__new__(RecipientList)
    recipient_list.__dict__.update(state)  # as pickle itself restores a dataclass
    return recipient_list


@dataclass(frozen=True)
class TimeWindow:
    """A named window, rendered as one Alertmanager time interval."""

    name: str
    interval: TimeInterval
    spec: tuple[tuple[str, Any], ...]
    """The spec's fields as written (name, value), in Alertmanager's key order, for the render."""
    location: Location = field(default=Location(""), compare=False)

    def warnings(self, year: int) -> list[str]:
        """What is valid but a surprise: a day counted from the month's end, in a zone where
        Alertmanager 0.25 counts some months (of `year`) a day short."""
        ranges = self.interval.days_of_month or ()
        if not self.interval.location or not any(r.begin < 0 or r.end < 0 for r in ranges):
            return []
        months = self.interval.months
        short = [month for month in short_months(self.interval.location, year)
                 if months is None or any(r.begin <= month <= r.end for r in months)]
        if not short:
            return []
        names = ", ".join(MONTHS[month - 1].capitalize() for month in short)
        return [f"spec.daysOfMonth: Alertmanager 0.25 counts {names} {year} in {self.interval.location} one day short "
                "(the hour summer time takes), so a day counted from the month's end comes a day early then (-1 is "
                "the day before the last); fixed in later Alertmanager releases"]


@dataclass(frozen=True)
class NotificationPolicy:
    name: str
    routing: Routing
    location: Location = field(default=Location(""), compare=False)
    mail: MailFormat = MailFormat()


def default_repeat_seconds() -> float:
    """The NotificationPolicy's default repeatInterval (its schema's default, 12h) in seconds:
    how often the daemon's own alerts repeat before any valid spec was seen."""
    return duration_seconds(schema_default(_POLICY, "spec", "repeatInterval"))


def default_routing() -> Routing:
    return Routing(
        repeat_interval=schema_default(_POLICY, "spec", "repeatInterval"),
        group_by=tuple(schema_default(_POLICY, "spec", "groupBy")),
        group_wait=schema_default(_POLICY, "spec", "groupWait"),
        group_interval=schema_default(_POLICY, "spec", "groupInterval"),
        send_resolved=schema_default(_POLICY, "spec", "sendResolved"),
    )


@dataclass(frozen=True)
class Specs:
    """Everything one revision of the config repo asks for."""

    server: EmailServer | None
    lists: tuple[RecipientList, ...]
    policy: NotificationPolicy | None
    windows: tuple[TimeWindow, ...] = ()
    """Every TimeWindow, by name."""

    @property
    def email_enabled(self) -> bool:
        return self.server is not None and self.server.enabled

    @cached_property
    def routing(self) -> Routing:
        """The policy's settings, its defaults where the policy (or the policy file) is silent."""
        defaults = default_routing()
        return self.policy.routing.over(defaults) if self.policy else defaults

    def routing_for(self, recipient_list: RecipientList) -> Routing:
        return recipient_list.overrides.over(self.routing)

    template_files: tuple[TemplateFile, ...] = ()
    """The template files (*.tmpl) the lists and the policy name, checked and named as carried."""

    def mail_for(self, recipient_list: RecipientList) -> MailFormat:
        """The list's subject and templates, the policy's where the list sets none."""
        return recipient_list.mail.over(self.policy.mail if self.policy else _NO_MAIL_FORMAT)

    @cached_property
    def templates(self) -> dict[str, TemplateFile]:
        """Path (relative to the spec folder) -> the template file."""
        return {item.path: item for item in self.template_files}


@dataclass(frozen=True)
class ModelObject:
    """One schema-valid document as its model object, with where its name was written."""

    kind: str
    name: str
    where: Location
    value: EmailServer | RecipientList | NotificationPolicy | TimeWindow


def model_object(doc: Document) -> ModelObject:
    """The model object of one schema-valid document (cacheable per file: it depends on the
    document alone)."""
    kind, name = doc.content["kind"], doc.content["metadata"]["name"]
    spec = doc.content.get("spec") or {}
    if kind == "EmailServer":
        value = _email_server(name, spec, doc.start)
        written = next((key for key in ("passwordFile", "passwordEnv") if key in spec), None)
        if written:
            value = replace(value, password_at=doc.locate(("spec", written)))
    elif kind == "RecipientList":
        value = _recipient_list(name, spec, doc.start)
        value = replace(value, mail=_mail_format(doc, spec))
        references = tuple((format_path(("spec", key, index)), doc.locate(("spec", key, index)))
                           for key in ("activeDuring", "mutedDuring") for index in range(len(spec.get(key, ()))))
        value = replace(value, window_references=references) if references else value
    elif kind == "TimeWindow":
        value = _time_window(name, spec, doc.start)
    else:
        value = NotificationPolicy(name, _routing(spec), doc.start, _mail_format(doc, spec))
    return ModelObject(kind, name, doc.locate(("metadata", "name")), value)


def specs_from_documents(documents: list[Document]) -> tuple[Specs | None, list[SpecError]]:
    """Build `Specs` from schema-valid documents and check the rules that span them."""
    return specs_from_objects([model_object(doc) for doc in documents])


UNKNOWN_KIND = "?"
"""In `failed_kinds`: a file that could not be read, or a document of no known kind."""


def specs_from_objects(objects: list[ModelObject], failed_kinds: Collection[str] = frozenset()) -> tuple[Specs | None,
                                                                                              list[SpecError]]:
    """`Specs` from every document's model object, after the rules that span documents.
    `failed_kinds`: kinds of documents that failed their schema (and are reported already)."""
    errors: list[SpecError] = []
    servers: list[EmailServer] = []
    lists: list[RecipientList] = []
    policies: list[NotificationPolicy] = []
    windows: list[TimeWindow] = []
    seen_names: dict[tuple[str, str], Location] = {}

    for item in objects:
        kind, name, where = item.kind, item.name, item.where
        if (kind, name) in seen_names:
            first = seen_names[(kind, name)]
            article = "an" if kind[0] in "AEIOU" else "a"
            errors.append(SpecError(where, "metadata.name", f"{article} {kind} named {name!r} is already defined at "
                                                            f"{first}: names must be unique per kind"))
            continue
        seen_names[(kind, name)] = where
        {"EmailServer": servers, "RecipientList": lists, "NotificationPolicy": policies,
         "TimeWindow": windows}[kind].append(item.value)

    for extra in servers[1:]:
        errors.append(SpecError(extra.location, "kind", f"a second EmailServer ({extra.name!r}; the first is "
                                                        f"{servers[0].name!r} at {servers[0].location}): keep exactly one"))
    for extra in policies[1:]:
        errors.append(SpecError(extra.location, "kind", f"a second NotificationPolicy ({extra.name!r}; the first is "
                                                        f"{policies[0].name!r} at {policies[0].location}): keep at most one"))
    catch_alls = [item for item in lists if item.catch_all]
    for extra in catch_alls[1:]:
        errors.append(SpecError(extra.location, "spec.catchAll", f"a second catch-all list ({extra.name!r}; the first "
                                                                 f"is {catch_alls[0].name!r} at {catch_alls[0].location}):"
                                                                 " the root route has one receiver, keep one"))
    # A document that could not be read may be the missing one: then say nothing of it.
    unread = failed_kinds - {"NotificationPolicy"}
    if lists and not servers and not unread & {"EmailServer", UNKNOWN_KIND}:
        first = lists[0]
        errors.append(SpecError(first.location, "kind", f"RecipientList {first.name!r} has no EmailServer to send "
                                                        "through: add one EmailServer (with enabled: false to keep "
                                                        "e-mail off)"))
    if not lists and servers and servers[0].enabled and not unread & {"RecipientList", UNKNOWN_KIND}:
        # Argo CD's allowEmpty, for e-mail: deleting every list must not silence it unnoticed.
        errors.append(SpecError(servers[0].location, "kind", f"EmailServer {servers[0].name!r} has e-mail enabled "
                                                             "but there is no RecipientList, so nobody would get a "
                                                             "mail (the daemon's own alerts included): add a "
                                                             "RecipientList, or set spec.enabled: false to turn "
                                                             "e-mail off"))
    if not lists and not servers and not failed_kinds:
        where = policies[0].location if policies else Location(".")
        errors.append(SpecError(where, "", "no EmailServer and no RecipientList in the spec folder: an empty "
                                           "config would remove every e-mail notification; commit an EmailServer "
                                           "and at least one RecipientList (enabled: false turns e-mail off)"))
    if not failed_kinds & {"TimeWindow", UNKNOWN_KIND}:  # else the window may be the one that failed
        errors += _unknown_windows(lists, {window.name for window in windows})
    if errors:
        return None, errors
    ordered = tuple(sorted(lists, key=lambda item: item.name))
    return Specs(servers[0] if servers else None, ordered, policies[0] if policies else None,
                 tuple(sorted(windows, key=lambda item: item.name))), []


def _unknown_windows(lists: list[RecipientList], known: set[str]) -> list[SpecError]:
    errors = []
    for recipient_list in lists:
        names = (*recipient_list.active_during, *recipient_list.muted_during)
        for name, (path, where) in zip(names, recipient_list.window_references):
            if name not in known:
                hint = f"define it: kind: TimeWindow, metadata.name: {name}"
                if known:
                    hint = (f"define it (kind: TimeWindow, metadata.name: {name}) or use one of "
                            f"{', '.join(sorted(known))}")
                errors.append(SpecError(where, path, f"{name!r} is not a TimeWindow of this folder: {hint}"))
    return errors


def check_document(doc: Document) -> list[SpecError]:
    """Rules within one document that JSON Schema cannot say. Safe on schema-invalid
    documents too, so a run reports these alongside the schema's errors."""
    content = doc.content if isinstance(doc.content, dict) else {}
    spec = content.get("spec")
    if not isinstance(spec, dict):
        return []
    errors = _check_intervals(doc, spec)
    if content.get("kind") == "EmailServer" and isinstance(spec.get("host"), str) and spec["host"]:
        problem = host_problem(spec["host"])
        if problem:
            errors.append(SpecError(doc.locate(("spec", "host")), "spec.host", problem))
    if content.get("kind") == "RecipientList":
        errors += _check_recipients(doc, spec) + _check_matchers(doc, spec) + _check_windows_named(doc, spec)
    if content.get("kind") in ("RecipientList", "NotificationPolicy"):
        errors += _check_subject(doc, spec)
    if content.get("kind") == "TimeWindow":
        problems = [SpecError(doc.locate(("spec", *problem.path)), format_path(("spec", *problem.path)),
                              problem.message) for problem in window_problems(spec, SPEC_KEYS)]
        errors += problems or _check_window_holds(doc, spec)
    return errors


def _check_subject(doc: Document, spec: dict[str, Any]) -> list[SpecError]:
    """A subject without template actions is the Subject: header as Alertmanager writes it:
    it must fit a line of mail. (One with actions is measured rendered, by template_engine.)"""
    subject = spec.get("subject")
    if not isinstance(subject, str) or "{{" in subject:
        return []
    problem = too_long("Subject", subject)
    return [SpecError(doc.locate(("spec", "subject")), "spec.subject", problem)] if problem else []


def _check_window_holds(doc: Document, spec: dict[str, Any]) -> list[SpecError]:
    """A window Alertmanager would never find holding (day 31 of February) is an error where
    it went wrong: a list active only then would never be mailed, one muted then never muted."""
    try:
        interval = parse_interval(spec, SPEC_KEYS)
    except (WindowError, TypeError, AttributeError, ValueError):
        return []  # a value of the wrong type: the schema says so
    never = never_holds(interval)
    if never is None:
        return []
    path = ("spec", SPEC_KEYS[never[0]])
    return [SpecError(doc.locate(path), format_path(path), never[1])]


def _check_windows_named(doc: Document, spec: dict[str, Any]) -> list[SpecError]:
    """A window both in activeDuring and in mutedDuring would mute the list whenever it may be
    mailed (Alertmanager checks the active windows, then the mute ones): never mailed."""
    active, muted = spec.get("activeDuring"), spec.get("mutedDuring")
    if not isinstance(active, list) or not isinstance(muted, list):
        return []
    errors = []
    for index, name in enumerate(muted):
        if isinstance(name, str) and name in active:
            path = ("spec", "mutedDuring", index)
            errors.append(SpecError(doc.locate(path), format_path(path),
                                    f"{name!r} is in activeDuring too: the list would be mailed only while it holds "
                                    "and muted whenever it holds, so never mailed; remove it from one of them"))
    return errors


_LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,62}")
_NAME_AND_PORT = re.compile(r"(?P<name>[^:\[\]]+):(?P<port>[0-9]+)")
_BRACKETED_AND_PORT = re.compile(r"\[(?P<name>[^\]]*)\]:(?P<port>[0-9]+)")


def host_problem(host: str) -> str | None:
    """Why `host` would not make a smarthost Alertmanager can connect to, or None.

    Alertmanager splits `smtp_smarthost` with Go's net.SplitHostPort and dials the host: a
    port written into `host` would end up inside the brackets the render adds around
    anything with a colon (and be lost), unbalanced brackets do not split, and a name that
    looks like an IPv4 address but is not one goes to DNS and fails at send time."""
    shown = repr(host)
    with_port = _NAME_AND_PORT.fullmatch(host) or _BRACKETED_AND_PORT.fullmatch(host)
    if with_port and (with_port.re is _NAME_AND_PORT or _ip(with_port["name"], 6)):
        name = with_port["name"]
        name = f"'[{name}]'" if with_port.re is _BRACKETED_AND_PORT else name
        return (f"{shown} holds a port: write the host alone and the port in port, as host: {name} and port: "
                f"{with_port['port']}")
    if "://" in host or "/" in host:
        return f"{shown} is not a host name or IP address: write it without scheme or path, such as smtp.example.com"
    if host.startswith("[") or host.endswith("]"):
        inner = host[1:-1] if host.startswith("[") and host.endswith("]") else None
        if inner is None or not _ip(inner, 6):
            return (f"{shown} is not an IPv6 address in brackets: write [2001:db8::1] or 2001:db8::1 (the brackets "
                    "are optional; the port goes in port)")
        return None
    if ":" in host:
        return None if _ip(host, 6) else (f"{shown} is not an IPv6 address (and a host name has no ':'): write an "
                                          "address such as 2001:db8::1, or a name; the port goes in port")
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if labels[-1].isdigit() and labels[-1].isascii():
        return None if _ip(host, 4) else (f"{shown} is not an IPv4 address (four numbers 0 to 255, no leading "
                                          "zeros), and a host name does not end in a number: correct it")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return (f"{shown} is not a host name or IP address: use letters, digits, '-' and '_' in parts of 1 to 63 "
                "separated by dots (not starting with '-'), such as smtp.example.com")
    return None


def _ip(text: str, version: int) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return address.version == version


def _email_server(name: str, spec: dict[str, Any], where: Location) -> EmailServer:
    ssl = spec.get("ssl", schema_default("emailserver.json", "spec", "ssl"))
    tls = spec.get("tls", {})
    return EmailServer(
        name=name,
        host=spec["host"],
        port=spec.get("port", schema_default("emailserver.json", "spec", "port")),
        ssl=ssl,
        # starttls defaults to "true unless ssl", a rule a plain JSON Schema default cannot say.
        starttls=spec.get("starttls", not ssl),
        tls=TLSSettings(tls.get("caFile"), tls.get("serverName"), tls.get("insecureSkipVerify", False)),
        sender=spec["from"],
        username=spec.get("username"),
        password_file=spec.get("passwordFile"),
        password_env=spec.get("passwordEnv"),
        hello=spec.get("hello"),
        auth_identity=spec.get("authIdentity"),
        enabled=spec.get("enabled", schema_default("emailserver.json", "spec", "enabled")),
        location=where,
        max_recipients_per_message=spec.get("maxRecipientsPerMessage"),
        starttls_written="starttls" in spec,
    )


def _recipient_list(name: str, spec: dict[str, Any], where: Location) -> RecipientList:
    recipients = tuple(Recipient(item) if isinstance(item, str) else Recipient(item["email"], item.get("name"))
                       for item in spec["recipients"])
    return RecipientList(name, recipients, tuple(spec.get("matchers", ())), _routing(spec), where,
                         spec.get("delivery", "single"), active_during=tuple(spec.get("activeDuring", ())),
                         muted_during=tuple(spec.get("mutedDuring", ())),
                         keep_from_base=bool(spec.get("keepFromBase", False)),
                         catch_all=bool(spec.get("catchAll", False)))


_WINDOW_FIELDS = ("times", "weekdays", "days_of_month", "months", "years", "location")


def _time_window(name: str, spec: dict[str, Any], where: Location) -> TimeWindow:
    written = tuple((key, spec[SPEC_KEYS[key]]) for key in _WINDOW_FIELDS if SPEC_KEYS[key] in spec)
    try:
        interval = parse_interval(spec, SPEC_KEYS)
    except WindowError:  # check_document reports it, located; these specs are never built
        interval = TimeInterval()
    return TimeWindow(name, interval, written, where)


def template_path(spec_file: str, written: str) -> str:
    """A templates.html/text value as a path relative to the spec folder: relative to the
    folder of the spec file that names it, as Alertmanager resolves `templates:` relative
    to its config file. May start with '../' when it leaves the folder (an error)."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(spec_file), written))


def _mail_format(doc: Document, spec: dict[str, Any]) -> MailFormat:
    templates = spec.get("templates") or {}
    html, text = templates.get("html"), templates.get("text")
    return MailFormat(
        spec.get("subject"),
        template_path(doc.file, html) if html else None,
        template_path(doc.file, text) if text else None,
        doc.locate(("spec", "subject")) if "subject" in spec else None,
        doc.locate(("spec", "templates", "html")) if html else None,
        doc.locate(("spec", "templates", "text")) if text else None)


def _routing(spec: dict[str, Any]) -> Routing:
    group_by = spec.get("groupBy")
    return Routing(spec.get("repeatInterval"), tuple(group_by) if group_by is not None else None,
                   spec.get("groupWait"), spec.get("groupInterval"), spec.get("sendResolved"))


def _check_recipients(doc: Document, spec: dict[str, Any]) -> list[SpecError]:
    errors = []
    seen: dict[str, int] = {}
    recipients = spec.get("recipients")
    for index, item in enumerate(recipients if isinstance(recipients, list) else ()):
        address = item.get("email") if isinstance(item, dict) else item
        if not isinstance(address, str):
            continue
        key = address.lower()
        path = ("spec", "recipients", index)
        if key in seen:
            errors.append(SpecError(doc.locate(path), format_path(path),
                                    f"{address!r} is already listed as recipients[{seen[key]}] "
                                    "(addresses are compared ignoring case): remove one"))
        else:
            seen[key] = index
    return errors


_UNIT_NANOSECONDS = {"y": 365 * 86400 * 10**9, "w": 7 * 86400 * 10**9, "d": 86400 * 10**9, "h": 3600 * 10**9,
                     "m": 60 * 10**9, "s": 10**9, "ms": 10**6}
_DURATION_PART = re.compile(r"([0-9]+)(ms|y|w|d|h|m|s)")
_DURATION = re.compile(r"(?:[0-9]+(?:ms|y|w|d|h|m|s))+")


def duration_nanoseconds(text: str) -> int:
    """'1h30m' -> 5_400_000_000_000, exactly, for a duration in Prometheus' syntax."""
    return sum(int(n) * _UNIT_NANOSECONDS[unit] for n, unit in _DURATION_PART.findall(text))


def duration_seconds(text: str) -> float:
    """'1h30m' -> 5400.0, for a duration the schema already accepted."""
    return duration_nanoseconds(text) / 10**9


# Alertmanager refuses a zero group_interval or repeat_interval ("cannot be zero").
_NONZERO = ("repeatInterval", "groupInterval")
_ZERO = re.compile(r"^(0|(0+(y|w|d|h|m|s|ms))+)$")


# Alertmanager holds a duration in Go's time.Duration: int64 nanoseconds, about 292 years.
_LONGEST_NANOSECONDS = 2**63 - 1


def _check_intervals(doc: Document, spec: dict[str, Any]) -> list[SpecError]:
    errors = []
    for key in ("groupWait", *_NONZERO):
        value = spec.get(key)
        if not isinstance(value, str):
            continue
        path = ("spec", key)
        if key in _NONZERO and _ZERO.match(value):
            errors.append(SpecError(doc.locate(path), format_path(path),
                                    f"{value!r} is zero, which Alertmanager refuses: use a positive duration "
                                    "such as 5m or 12h"))
        elif _DURATION.fullmatch(value) and duration_nanoseconds(value) > _LONGEST_NANOSECONDS:
            errors.append(SpecError(doc.locate(path), format_path(path),
                                    f"{value!r} is longer than Alertmanager can hold (292y, or 2562047h): use a "
                                    "shorter duration"))
    return errors


def _check_matchers(doc: Document, spec: dict[str, Any]) -> list[SpecError]:
    """Each entry must be what Alertmanager's own matcher parser accepts, with regexes as Go
    compiles them (see am/matchers.py), so a config that validates here loads there."""
    errors = []
    matchers = spec.get("matchers")
    for index, entry in enumerate(matchers if isinstance(matchers, list) else ()):
        if not isinstance(entry, str):
            continue
        path = ("spec", "matchers", index)
        problem = matcher_problem(entry)
        if problem:
            errors.append(SpecError(doc.locate(path), format_path(path), problem))
    return errors


_HOW_TO_WRITE = ('write label, one of = != =~ !~, and a double-quoted value, such as severity="critical" or '
                 'team=~"db|web"')
_PERL_ONLY = re.compile(r"\(\?[=!<]|\(\?P=|\\[1-9]")


def matcher_problem(entry: str) -> str | None:
    """Why Alertmanager would refuse one `matchers:` entry, in a user's words, or None."""
    try:
        parsed = parse_matchers(entry)
    except MatcherError as exc:
        problem = str(exc)
        if "regular expression" in problem:
            if _PERL_ONLY.search(problem):
                problem += " (Go's regexp has no look-around or back-references)"
            return f"{problem}: fix the pattern after =~ or !~"
        if not exc.several and problem.endswith(" is not a matcher"):
            return f"{entry!r} is not a matcher: {_HOW_TO_WRITE}"
        if exc.several:
            problem += " (a comma outside double quotes starts another matcher)"
        return f"{entry!r}: {problem}: {_HOW_TO_WRITE}"
    if not parsed:
        return f"{entry!r} holds no matcher: {_HOW_TO_WRITE}, or remove the entry"
    return None
