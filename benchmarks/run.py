"""``make bench``: the whole benchmark set, one script after the other, each printing its Markdown tables.

Realistic network and device timing throughout (docs/facts/timing.md). The machine the figures come from is shared
and its load is printed before each part (``os.getloadavg``), so a reader can judge them.

Run: .venv/bin/python benchmarks/run.py [--quick]   (``--quick``: 1 run per device, fleets of 10 and 100, no naive
netmiko row: a few minutes instead of ≈ 20)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def part(title: str, args: list[str]) -> int:
    """Run one benchmark script; return its exit status."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n## {title}\n\n(load average before: {load}; {os.cpu_count()} CPUs)\n", flush=True)
    return subprocess.run([sys.executable, str(HERE / args[0]), *args[1:]], check=False).returncode


def main() -> None:
    """Run every benchmark script."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    failures = 0
    failures += part("Per SSH device (strict floor, tuned and naive netmiko)",
                     ["ssh_devices.py", "--runs", "1" if quick else "3", *(["--no-naive"] if quick else [])]) != 0
    failures += part("Per web device (requests and logins)", ["web_requests.py"]) != 0
    failures += part("Fleet (1 and 2 worker processes; Nornir beside)",
                     ["fleet.py", "--sizes", *(["10", "100"] if quick else ["10", "100", "1000"]),
                      "--processes", "1", "2", "--nornir"]) != 0
    failures += part("Start-up", ["import_time.py", "--runs", "5" if quick else "11"]) != 0
    failures += part("Undo journal (one run's record)", ["journal.py", "--runs", "11" if quick else "51"]) != 0
    failures += part("Web form parsing (per page, old and new)", ["forms.py", "--runs", "3" if quick else "5"]) != 0
    failures += part("SSH login CPU by key exchange (paramiko's exponent and routerfix's)",
                     ["kex.py", "--runs", "3" if quick else "5"]) != 0
    failures += part("SSH command reads (client CPU per round trip, select() and routerfix)",
                     ["ssh_reads.py", "--runs", "3" if quick else "5"]) != 0
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
