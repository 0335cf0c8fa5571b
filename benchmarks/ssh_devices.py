"""Per SSH device: mitigation wall time beside the round-trip floor and beside a plain netmiko script.

For each SSH driver and each latency (default 0 and 50 ms, injected by the simulators' own ``latency`` knob:
the login answer, the first prompt and every command line are answered that long after they arrive), every run
measures, side by side on fresh simulated routers served by a separate simulator process:

* ``handshake``: a bare paramiko client (TCP, key exchange, password, PTY shell, first prompt): the floor's fixed
  part at that latency;
* ``routerfix``: ``routerfix.connect`` + ``apply_ghostcall_mitigation`` + close (read, plan, back up, apply,
  verify by read-back, flush connection tracking);
* ``netmiko``: the script an engineer would write from netmiko's documentation making the same change
  (``ConnectHandler``, one ``send_command`` per read, ``send_config_set``, commit/save), see
  :func:`_support.baseline_script`.

floor = handshake + latency x (the CLI lines the change needs: each read once, each configuration line, commit,
save). Figures are medians over ``--runs`` runs.

Run: .venv/bin/python benchmarks/ssh_devices.py [--runs 5] [--latency 0 0.05] [--drivers mikrotik linux] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import SSH_DRIVERS, Device, Script, baseline_script, median, run_baseline, simulators


def record_change(driver: str) -> tuple[Script, int]:
    """Run routerfix once on an in-process simulator (no latency) and derive the netmiko script from what the
    device saw. Returns the script and routerfix's round trips."""
    import routerfix
    from routerfix.simulate import simulate

    with simulate(driver) as dev:
        with routerfix.connect(driver, dev.host, **dev.connect_options()) as router:
            routerfix.apply_ghostcall_mitigation(router)
            trips = int(getattr(router, "round_trips", 0))
        ssh = getattr(dev.handle, "device", dev.handle)
        return baseline_script(driver, list(ssh.commands)), trips


def handshake(device: Device) -> float:
    """Seconds for TCP + SSH handshake + password + PTY shell + first prompt with a bare paramiko client."""
    import paramiko

    started = time.perf_counter()
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - loopback simulator
    client.connect(device.host, port=device.port or 22, username=device.username, password=device.password,
                   look_for_keys=False, allow_agent=False, timeout=10)
    try:
        channel = client.invoke_shell()
        text = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text += channel.recv(65536)
            if text.rstrip()[-1:] in (b"#", b"$", b">", b"]"):
                break
        return time.perf_counter() - started
    finally:
        client.close()


def mitigate(device: Device) -> tuple[float, int, str]:
    """Seconds for routerfix connect + mitigation + close; round trips; status."""
    import routerfix

    started = time.perf_counter()
    with routerfix.connect(device.driver, device.host, **device.connect_options()) as router:
        result = routerfix.apply_ghostcall_mitigation(router)
        trips = int(getattr(router, "round_trips", 0))
    return time.perf_counter() - started, trips, result.status


def netmiko_time(script: Script, device: Device) -> tuple[float, str]:
    """Seconds for the plain netmiko script (or the failure)."""
    started = time.perf_counter()
    try:
        run_baseline(script, device)
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        return time.perf_counter() - started, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    return time.perf_counter() - started, "ok"


def measure(drivers: list[str], latencies: list[float], runs: int) -> list[dict[str, Any]]:
    """Median figures per driver and latency."""
    scripts = {d: record_change(d)[0] for d in drivers}
    rows = []
    for latency in latencies:
        wanted: list[tuple[str, dict[str, Any]]] = [(d, {}) for _ in range(runs) for d in drivers for _k in range(3)]
        samples: dict[str, dict[str, list[Any]]] = {d: {"hs": [], "rfx": [], "nm": [], "rt": [], "err": []}
                                                     for d in drivers}
        with simulators(wanted, latency=latency, processes=1) as devices:
            pools = {d: iter([x for x in devices if x.driver == d]) for d in drivers}
            for run in range(runs):
                order = drivers[run % len(drivers):] + drivers[:run % len(drivers)]
                for driver in order:
                    pool = pools[driver]
                    hs_dev, rfx_dev, nm_dev = next(pool), next(pool), next(pool)
                    s = samples[driver]
                    steps = ["hs", "rfx", "nm"] if run % 2 == 0 else ["nm", "rfx", "hs"]
                    for step in steps:
                        if step == "hs":
                            s["hs"].append(handshake(hs_dev))
                        elif step == "rfx":
                            seconds, trips, status = mitigate(rfx_dev)
                            if status != "mitigated":
                                s["err"].append(f"routerfix status {status}")
                            s["rfx"].append(seconds)
                            s["rt"].append(trips)
                        else:
                            seconds, outcome = netmiko_time(scripts[driver], nm_dev)
                            s["nm"].append(seconds)
                            if outcome != "ok":
                                s["err"].append(f"netmiko {outcome}")
        for driver in drivers:
            s = samples[driver]
            script = scripts[driver]
            hs, rfx, nm = median(s["hs"]), median(s["rfx"]), median(s["nm"])
            floor = hs + latency * script.commands
            rows.append({
                "driver": driver, "latency_ms": round(latency * 1000), "runs": runs,
                "handshake_s": round(hs, 3), "commands": script.commands, "floor_s": round(floor, 3),
                "routerfix_s": round(rfx, 3), "routerfix_round_trips": median(s["rt"]),
                "routerfix_vs_floor": round(rfx / floor, 2) if floor else None,
                "netmiko_s": round(nm, 3), "netmiko_vs_routerfix": round(nm / rfx, 2) if rfx else None,
                "errors": sorted(set(s["err"])),
            })
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the rows."""
    out = ["| device | latency | floor (handshake + commands x latency) | routerfix | × floor (goal ≤ 1.5) | "
           "routerfix round trips | plain netmiko | netmiko ÷ routerfix (goal ≥ 2) |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        note = f" ({'; '.join(r['errors'])})" if r["errors"] else ""
        out.append(f"| {r['driver']} | {r['latency_ms']} ms | {r['floor_s']:.2f} s ({r['handshake_s']:.2f} + "
                   f"{r['commands']} cmds) | {r['routerfix_s']:.2f} s | {r['routerfix_vs_floor']} | "
                   f"{r['routerfix_round_trips']:g} | {r['netmiko_s']:.2f} s{note} | {r['netmiko_vs_routerfix']} |")
    return "\n".join(out)


def main() -> None:
    """Measure and print a JSON list (``--json``) or a Markdown table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency", type=float, nargs="+", default=[0.0, 0.05])
    parser.add_argument("--drivers", nargs="+", default=list(SSH_DRIVERS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    rows = measure(args.drivers, args.latency, args.runs)
    print(json.dumps(rows, indent=1) if args.json else table(rows))


if __name__ == "__main__":
    main()
