"""Session-wide checks. The secret audit: see tests/audit.py."""

from __future__ import annotations

import pytest

from tests.audit import SECRET, find_leaks

_leaks: list[str] = []


@pytest.fixture(autouse=True, scope="session")
def _user_cache(tmp_path_factory):
    """The CLI keeps parsed files under $XDG_CACHE_HOME (reconciler/cache.py): for this run,
    a folder inside the audited temporary one, never the user's own. Subprocesses inherit it."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    yield
    patch.undo()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for section, text in report.sections:  # captured stdout, stderr and log records
        if SECRET in text:
            _leaks.append(f"{report.nodeid} ({report.when}): {section}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or getattr(factory, "_basetemp", None) is None:
        files = []  # no test used a temporary folder
    else:
        files = find_leaks(factory.getbasetemp())
    leaks = _leaks + files
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if leaks:
        if reporter is not None:
            reporter.write_sep("=", "secret audit: the test password leaked", red=True)
            for leak in leaks:
                reporter.write_line(leak)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter is not None:
        reporter.ensure_newline()
        reporter.write_line("secret audit: the test password is in no captured output, log or file "
                            "(other than password files)")
