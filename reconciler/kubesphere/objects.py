"""notification-manager's e-mail objects, read and checked: the one reader of that format. Pure.

Takes what `kubectl get configs.notification.kubesphere.io,receivers.notification.kubesphere.io
-o yaml` prints (a `v1` `List`, with what the API server adds: uid, resourceVersion,
managedFields, status), multi-document YAML, or single objects, with Secrets (`v1`) beside them,
and returns typed objects:

- `EmailConfig`: a `Config` of `notification.kubesphere.io`, `v2beta2` or `v2beta1`, with
  `spec.email` (the SMTP server); the password as a `Credential` (an inline value, or a
  reference to a Secret's key: v2beta2 `valueFrom.secretKeyRef`, v2beta1 `{name, key}`);
- `EmailReceiver`: a `Receiver` with `spec.email` (`to`, `enabled`, `alertSelector`);
- `SecretObject`: a core/v1 Secret, its `data` (base64) and `stringData` decoded.

Located `SpecError`s (file:line:col of the input) for what is not one of those (another kind or
API group, another version), a Receiver without `to`, a selector notification-manager refuses
(unknown operator, invalid key, value or regex), a tenant's Receiver or Config, and field values
of the wrong type. Configs and Receivers of other channels (Slack, WeChat...) are left out with
a note. Secret values are never put into a message.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from ..errors import Location, SpecError, SpecErrors
from ..yamlio.loader import Document, KeyPath, Limits, format_path, load_file
from .selector import OPERATORS, Requirement, Selector, requirement_problem

GROUP = "notification.kubesphere.io"
VERSIONS = ("v2beta2", "v2beta1")
LIMITS = Limits(max_file_bytes=16 * 1024 * 1024, max_depth=64, max_nodes=2_000_000)
"""A cluster's List with managedFields is larger and deeper than a spec file."""
KUBECTL = ("kubectl get configs.notification.kubesphere.io,receivers.notification.kubesphere.io -l 'type in "
           "(default,global)' -o yaml")


@dataclass(frozen=True)
class SecretRef:
    name: str
    key: str
    namespace: str | None = None

    def __str__(self) -> str:
        return f"{self.namespace + '/' if self.namespace else ''}{self.name}[{self.key}]"


@dataclass(frozen=True)
class Credential:
    """A password as notification-manager's Credential holds it: inline, or in a Secret."""

    value: str | None = field(default=None, repr=False)
    secret: SecretRef | None = None
    location: Location = field(default=Location(""), compare=False)


@dataclass(frozen=True)
class TLS:
    insecure_skip_verify: bool = False
    server_name: str | None = None
    root_ca: bool = False
    """Whether a CA is given (tls.rootCA): an EmailServer reads its CA from a file instead."""
    client_certificate: bool = False


@dataclass(frozen=True)
class EmailConfig:
    name: str
    api: str
    labels: dict[str, str]
    sender: str
    host: str
    port: int
    require_tls: bool = False
    hello: str | None = None
    username: str | None = None
    identity: str | None = None
    password: Credential | None = None
    auth_secret: Credential | None = None
    tls: TLS | None = None
    location: Location = field(default=Location(""), compare=False)
    at: dict[str, Location] = field(default_factory=dict, compare=False, repr=False)
    """Field path ('spec.email.smartHost.port') -> where it was written."""


@dataclass(frozen=True)
class EmailReceiver:
    name: str
    api: str
    labels: dict[str, str]
    to: tuple[str, ...]
    enabled: bool = True
    """False only when written so: notification-manager sends when the field is absent."""
    selector: Selector | None = None
    config_selector: bool = False
    """Whether it picks its Config with emailConfigSelector (else the default Config)."""
    templates: tuple[str, ...] = ()
    """The template fields it sets (template, subjectTemplate, tmplType, tmplText)."""
    location: Location = field(default=Location(""), compare=False)
    at: dict[str, Location] = field(default_factory=dict, compare=False, repr=False)
    annotations: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class SecretObject:
    name: str
    namespace: str | None
    values: dict[str, str] = field(repr=False)
    """Key -> decoded text (stringData over data, as the API server applies it)."""
    location: Location = field(default=Location(""), compare=False)


@dataclass(frozen=True)
class Objects:
    configs: tuple[EmailConfig, ...]
    receivers: tuple[EmailReceiver, ...]
    secrets: tuple[SecretObject, ...]
    notes: tuple[str, ...] = ()


