"""Fleet: routerfix.run_fleet("mitigate") over many simulated routers (mixed SSH and web) at 50 ms latency, beside
Nornir + nornir_netmiko making the same change on the SSH subset with the same worker count.

The routers are served by ``--sim-processes`` simulator processes (benchmarks/simhost.py); every measured run gets
freshly started (unmitigated) routers. Each measured run is a child process of its own (``--child``), so its wall
time and peak RSS (``ru_maxrss``) are those of routerfix (or Nornir) alone. The fleet cycles through
:data:`MIX` (6 SSH platforms, 4 web GUIs).

Run: .venv/bin/python benchmarks/fleet.py [--sizes 100 300 1000] [--workers 64] [--scaling-workers 8 16 32]
                                          [--scaling-size 300] [--latency 0.05] [--nornir] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import NETMIKO_TYPES, Device, cpu_seconds, peak_rss_mb, simulators

MIX: tuple[tuple[str, dict[str, Any]], ...] = (
    ("mikrotik", {}), ("linux", {}), ("openwrt", {}), ("cisco_ios", {}), ("vyos", {}), ("edgeos", {}),
    ("netgear", {"model": "R7000"}), ("netgear", {"model": "R7800"}), ("asuswrt", {}), ("tplink", {}))
"""One of each per ten routers: 60 % SSH, 40 % web."""


def fleet(size: int) -> list[tuple[str, dict[str, Any]]]:
    """``size`` routers cycling through :data:`MIX`."""
    return [MIX[i % len(MIX)] for i in range(size)]


# --- child processes (what is measured) -------------------------------------------------------------------------

def child_routerfix(devices: list[Device], workers: int) -> dict[str, Any]:
    """routerfix.run_fleet("mitigate") over ``devices``."""
    import routerfix
    from routerfix.fleet import run_fleet
    from routerfix.inventory import FleetHost
    from routerfix.secrets import Secret

    hosts = [FleetHost(name=f"r{i:04d}-{d.driver}", hostname=d.host, driver=d.driver, port=d.port,
                       username=d.username, options=d.options, password=Secret(d.password))
             for i, d in enumerate(devices)]
    assert routerfix  # imported before timing: start-up is measured by import_time.py
    with tempfile.TemporaryDirectory() as state:
        started, cpu = time.perf_counter(), cpu_seconds()
        report = run_fleet(hosts, "mitigate", workers=workers, state_dir=state)
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    statuses: dict[str, int] = {}
    for r in report.results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    errors = sorted({f"{r.driver}: {r.error_type}: {r.error_message}"[:160] for r in report.results
                     if r.error_type})[:5]
    return {"tool": "routerfix", "hosts": len(hosts), "workers": workers, "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1), "statuses": statuses, "errors": errors}


def child_nornir(devices: list[Device], workers: int, scripts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Nornir (threaded runner) + nornir_netmiko: reads, send_config, commit/save, as in the netmiko baseline."""
    from nornir.core import Nornir
    from nornir.core.inventory import ConnectionOptions, Defaults, Groups, Host, Hosts, Inventory
    from nornir.core.plugins.connections import ConnectionPluginRegister
    from nornir.core.task import Result, Task
    from nornir.plugins.runners import ThreadedRunner
    from nornir_netmiko.tasks import (  # type: ignore[import-untyped]
        netmiko_commit,
        netmiko_save_config,
        netmiko_send_command,
        netmiko_send_config,
    )

    ConnectionPluginRegister.auto_register()
    hosts = Hosts()
    for i, d in enumerate(devices):
        name = f"r{i:04d}-{d.driver}"
        hosts[name] = Host(name=name, hostname=d.host, port=d.port, username=d.username, password=d.password,
                           platform=NETMIKO_TYPES[d.driver], data={"script": scripts[d.driver]},
                           connection_options={"netmiko": ConnectionOptions(extras={"fast_cli": True})})
    nr = Nornir(inventory=Inventory(hosts=hosts, groups=Groups(), defaults=Defaults()),
                runner=ThreadedRunner(num_workers=workers))

    def change(task: Task) -> Result:
        script = task.host.data["script"]
        for command in script["reads"]:
            task.run(netmiko_send_command, command_string=command, read_timeout=30)
        task.run(netmiko_send_config, config_commands=script["config"], exit_config_mode=not script["commit"])
        if script["commit"]:
            task.run(netmiko_commit)
            if script["save"]:
                task.run(netmiko_send_command, command_string="save", read_timeout=30)
        elif script["save"]:
            task.run(netmiko_save_config)
        for command in script["after"]:
            task.run(netmiko_send_command, command_string=command, read_timeout=30)
        return Result(host=task.host)

    started, cpu = time.perf_counter(), cpu_seconds()
    result = nr.run(task=change)
    nr.close_connections()
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    failed = sorted(result.failed_hosts)
    return {"tool": "nornir+nornir_netmiko", "hosts": len(devices), "workers": workers, "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1), "failed": len(failed),
            "errors": sorted({_first_error(result[h]) for h in failed[:5]})}


