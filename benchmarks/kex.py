"""SSH login CPU on the client by key exchange: paramiko's own Transport against routerfix's sized DH exponent (in
Python's arithmetic, and in GMP as installed).

Each device is served by a simulator process of its own (``_support.simulators``, no added latency), so this
process's CPU is the client's alone: connect, key exchange, password authentication, close. ``--logins`` logins
per device and client, alternating the two clients, median of ``--runs`` rounds, in ms per login.

    .venv/bin/python benchmarks/kex.py [--runs 5] [--logins 20] [--json]     # ≈ 30 s
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any
from unittest.mock import patch

import paramiko

from routerfix.transport import ssh_kex

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import Device, cpu_seconds, median, simulators

DEVICES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("RouterOS, diffie-hellman-group-exchange-sha256", "mikrotik", {}),
    ("IOS 15 simulator's stand-in, diffie-hellman-group14-sha256", "cisco_ios", {}),
    ("IOS-XE, curve25519-sha256@libssh.org", "cisco_ios", {"xe": True}),
)
"""(label: device and the exchange paramiko agrees with it, driver, simulator knobs); fact rows mikrotik M84 and
cisco_ios 45 (real classic IOS offers only SHA-1 exchanges; the simulator adds this stand-in, inferred)."""
CLIENTS: dict[str, tuple[type[paramiko.SSHClient], bool]] = {
    "paramiko": (paramiko.SSHClient, True), "routerfix, Python int": (ssh_kex.SSHClient, False),
    "routerfix": (ssh_kex.SSHClient, True)}
"""(client class, whether the exponent may be a GMP integer): paramiko's own exchange, routerfix's sized exponent in
Python's arithmetic (where gmpy2 has no wheel), and routerfix as installed (in GMP when gmpy2 is installed)."""


def login_cpu_ms(client_class: type[paramiko.SSHClient], device: Device, logins: int, *, gmp: bool = True) -> float:
    """This process's CPU per login, in ms."""
    # routerfix's exponent as installed, or held as a plain int (where gmpy2 has no wheel)
    with nullcontext() if gmp else patch.object(ssh_kex, "exponent_type", lambda: int):
        return _login_cpu_ms(client_class, device, logins)


def _login_cpu_ms(client_class: type[paramiko.SSHClient], device: Device, logins: int) -> float:
    start = cpu_seconds()
    for _ in range(logins):
        client = client_class()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # a simulator on 127.0.0.1
        try:
            client.connect(device.host, port=device.port, username=device.username, password=device.password,
                           look_for_keys=False, allow_agent=False, timeout=30)
        finally:
            client.close()
    return (cpu_seconds() - start) / logins * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--logins", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, float]] = {}
    with simulators([(driver, knobs) for _, driver, knobs in DEVICES], latency=0.0,
                    processes=len(DEVICES)) as devices:
        for (label, _, _), device in zip(DEVICES, devices, strict=True):
            rounds: dict[str, list[float]] = {name: [] for name in CLIENTS}
            for _ in range(args.runs):
                for name, (client_class, gmp) in CLIENTS.items():
                    rounds[name].append(login_cpu_ms(client_class, device, args.logins, gmp=gmp))
            results[label] = {name: round(median(values), 2) for name, values in rounds.items()}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'device, key exchange':62}" + "".join(f" {name:>22}" for name in CLIENTS)
              + "  (client CPU, ms per login)")
        for label, row in results.items():
            print(f"{label:62}" + "".join(f" {row[name]:22.2f}" for name in CLIENTS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
