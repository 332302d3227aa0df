"""systemd/notify-reconciler.service: valid for systemd, and a strict sandbox."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support.services import require_binary


UNIT = Path(__file__).resolve().parents[2] / "systemd" / "notify-reconciler.service"
INSTALLED_BINARY = "/opt/notify-reconciler/bin/notify-reconciler"


def directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_unit_is_a_notify_service_with_watchdog_reload_and_restart():
    unit = directives()
    assert unit["Type"] == ["notify"]
    assert unit["ExecStart"] == [f"{INSTALLED_BINARY} run --config /etc/notify-reconciler/config.yaml"]
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert unit["Restart"] == ["on-failure"]
    assert re.fullmatch(r"\d+s", unit["WatchdogSec"][0])
    assert unit["StateDirectory"] == ["notify-reconciler"]
    assert unit["User"] == ["notify-reconciler"]
    assert unit["ReadWritePaths"] == ["-/etc/alertmanager"]  # "-": absent on Debian, where it is /etc/prometheus
    assert unit["ProtectSystem"] == ["strict"]


def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    analyze = require_binary("systemd-analyze")
    # verify insists that ExecStart exists; point it at this checkout's console script.
    script = Path(sys.executable).with_name("notify-reconciler")
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace(INSTALLED_BINARY, str(script)))
    result = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_security_exposure_is_2_or_lower():
    analyze = require_binary("systemd-analyze")
    result = subprocess.run([analyze, "security", "--offline=yes", "--no-pager", str(UNIT)],
                            capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout
