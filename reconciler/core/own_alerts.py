"""The daemon's own alerts: which fire after a pass, when to mail them again, and the mail.

Pure: `AlertStream.observe` takes an `Outcome` and the time and returns the notices to mail;
`AlertStream.update` does the same for the alerts of the SMTP probe and of Alertmanager's
own delivery counters; `compose` turns a notice into the bytes of an e-mail. The stream's
state (an `AlertRecord` per alert) is stored by the daemon between runs, so a restart
neither re-sends nor forgets.

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

from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate

from ..display import display_lines, redact_urls
from ..specs.model import Specs
from ..values import AlertRecord, AlertStatus, Notice, Outcome, Reason

GRACE_SECONDS = 60.0
"""Default of the daemon config's ownAlerts.gracePeriod."""
AFTER_GRACE = (Reason.ALERTMANAGER_UNREACHABLE, Reason.SOURCE_UNAVAILABLE, Reason.SMTP_UNREACHABLE)

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
    Reason.SMTP_UNREACHABLE: "The EmailServer cannot be reached, so Alertmanager's mail cannot leave either. Check "
                             "that it runs and that this host may connect to it.",
    Reason.SMTP_TLS_MISMATCH: "Alertmanager cannot talk to the EmailServer with these TLS settings, so no alert mail "
                              "goes out. Change the EmailServer spec as the message above says.",
    Reason.SMTP_LOGIN_FAILED: "Alertmanager cannot log in to the EmailServer, so no alert mail goes out. Fix the "
                              "password (or the username) as the message above says.",
    Reason.SMTP_CERTIFICATE_EXPIRING: "The EmailServer's certificate expires soon; after that Alertmanager refuses "
                                      "to send through it. Renew the certificate.",
    Reason.EMAIL_DELIVERY_FAILING: "Alertmanager reports failed e-mail notifications: alerts are not reaching "
                                   "people. Its log says why; `notify-reconciler mail-test --probe` checks the "
                                   "server as Alertmanager would.",
    Reason.DRIFT_CORRECTED: "Someone changed the live Alertmanager configuration by hand; it was put back to what "
                            "git says. Make lasting changes in the config repository instead.",
}


PASS_ALERTS = frozenset({Reason.CONFIG_REJECTED, Reason.APPLY_FAILED, Reason.ALERTMANAGER_UNREACHABLE,
                         Reason.SOURCE_UNAVAILABLE, Reason.INTERNAL_ERROR})
"""Raised by a reconcile pass; all resolve when a pass succeeds."""
PROBE_ALERTS = frozenset({Reason.SMTP_UNREACHABLE, Reason.SMTP_TLS_MISMATCH, Reason.SMTP_LOGIN_FAILED,
                          Reason.SMTP_CERTIFICATE_EXPIRING})
"""Raised by the SMTP probe of the EmailServer; each resolves when a probe no longer finds it."""
MAIL_CHANNEL_ALERTS = PROBE_ALERTS | {Reason.EMAIL_DELIVERY_FAILING}
"""About the EmailServer itself: mailed through the fallback first, when there is one."""


@dataclass(frozen=True)
class Condition:
    """An alert that holds now: what to say, and what it is about (a new key is a new mail)."""

    summary: str
    details: tuple[str, ...]
    key: str = ""


class AlertStream:
    def __init__(self, state: dict[Reason, AlertRecord] | None = None, grace_seconds: float = GRACE_SECONDS) -> None:
        self.grace_seconds = grace_seconds
        self.state: dict[Reason, AlertRecord] = dict(state or {})

    def observe(self, outcome: Outcome, now: float, repeat_seconds: float) -> list[Notice]:
        """The notices of one reconcile pass: its failure fires (other pass alerts hold until a
        pass succeeds), a success resolves them all, drift is one-shot."""
        notices = [Notice(Reason.DRIFT_CORRECTED, AlertStatus.FIRING, f"DriftCorrected: {what}",
                          (outcome.message, what)) for what in outcome.drift]
        if outcome.ok:
            return notices + self.update(PASS_ALERTS, {}, now, repeat_seconds, resolution=outcome.message)
        name = outcome.reason or Reason.APPLY_FAILED
        condition = Condition(f"{name}: {outcome.message.splitlines()[0]}", _details(outcome),
                              outcome.revision.sha if outcome.revision else "")
        return notices + self.update(frozenset({name}), {name: condition}, now, repeat_seconds)

    def update(self, family: frozenset[Reason], holding: dict[Reason, Condition], now: float, repeat_seconds: float,
               resolution: str = "") -> list[Notice]:
        """For the alerts of `family`: those in `holding` fire (after their grace period, again
        after `repeat_seconds` or for a new key), the others resolve (a resolved mail only for
        one that was mailed as firing)."""
        notices = []
        for name in sorted(family - holding.keys()):
            alert = self.state.pop(name, None)
            if alert is not None and alert.sent_at is not None:
                words = resolution or "it no longer holds"
                notices.append(Notice(name, AlertStatus.RESOLVED, f"{name} resolved: {words}", (words,)))
        for name, condition in sorted(holding.items()):
            alert = self.state.setdefault(name, AlertRecord(since=now, key=condition.key))
            alert.summary, alert.details = condition.summary, condition.details
            due = alert.sent_at is None or alert.key != condition.key or now - alert.sent_at >= repeat_seconds
            grace = self.grace_seconds if name in AFTER_GRACE else 0.0
            if now - alert.since >= grace and due:
                alert.key, alert.sent_at = condition.key, now
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
    characters, whatever they came from (a commit subject, an error message); in the body
    they are shown escaped (display.display_lines), and URL credentials hidden in both."""
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
    # The details quote a commit's author and subject, file names and git's messages: a mail
    # reader shows their control characters escaped, and no URL credentials.
    body += [line for detail in notice.details for line in display_lines(detail)]
    if notice.status is AlertStatus.FIRING:
        body += ["", "What to do: " + _WHAT_TO_DO[notice.alert]]
    body += ["", "-- ", "notify-reconciler (`notify-reconciler status` shows the applied and attempted revisions)"]
    mail.set_content("\n".join(body) + "\n")
    return mail


def _header(text: str, limit: int) -> str:
    cleaned = "".join(ch if ch.isprintable() else " " for ch in redact_urls(text))
    return " ".join(cleaned.split())[:limit]


def own_alert_recipients(specs: Specs) -> list[str]:
    """Every recipient of every list, once each (compared ignoring case), in list order."""
    seen: dict[str, str] = {}
    for recipient_list in specs.lists:
        for recipient in recipient_list.recipients:
            seen.setdefault(recipient.email.lower(), recipient.email)
    return list(seen.values())
