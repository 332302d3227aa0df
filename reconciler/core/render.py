"""Specs (+ the user's base config) -> the text of alertmanager.yml.

Pure and deterministic: the same specs, base and options give the same bytes.

What the reconciler owns in the rendered file, and replaces on every render:
- the receivers it writes, named ``notify-reconciler/<list>`` (plus a
  ``notify-reconciler/discard`` receiver when the reconciler had to make the root route),
  recognised exactly; a base that uses that namespace for its own receivers is refused;
- the routes to those receivers, placed first under ``route.routes`` with
  ``continue: true`` so every list sees its alerts;
- after them, when the base has its own root receiver, one route to that receiver that
  matches everything, sets nothing and holds the base's routes as written: each alert walks
  the base's tree exactly as it did in the base alone (`amtool config routes test` agrees,
  tests/integration/test_routing_preserved.py);
- the ``smtp_*`` keys of ``global`` (when an EmailServer exists).
Everything else in the base (other receivers, routes, inhibit rules, templates, comments
and key order) is kept as written. Rendering a base that already holds a render gives the
same bytes as rendering the clean base.

Fifty recipients must all get the mail: Alertmanager 0.25 writes its ``To:`` header on one
unfolded line and ignores the server's reply after DATA, so a long list silently fails at
a strict server (RFC 5321's 1,000-octet line limit). Each list therefore gets an explicit
``To`` header that lists the recipients only when that line stays within 998 octets and
is plain ASCII; otherwise it is the RFC 5322 group ``<list-name>:;``. The envelope (one
RCPT per address) always carries every recipient.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from ..am.reading import BASE_DEPTH, dump, read_roundtrip, roundtrip_yaml
from ..am.secret import new_secret, wrap
from ..errors import BaseConfigError
from ..specs.headers import MAX_HEADER_LINE, line_octets, phrase
from ..specs.templates import CARRIED_PREFIX
from . import comments, emit
from .names import DISCARD_RECEIVER, MARK, PREFIX  # noqa: F401  (imported from here by others)

if TYPE_CHECKING:
    from ..specs.model import EmailServer, RecipientList, Recipient, Routing, Specs, TimeWindow



@dataclass(frozen=True)
class RenderOptions:
    """What the render needs from the host it runs on, passed in to keep it pure."""

    secrets_dir: str = "/var/lib/notify-reconciler/secrets"
    """Where `apply` writes a password taken from passwordEnv; the render names the file."""
    templates_dir: str = ""
    """Where Alertmanager finds the template files the render carries: "" for the folder of
    the config file (Alertmanager resolves relative `templates:` entries from there), or the
    folder a Kubernetes Secret's keys are mounted in (templates.SECRET_TEMPLATE_DIR)."""


def password_file_for(server: EmailServer, options: RenderOptions) -> str | None:
    """The file Alertmanager reads the SMTP password from, if the server uses one."""
    if server.password_file:
        return server.password_file
    if server.password_env:
        return f"{options.secrets_dir.rstrip('/')}/smtp-password-{server.name}"
    return None


def render_alertmanager_config(specs: Specs, base_text: str | None = None, *,
                               base_name: str = "base", options: RenderOptions = RenderOptions()) -> str:
    """The complete alertmanager.yml for `specs`, merged into `base_text` when given."""
    return render_config(specs, base_text, base_name=base_name, options=options).text


@dataclass(frozen=True)
class Rendered:
    """A render, with the parts it was assembled from: what a check needs to look only at
    the lists that changed since the last render it accepted."""

    text: str
    skeleton: str
    """The config with a placeholder line where our routes go and one where our receivers go;
    everything that is not a RecipientList's route or receiver (base, globals, root route)."""
    lists: tuple[tuple[str, str], ...]
    """Per RecipientList, in order: its route and its receiver, as the lines spliced in."""
    fixed: str
    """Our receivers that belong to no list (the discard receiver), as spliced."""
    wrapped: bool = False
    """The base's routes are nested under one route to its root receiver (see render_config)."""
    templates: tuple[tuple[str, bytes], ...] = ()
    """The template files the config lists under `templates:`: (file name, content)."""
    blocking: str = ""
    """The routes after the lists' that keep keepFromBase lists' alerts from the base, as spliced."""

    def with_lists(self, lists: list[tuple[str, str]]) -> str:
        """The config with only these lists' routes and receivers: a valid config on its own,
        since each list's route names only its own receiver."""
        return emit.assemble(self.skeleton, lists, self.fixed, wrapped=self.wrapped, blocking=self.blocking)


class CachedPart(NamedTuple):
    """One list's route and receiver lines, and everything else they were made from."""

    recipient_list: RecipientList
    """Held, so its id is not reused while the entry lives."""
    context: tuple
    """(its routing, the TLS settings, the recipient cap, the two indents)."""
    lines: tuple[str, str]


