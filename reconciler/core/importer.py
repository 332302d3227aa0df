"""An existing alertmanager.yml (or the Kubernetes Secret holding it) -> a spec folder and a base.

Pure: text in, ``{path: text}`` and notes out; the CLI writes the files. What it guarantees:

- the EmailServer comes from ``global.smtp_*``; a plaintext password (``smtp_auth_password``,
  an e-mail receiver's ``auth_password``) is never written into any output file: the specs and
  the base name a password file instead, and `Imported.passwords` says which file should hold
  which password, for the caller to write or to tell the user about;
- an e-mail receiver becomes RecipientLists (one per route that leads to it) only when the
  render (which puts every list's route first under the root, with ``continue: true``, and the
  base's routes after them) sends those lists exactly the alerts the receiver mailed before,
  route by route, with the same timing, and no other receiver (nor the receiver's own other
  configs) gains or loses an alert by the move. Everything else stays in the base untouched,
  and a note says which and why: a meaning is kept or the receiver is refused, never changed
  with a warning;
- ``base.yml`` keeps the rest of the config (other receivers and routes, inhibit rules,
  templates, time intervals, comments) as written, without the ``smtp_*`` keys the render owns.

How a route is judged (Alertmanager walks a route's children in order; a child that matches
without ``continue: true`` ends the walk at its level; a route none of whose children match
sends to its own receiver). A receiver becomes one RecipientList per route that leads to it,
each with the same recipients and that route's matchers and timing, when every one of those
routes can be said by the rules below (Alertmanager sends one notification per route and
group: separate lists on separate routes mail as the routes did, an alert two of them take
twice); otherwise the receiver stays whole. The root's receiver is a catch-all list. A route
R can move to the front when
1. R has no children and no time intervals (nor have the routes above it);
2. the alerts that reach R can be written as matchers: those of R and the routes above it, plus
   the negation of each earlier route without ``continue`` that has a single matcher (a route
   that provably takes none of R's alerts is ignored);
3. taking R away changes nobody else's alerts: either R continues, or no later route beside it
   can match R's alerts; and the route above R, left without R, would not send them to its own
   receiver instead (it has none that sends anything: a route that matches keeps its alerts
   from the receiver above it, with or without continue);
4. or, where 3 fails, R's alerts reached no other route before (no earlier sibling that
   continues may match them, nor a later one after a route that continues, at any level):
   then the list gets ``keepFromBase: true``, whose render keeps them from the base's routes;
5. a route that groups by nothing (no group_by on it nor above it, the root's included) gives a
   list without groupBy, and the NotificationPolicy ``groupBy: []``, the root's one group;
6. where R cannot leave the base (it has child routes, or 3 and 4 fail), R stays where it is and
   its receiver stays in the base under its name with no e-mail config, sending nothing: the
   tree walks as before, and the list (in front, with ``continue: true``) takes exactly the
   alerts R's receiver got: 2's matchers plus the negation of each child route that may match
   them (a child that matches, with or without continue, keeps them from R's receiver); a
   child with several matchers cannot be negated, and the receiver stays;
7. a child route to the same receiver as the route above it, with the same grouping and timing,
   no children and no time intervals, whose matchers read only labels the grouping has (so
   no group is split or joined), and beside which no sibling that is tried with it may match
   its alerts, means what its parent means for them: it folds into the parent (and leaves the
   base with the receiver), so that receiver has one route;
8. a receiver with other configs than e-mail (pagerduty_configs, slack_configs, ...) keeps all
   its routes, as in 6, and stays in the base under its name with those configs and without
   its e-mail configs: its lists (one per route, the root's too, there with the negation of
   each child route that may match) take exactly what it mailed;
9. an e-mail config whose ``html`` or ``text`` is only a call of a template
   (``{{ template "email.to.html" . }}``) that a file given to the import defines alone (one
   define, nothing outside it; a file the config's ``templates:`` reads, matched by base name)
   gives its list a copy of that file as its body (``templates.html``/``text``): the render
   calls that define by the same name, the copy loaded after the config's own files, so the
   mail is the same. Any other html or text keeps the receiver in the base.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from email.utils import getaddresses
from typing import Any, Mapping

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ..am.credentials import is_credential
from ..am.matchers import Matcher, MatcherError
from ..am.reading import BASE_DEPTH, ReadConfig, dump, go_bool, read_config, read_roundtrip, roundtrip_yaml
from ..am.receivers import Receiver, receivers as read_receivers
from ..am.routes import Route, route_tree
from ..errors import AlertmanagerConfigError, Location, SpecError, SpecErrors
from ..values import Imported
from ..yamlio.loader import KeyPath, format_path, load_file
from ..specs.model import check_document
from ..specs.pipeline import parse_specs
from .names import DISCARD_RECEIVER, PREFIX
from ..specs.schema import validate_document
from ..specs.templates import ALERTMANAGER_DEFINES, ScanError, scan

DEFAULT_PASSWORD_FILE = "/etc/alertmanager/smtp-password"
"""Where the imported config reads the SMTP password from, unless told otherwise."""
SECRET_PASSWORD_FILE = "/etc/alertmanager/secrets/alertmanager-smtp/password"
"""The same inside an Alertmanager pod: prometheus-operator mounts each Secret listed in the
Alertmanager resource's spec.secrets at /etc/alertmanager/secrets/<name>/."""
SPEC_FOLDER = "specs"
BASE_FILE = "base.yml"

