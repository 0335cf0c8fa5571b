"""benchmarks/ssh_reads.py once (no timing assertions): every way of reading reports a figure, and every command's
output came back (the script checks each one, and that each way's sessions agreed on its cipher over its kind of
socket, and exits non-zero otherwise)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

pytestmark = pytest.mark.timeout(240)


def test_ssh_reads_benchmark_reports_every_way_of_reading() -> None:
    run = subprocess.run([sys.executable, str(BENCHMARKS / "ssh_reads.py"), "--runs", "1", "--sessions", "2",
                          "--commands", "5", "--json"], capture_output=True, text=True, timeout=200, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = json.loads(run.stdout)
    assert set(rows) == {"routerfix, aes128-gcm", "routerfix, aes128-gcm, plain socket", "routerfix, aes128-ctr",
                         "routerfix, aes128-ctr, plain socket", "select(), aes128-ctr, plain socket"}
    assert all(us > 0 for us in rows.values())
