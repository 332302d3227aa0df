"""The long-running service: triggers, one reconcile at a time, metrics, systemd.

Triggers are coalesced into one pending pass: a local repo's branch ref changing
(watchdog/inotify on the git directory), the poll timer (``source.pollInterval``; a remote
is fetched then), SIGHUP, and the start itself. Only one pass runs at a time; a failed pass
is retried after 1 s, 2 s, ... up to the poll interval, a rejected commit waits for the next
commit, and nothing kills the loop. SIGTERM or SIGINT end it after the pass in progress
(retry waits are cut short), with exit status 0.

After each pass the daemon's own alerts (core/own_alerts.py) go to the outbox; a mailer thread
delivers them, so a slow or absent SMTP server never delays a commit.

A lock on ``<stateDir>/lock`` keeps a second daemon off the same state directory. HTTP on
``listen``: /metrics (Prometheus), /healthz (alive), /readyz (first pass done), served from
one thread with bounded connections and time (daemon/http.py; metrics.py holds the metrics). Under
systemd (Type=notify): READY=1 after the first pass, STATUS= lines a person can read, and
WATCHDOG=1 pings from a thread of their own while the loop is alive (systemd.py, io/liveness.py): also
while a pass waits on amtool or git within a known bound, never while it hangs.
"""

from __future__ import annotations

import copy
import gc
import logging
import os
import signal
import threading
from dataclasses import replace
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from email.utils import make_msgid

from .. import logfmt
from ..io.alertmanager_api import email_counters
from ..core.own_alerts import MAIL_CHANNEL_ALERTS, PROBE_ALERTS, AlertStream, Condition, compose, own_alert_recipients
from ..specs.daemon_config import Config
from ..errors import DeployError, EnvironmentProblem, ReconcilerError, TransientDeployError
from ..io.files import remove_stale_temporaries
from .fallback import check_fallback, fallback_carrier
from .http import TEXT, Answer, HttpEndpoint
from .metrics import Metrics
from .systemd import sd_notify, status_line, watchdog_interval
from ..io.liveness import WAITS
from ..io.outbox import Carrier, Outbox, deliver
from ..io.smtp import read_password, send
from ..specs.model import EmailServer
from ..io.password_sources import password_source_refusal
from ..service.pass_log import PassLog
from ..io.probe import ProbeReport, probe
from ..specs.model import default_repeat_seconds, duration_seconds
from ..service.reconcile import Caches, Host, file_target, reconcile, source_for
from ..service.state import acquire_lock, alerting_document, load_alerting, save_alerting
from ..service.status import gather_status, report_lines
from ..values import Notice, Outcome, Reason, Result

log = logging.getLogger("notify-reconciler")

DEBOUNCE_SECONDS = 0.02
"""A commit touches several files of .git within milliseconds; wait this long for quiet."""
MAIL_TICK_SECONDS = 5.0
LIVE_FILE_CHANGED = "live file changed"
RETRY_FIRST_SECONDS = 1.0
"""After a failed pass the next comes after 1 s, then 2, 4, ... up to pollInterval."""


# -- the daemon ------------------------------------------------------------------------------------

