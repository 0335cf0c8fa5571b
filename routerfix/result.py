"""The outcome of a mitigation or undo run: JSON-ready, secret-free, renderable."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routerfix.actions import action_to_data
from routerfix.enums import ResultStatus
from routerfix.errors import RouterfixError
from routerfix.planner import Plan
from routerfix.records import RECORD_VERSION, default_state_dir, load_record, prior_state, save_copy

__all__ = ["STATUSES", "MitigationResult", "ResultStatus", "default_state_dir", "load_record"]

STATUSES: dict[ResultStatus, str] = {
    ResultStatus.PLANNED: "dry run: these changes would be made",
    ResultStatus.UNCHANGED: "nothing to change: the mitigation is already in place",
    ResultStatus.MITIGATED: "mitigation applied and verified",
    ResultStatus.VERDICT: "no configuration change can fix this site: see verdicts",
    ResultStatus.UNDONE: "mitigation removed and verified",
    ResultStatus.NOTHING_TO_UNDO: "nothing of routerfix's is on the device",
}
"""Every ``status`` a result can carry, with its meaning."""


@dataclass(frozen=True, kw_only=True)
class MitigationResult:
    """What a run did on one device.

    :param status: one of :data:`STATUSES` (a plain string is turned into its :class:`ResultStatus`).
    :param changed: True only when the device was changed (never in a dry run).
    :param plan: the plan, holding the read-back state, sink, NAT decision, warnings and verdicts.
    :param applied: the actions applied, in order.
    :param undo: records of the actions that reverse this run (in order), for
        :func:`routerfix.remove_ghostcall_mitigation` from a later process.
    :param backup_file: where the pre-change configuration backup was written, if anywhere.
    :param flushed: connection-tracking entries deleted (None: not flushed).
    :param transport_security: how the session was protected (``ssh``, ``tls-pinned``, ``plain-http``...).
    :param port: the device's TCP port as given (None: the driver's default); part of the record's key.
    :param record_file: the run's undo record (write-ahead journal) in the state directory, if one was kept.
    :param complete: False for an undo that removed routerfix's rules but could not restore what they replaced
        (no record and no valid undo marker on the device: NAT filtering, SIP ALG, a customer's forward stay as
        they are; the warnings say so). The command line exits 9 then. Always True for a mitigation.
    """

    status: ResultStatus
    changed: bool
    dry_run: bool
    plan: Plan
    applied: tuple[str, ...] = ()
    verified: bool = False
    undo: tuple[dict[str, Any], ...] = ()
    backup_file: str | None = None
    flushed: int | None = None
    transport_security: str = "n/a"
    notes: tuple[str, ...] = field(default=())
    record_file: str | None = None
    port: int | None = None
    complete: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", ResultStatus(self.status))

    @property
    def host(self) -> str:
        """The device's host."""
        return self.plan.host

    @property
    def driver(self) -> str:
        """The driver name."""
        return self.plan.driver

    @property
    def warnings(self) -> tuple[str, ...]:
        """Warnings from planning and applying."""
        return self.plan.warnings + self.notes

    @property
    def diff(self) -> str:
        """Unified diff of the managed configuration, before → after."""
        return self.plan.diff()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; also the undo record :func:`routerfix.remove_ghostcall_mitigation` reads."""
        data = self.plan.to_dict()
        data.update({
            "record_version": RECORD_VERSION, "port": self.port, "before": prior_state(self.plan.before),
            "planned": [action_to_data(a) for a in self.plan.actions], "status": str(self.status),
            "status_text": STATUSES[self.status],
            "changed": self.changed, "dry_run": self.dry_run, "applied": list(self.applied),
            "verified": self.verified, "undo": list(self.undo), "backup_file": self.backup_file,
            "flushed": self.flushed, "transport_security": self.transport_security,
            "warnings": list(self.warnings), "record_file": self.record_file, "complete": self.complete,
            "undo_from": self.plan.extra.get("undo_from"),
        })
        return data

    def to_json(self, indent: int | None = 2) -> str:
        """The result as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    def save(self, path: str | Path) -> Path:
        """Write the JSON result (and undo record) to ``path`` atomically, readable only by its owner. When the
        run kept a record in the state directory, that record (with its ``before`` state) is what is copied."""
        if self.record_file is not None:
            try:
                return save_copy(load_record(Path(self.record_file)), path)
            except RouterfixError:
                pass
        return save_copy(self.to_dict(), path)

    def _repr_html_(self) -> str:
        from routerfix.render import result_html

        return result_html(self)

    def __rich__(self) -> Any:
        from routerfix.render import result_renderable

        return result_renderable(self)