_TIMING = ("group_wait", "group_interval", "repeat_interval")
_TIME_INTERVALS = ("mute_time_intervals", "active_time_intervals")
# An email_config key a RecipientList can say (`to`, `send_resolved`), or one the EmailServer
# says for every list (each must equal the server's setting).
_SERVER_KEYS = {"from": "smtp_from", "smarthost": "smtp_smarthost", "hello": "smtp_hello",
                "auth_username": "smtp_auth_username", "auth_password": "smtp_auth_password",
                "auth_password_file": "smtp_auth_password_file", "auth_identity": "smtp_auth_identity",
                "auth_secret": "smtp_auth_secret", "require_tls": "smtp_require_tls"}
_SERVER_FIELDS = {"host": "smtp_smarthost", "port": "smtp_smarthost", "ssl": "smtp_smarthost",
                  "starttls": "smtp_require_tls", "from": "smtp_from", "username": "smtp_auth_username",
                  "passwordFile": "smtp_auth_password_file", "hello": "smtp_hello",
                  "authIdentity": "smtp_auth_identity"}
"""EmailServer field -> the global key it comes from, to locate a problem in the input."""
_GLOBAL_DEFAULTS = {"smtp_require_tls": "true", "smtp_hello": "localhost"}
"""What Alertmanager 0.25 assumes where the global section is silent."""
_TLS_KEYS = {"ca_file": "caFile", "server_name": "serverName", "insecure_skip_verify": "insecureSkipVerify"}
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TEMPLATE_CALL = re.compile(r'\{\{-?\s*template\s+"([^"\\]+)"\s+\.\s*-?\}\}')
"""An html or text that only calls a named template with the whole data (rule 9)."""


def disjoint(these: list[Matcher] | tuple[Matcher, ...], those: list[Matcher] | tuple[Matcher, ...]) -> bool:
    """True when no alert can match all of `these` and all of `those` (judged pairwise on one
    label where one side is an equality: conservative, False when in doubt)."""
    for mine in these:
        for theirs in those:
            if mine.name != theirs.name:
                continue
            for equal, other in ((mine, theirs), (theirs, mine)):
                if equal.op == "=" and _refuses(other, equal.value):
                    return True
    return False


def _refuses(matcher: Matcher, value: str) -> bool:
    """Whether `matcher` provably refuses a label with `value`."""
    try:
        return not matcher.matches(value)
    except MatcherError:  # a regex RE2 cannot judge: not proved
        return False


# -- the SMTP server ---------------------------------------------------------------------------

def parse_smarthost(text: str) -> tuple[str, int]:
    """'smtp.example.com:587' -> ('smtp.example.com', 587); '[::1]:25' -> ('::1', 25).
    Raises ValueError with what is wrong (Alertmanager needs host and port)."""
    text = str(text).strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise ValueError(f"{text!r} is not host:port: an IPv6 address is written [::1]:25")
        port = rest[1:]
    else:
        host, colon, port = text.rpartition(":")
        if not colon or ":" in host:
            raise ValueError(f"{text!r} has no port: write host:port, such as smtp.example.com:587")
    if not host:
        raise ValueError(f"{text!r} has no host: write host:port, such as smtp.example.com:587")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: {port!r} is not a port number")
    return host, int(port)


def _require_tls(settings: dict[str, Any]) -> bool:
    """smtp_require_tls as Alertmanager reads it: true unless written false (or null, Go's zero)."""
    return bool(go_bool(settings["smtp_require_tls"])) if "smtp_require_tls" in settings else True


def server_spec(settings: dict[str, Any], tls: dict[str, Any], password_file: str | None) -> dict[str, Any]:
    """The EmailServer spec for Alertmanager's effective smtp settings (keys as in `global`)."""
    host, port = parse_smarthost(settings["smtp_smarthost"])
    spec: dict[str, Any] = {"host": host, "port": port}
    if port == 465:
        spec["ssl"] = True  # Alertmanager speaks implicit TLS on 465, whatever require_tls says
    else:
        spec["starttls"] = _require_tls(settings)
    if tls:
        spec["tls"] = {_TLS_KEYS[key]: bool(go_bool(value)) if key == "insecure_skip_verify" else value
                       for key, value in tls.items()}
    if settings.get("smtp_auth_username"):
        spec["username"] = str(settings["smtp_auth_username"])
        if password_file:
            spec["passwordFile"] = password_file
        if settings.get("smtp_auth_identity"):
            spec["authIdentity"] = str(settings["smtp_auth_identity"])
    spec["from"] = str(settings["smtp_from"])
    if settings.get("smtp_hello"):
        spec["hello"] = str(settings["smtp_hello"])
    return spec


# -- the import ---------------------------------------------------------------------------------

@dataclass(eq=False)  # two routes written alike are still two routes: compared by identity
class _Route:
    node: CommentedMap
    path: str
    parent: _Route | None
    own: list[Matcher]
    cont: bool
    receiver: str
    group_by: list[str]
    timing: dict[str, str]
    problem: str | None = None
    children: list[_Route] = field(default_factory=list)
    folded: list[_Route] = field(default_factory=list)
    """Children to the same receiver that fold into this route (rule 7): not in `children`."""

    def chain(self) -> list[_Route]:
        """This route and those above it, root excluded, from the top down."""
        routes, node = [], self
        while node.parent is not None:
            routes.append(node)
            node = node.parent
        return routes[::-1]

    def siblings(self) -> list[_Route]:
        return self.parent.children if self.parent else [self]