class RenderCache(dict):
    """id of a RecipientList -> its `CachedPart`. A one-file commit renders one list; the other
    999 come from here (the parse cache hands back the same list objects)."""


def render_config(specs: Specs, base_text: str | None = None, *, base_name: str = "base",
                  options: RenderOptions = RenderOptions(), cache: RenderCache | None = None) -> Rendered:
    """`render_alertmanager_config`, keeping the parts; `cache` carries list texts between renders.
    Long, and one piece for now: its steps edit the same base tree in place (routes, receivers
    and the comments that move with them) in an order that matters; it gets shorter as the
    route and receiver code moves out of this module (issue 23)."""
    _import_yaml()
    yaml = yaml_writer()
    config = _load_base(yaml, base_text, base_name) if base_text is not None else None
    if config is None:
        config = CommentedMap()
    comments.scrub_marks(config, MARK)
    comments.add_header_comment(config, f"{MARK}: the {PREFIX}* receivers, the routes to them and the global "
                                "smtp_* keys come from the specs in git and are replaced on every render")
    _check_base_shape(config, base_name)

    if specs.server is not None:
        _set_smtp_globals(config, specs.server, options)
    carried = tuple((item.carried, item.data) for item in specs.template_files) if specs.email_enabled else ()
    _set_templates(config, [name for name, _ in carried], options, base_name)
    written_root = config["route"].get("receiver") if isinstance(config.get("route"), dict) else None
    route = _root_route(config, specs, base_name)
    receivers = _receivers(config)
    routes = route["routes"]
    # A comment or blank line after the last entry belongs to the end of the list, not to
    # that entry: keep it at the end while our entries come and go.
    receivers_tail, routes_tail = comments.take_trailing_comment(receivers), comments.take_trailing_comment(routes)
    routed = {item["receiver"] for item in _leading(routes, _is_our_route)}
    if written_root != DISCARD_RECEIVER and _our_root_receiver(config, written_root):
        routed.add(written_root)  # an earlier render's catch-all list: its receiver goes too
    comments.give_leading_comment(route, "routes", _remove_owned(routes, _is_our_route, base_name, "route.routes",
                                                         leading_only=True))
    if routed:
        _drop_old_fallback(route, routes)
        routes = _unwrap_base_routes(route, routes)
    comments.give_leading_comment(config, "receivers", _remove_owned(
        receivers, lambda item: _is_our_receiver(item, routed), base_name, "receivers"))
    taker = next((item for item in specs.lists if item.catch_all), None) if specs.email_enabled else None
    _refuse_our_names_in_base_routes(route, base_name, PREFIX + taker.name if taker is not None else None)
    _set_time_intervals(config, specs.windows if specs.email_enabled else (), base_name)
    _refuse_our_windows_in_base_routes(route, base_name)

    # Our entries are many (1,000 lists is a real size) and plain: they are written as text
    # into the dump, and only a placeholder goes through ruamel's much slower round-trip emitter.
    discard = route["receiver"] == DISCARD_RECEIVER
    lists = specs.lists if specs.email_enabled else ()
    catch_all = next((item for item in lists if item.catch_all), None)
    ours = discard or catch_all is not None  # the root route is ours: no base receiver to keep apart
    base_routes = bool(routes)
    lists = tuple(item for item in lists if not item.catch_all)  # those with a route of their own
    if lists and not ours and route.get("group_by") and any(specs.routing_for(item).group_by == () for item in lists):
        # `group_by: []` on a list's route means "as the root", and this root groups by labels.
        raise BaseConfigError(
            f"{base_name}:{_line_of(route, 'group_by')}: route.group_by: the NotificationPolicy groups by nothing "
            "(groupBy: []), which a list's route can only take from a root route that groups by nothing, and the "
            "base's root groups by labels: give the policy (or the lists) labels to group by, or remove group_by "
            "from the base's root route")
    # In Alertmanager a child route that matches, even with `continue: true`, keeps the alert
    # from its parent's receiver; and once a base route with `continue: true` matched, every
    # later sibling is tried too. So that the e-mail lists change nothing the base routes,
    # the base's routes move, as written, under one child of the root that matches every
    # alert and names the root's receiver: ours go before it with `continue: true`, and each
    # alert then walks the base's tree exactly as before (that child sets nothing of its own,
    # so it inherits grouping and timing from the root like the base's routes did).
    if lists and not ours:
        routes = _wrap_base_routes(route, routes)
    if lists:
        routes.insert(0, emit.PLACEHOLDER.format("routes"))
    if lists or ours:
        receivers.append(emit.PLACEHOLDER.format("receivers"))
    comments.give_trailing_comment(receivers, receivers_tail)
    comments.give_trailing_comment(routes, routes_tail)
    if not routes:
        del route["routes"]
    skeleton = dump_yaml(yaml, config)
    placed = [match.group("name") for match in emit.PLACEHOLDER_LINE.finditer(skeleton)]
    expected = (["routes"] if lists else []) + (["receivers"] if lists or ours else [])
    assert sorted(placed) == sorted(expected), f"placeholders {placed} in the dump, expected {expected}"

    route_dash, receiver_dash = emit.placeholder_indent(skeleton, "routes"), emit.placeholder_indent(skeleton, "receivers")
    # A list that keeps its alerts from the base: after every list's route (so each list still
    # gets its own), a route with its matchers to the discard receiver, without continue, ends
    # the walk before the base's routes. Without base routes there is nothing to keep them from
    # (and a matching route already keeps them from the root's receiver).
    blockers = [{"receiver": DISCARD_RECEIVER, **({"matchers": list(item.matchers)} if item.matchers else {})}
                for item in lists if item.keep_from_base] if not ours or base_routes else []
    fixed = "".join(emit.item_lines({"name": DISCARD_RECEIVER}, receiver_dash)) if discard or blockers else ""
    blocking = "".join(line for blocker in blockers for line in emit.item_lines(blocker, route_dash))
    parts = []
    kept = RenderCache()
    tls = _tls_config(specs.server) if specs.server is not None else None
    cap = specs.server.max_recipients_per_message if specs.server is not None else None
    if catch_all is not None:  # the root's receiver: in every config a check assembles
        fixed += "".join(emit.item_lines(_receiver(catch_all, specs.routing_for(catch_all), tls, cap,
                                               mail_fields(specs, catch_all)), receiver_dash))
    for recipient_list in lists:
        routing = specs.routing_for(recipient_list)
        mail = mail_fields(specs, recipient_list)
        context = (routing, tls, cap, route_dash, receiver_dash, mail)
        hit = cache.get(id(recipient_list)) if cache is not None else None
        if hit is not None and hit.recipient_list is recipient_list and hit.context == context:
            part = hit.lines
        else:
            part = ("".join(emit.item_lines(_route(recipient_list, routing), route_dash)),
                    "".join(emit.item_lines(_receiver(recipient_list, routing, tls, cap, mail), receiver_dash)))
        kept[id(recipient_list)] = CachedPart(recipient_list, context, part)
        parts.append(part)
    if cache is not None:
        cache.clear()
        cache.update(kept)
    return Rendered(emit.assemble(skeleton, parts, fixed, wrapped=bool(lists) and not ours, blocking=blocking),
                    skeleton, tuple(parts),
                    fixed, bool(lists) and not ours, carried, blocking)


