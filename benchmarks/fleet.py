"""Fleet: routerfix.run_fleet("mitigate") over many simulated routers (mixed SSH and web) at 50 ms latency, beside
Nornir + nornir_netmiko making the same change on the SSH subset with the same worker count.

The routers are served by ``--sim-processes`` simulator processes (benchmarks/simhost.py); every measured run gets
freshly started (unmitigated) routers. Each measured run is a child process of its own (``--child``), so its wall
time and peak RSS (``ru_maxrss``) are those of routerfix (or Nornir) alone. The fleet cycles through
:data:`MIX` (6 SSH platforms, 4 web GUIs).

Realistic by default (``--legacy``: the old knob-only latency): every router sits behind a delaying TCP proxy
(each packet pays the round trip) and SSH routers spend their documented device time (docs/facts/timing.md).

``--processes N``: ``run_fleet(..., processes=N)`` forks N worker processes, each running every N-th router with
``workers / N`` threads, so the client's CPU work (key exchange, TLS, parsing) is not serialised by one GIL. CPU
time counts the measured process and its worker processes; peak memory is sampled over all of them (RSS sum, and
PSS sum, which splits shared copy-on-write pages). The simulator processes' CPU time during the run is reported
beside (``simulator_cpu_s``): they share the 2 cores with the client.

``machine_cpu_s`` in each row: the CPU time the whole machine spent during the run (client, simulators, the
kernel's loopback and interrupt work, and anything else running: :func:`_support.machine_busy_seconds`).
``machine_steal_s``: time the virtual machine's cores waited during the run while its host ran other guests
(:func:`_support.machine_steal_seconds`; CPU the run could not have). ``machine_loop_ms`` in each row: the
machine's Python speed just before the run (:func:`_support.machine_loop_ms`, the simulators idle), to compare rows
measured at different times on a shared machine.

``ROUTERFIX_BENCH_PROGRESS=<file>``: the measured child appends "<seconds>: <n> done" every 100 routers (a run
that may have to be stopped still says how far it got); ``ROUTERFIX_SIMHOST_PROFILE=<prefix>``: every simulator
process writes cProfile statistics of all its threads to ``<prefix>.<pid>`` (benchmarks/simhost.py).

Run: .venv/bin/python benchmarks/fleet.py [--sizes 10 100 1000] [--workers 64] [--processes 1 2]
                                          [--scaling-workers] [--latency 0.05] [--nornir] [--json]
                                          [--models tplink netgear:R7800 ...]
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import inspect
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import (
    NETMIKO_TYPES,
    Device,
    children_cpu_seconds,
    cpu_seconds,
    machine_busy_seconds,
    machine_loop_ms,
    machine_steal_seconds,
    peak_rss_mb,
    private_lock_dir,
    process_cpu_seconds,
    profile_threads,
    simulators,
)

MIX: tuple[tuple[str, dict[str, Any]], ...] = (
    ("mikrotik", {}), ("linux", {}), ("openwrt", {}), ("cisco_ios", {}), ("vyos", {}), ("edgeos", {}),
    ("netgear", {"model": "R7000"}), ("netgear", {"model": "R7800"}), ("asuswrt", {}), ("tplink", {}))
"""One of each per ten routers: 60 % SSH, 40 % web."""


def fleet(size: int, models: tuple[tuple[str, dict[str, Any]], ...] = MIX) -> list[tuple[str, dict[str, Any]]]:
    """``size`` routers cycling through ``models`` (:data:`MIX`)."""
    return [models[i % len(models)] for i in range(size)]


def _model_names(entry: tuple[str, dict[str, Any]]) -> tuple[str, ...]:
    driver, knobs = entry
    return (driver, f"{driver}:{knobs['model']}") if "model" in knobs else (driver,)


def models_named(names: list[str]) -> tuple[tuple[str, dict[str, Any]], ...]:
    """The entries of :data:`MIX` named by ``--models``: a driver (``netgear``: both models) or a driver and its
    ``model`` knob (``netgear:R7800``). A name that picks no entry is refused."""
    unknown = [n for n in names if not any(n in _model_names(entry) for entry in MIX)]
    if unknown:
        known = sorted({name for entry in MIX for name in _model_names(entry)})
        raise SystemExit(f"--models {' '.join(unknown)}: not in the mix; choose from {' '.join(known)}")
    return tuple(entry for entry in MIX if any(n in _model_names(entry) for n in names))


# --- child processes (what is measured) -------------------------------------------------------------------------

class MemorySampler:
    """Peak memory of process ``root`` and every process it forked, sampled every ``interval`` s from ``/proc``: the
    sum of their RSS (shared copy-on-write pages counted in each process) and of their PSS (shared pages split between
    the processes sharing them: what the run really occupies). Run it in the benchmark's own process, not in the
    measured one: reading ``/proc`` (``smaps_rollup`` walks every mapping) would be charged to the run's CPU."""

    def __init__(self, root: int, interval: float = 0.2) -> None:
        self.root = root
        self.interval = interval
        self.peak_rss_mb = 0.0
        self.peak_pss_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _family(pid: int) -> list[int]:
        found, todo = [], [pid]
        while todo:
            current = todo.pop()
            found.append(current)
            for task in Path(f"/proc/{current}/task").glob("*/children"):
                with contextlib.suppress(OSError):
                    todo.extend(int(c) for c in task.read_text().split())
        return found

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            rss = pss = 0
            for pid in self._family(self.root):
                with contextlib.suppress(OSError, ValueError):
                    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                        if line.startswith("Rss:"):
                            rss += int(line.split()[1])
                        elif line.startswith("Pss:"):
                            pss += int(line.split()[1])
            self.peak_rss_mb = max(self.peak_rss_mb, rss / 1024)
            self.peak_pss_mb = max(self.peak_pss_mb, pss / 1024)