def import_config(text: str, name: str = "-", *, password_file: str = DEFAULT_PASSWORD_FILE,
                  templates: Mapping[str, bytes] | None = None) -> Imported:
    """The spec folder and base for the Alertmanager config `text` (read from `name`).
    Raises SpecErrors, located in `name`, for what cannot be imported at all.

    `templates`: the files the config's `templates:` reads, as the caller found them (base
    name -> content); an e-mail config whose html or text only calls a template one of them
    defines can then become a list with that file as its body (rule 9).

    The config is read twice by reconciler.am.reading, with the depth limit of a base: as
    Alertmanager reads it (what it means: routes, matchers, addresses, settings), and as a
    round-trip tree (what the base keeps: comments, key order, scalars as written)."""
    try:
        read = read_config(text, name, limit=BASE_DEPTH, what="a config to import")
        config = read_roundtrip(text, name, limit=BASE_DEPTH, what="a config to import")
    except AlertmanagerConfigError as exc:
        raise SpecErrors([exc.as_spec_error()]) from None
    if not isinstance(config, CommentedMap) or not isinstance(read.data, dict) \
            or not isinstance(read.data.get("route"), dict):
        raise SpecErrors([SpecError(Location(name, 1, 1), "", "is not an Alertmanager config (a mapping with route "
                                                              "and receivers) nor a Secret holding one")])
    return _Importer(read, config, password_file, templates or {}).run()


