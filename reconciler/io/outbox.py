"""The durable outbox the daemon's own alerts wait in, and the ways out they take.

`Outbox`: a message is written and fsynced under ``<stateDir>/outbox`` before the first
attempt and removed only once the server accepted it. Temporary failures (refused
connection, timeout, 4xx) stay for a later attempt, backing off; permanent ones (5xx, a
refused certificate or login) move to ``outbox/failed`` with the reason, for status and
metrics. A restart, an SMTP outage, or both, lose nothing.

`deliver` sends a letter the first way (`Carrier`) that takes it: the EmailServer, then the
fallback (`ownAlerts.fallback`: a sendmail program or a relay).
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import tenacity

from ..errors import EnvironmentProblem, MailError, PermanentMailError, TemporaryMailError
from .files import write_atomically
from .smtp import Delivery

@dataclass(frozen=True)
class Carrier:
    """One way out for the own alerts (the EmailServer, a sendmail program, a relay): a name
    for the log, and how to send."""

    name: str
    send: Callable[[str, list[str], bytes], Delivery]
    recipients: tuple[str, ...] = ()
    """Who gets mail sent this way; empty: the letter's own recipients."""
    sender: str | None = None
    """The envelope sender this way uses; None: the letter's."""


def deliver(letter: Letter, primary: Carrier | None, fallback: Carrier | None) -> Delivery:
    """Send `letter` the first way that takes it: the primary, then the fallback (the fallback
    first for a letter about the primary itself). A letter taken one way is never sent the
    other. Raises TemporaryMailError if any way may work later, else PermanentMailError."""
    routes = [route for route in ((fallback, primary) if letter.fallback_first else (primary, fallback)) if route]
    if not routes:
        raise PermanentMailError("no way to send: no EmailServer and no ownAlerts.fallback")
    failures: list[tuple[Carrier, MailError]] = []
    for route in routes:
        try:
            delivery = route.send(route.sender or letter.sender, list(route.recipients or letter.recipients),
                                  letter.message.encode("utf-8"))
        except MailError as exc:
            failures.append((route, exc))
            continue
        notes = tuple(f"{failed.name} failed: {exc}" for failed, exc in failures)
        return replace(delivery, route=route.name, transcript=notes + delivery.transcript)
    message = "; ".join(f"{route.name}: {exc}" for route, exc in failures)
    transcript = [line for _, exc in failures for line in exc.transcript]
    if any(isinstance(exc, TemporaryMailError) for _, exc in failures):
        raise TemporaryMailError(message, transcript)
    raise PermanentMailError(message, transcript)


@dataclass
class Letter:
    """One message waiting in the outbox."""

    id: str
    sender: str
    recipients: list[str]
    message: str
    subject: str
    created: float
    attempts: int = 0
    next_attempt: float = 0.0
    last_error: str | None = None
    fallback_first: bool = False
    """An alert about the EmailServer itself: tried through ownAlerts.fallback first."""


@dataclass
class OutboxReport:
    sent: list[Letter] = field(default_factory=list)
    failed: list[Letter] = field(default_factory=list)
    """Given up on (permanent failure); kept in outbox/failed."""
    deferred: list[Letter] = field(default_factory=list)
    """Tried in this pass and kept: the server is down or answered 4xx."""
    waiting: list[Letter] = field(default_factory=list)
    """Not tried in this pass: the outbox is backing off."""
    unrecorded: list[str] = field(default_factory=list)
    """What could not be written to the outbox folder (a full or read-only disk)."""
    routes: dict[str, str] = field(default_factory=dict)
    """Letter id -> the way each sent letter went (the EmailServer, or the fallback)."""


