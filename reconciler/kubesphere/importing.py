"""KubeSphere's e-mail objects (notification-manager's Config and Receivers, the password
Secret, and optionally Alertmanager's `alertmanager-main`) -> a spec folder. Pure: bytes in,
``{path: text}`` and notes out, in the shape of reconciler.importer's output; the CLI writes it.

What it guarantees:
- the EmailServer is the Config labelled `type: default` (the one the console edits; the only
  e-mail Config when none is labelled), as notification-manager talks to it: port 465 is
  implicit TLS, any other port STARTTLS exactly when `requireTLS` is true, and without a `tls`
  block certificates are not checked (the EmailServer says `insecureSkipVerify: true`, and a
  note says so);
- each global e-mail Receiver becomes a RecipientList whose matchers select exactly the alerts
  its `alertSelector` selects (reconciler.kubesphere.selector, notification-manager 2.6's
  meaning; a note where 2.4 and 2.5 decided otherwise); a Receiver with more than 50 addresses
  becomes several lists with the same matchers (notification-manager mails each recipient
  alone anyway); `enabled: false` on every Receiver is the EmailServer's `enabled: false`, and a
  disabled Receiver beside enabled ones is left out (it mails nobody now), with a note;
- the repeat interval and grouping come from `alertmanager-main`'s route to notification-manager
  when that Secret is given, else KubeSphere's defaults (12h), with a note;
- the password is never written into any file: the EmailServer names a password file, and
  `Imported.passwords` holds what that file must contain, when the Secret was given.
"""

from __future__ import annotations

import re
from typing import Any

from ..am.reading import dump, read_config, roundtrip_yaml
from ..am.routes import route_tree, walk
from ..errors import AlertmanagerConfigError, Location, SpecError, SpecErrors
from ..values import Imported
from ..specs.pipeline import parse_specs
from .objects import EmailConfig, EmailReceiver, Objects, read_objects, secret_value
from .selector import Untranslatable, as_matchers

DEFAULT_PASSWORD_FILE = "/etc/notify-reconciler/smtp-password"
SECRET_NAMESPACE = "kubesphere-monitoring-federated"
"""notification-manager's defaultSecretNamespace in KubeSphere: where a reference without a
namespace is looked up."""
KUBESPHERE_ROUTING = {"repeatInterval": "12h", "groupBy": ["namespace", "alertname", "rule_id"],
                      "groupWait": "30s", "groupInterval": "5m"}
"""alertmanager-main's route as ks-installer writes it."""
SPEC_FOLDER = "specs"
MAX_RECIPIENTS = 50
LIST_ANNOTATION = "notify-reconciler/list"
"""The RecipientList a rendered Receiver came from (rendering.py writes it)."""


_OBJECT_OF_GROUP = re.compile(rb"""(?m)^[ \t]*(?:-[ \t]+)?["']?apiVersion["']?[ \t]*:[ \t]*["']?notification\.kubesphere\.io/""")


def is_kubesphere(data: bytes) -> bool:
    """Whether `data` holds notification-manager objects (for the CLI to choose a reader): an
    apiVersion of the group, in YAML or JSON (a comment or a URL naming the group is not one)."""
    return _OBJECT_OF_GROUP.search(data) is not None


def import_objects(data: bytes, name: str = "-", *, password_file: str = DEFAULT_PASSWORD_FILE) -> Imported:
    """The spec folder for the objects in `data` (the file `name`); SpecErrors, located in
    `name`, for what cannot be imported."""
    objects = read_objects(data, name)
    notes = list(objects.notes)
    config = _email_config(objects, name)
    receivers = _receivers(objects, name, notes)
    passwords: dict[str, str] = {}
    server = _server(objects, config, password_file, passwords, notes)
    enabled = [r for r in receivers if r.enabled]
    if not enabled:
        server["enabled"] = False
        notes.append("every e-mail Receiver is disabled: the EmailServer says enabled: false")
    else:
        for receiver in receivers:
            if not receiver.enabled:
                notes.append(f"{receiver.location}: Receiver {receiver.name!r} left out: it is disabled (enabled: "
                             "false), and a RecipientList has no toggle of its own; the others are enabled")
        receivers = enabled
    policy = _policy(objects, name, notes)
    header = f"# imported from {name} by notify-reconciler import\n"
    files = {f"{SPEC_FOLDER}/email-server.yaml": header + document("EmailServer", "smtp", server),
             f"{SPEC_FOLDER}/notification-policy.yaml": header + document("NotificationPolicy", "default", policy)}
    origin: dict[str, Location] = {"email-server.yaml": config.location}
    lists: dict[str, list[str]] = {}
    errors: list[SpecError] = []
    taken = {"email-server", "notification-policy"}
    for receiver in receivers:
        try:
            translated = as_matchers(receiver.selector)
        except Untranslatable as exc:
            errors.append(SpecError(receiver.at.get("spec.email.alertSelector", receiver.location),
                                    "spec.email.alertSelector", str(exc)))
            continue
        where = receiver.at.get("spec.email.alertSelector", receiver.location)
        notes += [f"{where}: {note}" for note in translated.notes]
        if receiver.templates:
            notes.append(f"{receiver.location}: Receiver {receiver.name!r}: {', '.join(receiver.templates)} not "
                         "carried over (notification-manager's own templates): the list uses the default mail")
        recipients = _once(receiver.to)
        if len(recipients) != len(receiver.to):
            notes.append(f"{receiver.location}: Receiver {receiver.name!r}: an address given twice is listed once")
        chunks = [recipients[i:i + MAX_RECIPIENTS] for i in range(0, len(recipients), MAX_RECIPIENTS)]
        base = _slug(receiver.annotations.get(LIST_ANNOTATION) or receiver.name)
        for number, chunk in enumerate(chunks):
            list_name = _unique(base if number == 0 else f"{base}-{number + 1}", taken)
            spec: dict[str, Any] = {"recipients": chunk}
            if translated.matchers:
                spec["matchers"] = [matcher.text() for matcher in translated.matchers]
            files[f"{SPEC_FOLDER}/{list_name}.yaml"] = (
                f"# imported from {name} by notify-reconciler import: the Receiver {receiver.name!r}\n"
                + document("RecipientList", list_name, spec))
            origin[f"{list_name}.yaml"] = receiver.location
            lists.setdefault(receiver.name, []).append(list_name)
        if len(chunks) > 1:
            notes.append(f"{receiver.location}: Receiver {receiver.name!r} has {len(recipients)} addresses: split into "
                         f"{len(chunks)} lists of at most {MAX_RECIPIENTS} with the same matchers")
    if errors:
        raise SpecErrors(errors)
    _check(files, origin)
    return Imported(files, tuple(notes), passwords, {receiver: tuple(names) for receiver, names in lists.items()})


