"""The values that pass between the stages: what a pass found, did and reports.

Pure: no I/O, no clock. Every layer may import this module (the pure stages, the edges,
the daemon and the CLI), so the types that cross a seam live here and not in the module
that happens to make them: a `Revision` comes from git but is shown by `status`, an
`Outcome` is made by `reconcile` but read by the alert stream, the metrics and the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .specs.model import Specs


class Result(StrEnum):
    """How one reconcile pass ended (Flux's Ready condition, in four words)."""

    APPLIED = "applied"
    """Written, and every Alertmanager reloaded and runs exactly these bytes."""
    UNCHANGED = "unchanged"
    """The render equals what is live; nothing was written (drift may have been put back)."""
    REJECTED = "rejected"
    """The commit may not be applied (invalid specs, unsigned): terminal until the branch changes."""
    FAILED = "failed"
    """The source, a check, the write or an Alertmanager failed: worth retrying."""

    @property
    def ok(self) -> bool:
        return self in (Result.APPLIED, Result.UNCHANGED)


class Reason(StrEnum):
    """Why a pass did not succeed, named as the daemon's own alert it raises."""

    CONFIG_REJECTED = "ConfigRejected"
    APPLY_FAILED = "ApplyFailed"
    ALERTMANAGER_UNREACHABLE = "AlertmanagerUnreachable"
    SOURCE_UNAVAILABLE = "SourceUnavailable"
    INTERNAL_ERROR = "InternalError"
    """A bug: an exception the reconciler did not expect. Recorded like any failure."""
    DRIFT_CORRECTED = "DriftCorrected"
    """Not a failure: one-shot, raised beside a successful pass that put drift back."""
    # About the mail channel itself (the SMTP probe, and what Alertmanager reports):
    SMTP_UNREACHABLE = "SmtpUnreachable"
    SMTP_TLS_MISMATCH = "SmtpTlsMismatch"
    SMTP_LOGIN_FAILED = "SmtpLoginFailed"
    SMTP_CERTIFICATE_EXPIRING = "SmtpCertificateExpiring"
    EMAIL_DELIVERY_FAILING = "EmailDeliveryFailing"


@dataclass(frozen=True)
class Revision:
    """One commit of the config repo, as people know it."""

    sha: str
    subject: str
    author: str
    committed_at: int
    """Commit time, Unix seconds."""
    signed_by: str | None = None
    """With source.verify: who signed it, as the allowed-signers file names them, and the key."""

    @property
    def short(self) -> str:
        return self.sha[:7]

    def describe(self) -> str:
        return f"{self.short} {self.subject!r}"


def describe(revision: Revision | None) -> str:
    return revision.describe() if revision else "the branch"


@dataclass(frozen=True)
class TargetResult:
    """What one Alertmanager said in a pass."""

    url: str
    ok: bool
    message: str
    transient: bool = False
    """The failure may pass by itself (unreachable, 5xx): AlertmanagerUnreachable, not ApplyFailed."""


@dataclass(frozen=True)
class Deployment:
    """What a `Target` did with a render: put it live, or found it live already."""

    result: Result
    """APPLIED, UNCHANGED or FAILED (a refusal after the write: the previous config was restored)."""
    targets: tuple[TargetResult, ...] = ()
    drift: tuple[str, ...] = ()
    """What had drifted from the last applied render and was put back (DriftCorrected)."""

    @property
    def failed(self) -> tuple[TargetResult, ...]:
        return tuple(target for target in self.targets if not target.ok)


@dataclass(frozen=True)
class Outcome:
    """One reconcile pass, recorded once: the state, the metrics, the log and the own alerts
    are all made from this."""

    result: Result
    revision: Revision | None
    message: str
    errors: tuple[str, ...] = ()
    targets: tuple[TargetResult, ...] = field(default=())
    drift: tuple[str, ...] = ()
    """What had drifted from the last applied render and was put back (DriftCorrected)."""
    reason: Reason | None = None
    """Why a pass did not succeed; None when it did."""
    specs: Specs | None = field(default=None, compare=False, repr=False)
    """The commit's specs when they were valid (live after applied or unchanged; valid but not
    applied after a failed write or reload)."""

    @property
    def ok(self) -> bool:
        return self.result.ok


# -- the daemon's own alerts ---------------------------------------------------------------

class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Notice:
    """One own-alert mail to send."""

    alert: Reason
    status: AlertStatus
    summary: str
    details: tuple[str, ...]


@dataclass
class AlertRecord:
    """One own alert while it holds: since when, for which revision, and when it was last
    mailed as firing (None: not yet, e.g. still within its grace period)."""

    since: float
    key: str
    """The revision it is about: a new rejected revision is a new mail."""
    summary: str = ""
    details: tuple[str, ...] = ()
    sent_at: float | None = None

    def to_json(self) -> dict:
        return {"since": self.since, "key": self.key, "summary": self.summary, "details": list(self.details),
                "sent_at": self.sent_at}

    @classmethod
    def from_json(cls, raw: dict) -> AlertRecord:
        return cls(float(raw["since"]), str(raw.get("key", "")), str(raw.get("summary", "")),
                   tuple(str(line) for line in raw.get("details", ())),
                   None if raw.get("sent_at") is None else float(raw["sent_at"]))


# -- status: what `status`, /readyz and the metrics say ---------------------------------------

@dataclass(frozen=True)
class LiveConfig:
    """What a target holds now, for `diff`, drift and `status`."""

    text: str | None
    """None: nothing is live yet."""
    label: str
    """Where it came from, for the diff's header."""
    redacted: bool = False
    """Its secrets are shown as <secret> already (Alertmanager's own view)."""


@dataclass(frozen=True)
class TargetHealth:
    """One line of `status` about the live config."""

    name: str
    ok: bool
    message: str


@dataclass(frozen=True)
class Attempt:
    revision: Revision | None
    at: float
    result: Result
    error: str | None = None


@dataclass(frozen=True)
class StatusReport:
    """Everything `status` prints, and what /readyz and the metrics answer, from one place."""

    applied: Revision | None
    applied_at: float | None
    attempted: Attempt | None
    targets: tuple[TargetHealth, ...]
    outbox_waiting: int
    outbox_failed: int
    outbox_last_error: str | None
    firing: tuple[str, ...]

    @property
    def healthy(self) -> bool:
        return (self.applied is not None and self.attempted is not None and self.attempted.result.ok
                and all(target.ok for target in self.targets))


@dataclass(frozen=True)
class Imported:
    """What an import made (of an Alertmanager config, or of KubeSphere's objects), for the
    CLI to write: the files, what the user must know, and the passwords kept out of both."""

    files: dict[str, str]
    """Path relative to the output folder -> text: specs/*.yaml (and base.yml, from a config)."""
    notes: tuple[str, ...]
    """What the user must know: what stayed in the base and why, what was not carried over."""
    passwords: dict[str, str] = field(repr=False)
    """Password file path -> the password it must hold (never written into `files`)."""
    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Receiver name -> the RecipientLists it became (one per route to it, or per 50 addresses)."""

