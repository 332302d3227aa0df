"""The daemon's own configuration file (/etc/notify-reconciler/config.yaml) -> `Config`.

Pure: takes the file's name and bytes. Validated against ``schemas/config.json`` with the
same located errors as the specs; defaults come from that schema.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, replace

from .errors import Location, SpecError, SpecErrors
from .loader import load_file
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


@dataclass(frozen=True)
class TargetSettings:
    output: str
    """The alertmanager.yml the reconciler writes."""
    base: str | None
    """The user's base config merged into every render, if any."""
    alertmanagers: tuple[str, ...]
    """Base URLs of every Alertmanager to reload and verify."""


@dataclass(frozen=True)
class Config:
    source: SourceSettings
    target: TargetSettings
    state_dir: str
    listen: str
    own_alert_grace: str = "60s"
    """How long a target or the source must keep failing before its own alert is mailed."""
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

    return Config(
        source=SourceSettings(
            repo=source["repo"],
            branch=source.get("branch", default("source", "branch")),
            path=source.get("path", default("source", "path")),
            poll_interval=source.get("pollInterval", default("source", "pollInterval")),
            allowed_signers=source.get("verify", {}).get("allowedSignersFile"),
        ),
        target=TargetSettings(
            output=target.get("output", default("target", "output")),
            base=target.get("base"),
            alertmanagers=tuple(target.get("alertmanagers", default("target", "alertmanagers"))),
        ),
        state_dir=content.get("stateDir", default("stateDir")),
        listen=content.get("listen", default("listen")),
        own_alert_grace=content.get("ownAlerts", {}).get("gracePeriod", default("ownAlerts", "gracePeriod")),
        file=name,
    )