class Outbox:
    """Letters to one SMTP server, sent oldest first, so a resolved mail never overtakes its
    firing one. The queue backs off as a whole: after a temporary failure every letter
    waits (10 s, doubling, at most MAX_BACKOFF); a new letter ends the wait at once, and so
    the first try after the server comes back sends everything in order.

    If the folder cannot be written (disk full or read-only), the outbox goes on from memory
    rather than drop an alert: a letter that cannot be stored is sent anyway (and stored once
    the disk takes it), a sent letter that cannot be removed is not sent again by this
    process, and the back-off holds without being recorded."""

    MAX_BACKOFF = 60.0
    """Short on purpose: an alert about a silent Alertmanager must not sit here for a quarter
    of an hour after the SMTP server is back, and one connection a minute costs nothing."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.failed_folder = self.folder / "failed"
        self._done: set[str] = set()
        """Letters sent or given up on whose file could not be removed yet."""
        self._retry_at = 0.0
        self._unsaved: dict[str, Letter] = {}
        self._problems: list[str] = []
        self._lock = threading.Lock()  # put() runs in the reconcile loop, deliver() in the mailer
        self._sequence = itertools.count()

    def put(self, sender: str, recipients: list[str], message: bytes, subject: str, now: float, *,
            fallback_first: bool = False) -> Letter:
        """Store a message durably before anything tries to send it (in memory if the disk
        refuses: see the class)."""
        # Ids sort in the order letters were put, also within one millisecond (one pass often
        # puts several): the time, then this process's count, then a random part.
        letter = Letter(f"{int(now * 1000):015d}-{next(self._sequence):06d}-{uuid.uuid4().hex[:8]}", sender,
                        list(recipients), message.decode("utf-8"), subject, now, fallback_first=fallback_first)
        try:
            self._save(letter)
        except EnvironmentProblem as exc:
            with self._lock:
                self._unsaved[letter.id] = letter
                self._problems.append(f"{exc}: the mail is kept in memory and sent anyway")
        self._retry_at = 0.0
        return letter

    def pending(self) -> list[Letter]:
        with self._lock:
            unsaved = dict(self._unsaved)
        stored = [letter for letter in self._letters(self.folder) if letter.id not in self._done | unsaved.keys()]
        return sorted(stored + list(unsaved.values()), key=lambda letter: letter.id)

    def failed(self) -> list[Letter]:
        return self._letters(self.failed_folder)

    def deliver(self, transport: Callable[[Letter], Delivery], now: float,
                sleep: Callable[[float], None] | None = None) -> OutboxReport:
        """If any letter is due, try them all, oldest first, until the server fails us."""
        report = OutboxReport()
        with self._lock:
            report.unrecorded, self._problems = self._problems, []
            unsaved = list(self._unsaved.values())
        for letter in unsaved:  # the disk may take them now
            if self._record(report, self._save, letter):
                with self._lock:
                    self._unsaved.pop(letter.id, None)
        for letter_id in sorted(self._done):
            self._remove(letter_id, report)
        letters = self.pending()
        if now < self._retry_at or not any(letter.next_attempt <= now for letter in letters):
            report.waiting = letters
            return report
        for index, letter in enumerate(letters):
            letter.attempts += 1
            try:
                # A blip (a refused connection during a server restart) is retried at once a
                # couple of times; a longer outage leaves the queue for a later pass.
                delivery = tenacity.Retrying(
                    retry=tenacity.retry_if_exception_type(TemporaryMailError),
                    stop=tenacity.stop_after_attempt(3),
                    wait=tenacity.wait_exponential(multiplier=0.25, max=2),
                    reraise=True, **({"sleep": sleep} if sleep else {}),
                )(transport, letter)
            except TemporaryMailError as exc:
                letter.last_error = str(exc)
                report.deferred.append(letter)
                report.waiting = letters[index + 1:]
                self._retry_at = now + min(self.MAX_BACKOFF,
                                           10.0 * 2 ** (max(item.attempts for item in letters) - 1))
                for item in letters[index:]:
                    item.next_attempt = self._retry_at
                    if item.id not in self._unsaved:
                        self._record(report, self._save, item)
                break
            except MailError as exc:
                letter.last_error = str(exc)
                report.failed.append(letter)
                self._record(report, self._give_up, letter)  # the record for status is best effort
                self._done.add(letter.id)
                self._remove(letter.id, report)
            else:
                report.sent.append(letter)
                report.routes[letter.id] = delivery.route
                self._done.add(letter.id)
                self._remove(letter.id, report)
                if delivery.refused:
                    # Sent to the others; what the server refused for good is kept for status.
                    refused = Letter(letter.id + "-refused", letter.sender, sorted(delivery.refused),
                                     letter.message, letter.subject, letter.created, letter.attempts,
                                     last_error="refused: " + "; ".join(f"{a}: {r}" for a, r in sorted(delivery.refused.items())))
                    self._record(report, self._give_up, refused)
                    report.failed.append(refused)
        return report

    @staticmethod
    def _record(report: OutboxReport, write: Callable[[Letter], None], letter: Letter) -> bool:
        try:
            write(letter)
        except EnvironmentProblem as exc:
            report.unrecorded.append(str(exc))
            return False
        return True

    def _remove(self, letter_id: str, report: OutboxReport) -> None:
        with self._lock:
            self._unsaved.pop(letter_id, None)
        try:
            (self.folder / f"{letter_id}.json").unlink(missing_ok=True)
        except OSError as exc:
            report.unrecorded.append(f"{self.folder / letter_id}.json: cannot remove: {exc.strerror}")
        else:
            self._done.discard(letter_id)

    def _give_up(self, letter: Letter) -> None:
        try:
            self.failed_folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise EnvironmentProblem(f"{self.failed_folder}: cannot create: {exc.strerror}") from exc
        write_atomically(self.failed_folder / f"{letter.id}.json", _dump(letter))

    def _save(self, letter: Letter) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise EnvironmentProblem(f"{self.folder}: cannot create the outbox: {exc.strerror}") from exc
        write_atomically(self.folder / f"{letter.id}.json", _dump(letter))

    @staticmethod
    def _letters(folder: Path) -> list[Letter]:
        letters = []
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
            try:
                letters.append(Letter(**json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError):
                continue  # a torn or foreign file: never sent, never deleted
        return letters


def _dump(letter: Letter) -> str:
    return json.dumps(asdict(letter), indent=1, sort_keys=True) + "\n"
