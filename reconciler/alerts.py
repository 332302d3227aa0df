"""The daemon's own alerts: which fire after a pass, when to mail them again, and the mail.

Pure: `AlertStream.observe` takes an `Outcome` and the time and returns the notices to mail;
`compose` turns one into the bytes of an e-mail. The stream's state is a plain dict that
the daemon stores between runs, so a restart neither re-sends nor forgets.

- ConfigRejected fires at once when a commit fails validation (a new rejected revision is
  a new mail); ApplyFailed at once when writing or a reload failed; AlertmanagerUnreachable
  and SourceUnavailable only after a grace period of failing (ownAlerts.gracePeriod, 60 s
  by default: not on the first blip);
  DriftCorrected is one-shot.
- A firing alert is mailed again no more often than the policy's repeatInterval while it
  holds; a resolved mail goes once when a pass succeeds again, only for alerts that were
  mailed as firing.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate

from .model import Specs
from .values import AlertRecord, AlertStatus, Notice, Outcome, Reason

GRACE_SECONDS = 60.0
"""Default of the daemon config's ownAlerts.gracePeriod."""
AFTER_GRACE = (Reason.ALERTMANAGER_UNREACHABLE, Reason.SOURCE_UNAVAILABLE)

_WHAT_TO_DO = {
    Reason.CONFIG_REJECTED: "Fix the errors above and commit again. Until then the last good configuration stays "
                            "live.",
    Reason.APPLY_FAILED: "The previous configuration was restored and stays live. Check the Alertmanager(s) named "
                         "below (their logs say why), then commit a fix or run `notify-reconciler apply` again.",
    Reason.ALERTMANAGER_UNREACHABLE: "Alertmanager did not answer. Check that it runs and that the daemon can reach "
                                     "it; the daemon keeps retrying.",
    Reason.SOURCE_UNAVAILABLE: "The config repository cannot be read or fetched. Check the remote, the branch and "
                               "the credentials; the last good configuration stays live and the daemon keeps "
                               "retrying.",
    Reason.INTERNAL_ERROR: "notify-reconciler hit a bug (the daemon's log has the details: please report it). The "
                           "last good configuration stays live and the daemon keeps retrying.",
    Reason.DRIFT_CORRECTED: "Someone changed the live Alertmanager configuration by hand; it was put back to what "
                            "git says. Make lasting changes in the config repository instead.",
}


class AlertStream:
    def __init__(self, state: dict[Reason, AlertRecord] | None = None, grace_seconds: float = GRACE_SECONDS) -> None:
        self.grace_seconds = grace_seconds
        self.state: dict[Reason, AlertRecord] = dict(state or {})

    def observe(self, outcome: Outcome, now: float, repeat_seconds: float) -> list[Notice]:
        notices = [Notice(Reason.DRIFT_CORRECTED, AlertStatus.FIRING, f"DriftCorrected: {what}",
                          (outcome.message, what)) for what in outcome.drift]
        if outcome.ok:
            for name, alert in sorted(self.state.items()):
                if alert.sent_at is not None:
                    notices.append(Notice(name, AlertStatus.RESOLVED, f"{name} resolved: {outcome.message}",
                                          (outcome.message,)))
            self.state.clear()
            return notices
        name = outcome.reason or Reason.APPLY_FAILED
        key = outcome.revision.sha if outcome.revision else ""
        alert = self.state.setdefault(name, AlertRecord(since=now, key=key))
        alert.summary = f"{name}: {outcome.message.splitlines()[0]}"
        alert.details = _details(outcome)
        due = alert.sent_at is None or alert.key != key or now - alert.sent_at >= repeat_seconds
        grace = self.grace_seconds if name in AFTER_GRACE else 0.0
        if now - alert.since >= grace and due:
            alert.key, alert.sent_at = key, now
            notices.append(Notice(name, AlertStatus.FIRING, alert.summary, alert.details))
        return notices

    def firing(self) -> list[str]:
        return sorted(str(name) for name, alert in self.state.items() if alert.sent_at is not None)


def _details(outcome: Outcome) -> tuple[str, ...]:
    lines = [outcome.message]
    if outcome.revision is not None:
        revision = outcome.revision
        lines.append(f"revision {revision.sha} by {revision.author}: {revision.subject}")
    lines += [f"  {error}" for error in outcome.errors if error not in outcome.message]
    lines += [f"  {t.url}: {t.message}" for t in outcome.targets if not t.ok]
    return tuple(lines)


def compose(notice: Notice, *, sender: str, recipients: list[str], now: float, message_id: str,
            hostname: str) -> EmailMessage:
    """The e-mail for one notice. Header values are stripped of line breaks and control
    characters, whatever they came from (a commit subject, an error message)."""
    # Fold only past RFC 5322's hard limit: Python's 78-column folding can break a header
    # right after its name, which some readers show as a leading space.
    mail = EmailMessage(policy=SMTP.clone(max_line_length=998))
    status = notice.status.upper()
    mail["Subject"] = _header(f"[{status}] {notice.summary}", 200)
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = formatdate(now, localtime=False)
    mail["Message-ID"] = message_id
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Notify-Reconciler-Alert"] = f"{notice.alert} {notice.status}"
    body = [f"{notice.alert} is {notice.status} on {hostname}.", ""]
    body += list(notice.details)
    if notice.status is AlertStatus.FIRING:
        body += ["", "What to do: " + _WHAT_TO_DO[notice.alert]]
    body += ["", "-- ", "notify-reconciler (`notify-reconciler status` shows the applied and attempted revisions)"]
    mail.set_content("\n".join(body) + "\n")
    return mail


def _header(text: str, limit: int) -> str:
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(cleaned.split())[:limit]


def own_alert_recipients(specs: Specs) -> list[str]:
    """Every recipient of every list, once each (compared ignoring case), in list order."""
    seen: dict[str, str] = {}
    for recipient_list in specs.lists:
        for recipient in recipient_list.recipients:
            seen.setdefault(recipient.email.lower(), recipient.email)
    return list(seen.values())
