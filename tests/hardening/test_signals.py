"""Ctrl-C (SIGINT) while the driver waits for the device's answer to a write, at every write of the real
``routerfix`` command against a simulator that answers late: the interrupted session is dropped (its late answer
is never read as the answer to something else), a new session re-reads and rolls back, the command logs out and
exits 130 with the device exactly as before."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .faults import _http, ssh_device
from .targets import TARGETS, Target
from .test_kill import site, write_points

SIGNAL_TARGETS = [t for t in TARGETS if t.id in ("mikrotik-v7", "linux", "netgear-R7000")]
LATE_ANSWER = 0.4
"""Seconds every answer of the simulator comes after its command or request (the interrupt comes at 0.15 s)."""


def _sessions_closed(device: object, within: float = 5.0) -> bool:
    """The simulator saw every session end (it notices a closed connection when its late answer is due)."""
    deadline = time.monotonic() + within
    while ssh_device(device).sessions_open:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("target", SIGNAL_TARGETS, ids=str)
def test_ctrl_c_while_a_write_waits_for_its_answer_rolls_back_on_a_new_session(target: Target, tmp_path: Path
                                                                               ) -> None:
    failures = []
    writes = write_points(target, tmp_path)
    survived = 0
    for n in range(1, writes + 1):
        with site(target, tmp_path / f"int-{n}") as s:
            before = s.snapshot()
            if target.kind == "ssh":
                ssh_device(s.device).knobs.latency = LATE_ANSWER
            else:
                _http(s.device).add_fault("delay", seconds=LATE_ANSWER, times=100_000)
            out = s.run(["mitigate", "--yes", "--json"], (n, "during", "INT"))
            if target.kind == "ssh":
                ssh_device(s.device).knobs.latency = 0.0
            else:
                _http(s.device).clear_faults()
            problems = []
            finished = "the change is in place" in out.stderr or "verified on a new session" in out.stderr
            if out.returncode != 130:
                problems.append(f"exit {out.returncode}, not 130: {out.stderr[-500:]}")
            if finished:
                undo = s.run(["undo", "--yes", "--json"])
                if undo.returncode:
                    problems.append(f"undo exit {undo.returncode}")
            elif "rolled back" not in out.stderr:
                problems.append(f"no rollback reported: {out.stderr[-300:]}")
            if target.kind == "ssh" and not _sessions_closed(s.device):
                problems.append(f"{ssh_device(s.device).sessions_open} session(s) left open")
            after = s.snapshot()
            if after != before:
                problems.append(f"end state differs: {after[0]} vs {before[0]}")
            survived += not problems
            if problems:
                failures.append(f"SIGINT during write {n}: " + "; ".join(problems))
    print(f"\nsignal table: {target.id} INT during a write: {survived}/{writes} exactly as before")
    assert not failures, "\n".join(failures)
