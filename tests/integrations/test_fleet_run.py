"""run_fleet: isolation, bounded workers, callbacks, reports, exit codes, --only-failed, undo records."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from integration_support import write_inventory
from routerfix.drivers.memory import MemoryDriver

import routerfix
from routerfix.driver import Driver
from routerfix.errors import InvalidValue, StateFileError
from routerfix.fleet import (
    MAX_WORKERS,
    FleetOperation,
    FleetReport,
    HostResult,
    ResultStatus,
    failed_hosts,
    load_report,
    run_fleet,
)
from routerfix.inventory import FleetHost, load_inventory


def test_one_failure_never_stops_the_others(fleet_inventory: Path) -> None:
    report = run_fleet(fleet_inventory, "plan")
    by = {r.name: r for r in report.results}
    assert [r.name for r in report.results] == ["office-a", "office-b", "pbx", "wrong-pw"]   # inventory order
    assert by["office-a"].status == by["office-b"].status == "planned" and by["office-a"].ok
    assert by["office-a"].sink and len(by["office-a"].actions) == 4 and "+forward" in by["office-a"].diff
    assert (by["pbx"].status, by["pbx"].error_type) == ("failed", "ForwardConflict")
    assert (by["wrong-pw"].status, by["wrong-pw"].error_type) == ("failed", "AuthenticationError")
    assert report.exit_code() == 1
    assert report.summary() == {"planned": 2, "failed": 2, "total": 4, "ok": 2, "not_ok": 2, "changed": 0}
    text = report.to_json()
    assert "not-the-password" not in text and "admin" not in json.dumps([r.error_message for r in report.results])


def test_exit_codes_all_some_none(tmp_path: Path, password_env: str) -> None:
    def inv(scenarios: list[str], sub: str) -> Path:
        return write_inventory(tmp_path / sub, {f"{sub}{i}": {"connection_options": {"routerfix": {"extras": {
            "scenario": s}}}} for i, s in enumerate(scenarios)}, None,
            {"platform": "memory", "data": {"password_env": password_env}})
    assert run_fleet(inv(["office", "office"], "all"), "plan").exit_code() == 0
    assert run_fleet(inv(["office", "full-pool"], "some"), "plan").exit_code() == 1
    assert run_fleet(inv(["pbx", "full-pool"], "none"), "plan").exit_code() == 2
    assert FleetReport(operation=FleetOperation.PLAN, results=()).exit_code() == 0


class _BrokenDriver(MemoryDriver):
    """Raises a non-routerfix exception (a bug in a third-party driver) whose text holds the password."""

    name = "broken-test"

    def open(self) -> None:
        raise RuntimeError(f"bug while logging in with {self.password.reveal() if self.password else ''}")


class _VerdictDriver(MemoryDriver):
    name = "verdict-test"
    capabilities = routerfix.Capabilities(features=frozenset())   # no port forwarding: replace the router

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, capabilities=routerfix.Capabilities(), **options)


@pytest.fixture
def odd_drivers() -> Any:
    from routerfix.registry import registry

    for cls in (_BrokenDriver, _VerdictDriver):
        registry.register(cls.name, cls)
    yield
    for cls in (_BrokenDriver, _VerdictDriver):
        registry.deregister(cls.name)


def test_unexpected_exceptions_and_verdicts_are_per_host(odd_drivers: None, tmp_path: Path) -> None:
    hosts = [FleetHost("bug", "bug.test", "broken-test", password=routerfix.Secret("admin-secret-pw")),
             FleetHost("old", "old.test", "verdict-test"),
             FleetHost("fine", "fine.test", "memory")]
    report = run_fleet(hosts, "mitigate", state_dir=tmp_path)
    by = {r.name: r for r in report.results}
    assert by["bug"].error_type == "RuntimeError" and "admin-secret-pw" not in (by["bug"].error_message or "")
    assert "********" in (by["bug"].error_message or "")
    assert by["old"].status == "verdict" and not by["old"].ok and "replace_router" in by["old"].verdicts[0]
    assert by["fine"].status == "mitigated" and by["fine"].ok and by["fine"].changed
    assert report.exit_code() == 1


def test_workers_bound_concurrency_and_callbacks_fire(tmp_path: Path) -> None:
    active, peak, lock = [0], [0], threading.Lock()
    started: list[str] = []
    done: list[HostResult] = []

    class Slow(MemoryDriver):
        name = "slow-test"

        def open(self) -> None:
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.05)   # a slow device, not a readiness wait
            with lock:
                active[0] -= 1
            super().open()

    routerfix.register("slow-test", Slow)
    try:
        hosts = [FleetHost(f"h{i}", f"h{i}.test", "slow-test") for i in range(12)]
        report = run_fleet(hosts, "plan", workers=3, on_start=lambda h: started.append(h.name),
                           on_done=done.append)
    finally:
        from routerfix.registry import registry
        registry.deregister("slow-test")
    assert 1 < peak[0] <= 3
    assert sorted(started) == sorted(h.name for h in hosts) and len(done) == 12
    assert report.workers == 3 and report.exit_code() == 0


def test_a_raising_callback_does_not_break_the_run() -> None:
    def boom(_: object) -> None:
        raise ValueError("callback bug")
    report = run_fleet([FleetHost("a", "a.test", "memory")], "plan", on_start=boom, on_done=boom)
    assert report.results[0].ok


def test_bad_arguments_are_refused_before_anything_runs(fleet_inventory: Path) -> None:
    with pytest.raises(InvalidValue, match="operation"):
        run_fleet(fleet_inventory, "destroy")
    for bad in (0, MAX_WORKERS + 1, True, "8"):
        with pytest.raises(InvalidValue, match="workers"):
            run_fleet(fleet_inventory, "plan", workers=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="turbo"):
        run_fleet(fleet_inventory, "plan", turbo=True)


def test_json_and_csv_reports_round_trip(fleet_inventory: Path, tmp_path: Path) -> None:
    report = run_fleet(fleet_inventory, "plan")
    path = report.save_json(tmp_path / "r" / "plan.json")
    assert path.stat().st_mode & 0o077 == 0
    again = load_report(path)
    assert [replace(r, duration=0) for r in again.results] == [replace(r, duration=0) for r in report.results]
    assert again.exit_code() == 1
    rows = list(csv.DictReader(io.StringIO(report.save_csv(tmp_path / "plan.csv").read_text())))
    assert [r["name"] for r in rows] == ["office-a", "office-b", "pbx", "wrong-pw"]
    assert rows[2]["error_type"] == "ForwardConflict" and rows[0]["ok"] == "True"
    assert rows[0]["actions"].count("; ") == 3
    with pytest.raises(StateFileError):
        load_report(tmp_path / "plan.csv")


def test_only_failed_reruns_just_the_failures(fleet_inventory: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    first = run_fleet(fleet_inventory, "mitigate", state_dir=tmp_path / "state")
    saved = first.save_json(tmp_path / "first.json")
    assert failed_hosts(saved) == ["pbx", "wrong-pw"]
    monkeypatch.setenv("ROUTERFIX_TEST_BAD_PW", "admin")   # the operator fixes the credential
    second = run_fleet(fleet_inventory, "mitigate", state_dir=tmp_path / "state", only_failed=saved)
    assert [r.name for r in second.results] == ["pbx", "wrong-pw"]
    assert second["wrong-pw"].status == "mitigated" and second["pbx"].status == "failed"
    third = run_fleet(fleet_inventory, "mitigate", state_dir=tmp_path / "state", only_failed=second,
                      replace_conflicting=True)
    assert [r.name for r in third.results] == ["pbx"] and third["pbx"].status == "mitigated"
    assert run_fleet(fleet_inventory, "mitigate", state_dir=tmp_path / "state", only_failed=third).results == ()


def test_only_failed_skips_hosts_gone_from_the_inventory(fleet_inventory: Path, tmp_path: Path) -> None:
    fake = FleetReport(operation=FleetOperation.PLAN, results=tuple(
        HostResult(name=name, hostname=host, driver="memory", operation=FleetOperation.PLAN,
                   status=ResultStatus.FAILED, ok=False) for name, host in (("retired", "x"), ("pbx", "y"))))
    report = run_fleet(fleet_inventory, "plan", only_failed=fake)
    assert [r.name for r in report.results] == ["pbx"]
    assert any("retired" in w for w in report.warnings)


def test_mitigate_saves_undo_records_and_undo_restores(fleet_inventory: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    inv = load_inventory(fleet_inventory).select(["office-a", "office-b"])
    done = run_fleet(inv, "mitigate", state_dir=state)
    assert all(r.status == "mitigated" and r.record and Path(r.record).exists() for r in done.results)
    assert (state.stat().st_mode & 0o077) == 0 and all(Path(r.record).stat().st_mode & 0o077 == 0
                                                         for r in done.results if r.record)
    again = run_fleet(inv, "mitigate", state_dir=state)
    assert all(r.status == "unchanged" and not r.changed and r.record is None for r in again.results)
    undone = run_fleet(inv, "undo", state_dir=state)
    assert all(r.status == "undone" and r.changed for r in undone.results)
    for host in inv:
        data = json.loads(Path(host.options["state_file"]).read_text())
        assert data["nat_mode"] == "open" and data["sip_alg"] is True   # the record restored them
        assert not [f for f in data["forwards"] if f["name"].startswith("routerfix-sip")]
    assert all(r.status == "nothing_to_undo" for r in run_fleet(inv, "undo", state_dir=state).results)


def test_renderings_escape_device_text(tmp_path: Path) -> None:
    r = HostResult(name="<script>x</script>", hostname="h", driver="memory", operation=FleetOperation.PLAN,
                   status=ResultStatus.FAILED, ok=False, error_type="DeviceError",
                   error_message="refused: <b>bad</b> [red]markup[/red]")
    report = FleetReport(operation=FleetOperation.PLAN, results=(r,), duration=1.0)
    page = report._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;bad" in page
    from rich.console import Console
    console = Console(record=True, width=200)
    console.print(report)
    assert "[red]markup[/red]" in console.export_text()


def test_run_fleet_is_exported_from_the_package() -> None:
    if not hasattr(routerfix, "run_fleet"):
        pytest.skip("the lead wires routerfix.run_fleet into routerfix/__init__.py")
    assert routerfix.run_fleet is run_fleet


def test_driver_instances_are_closed(tmp_path: Path) -> None:
    opened: list[Driver] = []

    class Tracking(MemoryDriver):
        name = "tracking-test"

        def open(self) -> None:
            opened.append(self)
            super().open()

    routerfix.register("tracking-test", Tracking)
    try:
        run_fleet([FleetHost(f"t{i}", f"t{i}.test", "tracking-test") for i in range(3)], "plan")
    finally:
        from routerfix.registry import registry
        registry.deregister("tracking-test")
    assert len(opened) == 3 and not any(d.is_open for d in opened)


def test_worker_processes_give_the_same_report_in_inventory_order(fleet_inventory: Path) -> None:
    one = run_fleet(fleet_inventory, "plan", workers=4, processes=1)
    started: list[str] = []
    done: list[str] = []
    two = run_fleet(fleet_inventory, "plan", workers=4, processes=2, on_start=lambda h: started.append(h.name),
                    on_done=lambda r: done.append(r.name))
    def strip(report: FleetReport) -> list[dict[str, Any]]:
        return [{**r.to_dict(), "duration_s": 0} for r in report.results]
    assert strip(two) == strip(one) and [r.name for r in two.results] == ["office-a", "office-b", "pbx", "wrong-pw"]
    assert sorted(started) == sorted(done) == ["office-a", "office-b", "pbx", "wrong-pw"]  # heard in this process
    assert two.to_dict().keys() == one.to_dict().keys() and two.exit_code() == one.exit_code() == 1


def test_worker_processes_are_bounded_and_small_runs_stay_in_one() -> None:
    from routerfix.fleet import default_processes

    assert default_processes(10, 64) == 1 and default_processes(5000, 8) == 1  # too few hosts, too few workers
    cpus = __import__("os").cpu_count() or 1
    assert default_processes(10_000, 64) == min(cpus, 2)  # one per CPU, each with at least 32 workers
    # never more than 64 threads in one process, whatever the CPU count
    assert default_processes(10_000, 160) >= 3 and default_processes(10_000, 1024) >= 16
    assert default_processes(10_000, 512) == max(8, min(cpus, 16))
    hosts = [FleetHost("a", "a.test", "memory")]
    for bad in (0, 5, True):
        with pytest.raises(InvalidValue, match="processes"):
            run_fleet(hosts, "plan", workers=4, processes=bad)  # type: ignore[arg-type]


def test_an_undo_with_nothing_to_restore_from_is_not_ok(tmp_path: Path, password_env: str) -> None:
    """No record (another machine ran the mitigation) and no undo marker on the router: the rules go, but the host
    is not reported as a success (NAT filtering and SIP ALG stay as routerfix set them)."""
    inventory = write_inventory(tmp_path / "inv", {"no-record-0": {"connection_options": {"routerfix": {"extras": {
        "scenario": "office"}}}}}, None, {"platform": "memory", "data": {"password_env": password_env}})
    assert run_fleet(inventory, "mitigate", state_dir=tmp_path / "a").exit_code() == 0
    report = run_fleet(inventory, "undo", state_dir=tmp_path / "b")
    result = report.results[0]
    assert result.status == "undone" and result.changed and not result.ok and report.exit_code() == 2
    assert any("no undo marker" in w for w in result.warnings)


def _run_test_driver(cls: type[MemoryDriver], count: int, operation: str = "plan", **kwargs: Any) -> FleetReport:
    """``count`` hosts ``h0.test``... of the test driver ``cls`` (registered for the run) through run_fleet."""
    from routerfix.registry import registry

    routerfix.register(cls.name, cls)
    try:
        return run_fleet([FleetHost(f"h{i}", f"h{i}.test", cls.name) for i in range(count)], operation, **kwargs)
    finally:
        registry.deregister(cls.name)


def _wait_for(condition: Any, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_a_free_worker_process_takes_the_next_host(tmp_path: Path) -> None:
    """The slow first host holds one process; the other process must run all nine others (a static split would
    have queued four of them behind the slow one, which waits for all nine)."""
    import os

    class Tracked(MemoryDriver):
        name = "tracked-test"

        def open(self) -> None:
            if self.host == "h0.test":
                finished = _wait_for(lambda: len(list(tmp_path.glob("h*.pid"))) == 9)
                (tmp_path / "slow.pid").write_text(f"{os.getpid()} {finished}")
            else:
                (tmp_path / f"{self.host}.pid").write_text(str(os.getpid()))
            super().open()

    report = _run_test_driver(Tracked, 10, workers=2, processes=2)
    slow_pid, finished = (tmp_path / "slow.pid").read_text().split()
    fast = {p.read_text() for p in tmp_path.glob("h*.pid")}
    assert finished == "True" and len(fast) == 1 and slow_pid not in fast
    assert report.exit_code() == 0 and [r.name for r in report.results] == [f"h{i}" for i in range(10)]


@pytest.mark.parametrize(("processes", "signum"), [(1, "SIGINT"), (2, "SIGINT"), (2, "SIGTERM")])
def test_ctrl_c_stops_new_hosts_and_lets_running_ones_finish(processes: int, signum: str, tmp_path: Path) -> None:
    """Ctrl-C, or SIGTERM under the CLI's handler (routerfix.interrupts.handle_termination), while the first host
    runs: no new host starts, the running ones finish, the report comes back (nothing raised)."""
    import os
    import signal

    from routerfix.interrupts import handle_termination

    main_pid = os.getpid()

    class Interrupting(MemoryDriver):
        name = "interrupting-test"

        def open(self) -> None:
            if self.host == "h0.test":
                os.kill(main_pid, getattr(signal, signum))   # the stop request while this host runs
            time.sleep(0.2)   # a slow device, not a readiness wait
            super().open()

    with handle_termination():
        report = _run_test_driver(Interrupting, 30, "mitigate", workers=2, processes=processes, state_dir=tmp_path)
    by = {r.name: r for r in report.results}
    assert report.interrupted and by["h0"].status == "mitigated"   # the running host finished
    cancelled = [r for r in report.results if r.status == "cancelled"]
    assert cancelled and all(r.status in ("mitigated", "cancelled") for r in report.results)


def test_a_worker_process_that_dies_fails_its_host_and_the_others_run_on(tmp_path: Path) -> None:
    import os

    class Dying(MemoryDriver):
        name = "dying-test"

        def open(self) -> None:
            if self.host == "h3.test":
                os._exit(3)   # the worker process is killed while this host runs
            super().open()

    report = _run_test_driver(Dying, 12, workers=4, processes=2)
    by = {r.name: r for r in report.results}
    assert by["h3"].status == "failed" and "ended with status 3" in (by["h3"].error_message or "")
    assert not report.interrupted and all(r.status in ("planned", "failed") for r in report.results)
    assert sum(r.status == "planned" for r in report.results) >= 6   # the other process took the rest


def test_two_fleet_runs_at_once_in_one_process_both_end() -> None:
    """Each run's worker processes inherit the other run's pipes when forked while it runs: ends are marked, not
    left to the pipe's end (which the other run's processes would hold open)."""
    reports: list[FleetReport] = []

    def one(prefix: str) -> None:
        hosts = [FleetHost(f"{prefix}{i}", f"{prefix}{i}.test", "memory") for i in range(20)]
        reports.append(run_fleet(hosts, "plan", workers=4, processes=2))

    runs = [threading.Thread(target=one, args=(p,), daemon=True) for p in ("a", "b")]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=120)
    assert not any(run.is_alive() for run in runs), "a fleet run never ended"
    assert len(reports) == 2 and all(r.exit_code() == 0 and len(r.results) == 20 for r in reports)
