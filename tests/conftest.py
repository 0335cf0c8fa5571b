"""Suite-wide fixtures. Each area (core, ssh, web, lab, integrations) has its own conftest too."""

from __future__ import annotations

import sys
from collections.abc import Generator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Wall-clock limits measure the machine, not the code: on a busy CI machine (both cores loaded) a generated input
# may take longer than hypothesis' defaults allow. Every test keeps its own example count and assertions.
settings.register_profile("routerfix", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("routerfix")


@pytest.fixture(autouse=True)
def _fresh_memory_routers() -> Iterator[None]:
    """Every test starts with no in-memory routers left over from another test."""
    from routerfix.drivers.memory.driver import reset_routers

    reset_routers()
    yield
    reset_routers()


@pytest.fixture(autouse=True)
def _private_lock_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Device locks (routerfix.locks) in a directory of this test only, inherited by the CLI processes it
    starts: tests running at once on this machine never wait on each other's locks of the same host name."""
    monkeypatch.setenv("ROUTERFIX_LOCK_DIR", str(tmp_path_factory.mktemp("locks")))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--dist loadgroup`` (pytest-xdist) runs the tests of one ``xdist_group`` in one worker: each worker appends
    ``@group`` to their node ids, which the controlling process groups by. pytest 9.2 keeps node ids where
    pytest-xdist 3.8 no longer writes (pytest-xdist#1386), and the groups were silently spread over all workers: the
    fault matrix built once per worker, two ghost-call labs at once. Put the suffix where this pytest keeps it, and
    stop the run when a group still does not take rather than run the groups apart. (The controlling process parses
    the ids it gets back: a parametrized grouped test shows as ``test[a]@group]`` in reports and JUnit XML.)"""
    if not getattr(config.option, "loadgroup", False):  # set in pytest-xdist's workers under --dist loadgroup only
        return
    for item in items:
        marks = item.iter_markers("xdist_group")
        names = {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks}
        if not names:
            continue
        suffix = "@" + "_".join(sorted(names))
        node_id = getattr(item, "_id", None)
        if not item.nodeid.endswith(suffix) and hasattr(node_id, "parse"):
            item._id = type(node_id).parse(item.nodeid + suffix)  # type: ignore[attr-defined]
        if not item.nodeid.endswith(suffix):
            raise pytest.UsageError(f"{item.nodeid}: its xdist_group {sorted(names)} does not take with this pytest "
                                    "and pytest-xdist; run with -n 0 (serially) instead")


LAB_REPORT = "ghost-call lab report"
"""The lines tests/lab adds with ``netlab.report`` travel in each test report's user_properties under this key: under
pytest-xdist they are added in a worker, and only the controlling process prints the summary."""
_lab_report: list[str] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Move the lab report's new lines into this phase's report (any test's: the session's last teardown, which
    removes the lab, may be that of a test outside tests/lab)."""
    report = yield
    netlab = sys.modules.get("netlab")
    lines: list[str] = getattr(netlab, "REPORT", [])
    if lines:
        report.user_properties.extend((LAB_REPORT, line) for line in lines)
        lines.clear()
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _lab_report.extend(str(value) for key, value in report.user_properties if key == LAB_REPORT)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the lab report (packets at the phone, rings, registration) after the test run."""
    if not _lab_report:
        return
    terminalreporter.section(LAB_REPORT)
    for line in _lab_report:
        terminalreporter.write_line(line)
