"""Undo journal cost: time to write one run's record (``routerfix.records.Journal``), as the engine writes it:
``begin`` + one ``step_done`` per step + ``finish`` with the result, i.e. N + 2 atomic saves (temporary file,
fsync, rename, fsync of the directory).

The record is a real one: the ``memory`` driver's ``office`` router mitigated (its plan's steps cycled to
``--steps N``). Each save is measured with the previous encoding (``json.dumps(..., indent=2)``: json's
pure-Python encoder) and the current one (:func:`routerfix.records.encode_record`: compact, the C encoder), in
the same process, alternating, median of ``--runs``:

* *encode*: CPU time of the N + 2 encodings alone;
* *save*: wall and CPU time of the N + 2 full saves into a directory on the state directory's file system
  (``--dir``, default a temporary directory under the current one: fsync on tmpfs would cost nothing).

Run: .venv/bin/python benchmarks/journal.py [--steps 5 20] [--runs 51] [--dir PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import routerfix
from routerfix import records
from routerfix.enums import Operation
from routerfix.records import DeviceKey, Journal, JournalStatus

Encoder = Callable[[dict[str, Any]], str]


def _indented(data: dict[str, Any]) -> str:
    """The encoding before this change."""
    return json.dumps(data, indent=2) + "\n"


ENCODERS: dict[str, Encoder] = {"indent=2 (before)": _indented, "compact (now)": records.encode_record}


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


def _one_run(directory: Path, encode: Encoder, record: tuple[Any, ...], steps: int, *,
             save: bool) -> tuple[float, float]:
    """(wall, CPU) seconds to write one run's record with ``encode``; ``save=False``: the encodings only."""
    before, planned, undo, result = record
    journal = Journal(directory, DeviceKey("memory", "bench-journal"), Operation.MITIGATE)
    original = records.encode_record
    records.encode_record = encode  # the Journal's saves go through the encoder measured
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        if save:
            journal.begin(before, planned, undo)
            for index in range(steps):
                journal.step_done(index)
            journal.finish(JournalStatus.DONE, result)
        else:
            journal.data.update(before=before, planned=planned, undo=undo)
            encode(journal.data)
            for index in range(steps):
                journal.data["steps_done"].append(index)
                encode(journal.data)
            encode({**result, **journal.data})
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        records.encode_record = original
        journal.path.unlink(missing_ok=True)


def measure(steps: int, runs: int, directory: Path) -> dict[str, Any]:
    """Medians in milliseconds per record, for each encoder; the record's size in bytes."""
    record = typical_record(steps)
    samples: dict[str, dict[str, list[float]]] = {name: {"encode_cpu": [], "save_wall": [], "save_cpu": []}
                                                  for name in ENCODERS}
    for _ in range(runs):
        for name, encode in ENCODERS.items():  # alternating, so machine load falls on both
            samples[name]["encode_cpu"].append(_one_run(directory, encode, record, steps, save=False)[1])
            wall, cpu = _one_run(directory, encode, record, steps, save=True)
            samples[name]["save_wall"].append(wall)
            samples[name]["save_cpu"].append(cpu)
    before, planned, _, result = record
    final = {**result, "before": before, "planned": planned, "steps_done": list(range(steps))}
    return {"steps": steps, "saves": steps + 2, "runs": runs,
            "bytes": {name: len(encode(final).encode()) for name, encode in ENCODERS.items()},
            "ms": {name: {k: round(statistics.median(v) * 1000, 3) for k, v in s.items()}
                   for name, s in samples.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--runs", type=int, default=51)
    parser.add_argument("--dir", type=Path, default=None, help="where the records are written (default: under .)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir or Path.cwd(), prefix=".bench-journal-") as tmp:
        rows = [measure(n, args.runs, Path(tmp)) for n in args.steps]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("| steps (saves) | encoding | encode CPU | save wall (fsync) | save CPU | final record |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        for name, ms in row["ms"].items():
            print(f"| {row['steps']} ({row['saves']}) | {name} | {ms['encode_cpu']:.2f} ms | {ms['save_wall']:.2f} ms "
                  f"| {ms['save_cpu']:.2f} ms | {row['bytes'][name]:,} B |")
    print(f"\nMedians of {args.runs} runs per row, per record (all its saves).")


if __name__ == "__main__":
    main()
