"""Running the mitigation (or its plan or undo) over a fleet of routers.

::

    import routerfix
    from routerfix.fleet import run_fleet

    report = run_fleet("inventory/", "plan", workers=8)
    report.save_json("plan.json")
    print(report.exit_code())          # 0 all succeeded, 1 some, 2 none

Each host runs in its own worker (a bounded pool of threads, each taking the next host when it is free;
the default of 8 is kinder to consumer routers and slow links than Nornir's 20) with its own
session: open → read → plan → apply → verify → close. A host's failure is caught into its
:class:`HostResult` (status ``failed``, the error's class and message, never a secret) and
never stops the others.

Large fleets run in several worker processes (``processes``; by default one per CPU once there are
enough hosts and workers for the GIL to matter, see :func:`default_processes`): forked processes each run
their share of the workers as threads, every free worker takes the next host of the inventory, and the
results come back in inventory order, in the same report.

A host *succeeded* when it has no error and no verdict (a verdict means no configuration can fix
the site: replace or re-cable the router). :meth:`FleetReport.exit_code` is 0 when every host
succeeded, 1 when some did and 2 when none did (0 for an empty run).

``mitigate`` keeps each changed host's undo record (a write-ahead journal, :mod:`routerfix.records`)
in the state directory, keyed by driver + host + port, the records ``routerfix mitigate`` keeps, so
``routerfix undo`` finds fleet records and ``fleet undo`` finds single-host ones; ``undo`` restores
each host's state from before routerfix's first change (its record chain), or, without a record,
removes routerfix's rules by name. One inventory may not name the same device twice, and a run
waits for (or refuses) a device another run is working on (:mod:`routerfix.locks`).
"""

from __future__ import annotations

import contextlib
import csv
import gc
import html
import io
import json
import logging
import os
import signal
import struct
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routerfix.enums import FleetOperation, ResultStatus
from routerfix.errors import InvalidValue, RouterfixError, StateFileError
from routerfix.interrupts import noting_stop_requests
from routerfix.inventory import FleetHost, Inventory, load_inventory
from routerfix.planner import MitigationOptions
from routerfix.records import DeviceKey, atomic_write, clip, default_state_dir
from routerfix.records import latest_record as _latest
from routerfix.secrets import redact

__all__ = ["DEFAULT_WORKERS", "OPERATIONS", "FleetOperation", "FleetReport", "HostResult", "ResultStatus",
           "default_processes", "default_state_dir", "failed_hosts", "latest_record", "load_report", "run_fleet"]

log = logging.getLogger("routerfix.fleet")

DEFAULT_WORKERS = 8
"""Hosts worked on at once by default (consumer routers and DSL links dislike bursts; Nornir uses 20)."""
MAX_WORKERS = 1024
"""The most workers :func:`run_fleet` accepts (over all processes)."""
MAX_THREADS_PER_PROCESS = 64
"""The most worker threads one process runs by default: more workers than this are spread over more processes
(threads sharing one GIL cost more CPU each as they grow; benchmarks/README.md §3: 2 × 80 threads took 25.7 ms of
CPU per router where 2 × 64 took 17.7-18.3 ms, before 0.3.0's SSH reads; since, 2 × 80 and 3 × 53 measure alike)."""
HOSTS_PER_PROCESS = 100
"""A worker process is worth forking for at least this many hosts (:func:`default_processes`)."""
THREADS_PER_PROCESS = 32
"""... and at least this many worker threads each: fewer leave the GIL idle most of the time."""
OPERATIONS: tuple[FleetOperation, ...] = tuple(FleetOperation)
"""What :func:`run_fleet` can do on each host."""
REPORT_VERSION = 1
"""Version of the JSON report format (``routerfix_fleet_report`` key)."""
CSV_FIELDS = ("name", "hostname", "driver", "operation", "status", "ok", "changed", "sink", "error_type",
              "error_message", "actions", "verdicts", "warnings", "record", "transport_security", "duration_s")
"""Columns of the CSV report, in order."""

