"""The ``routerfix fleet plan|mitigate|undo INVENTORY`` command (registered by :mod:`routerfix.cli`).

Exit codes: 0 every host succeeded, 1 some did, 2 none did (or bad input: the inventory, the
report or an option; nothing ran). 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from routerfix.cli.common import add_mitigation_arguments, mitigation_options
from routerfix.enums import FleetOperation
from routerfix.errors import RouterfixError
from routerfix.interrupts import handle_termination
from routerfix.options import MITIGATION_OPTIONS, OptionKind
from routerfix.records import unique_path

__all__ = ["handle", "register"]

EXIT_ALL, EXIT_SOME, EXIT_NONE = 0, 1, 2
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_HELP = {
    "plan": "dry run on every host: what mitigate would change (writes nothing)",
    "mitigate": "apply the ghost-call mitigation on every host (asks first unless --yes)",
    "undo": "remove the mitigation on every host, from the saved undo records (asks first unless --yes)",
}


def register(subparsers: Any) -> None:
    """Add ``fleet plan|mitigate|undo INVENTORY`` to the ``routerfix`` command's subparsers."""
    fleet = subparsers.add_parser("fleet", help="run plan, mitigate or undo over a Nornir-style inventory",
                                  description="Run over every host of a Nornir SimpleInventory (hosts.yaml, "
                                              "groups.yaml, defaults.yaml). Exit 0: all succeeded, 1: some, "
                                              "2: none (or bad input).")
    ops = fleet.add_subparsers(dest="fleet_operation", required=True, metavar="OPERATION")
    for op in FleetOperation:
        p = ops.add_parser(op, help=_HELP[op], description=_HELP[op])
        p.add_argument("inventory", metavar="INVENTORY",
                       help="inventory directory, its hosts.yaml, or a Nornir config.yaml naming an inventory plugin")
        # host selection by group and data (owner: inventory; routerfix.inventory.Inventory.filter)
        p.add_argument("--group", metavar="GROUP", action="append", default=[],
                       help="run just the hosts in this group, directly or through a parent (repeatable: any)")
        p.add_argument("--where", metavar="KEY=VALUE", action="append", default=[],
                       help="run just the hosts whose data has KEY=VALUE (dotted keys reach nested data; "
                            "repeatable: all)")
        p.add_argument("--workers", "-w", type=int, default=None,
                       help="hosts worked on at once (default 8; lower it for slow links)")
        p.add_argument("--json", action="store_true", help="print the JSON report instead of tables")
        p.add_argument("--csv", metavar="FILE", help="also write a CSV report (one row per host)")
        p.add_argument("--report", metavar="FILE", help="where to write the JSON report (default: in the state dir)")
        p.add_argument("--only-failed", metavar="REPORT", help="rerun just the hosts that did not succeed in REPORT")
        p.add_argument("--only", metavar="NAME", action="append", help="run just this host (repeatable)")
        p.add_argument("--state-dir", help="undo records, backups and reports (default: ~/.local/state/routerfix)")
        p.add_argument("--yes", "-y", action="store_true", help="do not ask before writing")
        if op is not FleetOperation.UNDO:
            add_mitigation_arguments(p, fleet=True)
        else:
            p.add_argument("--no-backup", dest="backup", action="store_false", help="take no configuration backup")
        p.set_defaults(func=handle, operation=op)


def _state_dir(args: argparse.Namespace) -> Path:
    from routerfix.fleet import default_state_dir

    return Path(args.state_dir) if args.state_dir else default_state_dir()


