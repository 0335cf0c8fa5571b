"""A simulator host process for the benchmarks: serves simulated routers on 127.0.0.1 from a process of its own,
so that the process being measured (routerfix, netmiko, Nornir) does not share its CPU time or GIL with them.

Run by :func:`benchmarks._support.simulators` (not by hand)::

    python benchmarks/simhost.py '{"latency": 0.05, "devices": [["mikrotik", {}], ["netgear", {"model": "R7800"}]]}'
    python benchmarks/simhost.py '{"latency": 0.05, "network": "proxy", "timing": true, "devices": [...]}'

It prints one JSON line per device (driver, host, port, username, password, options), then ``READY``, and serves
until its standard input closes. SSH devices share one event loop (`SSHSimulatorHost`; uvloop's when installed,
:func:`_support.fast_loop_factory`), and the delaying proxies and the web devices' connections run on it too
(`HttpSimulator.serve_on`: no thread per connection).

``network``: ``"knob"`` (the old way: ``latency`` is injected with each simulator's own knob, SSH per line, HTTP per
request) or ``"proxy"`` (every device behind a delaying TCP proxy, :mod:`simulators._hosts.delay`: ``latency`` is
the round-trip time of *every* packet, handshakes included; the simulators' knobs stay at 0). ``timing``: true
switches on the device work times of :mod:`simulators._hosts.timing` (docs/facts/timing.md) on SSH devices.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import json
import os
import shutil
import sys
import tempfile
from typing import Any

from _support import fast_loop_factory, profile_threads  # run as a script from benchmarks/ (sys.path[0])
from routerfix.simulators._hosts.delay import DelayHost
from routerfix.simulators._hosts.http import HttpSimulator
from routerfix.simulators._hosts.ssh import CURVE25519_KEX, SimulatedSSHDevice, SSHSimulatorHost
from routerfix.simulators._hosts.timing import work_for

from routerfix.simulate import simulate


def _http_servers(handle: Any) -> list[HttpSimulator]:
    found = []
    for obj in (handle, getattr(handle, "server", None), getattr(handle, "http", None)):
        if isinstance(obj, HttpSimulator):
            found.append(obj)
    return found


def _factory_params(driver: str) -> set[str]:
    from routerfix.simulate import simulator_factory

    factory = simulator_factory(driver)
    target = getattr(factory, "__wrapped__", factory)
    return set(inspect.signature(target).parameters)


def main() -> None:
    """Start the devices of the JSON spec in argv[1], print where they listen, serve until stdin closes."""
    spec = json.loads(sys.argv[1])
    # the devices' scratch files (HTTPS certificates, RouterOS file roots) in one directory, removed below: the
    # fast exit skips each simulator's own clean-up, which left thousands of directories in /tmp per run
    # (``spec["scratch"]``: the parent's, which it also removes if it has to kill this process)
    scratch = spec.get("scratch") or tempfile.mkdtemp(prefix="routerfix-simhost-")
    tempfile.tempdir = scratch
    try:
        _serve(spec, scratch)
    finally:  # a start-up failure (the normal end leaves by os._exit in _serve)
        shutil.rmtree(scratch, ignore_errors=True)


def _serve(spec: dict[str, Any], scratch: str) -> None:
    profile = os.environ.get("ROUTERFIX_SIMHOST_PROFILE")
    # every thread: the SSH event loop, the delay proxies, the web servers' threads; one file per process
    save_profile = profile_threads(f"{profile}.{os.getpid()}") if profile else None
    proxy = spec.get("network", "knob") == "proxy"
    rtt = float(spec.get("latency", 0.0))
    latency = 0.0 if proxy else rtt
    timing = bool(spec.get("timing", False))
    params: dict[str, set[str]] = {}
    with contextlib.ExitStack() as stack:
        kex = CURVE25519_KEX if spec.get("what_if_curve25519") else None
        ssh_host = stack.enter_context(SSHSimulatorHost(kex_override=kex, loop_factory=fast_loop_factory()))
        # the proxies share the SSH devices' loop and thread (one thread per packet, not two taking turns)
        delays = stack.enter_context(DelayHost(ssh_host.loop)) if proxy else None
        for driver, knobs in spec["devices"]:
            if driver not in params:
                params[driver] = _factory_params(driver)
            kw: dict[str, Any] = dict(knobs)
            if "host" in params[driver]:
                kw["host"] = ssh_host
            if "latency" in params[driver]:
                kw["latency"] = latency
            device = stack.enter_context(simulate(driver, **kw))
            for server in _http_servers(device.handle):
                if "latency" not in params[driver]:
                    server.latency = latency
                server.serve_on(ssh_host.loop)  # every connection on the loop, not a thread each
            ssh_device = getattr(device.handle, "device", device.handle)
            if timing and isinstance(ssh_device, SimulatedSSHDevice):
                ssh_device.knobs.work = work_for(driver)
            port = device.port
            if delays is not None and port is not None:
                port = delays.add(port, rtt=rtt, upstream_host=device.host)
            print(json.dumps({"driver": device.driver, "host": device.host, "port": port,
                              "username": device.username, "password": device.password,
                              "options": device.options}), flush=True)
        gc.freeze()  # the devices' state lives until the end: full collections need not walk it each time
        print("READY", flush=True)
        sys.stdin.read()
        if save_profile is not None:
            save_profile()
        sys.stdout.flush()
        shutil.rmtree(scratch, ignore_errors=True)
        os._exit(0)  # tearing down hundreds of servers one by one is not part of any measurement


if __name__ == "__main__":
    main()