class _Object:
    """One object of the input: its document and where in it the object stands."""

    def __init__(self, doc: Document, base: KeyPath, value: dict) -> None:
        self.doc, self.base, self.value = doc, base, value
        self.errors: list[SpecError] = []

    def locate(self, *path: str | int, key: bool = False) -> Location:
        return self.doc.locate(self.base + path, key=key)

    def fail(self, path: KeyPath, message: str) -> None:
        self.errors.append(SpecError(self.locate(*path), format_path(self.base + path), message))

    def get(self, path: KeyPath, kind: type | tuple[type, ...], what: str, *, required: bool = False) -> Any:
        node: Any = self.value
        for part in path:
            if isinstance(part, int):
                node = node[part] if isinstance(node, list) and part < len(node) else None
            else:
                node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            if required:
                self.fail(path, f"is required: {what}")
            return None
        if not isinstance(node, kind) or (kind is int and isinstance(node, bool)):
            self.fail(path, f"must be {what}")
            return None
        return node

    def text(self, path: KeyPath, what: str = "a string", *, required: bool = False) -> str | None:
        return self.get(path, str, what, required=required)

    @property
    def name(self) -> str:
        return self.text(("metadata", "name"), required=True) or ""

    def labels(self, section: str = "labels") -> dict[str, str]:
        labels = self.get(("metadata", section), dict, "a mapping of strings") or {}
        return {str(key): str(value) for key, value in labels.items()}


def read_objects(data: bytes, name: str = "-") -> Objects:
    """The e-mail objects of `data` (the file `name`); SpecErrors with every problem found."""
    documents, errors = load_file(name, data, LIMITS)
    configs: list[EmailConfig] = []
    receivers: list[EmailReceiver] = []
    secrets: list[SecretObject] = []
    notes: list[str] = []
    for doc in documents:
        for item in _items(doc, errors):
            kind, api = item.value.get("kind"), item.value.get("apiVersion")
            group, _, version = str(api).rpartition("/")
            if api == "v1" and kind == "Secret":
                secrets.append(_secret(item))
            elif group == GROUP and version in VERSIONS and kind == "Config":
                config = _config(item, version, notes)
                if config is not None:
                    configs.append(config)
            elif group == GROUP and version in VERSIONS and kind == "Receiver":
                receiver = _receiver(item, version, notes)
                if receiver is not None:
                    receivers.append(receiver)
            elif group == GROUP and kind in ("Config", "Receiver"):
                item.fail(("apiVersion",), f"{api!r}: notification-manager's e-mail objects are read in "
                                           f"{' or '.join(GROUP + '/' + v for v in VERSIONS)}")
            elif group == GROUP:
                item.fail(("kind",), f"a {kind} is not an e-mail setting: give only Configs and Receivers "
                                     f"({KUBECTL})")
            else:
                item.fail(("kind",) if kind else (), f"{kind or 'an object without kind'} of apiVersion {api!r} is not "
                          f"a notification-manager Config or Receiver, nor a v1 Secret: give {KUBECTL}")
            errors += item.errors
    if errors:
        raise SpecErrors(errors)
    return Objects(tuple(configs), tuple(receivers), tuple(secrets), tuple(notes))


def _items(doc: Document, errors: list[SpecError]) -> list[_Object]:
    content = doc.content
    if not isinstance(content, dict) or "kind" not in content or "apiVersion" not in content:
        errors.append(SpecError(doc.start, "", "is not a Kubernetes object (a mapping with apiVersion and kind)"))
        return []
    if content.get("kind") != "List" and not str(content.get("kind")).endswith("List"):
        return [_Object(doc, (), content)]
    items = content.get("items")
    if not isinstance(items, list):
        errors.append(SpecError(doc.locate(("items",)), "items", "must be a list of objects"))
        return []
    found = []
    for index, item in enumerate(items):
        if isinstance(item, dict) and "kind" in item and "apiVersion" in item:
            found.append(_Object(doc, ("items", index), item))
        else:
            errors.append(SpecError(doc.locate(("items", index)), f"items[{index}]",
                                    "is not a Kubernetes object (a mapping with apiVersion and kind)"))
    return found


def _tenant(item: _Object, what: str) -> bool:
    labels = item.labels()
    if labels.get("type") != "tenant":
        return False
    user = f" of user {labels['user']!r}" if labels.get("user") else ""
    item.fail(("metadata", "labels", "type"), f"a tenant's {what}{user}: notify-reconciler keeps the platform's "
                                               f"e-mail settings (type default and global), not a user's: leave it "
                                               f"out ({KUBECTL})")
    return True


