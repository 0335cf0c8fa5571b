"""Per SSH device: mitigation wall time beside the strict floor, a tuned netmiko script and a naive one.

Realistic mode (the default, ``--legacy`` for the old knob-only figures): every device sits behind a delaying TCP
proxy (``simulators/_hosts/delay.py``: each packet pays ``latency`` per round trip, so TCP, key exchange, channel
and PTY pay their real round trips) and spends its documented device time (``simulators/_hosts/timing.py``,
docs/facts/timing.md: a silent probe waits the tool's timeout, save/commit cost what the device is known to cost).

Every run measures side by side, on fresh simulated routers served by a separate simulator process:

* ``handshake``: a bare paramiko client (TCP, key exchange, password, PTY shell, first prompt);
* ``routerfix``: ``routerfix.connect`` + ``apply_ghostcall_mitigation`` + close;
* ``tuned``: netmiko as a competent engineer writes it (prompt found once, ``expect_string`` on every read,
  :func:`_support.run_tuned`);
* ``naive``: netmiko from the documentation's first example (``send_command`` without ``expect_string``: a
  ``find_prompt()`` per read, :func:`_support.run_baseline`).

**Strict floor** = handshake + latency x 4 round trips (1 read, 1 write batch, 1 verify, 1 flush) + the device's own
time for one silent probe of the chosen sink (where the driver must probe) and one save/commit (:data:`STRICT`).
Every driver's device accepts lines typed ahead, so none needs more than one write round trip; what each driver
actually spends is in its round-trip count. Figures are medians over ``--runs`` runs.

Run: .venv/bin/python benchmarks/ssh_devices.py [--runs 3] [--latency 0.05] [--drivers mikrotik linux] [--json]
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

from _support import (
    SSH_DRIVERS,
    Device,
    Script,
    baseline_script,
    cpu_seconds,
    median,
    private_lock_dir,
    run_baseline,
    run_tuned,
    simulators,
)

from routerfix.enums import ResultStatus

FLOOR_ROUND_TRIPS = 4
"""1 read, 1 write batch, 1 verify, 1 flush: the strict floor's round trips after the handshake."""

STRICT: dict[str, tuple[float, str]] = {
    "mikrotik": (0.0, "no probe, no save step (T12)"),
    "linux": (2.0, "1 silent arping -w 2 (T1)"),
    "openwrt": (1.7, "1 silent ping -W 1 (T4) + uci commit of firewall and dhcp 2 x 0.1 (T10: the change writes both "
                "packages, uci commits one per call or all staged ones, openwrt.md rows 4, 15) + firewall reload "
                "0.5 (T11)"),
    "cisco_ios": (3.0, "1 silent ping repeat 2 timeout 1 (T5) + write memory 1.0 (T6)"),
    "vyos": (0.88, "1 commit 0.58 (T7) + 1 save 0.3 (T8)"),
    "edgeos": (0.88, "1 commit 0.58 + 1 save 0.3 (T9)"),
}
"""Per driver: the device's own seconds the strict floor adds (the least the change needs), and why."""


def record_change(driver: str) -> tuple[Script, int, float]:
    """Run routerfix once on an in-process simulator (no latency) and derive the netmiko script from what the
    device saw. Returns the script, routerfix's round trips and the device work time its lines cost
    (docs/facts/timing.md, summed here without being spent)."""
    from routerfix.simulators._hosts.timing import work_for

    import routerfix
    from routerfix.simulate import simulate

    work = work_for(driver)
    spent: list[float] = []
    with simulate(driver) as dev:
        ssh = getattr(dev.handle, "device", dev.handle)
        if work is not None:
            ssh.knobs.work = lambda line, out: spent.append(work(line, out)) or 0.0
        with routerfix.connect(driver, dev.host, **dev.connect_options()) as router:
            routerfix.apply_ghostcall_mitigation(router)
            trips = int(getattr(router, "round_trips", 0))
        return baseline_script(driver, list(ssh.commands)), trips, sum(spent)


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


def mitigate(device: Device) -> tuple[float, int, ResultStatus, float]:
    """Seconds for routerfix connect + mitigation + close; round trips; status; client CPU seconds."""
    import routerfix

    started, cpu = time.perf_counter(), cpu_seconds()
    with routerfix.connect(device.driver, device.host, **device.connect_options()) as router:
        result = routerfix.apply_ghostcall_mitigation(router)
        trips = int(getattr(router, "round_trips", 0))
    return time.perf_counter() - started, trips, result.status, cpu_seconds() - cpu


def netmiko_time(script: Script, device: Device, *, tuned: bool) -> tuple[float, str]:
    """Seconds for the tuned or naive netmiko script (or the failure)."""
    started = time.perf_counter()
    try:
        (run_tuned if tuned else run_baseline)(script, device)
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        return time.perf_counter() - started, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    return time.perf_counter() - started, "ok"


