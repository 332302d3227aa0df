"""Session-wide checks (the secret audit: see tests/support/audit.py) and the shared fixtures
(tests/support/fixtures.py)."""

from __future__ import annotations

import pytest

from tests.support.audit import SECRETS, find_leaks

pytest_plugins = ["tests.support.fixtures"]


_leaks: list[str] = []


@pytest.fixture(autouse=True, scope="session")
def _user_cache(tmp_path_factory):
    """The CLI keeps parsed files under $XDG_CACHE_HOME (reconciler/io/cache.py): for this run,
    a folder inside the audited temporary one, never the user's own. Subprocesses inherit it."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    yield
    patch.undo()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for section, text in report.sections:  # captured stdout, stderr and log records
        if any(secret in text for secret in SECRETS):
            _leaks.append(f"{report.nodeid} ({report.when}): {section}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = _leaks + _files_left_with_the_secret(session.config)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: its controller reports for all
        workeroutput["secret_leaks"] = leaks
        return
    leaks = list(dict.fromkeys(leaks + _worker_leaks))  # the controller may see a worker's folder too
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if leaks:
        if reporter is not None:
            reporter.write_sep("=", "secret audit: the test password or git token leaked", red=True)
            for leak in leaks:
                reporter.write_line(leak)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter is not None:
        reporter.ensure_newline()
        reporter.write_line("secret audit: the test password and git token are in no captured output, log or "
                            "file (other than password and credentials files)")


def _files_left_with_the_secret(config: pytest.Config) -> list[str]:
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None or getattr(factory, "_basetemp", None) is None:
        return []  # no test used a temporary folder
    return find_leaks(factory.getbasetemp())


_worker_leaks: list[str] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """pytest-xdist's controller: a worker ended; keep what its audit found. Captured output
    reaches the controller's pytest_runtest_logreport too, so only files are new here (the
    worker's list may repeat an output leak: the run fails either way)."""
    _worker_leaks.extend(getattr(node, "workeroutput", {}).get("secret_leaks", []))