OnStart = Callable[[FleetHost], None]
"""``on_start(host)``: called from a worker thread as a host's work begins."""
OnDone = Callable[["HostResult"], None]
"""``on_done(result)``: called from a worker thread as a host's work ends."""


def latest_record(state_dir: str | Path, hostname: str, driver: str, port: int | None = None) -> Path | None:
    """The newest undo record of the device (driver, host, port) since its last undo, if any."""
    return _latest(state_dir, DeviceKey(driver, hostname, port))


@dataclass(frozen=True, kw_only=True)
class HostResult:
    """What happened on one host. JSON-ready through :meth:`to_dict`; holds no secret.

    :param status: a :data:`routerfix.result.STATUSES` key, or :attr:`~ResultStatus.FAILED` (an error) or
        :attr:`~ResultStatus.CANCELLED` (the run was interrupted before this host started).
    :param ok: True when the host succeeded: no error, no verdict, and no incomplete undo (routerfix's rules removed
        but what they replaced not restored: no record and no undo marker on the router; the warnings say so).
    :param changed: True when the device was changed.
    :param error_type: the error's class name (``AuthenticationError``, ``ConnectTimeout``...).
    :param error_message: the error's message (secrets masked).
    :param record: the saved result / undo record (mitigate), or the record used (undo).
    """

    name: str
    hostname: str
    driver: str
    operation: FleetOperation
    status: ResultStatus
    ok: bool
    changed: bool = False
    sink: str | None = None
    actions: tuple[str, ...] = ()
    verdicts: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    diff: str = ""
    error_type: str | None = None
    error_message: str | None = None
    record: str | None = None
    duration: float = 0.0
    transport_security: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "operation", FleetOperation(self.operation))
        object.__setattr__(self, "status", ResultStatus(self.status))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "hostname": self.hostname, "driver": self.driver,
                "operation": str(self.operation), "status": str(self.status), "ok": self.ok, "changed": self.changed,
                "sink": self.sink,
                "actions": list(self.actions), "verdicts": list(self.verdicts), "warnings": list(self.warnings),
                "diff": self.diff, "error_type": self.error_type, "error_message": self.error_message,
                "record": self.record, "duration_s": round(self.duration, 3),
                "transport_security": self.transport_security}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostResult:
        """Rebuild from :meth:`to_dict` output."""
        try:
            return cls(name=str(data["name"]), hostname=str(data["hostname"]), driver=str(data["driver"]),
                       operation=FleetOperation(str(data["operation"])), status=ResultStatus(str(data["status"])),
                       ok=bool(data["ok"]),
                       changed=bool(data.get("changed")), sink=data.get("sink"),
                       actions=tuple(data.get("actions") or ()), verdicts=tuple(data.get("verdicts") or ()),
                       warnings=tuple(data.get("warnings") or ()), diff=str(data.get("diff") or ""),
                       error_type=data.get("error_type"), error_message=data.get("error_message"),
                       record=data.get("record"), duration=float(data.get("duration_s") or 0.0),
                       transport_security=str(data.get("transport_security") or ""))
        except (KeyError, TypeError, ValueError) as exc:
            raise StateFileError(f"a host entry of the fleet report is unusable ({exc})") from None