class _Importer:
    def __init__(self, read: ReadConfig, config: CommentedMap, password_file: str,
                 templates: Mapping[str, bytes]) -> None:
        self.read, self.config, self.name, self.password_file = read, config, read.name, password_file
        """`read`: the config's meaning, as Alertmanager reads it; `config`: its round-trip
        tree, which becomes the base."""
        self.left: list[SpecError] = []
        """Each e-mail receiver left in the base, and why (also among the notes)."""
        self.notes: list[str] = []
        self.passwords: dict[str, str] = {}
        glob = read.data.get("global")
        self.glob: dict[str, Any] = glob if isinstance(glob, dict) else {}
        self.receivers: dict[str, Receiver] = read_receivers(read)
        self.bodies_by_file: dict[str, str] = {}
        """Base name -> text of each file in `bodies`."""
        self.bodies: dict[str, tuple[str, bytes]] = self._bodies(templates)
        """Define name -> (base name, content) of a template file the config reads that holds
        that one define and nothing else: a body a list can name (rule 9)."""
        self.carried: dict[str, str] = {}
        """Spec folder path -> text of each template file a list names."""

    def fail(self, path: KeyPath, message: str, *, shown: str | None = None, key: bool | None = None) -> SpecErrors:
        """An error at the key `path` names (at its item, for a list's; at the value itself,
        with key=False), said as `shown`."""
        where = self.read.locate(path, key=bool(path) and isinstance(path[-1], str) if key is None else key)
        return SpecErrors([SpecError(where, shown if shown is not None else format_path(path), message)])

    def run(self) -> Imported:
        receivers = self.read.data.get("receivers")
        receivers = receivers if isinstance(receivers, list) else []
        for index, receiver in enumerate(receivers):
            if isinstance(receiver, dict) and str(receiver.get("name") or "").startswith(PREFIX):
                raise self.fail(("receivers", index), f"{receiver['name']!r} was rendered by notify-reconciler, and "
                                                      "the next render would drop it: import the specs that config "
                                                      "came from instead, or a config from before")
        root = self._tree()
        self._fold(root)
        routes = list(_walk(root))
        if not any(isinstance(r, dict) and r.get("email_configs") for r in receivers) \
                and not any(str(key).startswith("smtp_") for key in self.glob):
            raise self.fail(("receivers",) if "receivers" in self.read.data else (),
                            "the config has no receiver with email_configs, so there is nothing to import: write the "
                            "specs yourself (docs/contract.md) and render into this config as the base",
                            shown="receivers")
        settings, tls = self._server_settings(receivers)

        lists: dict[str, tuple[str, _Route, dict]] = {}  # list name -> (receiver, route, RecipientList spec)
        moved: list[_Route] = []          # routes removed from the base, their alerts now a list's
        stays: dict[str, str] = {}        # receiver -> why it stays in the base without email_configs
        for index, receiver in enumerate(receivers):
            if not isinstance(receiver, dict) or not receiver.get("email_configs"):
                continue
            receiver_name = str(receiver.get("name"))
            others = sorted(key for key, value in receiver.items()
                            if key.endswith("_configs") and key != "email_configs" and value)
            spec, why = self._recipient_list(receiver, settings, tls)
            judged: list[tuple[_Route, list[Matcher], str]] = []
            if spec is not None:
                judged, why = self._routes_for(receiver_name, routes, root, mixed=bool(others))
            if not judged:
                left = SpecError(self.read.locate(("receivers", index)), f"receivers[{index}]",
                                 f"{receiver_name!r} is left in {BASE_FILE} as it is, with its routes: {why}")
                self.left.append(left)
                self.notes.append(str(left))
                continue
            assert spec is not None
            for number, (route, matchers, mode) in enumerate(judged):
                one = {**spec, **_list_timing(route, matchers)}
                if mode == "keep":
                    one["keepFromBase"] = True
                if mode == "catchAll":
                    one = {key: value for key, value in one.items() if key in ("recipients", "sendResolved",
                                                                               "subject", "templates")}
                    one["catchAll"] = True
                name = _list_name(receiver_name, route, number, set(lists))
                lists[name] = (receiver_name, route, one)
                if mode == "silence":
                    stays[receiver_name] = (f"its other configs ({', '.join(others)}) stay" if others
                                            else "its routes stay, which other routes need")
                else:
                    moved.append(route)

        if not lists:
            summary = self.fail(("receivers",) if "receivers" in self.read.data else (),
                                "no e-mail receiver could become a RecipientList"
                                + (", for the reasons given for each" if self.left else
                                   ": the config has no receiver with email_configs"), shown="receivers").errors
            raise SpecErrors([*self.left, *summary])
        names: dict[str, tuple[str, ...]] = {}
        for name, (receiver_name, _, _) in lists.items():
            names[receiver_name] = (*names.get(receiver_name, ()), name)
        files = self._spec_files(settings, tls, lists, root)
        self._check_specs(files, {name: receiver for name, (receiver, _, _) in lists.items()}, receivers)
        self._build_base(receivers, [route for _, route, _ in lists.values()], moved, stays, names)
        files[BASE_FILE] = dump(roundtrip_yaml(), self.config)
        named = {path for _, _, spec in lists.values() for path in (spec.get("templates") or {}).values()}
        for path in sorted(named):
            files[f"{SPEC_FOLDER}/{path}"] = self.carried[path]
            self.notes.append(f"{SPEC_FOLDER}/{path}: a copy of the config's template file, the body of the lists "
                              f"that named it; {BASE_FILE} still reads the original (templates:), which the render "
                              "loads first: the copy's define wins, so edit the copy")
        return Imported(files, tuple(self.notes), dict(self.passwords), names)

    # -- routes

    def _tree(self) -> _Route:
        """The routing tree as Alertmanager reads it (reconciler.am.routes), each route with its
        node in the round-trip tree, where the base loses the routes that become lists."""
        try:
            tree = route_tree(self.read)
        except AlertmanagerConfigError as exc:
            raise SpecErrors([exc.as_spec_error()]) from None
        return self._wrap(tree, self.config["route"], None)

    def _wrap(self, route: Route, node: CommentedMap, parent: _Route | None) -> _Route:
        problem = None
        if any(not _LABEL.fullmatch(m.name) for m in route.matchers):
            problem = "its matchers use a label name with ':', which RecipientList matchers cannot write"
        wrapped = _Route(node, route.where, parent, list(route.matchers), route.continues, route.receiver,
                         ["..."] if route.group_by_all else list(route.group_by),
                         {key: getattr(route, key) for key in _TIMING}, problem)
        # The same document read twice: its routes stand at the same places in both trees.
        nodes = node.get("routes") or []
        wrapped.children = [self._wrap(child, nodes[index], wrapped) for index, child in enumerate(route.routes)]
        return wrapped

    def _fold(self, route: _Route) -> None:
        """Rule 7, from the leaves up: a child to `route`'s receiver that means what `route`
        means for its alerts moves from `children` to `folded`."""
        for child in route.children:
            self._fold(child)
        for child in list(route.children):
            if child.receiver == route.receiver and self._folds(child):
                route.children.remove(child)
                route.folded.append(child)

    def _folds(self, child: _Route) -> bool:
        parent = child.parent
        assert parent is not None
        if child.children or child.problem or child.group_by != parent.group_by or child.timing != parent.timing \
                or any(child.node.get(key) for key in _TIME_INTERVALS):
            return False
        if parent.group_by != ["..."] and any(m.name not in parent.group_by for m in child.own):
            return False  # alerts of one group might take different routes: folding would join them
        # No sibling may match its alerts: then none is tried with it (taking it away changes
        # nothing after it), and the other routes' judgement may leave it out.
        return all(not s.problem and disjoint(child.own, s.own) for s in parent.children if s is not child)

    def _routes_for(self, receiver: str, routes: list[_Route], root: _Route, *, mixed: bool
                    ) -> tuple[list[tuple[_Route, list[Matcher], str]], str]:
        """Each route that leads to `receiver`, with its list's matchers and how it leaves the
        base (rule 1: one list per route); or no route and why not. A receiver with other
        configs than e-mail (`mixed`) keeps every route (rule 8)."""
        leading = [r for r in routes if r.receiver == receiver]
        if not leading:
            return [], "no route leads to it"
        judged = []
        for route in leading:
            found, matchers, why = self._route_for(route, root, mixed=mixed)
            if found is None:
                return [], why if len(leading) == 1 else f"{len(leading)} routes lead to it, and {route.path}: {why}"
            judged.append((route, matchers, why))
        return judged, ""

    def _route_for(self, route: _Route, root: _Route, *, mixed: bool) -> tuple[_Route | None, list[Matcher], str]:
        """How `route` can leave the base for a list in front, with the list's matchers
        (mode "", "keep", "silence" or "catchAll"); or None and why not."""
        if route is root and not mixed:
            # What no route takes: a catch-all list is the render's root receiver, with the
            # policy's timing, which is the root's.
            return route, [], "catchAll"
        chain = route.chain()
        for step in chain:
            if step.problem:
                return None, [], f"{step.path}: {step.problem}"
            intervals = [key for key in _TIME_INTERVALS if step.node.get(key)]
            if intervals:
                return None, [], (f"{step.path} has {' and '.join(intervals)}, which the import does not "
                                  "carry over to TimeWindows")
        matchers = [m for step in chain for m in step.own]
        for step in chain:
            for earlier in step.siblings()[:step.siblings().index(step)]:
                if earlier.cont or disjoint(matchers, earlier.own):
                    continue
                if earlier.problem:
                    return None, [], f"an earlier route {earlier.path}: {earlier.problem}"
                if len(earlier.own) != 1:
                    what = "every alert" if not earlier.own else "some of its alerts"
                    return None, [], (f"the earlier route {earlier.path} (without continue: true) takes {what} "
                                      f"first, which RecipientList matchers cannot express")
                matchers.append(earlier.own[0].negated())
        mode = ""
        if route.children or mixed:
            mode = "silence"
        elif self._left_in_place(route, matchers):
            # The base without R would send R's alerts elsewhere; when they reached nobody but
            # R's receiver before, a list that keeps them from the base says exactly that.
            mode = "silence" if self._others_reached(route, matchers) else "keep"
        if mode == "silence":
            # R stays, its receiver silent: the list takes what R's receiver got, which a
            # matching child (with or without continue) kept from it.
            for child in route.children:
                if not child.problem and disjoint(matchers, child.own):
                    continue
                if child.problem:
                    return None, [], f"its child route {child.path}: {child.problem}"
                if len(child.own) != 1:
                    what = "every alert" if not child.own else "some of its alerts"
                    return None, [], (f"its child route {child.path} takes {what} from it, which RecipientList "
                                      "matchers cannot express")
                matchers.append(child.own[0].negated())
        unique = list(dict.fromkeys(matchers))
        if len(unique) > 50:
            return None, [], f"its alerts need {len(unique)} matchers; a RecipientList takes at most 50"
        if mode == "keep" and not unique:
            mode = "silence"  # a list keeping every alert from the base would leave its receivers nothing
        return route, unique, mode

    def _left_in_place(self, route: _Route, matchers: list[Matcher]) -> str:
        """Why the base without `route` would send its alerts elsewhere (so a list that only
        adds to the base cannot replace it), or ''."""
        if not route.cont:
            siblings = route.siblings()
            for later in siblings[siblings.index(route) + 1:]:
                if later.problem or not disjoint(matchers, later.own):
                    return (f"its route {route.path} has no continue: true, so the later route {later.path}, "
                            "which may match the same alerts, never got them")
        parent = route.parent
        assert parent is not None
        # A route that matches keeps its alerts from the receiver of the route above it, with
        # or without continue: true.
        if self._sends(parent.receiver):
            return (f"without its route {route.path}, the alerts it took would go to {parent.receiver!r}, the "
                    "receiver of the route above it")
        return ""

    def _others_reached(self, route: _Route, matchers: list[Matcher]) -> str:
        """Which other route may get `route`'s alerts in the original config, or '': an earlier
        sibling (of it or of a route above it) that continues, or a later one after a route
        that continues."""
        for step in route.chain():
            siblings = step.siblings()
            at = siblings.index(step)
            for earlier in siblings[:at]:
                if earlier.cont and (earlier.problem or not disjoint(matchers, earlier.own)):
                    return f"the earlier route {earlier.path} (with continue: true) may get them too"
            if step.cont:
                for later in siblings[at + 1:]:
                    if later.problem or not disjoint(matchers, later.own):
                        return f"the later route {later.path} may get them too, after {step.path} continues"
        return ""

    def _sends(self, receiver: str) -> bool:
        found = self.receivers.get(receiver)
        return found is not None and found.notifies

    # -- receivers

    def _server_settings(self, receivers: list) -> tuple[dict[str, Any], dict[str, Any]]:
        """The effective smtp_* settings (global, completed by the e-mail receivers when they all
        agree on what the global leaves out) and the TLS settings of the first e-mail config."""
        settings = {key: value for key, value in self.glob.items() if key.startswith("smtp_")}
        configs = [c for r in receivers if isinstance(r, dict) for c in r.get("email_configs") or ()
                   if isinstance(c, dict)]
        for key, global_key in _SERVER_KEYS.items():
            if global_key not in settings:
                values = {str(c[key]) for c in configs if key in c}
                if len(values) == 1 and all(key in c for c in configs):
                    settings[global_key] = configs[0][key]  # as written: require_tls stays a boolean
        for required, what in (("smtp_smarthost", "host:port"), ("smtp_from", "sender address")):
            if not settings.get(required):
                at: KeyPath = ("global", required) if required in self.glob else ("global",) \
                    if "global" in self.read.data else ()
                raise self.fail(at, f"is missing, and the e-mail receivers do not agree on one: the EmailServer needs "
                                    f"the SMTP {what}", shown=f"global.{required}", key=required in self.glob)
        try:
            parse_smarthost(settings["smtp_smarthost"])
        except ValueError as exc:
            raise self.fail(("global", "smtp_smarthost"), str(exc)) from None
        if settings.get("smtp_auth_secret"):
            raise self.fail(self._setting_at("smtp_auth_secret", receivers),
                            "an EmailServer cannot say this (the CRAM-MD5 secret): remove it if the server does not "
                            "need it, then import again")
        if settings.get("smtp_auth_password") and settings.get("smtp_auth_password_file"):
            raise self.fail(("global", "smtp_auth_password"),
                            "goes with smtp_auth_password_file, which Alertmanager refuses: keep one")
        if settings.get("smtp_auth_password") and settings.get("smtp_auth_username"):
            # Without a user name Alertmanager never logs in, and the password goes nowhere.
            self.passwords[self.password_file] = str(settings["smtp_auth_password"])
        tls = next((dict(c["tls_config"]) for c in configs if isinstance(c.get("tls_config"), dict)), {})
        return settings, tls

    def _setting_at(self, global_key: str, receivers: list) -> KeyPath:
        """Where a server setting is written: in `global`, else in the first e-mail config that sets it."""
        if global_key in self.glob:
            return ("global", global_key)
        key = next(k for k, g in _SERVER_KEYS.items() if g == global_key)
        for index, receiver in enumerate(receivers):
            configs = receiver.get("email_configs") if isinstance(receiver, dict) else None
            for number, config in enumerate(configs if isinstance(configs, list) else ()):
                if isinstance(config, dict) and key in config:
                    return ("receivers", index, "email_configs", number, key)
        return ("global",) if "global" in self.read.data else ()

    def _password_file(self, settings: dict[str, Any]) -> str | None:
        if settings.get("smtp_auth_password_file"):
            return str(settings["smtp_auth_password_file"])
        if settings.get("smtp_auth_password"):
            return self.password_file
        return None

    def _recipient_list(self, receiver: dict, settings: dict[str, Any], tls: dict) -> tuple[dict | None, str]:
        """The RecipientList spec (recipients, sendResolved) for an e-mail receiver's e-mail
        configs, or None and why."""
        configs = receiver["email_configs"]
        recipients: list[Any] = []
        resolved, subjects = set(), set()
        bodies: dict[str, set[str | None]] = {"html": set(), "text": set()}
        for number, config in enumerate(configs):
            if isinstance(config, dict):
                for kind in ("html", "text"):
                    if kind not in config:
                        bodies[kind].add(None)
            if not isinstance(config, dict):
                return None, f"email_configs[{number}] is not a mapping"
            headers = config.get("headers") or {}
            if not isinstance(headers, dict):
                return None, f"email_configs[{number}].headers is not a mapping"
            # Alertmanager writes header names in their canonical form: `subject` is Subject.
            other_headers = sorted(str(key) for key in headers if str(key).lower() != "subject")
            if other_headers:
                return None, (f"email_configs[{number}].headers sets {', '.join(other_headers)}, which a "
                              "RecipientList cannot say (it has subject only)")
            subjects.add(next((str(value) for key, value in headers.items() if str(key).lower() == "subject"), None))
            for kind in ("html", "text"):
                if kind in config:
                    body, why = self._body(config[kind], f"email_configs[{number}].{kind}")
                    if body is None:
                        return None, why
                    bodies[kind].add(body)
            custom = sorted(set(config) - set(_SERVER_KEYS) - {"to", "send_resolved", "tls_config", "headers", "html",
                                                                 "text"})
            if custom:
                return None, (f"email_configs[{number}] sets {', '.join(custom)}, which a RecipientList cannot say "
                              "(the render uses Alertmanager's default mail)")
            for key, global_key in _SERVER_KEYS.items():
                server_value = settings.get(global_key, _GLOBAL_DEFAULTS.get(global_key, ""))
                if key in config and not _same_setting(key, config[key], server_value):
                    return None, (f"email_configs[{number}].{key} differs from the global smtp settings the "
                                  "EmailServer takes")
            if dict(config.get("tls_config") or {}) != tls or set(tls) - set(_TLS_KEYS):
                return None, (f"email_configs[{number}].tls_config differs from the other e-mail receivers' or "
                              "sets what an EmailServer cannot (client certificates, TLS versions)")
            to = str(config.get("to") or "")
            if "{{" in to:
                return None, f"email_configs[{number}].to is a template; a RecipientList lists addresses"
            for display, address in getaddresses([to]):
                if not address:
                    continue
                recipients.append({"name": display, "email": address} if display else address)
            resolved.add(bool(go_bool(config.get("send_resolved"))))
        if not recipients:
            return None, "it has no address in to"
        if len(resolved) > 1:
            return None, "its email_configs disagree on send_resolved"
        if len(subjects) > 1:
            return None, "its email_configs disagree on headers.Subject, and a RecipientList has one subject"
        for kind, found in bodies.items():
            if len(found) > 1:
                return None, f"its email_configs disagree on {kind}, and a RecipientList has one {kind} body"
        spec = {"recipients": recipients, "sendResolved": resolved.pop()}
        subject = subjects.pop()
        if subject is not None:
            spec["subject"] = subject
        named = {kind: found.pop() for kind, found in bodies.items() if found and None not in found}
        if named:
            spec["templates"] = {kind: f"templates/{path}" for kind, path in named.items()}
            for path in named.values():
                self.carried[f"templates/{path}"] = self.bodies_by_file[path]
        problem = _list_problem(spec)
        if problem:
            return None, problem
        return spec, ""

    def _bodies(self, templates: Mapping[str, bytes]) -> dict[str, tuple[str, bytes]]:
        """Rule 9's bodies: the define of each given file the config's `templates:` reads (an
        entry's base name matches it, as the glob would) that holds one define and nothing else,
        and that no other of those files defines too (Alertmanager would take the last)."""
        entries = self.read.data.get("templates")
        patterns = [str(entry).rsplit("/", 1)[-1] for entry in entries if entry] if isinstance(entries, list) else []
        defined: dict[str, int] = {}
        candidates: dict[str, tuple[str, bytes]] = {}
        for base, data in sorted(templates.items()):
            if not any(fnmatch.fnmatchcase(base, pattern) for pattern in patterns):
                continue
            try:
                defines, top_level = scan(data.decode("utf-8"))
            except (UnicodeDecodeError, ScanError):
                continue
            for define, _ in defines:
                defined[define] = defined.get(define, 0) + 1
            if len(defines) == 1 and not top_level and defines[0][0] not in ALERTMANAGER_DEFINES:
                candidates[defines[0][0]] = (base, data)
        found = {define: file for define, file in candidates.items() if defined[define] == 1}
        self.bodies_by_file.update({base: data.decode("utf-8") for base, data in found.values()})
        return found

    def _body(self, value: Any, where: str) -> tuple[str | None, str]:
        """The base name of the template file whose define `value` (an html or text) only
        calls, or None and why a list cannot say it."""
        call = _TEMPLATE_CALL.fullmatch(str(value)) if isinstance(value, str) else None
        if call is None:
            return None, f"{where} is a template of its own, which a RecipientList cannot say (it names a file)"
        if call.group(1) not in self.bodies:
            return None, (f"{where} calls the template {call.group(1)!r}, and no file given to import (--templates) "
                          "that the config's templates: reads holds it alone: give the folder holding the "
                          "config's template files")
        return self.bodies[call.group(1)][0], ""

    # -- output

    def _check_specs(self, files: dict[str, str], receiver_of: dict[str, str], receivers: list) -> None:
        """The specs must validate as the render will read them: a value Alertmanager takes but a
        spec may not (a sender with a display name, say) is an error located in the input."""
        prefix = f"{SPEC_FOLDER}/"
        try:
            parse_specs({path.removeprefix(prefix): text.encode() for path, text in files.items()
                         if path.startswith(prefix) and path.endswith(".yaml")},
                        templates={path: text.encode() for path, text in self.carried.items()})
        except SpecErrors as exc:
            errors = []
            for error in exc.errors:
                field_name = error.path.removeprefix("spec.").split(".")[0].split("[")[0]
                if error.file == "email-server.yaml":
                    key = _SERVER_FIELDS.get(field_name, "smtp_smarthost")
                    at: KeyPath = ("global", key) if key in self.glob else ("global",)
                    where, path = self.read.locate(at, key=True), f"global.{key}" if key in self.glob else "global"
                elif error.file.removesuffix(".yaml") in receiver_of:
                    receiver = receiver_of[error.file.removesuffix(".yaml")]
                    index = next(i for i, r in enumerate(receivers) if isinstance(r, dict)
                                 and str(r.get("name")) == receiver)
                    where, path = self.read.locate(("receivers", index)), f"receivers[{index}]"
                else:
                    where, path = self.read.locate(("route",), key=True), "route"
                kind = {"email-server.yaml": "EmailServer", "notification-policy.yaml": "NotificationPolicy"}.get(
                    error.file, "RecipientList")
                errors.append(SpecError(where, path, f"the {kind} this becomes would be invalid: {error.path}: "
                                                     f"{error.message}"))
            raise SpecErrors(errors) from None

    def _spec_files(self, settings: dict[str, Any], tls: dict, lists: dict[str, tuple[str, _Route, dict]],
                    root: _Route) -> dict[str, str]:
        header = f"# imported from {self.name} by notify-reconciler import\n"
        server = server_spec(settings, tls, self._password_file(settings))
        policy = {"repeatInterval": root.timing["repeat_interval"], "groupBy": list(root.group_by),
                  "groupWait": root.timing["group_wait"], "groupInterval": root.timing["group_interval"]}
        # A root without group_by sends one notification for all alerts: the policy's [] says
        # it, and a list whose route groups by nothing (so does the root) leaves groupBy out.
        sends = [spec["sendResolved"] for _, _, spec in lists.values()]
        policy["sendResolved"] = max(set(sends), key=lambda value: (sends.count(value), not value))
        files = {f"{SPEC_FOLDER}/email-server.yaml": header + _document("EmailServer", "smtp", server),
                 f"{SPEC_FOLDER}/notification-policy.yaml": header + _document("NotificationPolicy", "default", policy)}
        keys = {"repeatInterval": "repeatInterval", "groupBy": "groupBy", "groupWait": "groupWait",
                "groupInterval": "groupInterval", "sendResolved": "sendResolved"}
        for name, (receiver, route, spec) in lists.items():
            trimmed = {key: value for key, value in spec.items()
                       if key not in keys or keys[key] not in policy or value != policy[keys[key]]}
            files[f"{SPEC_FOLDER}/{name}.yaml"] = (
                f"# imported from {self.name} by notify-reconciler import: the receiver {receiver!r}"
                + ("" if route.parent is None else f", at {route.path}") + "\n"
                + _document("RecipientList", name, trimmed))
        return files

    def _build_base(self, receivers: list, listed: list[_Route], moved: list[_Route], stays: dict[str, str],
                    names: dict[str, tuple[str, ...]]) -> None:
        """The config without what the specs now say: the routes that became lists, the
        receivers all of whose routes did, and the smtp_* keys (the render writes its own, with
        the password as a file). `listed`: every route that became a list, `moved` those of them
        that leave the base. `receivers` are the config's, read as Alertmanager reads them;
        the round-trip tree changes. A receiver in `stays` (rules 6 and 8) keeps its name,
        routes and other configs, without its e-mail configs."""
        for route in listed:
            for folded in _folded_under(route):
                siblings = folded.parent.node.get("routes") or []
                at = next((i for i, node in enumerate(siblings) if node is folded.node), None)
                if at is None:
                    continue
                siblings.pop(at)
                if not siblings:
                    del folded.parent.node["routes"]
        for receiver_name, why in stays.items():
            index = next(i for i, r in enumerate(receivers) if isinstance(r, dict)
                         and str(r.get("name")) == receiver_name)
            del self.config["receivers"][index]["email_configs"]
            self.notes.append(f"{BASE_FILE}: the receiver {receiver_name!r} keeps its name without its e-mail configs "
                              f"({why}): the RecipientList{'s' if len(names[receiver_name]) > 1 else ''} "
                              f"{', '.join(repr(n) for n in names[receiver_name])} "
                              f"mail{'' if len(names[receiver_name]) > 1 else 's'} what it got")
        for route in moved:
            parent = route.parent
            if parent is None:  # the root's receiver became the catch-all list: the render names it
                self.config["route"]["receiver"] = DISCARD_RECEIVER
                continue
            siblings = parent.node["routes"]
            siblings.pop(_index_of(siblings, route.node))
            if not siblings:
                del parent.node["routes"]
        gone = set(names) - set(stays)
        kept = self.config.get("receivers")
        moved_at = {index for index, receiver in enumerate(receivers)
                    if isinstance(receiver, dict) and str(receiver.get("name")) in gone}
        left = [(receiver, kept[index]) for index, receiver in enumerate(receivers) if index not in moved_at
                and not (isinstance(receiver, dict) and str(receiver.get("name")) in stays)]
        for index in sorted(moved_at, reverse=True):
            kept.pop(index)
        if not kept:
            # ruamel writes an emptied block list that holds comments as a `[]` below them,
            # which no YAML reader takes: the render adds its receivers to `receivers:` alone.
            self.config["receivers"] = None
        if isinstance(self.config.get("global"), dict):
            for key in [k for k in self.config["global"] if str(k).startswith("smtp_")]:
                del self.config["global"][key]
            if not self.config["global"]:
                del self.config["global"]
        # E-mail receivers left in the base keep working with the render's smtp_* globals; a
        # password of their own becomes a file too.
        for index, (receiver, node) in enumerate(left):
            emails = receiver.get("email_configs") if isinstance(receiver, dict) else None
            for number, email in enumerate(emails if isinstance(emails, list) else ()):
                if isinstance(email, dict) and email.get("auth_password"):
                    password = email["auth_password"]  # as Alertmanager reads it
                    path = next((p for p, known in self.passwords.items() if known == password),
                                f"{self.password_file}-{_slug(str(receiver.get('name')))}")
                    self.passwords[path] = password
                    written = node["email_configs"][number]
                    position = list(written).index("auth_password")
                    del written["auth_password"]
                    written.insert(position, "auth_password_file", path)
                    self.notes.append(f"{BASE_FILE}: receivers[{index}].email_configs[{number}].auth_password: "
                                      f"written as auth_password_file: {path}")
        for path in _secret_paths(self.config, ""):
            self.notes.append(f"{BASE_FILE}: {path}: holds a credential that would be committed with the base: "
                              "move it into a file Alertmanager reads (a *_file setting) before committing")


