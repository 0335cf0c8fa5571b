"""benchmarks/journal.py once (no timing assertions): both ways of saving write the same record, and the
appending journal keeps every save as a line of its file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

pytestmark = pytest.mark.timeout(120)


def test_journal_benchmark_measures_both_ways_of_saving(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, str(BENCHMARKS / "journal.py"), "--steps", "2", "--runs", "2",
                          "--dir", str(tmp_path), "--json"], capture_output=True, text=True, timeout=100, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    (row,) = json.loads(run.stdout)
    assert row["saves"] == 4 and set(row["ms"]) == {"rewrite (before)", "append (now)"}
    assert all(ms["save_wall"] > 0 and ms["save_cpu"] >= 0 for ms in row["ms"].values())
    # the appended file holds each of the 4 saves, the rewritten one only the last
    assert row["bytes"]["append (now)"] > row["bytes"]["rewrite (before)"] + 1000
    assert list(tmp_path.iterdir()) == []  # every record it wrote is gone
