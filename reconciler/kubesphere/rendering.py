"""Specs -> the notification-manager objects KubeSphere's console reads and shows. Pure.

What it writes (multi-document YAML, `kubectl apply -f` ready), in the API version asked
(`v2beta2`, KubeSphere 3.4; `v2beta1`, KubeSphere 3.1 to 3.3):
- the Config `default-email-config` (label `type: default`): the EmailServer as notification-
  manager dials it. `requireTLS` is STARTTLS required (false with `ssl`, since notification-
  manager speaks implicit TLS on port 465 by the port alone); a `tls` block is always written
  when TLS is used, because without one notification-manager does not check certificates;
  the password as a reference to the Secret `global-email-config-secret`, key `authPassword`
  (never its value);
- a Receiver per RecipientList (label `type: global`): the first list is the console's
  `global-email-receiver`, the others `<list>-email-receiver`; `enabled` always written (the
  EmailServer's toggle); the matchers as an `alertSelector` selecting the same alerts
  (reconciler.kubesphere.selector); the list's name in the annotation `notify-reconciler/list`,
  so `import` gives it back;
- the Secret itself only when the caller passes the password (an explicit option of the CLI).

What notification-manager cannot do is refused, located at the spec (a list with time windows
would be mailed at all times; a catch-all list has no counterpart; a matcher no selector can
say), or warned about, located, saying what KubeSphere will do instead (its own mail for a
list's subject and templates, one grouping for every list, one message per recipient).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from typing import Any

from ..am.matchers import parse_matchers
from ..am.reading import dump, roundtrip_yaml
from ..errors import Location, SpecError, SpecErrors
from ..specs.model import EmailServer, RecipientList, Specs
from .importing import LIST_ANNOTATION, SECRET_NAMESPACE
from .objects import GROUP
from .selector import Untranslatable, from_matchers

CONFIG_NAME = "default-email-config"
RECEIVER_NAME = "global-email-receiver"
SECRET_NAME = "global-email-config-secret"
SECRET_KEY = "authPassword"
APIS = ("v2beta2", "v2beta1")


@dataclass(frozen=True)
class Rendered:
    text: str
    """The objects as multi-document YAML."""
    objects: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...]
    """`file:line:col: path: message`, each saying what KubeSphere does instead."""


def receiver_name(index: int, recipient_list: RecipientList) -> str:
    return RECEIVER_NAME if index == 0 else f"{recipient_list.name}-email-receiver"


def render_kubesphere(specs: Specs, api: str = "v2beta2", *, password: str | None = None,
                      secret_namespace: str = SECRET_NAMESPACE) -> Rendered:
    """The objects for `specs`; SpecErrors, located, for what notification-manager cannot do.
    `password`, when given, is written into the Secret (and nowhere else)."""
    if api not in APIS:
        raise ValueError(f"api must be one of {APIS}")
    server = specs.server
    if server is None:
        raise SpecErrors([SpecError(specs.policy.location if specs.policy else Location("."), "",
                                    "the folder has no EmailServer: KubeSphere's Config needs one")])
    errors: list[SpecError] = []
    warnings: list[str] = []
    objects: list[dict[str, Any]] = [_config(specs, api, warnings)]
    if password is not None and (server.password_file or server.password_env):
        objects.append(_secret(password, secret_namespace))
    for index, recipient_list in enumerate(specs.lists):
        objects.append(_receiver(index, recipient_list, specs, api, errors, warnings))
    if errors:
        raise SpecErrors(errors)
    header = (f"# rendered by notify-reconciler for KubeSphere's notification-manager ({GROUP}/{api}):\n"
              "# kubectl apply -f this file; the repeat interval is alertmanager-main's (render --format secret)\n")
    text = header + "".join(("---\n" if index else "") + dump(roundtrip_yaml(), _commented(item))
                            for index, item in enumerate(objects))
    return Rendered(text, tuple(objects), tuple(warnings))


def as_dialled(server: EmailServer) -> EmailServer:
    """`server` as notification-manager dials it from the rendered Config, for the probe: the
    same port, implicit TLS (465) or STARTTLS exactly when required, the same certificate
    check (the Config always carries a tls block), but the system CAs, since tls.caFile is not
    rendered (notification-manager takes a CA's text from a Secret)."""
    if not server.tls.ca_file:
        return server
    return replace(server, tls=replace(server.tls, ca_file=None))


def _config(specs: Specs, api: str, warnings: list[str]) -> dict[str, Any]:
    server = specs.server
    assert server is not None
    email: dict[str, Any] = {"from": server.sender, "smartHost": {"host": server.host, "port": server.port},
                             "requireTLS": bool(server.starttls and not server.ssl)}
    if server.hello:
        email["hello"] = server.hello
    if server.username:
        email["authUsername"] = server.username
        if server.auth_identity:
            email["authIdentify"] = server.auth_identity
        if server.password_file or server.password_env:
            reference = {"name": SECRET_NAME, "key": SECRET_KEY}
            email["authPassword"] = {"valueFrom": {"secretKeyRef": reference}} if api == "v2beta2" else reference
    if server.ssl or server.starttls:
        tls: dict[str, Any] = {"insecureSkipVerify": server.tls.insecure_skip_verify}
        if server.tls.server_name:
            tls["serverName"] = server.tls.server_name
        email["tls"] = tls
    where = server.location
    if server.tls.ca_file:
        warnings.append(f"{where}: spec.tls.caFile: not rendered (notification-manager takes the CA's text from a "
                        "Secret, tls.rootCA): KubeSphere checks the server's certificate against the system CAs")
    if server.max_recipients_per_message:
        warnings.append(f"{where}: spec.maxRecipientsPerMessage: not rendered: notification-manager mails each "
                        "recipient alone (one message and one SMTP connection each)")
    if not server.enabled:
        warnings.append(f"{where}: spec.enabled: false: every Receiver is rendered with enabled: false (a Config "
                        "has no toggle)")
    return _object(api, "Config", CONFIG_NAME, {"type": "default"}, {"email": email})


def _receiver(index: int, recipient_list: RecipientList, specs: Specs, api: str, errors: list[SpecError],
              warnings: list[str]) -> dict[str, Any]:
    where = recipient_list.location
    for path, at in recipient_list.window_references:
        errors.append(SpecError(at, path, "notification-manager has no time windows: KubeSphere would mail this "
                                          "list at all times; remove it, or keep this list for --format alertmanager"))
    if recipient_list.catch_all:
        errors.append(SpecError(where, "spec.catchAll", "notification-manager has no catch-all receiver (every "
                                                        "global Receiver gets every alert its selector selects): "
                                                        "remove catchAll and give the list matchers"))
    matchers = []
    for number, entry in enumerate(recipient_list.matchers):
        parsed = parse_matchers(entry)
        try:
            from_matchers(parsed, api)
        except Untranslatable as exc:
            errors.append(SpecError(where, f"spec.matchers[{number}]", str(exc)))
        matchers += parsed
    email: dict[str, Any] = {"enabled": bool(specs.server and specs.server.enabled),
                             "to": [recipient.email for recipient in recipient_list.recipients]}
    try:
        selector = from_matchers(matchers, api)
    except Untranslatable:
        selector = None  # reported per matcher above
    if selector is not None and selector.selector is not None:
        email["alertSelector"] = selector.selector.to_object()
        warnings += [f"{where}: spec.matchers: {note}" for note in selector.notes]
        if selector.uses_match:
            warnings.append(f"{where}: spec.matchers: the alertSelector uses Match (regexValue), which "
                            "notification-manager 2.4 and later have; an older one refuses the Receiver")
    _warnings(recipient_list, specs, warnings)
    metadata_name = receiver_name(index, recipient_list)
    written = _object(api, "Receiver", metadata_name, {"type": "global"}, {"email": email})
    written["metadata"]["annotations"] = {LIST_ANNOTATION: recipient_list.name}
    return written


def _warnings(recipient_list: RecipientList, specs: Specs, warnings: list[str]) -> None:
    where = recipient_list.location
    mail = specs.mail_for(recipient_list)
    written = [name for name, value in (("subject", mail.subject), ("templates.html", mail.html),
                                        ("templates.text", mail.text)) if value]
    if written:
        warnings.append(f"{where}: spec.{written[0]}: not rendered ({', '.join(written)}): a Receiver's templates are "
                        "notification-manager's own, not Alertmanager's; KubeSphere sends its default mail")
    overrides = [name for name, value in (("repeatInterval", recipient_list.overrides.repeat_interval),
                                          ("groupBy", recipient_list.overrides.group_by),
                                          ("groupWait", recipient_list.overrides.group_wait),
                                          ("groupInterval", recipient_list.overrides.group_interval))
                 if value is not None]
    if overrides:
        warnings.append(f"{where}: spec.{overrides[0]}: not rendered ({', '.join(overrides)}): notification-manager "
                        "has no grouping or repeat per list; every list gets alertmanager-main's (the policy's, "
                        "render --format secret)")
    if recipient_list.overrides.send_resolved is False:
        warnings.append(f"{where}: spec.sendResolved: false is not rendered: notification-manager mails resolved "
                        "alerts whenever alertmanager-main's webhook sends them")
    if any(recipient.name for recipient in recipient_list.recipients):
        warnings.append(f"{where}: spec.recipients: the names are not rendered: notification-manager's to takes "
                        "addresses only")
    if recipient_list.keep_from_base:
        warnings.append(f"{where}: spec.keepFromBase: not rendered: notification-manager has no base receivers")


def _object(api: str, kind: str, name: str, labels: dict[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{api}", "kind": kind, "metadata": {"name": name, "labels": labels}, "spec": spec}


def _secret(password: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": SECRET_NAME, "namespace": namespace,
                         "labels": {"type": "global", "notification.kubesphere.io/managed": "true"}},
            "type": "Opaque", "data": {SECRET_KEY: base64.b64encode(password.encode()).decode("ascii")}}


def _commented(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        return CommentedMap((str(k), _commented(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return CommentedSeq(_commented(v) for v in value)
    return value


__all__ = ["APIS", "CONFIG_NAME", "RECEIVER_NAME", "Rendered", "SECRET_KEY", "SECRET_NAME", "render_kubesphere"]
