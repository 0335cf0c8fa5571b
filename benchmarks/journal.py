"""Undo journal cost: time to write one run's record (``routerfix.records.Journal``), as the engine writes it:
``begin`` + one ``step_done`` per step + ``finish`` with the result, i.e. N + 2 saves.

The record is a real one: the ``memory`` driver's ``office`` router mitigated (its plan's steps cycled to
``--steps N``). Two ways of saving, in the same process, alternating, median of ``--runs``:

* *rewrite (before)*: every save atomic (temporary file, fsync, rename over the last version, fsync of the
  directory): one new file and one freed inode per save after the first;
* *append (now)*: the first save atomic, every later one the whole record appended as one more line and fsynced.

Measured: wall and CPU time (kernel included) of the N + 2 saves into a directory on the state directory's file
system (``--dir``, default a temporary directory under the current one: fsync on tmpfs would cost nothing), and
the final file's size. Each run removes its file, as a fleet run's clean-up does, so later runs create files
where earlier ones were freed.

Run: .venv/bin/python benchmarks/journal.py [--steps 4 20] [--runs 101] [--dir PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import routerfix
from routerfix import records
from routerfix.enums import Operation
from routerfix.records import DeviceKey, Journal, JournalStatus


class RewritingJournal(Journal):
    """The journal before the change: every save replaces the whole file atomically."""

    def _save(self) -> None:
        records.atomic_write(self.path, records.encode_record(self.data))


METHODS: dict[str, type[Journal]] = {"rewrite (before)": RewritingJournal, "append (now)": Journal}


def typical_record(steps: int) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]],
                                        dict[str, Any]]:
    """``before``, ``planned``, ``undo`` and the result of a real mitigation, its steps cycled to ``steps``."""
    with tempfile.TemporaryDirectory() as state, \
            routerfix.connect("memory", f"bench-journal-{steps}", password="admin", scenario="office") as driver:
        result = routerfix.apply_ghostcall_mitigation(driver, state_dir=state)
        data = records.load_record(Path(str(result.record_file)))
    planned, undo = data["planned"], data["undo"]
    planned = [planned[i % len(planned)] for i in range(steps)]
    undo = [undo[i % len(undo)] for i in range(steps)]
    return data["before"], planned, undo, result.to_dict()


def _one_run(directory: Path, method: type[Journal], record: tuple[Any, ...],
             steps: int) -> tuple[float, float, int, dict[str, Any]]:
    """(wall, CPU) seconds to write one run's record with ``method``, the file's final size in bytes and the record
    read back from it."""
    before, planned, undo, result = record
    journal = method(directory, DeviceKey("memory", "bench-journal"), Operation.MITIGATE)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        journal.begin(before, planned, undo)
        for index in range(steps):
            journal.step_done(index)
        journal.finish(JournalStatus.DONE, result)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return wall, cpu, journal.path.stat().st_size, records.load_record(journal.path)
    finally:
        journal.path.unlink(missing_ok=True)


def measure(steps: int, runs: int, directory: Path) -> dict[str, Any]:
    """Medians in milliseconds per record, for each way of saving; the final file's size in bytes."""
    record = typical_record(steps)
    samples: dict[str, dict[str, list[float]]] = {name: {"save_wall": [], "save_cpu": []} for name in METHODS}
    sizes: dict[str, int] = {}
    for _ in range(runs):
        read: list[dict[str, Any]] = []
        for name, method in METHODS.items():  # alternating, so machine load falls on both
            wall, cpu, sizes[name], saved = _one_run(directory, method, record, steps)
            samples[name]["save_wall"].append(wall)
            samples[name]["save_cpu"].append(cpu)
            read.append({k: v for k, v in saved.items() if k != "journal_started"})
        if any(other != read[0] for other in read[1:]):
            raise AssertionError("the ways of saving left different records")
    return {"steps": steps, "saves": steps + 2, "runs": runs, "bytes": sizes,
            "ms": {name: {k: round(statistics.median(v) * 1000, 3) for k, v in s.items()}
                   for name, s in samples.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[4, 20])
    parser.add_argument("--runs", type=int, default=101)
    parser.add_argument("--dir", type=Path, default=None, help="where the records are written (default: under .)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir or Path.cwd(), prefix=".bench-journal-") as tmp:
        rows = [measure(n, args.runs, Path(tmp)) for n in args.steps]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("| steps (saves) | saving | save wall (fsync) | save CPU (incl. kernel) | final file |")
    print("|---|---|---|---|---|")
    for row in rows:
        for name, ms in row["ms"].items():
            print(f"| {row['steps']} ({row['saves']}) | {name} | {ms['save_wall']:.2f} ms | {ms['save_cpu']:.2f} ms "
                  f"| {row['bytes'][name]:,} B |")
    print(f"\nMedians of {args.runs} runs per row, per record (all its saves).")


if __name__ == "__main__":
    main()
