"""CPU of the simulated SSH device shells alone: what ``execute``/``control``/``ended`` of each simulator's shell
spend (CPU time of the thread running them) while routerfix mitigates ``--routers`` routers of each SSH kind, all in
this process, no network delay and no device time (neither changes what a shell computes).

Unlike the fleet's ``simulator_cpu_s`` (whole simulator processes: key exchanges, asyncssh, the delaying proxy, web
servers, on a shared machine), this isolates the device models' own Python work, so a before/after of a simulator
change is visible above the machine's noise: run it with each tree's venv, back to back.

Run: .venv/bin/python benchmarks/shell_cpu.py [--routers 50] [--json]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

KINDS = ("mikrotik", "linux", "openwrt", "cisco_ios", "vyos", "edgeos")
_TIMED = ("execute", "control", "ended")


class ShellClock:
    """Thread CPU time spent in the shell methods of each shell class (nested calls counted once)."""

    def __init__(self) -> None:
        self.spent: collections.Counter[str] = collections.Counter()
        self.routers: collections.Counter[str] = collections.Counter()
        self._inside = threading.local()
        self._classes: set[type] = set()

    def watch(self, shell_class: type) -> None:
        """Time ``shell_class``'s shell methods (once per class)."""
        self.routers[shell_class.__name__] += 1
        if shell_class in self._classes:
            return
        self._classes.add(shell_class)
        for name in _TIMED:
            if hasattr(shell_class, name):
                setattr(shell_class, name, self._timed(getattr(shell_class, name), shell_class.__name__))

    def _timed(self, method: Callable[..., Any], label: str) -> Callable[..., Any]:
        def timed(shell: Any, *args: Any, **kwargs: Any) -> Any:
            if getattr(self._inside, "on", False):
                return method(shell, *args, **kwargs)
            self._inside.on = True
            started = time.thread_time()
            try:
                return method(shell, *args, **kwargs)
            finally:
                self.spent[label] += time.thread_time() - started
                self._inside.on = False
        return timed


def measure(routers: int, workers: int) -> dict[str, Any]:
    """Mitigate ``routers`` simulated routers of each SSH kind; the shells' CPU per router, per shell class."""
    from routerfix.simulators._hosts.ssh import SSHSimulatorHost

    from routerfix.fleet import run_fleet
    from routerfix.inventory import FleetHost
    from routerfix.secrets import Secret
    from routerfix.simulate import simulate

    clock = ShellClock()
    with contextlib.ExitStack() as stack:
        host = stack.enter_context(SSHSimulatorHost())
        devices = []
        for kind in KINDS:
            for _ in range(routers):
                device = stack.enter_context(simulate(kind, host=host))
                ssh = getattr(device.handle, "device", device.handle)
                clock.watch(type(ssh.shell_factory(device.username)))
                devices.append(device)
        clock.spent.clear()
        hosts = [FleetHost(name=f"r{i:04d}-{d.driver}", hostname=d.host, driver=d.driver, port=d.port,
                           username=d.username, options=d.options, password=Secret(d.password))
                 for i, d in enumerate(devices)]
        with tempfile.TemporaryDirectory() as state:
            report = run_fleet(hosts, "mitigate", workers=workers, state_dir=state)
    statuses = collections.Counter(r.status for r in report.results)
    return {"routers": len(devices), "statuses": dict(statuses),
            "shell_ms_per_router": round(sum(clock.spent.values()) / len(devices) * 1000, 2),
            "per_shell_ms": {k: round(v / clock.routers[k] * 1000, 2) for k, v in sorted(clock.spent.items())}}


def main() -> None:
    """Measure and print (one JSON object with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routers", type=int, default=50, help="routers of each SSH kind")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from _support import private_lock_dir  # run as a script from benchmarks/ (sys.path[0])

    private_lock_dir()  # the routers' lock files go with the run
    figures = measure(args.routers, args.workers)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{figures['routers']} SSH routers ({figures['statuses']}): shells "
          f"{figures['shell_ms_per_router']} ms CPU per router")
    for name, ms in figures["per_shell_ms"].items():
        print(f"  {name}: {ms} ms per router")


if __name__ == "__main__":
    main()
