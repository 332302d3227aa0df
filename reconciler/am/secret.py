"""The Kubernetes Secret that holds an Alertmanager config, as prometheus-operator (and
KubeSphere) keep it: the one codec every command that takes or writes a Secret uses. Pure.

- `unwrap`: the config inside a manifest, from `stringData` (text) or `data` (base64 of UTF-8
  text; `stringData` wins, as the API server applies it), under the key `alertmanager.yaml`;
  from a `List` too (`kubectl get secret a b -o yaml`), when exactly one of its Secrets holds
  that key. Not a Secret: None, the caller reads the text as a config. A Secret without a
  config, or with one that is not base64 of UTF-8: an AlertmanagerConfigError, located.
- `wrap`: a config put back into the manifest it came from, in the same shape.
- `new_secret`: a config in a new manifest.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from ..errors import AlertmanagerConfigError
from ..yamlio.loader import KeyPath
from .reading import ReadConfig, dump, read_config, roundtrip_yaml

KEY = "alertmanager.yaml"
"""The key prometheus-operator (and KubeSphere) keep the config under."""


@dataclass(frozen=True)
class Unwrapped:
    config: str
    """The config's text."""
    name: str
    """How messages name it: `secret.yaml[alertmanager.yaml]`."""


def unwrap(text: str, name: str = "-") -> Unwrapped | None:
    """The config a Secret manifest (or a List holding one) carries, or None when `text` is no
    Secret (nor such a List)."""
    try:
        read = read_config(text, name)
    except AlertmanagerConfigError:
        return None  # not ours to report: the caller's own reading says where
    document = read.data
    if not isinstance(document, dict):
        return None
    if document.get("kind") == "List" and isinstance(document.get("items"), list):
        return _from_list(read, document["items"])
    if document.get("kind") != "Secret":
        return None
    return _from_secret(read, document, ())


def _from_list(read: ReadConfig, items: list) -> Unwrapped | None:
    secrets = [index for index, item in enumerate(items) if isinstance(item, dict) and item.get("kind") == "Secret"]
    if not secrets:
        return None
    holding = [index for index in secrets if _has_key(items[index])]
    if len(holding) == 1:
        return _from_secret(read, items[holding[0]], ("items", holding[0]))
    if not holding:
        return _from_secret(read, items[secrets[0]], ("items", secrets[0]))  # says which keys it has
    names = ", ".join(f"{_name(items[index])} (items[{index}])" for index in holding)
    raise read.error(("items",), f"{len(holding)} Secrets of this List hold {KEY}: {names}: give the one "
                                 "Alertmanager reads (kubectl get secret NAME -o yaml)")


def _has_key(secret: dict) -> bool:
    return any(isinstance(secret.get(section), dict) and KEY in secret[section] for section in ("stringData", "data"))


def _name(secret: dict) -> str:
    metadata = secret.get("metadata")
    return str(metadata.get("name")) if isinstance(metadata, dict) and metadata.get("name") else "a Secret"


def _from_secret(read: ReadConfig, secret: dict, path: KeyPath) -> Unwrapped:
    shown = f"{read.name}[{KEY}]"
    for section, encoded in (("stringData", False), ("data", True)):
        values = secret.get(section)
        if not isinstance(values, dict) or KEY not in values:
            continue
        value = values[KEY] or ""
        if not isinstance(value, str):
            raise read.error(path + (section, KEY), "must be text")
        if not encoded:
            return Unwrapped(value, shown)
        try:
            return Unwrapped(base64.b64decode(value, validate=True).decode("utf-8"), shown)
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise AlertmanagerConfigError(read.locate(path + (section, KEY), key=True), f"data.{KEY}",
                                          "is not base64 of UTF-8 text: give the Secret as kubectl get secret "
                                          "-o yaml prints it") from None
    keys = sorted({str(key) for section in ("data", "stringData") if isinstance(secret.get(section), dict)
                   for key in secret[section]})
    raise AlertmanagerConfigError(read.locate(path + ("kind",), key=True), "data",
                                  f"this Secret holds no {KEY} (it has {', '.join(keys) or 'no keys'}): give the "
                                  "Secret prometheus-operator reads, such as alertmanager-main")


_SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "selfLink", "generation")
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def wrap(config_text: str, secret_text: str, *, name: str | None = None, namespace: str | None = None,
         templates: tuple[tuple[str, bytes], ...] = (), replaced_prefix: str | None = None) -> str:
    """`config_text` put back into the Secret manifest `secret_text`, in the same shape: the
    same section (``stringData``, or ``data`` base64), name, namespace, labels and other keys;
    `name`/`namespace` replace its own when given. What the API server wrote (uid,
    resourceVersion, timestamps, managed fields) and kubectl's last-applied copy (which holds the
    old config, passwords included) are left out, so `kubectl apply` takes it as a new state.
    Each of `templates` is a key beside the config; keys starting with `replaced_prefix` (those
    an earlier render carried) go."""
    from ruamel.yaml.comments import CommentedMap

    yaml = roundtrip_yaml()
    secret = yaml.load(secret_text)
    if isinstance(secret, dict) and secret.get("kind") == "List":
        secret = next(item for item in secret["items"] if isinstance(item, dict) and _has_key(item))
    metadata = secret.setdefault("metadata", CommentedMap())
    for key in _SERVER_FIELDS:
        metadata.pop(key, None)
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(_LAST_APPLIED, None)
        if not annotations:
            del metadata["annotations"]
    if name:
        metadata["name"] = name
    if namespace:
        metadata["namespace"] = namespace
    for section in ("stringData", "data"):
        if isinstance(secret.get(section), dict) and replaced_prefix:
            for key in [key for key in secret[section] if str(key).startswith(replaced_prefix)]:
                del secret[section][key]
    if isinstance(secret.get("stringData"), dict) and KEY in secret["stringData"]:
        _put_text(secret["stringData"], config_text, templates)
    else:
        data = secret.get("data")
        if not isinstance(data, dict):
            data = secret["data"] = CommentedMap()
        data[KEY] = base64.b64encode(config_text.encode("utf-8")).decode("ascii")
        for key, content in templates:
            data[key] = base64.b64encode(content).decode("ascii")
    return dump(yaml, secret)


def new_secret(config_text: str, *, name: str, namespace: str, templates: tuple[tuple[str, bytes], ...] = (),
               labels: dict[str, str] | None = None) -> str:
    """`config_text` in a new Secret manifest (`stringData`), as prometheus-operator reads it;
    each template file is one more key, which prometheus-operator mounts next to the config."""
    from ruamel.yaml.comments import CommentedMap

    secret: Any = CommentedMap()
    secret["apiVersion"] = "v1"
    secret["kind"] = "Secret"
    secret["metadata"] = CommentedMap(name=name, namespace=namespace, labels=CommentedMap(labels or {}))
    if not labels:
        del secret["metadata"]["labels"]
    secret["type"] = "Opaque"
    secret["stringData"] = CommentedMap()
    _put_text(secret["stringData"], config_text, templates)
    return dump(roundtrip_yaml(), secret)


def _put_text(section: Any, config_text: str, templates: tuple[tuple[str, bytes], ...]) -> None:
    from ruamel.yaml.scalarstring import LiteralScalarString

    section[KEY] = LiteralScalarString(config_text)
    for key, content in templates:
        section[key] = LiteralScalarString(content.decode("utf-8"))


__all__ = ["KEY", "Unwrapped", "new_secret", "unwrap", "wrap"]