def render_kubernetes_secret(config_text: str, *, name: str = "alertmanager-main",
                             namespace: str = "kubesphere-monitoring-system",
                             templates: tuple[tuple[str, bytes], ...] = ()) -> str:
    """`config_text` wrapped in a new Kubernetes Secret manifest (reconciler.am.secret), as
    prometheus-operator reads it, marked as ours; each template file is one more key, which
    prometheus-operator mounts next to the config (render with
    RenderOptions(templates_dir=SECRET_TEMPLATE_DIR) so the config names them there)."""
    return new_secret(config_text, name=name, namespace=namespace, templates=templates,
                      labels={"app.kubernetes.io/managed-by": "notify-reconciler"})


def render_into_secret(config_text: str, secret_text: str, *, name: str | None = None, namespace: str | None = None,
                       templates: tuple[tuple[str, bytes], ...] = ()) -> str:
    """`config_text` put back into the live Secret it was rendered from (reconciler.am.secret.wrap),
    with the template files this render carries in place of an earlier render's."""
    return wrap(config_text, secret_text, name=name, namespace=namespace, templates=templates,
                replaced_prefix=CARRIED_PREFIX)


# -- building our parts --------------------------------------------------------------------

def _set_smtp_globals(config: CommentedMap, server: EmailServer, options: RenderOptions) -> None:
    glob = config.get("global")
    if glob is None:
        glob = CommentedMap()
        config.insert(0, "global", glob)
    keys = list(glob)
    position = next((i for i, k in enumerate(keys) if str(k).startswith("smtp_")), len(keys))
    tail = comments.take_trailing_comment(glob)
    for key in keys:
        if str(key).startswith("smtp_"):
            del glob[key]
    ours: list[tuple[str, Any]] = [
        ("smtp_smarthost", server.smarthost),
        ("smtp_from", server.sender),
    ]
    # Only when the spec names one: a render must not depend on the machine that made it
    # (CI, a laptop, the daemon's host); without it Alertmanager says "localhost".
    if server.hello:
        ours.append(("smtp_hello", server.hello))
    if server.username:
        ours.append(("smtp_auth_username", server.username))
        password_file = password_file_for(server, options)
        if password_file:
            ours.append(("smtp_auth_password_file", password_file))
        if server.auth_identity:
            ours.append(("smtp_auth_identity", server.auth_identity))
    ours.append(("smtp_require_tls", server.starttls))
    for offset, (key, value) in enumerate(ours):
        glob.insert(position + offset, key, value)
    glob.yaml_set_comment_before_after_key(ours[0][0], before=f"{MARK}: the smtp_* keys", indent=2)
    comments.give_trailing_comment(glob, tail)


