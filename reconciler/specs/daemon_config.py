"""The daemon's own configuration file (/etc/notify-reconciler/config.yaml) -> `Config`.

Pure: takes the file's name and bytes. Validated against ``schemas/config.json`` with the
same located errors as the specs; defaults come from that schema.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, replace
from typing import Any, Callable

from ..errors import Location, SpecError, SpecErrors
from ..yamlio.loader import Document, load_file
from .schema import CONFIG_SCHEMA, schema_default, validate_value


@dataclass(frozen=True)
class SourceSettings:
    repo: str
    """Local path, file://, https:// or ssh:// URL of the config repo."""
    branch: str
    """Only committed content of this branch is applied."""
    path: str
    """Folder inside the repo that holds the specs."""
    poll_interval: str
    """Remote fetch period (Prometheus duration)."""
    allowed_signers: str | None = None
    """With source.verify: only commits signed by a key of this allowed-signers file apply."""
    allow_rewind: bool = False
    """Apply a head that does not descend from the last applied commit (a rewind, a force-push
    of other history). Off: such a head is rejected, so an old signed commit cannot be replayed."""


@dataclass(frozen=True)
class TargetSettings:
    output: str
    """The alertmanager.yml the reconciler writes."""
    base: str | None
    """The user's base config merged into every render, if any."""
    alertmanagers: tuple[str, ...]
    """Base URLs of every Alertmanager to reload and verify."""
    format: str = "alertmanager"
    """alertmanager: `output` is an alertmanager.yml; kubesphere: notification-manager's objects."""
    api: str = "v2beta2"
    """With format kubesphere: the notification.kubesphere.io version written."""


@dataclass(frozen=True)
class SmtpRelay:
    """A second SMTP relay for the own alerts (ownAlerts.fallback.smtp)."""

    host: str
    port: int
    ssl: bool
    starttls: bool
    sender: str
    ca_file: str | None = None
    server_name: str | None = None
    insecure_skip_verify: bool = False
    username: str | None = None
    password_file: str | None = None


@dataclass(frozen=True)
class Fallback:
    """ownAlerts.fallback: exactly one of a sendmail program and an SMTP relay."""

    sendmail: str | None = None
    smtp: SmtpRelay | None = None


@dataclass(frozen=True)
class OwnAlertSettings:
    grace: str = "60s"
    """How long a target, the source or the SMTP server must keep failing before its alert is mailed."""
    probe_interval: str = "1h"
    """How often the EmailServer is probed, besides after each change of it."""
    certificate_warning: str = "14d"
    """SmtpCertificateExpiring fires this long before the server's certificate expires."""
    fallback: Fallback | None = None
    fallback_recipients: tuple[str, ...] = ()
    """Default (empty): the recipients the own alerts go to."""


@dataclass(frozen=True)
class SecretSettings:
    """secrets: what an EmailServer spec may name as its password. The daemon reads what a
    spec names and sends it to the spec's host, so whoever may push decides where it goes:
    only what the operator lists here may be read for a spec (password_sources.py)."""

    password_files: tuple[str, ...] = ("/etc/alertmanager/smtp-password",)
    """Absolute paths spec.passwordFile may name; one ending in '/' is a folder and allows
    the files directly inside it."""
    password_env: tuple[str, ...] = ("SMTP_PASSWORD",)
    """Environment variables spec.passwordEnv may name."""
    file: str = "the daemon's configuration"
    """The configuration file these were read from, for messages that say where to change them."""


@dataclass(frozen=True)
class Config:
    source: SourceSettings
    target: TargetSettings
    state_dir: str
    listen: str
    own_alerts: OwnAlertSettings = OwnAlertSettings()
    secrets: SecretSettings = SecretSettings()
    file: str = ""
    """Where this configuration was read from, for messages and relative paths."""

    def relative_to(self, folder: str) -> Config:
        """Relative local paths taken as relative to `folder` (the config file's folder)."""
        def local(path: str | None) -> str | None:
            if path is None or "://" in path or posixpath.isabs(path):
                return path
            return posixpath.normpath(posixpath.join(folder, path))
        return replace(self,
                       source=replace(self.source, repo=local(self.source.repo),
                                      allowed_signers=local(self.source.allowed_signers)),
                       target=replace(self.target, output=local(self.target.output), base=local(self.target.base)),
                       state_dir=local(self.state_dir))