def handle(args: argparse.Namespace) -> int:
    """Run the fleet operation; returns the exit code (see the module docstring)."""
    from rich.console import Console
    from rich.text import Text

    from routerfix.fleet import DEFAULT_WORKERS, FleetReport, run_fleet
    from routerfix.inventory import load_inventory

    out = Console(highlight=False, soft_wrap=True, markup=False)
    err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
    op: str = args.operation
    try:
        inventory = load_inventory(args.inventory)
        if args.group or args.where:
            inventory = inventory.filter(groups=args.group, where=args.where)
        if args.only:
            inventory = inventory.select(args.only)
        options = mitigation_options(args)
        state_dir = _state_dir(args)
        selection = inventory
        only_failed: Any = None
        if args.only_failed:
            from routerfix.fleet import failed_hosts

            wanted = set(failed_hosts(args.only_failed))
            selection = inventory.select([n for n in inventory.names() if n in wanted])
            only_failed = args.only_failed
        for text in inventory.warnings:
            err.print(Text.assemble(("warning: ", "yellow"), text), highlight=False)
        if op != "plan" and selection.hosts and not _confirm(args, op, len(selection)):
            err.print("nothing changed")
            return EXIT_ALL
        workers = args.workers if args.workers is not None else DEFAULT_WORKERS
        with handle_termination():  # SIGTERM stops like Ctrl-C: no new hosts, running ones finish
            if args.json:
                report: FleetReport = run_fleet(inventory, op, workers=workers, state_dir=state_dir,
                                                only_failed=only_failed, **options)
            else:
                report = _run_with_progress(out, inventory, op, workers, state_dir, only_failed, options,
                                            len(selection))
    except RouterfixError as exc:
        err.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False)
        if args.json:
            sys.stdout.write(json.dumps({"error": exc.to_dict()}) + "\n")
        return EXIT_USAGE
    report_path = Path(args.report) if args.report else unique_path(state_dir / "reports", f"fleet-{op}", "json")
    report.save_json(report_path)
    if args.csv:
        report.save_csv(args.csv)
    rerun = rerun_command(args, report_path) if report.failed else None
    if args.json:
        data = report.to_dict()
        data["report_file"] = str(report_path)
        data["rerun_command"] = rerun
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        out.print(report)
        for text in report.warnings:
            if text not in inventory.warnings:
                err.print(Text.assemble(("warning: ", "yellow"), text), highlight=False)
        out.print(Text(f"report: {report_path}" + (f"; csv: {args.csv}" if args.csv else "")))
        if rerun:   # after an interrupt too: the cancelled hosts are among those that did not succeed
            out.print(Text(f"rerun the {len(report.failed)} host(s) that did not succeed with: {rerun}"))
    if report.interrupted:
        return EXIT_INTERRUPTED
    return report.exit_code()


def rerun_command(args: argparse.Namespace, report_path: Path) -> str:
    """The command that reruns just the hosts that did not succeed: the same operation, options and state dir,
    ``--only-failed REPORT``, and ``--yes`` when it writes (it was confirmed already)."""
    import shlex

    argv = ["routerfix", "fleet", args.operation, str(args.inventory), "--only-failed", str(report_path)]
    if args.state_dir:
        argv += ["--state-dir", str(args.state_dir)]
    if args.workers is not None:
        argv += ["--workers", str(args.workers)]
    for spec in MITIGATION_OPTIONS:
        value = getattr(args, spec.name, spec.default)
        if value == spec.default:
            continue
        argv += [spec.flag] if spec.kind is OptionKind.BOOL else [spec.flag, str(value)]
    if args.operation != "plan":
        argv.append("--yes")
    return shlex.join(argv)


def _confirm(args: argparse.Namespace, op: str, count: int) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        from routerfix.errors import InvalidValue

        raise InvalidValue("--yes", False, f"--yes to {op} {count} host(s) without a terminal to confirm on")
    answer = input(f"{op} {count} host(s)? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _run_with_progress(out: Any, inventory: Any, op: str, workers: int, state_dir: Path, only_failed: Any,
                       options: dict[str, Any], total: int) -> Any:
    """Run with a live bar (hosts done / total, which are running) and one status line per finished host."""
    import threading

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.text import Text

    from routerfix.fleet import HostResult, run_fleet
    from routerfix.inventory import FleetHost

    running: list[str] = []
    lock = threading.Lock()
    progress = Progress(TextColumn(f"fleet {op}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.description}"), console=out, transient=True,
                        disable=os.environ.get("ROUTERFIX_NO_PROGRESS") == "1")
    task = progress.add_task("", total=total)

    def now_running() -> str:
        shown = ", ".join(running[:4]) + (f" +{len(running) - 4}" if len(running) > 4 else "")
        return f"running: {shown}" if running else ""

    def on_start(host: FleetHost) -> None:
        with lock:
            running.append(host.name)
            progress.update(task, description=now_running())

    def on_done(result: HostResult) -> None:
        with lock:
            if result.name in running:
                running.remove(result.name)
            progress.update(task, advance=1, description=now_running())
        detail = f"{result.error_type}: {result.error_message}" if result.error_type else \
            "; ".join(result.verdicts) or (f"{len(result.actions)} change(s)" if result.actions else "")
        line = Text.assemble(("✔ " if result.ok else "✘ ", "green" if result.ok else "red"), result.name, " ",
                             (result.status, "bold"), f" ({result.duration:.1f} s)", f" - {detail}" if detail else "")
        progress.console.print(line, highlight=False)

    with progress:
        return run_fleet(inventory, op, workers=workers, state_dir=state_dir, only_failed=only_failed,
                         on_start=on_start, on_done=on_done, **options)
