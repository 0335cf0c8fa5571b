"""Concurrent runs on one router: one run per device at a time (routerfix.locks), fleets refuse a device
named twice, and reports of runs started in the same second never overwrite each other."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import routerfix
from routerfix.fleet import run_fleet
from routerfix.locks import device_lock
from routerfix.records import DeviceKey

from .targets import TARGETS
from .test_kill import KILLPOINT, site

MIKROTIK = next(t for t in TARGETS if t.id == "mikrotik-v7")
RESULTS: dict[str, int] = {}


def test_a_run_on_a_device_another_run_holds_refuses_and_sends_nothing(tmp_path: Path) -> None:
    with site(MIKROTIK, tmp_path) as s:
        before = s.snapshot()
        with device_lock(DeviceKey(s.device.driver, s.device.host, s.device.port)):
            out = s.run(["mitigate", "--yes", "--lock-wait", "0"])
        assert out.returncode == 1, out.stderr
        assert "another routerfix run is working on mikrotik:127.0.0.1" in out.stderr
        assert "nothing was changed" in out.stderr
        assert s.snapshot() == before


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    """A run killed with -9 while holding the lock does not block the next run (the kernel drops flock)."""
    with site(MIKROTIK, tmp_path) as s:
        killed = s.run(["mitigate", "--yes"], (2, "after", "KILL"))
        assert killed.returncode == -9
        again = s.run(["mitigate", "--yes", "--json", "--lock-wait", "0"])
        assert again.returncode == 0, again.stderr


@pytest.mark.parametrize("attempt", range(3))
def test_two_runs_at_once_on_one_router_one_mitigates_the_other_finds_it_done(attempt: int, tmp_path: Path) -> None:
    with site(MIKROTIK, tmp_path) as s:
        args = [sys.executable, str(KILLPOINT), "0", "after", "KILL", "--", "mitigate", *s.args(), "--yes", "--json",
                "--lock-wait", "60"]
        procs = [subprocess.Popen(args, env=s.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        codes = [p.returncode for p in procs]
        assert codes == [0, 0], [o[1][-400:] for o in outs]
        statuses = sorted(json.loads(o[0])["status"] for o in outs)
        assert statuses == ["mitigated", "unchanged"]
        view, _ = s.snapshot()
        sink = next(line.split()[2] for line in view if line.startswith("dhcp reservation"))
        assert sum(f"-> {sink}:" in line for line in view) == 2  # tcp and udp forwards to the reserved sink
        RESULTS["cli"] = RESULTS.get("cli", 0) + 1


def test_a_fleet_naming_one_device_twice_is_refused_before_any_host_runs(tmp_path: Path) -> None:
    from routerfix.inventory import FleetHost

    hosts = [FleetHost("a", "shared.test", "memory", port=22), FleetHost("b", "SHARED.test", "memory", port=22),
             FleetHost("c", "shared.test", "memory", port=23)]
    with pytest.raises(routerfix.InvalidValue, match="each device once"):
        run_fleet(hosts, "mitigate", state_dir=tmp_path)
    assert run_fleet([hosts[0], hosts[2]], "plan").exit_code() in (0, 1, 2)  # different ports: two devices


def test_two_fleet_runs_at_once_on_one_inventory(tmp_path: Path) -> None:
    from routerfix.inventory import FleetHost

    hosts = [FleetHost(f"site-{i}", f"fleet-{i}.test", "memory", password="admin") for i in range(6)]
    reports = []

    def run() -> None:
        reports.append(run_fleet(hosts, "mitigate", state_dir=tmp_path / "state", workers=3))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(reports) == 2
    for name in (h.name for h in hosts):
        statuses = sorted(r[name].status for r in reports)
        assert statuses == ["mitigated", "unchanged"], (name, [r[name].error_message for r in reports])
    paths = {r.save_json(tmp_path / "reports" / f"{i}.json") for i, r in enumerate(reports)}
    assert len(paths) == 2


def test_fleet_reports_of_runs_in_the_same_second_never_collide(tmp_path: Path) -> None:
    inventory = tmp_path / "inv"
    inventory.mkdir()
    (inventory / "hosts.yaml").write_text("a:\n  hostname: rep.test\n  platform: memory\n  password: admin\n")
    cmd = [sys.executable, "-m", "routerfix.cli", "fleet", "plan", str(inventory), "--json", "--state-dir",
           str(tmp_path / "state")]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    files = set()
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        files.add(json.loads(out)["report_file"])
    assert len(files) == 3 and all(Path(f).exists() for f in files)
