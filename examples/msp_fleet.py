"""An MSP's ghost-call sweep over a Nornir-style inventory.

Plans every router, mitigates the ones whose plan is clean, and lists the sites that need a
person (a PBX already using SIP, a full DHCP pool, a router that must be replaced, a wrong
password), with a CSV for the ticketing system::

    export ROUTERFIX_PASSWORD=...                       # defaults.yaml says password_env: ROUTERFIX_PASSWORD
    python examples/msp_fleet.py examples/inventory               # plan only
    python examples/msp_fleet.py examples/inventory --mitigate --csv sweep.csv

Exit code: 0 every site is fine, 1 some need attention, 2 none could be done.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.text import Text

from routerfix.fleet import FleetOperation, FleetReport, HostResult, ResultStatus, run_fleet
from routerfix.inventory import load_inventory


def main(argv: list[str] | None = None) -> int:
    """Plan, then (with --mitigate) apply where the plan is clean; print who needs attention."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inventory", type=Path, help="inventory directory (hosts.yaml, groups.yaml, defaults.yaml)")
    parser.add_argument("--mitigate", action="store_true", help="apply where the plan succeeded")
    parser.add_argument("--workers", type=int, default=8, help="routers worked on at once")
    parser.add_argument("--state-dir", type=Path, default=None, help="undo records and backups")
    parser.add_argument("--csv", type=Path, help="write the final report as CSV here")
    args = parser.parse_args(argv)

    console = Console(highlight=False)
    inventory = load_inventory(args.inventory)
    for warning in inventory.warnings:
        console.print(Text(f"inventory warning: {warning}", style="yellow"))

    def progress(result: HostResult) -> None:   # called from worker threads as each router finishes
        console.print(Text(f"  {result.name}: {result.status}", style="green" if result.ok else "red"))

    console.print(f"planning {len(inventory)} router(s)...")
    plan = run_fleet(inventory, "plan", workers=args.workers, on_done=progress)
    final: FleetReport = plan
    ready = [r.name for r in plan.results if r.ok and r.status is ResultStatus.PLANNED]
    if args.mitigate and ready:
        console.print(f"mitigating {len(ready)} router(s)...")
        done = run_fleet(inventory.select(ready), "mitigate", workers=args.workers, state_dir=args.state_dir,
                         on_done=progress)
        merged = {r.name: r for r in (*plan.results, *done.results)}
        final = FleetReport(operation=FleetOperation.MITIGATE, results=tuple(merged[n] for n in inventory.names()),
                            started=plan.started, duration=plan.duration + done.duration, workers=args.workers,
                            source=plan.source)
    console.print(final)

    attention = final.failed
    for r in attention:
        why = f"{r.error_type}: {r.error_message}" if r.error_type else "; ".join(r.verdicts)
        console.print(Text(f"TICKET {r.name} ({r.hostname}): {why}"))
    if args.csv:
        final.save_csv(args.csv)
        console.print(f"report written to {args.csv}")
    return final.exit_code()


if __name__ == "__main__":
    sys.exit(main())