class Daemon:
    def __init__(self, config: Config, host: Host) -> None:
        self.config = config
        self.host = replace(host, sleep=self._sleep)
        self.metrics = Metrics.create()
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._reasons: set[str] = set()
        self._reasons_lock = threading.Lock()
        self.source = source_for(config)
        self.caches = Caches.kept_in(config)
        self.target = file_target(config, self.host, self.caches.checked)
        self.last_outcome: Outcome | None = None
        self.pass_log = PassLog()
        self.alerting = load_alerting(config.state_dir)
        self._forget_server_not_allowed()
        self.stream = AlertStream(self.alerting.alerts, duration_seconds(config.own_alerts.grace))
        self._alert_lock = threading.RLock()
        self._saved_alerting: dict | None = None
        """What alerting.json holds, as last written by this process."""
        """The reconcile loop and the probe both raise alerts: one at a time."""
        self.outbox = Outbox(Path(config.state_dir, "outbox"))
        self._mail_wake = threading.Event()
        self._probe_wake = threading.Event()
        self._probed: tuple | None = None
        """What the last probe was of: the server and a digest of its password."""
        self._counters: dict[str, tuple[float, float]] = {}
        """Alertmanager URL -> its e-mail notification (requests, failed) counters, last seen."""
        self._failing: dict[str, str] = {}
        self._recovering: set[str] = set()
        """Alertmanagers whose last window of sends held a success after its failures."""
        """Alertmanager URL -> how its e-mail sends fail, while they do."""

    def _sleep(self, seconds: float) -> None:
        """Retry waits end early on SIGTERM: the pass then fails fast and rolls back."""
        with WAITS.bounded(seconds + 1):
            if self.host.wait(self.stopping, seconds):
                raise TransientDeployError("shutting down: retry abandoned")

    def trigger(self, reason: str) -> None:
        with self._reasons_lock:
            self._reasons.add(reason)
        self._wake.set()

    def stop(self) -> None:
        self.stopping.set()
        self._wake.set()

    def run(self) -> int:
        check_fallback(self.config.own_alerts.fallback)
        lock = acquire_lock(self.config.state_dir)
        # A daemon killed mid-write (kill -9, power cut) leaves at most a temporary file.
        for target in (Path(self.config.target.output), Path(self.config.state_dir, "state.json"),
                       Path(self.config.state_dir, "alerting.json")):
            for leftover in remove_stale_temporaries(target):
                log.info(logfmt.line("removed_leftover", file=leftover))
        server = self._serve_http()
        observer = self._watch()
        mailer = threading.Thread(target=self._mail_loop, name="mailer", daemon=True)
        mailer.start()
        prober = threading.Thread(target=self._probe_loop, name="probe", daemon=True)
        prober.start()
        interval = watchdog_interval()
        if interval:
            loop = threading.get_ident()
            WAITS.beat()  # starting is alive: the first ping goes now, not one interval later
            threading.Thread(target=self._feed_watchdog, args=(interval, loop), name="watchdog", daemon=True).start()
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        log.info(logfmt.line("started", repo=self.config.source.repo, branch=self.config.source.branch,
                             output=self.config.target.output, alertmanagers=len(self.config.target.alertmanagers)))
        try:
            self._loop()
        finally:
            sd_notify("STOPPING=1")
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            observer.stop()
            self._mail_wake.set()
            self._probe_wake.set()
            mailer.join(timeout=5)
            prober.join(timeout=5)
            server.close()
            self.source.close()
            os.close(lock)
            log.info(logfmt.line("stopped"))
        return 0

    def _loop(self) -> None:
        clock = self.host
        poll = duration_seconds(self.config.source.poll_interval)
        next_poll = clock.monotonic()  # the first pass runs at once
        retry_in = RETRY_FIRST_SECONDS
        self.trigger("start")
        while not self.stopping.is_set():
            WAITS.beat()
            now = clock.monotonic()
            if now >= next_poll:
                self.trigger("poll")
                next_poll = now + poll
            timeout = max(next_poll - now, 0)
            with WAITS.bounded(timeout + DEBOUNCE_SECONDS + 1):
                if clock.wait(self._wake, timeout):
                    # Coalesce a burst (a commit writes several files under .git).
                    clock.wait(self.stopping, DEBOUNCE_SECONDS)
            if self.stopping.is_set():
                break
            with self._reasons_lock:
                reasons, self._reasons = self._reasons, set()
            self._wake.clear()
            if reasons:
                outcome = self._pass(reasons)
                if outcome.result is Result.FAILED:
                    # Transient by nature (a remote, an Alertmanager): try again sooner than
                    # the poll, backing off. A rejected commit waits for the next commit.
                    next_poll = min(next_poll, clock.monotonic() + retry_in)
                    retry_in = min(retry_in * 2, poll)
                else:
                    retry_in = RETRY_FIRST_SECONDS

    def _feed_watchdog(self, interval: float, loop: int) -> None:
        """WATCHDOG=1 every `interval` (half of WatchdogSec) while the loop thread is alive:
        it beat within the interval, or waits (on amtool, git, a retry, the next trigger)
        inside a bound that has not run out. A loop that hangs gets no ping, and systemd
        restarts the service."""
        while True:
            if WAITS.alive(loop, within=interval):
                sd_notify("WATCHDOG=1")
            if self.stopping.wait(interval):
                return

    def _pass(self, reasons: set[str]) -> Outcome:
        started = self.host.monotonic()
        try:
            outcome = reconcile(self.config, self.host, self.source, self.caches, self.target)
        except ReconcilerError as exc:  # the state itself cannot be read: nothing was tried
            outcome = Outcome(Result.FAILED, None, f"nothing applied: {exc}", (str(exc),), reason=Reason.APPLY_FAILED)
        except Exception as exc:  # a bug: recorded, measured and alerted like any failure
            log.exception(logfmt.line("internal_error"))
            message = (f"nothing applied: internal error (a bug in notify-reconciler, please report it): "
                       f"{type(exc).__name__}: {exc}")
            outcome = Outcome(Result.FAILED, None, message, (message,), reason=Reason.INTERNAL_ERROR)
        seconds = self.host.monotonic() - started
        self.last_outcome = outcome
        self.metrics.record(outcome, seconds, self.host.now())
        self.pass_log.write(outcome, reasons, seconds, self.host.now(), self.alerting.repeat_seconds)
        self._raise_own_alerts(outcome)
        self._watch_delivery()
        self._probe_if_changed()
        self._update_health()
        if not self.ready.is_set():
            self.ready.set()
            sd_notify("READY=1")
        sd_notify("STATUS=" + status_line(outcome, self.host.now()))
        settle_memory()
        return outcome

    def _update_health(self) -> None:
        try:
            self.metrics.healthy.set(1 if gather_status(self.config, mail=False).healthy else 0)
        except ReconcilerError as exc:
            self.metrics.healthy.set(0)
            log.error(logfmt.line("status_unreadable", error=exc))

    def readiness(self) -> tuple[int, str]:
        """/readyz: 503 until the first pass is done, then 200 and the status report (from
        what was recorded: a probe never waits on the network)."""
        if not self.ready.is_set():
            return 503, "first reconcile pass not done\n"
        try:
            lines = report_lines(gather_status(self.config), self.host.now())
        except ReconcilerError as exc:
            lines = [f"the state cannot be read: {exc}", "not healthy"]
        return 200, "ready\n" + "\n".join(lines) + "\n"

    # -- the daemon's own alerts --------------------------------------------------------------

    def _raise_own_alerts(self, outcome: Outcome) -> None:
        """Turn the pass into alert notices and put their mails in the outbox."""
        alerting = self.alerting
        if outcome.specs is not None:
            # Remember the last valid server and recipients (valid, even if not applied: an
            # unreachable Alertmanager must not silence the alert about it, and neither may a
            # commit that breaks the config).
            specs = outcome.specs
            alerting.server = specs.server
            alerting.recipients = own_alert_recipients(specs)
            alerting.repeat_seconds = (duration_seconds(specs.routing.repeat_interval) if specs.routing.repeat_interval
                                       else default_repeat_seconds())
        with self._alert_lock:
            now = self.host.now()
            self._mail(self.stream.observe(outcome, now, alerting.repeat_seconds), now)

    def _mail(self, notices: list[Notice], now: float) -> None:
        """Queue the notices (a full or read-only disk keeps them in memory: Outbox) and keep
        the stream's state for the next run."""
        for notice in notices:
            self._queue(notice, now)
        self.alerting.alerts = self.stream.state
        document = alerting_document(self.alerting)
        if document == self._saved_alerting:
            return  # nothing new: no write (and no fsync) on every pass
        try:
            save_alerting(self.config.state_dir, self.alerting)
        except EnvironmentProblem as exc:
            log.error(logfmt.line("state_not_saved", error=exc))
        else:
            self._saved_alerting = copy.deepcopy(document)

    def _forget_server_not_allowed(self) -> None:
        """The EmailServer kept from the last valid commit passed the secrets: list of its day;
        the operator may have narrowed it since. One whose password file or variable is no
        longer listed is neither probed nor mailed through until a commit that is allowed."""
        server = self.alerting.server
        refusal = password_source_refusal(server, self.config.secrets)
        if server is not None and refusal is not None:
            field, message = refusal
            log.warning(logfmt.line("kept_server_not_allowed", server=server.smarthost, field=field, why=message))
            self.alerting.server = None

    def _queue(self, notice: Notice, now: float) -> None:
        server = self.alerting.server
        if server is None or not server.enabled or not self.alerting.recipients:
            why = ("e-mail is disabled (enabled: false)" if server is not None and not server.enabled else
                   "no valid config with an EmailServer and recipients has been applied yet")
            log.warning(logfmt.line("own_alert_not_mailed", alert=notice.alert, status=notice.status, why=why))
            self.metrics.mails.labels("not_mailed").inc()
            return
        mail = compose(notice, sender=server.sender, recipients=self.alerting.recipients, now=now,
                       message_id=make_msgid(domain=self.host.hostname), hostname=self.host.hostname)
        self.outbox.put(server.sender, self.alerting.recipients, bytes(mail), str(mail["Subject"]), now,
                        fallback_first=notice.alert in MAIL_CHANNEL_ALERTS)
        log.info(logfmt.line("own_alert", alert=notice.alert, status=notice.status,
                             recipients=len(self.alerting.recipients)))
        self._mail_wake.set()

    # -- the mail channel: the SMTP probe and Alertmanager's own counters ------------------

    def _probe_if_changed(self) -> None:
        """Probe again when the EmailServer or its password changed (the first pass included)."""
        server = self.alerting.server
        if server is not None and server.enabled and _probe_key(server, self.host.environ) != self._probed:
            self._probe_wake.set()

    def _probe_loop(self) -> None:
        """Beside the reconcile loop (a server that hangs must not delay a commit): after each
        change of the EmailServer, and every ownAlerts.probeInterval."""
        interval = duration_seconds(self.config.own_alerts.probe_interval)
        wait = interval
        while not self.stopping.is_set():
            self.host.wait(self._probe_wake, wait)
            self._probe_wake.clear()
            if self.stopping.is_set():
                return
            try:
                report = self.probe_now()
            except Exception as exc:  # a bug must not end probing; it is logged and retried
                log.exception(logfmt.line("probe_crashed", error=exc))
                report = None
            # An unreachable server is alerted only if it stays so for the grace period: look
            # again then, not an hour later.
            unreachable = report is not None and any(f.alert is Reason.SMTP_UNREACHABLE for f in report.findings)
            wait = min(interval, self.stream.grace_seconds + 0.5) if unreachable else interval

    def probe_now(self) -> ProbeReport | None:
        server = self.alerting.server
        if server is None or not server.enabled:
            return None
        self._probed = _probe_key(server, self.host.environ)
        if self.config.target.format == "kubesphere":  # notification-manager sends, as the Config says
            from ..kubesphere.rendering import as_dialled

            server = as_dialled(server)
        report = probe(server, self.host.environ, now=self.host.now(),
                       warn_days=duration_seconds(self.config.own_alerts.certificate_warning) / 86400)
        holding = {finding.alert: Condition(f"{finding.alert}: {finding.message}",
                                            (finding.message, *report.transcript), server.smarthost)
                   for finding in report.findings}
        for finding in report.findings:
            log.warning(logfmt.line("probe_finding", alert=finding.alert, server=server.smarthost,
                                    message=finding.message))
        if not report.findings:
            log.info(logfmt.line("probe_ok", server=server.smarthost))
        with self._alert_lock:
            now = self.host.now()
            self._mail(self.stream.update(PROBE_ALERTS, holding, now, self.alerting.repeat_seconds,
                                          resolution=f"the probe of {server.smarthost} found no problem"), now)
        return report

    def _watch_delivery(self) -> None:
        """EmailDeliveryFailing while any Alertmanager counts new failed e-mail sends; resolved
        once its sends succeed again. Alertmanager 0.25 counts connect, TLS, AUTH and RCPT
        failures, not a refusal after DATA: the probe and the header rules stay needed.

        Alertmanager counts every attempt and every failed one, so a window between two looks
        with more attempts than failures held a success. The counters do not say in which
        order: a window of failures then the retry that got through (the common end of an
        outage, after which Alertmanager may send nothing for hours) keeps the alert, and the
        next look resolves it unless new failures came meanwhile."""
        for url in self.config.target.alertmanagers:
            try:
                requests, failed = email_counters(url)
            except DeployError:
                continue  # AlertmanagerUnreachable speaks for it
            before = self._counters.get(url)
            self._counters[url] = (requests, failed)
            if before is None or requests < before[0] or failed < before[1]:
                continue  # a first look, or a restarted Alertmanager: a new baseline
            if failed > before[1]:
                self._failing[url] = (f"{url}: {failed - before[1]:.0f} failed e-mail send(s) of "
                                      f"{requests - before[0]:.0f} since the last look")
                if requests - before[0] > failed - before[1]:
                    self._recovering.add(url)  # a success came too: the next look decides
                else:
                    self._recovering.discard(url)
            elif requests > before[0] or url in self._recovering:
                self._failing.pop(url, None)
                self._recovering.discard(url)
        holding = {}
        if self._failing:
            lines = tuple(self._failing[url] for url in sorted(self._failing))
            holding[Reason.EMAIL_DELIVERY_FAILING] = Condition(
                f"EmailDeliveryFailing: Alertmanager reports failed e-mail sends ({', '.join(sorted(self._failing))})",
                lines + ("its log says why (grep 'Notify attempt failed'); `notify-reconciler mail-test --probe` "
                         "checks the server as Alertmanager would",), ",".join(sorted(self._failing)))
        with self._alert_lock:
            now = self.host.now()
            self._mail(self.stream.update(frozenset({Reason.EMAIL_DELIVERY_FAILING}), holding, now,
                                          self.alerting.repeat_seconds,
                                          resolution="Alertmanager's e-mail sends succeed again"), now)

    def _mail_loop(self) -> None:
        """Delivery runs beside the reconcile loop: an SMTP server that is slow or down never
        delays applying a commit. Woken by a new letter, else every MAIL_TICK_SECONDS for
        letters whose back-off has passed."""
        while not self.stopping.is_set():
            try:
                self._deliver_mail()
            except Exception as exc:  # a bug must not end delivery; it is logged and retried
                log.exception(logfmt.line("mailer_crashed", error=exc))
            self.host.wait(self._mail_wake, MAIL_TICK_SECONDS)
            self._mail_wake.clear()

    def _deliver_mail(self) -> None:
        server = self.alerting.server
        if server is not None and server.enabled:
            fallback = fallback_carrier(self.config.own_alerts.fallback, self.config.own_alerts.fallback_recipients,
                                      self.host)

            def send_primary(sender: str, recipients: list[str], message: bytes):
                password = read_password(server, self.host.environ)
                return send(server, password, sender, recipients, message, hello=server.hello or self.host.hostname)

            primary = Carrier(f"EmailServer {server.smarthost}", send_primary)
            report = self.outbox.deliver(lambda letter: deliver(letter, primary, fallback), self.host.now(),
                                         sleep=lambda seconds: self.host.wait(self.stopping, seconds))
            for letter in report.sent:
                log.info(logfmt.line("mail_sent", subject=letter.subject, recipients=len(letter.recipients),
                                     route=report.routes.get(letter.id, "primary")))
                self.metrics.mails.labels("sent").inc()
            for letter in report.failed:
                log.warning(logfmt.line("mail_failed", subject=letter.subject, error=letter.last_error))
                self.metrics.mails.labels("failed").inc()
            for letter in report.deferred:
                log.warning(logfmt.line("mail_deferred", subject=letter.subject, attempts=letter.attempts,
                                        waiting=len(report.waiting),
                                        retry_in=f"{letter.next_attempt - self.host.now():.0f}s",
                                        error=letter.last_error))
            for problem in report.unrecorded:  # mail still goes; only the outbox folder is behind
                log.error(logfmt.line("outbox_not_recorded", error=problem))
        self.metrics.outbox.labels("pending").set(len(self.outbox.pending()))
        self.metrics.outbox.labels("failed").set(len(self.outbox.failed()))

    def _on_signal(self, signum: int, _frame) -> None:
        if signum == signal.SIGHUP:
            self.trigger("SIGHUP")
        else:
            self.stop()

    def _watch(self) -> Observer:
        """inotify: a new commit on the branch of a local repo, and a change of the live file by
        anyone else (a hand edit is put back in about a second, not at the next poll)."""
        observer = Observer()
        daemon = self
        git_dir = self.source.local_git_dir()
        branch = self.config.source.branch
        output = os.path.abspath(self.config.target.output)

        class Changed(FileSystemEventHandler):
            def __init__(self, endings: tuple[str, ...], reason: str) -> None:
                self.endings, self.reason = endings, reason

            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type in ("opened", "closed_no_write"):
                    return  # reads (ours, Alertmanager's): reacting would loop
                for path in (event.src_path, getattr(event, "dest_path", "")):
                    if path and os.fsdecode(path).endswith(self.endings):
                        if self.reason == LIVE_FILE_CHANGED and daemon.live_file_is_ours():
                            return  # our own write
                        daemon.trigger(self.reason)
                        return

        if git_dir is not None:
            refs = Changed(("/refs/heads/" + branch, "/packed-refs"), "commit")
            observer.schedule(refs, str(git_dir), recursive=False)
            heads = Path(git_dir, "refs", "heads")
            if heads.is_dir():
                observer.schedule(refs, str(heads), recursive=True)
        if os.path.isdir(os.path.dirname(output)):
            observer.schedule(Changed((output,), LIVE_FILE_CHANGED), os.path.dirname(output), recursive=False)
        observer.daemon = True
        observer.start()
        return observer

    def live_file_is_ours(self) -> bool:
        try:
            return Path(self.config.target.output).read_bytes() == self.target.known
        except OSError:
            return False

    def _serve_http(self) -> HttpEndpoint:
        """One thread for every client, with bounded connections and time (http_endpoint.py):
        clients of /metrics cannot take the tasks a pass needs."""
        def ready() -> Answer:
            status, body = self.readiness()
            return status, body.encode("utf-8"), TEXT

        return HttpEndpoint.serve(self.config.listen, {
            "/metrics": lambda: (200, generate_latest(self.metrics.registry), CONTENT_TYPE_LATEST),
            "/healthz": lambda: (200, b"ok\n", TEXT),
            "/readyz": ready,
        }, on_drop=lambda reason: self.metrics.http_dropped.labels(reason).inc())


def _probe_key(server: EmailServer, environ) -> tuple:
    """The server's settings and a digest of its password as it is now: a rotated password
    file is probed again. The password itself is not kept."""
    import hashlib

    secret = b""
    try:
        if server.password_file:
            secret = Path(server.password_file).read_bytes()
        elif server.password_env:
            secret = environ.get(server.password_env, "").encode()
    except OSError:
        secret = b"unreadable"
    return (server, hashlib.sha256(secret).hexdigest())


def settle_memory() -> None:
    """Collect this pass's garbage now, between passes. With a large tree cached, a full
    collection that the allocator triggers in the middle of a pass could double an
    incremental pass; done here it costs the same but delays no commit. (gc.freeze() would
    avoid even that, but froze cyclic garbage of later passes for good: RSS grew with every
    rejected commit.)"""
    gc.collect()