def _same_setting(key: str, written: Any, server: Any) -> bool:
    """Whether an e-mail config's setting says what the server's does, as Alertmanager reads
    both (require_tls: `yes` and `true` are one)."""
    if key == "require_tls":
        return go_bool(written) == go_bool(server)
    return (written or "") == (server or "")


def _walk(route: _Route):
    yield route
    for child in route.children:
        yield from _walk(child)


def _folded_under(route: _Route):
    for folded in route.folded:
        yield folded
        yield from _folded_under(folded)


def _list_timing(route: _Route, matchers: list[Matcher]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if matchers:
        spec["matchers"] = [m.text() for m in matchers]
    spec.update({"repeatInterval": route.timing["repeat_interval"], "groupBy": list(route.group_by),
                 "groupWait": route.timing["group_wait"], "groupInterval": route.timing["group_interval"]})
    if not spec["groupBy"]:
        del spec["groupBy"]  # grouping by nothing, as the root does: the policy's [] says it
    return spec


def _list_problem(spec: dict) -> str | None:
    """Why `spec` is not a valid RecipientList (the schema's and the model's words), or None."""
    text = _document("RecipientList", "check", spec)
    documents, errors = load_file("check.yaml", text.encode())
    for document in documents:
        errors += validate_document(document) + check_document(document)
    if errors:
        return "; ".join(f"{error.path}: {error.message}" for error in errors[:3])
    return None


def _list_name(receiver: str, route: _Route, number: int, taken: set[str]) -> str:
    """A RecipientList name for `receiver`'s list at `route`, the `number`th of its lists: the
    receiver's name for the first, then with the value of the route's one equality matcher
    (`team-mails-critical`) or a number; valid and not in `taken`."""
    base = _slug(receiver.removeprefix(PREFIX))
    if base == "discard":
        base = "discard-list"
    suffix = ""
    if number:
        equal = [m for m in route.own if m.op == "="]
        if len(route.own) == 1 and equal and re.search("[a-z0-9]", equal[0].value.lower()):
            suffix = _slug(equal[0].value)[:40].strip("-")
        base = f"{base[:62 - len(suffix)].rstrip('-')}-{suffix}" if suffix else base
    name, counter = base, 2
    while name in taken or name in ("email-server", "notification-policy") or (number and not suffix and name == base):
        suffix_number = f"-{counter}"
        name, counter = base[:63 - len(suffix_number)].rstrip("-") + suffix_number, counter + 1
    return name


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:63].strip("-")
    return slug or "list"


