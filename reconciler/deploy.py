"""Put a rendered config live: check it, write it atomically, reload and verify every
Alertmanager, and roll back if any of them refuses it.

Guarantee (SPEC.md section 5): the output file is at every moment a complete config that
Alertmanager accepted, the old one or the new one. A refused reload restores the old bytes
and reloads again before the error is raised.

Every target must answer before the file is written: while one is down, the file keeps
the config it last accepted (and would start with), instead of a new one nobody verified.

Verification is exact: Alertmanager exports ``alertmanager_config_hash``, the first 48 bits
of the MD5 of the config file's bytes; after a reload each target must report the hash of
the bytes we wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import tenacity
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from .errors import DeployError, EnvironmentProblem, TransientDeployError
from .files import write_atomically
from .model import Specs
from .render import MAX_HEADER_LINE, RenderOptions, Rendered, password_file_for

HTTP_TIMEOUT = 10.0
AMTOOL_TIMEOUT = 30.0


@dataclass(frozen=True)
class TargetResult:
    url: str
    ok: bool
    message: str
    transient: bool = False
    """The failure may pass by itself (unreachable, 5xx): AlertmanagerUnreachable, not ApplyFailed."""


def config_hash(data: bytes) -> float:
    """The value Alertmanager exports as alertmanager_config_hash for a file of `data`."""
    return float(int.from_bytes(hashlib.md5(data).digest()[:6], "little"))


def read_live(output: str | os.PathLike) -> bytes | None:
    try:
        return Path(output).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EnvironmentProblem(f"{output}: cannot read the live config: {exc.strerror}") from exc


class CheckedParts:
    """What the check last accepted: the render's skeleton and its lists' parts."""

    def __init__(self) -> None:
        self.skeleton: str | None = None
        self.lists: frozenset[tuple[str, str]] = frozenset()


def check_rendered(rendered: Rendered, checked: CheckedParts | None = None) -> None:
    """`check_config` on what changed since the last accepted render.

    With the same skeleton (base, globals, root route), a list's route and receiver are valid
    or not by their own text: each route names only its own receiver, and names are unique
    (the schema sees to that). So only the lists whose text is new are checked, in the
    skeleton, and a one-file commit costs amtool a small file instead of the whole 2 MB
    config. Anything else (a new base, server or policy) checks the whole text."""
    if checked is not None and checked.skeleton == rendered.skeleton:
        try:
            check_config(rendered.with_lists([part for part in rendered.lists if part not in checked.lists]))
        except DeployError:
            check_config(rendered.text)  # refused: say it with the line numbers of the real file
            raise
    else:
        check_config(rendered.text)
    if checked is not None:
        checked.skeleton, checked.lists = rendered.skeleton, frozenset(rendered.lists)


def check_config(text: str) -> None:
    """Our own checks always, and `amtool check-config` when it is installed; without amtool
    the text must at least parse as YAML. (Parsing a 2 MB render in Python costs 0.6 s;
    amtool parses it, and checks far more, in 0.08 s.)"""
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("To: ") and len(stripped) > MAX_HEADER_LINE:
            raise DeployError("a rendered To: header is longer than 998 octets, which strict SMTP servers refuse "
                              "(a bug: please report it)")
    amtool = shutil.which("amtool")
    if amtool is None:
        try:
            YAML(typ="safe").load(text)
        except YAMLError as exc:  # pragma: no cover - the renderer only writes valid YAML
            raise DeployError(f"the rendered config is not valid YAML: {exc}") from exc
        return
    with tempfile.TemporaryDirectory(prefix="notify-reconciler-") as folder:
        candidate = Path(folder, "alertmanager.yml")
        candidate.write_text(text, encoding="utf-8")
        try:
            result = subprocess.run([amtool, "check-config", str(candidate)], capture_output=True, text=True,
                                    timeout=AMTOOL_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise DeployError(f"amtool check-config did not answer within {AMTOOL_TIMEOUT:.0f}s") from exc
    if result.returncode != 0:
        reason = _amtool_reason(result.stdout + result.stderr)
        raise DeployError(f"amtool check-config refused the rendered config: {reason}")


def write_password_files(specs: Specs, options: RenderOptions, environ: Mapping[str, str]) -> None:
    """Write a password named by passwordEnv where the render told Alertmanager to read it."""
    server = specs.server
    if server is None or not server.password_env or not server.username:
        return
    value = environ.get(server.password_env)
    if value is None:
        raise EnvironmentProblem(f"EmailServer {server.name}: spec.passwordEnv names {server.password_env}, "
                                 "which is not set in the daemon's environment: set it (for systemd, in an "
                                 "EnvironmentFile) or use passwordFile")
    path = Path(password_file_for(server, options))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if read_live(path) != value.encode():
        write_atomically(path, value, new_mode=0o600)


def _retrying(sleep: Callable[[float], None] | None) -> tenacity.Retrying:
    """Transient failures (unreachable, 5xx) are tried five times within 20 s, waiting 0.2 s,
    0.4 s, ...: long enough to ride out an Alertmanager restart."""
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
    metrics = _metrics(url)
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
    return _metrics(url).get("alertmanager_config_hash")


def _metrics(url: str) -> dict[str, float]:
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


def _http(url: str, path: str, *, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url.rstrip("/") + path, method=method,
                                     data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, socket.timeout, ConnectionError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransientDeployError(f"{url}: unreachable: {reason}") from exc


def _amtool_reason(output: str) -> str:
    """The FAILED line's reason and the indented detail lines under it (go-yaml lists each
    unmarshal error on its own line)."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if "FAILED" in line:
            details = [line.split("FAILED:", 1)[-1].strip()]
            details += [more.strip() for more in lines[index + 1:index + 6] if more[:1].isspace()]
            return " ".join(details)[:500]
    return " ".join(output.split())[:300]

