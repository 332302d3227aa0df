"""The daemon's Prometheus metrics (`/metrics`): one registry of its own, and what a pass
records in it. Metric values never carry a secret: an Alertmanager URL is shown without its
credentials."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ..display import redact_urls
from ..values import Outcome


@dataclass
class Metrics:
    registry: CollectorRegistry
    reconciles: Counter
    duration: Histogram
    applied: Gauge
    last_success: Gauge
    reload_ok: Gauge
    drift: Counter
    mails: Counter
    outbox: Gauge
    healthy: Gauge
    http_dropped: Counter

    @classmethod
    def create(cls) -> Metrics:
        registry = CollectorRegistry()
        return cls(
            registry,
            Counter("notify_reconciler_reconciles", "Reconcile passes by result", ["result"], registry=registry),
            Histogram("notify_reconciler_reconcile_duration_seconds", "Time of one reconcile pass", ["result"],
                      registry=registry, buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)),
            Gauge("notify_reconciler_applied_revision_info", "The revision that is live", ["revision"],
                  registry=registry),
            Gauge("notify_reconciler_last_success_timestamp_seconds", "When a pass last ended applied or unchanged",
                  registry=registry),
            Gauge("notify_reconciler_alertmanager_reload_success", "1 if the Alertmanager took the last config",
                  ["alertmanager"], registry=registry),
            Counter("notify_reconciler_drift_corrected", "Hand edits of the live config put back",
                    registry=registry),
            Counter("notify_reconciler_own_alert_mails", "The daemon's own alert mails by outcome", ["outcome"],
                    registry=registry),
            Gauge("notify_reconciler_outbox_messages", "Own alert mails waiting (pending) or given up (failed)",
                  ["state"], registry=registry),
            Gauge("notify_reconciler_healthy", "1 when `notify-reconciler status` would say healthy",
                  registry=registry),
            Counter("notify_reconciler_http_connections_dropped",
                    "HTTP connections closed by a bound: evicted (over the cap), timeout, too_large", ["reason"],
                    registry=registry),
        )

    def record(self, outcome: Outcome, seconds: float, now: float) -> None:
        self.reconciles.labels(outcome.result).inc()
        self.duration.labels(outcome.result).observe(seconds)
        if outcome.ok and outcome.revision is not None:
            self.applied.clear()
            self.applied.labels(outcome.revision.sha).set(1)
            self.last_success.set(now)
        for target in outcome.targets:  # an Alertmanager URL may carry credentials too
            self.reload_ok.labels(redact_urls(target.url)).set(1 if target.ok else 0)
        if outcome.drift:
            self.drift.inc(len(outcome.drift))
