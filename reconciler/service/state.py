"""What the reconciler knows between runs: applied and attempted revisions, the last error,
and what each Alertmanager said, in ``<stateDir>/state.json``.

Flux-style, the *applied* revision (what runs) is kept apart from the *attempted* one (the
newest commit tried, and why it was rejected), so a person always knows both. The file is
written atomically, so a crash leaves the previous state or the new one; a file that cannot
be parsed is reported, never silently replaced.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import EnvironmentProblem, Location
from ..io.files import write_atomically
from ..specs.model import EmailServer, TLSSettings, default_repeat_seconds
from ..values import AlertRecord, Attempt, Reason, Result, Revision

STATE_FILE = "state.json"
FORMAT = 1


@dataclass(frozen=True)
class TargetStatus:
    """The last word of one Alertmanager."""

    ok: bool
    message: str
    at: float


@dataclass
class State:
    applied: Revision | None = None
    applied_at: float | None = None
    applied_digest: str | None = None
    """sha256 of the bytes written, to tell our file from a hand edit."""
    attempted: Attempt | None = None
    alertmanagers: dict[str, TargetStatus] = field(default_factory=dict)


def _read_json(path: Path) -> dict | None:
    """The file's JSON object; None if there is no file yet. A damaged file is reported, never
    silently replaced."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise EnvironmentProblem(f"{path}: cannot read the state ({exc}): move it aside to start afresh") from exc


def _write_json(state_dir: str | Path, name: str, document: dict) -> None:
    folder = Path(state_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise EnvironmentProblem(f"{folder}: cannot create the state directory: {exc.strerror}") from exc
    write_atomically(folder / name, json.dumps(document, indent=2, sort_keys=True) + "\n")


def load_state(state_dir: str | Path) -> State:
    path = Path(state_dir, STATE_FILE)
    raw = _read_json(path)
    if raw is None:
        return State()
    try:
        attempted = raw.get("attempted")
        return State(
            applied=_revision(raw.get("applied")),
            applied_at=raw.get("applied_at"),
            applied_digest=raw.get("applied_digest"),
            attempted=Attempt(_revision(attempted["revision"]), attempted["at"], Result(attempted["result"]),
                              attempted.get("error")) if attempted else None,
            alertmanagers={url: TargetStatus(**status) for url, status in raw.get("alertmanagers", {}).items()},
        )
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise EnvironmentProblem(f"{path}: the state is not in the expected format ({exc}): move it aside "
                                 "to start afresh") from exc


def save_state(state_dir: str | Path, state: State) -> None:
    _write_json(state_dir, STATE_FILE, {"format": FORMAT, **asdict(state)})


def _revision(raw: dict | None) -> Revision | None:
    return Revision(**raw) if raw else None


# -- what the daemon's own alerts need between runs ------------------------------------------

ALERTING_FILE = "alerting.json"


@dataclass
class Alerting:
    """The last valid EmailServer and recipients (so a bad commit cannot silence the alert
    about it), the repeat interval, and the alert stream's state."""

    server: EmailServer | None = None
    recipients: list[str] = field(default_factory=list)
    repeat_seconds: float = field(default_factory=default_repeat_seconds)
    alerts: dict[Reason, AlertRecord] = field(default_factory=dict)


def load_alerting(state_dir: str | Path) -> Alerting:
    path = Path(state_dir, ALERTING_FILE)
    raw = _read_json(path)
    if raw is None:
        return Alerting()
    try:
        server = raw.get("server")
        if server:
            server = EmailServer(**{**server, "tls": TLSSettings(**server["tls"]), "location": Location(""),
                                    "password_at": None})
        return Alerting(server, list(raw.get("recipients", [])), float(raw.get("repeat_seconds") or default_repeat_seconds()),
                        {Reason(name): AlertRecord.from_json(alert) for name, alert in raw.get("alerts", {}).items()})
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise EnvironmentProblem(f"{path}: the own alerts' state is not in the expected format ({exc}): move it "
                                 "aside to start afresh") from exc


def alerting_document(alerting: Alerting) -> dict:
    """What `save_alerting` writes: compare two to know whether there is anything to write."""
    server = asdict(alerting.server) if alerting.server else None
    if server:
        server.pop("location", None)
        server.pop("password_at", None)
    return {"server": server, "recipients": alerting.recipients, "repeat_seconds": alerting.repeat_seconds,
            "alerts": {str(name): alert.to_json() for name, alert in alerting.alerts.items()}}


def save_alerting(state_dir: str | Path, alerting: Alerting) -> None:
    _write_json(state_dir, ALERTING_FILE, alerting_document(alerting))


def acquire_lock(state_dir: str | Path, busy_hint: str = "stop it, or give this one its own stateDir") -> int:
    """Hold <stateDir>/lock (until the descriptor is closed, or the process ends); refuse if
    another notify-reconciler, a daemon or an apply, has it. Returns the descriptor.

    The lock is taken on a read-only descriptor (flock does not need write access), so the
    daemon keeps no file open for writing in the state directory and the disk under it can
    still be remounted read-only; the daemon then goes on and says what it cannot record."""
    folder = Path(state_dir)
    path = folder / "lock"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        descriptor = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise EnvironmentProblem(f"{folder}: cannot use the state directory: {exc.strerror}") from exc
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(descriptor, 32).decode(errors="replace").strip() or "unknown"
        os.close(descriptor)
        raise EnvironmentProblem(f"another notify-reconciler (pid {holder}) is running on {folder}: {busy_hint}") \
            from None
    # The pid is for the message above; writing it through a second descriptor keeps the lock.
    with open(path, "w", encoding="ascii") as pid_file:
        pid_file.write(f"{os.getpid()}\n")
    return descriptor
