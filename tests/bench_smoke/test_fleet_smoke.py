"""A 20-router version of benchmarks/fleet.py (no timing assertions): mixed SSH and web simulated routers served by
separate simulator processes, mitigated by run_fleet, each left mitigated."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from routerfix.fleet import run_fleet
from routerfix.inventory import FleetHost
from routerfix.secrets import Secret

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _support import WEB_DEVICES, deal, simulators
from fleet import MIX, fleet, models_named

pytestmark = pytest.mark.timeout(240)


def test_mixed_fleet_of_20_is_mitigated_then_unchanged(tmp_path: Path) -> None:
    with simulators(fleet(20), latency=0.0, processes=2) as devices:
        assert {d.driver for d in devices} >= {"mikrotik", "cisco_ios", "netgear", "asuswrt"}
        hosts = [FleetHost(name=f"r{i:02d}", hostname=d.host, driver=d.driver, port=d.port, username=d.username,
                           options=d.options, password=Secret(d.password)) for i, d in enumerate(devices)]
        first = run_fleet(hosts, "mitigate", workers=8, state_dir=tmp_path)
        assert [r.status for r in first.results] == ["mitigated"] * 20, [r.error_message for r in first.results]
        again = run_fleet(hosts, "mitigate", workers=8, state_dir=tmp_path)
        assert [r.status for r in again.results] == ["unchanged"] * 20


def test_models_pick_drivers_or_one_model_of_the_mix_and_refuse_unknown_names() -> None:
    assert [k.get("model") for d, k in models_named(["netgear"])] == ["R7000", "R7800"]
    assert models_named(["netgear:R7800", "tplink"]) == (("netgear", {"model": "R7800"}), ("tplink", {}))
    assert fleet(3, models_named(["tplink"])) == [("tplink", {})] * 3
    assert fleet(len(MIX)) == list(MIX)
    with pytest.raises(SystemExit, match="--models belkin"):
        models_named(["belkin"])
    with pytest.raises(SystemExit, match=r"--models netgear:R9000 belkin: not in the mix; choose from .*netgear:R7800"):
        models_named(["tplink", "netgear:R9000", "belkin"])  # one known name does not hide the unknown ones


@pytest.mark.parametrize("processes", [1, 2, 3, 4, 7])
def test_simulator_processes_get_every_device_once_and_ssh_apart_from_web(processes: int) -> None:
    devices = fleet(100)
    shares = deal(devices, processes)
    assert len(shares) == processes
    assert sorted(i for share in shares for i in share) == list(range(len(devices)))
    web = {driver for driver, _ in WEB_DEVICES}
    kinds = [{devices[i][0] in web for i in share} for share in shares]
    if processes > 1:
        assert all(len(k) == 1 for k in kinds)  # no process serves both kinds
        assert {True, False} == set().union(*kinds)
        assert kinds.count({True}) <= kinds.count({False})  # SSH devices cost the simulators more CPU


@pytest.mark.parametrize(("web", "ssh", "processes"), [(5, 1, 6), (1, 5, 6), (3, 3, 6), (1, 1, 2), (2, 1, 3)])
def test_no_simulator_process_is_left_without_a_device(web: int, ssh: int, processes: int) -> None:
    devices = [("netgear", {})] * web + [("mikrotik", {})] * ssh
    shares = deal(devices, processes)
    assert all(shares) and sorted(i for share in shares for i in share) == list(range(web + ssh))


def test_realistic_mode_serves_ssh_and_https_through_the_delay_proxy(tmp_path: Path) -> None:
    """The benchmark's realistic mode: every device behind the delaying proxy, SSH devices with work time."""
    mix = [("mikrotik", {}), ("linux", {}), ("asuswrt", {}), ("netgear", {"model": "R7800"})]
    with simulators(mix, latency=0.01, processes=1, realistic=True) as devices:
        hosts = [FleetHost(name=f"r{i:02d}", hostname=d.host, driver=d.driver, port=d.port, username=d.username,
                           options=d.options, password=Secret(d.password)) for i, d in enumerate(devices)]
        report = run_fleet(hosts, "mitigate", workers=4, state_dir=tmp_path)
    assert [r.status for r in report.results] == ["mitigated"] * 4, [r.error_message for r in report.results]
    assert report.results[1].duration >= 2.0  # Linux: the free candidate's arping waits its -w 2 deadline (T1)


def test_a_fleet_benchmark_run_leaves_no_scratch_directories_or_lock_files_behind(tmp_path: Path) -> None:
    """Every benchmark run serves new simulators on new ports: their HTTPS certificates, RouterOS file roots and
    the routers' lock files must go when the run ends (they had piled up by the ten thousand in /tmp)."""
    import os
    import subprocess

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ROUTERFIX_LOCK_DIR"}
    env["TMPDIR"] = str(scratch)  # tempfile's (and so the default lock directory's) root for every process
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "fleet.py"
    done = subprocess.run([sys.executable, str(script), "--sizes", "10", "--processes", "1", "--workers", "4",
                           "--latency", "0", "--json"], env=env, capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"mitigated": 10' in done.stdout
    row = json.loads(done.stdout.strip().splitlines()[-1])
    assert row["machine_steal_s"] >= 0 and row["machine_cpu_s"] > 0  # the machine's figures beside the client's
    assert sorted(p.name for p in scratch.iterdir()) == []  # no simulator scratch, no lock directory, no state