def _config(item: _Object, api: str, notes: list[str]) -> EmailConfig | None:
    name = item.name
    if _tenant(item, "Config"):
        return None
    email = item.get(("spec", "email"), dict, "a mapping")
    if email is None:
        other = sorted(key for key in (item.value.get("spec") or {}) if key != "email") \
            if isinstance(item.value.get("spec"), dict) else []
        notes.append(f"{item.locate()}: Config {name!r} left out: it is not an e-mail Config"
                     + (f" ({', '.join(other)})" if other else ""))
        return None
    at = {f"spec.email.{key}": item.locate("spec", "email", key) for key in email}

    def text(key: str, *, required: bool = False) -> str | None:
        return item.text(("spec", "email", key), required=required)

    port = item.get(("spec", "email", "smartHost", "port"), int, "a port number (an integer)", required=True)
    if port is not None and not 0 < port < 65536:
        item.fail(("spec", "email", "smartHost", "port"), f"{port} is not a port number (1 to 65535)")
    at["spec.email.smartHost.port"] = item.locate("spec", "email", "smartHost", "port")
    at["spec.email.smartHost.host"] = item.locate("spec", "email", "smartHost", "host")
    config = EmailConfig(
        name=name, api=api, labels=item.labels(),
        sender=text("from", required=True) or "",
        host=item.text(("spec", "email", "smartHost", "host"), required=True) or "",
        port=port or 0,
        require_tls=bool(item.get(("spec", "email", "requireTLS"), bool, "true or false")),
        hello=text("hello"), username=text("authUsername"), identity=text("authIdentify"),
        password=_credential(item, ("spec", "email", "authPassword"), api),
        auth_secret=_credential(item, ("spec", "email", "authSecret"), api),
        tls=_tls(item), location=item.locate(), at=at)
    return None if item.errors else config


def _credential(item: _Object, path: KeyPath, api: str) -> Credential | None:
    written = item.get(path, dict, "a mapping")
    if written is None:
        return None
    where = item.locate(*path)
    if api == "v2beta1":  # a plain SecretKeySelector: {name, key, namespace?}
        name, key = item.text(path + ("name",), required=True), item.text(path + ("key",), required=True)
        namespace = item.text(path + ("namespace",))
        return Credential(None, SecretRef(name or "", key or "", namespace), where)
    value = item.text(path + ("value",))
    reference = item.get(path + ("valueFrom", "secretKeyRef"), dict, "a mapping")
    if reference is None:
        if value is None:
            item.fail(path, "needs value or valueFrom.secretKeyRef")
        return Credential(value, None, where)
    ref_path = path + ("valueFrom", "secretKeyRef")
    name, key = item.text(ref_path + ("name",), required=True), item.text(ref_path + ("key",), required=True)
    return Credential(value or None, SecretRef(name or "", key or "", item.text(ref_path + ("namespace",))),
                      item.locate(*ref_path))


def _tls(item: _Object) -> TLS | None:
    tls = item.get(("spec", "email", "tls"), dict, "a mapping")
    if tls is None:
        return None
    return TLS(bool(item.get(("spec", "email", "tls", "insecureSkipVerify"), bool, "true or false")),
               item.text(("spec", "email", "tls", "serverName")), "rootCA" in tls, "clientCertificate" in tls)


_TEMPLATE_FIELDS = ("template", "subjectTemplate", "tmplType", "tmplText")


def _receiver(item: _Object, api: str, notes: list[str]) -> EmailReceiver | None:
    name = item.name
    if _tenant(item, "Receiver"):
        return None
    email = item.get(("spec", "email"), dict, "a mapping")
    if email is None:
        other = sorted(item.value.get("spec") or {}) if isinstance(item.value.get("spec"), dict) else []
        notes.append(f"{item.locate()}: Receiver {name!r} left out: it is not an e-mail Receiver"
                     + (f" ({', '.join(other)})" if other else ""))
        return None
    to = item.get(("spec", "email", "to"), list, "a list of e-mail addresses", required=True) or []
    addresses = []
    for index, address in enumerate(to):
        if isinstance(address, str) and address.strip():
            addresses.append(address.strip())
        else:
            item.fail(("spec", "email", "to", index), "must be an e-mail address")
    if "to" in email and not to and not item.errors:
        item.fail(("spec", "email", "to"), "is empty: notification-manager would mail nobody; give the recipients")
    enabled = item.get(("spec", "email", "enabled"), bool, "true or false")
    at = {f"spec.email.{key}": item.locate("spec", "email", key) for key in email}
    receiver = EmailReceiver(
        name=name, api=api, labels=item.labels(), to=tuple(addresses), enabled=enabled is not False,
        selector=_selector(item, ("spec", "email", "alertSelector"), api),
        config_selector=email.get("emailConfigSelector") is not None,
        templates=tuple(key for key in _TEMPLATE_FIELDS if email.get(key) not in (None, "")),
        location=item.locate(), at=at, annotations=item.labels("annotations"))
    return None if item.errors else receiver