def _root_route(config: CommentedMap, specs: Specs, base_name: str = "base") -> CommentedMap:
    route = config.get("route")
    if route is None:
        route = CommentedMap(receiver=DISCARD_RECEIVER)
        config.insert(_key_index_after(config, "global"), "route", route)
    catch_all = next((item for item in specs.lists if item.catch_all), None) if specs.email_enabled else None
    written = route.get("receiver")
    ours = _our_root_receiver(config, written)
    if catch_all is not None and not ours:
        raise BaseConfigError(
            f"{base_name}:{_line_of(route, 'receiver')}: route.receiver: the root route sends to {written!r}, and "
            f"the RecipientList {catch_all.name!r} (catchAll: true) would take that place: write receiver: "
            f"{DISCARD_RECEIVER} in the base's root route, or remove catchAll from the list")
    if ours:
        # Our own root (no base, or a base that is an earlier render): keep it in step with
        # the policy so a re-render cannot leave stale values behind. A catch-all list is its
        # receiver: what no route takes.
        route["receiver"] = PREFIX + catch_all.name if catch_all is not None else DISCARD_RECEIVER
        for key, value in _routing_fields(specs.routing).items():
            route[key] = _flow(value) if isinstance(value, list) else value
    if "routes" not in route or route["routes"] is None:
        route["routes"] = CommentedSeq()
    # Our entries are spliced in as block lines, so everything that holds them is block
    # style, whatever the base wrote (`route: {receiver: web}` is a common one-liner).
    config.fa.set_block_style()
    route.fa.set_block_style()
    route["routes"].fa.set_block_style()
    return route


def _our_root_receiver(config: CommentedMap, written: Any) -> bool:
    """Whether the root's receiver is one a render wrote: the discard receiver, or a catch-all
    list's, written as a render writes it."""
    if written == DISCARD_RECEIVER:
        return True
    receivers = config.get("receivers")
    return (isinstance(written, str) and bool(_OUR_LIST_RECEIVER.fullmatch(written)) and isinstance(receivers, list)
            and any(isinstance(item, dict) and item.get("name") == written and _is_our_receiver(item, {written})
                    for item in receivers))


def _route(recipient_list: RecipientList, routing: Routing) -> dict:
    route: dict = {"receiver": PREFIX + recipient_list.name}
    if recipient_list.matchers:
        route["matchers"] = list(recipient_list.matchers)
    if recipient_list.active_during:
        route["active_time_intervals"] = [PREFIX + name for name in recipient_list.active_during]
    if recipient_list.muted_during:
        route["mute_time_intervals"] = [PREFIX + name for name in recipient_list.muted_during]
    route.update(_routing_fields(routing))
    route["continue"] = True
    return route


def _routing_fields(routing: Routing) -> dict:
    return {"group_by": list(routing.group_by or ()), "group_wait": routing.group_wait,
            "group_interval": routing.group_interval, "repeat_interval": routing.repeat_interval}


def mail_fields(specs: Specs, recipient_list: RecipientList) -> tuple[tuple[str, str], ...]:
    """What a list's email_configs say about the mail beyond Alertmanager's defaults:
    ("subject", template string), ("html", call of the body template), ("text", ...)."""
    mail = specs.mail_for(recipient_list)
    fields = []
    if mail.subject is not None:
        fields.append(("subject", mail.subject))
    for kind, path in (("html", mail.html), ("text", mail.text)):
        if path is not None:
            fields.append((kind, '{{ template "%s" . }}' % specs.templates[path].body))
    return tuple(fields)


def _set_templates(config: CommentedMap, ours: list[str], options: RenderOptions, base_name: str) -> None:
    """Our template files under the top-level `templates:`, after the base's own entries;
    entries an earlier render wrote (file names starting with notify-reconciler-) go."""
    entries = config.get("templates")
    if entries is not None and not isinstance(entries, list):
        raise BaseConfigError(f"{base_name}:{_line_of(config, 'templates')}: templates: must be a list of file "
                              "paths or globs")
    folder = options.templates_dir.rstrip("/")
    paths = [f"{folder}/{name}" if folder else name for name in ours]
    if entries is None:
        if paths:
            config["templates"] = CommentedSeq(paths)
            config["templates"].fa.set_block_style()
        return
    removed = False
    for index in reversed(range(len(entries))):
        entry = entries[index]
        if isinstance(entry, str) and entry.rsplit("/", 1)[-1].startswith(CARRIED_PREFIX):
            del entries[index]
            removed = True
        elif paths and isinstance(entry, str) and _glob_takes_ours(entry, folder):
            raise BaseConfigError(
                f"{base_name}:{_line_of(entries, index)}: templates[{index}]: {entry!r} would also load the template "
                f"files notify-reconciler carries next to the config ({CARRIED_PREFIX}*.tmpl, earlier versions "
                "too, until they are removed), so which of their definitions wins would be left to chance: "
                "name your files, or keep them in a folder of their own (such as templates/*.tmpl)")
    if removed and not entries and not paths:
        del config["templates"]  # only ours were there: an earlier render put the key there
        return
    entries.extend(paths)


