"""pytest plugin: missing data is never green, corrupt data is an error naming the file and line.

- A DataUnavailable raised while setting up or running a test becomes a skip whose reason starts
  with MISSING_DATA (the prefix, not the exception type, survives pytest-xdist's report transport).
- Such skips are listed at the end of the run with the paths, and the run's exit status is
  non-zero (TESTS_FAILED) unless --allow-missing-data is given.
- A DataCorrupt fails the test (an error in setup) with its `path:line: problem` message and no
  traceback.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.data import DataCorrupt, DataUnavailable, missing_subdirs

MISSING_DATA = "missing data: "
GUARD_KEY = pytest.StashKey["MissingDataGuard"]()


class MissingData(pytest.skip.Exception):
    """The skip for a test whose data is absent; its reason starts with MISSING_DATA."""

    def __init__(self, reason: str):
        super().__init__(reason if reason.startswith(MISSING_DATA) else MISSING_DATA + reason)


def skip_missing(exc: DataUnavailable | str) -> MissingData:
    """The exception to raise for absent data: `raise skip_missing(exc) from None`."""
    return MissingData(str(exc))


@dataclass(eq=False)  # registered as a plugin: pluggy keeps plugins in sets, so hashed by identity
class MissingDataGuard:
    allowed: bool
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> test ids

    def note(self, nodeid: str, reason: str) -> None:
        tests = self.skipped.setdefault(reason.split(MISSING_DATA, 1)[1], [])
        if nodeid not in tests:
            tests.append(nodeid)

    def count(self) -> int:
        return sum(len(tests) for tests in self.skipped.values())

    # Registered as a plugin on the controlling process only: under pytest-xdist it sees every
    # worker's reports.
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._seen(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._seen(report)

    def _seen(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        if report.skipped:
            reason = _skip_reason(report)
            if reason is not None:
                self.note(report.nodeid, reason)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("llm-harness").addoption(
        "--allow-missing-data", action="store_true",
        help="a run whose tests skip for missing data (sst2/, stsb/, flores200/ absent) exits 0; "
             "without it such a run exits 1 and lists what was missing")


def pytest_configure(config: pytest.Config) -> None:
    guard = MissingDataGuard(bool(config.getoption("allow_missing_data")))
    config.stash[GUARD_KEY] = guard
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(guard, "harness-missing-data-guard")


def pytest_report_header(config: pytest.Config) -> list[str]:
    from harness.plugin import CONTEXT_KEY

    if CONTEXT_KEY not in config.stash:
        return []
    data_dir = config.stash[CONTEXT_KEY].data_dir
    lacking = missing_subdirs(data_dir)
    if not lacking:
        return []
    consequence = "accepted (--allow-missing-data)" if config.stash[GUARD_KEY].allowed else \
        "the run will exit 1 unless --allow-missing-data is given"
    return [f"harness: data directory {data_dir} lacks {', '.join(name + '/' for name in lacking)}: "
            f"claims that need them skip; {consequence}"]


def _convert_missing() -> Generator[None, Any, Any]:
    try:
        return (yield)
    except DataUnavailable as exc:
        raise skip_missing(exc) from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, Any, Any]:
    return (yield from _convert_missing())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    return (yield from _convert_missing())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Generator[None, Any, Any]:
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(DataCorrupt) and report.failed:
        report.longrepr = f"corrupt data: {call.excinfo.value}"
    return report


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3 else str(longrepr)
    return reason if MISSING_DATA in reason else None


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    guard = config.stash.get(GUARD_KEY, None)
    if guard is None or hasattr(config, "workerinput") or not guard.skipped or guard.allowed:
        return
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    guard = config.stash.get(GUARD_KEY, None)
    if guard is None or not guard.skipped:
        return
    tr = terminalreporter
    tr.section("missing data", sep="=", yellow=guard.allowed, red=not guard.allowed)
    for reason, tests in guard.skipped.items():
        tr.write_line(reason)
        for nodeid in tests:
            tr.write_line(f"    {nodeid}")
    verdict = "accepted by --allow-missing-data" if guard.allowed else \
        "the run fails (exit status 1); pass --allow-missing-data to accept a partial run"
    tr.write_line(f"{guard.count()} test(s) skipped for missing data: {verdict}",
                  yellow=guard.allowed, red=not guard.allowed)