def _selector(item: _Object, path: KeyPath, api: str) -> Selector | None:
    written = item.get(path, dict, "a mapping (matchLabels, matchExpressions)")
    if written is None:
        return None
    pairs = item.get(path + ("matchLabels",), dict, "a mapping of label keys to values") or {}
    labels = []
    for key, value in pairs.items():
        if not isinstance(value, str):
            item.fail(path + ("matchLabels", key), "must be a string (quote it)")
            continue
        labels.append((str(key), value))
        problem = requirement_problem(Requirement(str(key), "In", (value,)), api)
        if problem:
            item.fail(path + ("matchLabels", key), problem)
    expressions = []
    for index, entry in enumerate(item.get(path + ("matchExpressions",), list, "a list") or []):
        here = path + ("matchExpressions", index)
        if not isinstance(entry, dict):
            item.fail(here, "must be a mapping (key, operator, values)")
            continue
        key, operator = item.text(here + ("key",), required=True), item.text(here + ("operator",), required=True)
        values = item.get(here + ("values",), list, "a list of strings") or []
        if not all(isinstance(value, str) for value in values):
            item.fail(here + ("values",), "must be a list of strings (quote each value)")
            continue
        regex = item.text(here + ("regexValue",)) or ""
        if key is None or operator is None:
            continue
        requirement = Requirement(key, operator, tuple(values), regex)
        problem = requirement_problem(requirement, api)
        if problem:
            item.fail(here + ("operator",) if operator not in OPERATORS or (api == "v2beta1" and operator == "Match")
                      else here, problem)
            continue
        expressions.append(requirement)
    return Selector(tuple(labels), tuple(expressions))


def _secret(item: _Object) -> SecretObject:
    values: dict[str, str] = {}
    data = item.get(("data",), dict, "a mapping of keys to base64 text") or {}
    for key, encoded in data.items():
        try:
            values[str(key)] = base64.b64decode(str(encoded or ""), validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            item.fail(("data", key), "is not base64 of UTF-8 text: give the Secret as kubectl get secret -o yaml "
                                     "prints it")
    strings = item.get(("stringData",), dict, "a mapping of keys to text") or {}
    values.update({str(key): str(value if value is not None else "") for key, value in strings.items()})
    return SecretObject(item.name, item.text(("metadata", "namespace")), values, item.locate())


def secret_value(objects: Objects, credential: Credential, default_namespace: str | None = None) -> str | None:
    """The password `credential` names: its inline value, or the key of a Secret of `objects`
    (a reference without a namespace resolves in `default_namespace`, notification-manager's
    defaultSecretNamespace; any namespace when None). None when the Secret was not given;
    SpecErrors, located at the reference, when the Secret is there without the key."""
    if credential.value is not None:
        return credential.value
    reference = credential.secret
    assert reference is not None
    namespace = reference.namespace or default_namespace
    found = [secret for secret in objects.secrets if secret.name == reference.name
             and (namespace is None or secret.namespace in (None, namespace))]
    if not found:
        return None
    secret = found[0]
    if reference.key not in secret.values:
        keys = ", ".join(sorted(secret.values)) or "no keys"
        raise SpecErrors([SpecError(credential.location, "secretKeyRef",
                                    f"Secret {secret.name!r} ({secret.location}) has no key {reference.key!r} (it "
                                    f"has {keys}): give the Secret the Config names, with the password under "
                                    f"{reference.key}")])
    return secret.values[reference.key]


__all__ = ["Credential", "EmailConfig", "EmailReceiver", "GROUP", "KUBECTL", "Objects", "SecretObject", "SecretRef",
           "TLS", "VERSIONS", "read_objects", "secret_value"]
