"""Talking to one Alertmanager over HTTP: is it ready, reload it, what does it run.

Verification is exact: Alertmanager exports ``alertmanager_config_hash``, the first 48 bits
of the MD5 of the config file's bytes; after a reload a target must report the hash of the
bytes we wrote. Transient failures (unreachable, 5xx) are retried with back-off through the
injected `sleep`; a refused config is not retried. Every failure is a `DeployError`
(`TransientDeployError` when it may pass by itself).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Callable

from ..errors import DeployError, TransientDeployError

if TYPE_CHECKING:
    import tenacity

# urllib (with http.client, ssl and email) and tenacity are imported where a request is made:
# `diff` and `render` load this module (through deploy) and most runs never talk HTTP.

HTTP_TIMEOUT = 10.0


def config_hash(data: bytes) -> float:
    """The value Alertmanager exports as alertmanager_config_hash for a file of `data`."""
    return float(int.from_bytes(hashlib.md5(data).digest()[:6], "little"))


def _retrying(sleep: Callable[[float], None] | None) -> tenacity.Retrying:
    """Transient failures (unreachable, 5xx) are tried five times within 20 s, waiting 0.2 s,
    0.4 s, ...: long enough to ride out an Alertmanager restart."""
    import tenacity

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TransientDeployError),
        stop=tenacity.stop_after_attempt(5) | tenacity.stop_after_delay(20),
        wait=tenacity.wait_exponential(multiplier=0.2, max=5),
        reraise=True,
        **({"sleep": sleep} if sleep else {}),
    )


def wait_until_ready(url: str, *, sleep: Callable[[float], None] | None = None) -> None:
    """Return once the target answers GET /-/ready with 200; raise TransientDeployError if it
    does not within the retries. Asked before the file is written, so that an Alertmanager
    that is down does not find an unverified config on disk when it starts again."""
    _retrying(sleep)(_ready_once, url)


def _ready_once(url: str) -> None:
    status, body = _http(url, "/-/ready")
    if status != 200:
        raise TransientDeployError(f"{url}: not ready (/-/ready answered {status}: {' '.join(body.split())[:200]})")


def reload_and_verify(url: str, expected: bytes, *, sleep: Callable[[float], None] | None = None) -> None:
    """POST /-/reload, then check the target runs exactly `expected`. Transient failures are
    retried with exponential backoff; a refused config is not."""
    _retrying(sleep)(_reload_once, url, expected)


def _reload_once(url: str, expected: bytes) -> None:
    status, body = _http(url, "/-/reload", method="POST")
    if status != 200:
        reason = " ".join(body.split())[:300] or f"HTTP {status}"
        if status >= 500 and "failed to reload config" not in body:
            raise TransientDeployError(f"{url}: reload answered {status}: {reason}")
        raise DeployError(f"{url}: refused the new config: {reason}")
    metrics = config_metrics(url)
    if metrics.get("alertmanager_config_last_reload_successful") != 1.0:
        raise DeployError(f"{url}: reload answered 200 but alertmanager_config_last_reload_successful is not 1")
    running = metrics.get("alertmanager_config_hash")
    if running != config_hash(expected):
        raise DeployError(f"{url}: runs a config other than the file just written (config hash "
                          f"{running!r}, expected {config_hash(expected)!r}): is its --config.file the "
                          "target.output of notify-reconciler?")


def running_config(url: str) -> str:
    """What Alertmanager reports it runs (defaults filled in, secrets as <secret>)."""
    status, body = _http(url, "/api/v2/status")
    if status != 200:
        raise TransientDeployError(f"{url}: /api/v2/status answered {status}")
    try:
        return json.loads(body)["config"]["original"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DeployError(f"{url}: /api/v2/status did not hold a config") from exc


def running_hash(url: str) -> float | None:
    return config_metrics(url).get("alertmanager_config_hash")


def config_metrics(url: str) -> dict[str, float]:
    """The alertmanager_config_* samples of the target's /metrics."""
    status, body = _http(url, "/metrics")
    if status != 200:
        raise TransientDeployError(f"{url}: /metrics answered {status}")
    values: dict[str, float] = {}
    for line in body.splitlines():
        if line.startswith("alertmanager_config_"):
            name, _, value = line.partition(" ")
            try:
                values[name] = float(value.split()[0])
            except (ValueError, IndexError):
                continue
    return values


def email_counters(url: str) -> tuple[float, float]:
    """(alertmanager_notification_requests_total, ..._requests_failed_total) for the email
    integration: every send attempt, and every failed one (connect, TLS, AUTH, RCPT), counted
    at once (alertmanager_notifications_failed_total waits until Alertmanager gives up)."""
    status, body = _http(url, "/metrics")
    if status != 200:
        raise TransientDeployError(f"{url}: /metrics answered {status}")
    totals = {"alertmanager_notification_requests_total": 0.0, "alertmanager_notification_requests_failed_total": 0.0}
    for line in body.splitlines():
        name, brace, rest = line.partition("{")
        if name in totals and brace and 'integration="email"' in rest.partition("}")[0]:
            try:
                totals[name] += float(rest.partition("}")[2].split()[0])
            except (ValueError, IndexError):
                continue
    return totals["alertmanager_notification_requests_total"], totals["alertmanager_notification_requests_failed_total"]


def _http(url: str, path: str, *, method: str = "GET") -> tuple[int, str]:
    import http.client
    import urllib.error
    import urllib.request

    try:
        request = urllib.request.Request(url.rstrip("/") + path, method=method,
                                         data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            body = ""
        return exc.code, body
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        # URLError (refused, no route, DNS), a reset or timeout mid-answer (OSError), a
        # garbled answer (HTTPException), a URL urllib cannot use (ValueError).
        reason = getattr(exc, "reason", None) or exc
        raise TransientDeployError(f"{url}: unreachable: {reason}: start it, or remove it from "
                                   "target.alertmanagers") from exc
