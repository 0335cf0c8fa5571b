"""Kill -9, SIGTERM and Ctrl-C at every write point of the real ``routerfix`` command (a subprocess) against a
simulator; then ``routerfix undo`` (after kill -9) must bring back exactly the state before, compared on a full
read-back (the managed view through the driver, and the simulator's own state).

The command stops itself at its N-th write verb (``killpoint.py``), before the verb sends anything or after its
answer came back, so every point is exact. Points are counted on a clean run of the same command.
``ROUTERFIX_KILL_POINTS=all`` runs every point; by default each write's "before" and "after" points run for
kill -9 and the "after" points for SIGTERM (the "before" SIGTERM points roll back the same way).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import routerfix
from routerfix.planner import managed_view
from routerfix.records import DeviceKey, undo_chain
from routerfix.simulate import SimulatedDevice

from .faults import FAST, fresh_device, open_driver
from .targets import TARGETS, Target, native_state, scrub

KILLPOINT = Path(__file__).with_name("killpoint.py")
KILL_TARGETS = [t for t in TARGETS if t.id in ("memory", "mikrotik-v7", "netgear-R7000", "cisco_ios")]
RESULTS: dict[str, dict[str, int]] = {}


@dataclass
class Site:
    """A simulated router the CLI reaches from another process."""

    target: Target
    device: SimulatedDevice
    tmp: Path

    @property
    def state_file(self) -> Path:
        return self.tmp / "memory-router.json"

    def args(self) -> list[str]:
        opts = {**self.device.options, **self.target.options}
        if self.target.kind == "memory":
            opts = {"state_file": str(self.state_file)}
        out = ["--driver", self.device.driver, "--host", self.device.host, "--username", self.device.username,
               "--no-prompt", "--timeout", "3"]
        if self.device.port is not None:
            out += ["--port", str(self.device.port)]
        for key, value in opts.items():
            out += ["-o", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
        return out

    def env(self) -> dict[str, str]:
        return {**os.environ, "ROUTERFIX_PASSWORD": self.device.password,
                "ROUTERFIX_STATE_DIR": str(self.tmp / "state")}

    def snapshot(self) -> tuple[list[str], Any]:
        if self.target.kind == "memory":
            with routerfix.connect("memory", self.device.host, password=self.device.password,
                                   state_file=str(self.state_file)) as d:
                view = managed_view(d.read_state())
            data = json.loads(self.state_file.read_text())
            return view, scrub({k: data[k] for k in ("forwards", "scope", "nat_mode", "sip_alg")})
        with open_driver(self.target, self.device, FAST) as d:
            view = managed_view(d.read_state())
        return view, native_state(self.target, self.device)

    def run(self, command: list[str], point: tuple[int, str, str] = (0, "after", "KILL"),
            count_file: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = self.env()
        if count_file is not None:
            env["KILLPOINT_COUNT"] = str(count_file)
        n, when, sig = point
        return subprocess.run([sys.executable, str(KILLPOINT), str(n), when, sig, "--", *command[:1], *self.args(),
                               *command[1:]], env=env, capture_output=True, text=True, timeout=120)


@contextlib.contextmanager
def site(target: Target, tmp: Path) -> Iterator[Site]:
    with fresh_device(target) as device:
        s = Site(target, device, tmp)
        if target.kind == "memory":  # the CLI process finds the router in this file
            with routerfix.connect("memory", device.host, password=device.password,
                                   state_file=str(s.state_file)) as d:
                d._save()  # type: ignore[attr-defined]
        yield s


def write_points(target: Target, tmp: Path) -> int:
    """Write verb calls of a clean ``mitigate`` (the kill points)."""
    with site(target, tmp / "count") as s:
        counted = tmp / "count" / "writes"
        out = s.run(["mitigate", "--yes", "--json"], count_file=counted)
        assert out.returncode == 0, out.stderr
        return int(counted.read_text())


def points(target: Target, tmp: Path) -> list[tuple[int, str, str]]:
    n = write_points(target, tmp)
    every = os.environ.get("ROUTERFIX_KILL_POINTS") == "all"
    found = [(i, when, "KILL") for i in range(1, n + 1) for when in ("before", "after")]
    found += [(i, when, "TERM") for i in range(1, n + 1) for when in ("before", "after")
              if every or when == "after"]
    return found


def _tally(target: Target, kind: str, ok: bool) -> None:
    row = RESULTS.setdefault(f"{target.id} {kind}", {"survived": 0, "total": 0})
    row["total"] += 1
    row["survived"] += ok


@pytest.mark.parametrize("target", KILL_TARGETS, ids=str)
def test_kill_and_sigterm_at_every_write_point(target: Target, tmp_path: Path) -> None:
    failures = []
    for n, when, sig in points(target, tmp_path):
        cell = tmp_path / f"{sig}-{n}-{when}"
        with site(target, cell) as s:
            before = s.snapshot()
            out = s.run(["mitigate", "--yes", "--json"], (n, when, sig))
            label = f"{sig} at write {n} ({when})"
            if sig == "KILL":
                problems = [] if out.returncode == -9 else [f"exit {out.returncode}, not killed: {out.stderr[-300:]}"]
                chain = undo_chain(s.tmp / "state", DeviceKey(s.device.driver, s.device.host, s.device.port))
                if not chain:
                    problems.append("no undo record after the kill")
                undo = s.run(["undo", "--yes", "--json"])
                if undo.returncode != 0:
                    problems.append(f"undo exit {undo.returncode}: {undo.stderr[-400:]}")
            else:  # SIGTERM: the run itself rolls back, logs out and says so
                finished = False
                problems = [] if out.returncode == 143 else [f"exit {out.returncode}, not 143: {out.stderr[-400:]}"]
                finished = "verified on a new session" in out.stderr or "the change is in place" in out.stderr
                if "rolled back" not in out.stderr and not finished:
                    problems.append(f"no rollback reported: {out.stderr[-300:]}")
            after = s.snapshot()
            if sig == "TERM" and finished:  # every write was in before the signal: the run finished, and says so
                undo = s.run(["undo", "--yes", "--json"])
                ok_state = undo.returncode == 0 and s.snapshot() == before
            else:
                ok_state = after == before
            if not ok_state:
                problems.append(f"end state differs from before: view {after[0]} vs {before[0]}")
            _tally(target, sig, not problems)
            if problems:
                failures.append(f"{label}: " + "; ".join(problems))
    for kind in ("KILL", "TERM"):
        row = RESULTS.get(f"{target.id} {kind}", {"survived": 0, "total": 0})
        print(f"\nkill table: {target.id} {kind}: {row['survived']}/{row['total']} survived")
    assert not failures, "\n".join(failures)