@dataclass(frozen=True, kw_only=True)
class FleetReport:
    """The outcome of :func:`run_fleet`: one :class:`HostResult` per host, in inventory order."""

    operation: FleetOperation
    results: tuple[HostResult, ...]
    started: float = 0.0
    duration: float = 0.0
    workers: int = DEFAULT_WORKERS
    source: str = ""
    interrupted: bool = False
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "operation", FleetOperation(self.operation))

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, name: str) -> HostResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    @property
    def succeeded(self) -> tuple[HostResult, ...]:
        """Hosts with no error and no verdict."""
        return tuple(r for r in self.results if r.ok)

    @property
    def failed(self) -> tuple[HostResult, ...]:
        """Hosts that did not succeed (errors, verdicts, cancelled)."""
        return tuple(r for r in self.results if not r.ok)

    def summary(self) -> dict[str, int]:
        """How many hosts ended in each status, plus ``total``, ``ok``, ``not_ok`` and ``changed``."""
        counts: dict[str, int] = {}
        for r in self.results:
            counts[str(r.status)] = counts.get(str(r.status), 0) + 1
        counts.update(total=len(self.results), ok=len(self.succeeded), not_ok=len(self.failed),
                      changed=sum(r.changed for r in self.results))
        return counts

    def exit_code(self) -> int:
        """0 when every host succeeded (or there were none), 1 when some did, 2 when none did."""
        if not self.failed:
            return 0
        return 1 if self.succeeded else 2

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what :meth:`save_json` writes and ``--only-failed`` reads)."""
        return {"routerfix_fleet_report": REPORT_VERSION, "operation": str(self.operation),
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
                "started_ts": self.started, "duration_s": round(self.duration, 3), "workers": self.workers,
                "inventory": self.source, "interrupted": self.interrupted, "exit_code": self.exit_code(),
                "summary": self.summary(), "warnings": list(self.warnings),
                "hosts": [r.to_dict() for r in self.results]}

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    def save_json(self, path: str | Path) -> Path:
        """Write the JSON report to ``path`` (readable only by its owner)."""
        return _write_private(Path(path), self.to_json() + "\n")

    def to_csv(self) -> str:
        """One CSV row per host (:data:`CSV_FIELDS`); lists are joined with ``"; "``; a text cell that a
        spreadsheet would read as a formula starts with ``'``."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for r in self.results:
            row = r.to_dict()
            writer.writerow({k: _csv_cell("; ".join(row[k]) if isinstance(row[k], list) else
                                          ("" if row[k] is None else row[k])) for k in CSV_FIELDS})
        return buf.getvalue()

    def save_csv(self, path: str | Path) -> Path:
        """Write the CSV report to ``path`` (readable only by its owner)."""
        return _write_private(Path(path), self.to_csv())

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in ("host", "driver", "status", "changed", "sink", "detail"))
        rows = []
        for r in self.results:
            colour = "#2e7d32" if r.ok else "#c62828"
            detail = r.error_message or "; ".join(r.verdicts) or "; ".join(r.actions) or ""
            cells = (r.name if r.name == r.hostname else f"{r.name} ({r.hostname})", r.driver, r.status,
                     "yes" if r.changed else "no", r.sink or "", detail)
            rows.append("<tr>" + "".join(
                f'<td style="color:{colour}">{html.escape(c)}</td>' if i == 2 else f"<td>{html.escape(c)}</td>"
                for i, c in enumerate(cells)) + "</tr>")
        s = self.summary()
        caption = html.escape(f"fleet {self.operation}: {s['ok']} of {s['total']} succeeded, {s['changed']} changed, "
                              f"{self.duration:.1f} s")
        return (f'<table class="routerfix-fleet"><caption style="text-align:left">{caption}</caption>'
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")

    def __rich__(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        s = self.summary()
        table = Table(title=f"fleet {self.operation}: {s['ok']} of {s['total']} succeeded, {s['changed']} changed, "
                            f"{self.duration:.1f} s", title_justify="left")
        for col in ("host", "driver", "status", "changed", "sink"):
            table.add_column(col, no_wrap=col != "host")
        table.add_column("detail", overflow="fold", ratio=1)
        for r in self.results:
            detail = (f"{r.error_type}: {r.error_message}" if r.error_type else
                      "; ".join(r.verdicts) or f"{len(r.actions)} change(s)" if r.actions else "")
            if len(detail) > 120:
                detail = detail[:117] + "..."
            table.add_row(Text(r.name), Text(r.driver), Text(r.status, style="green" if r.ok else "bold red"),
                          "yes" if r.changed else "no", Text(r.sink or ""), Text(detail))
        return table


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def _csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (``=HYPERLINK(...)`` in a device's name) starts with
    ``'`` (the OWASP CSV-injection advice); numbers and booleans stay as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _write_private(path: Path, text: str) -> Path:
    return atomic_write(path, text)


def load_report(source: str | Path) -> FleetReport:
    """Read a report written by :meth:`FleetReport.save_json`.

    :raises StateFileError: the file is missing or not a fleet report.
    """
    try:
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StateFileError(f"cannot read the fleet report {clip(source)!r}: {clip(exc)}") from None
    if not isinstance(data, dict) or data.get("routerfix_fleet_report") != REPORT_VERSION or \
            not isinstance(data.get("hosts"), list):
        raise StateFileError(f"{clip(source)} is not a routerfix fleet report (pass the JSON a fleet run saved)")
    results = tuple(HostResult.from_dict(h) for h in data["hosts"])
    try:
        operation = FleetOperation(str(data.get("operation", "")))
    except ValueError:
        raise StateFileError(f"{clip(source)} names no fleet operation ({', '.join(OPERATIONS)})") from None
    return FleetReport(operation=operation, results=results,
                       started=float(data.get("started_ts") or 0.0), duration=float(data.get("duration_s") or 0.0),
                       workers=int(data.get("workers") or DEFAULT_WORKERS), source=str(data.get("inventory", "")),
                       interrupted=bool(data.get("interrupted")), warnings=tuple(data.get("warnings") or ()))


def failed_hosts(report: str | Path | FleetReport) -> list[str]:
    """Names of the hosts that did not succeed in a saved (or in-memory) report, for ``--only-failed``."""
    rep = report if isinstance(report, FleetReport) else load_report(report)
    return [r.name for r in rep.failed]


# --- running -----------------------------------------------------------------------------------


def _error_result(host: FleetHost, operation: FleetOperation, exc: BaseException, started: float) -> HostResult:
    if isinstance(exc, RouterfixError):
        message = exc.message  # host and driver have their own columns
        notes = getattr(exc, "__notes__", ())
        if notes:
            message += " (" + "; ".join(notes) + ")"
    else:  # a bug or a library error that escaped a driver: keep the type, mask any secret in the text
        message = f"unexpected {type(exc).__name__}: {exc}"
    return HostResult(name=host.name, hostname=host.hostname, driver=host.driver, operation=operation,
                      status=ResultStatus.FAILED, ok=False, error_type=type(exc).__name__,
                      error_message=redact(message)[:2000],
                      duration=time.monotonic() - started)


def _run_host(host: FleetHost, operation: FleetOperation, options: dict[str, Any],
              state_dir: Path | None) -> HostResult:
    """One host, start to finish; every exception becomes a failed result."""
    import routerfix

    started = time.monotonic()
    try:
        opts = {**options, **host.mitigation}
        driver = routerfix.connect(host.driver, host.hostname, **host.connect_options())
        record: Path | None = None
        with driver:
            if operation is FleetOperation.PLAN:
                result = routerfix.apply_ghostcall_mitigation(driver, dry_run=True, **opts)
            elif operation is FleetOperation.MITIGATE:
                result = routerfix.apply_ghostcall_mitigation(driver, state_dir=state_dir, **opts)
            else:
                result = routerfix.remove_ghostcall_mitigation(driver, state_dir=state_dir,
                                                               backup=opts.get("backup", True))
                used = result.plan.extra.get("records") or []
                record = Path(used[-1]) if used else None
        if result.record_file is not None:
            record = Path(result.record_file)
        plan = result.plan
        verdicts = tuple(f"{v.remedy.value}: {v.reason}" for v in plan.verdicts)
        return HostResult(name=host.name, hostname=host.hostname, driver=host.driver, operation=operation,
                          status=result.status, ok=not verdicts and result.complete, changed=result.changed,
                          sink=str(plan.sink) if plan.sink else None,
                          actions=tuple(a.describe() for a in plan.actions), verdicts=verdicts,
                          warnings=tuple(redact(w) for w in result.warnings), diff=result.diff,
                          record=str(record) if record else None, duration=time.monotonic() - started,
                          transport_security=result.transport_security)
    except Exception as exc:
        log.debug("host %s failed", host.name, exc_info=True)
        return _error_result(host, operation, exc, started)


def _refuse_duplicates(hosts: Iterable[FleetHost]) -> None:
    """One device (driver, host, port) may appear once: two workers on one router undo each other."""
    seen: dict[tuple[str, str, int | None], str] = {}
    for h in hosts:
        key = (h.driver, h.hostname.strip().lower(), h.port)
        if key in seen:
            raise InvalidValue("inventory", clip(h.name, 80),
                               f"each device once: {clip(h.name, 80)!r} and {clip(seen[key], 80)!r} are both "
                               f"{DeviceKey(*key).describe()}")
        seen[key] = h.name


def _call(callback: Callable[[Any], None] | None, arg: Any) -> None:
    if callback is None:
        return
    try:
        callback(arg)
    except Exception:
        log.warning("progress callback %r raised; ignored", callback, exc_info=True)


def default_processes(hosts: int, workers: int) -> int:
    """Worker processes :func:`run_fleet` uses unless told: one per CPU, but only as many as give each at least
    :data:`HOSTS_PER_PROCESS` hosts and :data:`THREADS_PER_PROCESS` workers (a small run stays in one process),
    and enough that no process runs more than :data:`MAX_THREADS_PER_PROCESS` threads. 1 where ``fork`` is
    not available."""
    if not _can_fork():
        return 1
    wanted = min(os.cpu_count() or 1, hosts // HOSTS_PER_PROCESS, workers // THREADS_PER_PROCESS)
    return max(1, wanted, -(-workers // MAX_THREADS_PER_PROCESS))


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def run_fleet(hosts: Inventory | Iterable[FleetHost] | str | Path, operation: str = FleetOperation.PLAN, *,
              workers: int = DEFAULT_WORKERS, processes: int | None = None, on_start: OnStart | None = None,
              on_done: OnDone | None = None, state_dir: str | Path | None = None, only: Sequence[str] | None = None,
              only_failed: str | Path | FleetReport | None = None, **mitigation_options: Any) -> FleetReport:
    """Run ``operation`` on every host, ``workers`` at a time, and report on each.

    :param hosts: an :class:`~routerfix.inventory.Inventory`, :class:`FleetHost` objects, or the path of a
        SimpleInventory (directory or hosts.yaml).
    :param operation: a :class:`FleetOperation`: ``"plan"`` (dry run), ``"mitigate"`` or ``"undo"``.
    :param workers: hosts worked on at once, over all processes (1-1024, default :data:`DEFAULT_WORKERS`).
    :param processes: worker processes (forked; each runs its share of the hosts with its share of the
        workers as threads, so key exchanges, TLS and parsing are not serialised by one GIL). Default:
        :func:`default_processes`. 1 runs everything in this process.
    :param on_start: called with each :class:`FleetHost` as its work starts (from a worker thread, or from
        this process's main thread when the host runs in a worker process).
    :param on_done: called with each :class:`HostResult` as it finishes (likewise).
    :param state_dir: where undo records and backups go (default :func:`default_state_dir`); ``plan``
        writes nothing.
    :param only: run just these host names.
    :param only_failed: a saved report (path or :class:`FleetReport`): run just the hosts that did not
        succeed in it (those no longer in the inventory are skipped with a warning).
    :param mitigation_options: :class:`~routerfix.MitigationOptions` fields for every host; a host's
        ``data.mitigation`` overrides them.
    :returns: a :class:`FleetReport`, hosts in inventory order. Ctrl-C stops starting new hosts (in every
        process), lets running ones finish (never half-applied), marks the rest ``cancelled`` and returns the
        report with ``interrupted=True``.
    :raises InvalidValue: a bad operation, worker or process count, or mitigation option (before any host runs).
    """
    if operation not in OPERATIONS:
        raise InvalidValue("operation", operation, "'plan', 'mitigate' or 'undo'")
    op = FleetOperation(operation)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise InvalidValue("workers", workers, f"a whole number from 1 to {MAX_WORKERS}")
    if processes is not None and (isinstance(processes, bool) or not isinstance(processes, int)
                                  or not 1 <= processes <= workers):
        raise InvalidValue("processes", processes, f"a whole number from 1 to workers ({workers})")
    if op is FleetOperation.UNDO:
        unknown = sorted(set(mitigation_options) - {"backup"})
        if unknown:
            raise InvalidValue("option", unknown[0], "no mitigation options for undo (only backup)")
    else:
        MitigationOptions.build(mitigation_options)
    inventory = hosts if isinstance(hosts, Inventory) else \
        load_inventory(hosts) if isinstance(hosts, (str, Path)) else Inventory(tuple(hosts))
    warnings = list(inventory.warnings)
    if only is not None:
        inventory = inventory.select(only)
    if only_failed is not None:
        wanted = failed_hosts(only_failed)
        known = set(inventory.names())
        gone = [n for n in wanted if n not in known]
        if gone:
            warnings.append(f"not in the inventory any more, skipped: {', '.join(gone)}")
        inventory = inventory.select([n for n in wanted if n in known])
    _refuse_duplicates(inventory.hosts)
    state = None if op is FleetOperation.PLAN else Path(state_dir) if state_dir is not None else default_state_dir()
    if state is not None:
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
    if processes is None:
        processes = default_processes(len(inventory.hosts), workers)
    processes = max(1, min(processes, len(inventory.hosts)))
    if processes > 1 and not _can_fork():
        warnings.append("worker processes need fork(), not available here: ran in one process")
        processes = 1

    started_wall, started = time.time(), time.monotonic()
    work = _Work(op, dict(mitigation_options), state, on_start, on_done)
    if processes == 1:
        results, interrupted = _run_threads(_dealer(inventory.hosts), min(workers, len(inventory.hosts)) or 1, work)
    else:
        results, interrupted = _run_processes(inventory.hosts, workers, processes, work)
    ordered = []
    for h in inventory.hosts:
        r = results.get(h.name)
        if r is None:
            r = HostResult(name=h.name, hostname=h.hostname, driver=h.driver, operation=op,
                           status=ResultStatus.CANCELLED, ok=False, error_type="Cancelled",
                           error_message="the run was interrupted before this host started")
        ordered.append(r)
    return FleetReport(operation=op, results=tuple(ordered), started=started_wall,
                       duration=time.monotonic() - started, workers=workers, source=inventory.source,
                       interrupted=interrupted, warnings=tuple(warnings))


@dataclass(frozen=True)
class _Work:
    """What every host of one run gets done, and who hears about it."""

    operation: FleetOperation
    options: dict[str, Any]
    state: Path | None
    on_start: OnStart | None
    on_done: OnDone | None


def _dealer(hosts: Sequence[FleetHost]) -> Callable[[], FleetHost | None]:
    """Hand out ``hosts`` in order, one to each free worker thread of this process; None when all are out."""
    lock = threading.Lock()
    position = iter(hosts)

    def take() -> FleetHost | None:
        with lock:
            return next(position, None)
    return take


def _run_threads(take: Callable[[], FleetHost | None], workers: int, work: _Work,
                 stop: Callable[[], bool] | None = None) -> tuple[dict[str, HostResult], bool]:
    """``workers`` threads, each running the next host ``take()`` gives until it gives None: the results by host
    name, and whether the run was interrupted (Ctrl-C here, or ``stop()`` turning true) before every host had
    finished. An interrupt stops the taking of new hosts; the running ones finish (never half-applied).

    Workers take hosts as they free up (no queue of futures: waiting on thousands of pending futures costs the
    waiting thread time in proportion to how many are left, for every host that finishes)."""
    results: dict[str, HostResult] = {}
    lock = threading.Lock()
    halt = threading.Event()

    def worker() -> None:
        while not halt.is_set():
            host = take()
            if host is None:
                return
            _call(work.on_start, host)
            result = _run_host(host, work.operation, dict(work.options), work.state)
            with lock:
                results[host.name] = result
            _call(work.on_done, result)

    threads: list[threading.Thread] = []
    interrupted = False
    try:
        for i in range(workers):
            threads.append(threading.Thread(target=worker, name=f"routerfix-fleet_{i}"))
            threads[-1].start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
                if stop is not None and not halt.is_set() and stop():
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        interrupted = True
        halt.set()
        log.warning("interrupted: waiting for the hosts already running to finish (never half-applied)")
    finally:
        halt.set()  # (after a normal end every thread is done already)
        for thread in threads:
            if thread.ident is not None:  # (started)
                thread.join()
    return results, interrupted


def _warm_up(hosts: Sequence[FleetHost]) -> None:
    """Import the drivers the hosts name before forking, so every worker process shares them."""
    import routerfix

    for name in sorted({h.driver for h in hosts}):
        try:
            routerfix.get_driver(name)
        except Exception:  # an unknown driver fails that host's run, with its message
            log.debug("driver %r not importable before the fork", name, exc_info=True)


def _run_processes(hosts: Sequence[FleetHost], workers: int, processes: int,
                   work: _Work) -> tuple[dict[str, HostResult], bool]:
    """``processes`` forked processes, each with its share of the workers as threads; every free worker, in
    whichever process, takes the next host of the inventory, so a process that drew slow devices does not hold the
    run up while another sits idle. Host numbers come over one pipe every process reads, then one end mark per
    worker; the stop flag is a shared byte: a process that dies holds no lock the others wait on. Progress comes
    back over a pipe per process; callbacks run here.

    Ctrl-C, and SIGTERM/SIGHUP under routerfix's own handler (:func:`routerfix.interrupts.noting_stop_requests`), are
    noted here, not raised, until every process has ended: every process is asked to start no new host and the
    running hosts finish (never cut short). Anything else that ends this function early stops the processes and
    waits for them before it is raised."""
    import multiprocessing
    from multiprocessing.connection import Connection
    from multiprocessing.connection import wait as wait_any

    _warm_up(hosts)
    ctx = multiprocessing.get_context("fork")
    stop = ctx.RawValue("b", 0)
    threads = [max(1, min(workers // processes + (1 if i < workers % processes else 0), len(hosts)))
               for i in range(processes)]
    results: dict[str, HostResult] = {}
    running: dict[int, set[str]] = {}
    by_name = {h.name: h for h in hosts}
    children: list[tuple[Any, Connection]] = []
    interrupted = False
    with noting_stop_requests() as held:
        numbers_in, numbers_out = os.pipe()
        try:
            try:
                for n in threads:
                    reader, writer = ctx.Pipe(duplex=False)
                    child = ctx.Process(target=_process_share, daemon=False, name="routerfix-fleet", args=(
                        hosts, (numbers_in, numbers_out), n, work, writer, stop, dict(held.saved)))
                    child.start()
                    writer.close()
                    children.append((child, reader))
                    running[id(reader)] = set()
            finally:
                os.close(numbers_in)  # the processes hold the read end now
            threading.Thread(target=_feed_numbers, args=(numbers_out, len(hosts), sum(threads)), daemon=True,
                             name="routerfix-fleet-feeder").start()
        except BaseException:  # a fork or the feeder failed: the processes started take no host and end
            stop.value = 1
            with contextlib.suppress(OSError):
                os.write(numbers_out, _END_MARK * sum(threads))  # ≤ 4 KiB: one write, never blocks
            os.close(numbers_out)
            _end_children(children)
            raise
        open_readers = {id(reader): reader for _child, reader in children}
        try:
            while open_readers:
                if held.seen and not interrupted:
                    log.warning("interrupted: waiting for the hosts already running to finish (never half-applied)")
                    interrupted = True
                    stop.value = 1
                for ready in wait_any(list(open_readers.values()), timeout=0.2):
                    reader = open_readers[id(ready)]
                    try:
                        kind, payload = reader.recv()
                    except (EOFError, OSError):
                        del open_readers[id(reader)]
                        continue
                    if kind == "start":
                        running[id(reader)].add(payload)
                        _call(work.on_start, by_name[payload])
                    elif kind == "done":
                        running[id(reader)].discard(payload.name)
                        results[payload.name] = payload
                        _call(work.on_done, payload)
                    elif kind == "end":
                        interrupted = interrupted or bool(payload)
        except BaseException:  # not a signal this function notes: stop the processes before it goes up
            stop.value = 1
            _end_children(children)
            raise
        _end_children(children)
        failed_status: int | None = None
        for child, reader in children:
            if child.exitcode != 0:
                failed_status = child.exitcode
            for name in running[id(reader)]:
                if name not in results:
                    how = f"ended with status {child.exitcode}" if child.exitcode else "ended without its result"
                    results[name] = _error_result(by_name[name], work.operation, RuntimeError(
                        f"the worker process running this host {how} (the host may be half-changed: its undo "
                        f"record says what was done)"), time.monotonic())
        interrupted = interrupted or held.seen
        if failed_status is not None and not interrupted:
            for h in hosts:
                if h.name not in results:
                    results[h.name] = _error_result(h, work.operation, RuntimeError(
                        f"not run: the worker processes ended (status {failed_status}) before this host started"),
                        time.monotonic())
    return results, interrupted


def _end_children(children: Sequence[tuple[Any, Any]]) -> None:
    """Wait for worker processes told to stop (their running hosts finish), closing their pipes."""
    for child, reader in children:
        child.join()
        reader.close()


_END = 0xFFFFFFFF
"""The host number that means "no more hosts" (one is written for every worker thread)."""
_END_MARK = struct.pack("!I", _END)


def _feed_numbers(fd: int, count: int, ends: int) -> None:
    """Write host numbers 0..count-1 to the pipe ``fd`` (4 bytes each: a pipe write that small is never split, so
    every read of 4 bytes by any process gets one whole number), then ``ends`` end marks, and close it. Stops
    quietly when every reader has gone (the run was stopped)."""
    if hasattr(signal, "pthread_sigmask"):  # a broken pipe is an error here, never a SIGPIPE for the process
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPIPE})
    try:
        for index in [*range(count), *([_END] * ends)]:
            os.write(fd, struct.pack("!I", index))
    except OSError:  # every worker process has ended (BrokenPipeError): nobody wants more hosts
        pass
    finally:
        os.close(fd)


def _process_share(hosts: Sequence[FleetHost], pipe: tuple[int, int], workers: int, work: _Work, out: Any,
                   stop: Any, handlers: dict[int, Any]) -> None:
    """In a worker process: run hosts on threads, each taking the next host number from the pipe that every
    process reads (``pipe``: its read and write ends; the write end is the parent's) until an end mark, telling the
    parent as each host starts and ends; ``stop`` (a shared byte) set: no new host. ``handlers``: the signal
    handlers the parent held (put back here, Ctrl-C aside: Ctrl-C is the parent's to handle, it sets ``stop``)."""
    numbers, parents_end = pipe
    os.close(parents_end)
    # what the fork copied (imported code, the inventory) lives as long as this process: the collector need not
    # walk it again on every full collection, nor write to its pages (they stay shared with the parent)
    gc.freeze()
    for number, handler in handlers.items():
        signal.signal(number, handler)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    send_lock = threading.Lock()

    def send(kind: str, payload: Any) -> None:
        with send_lock:
            out.send((kind, payload))

    share = _Work(work.operation, work.options, work.state, lambda h: send("start", h.name),
                  lambda r: send("done", r))

    def take() -> FleetHost | None:
        if stop.value:
            return None
        data = os.read(numbers, 4)
        index = struct.unpack("!I", data)[0] if len(data) == 4 else _END
        return None if index == _END else hosts[index]

    _results, interrupted = _run_threads(take, workers, share, stop=lambda: bool(stop.value))
    send("end", interrupted)
    out.close()