def _glob_takes_ours(entry: str, folder: str) -> bool:
    """Whether a base's `templates:` glob matches the files we carry into `folder` (the
    config's own folder when empty), as Go's filepath.Glob would: '*' and '?' never cross a
    '/', and a pattern's folder must be that same folder."""
    directory, _, pattern = entry.rpartition("/")
    if directory not in ("", ".", folder) or not any(mark in pattern for mark in "*?["):
        return False
    return fnmatch.fnmatchcase(f"{CARRIED_PREFIX}t-0123456789ab.tmpl", pattern)


def _receiver(recipient_list: RecipientList, routing: Routing, tls: dict | None, cap: int | None = None,
              mail: tuple[tuple[str, str], ...] = ()) -> dict:
    """One email_config per message the list is sent as: one for the whole list, or one per
    `cap` recipients (maxRecipientsPerMessage), or one per recipient (delivery:
    perRecipient). Each recipient is in exactly one, so each gets the alert once."""
    configs = []
    for message in messages(recipient_list, cap):
        email: dict = {
            "to": ", ".join(r.email for r in message),
            "send_resolved": bool(routing.send_resolved),
            "headers": {"To": to_header(recipient_list.name, message)},
        }
        fields = dict(mail)
        if "subject" in fields:
            email["headers"]["Subject"] = fields["subject"]
        for kind in ("html", "text"):
            if kind in fields:
                email[kind] = fields[kind]
        if tls:
            email["tls_config"] = tls
        configs.append(email)
    return {"name": PREFIX + recipient_list.name, "email_configs": configs}


def messages(recipient_list: RecipientList, cap: int | None) -> list[tuple[Recipient, ...]]:
    """The recipients of each message Alertmanager sends the list for one notification: all of
    them in one, or `cap` (the EmailServer's maxRecipientsPerMessage) at a time, or one each
    (delivery: perRecipient)."""
    recipients = recipient_list.recipients
    if recipient_list.delivery == "perRecipient":
        return [(recipient,) for recipient in recipients]
    size = cap or len(recipients)
    return [recipients[start:start + size] for start in range(0, len(recipients), size)]


def to_header(list_name: str | RecipientList, recipients: tuple[Recipient, ...] | None = None) -> str:
    """The To: header value of one message: its recipients if that line fits (a name that is
    not ASCII written as RFC 2047 encoded-words, which Alertmanager sends as they are), else,
    for one recipient, the address alone, and for several the RFC 5322 group `<list-name>:;`
    (the envelope still names every recipient)."""
    if not isinstance(list_name, str):  # a RecipientList
        list_name, recipients = list_name.name, list_name.recipients
    recipients = recipients or ()
    listed = ", ".join(_mailbox(r) for r in recipients)
    if line_octets("To", listed) <= MAX_HEADER_LINE:
        return listed
    if len(recipients) == 1:  # a long name: at most 100 characters, 1,300 octets encoded
        return recipients[0].email
    return f"{list_name}:;"


def _mailbox(recipient: Recipient) -> str:
    if not recipient.name:
        return recipient.email
    # The schema keeps quotes, backslashes, braces and control characters out of names.
    return f"{phrase(recipient.name)} <{recipient.email}>"


def _tls_config(server: EmailServer) -> dict | None:
    if not (server.ssl or server.starttls):
        return None
    tls: dict = {}
    if server.tls.ca_file:
        tls["ca_file"] = server.tls.ca_file
    if server.tls.server_name:
        tls["server_name"] = server.tls.server_name
    if server.tls.insecure_skip_verify:
        tls["insecure_skip_verify"] = True
    return tls or None


# -- time windows: our entries of the top-level time_intervals --------------------------------

