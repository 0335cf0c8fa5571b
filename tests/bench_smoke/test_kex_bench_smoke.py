"""benchmarks/kex.py once (no timing assertions): every device row has both clients' figures (a failed login
raises and the script exits non-zero, so a row means every login of both clients succeeded)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

pytestmark = pytest.mark.timeout(240)


def test_kex_benchmark_reports_both_clients_for_every_device() -> None:
    run = subprocess.run([sys.executable, str(BENCHMARKS / "kex.py"), "--runs", "1", "--logins", "2", "--json"],
                         capture_output=True, text=True, timeout=200, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = json.loads(run.stdout)
    assert set(rows) == {"RouterOS, diffie-hellman-group-exchange-sha256",
                         "IOS 15 simulator's stand-in, diffie-hellman-group14-sha256",
                         "IOS-XE, curve25519-sha256@libssh.org"}
    for row in rows.values():
        assert set(row) == {"paramiko", "routerfix, Python int", "routerfix"} and all(ms > 0 for ms in row.values())