def share_ssl_context() -> None:
    """Proposal 1 of docs/performance.md, tried from outside (``--shared-ssl-context``, benchmark only): every
    urllib3 pool of this process gets one SSL context built once, instead of a fresh one that loads the system CA
    store for every router. Only valid where no router needs CA verification (the benchmark's routers are pinned
    by fingerprint or plain HTTP); the real change keeps one context per trust mode."""
    import ssl

    from requests.adapters import HTTPAdapter
    from urllib3.util.ssl_ import create_urllib3_context

    shared = create_urllib3_context(cert_reqs=ssl.CERT_NONE)
    shared.check_hostname = False
    original = HTTPAdapter.init_poolmanager

    def init_poolmanager(self: HTTPAdapter, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("ssl_context", shared)
        original(self, *args, **kwargs)

    HTTPAdapter.init_poolmanager = init_poolmanager  # type: ignore[method-assign]


def child_routerfix(devices: list[Device], workers: int, processes: int = 1,
                    shared_ssl: bool = False, profile: str | None = None) -> dict[str, Any]:
    """routerfix.run_fleet("mitigate", processes=...) over ``devices``: wall, CPU (this process and its worker
    processes), peak memory of all of them."""
    import routerfix
    from routerfix.fleet import run_fleet
    from routerfix.inventory import FleetHost
    from routerfix.secrets import Secret

    if shared_ssl:
        share_ssl_context()
    save_profile = profile_threads(profile) if profile else None  # fleet workers, paramiko's threads
    hosts = [FleetHost(name=f"r{i:04d}-{d.driver}-{d.port}", hostname=d.host, driver=d.driver, port=d.port,
                       username=d.username, options=d.options, password=Secret(d.password))
             for i, d in enumerate(devices)]
    assert routerfix  # imported before timing: start-up is measured by import_time.py
    # an older routerfix (PYTHONPATH=<old tree>, for a before/after) has no worker processes
    extra = {"processes": processes} if "processes" in inspect.signature(run_fleet).parameters else {}
    progress_file = os.environ.get("ROUTERFIX_BENCH_PROGRESS")
    if progress_file:  # a long run that may be stopped: how far it got, every 100 routers
        done = {"n": 0}
        lock = threading.Lock()

        def on_done(result: Any) -> None:
            with lock:
                done["n"] += 1
                if done["n"] % 100 == 0:
                    with open(progress_file, "a") as out:
                        out.write(f"{time.perf_counter() - started:.1f} s: {done['n']} done\n")

        extra["on_done"] = on_done
    with tempfile.TemporaryDirectory() as state:  # memory: sampled by the parent (run_child)
        cpu, started = cpu_seconds() + children_cpu_seconds(), time.perf_counter()
        report = run_fleet(hosts, "mitigate", workers=workers, state_dir=state, **extra)
        wall, cpu = time.perf_counter() - started, cpu_seconds() + children_cpu_seconds() - cpu
    if save_profile is not None:
        save_profile()
    statuses: dict[str, int] = {}
    for r in report.results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    errors = sorted({f"{r.driver}: {r.error_type}: {r.error_message}"[:160] for r in report.results
                     if r.error_type})[:5]
    return {"tool": "routerfix" + (" (shared SSL context)" if shared_ssl else ""), "hosts": len(devices),
            "workers": workers, "processes": processes, "wall_s": round(wall, 2), "cpu_s": round(cpu, 1),
            "cpu_ms_per_router": round(1000 * cpu / max(1, len(devices)), 1),
            "peak_rss_mb": round(peak_rss_mb(), 1), "statuses": statuses, "errors": errors}


def child_nornir(devices: list[Device], workers: int, scripts: dict[str, dict[str, Any]],
                 tuned: bool = True) -> dict[str, Any]:
    """Nornir (threaded runner) + nornir_netmiko: the tuned netmiko script per host (``tuned``: prompt found once,
    ``expect_string`` on every read) or the naive one (nornir_netmiko tasks as documented)."""
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

    def change_tuned(task: Task) -> Result:
        from _support import Script, tuned_steps

        conn = task.host.get_connection("netmiko", task.nornir.config)
        tuned_steps(conn, Script(task.host.platform or "", **task.host.data["script"]))
        return Result(host=task.host)

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
    result = nr.run(task=change_tuned if tuned else change)
    nr.close_connections()
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    failed = sorted(result.failed_hosts)
    return {"tool": "nornir+nornir_netmiko" + (" (tuned)" if tuned else " (naive)"), "hosts": len(devices),
            "workers": workers, "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1), "failed": len(failed),
            "errors": sorted({_first_error(result[h]) for h in failed[:5]})}


def _first_error(multi: Any) -> str:
    for item in multi:
        if item.exception is not None:
            return f"{type(item.exception).__name__}: {str(item.exception).strip().splitlines()[0][:140]}"
    return "failed"


def run_child(tool: str, devices: list[Device], workers: int, scripts: dict[str, Any] | None = None,
              processes: int = 1) -> dict[str, Any]:
    """Run one measured child process and return its JSON figures."""
    payload = {"tool": tool, "workers": workers, "devices": [d.__dict__ for d in devices], "scripts": scripts or {},
               "processes": processes, "shared_ssl": SHARED_SSL, "profile": PROFILE}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(payload, handle)
    try:
        child = subprocess.Popen([sys.executable, __file__, "--child", handle.name], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, start_new_session=True)
        # /proc reads load the cores the run shares: a long run grows slowly, once a second catches its peak
        with MemorySampler(child.pid, 0.2 if len(devices) <= 1000 else 1.0) as memory:
            try:
                out, err = child.communicate(timeout=1800)
            except BaseException:  # a timeout or Ctrl-C: the child and the worker processes it forked
                os.killpg(child.pid, signal.SIGKILL)
                child.communicate()
                raise
        if child.returncode != 0:
            raise subprocess.CalledProcessError(child.returncode, child.args, out, err)
    finally:
        Path(handle.name).unlink()
    figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    figures["peak_rss_mb"] = round(max(figures.get("peak_rss_mb", 0.0), memory.peak_rss_mb), 1)
    figures["peak_pss_mb"] = round(memory.peak_pss_mb, 1)
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


REALISTIC = True
"""Set from ``--legacy`` (False: the simulators' latency knobs only, no device time)."""
SHARED_SSL = False
"""Set from ``--shared-ssl-context`` (routerfix runs with :func:`share_ssl_context`)."""
WHAT_IF_CURVE25519 = False
"""Set from ``--what-if-curve25519`` (every SSH device offers curve25519: not what the devices do)."""
PROFILE: str | None = None
"""Set from ``--profile FILE`` (routerfix runs write merged cProfile statistics of every host there)."""


def measure(size: int, workers: int, latency: float, procs: int, tool: str = "routerfix",
            scripts: dict[str, Any] | None = None, processes: int = 1, ssh_only: bool = False,
            web_only: bool = False, models: tuple[tuple[str, dict[str, Any]], ...] = MIX) -> dict[str, Any]:
    """Start fresh simulated routers, run one measured child against them."""
    mix = fleet(size, models)
    if tool.startswith("nornir") or ssh_only:
        mix = [m for m in mix if m[0] in NETMIKO_TYPES]
    elif web_only:
        mix = [m for m in mix if m[0] not in NETMIKO_TYPES]
    if not mix:
        raise SystemExit(f"no router to run: the models {[d for d, _ in models]} have none of this kind")
    pids: list[int] = []
    with simulators(mix, latency=latency, processes=procs, realistic=REALISTIC, pids=pids,
                    what_if_curve25519=WHAT_IF_CURVE25519) as devices:
        loop_ms = machine_loop_ms()  # the simulators are idle now: the machine's own speed
        sim_cpu, busy, steal = process_cpu_seconds(pids), machine_busy_seconds(), machine_steal_seconds()
        figures = run_child(tool, devices, workers, scripts, processes)
        figures["machine_cpu_s"] = round(machine_busy_seconds() - busy, 1)
        figures["machine_steal_s"] = round(machine_steal_seconds() - steal, 1)
        figures["machine_loop_ms"] = loop_ms
        figures["simulator_cpu_s"] = round(process_cpu_seconds(pids) - sim_cpu, 1)
    figures["latency_ms"] = round(latency * 1000)
    figures["realistic"] = REALISTIC
    if WHAT_IF_CURVE25519:
        figures["what_if_curve25519"] = True
    if ssh_only or web_only:
        figures["tool"] += " (SSH subset)" if ssh_only else " (web subset)"
    if models != MIX:
        figures["models"] = [_model_names(entry)[-1] for entry in models]  # netgear:R7800, tplink
    return figures


def main() -> None:
    """Measure and print figures (one JSON object per line with ``--json``, else a Markdown table)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2],
                        help="worker processes of the measured child (each size is run with each)")
    parser.add_argument("--legacy", action="store_true", help="latency knobs only, no device time (old figures)")
    parser.add_argument("--shared-ssl-context", action="store_true", help="try docs/performance.md proposal 1")
    parser.add_argument("--profile", help="write cProfile statistics of every routerfix host's work to this file "
                                          "(with --processes 1)")
    parser.add_argument("--subset", choices=("all", "ssh", "web"), default="all",
                        help="the SSH or the web routers of each fleet only (where the CPU goes)")
    parser.add_argument("--scaling-workers", type=int, nargs="*", default=[])
    parser.add_argument("--scaling-size", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.05)
    # 3 since session 16: 155.8, 158.9 s for 10,000 routers against 167.5, 165.5 s with 4 (alternating; README §3)
    parser.add_argument("--sim-processes", type=int, default=3)
    parser.add_argument("--nornir", action="store_true", help="also run Nornir + nornir_netmiko on the SSH subset")
    parser.add_argument("--nornir-sizes", type=int, nargs="+", default=[60])
    parser.add_argument("--what-if-curve25519", action="store_true",
                        help="every SSH device offers curve25519 instead of its documented key exchanges (MikroTik "
                             "and classic IOS offer only finite-field Diffie-Hellman): what that costs the client")
    parser.add_argument("--models", nargs="+", metavar="DRIVER[:MODEL]",
                        help="only these entries of the mix (e.g. tplink, netgear:R7800): CPU per router by device")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    private_lock_dir()  # inherited by the measured children and worker processes
    logging.basicConfig(level=logging.CRITICAL)
    if args.child:
        payload = json.loads(Path(args.child).read_text())
        devices = [Device(**d) for d in payload["devices"]]
        if payload["tool"] == "routerfix":
            print(json.dumps(child_routerfix(devices, payload["workers"], payload.get("processes", 1),
                                             bool(payload.get("shared_ssl")), payload.get("profile"))))
        else:
            print(json.dumps(child_nornir(devices, payload["workers"], payload["scripts"],
                                          tuned=payload["tool"] == "nornir")))
        return
    root = Path(__file__).resolve().parent.parent
    for tree in ("routerfix", "drivers", "simulators"):  # byte-compiled once, as an installed package is
        compileall.compile_dir(root / tree, quiet=1)
    global REALISTIC, SHARED_SSL, PROFILE, WHAT_IF_CURVE25519
    REALISTIC = not args.legacy
    WHAT_IF_CURVE25519 = args.what_if_curve25519
    SHARED_SSL = args.shared_ssl_context
    PROFILE = str(Path(args.profile).resolve()) if args.profile else None
    models = models_named(args.models) if args.models else MIX
    rows = []
    for size in args.sizes:
        for processes in args.processes:
            rows.append(measure(size, args.workers, args.latency, args.sim_processes, processes=processes,
                                ssh_only=args.subset == "ssh", web_only=args.subset == "web", models=models))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    for workers in args.scaling_workers:
        rows.append(measure(args.scaling_size, workers, args.latency, args.sim_processes, models=models))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    if args.nornir:
        scripts = nornir_scripts()
        for size in args.nornir_sizes:
            rows.append(measure(size, args.workers, args.latency, args.sim_processes, ssh_only=True, models=models))
            rows.append(measure(size, args.workers, args.latency, args.sim_processes, "nornir", scripts,
                                models=models))
            print(json.dumps(rows[-2:]), file=sys.stderr, flush=True)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return
    print("| tool | routers | workers | processes | wall | client CPU | CPU per router | simulator CPU | peak RSS "
          "(sum) | peak PSS | outcome |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        outcome = r.get("statuses") or f"{r.get('failed', 0)} failed"
        print(f"| {r['tool']} | {r['hosts']} | {r['workers']} | {r.get('processes', 1)} | {r['wall_s']:.1f} s | "
              f"{r.get('cpu_s', 0):.1f} s | {r.get('cpu_ms_per_router', '—')} ms | "
              f"{r.get('simulator_cpu_s', 0):.1f} s | "
              f"{r['peak_rss_mb']:.0f} MiB | {r.get('peak_pss_mb', 0):.0f} MiB | "
              f"{outcome} |")


if __name__ == "__main__":
    main()