def _set_time_intervals(config: CommentedMap, windows: tuple[TimeWindow, ...], base_name: str) -> None:
    """Replace the `time_intervals` entries an earlier render wrote (named with our prefix)
    with one per TimeWindow, after the base's own entries, which stay as written. A
    base entry in our namespace that is not shaped like ours, or one in the deprecated
    `mute_time_intervals`, is refused: the render would drop or shadow it."""
    for key in ("time_intervals", "mute_time_intervals"):
        value = config.get(key)
        if value is not None and not isinstance(value, list):
            raise BaseConfigError(f"{base_name}:{_line_of(config, key)}: {key}: must be a list")
    for key in ("time_intervals", "mute_time_intervals"):
        for index, item in enumerate(config.get(key) or ()):
            if isinstance(item, dict) and _in_our_namespace(item.get("name")) \
                    and not (key == "time_intervals" and _is_our_time_interval(item)):
                raise BaseConfigError(
                    f"{base_name}:{_line_of(item, 'name')}: {key}[{index}].name: {item.get('name')!r} is a name "
                    f"notify-reconciler keeps for the time intervals it writes ({PREFIX}<TimeWindow>), and this "
                    f"one is not one of them: give yours a name that does not start with {PREFIX!r}")
    entries = config.get("time_intervals")
    if entries is not None:
        lead = _remove_owned(entries, _is_our_time_interval, base_name, "time_intervals")
        comments.give_leading_comment(config, "time_intervals", lead)
        if not entries:
            del config["time_intervals"]
    if not windows:
        return
    if config.get("time_intervals") is None:
        config.insert(_key_index_after(config, "receivers") or len(config), "time_intervals", CommentedSeq())
    entries = config["time_intervals"]
    entries.fa.set_block_style()
    tail = comments.take_trailing_comment(entries)  # the end of the list's, not its last entry's
    first = len(entries)
    entries.extend(_time_interval(window) for window in windows)
    entries[first].yaml_set_start_comment(f"{MARK}: the {PREFIX}* time intervals, one per TimeWindow", indent=2)
    comments.give_trailing_comment(entries, tail)


def _time_interval(window: TimeWindow) -> CommentedMap:
    interval = CommentedMap()
    for key, value in window.spec:
        if key == "times":
            interval[key] = CommentedSeq(_flow_map({"start_time": _quoted(item["start"]),
                                                    "end_time": _quoted(item["end"])}) for item in value)
        elif isinstance(value, list):
            interval[key] = _flow([_quoted(item) for item in value])
        else:
            interval[key] = _quoted(value)
    entry = CommentedMap(name=PREFIX + window.name)
    entry["time_intervals"] = CommentedSeq([interval])
    return entry


def _quoted(value: Any) -> Any:
    """A string quoted wherever a YAML 1.1 reader (Alertmanager's) could take it for another
    type: '09:00' is a base-60 number there, and '1:5' too."""
    if isinstance(value, str) and emit.scalar_text(value, flow=True) != value:
        return SingleQuotedScalarString(value)
    return value


def _flow_map(items: dict) -> CommentedMap:
    mapping = CommentedMap(items)
    mapping.fa.set_flow_style()
    return mapping


def _is_our_time_interval(item: Any) -> bool:
    """A time interval exactly as a render writes it: our name, one entry."""
    return (isinstance(item, dict) and set(item) == {"name", "time_intervals"}
            and isinstance(item["name"], str) and bool(_OUR_WINDOW.fullmatch(item["name"]))
            and isinstance(item["time_intervals"], list) and len(item["time_intervals"]) == 1)