def _target(document: Document, target: dict, default: Callable[..., Any]) -> TargetSettings:
    """target:, where format kubesphere (a file for kubectl apply, Flux or Argo CD) takes no base
    and reloads no Alertmanager: notification-manager reads the objects from the cluster."""
    kind = target.get("format", default("target", "format"))
    if kind == "kubesphere":
        errors = [SpecError(document.locate(("target", key), key=True), f"target.{key}",
                            "goes with format alertmanager: KubeSphere's notification-manager objects have no base and "
                            "no Alertmanager to reload (apply the output with kubectl, Flux or Argo CD)")
                  for key in ("base", "alertmanagers") if target.get(key)]
        if errors:
            raise SpecErrors(errors)
    alertmanagers = () if kind == "kubesphere" else target.get("alertmanagers", default("target", "alertmanagers"))
    return TargetSettings(output=target.get("output", default("target", "output")), base=target.get("base"),
                          alertmanagers=tuple(alertmanagers), format=kind,
                          api=target.get("api", default("target", "api")))


def parse_config(name: str, data: bytes) -> Config:
    """A validated `Config`, or `SpecErrors` located in the config file."""
    documents, errors = load_file(name, data)
    if not errors and len(documents) != 1:
        errors.append(SpecError(documents[1].start if documents else Location(name, 1, 1), "",
                                "the configuration is one YAML document"))
    if errors:
        raise SpecErrors(errors)
    errors = validate_value(documents[0], CONFIG_SCHEMA)
    if errors:
        raise SpecErrors(errors)
    content = documents[0].content
    source, target = content["source"], content.get("target", {})

    def default(*path: str):
        return schema_default(CONFIG_SCHEMA, *path)

    own, secrets = content.get("ownAlerts", {}), content.get("secrets", {})
    return Config(
        source=SourceSettings(
            repo=source["repo"],
            branch=source.get("branch", default("source", "branch")),
            path=source.get("path", default("source", "path")),
            poll_interval=source.get("pollInterval", default("source", "pollInterval")),
            allowed_signers=source.get("verify", {}).get("allowedSignersFile"),
            allow_rewind=source.get("allowRewind", default("source", "allowRewind")),
        ),
        target=_target(documents[0], target, default),
        state_dir=content.get("stateDir", default("stateDir")),
        listen=content.get("listen", default("listen")),
        own_alerts=OwnAlertSettings(
            grace=own.get("gracePeriod", default("ownAlerts", "gracePeriod")),
            probe_interval=own.get("probeInterval", default("ownAlerts", "probeInterval")),
            certificate_warning=own.get("certificateWarning", default("ownAlerts", "certificateWarning")),
            fallback=_fallback(own.get("fallback")),
            fallback_recipients=tuple(own.get("fallbackRecipients", ())),
        ),
        secrets=SecretSettings(
            password_files=tuple(secrets.get("passwordFiles", default("secrets", "passwordFiles"))),
            password_env=tuple(secrets.get("passwordEnv", default("secrets", "passwordEnv"))),
            file=name,
        ),
        file=name,
    )


def _fallback(raw: dict | None) -> Fallback | None:
    if raw is None:
        return None
    if "sendmail" in raw:
        return Fallback(sendmail=raw["sendmail"])
    smtp = raw["smtp"]
    ssl = smtp.get("ssl", False)
    tls = smtp.get("tls", {})
    return Fallback(smtp=SmtpRelay(host=smtp["host"], port=smtp.get("port", 25), ssl=ssl,
                                   starttls=smtp.get("starttls", not ssl), sender=smtp["from"],
                                   ca_file=tls.get("caFile"), server_name=tls.get("serverName"),
                                   insecure_skip_verify=tls.get("insecureSkipVerify", False),
                                   username=smtp.get("username"), password_file=smtp.get("passwordFile")))