def measure(drivers: list[str], latencies: list[float], runs: int, *, realistic: bool = True,
            naive: bool = True) -> list[dict[str, Any]]:
    """Median figures per driver and latency."""
    recorded = {d: record_change(d) for d in drivers}
    scripts = {d: r[0] for d, r in recorded.items()}
    steps_all = ["hs", "rfx", "tuned"] + (["naive"] if naive else [])
    rows = []
    for latency in latencies:
        wanted: list[tuple[str, dict[str, Any]]] = [(d, {}) for _ in range(runs) for d in drivers
                                                    for _k in steps_all]
        samples: dict[str, dict[str, list[Any]]] = {d: {"hs": [], "rfx": [], "tuned": [], "naive": [], "rt": [],
                                                         "cpu": [], "err": []} for d in drivers}
        with simulators(wanted, latency=latency, processes=1, realistic=realistic) as devices:
            pools = {d: iter([x for x in devices if x.driver == d]) for d in drivers}
            for run in range(runs):
                order = drivers[run % len(drivers):] + drivers[:run % len(drivers)]
                for driver in order:
                    pool = pools[driver]
                    s = samples[driver]
                    steps = steps_all if run % 2 == 0 else steps_all[::-1]
                    for step in steps:
                        dev = next(pool)
                        if step == "hs":
                            s["hs"].append(handshake(dev))
                        elif step == "rfx":
                            seconds, trips, status, cpu = mitigate(dev)
                            s["cpu"].append(cpu)
                            if status is not ResultStatus.MITIGATED:
                                s["err"].append(f"routerfix status {status}")
                            s["rfx"].append(seconds)
                            s["rt"].append(trips)
                        else:
                            seconds, outcome = netmiko_time(scripts[driver], dev, tuned=step == "tuned")
                            s[step].append(seconds)
                            if outcome != "ok":
                                s["err"].append(f"{step} netmiko {outcome}")
        for driver in drivers:
            s = samples[driver]
            script = scripts[driver]
            hs, rfx = median(s["hs"]), median(s["rfx"])
            tuned, nm = median(s["tuned"]), median(s["naive"])
            device_s = STRICT[driver][0] if realistic else 0.0
            floor = hs + latency * FLOOR_ROUND_TRIPS + device_s
            rows.append({
                "driver": driver, "latency_ms": round(latency * 1000), "runs": runs, "realistic": realistic,
                "handshake_s": round(hs, 3), "floor_device_s": device_s, "floor_s": round(floor, 3),
                "commands": script.commands,
                "routerfix_s": round(rfx, 3), "routerfix_round_trips": median(s["rt"]),
                "routerfix_vs_floor": round(rfx / floor, 2) if floor else None,
                "tuned_s": round(tuned, 3), "tuned_vs_routerfix": round(tuned / rfx, 2) if rfx else None,
                "naive_s": round(nm, 3) if s["naive"] else None,
                "naive_vs_routerfix": round(nm / rfx, 2) if rfx and s["naive"] else None,
                "routerfix_cpu_s": round(median(s["cpu"]), 3),
                "routerfix_device_s": round(recorded[driver][2], 2) if realistic else 0.0,
                "errors": sorted(set(s["err"])),
            })
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the rows."""
    out = ["| driver | latency | strict floor (handshake + 4 RT + device) | routerfix | × floor (goal ≤ 1.3) | "
           "routerfix round trips | tuned netmiko | tuned ÷ routerfix (goal ≥ 2) | naive netmiko | naive ÷ routerfix |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        note = f" ({'; '.join(r['errors'])})" if r["errors"] else ""
        naive = f"{r['naive_s']:.2f} s" if r["naive_s"] is not None else "—"
        out.append(f"| {r['driver']} | {r['latency_ms']} ms | {r['floor_s']:.2f} s ({r['handshake_s']:.2f} + "
                   f"{FLOOR_ROUND_TRIPS} × {r['latency_ms']} ms + {r['floor_device_s']:g}) | "
                   f"{r['routerfix_s']:.2f} s | "
                   f"{r['routerfix_vs_floor']} | {r['routerfix_round_trips']:g} | {r['tuned_s']:.2f} s | "
                   f"{r['tuned_vs_routerfix']} | {naive}{note} | {r['naive_vs_routerfix'] or '—'} |")
    return "\n".join(out)


def breakdown(rows: list[dict[str, Any]]) -> str:
    """Markdown table: where each routerfix run's wall time goes."""
    out = ["| driver | routerfix wall | connect (bare handshake) | round trips × latency | device work | "
           "client CPU (incl. the handshake's) | rest (overlap, scheduling on the loaded host) |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        trips = r["routerfix_round_trips"] * r["latency_ms"] / 1000
        rest = r["routerfix_s"] - r["handshake_s"] - trips - r["routerfix_device_s"] - r["routerfix_cpu_s"]
        out.append(f"| {r['driver']} | {r['routerfix_s']:.2f} s | {r['handshake_s']:.2f} s | "
                   f"{r['routerfix_round_trips']:g} × {r['latency_ms']} ms = {trips:.2f} s | "
                   f"{r['routerfix_device_s']:.2f} s | {r['routerfix_cpu_s']:.2f} s | {rest:+.2f} s |")
    return "\n".join(out)


def main() -> None:
    """Measure and print a JSON list (``--json``) or a Markdown table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, nargs="+", default=[0.05])
    parser.add_argument("--legacy", action="store_true", help="latency knobs only, no device time (old figures)")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive netmiko row (slow on VyOS/EdgeOS)")
    parser.add_argument("--drivers", nargs="+", default=list(SSH_DRIVERS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    private_lock_dir()  # inherited by the measured children and worker processes
    logging.basicConfig(level=logging.ERROR)
    rows = measure(args.drivers, args.latency, args.runs, realistic=not args.legacy, naive=not args.no_naive)
    print(json.dumps(rows, indent=1) if args.json else table(rows) + "\n\n" + breakdown(rows))


if __name__ == "__main__":
    main()