_OUR_WINDOW = re.compile(re.escape(PREFIX) + r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def _refuse_our_windows_in_base_routes(route: CommentedMap, base_name: str) -> None:
    """The base's routes may not name a time interval of ours: the render replaces them, and
    a TimeWindow deleted from git would take the base's route with it."""
    for node, path in _base_routes(route):
        for key in ("active_time_intervals", "mute_time_intervals"):
            names = node.get(key)
            for name in names if isinstance(names, list) else ():
                if _in_our_namespace(name):
                    raise BaseConfigError(
                        f"{base_name}:{_line_of(node, key)}: {path}.{key}: {name!r} is a time interval "
                        f"notify-reconciler writes from a TimeWindow and replaces on every render: define a time "
                        f"interval of your own in the base (a name not starting with {PREFIX!r}), or use "
                        "activeDuring/mutedDuring on a RecipientList")


def _base_routes(route: CommentedMap):
    """Each route of the tree (a mapping) with its path (route.routes[0]...), depth first,
    each node once (YAML aliases may share one)."""
    seen: set[int] = set()
    pending: list[tuple[Any, str]] = [(route, "route")]
    while pending:
        node, path = pending.pop()
        if not isinstance(node, dict) or id(node) in seen:
            continue
        seen.add(id(node))
        yield node, path
        children = node.get("routes")
        if isinstance(children, list):
            pending.extend(reversed([(child, f"{path}.routes[{index}]") for index, child in enumerate(children)]))


# -- the base and what we own in it ---------------------------------------------------------

MAX_BASE_DEPTH = BASE_DEPTH
"""Nesting levels a base may have (reconciler.am.reading reads it)."""


def _load_base(yaml: YAML, text: str, name: str) -> CommentedMap | None:
    """The base as a round-trip tree, read as every command reads an Alertmanager config
    (reconciler.am.reading): located errors, the depth limit, scalars kept as written."""
    # A base saved with CRLF (or CR) line ends: YAML reads every one of them as a line break,
    # as Alertmanager's reader does, but ruamel keeps the CR inside the comments it carries
    # over, which would leave a stray CR in the render. The render writes LF, as it always does.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    config = read_roundtrip(text, name, limit=MAX_BASE_DEPTH, what="a base")
    if config is None:
        return None
    if not isinstance(config, CommentedMap):
        raise BaseConfigError(f"{name}:1:1: the base must be an Alertmanager config (a mapping with route, "
                              "receivers, ...)")
    return config


def _check_base_shape(config: CommentedMap, name: str) -> None:
    for key, kind, words in (("global", dict, "a mapping"), ("route", dict, "a mapping"),
                             ("receivers", list, "a list")):
        value = config.get(key)
        if value is not None and not isinstance(value, kind):
            raise BaseConfigError(f"{name}:{_line_of(config, key)}: {key}: must be {words}")
    route = config.get("route")
    if isinstance(route, dict):
        routes = route.get("routes")
        if routes is not None and not isinstance(routes, list):
            raise BaseConfigError(f"{name}:{_line_of(route, 'routes')}: route.routes: must be a list")
        if "receiver" in route and not isinstance(route["receiver"], str):
            raise BaseConfigError(f"{name}:{_line_of(route, 'receiver')}: route.receiver: must be a receiver name")
        if not route.get("receiver"):
            raise BaseConfigError(f"{name}:{_line_of(config, 'route')}: route: the root route has no receiver, which "
                                  "Alertmanager requires (it gets every alert no other route takes): add `receiver: "
                                  "<name>` naming one of the base's receivers")


def _receivers(config: CommentedMap) -> CommentedSeq:
    if config.get("receivers") is None:
        config["receivers"] = CommentedSeq()
    config["receivers"].fa.set_block_style()  # our entries are spliced in as block lines
    return config["receivers"]


def _remove_owned(entries: CommentedSeq, ours: Callable[[Any], bool], base_name: str, where: str,
                  leading_only: bool = False) -> str:
    """Remove our entries: those `ours` recognises (with `leading_only`, only the run of them
    at the start, where a render puts them). One that only carries a name of ours is the
    base's, and is refused: the render would drop or replace it. A comment that stood below
    one of ours belongs to the entry after it (ruamel keeps it with the entry above), so it
    stays where it was; returns the one that belongs above the first entry left, for
    `comments.give_leading_comment`."""
    count = len(_leading(entries, ours))
    if not leading_only:
        for index in range(count, len(entries)):
            item = entries[index]
            if not ours(item) and isinstance(item, dict) and _in_our_namespace(item.get("name")):
                raise BaseConfigError(
                    f"{base_name}:{_line_of(item, 'name')}: {where}[{index}].name: {item.get('name')!r} is a name "
                    f"notify-reconciler keeps for the receivers it writes ({PREFIX}<list>, {DISCARD_RECEIVER}), "
                    "and this one is not one of them: give your receiver (and its routes) a name that does not "
                    f"start with {PREFIX!r}")
    lead = ""
    for index in reversed(range(len(entries))):
        item = entries[index]
        if (index < count) if leading_only else ours(item):
            tail = comments.take_trailing_comment(item)
            del entries[index]
            if index > 0:
                comments.give_trailing_comment(entries[index - 1], tail)
            else:
                lead = tail
    return lead


def _leading(entries: list, ours: Callable[[Any], bool]) -> list:
    count = 0
    while count < len(entries) and ours(entries[count]):
        count += 1
    return entries[:count]


def _in_our_namespace(name: Any) -> bool:
    return isinstance(name, str) and name.startswith(PREFIX)


_OUR_LIST_RECEIVER = re.compile(re.escape(PREFIX) + r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_OUR_EMAIL_KEYS = frozenset({"to", "send_resolved", "headers"})
_OUR_ROUTE_KEYS = frozenset({"receiver", "matchers", "group_by", "group_wait", "group_interval", "repeat_interval",
                             "continue", "active_time_intervals", "mute_time_intervals"})


def _is_our_receiver(item: Any, routed: set[str]) -> bool:
    """A receiver exactly as a render writes it: the discard receiver, or, for a list whose
    route (`routed`) a render wrote, one e-mail config with to, send_resolved, a To header
    and perhaps tls_config."""
    if not isinstance(item, dict):
        return False
    name = item.get("name")
    if name == DISCARD_RECEIVER:
        return set(item) == {"name"}
    if name not in routed or set(item) != {"name", "email_configs"}:
        return False
    configs = item["email_configs"]
    # One per message: several for a recipient cap or perRecipient delivery.
    return isinstance(configs, list) and len(configs) >= 1 and all(_is_our_email_config(email) for email in configs)


def _is_our_email_config(email: Any) -> bool:
    return (isinstance(email, dict) and set(email) - {"tls_config", "html", "text"} == _OUR_EMAIL_KEYS
            and isinstance(email["headers"], dict) and "To" in email["headers"]
            and set(email["headers"]) <= {"To", "Subject"})


def _is_our_route(item: Any) -> bool:
    """A route exactly as a render writes it: to a list's receiver, continuing; or, for a list
    with keepFromBase, to the discard receiver with only matchers."""
    if isinstance(item, dict) and item.get("receiver") == DISCARD_RECEIVER:
        return set(item) <= {"receiver", "matchers"}
    return (isinstance(item, dict) and isinstance(item.get("receiver"), str)
            and bool(_OUR_LIST_RECEIVER.fullmatch(item["receiver"])) and item.get("continue") is True
            and set(item) <= _OUR_ROUTE_KEYS)


def _drop_old_fallback(route: CommentedMap, routes: CommentedSeq) -> None:
    """Renders before the base's routes went under one route ended with a bare route to the
    root's receiver, after the base's own routes: a render over such a render (whose routes of
    ours were just removed) takes it away, as those renders did themselves."""
    if len(routes) > 1 and isinstance(routes[-1], dict) and dict(routes[-1]) == {"receiver": route.get("receiver")}:
        tail = comments.take_trailing_comment(routes[-1])
        del routes[-1]
        comments.give_trailing_comment(routes[-1], tail)


def _unwrap_base_routes(route: CommentedMap, routes: CommentedSeq) -> CommentedSeq:
    """Undo `_wrap_base_routes` of an earlier render (whose own routes were just removed from
    before it): the one route left, to the root's receiver and setting nothing else, gives
    back the base's routes it holds."""
    if len(routes) != 1 or not isinstance(routes[0], dict) or set(routes[0]) - {"receiver", "routes"} \
            or routes[0].get("receiver") != route.get("receiver"):
        return routes
    wrapper = routes[0]
    inner = wrapper.get("routes")
    if not isinstance(inner, list):
        inner = CommentedSeq()
    inner = inner if isinstance(inner, CommentedSeq) else CommentedSeq(inner)
    comments.move_key_comment(wrapper, route, "routes")
    comments.shift_comments(inner, -comments.NESTED)
    route["routes"] = inner
    inner.fa.set_block_style()
    return inner


def _wrap_base_routes(route: CommentedMap, routes: CommentedSeq) -> CommentedSeq:
    """The root's routes, moved under one new child of the root that names the root's
    receiver; returns the root's new list of routes, holding only that child."""
    wrapper = CommentedMap(receiver=route["receiver"])
    if routes:
        wrapper["routes"] = routes
        comments.move_key_comment(route, wrapper, "routes")
        comments.shift_comments(routes, comments.NESTED)
    wrapper.fa.set_block_style()
    outer = CommentedSeq([wrapper])
    outer.fa.set_block_style()
    route["routes"] = outer
    return outer


def _refuse_our_names_in_base_routes(route: CommentedMap, base_name: str, ours: str | None = None) -> None:
    """Every route left is the base's: none may send to a name of ours, which the render
    removes or replaces (the root may keep the discard receiver an earlier render gave it)."""
    for node, path in _base_routes(route):
        receiver = node.get("receiver")
        if _in_our_namespace(receiver) and not (path == "route" and receiver in (DISCARD_RECEIVER, ours)):
            raise BaseConfigError(
                f"{base_name}:{_line_of(node, 'receiver')}: {path}.receiver: {receiver!r} is a receiver "
                f"notify-reconciler writes and replaces on every render (names starting with {PREFIX!r} are "
                "its own): route to a receiver of your own instead")


# -- YAML plumbing ---------------------------------------------------------------------------

YAML = CommentedBase = CommentedMap = CommentedSeq = CommentMark = None
LiteralScalarString = SingleQuotedScalarString = CommentToken = None


def _import_yaml() -> None:
    """Import ruamel.yaml on the first render (every entry point that writes YAML calls this):
    the modules that only need render's options and names (deploy, a `diff` whose render is
    in the cache) should not pay for its import. Binds this module's names for it."""
    global YAML, CommentedBase, CommentedMap, CommentedSeq, CommentMark
    global LiteralScalarString, SingleQuotedScalarString, CommentToken
    if CommentToken is not None:
        return
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedBase, CommentedMap, CommentedSeq
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.scalarstring import LiteralScalarString, SingleQuotedScalarString
    from ruamel.yaml.tokens import CommentToken  # last: the others are bound once this is


def yaml_writer() -> YAML:
    """The round-trip YAML every file we write goes through (reconciler.am.reading.roundtrip_yaml)."""
    _import_yaml()
    return roundtrip_yaml()


def dump_yaml(yaml: YAML, data: Any) -> str:
    return dump(yaml, data)


def _flow(items: list) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def _key_index_after(mapping: CommentedMap, key: str) -> int:
    keys = list(mapping)
    return keys.index(key) + 1 if key in keys else 0


def _line_of(container: CommentedMap | CommentedSeq, key: str | int) -> str:
    """'line:column' of a mapping's key or a sequence's item, as the base file has it."""
    try:
        line, column = container.lc.item(key) if isinstance(container, list) else container.lc.key(key)
        return f"{line + 1}:{column + 1}"
    except (AttributeError, KeyError, TypeError, IndexError):
        return "1:1"
