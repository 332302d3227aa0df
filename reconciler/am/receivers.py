"""The receivers of an Alertmanager config and whom their e-mails go to, as Alertmanager 0.25
reads them (config/notifiers.go). Pure: a config read by `reading.read_config` in.

- A receiver's integrations are its `*_configs` lists that hold an entry; one without any
  notifies nobody.
- An e-mail config's `to` is a list of addresses (Alertmanager parses it with Go's
  net/mail ParseAddressList when it sends); each is compared ignoring case, as the specs
  compare recipients. A `to` that is a template (`{{ ... }}`) says at send time whom it
  mails: its addresses are unknown here (`EmailConfig.templated`).
- `send_resolved` is Go's boolean (false when absent for e-mail), read with YAML 1.1's
  spellings; the rest of an e-mail config (headers, html, text, tls_config, ...) is kept as
  read, for callers that compare it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.utils import getaddresses
from functools import cached_property
from typing import Any, Mapping

from ..yamlio.loader import KeyPath
from .reading import ReadConfig, go_bool


@dataclass(frozen=True)
class EmailConfig:
    """One entry of a receiver's email_configs: one message per alert group."""

    settings: Mapping[str, Any]
    """The entry as read (plain values)."""

    @property
    def to(self) -> str:
        value = self.settings.get("to")
        return value if isinstance(value, str) else ""

    @property
    def templated(self) -> bool:
        return "{{" in self.to

    @cached_property
    def addresses(self) -> tuple[str, ...]:
        """The addresses of `to`, as written, without display names; () for a template."""
        return () if self.templated else addresses_of(self.to)

    @property
    def send_resolved(self) -> bool:
        return bool(go_bool(self.settings.get("send_resolved")))


@dataclass(frozen=True)
class Receiver:
    name: str
    path: KeyPath
    """Where it is written: ('receivers', 3)."""
    integrations: tuple[str, ...]
    """Its `*_configs` keys that hold an entry (email_configs, webhook_configs, ...)."""
    emails: tuple[EmailConfig, ...] = field(default=())

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every address its e-mails go to, as written, once each (case ignored), in order."""
        seen: dict[str, str] = {}
        for email in self.emails:
            for address in email.addresses:
                seen.setdefault(address.casefold(), address)
        return tuple(seen.values())

    @property
    def notifies(self) -> bool:
        return bool(self.integrations)


_PLAIN_LIST = re.compile(r"\s*[^\s\"<>()\\:;\[\],]+\s*(?:,\s*[^\s\"<>()\\:;\[\],]+\s*)*")
"""Bare addresses separated by commas, as a render writes `to`: no name, quote or comment."""


def addresses_of(to: str) -> tuple[str, ...]:
    """The addresses of an e-mail config's `to` (display names left out)."""
    if _PLAIN_LIST.fullmatch(to):  # what getaddresses would say, at a fiftieth of its cost
        return tuple(part.strip() for part in to.split(",") if part.strip())
    return tuple(address for _, address in getaddresses([to]) if address)


def email_config(raw: Mapping[str, Any]) -> EmailConfig:
    return EmailConfig(raw)


def receivers(config: ReadConfig) -> dict[str, Receiver]:
    """Each receiver of the config by name (the first of a name: Alertmanager refuses two)."""
    found: dict[str, Receiver] = {}
    entries = config.data.get("receivers") if isinstance(config.data, dict) else None
    for index, raw in enumerate(entries if isinstance(entries, list) else ()):
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or raw["name"] in found:
            continue
        integrations = tuple(key for key, value in raw.items() if key.endswith("_configs") and value)
        emails = raw.get("email_configs")
        found[raw["name"]] = Receiver(raw["name"], ("receivers", index), integrations, tuple(
            email_config(item) for item in (emails if isinstance(emails, list) else ()) if isinstance(item, dict)))
    return found