def _first_error(multi: Any) -> str:
    for item in multi:
        if item.exception is not None:
            return f"{type(item.exception).__name__}: {str(item.exception).strip().splitlines()[0][:140]}"
    return "failed"


def run_child(tool: str, devices: list[Device], workers: int, scripts: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one measured child process and return its JSON figures."""
    payload = {"tool": tool, "workers": workers, "devices": [d.__dict__ for d in devices], "scripts": scripts or {}}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(payload, handle)
    try:
        out = subprocess.run([sys.executable, __file__, "--child", handle.name], check=True, capture_output=True,
                             text=True, timeout=1800).stdout
    finally:
        Path(handle.name).unlink()
    figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return figures


# --- orchestration -------------------------------------------------------------------------------------------------

def nornir_scripts() -> dict[str, dict[str, Any]]:
    """The netmiko script of each SSH driver, derived from a routerfix run (see ssh_devices.record_change)."""
    from ssh_devices import record_change

    out = {}
    for driver in NETMIKO_TYPES:
        script = record_change(driver)[0]
        out[driver] = {"reads": script.reads, "config": script.config, "after": script.after, "commit": script.commit,
                       "save": script.save}
    return out


def measure(size: int, workers: int, latency: float, procs: int, tool: str = "routerfix",
            scripts: dict[str, Any] | None = None) -> dict[str, Any]:
    """Start fresh simulated routers, run one measured child against them."""
    mix = fleet(size)
    if tool == "nornir":
        mix = [m for m in mix if m[0] in NETMIKO_TYPES]
    with simulators(mix, latency=latency, processes=procs) as devices:
        figures = run_child(tool, devices, workers, scripts)
    figures["latency_ms"] = round(latency * 1000)
    return figures


def main() -> None:
    """Measure and print figures (one JSON object per line with ``--json``, else a Markdown table)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--scaling-workers", type=int, nargs="*", default=[8, 16, 32])
    parser.add_argument("--scaling-size", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--sim-processes", type=int, default=4)
    parser.add_argument("--nornir", action="store_true", help="also run Nornir + nornir_netmiko on the SSH subset")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    if args.child:
        payload = json.loads(Path(args.child).read_text())
        devices = [Device(**d) for d in payload["devices"]]
        if payload["tool"] == "routerfix":
            print(json.dumps(child_routerfix(devices, payload["workers"])))
        else:
            print(json.dumps(child_nornir(devices, payload["workers"], payload["scripts"])))
        return
    rows = []
    for size in args.sizes:
        rows.append(measure(size, args.workers, args.latency, args.sim_processes))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    for workers in args.scaling_workers:
        rows.append(measure(args.scaling_size, workers, args.latency, args.sim_processes))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    if args.nornir:
        scripts = nornir_scripts()
        for size in args.sizes:
            rows.append(measure_ssh_only(size, args))
            rows.append(measure(size, args.workers, args.latency, args.sim_processes, "nornir", scripts))
            print(json.dumps(rows[-2:]), file=sys.stderr, flush=True)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return
    print("| tool | routers | workers | wall | CPU (this process) | peak RSS | outcome |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        outcome = r.get("statuses") or f"{r.get('failed', 0)} failed"
        print(f"| {r['tool']} | {r['hosts']} | {r['workers']} | {r['wall_s']:.1f} s | {r.get('cpu_s', 0):.0f} s | "
              f"{r['peak_rss_mb']:.0f} MiB | {outcome} |")


def measure_ssh_only(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """routerfix on the SSH subset of a fleet of ``size`` (the side-by-side partner of the Nornir run)."""
    mix = [m for m in fleet(size) if m[0] in NETMIKO_TYPES]
    with simulators(mix, latency=args.latency, processes=args.sim_processes) as devices:
        figures = run_child("routerfix", devices, args.workers)
    figures["tool"] = "routerfix (SSH subset)"
    figures["latency_ms"] = round(args.latency * 1000)
    return figures


if __name__ == "__main__":
    main()