def _index_of(items: list, item: Any) -> int:
    return next(i for i, candidate in enumerate(items) if candidate is item)


def _secret_paths(node: Any, path: str):
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if is_credential(str(key)) and isinstance(value, (str, int)) and str(value):
                yield here
            else:
                yield from _secret_paths(value, here)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _secret_paths(value, f"{path}[{index}]")


_SPEC_ORDER = ("host", "port", "ssl", "starttls", "tls", "username", "passwordFile", "authIdentity", "from",
               "hello", "recipients", "matchers", "subject", "templates", "repeatInterval", "groupBy", "groupWait",
               "groupInterval", "sendResolved", "keepFromBase", "catchAll")


def _document(kind: str, name: str, spec: dict) -> str:
    ordered = {key: spec[key] for key in sorted(spec, key=_SPEC_ORDER.index)}
    document = {"apiVersion": "notify-reconciler/v1", "kind": kind, "metadata": {"name": name}, "spec": ordered}
    return dump(roundtrip_yaml(), _commented(document))


def _commented(value: Any) -> Any:
    """Plain values as ruamel's: mappings in block style, lists of scalars in flow style
    (`groupBy: [alertname]`), lists of mappings in block style."""
    if isinstance(value, dict):
        return CommentedMap((str(k), _commented(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        seq = CommentedSeq(_commented(v) for v in value)
        if not any(isinstance(v, (dict, list)) for v in value) and len(value) <= 5:
            seq.fa.set_flow_style()
        return seq
    return value


__all__ = ["DEFAULT_PASSWORD_FILE", "Imported", "disjoint", "import_config", "parse_smarthost", "server_spec"]
