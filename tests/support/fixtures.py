"""Fixtures the test modules share, registered for the whole suite by tests/conftest.py. A
module's own fixture of the same name takes precedence for that module."""

from __future__ import annotations

import pytest

from tests.support.daemon import DaemonSetup
from tests.support.services import require_binary
from tests.support.smtp import SmtpServer, start_smtp_server


@pytest.fixture
def setup(tmp_path):
    """A config repo, a config file and `start` for daemons on them (tests/support/daemon.py);
    every daemon started is killed at the end. Alertmanager optional per test."""
    ns = DaemonSetup(tmp_path)
    yield ns
    ns.stop_all()


@pytest.fixture
def smtp() -> SmtpServer:
    """A plain aiosmtpd server on loopback, recording what it accepts."""
    server = start_smtp_server()
    yield server
    server.controller.stop()


@pytest.fixture(scope="session")
def amtool() -> str:
    """The real amtool's path (skips without it; fails in CI)."""
    return require_binary("amtool")