def _email_config(objects: Objects, name: str) -> EmailConfig:
    defaults = [c for c in objects.configs if c.labels.get("type") == "default"]
    chosen = defaults or list(objects.configs)
    if not chosen:
        raise SpecErrors([SpecError(Location(name, 1, 1), "", "holds no e-mail Config (spec.email) of "
                                    "notification.kubesphere.io: give the Config default-email-config with the "
                                    "Receivers (kubectl get configs.notification.kubesphere.io,"
                                    "receivers.notification.kubesphere.io -o yaml)")])
    if len(chosen) > 1:
        raise SpecErrors([SpecError(config.location, "metadata.name",
                                    f"{len(chosen)} e-mail Configs{' labelled type: default' if defaults else ''} "
                                    f"({', '.join(c.name for c in chosen)}): notification-manager's Receivers use one; "
                                    "give only the one they use") for config in chosen])
    return chosen[0]


def _receivers(objects: Objects, name: str, notes: list[str]) -> list[EmailReceiver]:
    errors = [SpecError(r.at.get("spec.email.emailConfigSelector", r.location), "spec.email.emailConfigSelector",
                        "a Receiver that picks its own Config cannot become a RecipientList (they all use the one "
                        "EmailServer): remove emailConfigSelector to use the default Config, or leave the Receiver "
                        "out") for r in objects.receivers if r.config_selector]
    if errors:
        raise SpecErrors(errors)
    if not objects.receivers:
        raise SpecErrors([SpecError(Location(name, 1, 1), "", "holds no e-mail Receiver: give the Receivers with "
                                    "the Config (global-email-receiver is the console's)")])
    return list(objects.receivers)


def _server(objects: Objects, config: EmailConfig, password_file: str, passwords: dict[str, str],
            notes: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {"host": config.host, "port": config.port}
    where = config.location
    if config.port == 465:
        spec["ssl"] = True  # notification-manager dials TLS on 465, whatever requireTLS says
        if config.require_tls:
            notes.append(f"{config.at.get('spec.email.requireTLS', where)}: requireTLS on port 465: notification-"
                         "manager dials TLS and then asks for STARTTLS, which a port-465 server does not offer, so "
                         "every mail fails today; the EmailServer says ssl: true (implicit TLS), which works")
    else:
        spec["starttls"] = config.require_tls
    uses_tls = config.port == 465 or config.require_tls
    if config.tls is None and uses_tls:
        spec["tls"] = {"insecureSkipVerify": True}
        notes.append(f"{where}: the Config has no tls block, so notification-manager does not check the server's "
                     "certificate; the EmailServer says the same (tls.insecureSkipVerify: true): remove it to have "
                     "the certificate checked")
    elif config.tls is not None:
        if config.tls.client_certificate:
            raise SpecErrors([SpecError(config.at.get("spec.email.tls", where), "spec.email.tls.clientCertificate",
                                        "an EmailServer cannot present a client certificate: remove it if the server "
                                        "does not need it, then import again")])
        tls = {key: value for key, value in (("serverName", config.tls.server_name),
                                             ("insecureSkipVerify", config.tls.insecure_skip_verify)) if value}
        if tls:
            spec["tls"] = tls
        if config.tls.root_ca:
            notes.append(f"{config.at.get('spec.email.tls', where)}: tls.rootCA is not carried over: write the CA "
                         "certificate to a file on the host and name it in the EmailServer's spec.tls.caFile")
    if config.auth_secret is not None:
        raise SpecErrors([SpecError(config.at.get("spec.email.authSecret", where), "spec.email.authSecret",
                                    "an EmailServer cannot say this (the CRAM-MD5 secret): remove it if the server "
                                    "does not need it, then import again")])
    if config.username:
        spec["username"] = config.username
        if config.password is not None:
            spec["passwordFile"] = password_file
            password = secret_value(objects, config.password, SECRET_NAMESPACE)
            if password is not None:
                passwords[password_file] = password
            else:
                reference = config.password.secret
                assert reference is not None
                notes.append(f"{config.password.location}: the password is in the Secret {reference} (not given): put "
                             f"it into {password_file} (kubectl -n {reference.namespace or SECRET_NAMESPACE} get secret "
                             f"{reference.name} -o jsonpath='{{.data.{reference.key}}}' | base64 -d > {password_file})")
        if config.identity:
            spec["authIdentity"] = config.identity
    spec["from"] = config.sender
    if config.hello:
        spec["hello"] = config.hello
    return spec


def _policy(objects: Objects, name: str, notes: list[str]) -> dict[str, Any]:
    holding = [s for s in objects.secrets if "alertmanager.yaml" in s.values]
    if not holding:
        notes.append("the repeat interval and grouping are KubeSphere's defaults (12h; by namespace, alertname, "
                     "rule_id): give the Secret alertmanager-main too to take them from there")
        return dict(KUBESPHERE_ROUTING)
    secret = holding[0]
    shown = f"{name}[{secret.name}.alertmanager.yaml]"
    try:
        read = read_config(secret.values["alertmanager.yaml"], shown)
        root = route_tree(read)
    except AlertmanagerConfigError as exc:
        raise SpecErrors([exc.as_spec_error()]) from None
    route = next((route for route, _ in walk(root) if _to_notification_manager(read.data, route.receiver)), root)
    if route is root:
        notes.append(f"{secret.location}: no route of {secret.name} leads to notification-manager's webhook: the "
                     "repeat interval and grouping are its root route's")
    return {"repeatInterval": route.repeat_interval, "groupBy": ["..."] if route.group_by_all else list(route.group_by),
            "groupWait": route.group_wait, "groupInterval": route.group_interval}


def _to_notification_manager(config: Any, receiver: str) -> bool:
    receivers = config.get("receivers") if isinstance(config, dict) else None
    for entry in receivers if isinstance(receivers, list) else ():
        if isinstance(entry, dict) and entry.get("name") == receiver:
            hooks = entry.get("webhook_configs")
            return any(isinstance(hook, dict) and "notification-manager" in str(hook.get("url"))
                       for hook in hooks if isinstance(hooks, list)) if isinstance(hooks, list) else False
    return False


def _check(files: dict[str, str], origin: dict[str, Location]) -> None:
    """The specs must validate: a value notification-manager takes but a spec may not (an
    address Alertmanager would refuse, say) is an error located at the object it came from."""
    prefix = f"{SPEC_FOLDER}/"
    try:
        parse_specs({path.removeprefix(prefix): text.encode() for path, text in files.items()})
    except SpecErrors as exc:
        raise SpecErrors([SpecError(origin.get(error.file, Location(error.file)), "",
                                    f"the {_kind(error.file)} this becomes would be invalid: {error.path}: "
                                    f"{error.message}") for error in exc.errors]) from None


def _kind(file: str) -> str:
    return {"email-server.yaml": "EmailServer", "notification-policy.yaml": "NotificationPolicy"}.get(
        file, "RecipientList")


def _once(addresses: tuple[str, ...]) -> list[str]:
    """Each address once, the first spelling kept (a spec compares them ignoring case)."""
    seen: dict[str, str] = {}
    for address in addresses:
        seen.setdefault(address.lower(), address)
    return list(seen.values())


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-")
    return slug or "list"


def _unique(name: str, taken: set[str]) -> str:
    found, number = name, 2
    while found in taken:
        found, number = f"{name[:60]}-{number}", number + 1
    taken.add(found)
    return found


_SPEC_ORDER = ("enabled", "host", "port", "ssl", "starttls", "tls", "username", "passwordFile", "authIdentity", "from",
               "hello", "recipients", "matchers", "repeatInterval", "groupBy", "groupWait", "groupInterval")


def document(kind: str, name: str, spec: dict) -> str:
    """A spec document as the import writes it: fields in a fixed order, short lists in flow style."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    def commented(value: Any) -> Any:
        if isinstance(value, dict):
            return CommentedMap((str(k), commented(v)) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            seq = CommentedSeq(commented(v) for v in value)
            if not any(isinstance(v, (dict, list)) for v in value) and len(value) <= 5:
                seq.fa.set_flow_style()
            return seq
        return value

    ordered = {key: spec[key] for key in sorted(spec, key=_SPEC_ORDER.index)}
    return dump(roundtrip_yaml(), commented({"apiVersion": "notify-reconciler/v1", "kind": kind,
                                             "metadata": {"name": name}, "spec": ordered}))


__all__ = ["DEFAULT_PASSWORD_FILE", "Imported", "import_objects", "is_kubesphere"]
