"""The outcome of a mitigation or undo run: JSON-ready, secret-free, renderable."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routerfix.errors import StateFileError
from routerfix.planner import Plan

__all__ = ["MitigationResult", "default_state_dir", "load_record"]

RECORD_VERSION = 1

STATUSES = {
    "planned": "dry run: these changes would be made",
    "unchanged": "nothing to change: the mitigation is already in place",
    "mitigated": "mitigation applied and verified",
    "verdict": "no configuration change can fix this site: see verdicts",
    "undone": "mitigation removed and verified",
    "nothing_to_undo": "nothing of routerfix's is on the device",
}
"""Every ``status`` a result can carry, with its meaning."""


@dataclass(frozen=True)
class MitigationResult:
    """What a run did on one device.

    :param status: one of :data:`STATUSES`.
    :param changed: True only when the device was changed (never in a dry run).
    :param plan: the plan, holding the read-back state, sink, NAT decision, warnings and verdicts.
    :param applied: the actions applied, in order.
    :param undo: records of the actions that reverse this run (in order), for
        :func:`routerfix.remove_ghostcall_mitigation` from a later process.
    :param backup_file: where the pre-change configuration backup was written, if anywhere.
    :param flushed: connection-tracking entries deleted (None: not flushed).
    :param transport_security: how the session was protected (``ssh``, ``tls-pinned``, ``plain-http``...).
    """

    status: str
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
            "record_version": RECORD_VERSION, "status": self.status, "status_text": STATUSES[self.status],
            "changed": self.changed, "dry_run": self.dry_run, "applied": list(self.applied),
            "verified": self.verified, "undo": list(self.undo), "backup_file": self.backup_file,
            "flushed": self.flushed, "transport_security": self.transport_security,
            "warnings": list(self.warnings),
        })
        return data

    def to_json(self, indent: int | None = 2) -> str:
        """The result as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    def save(self, path: str | Path) -> Path:
        """Write the JSON result (and undo record) to ``path``, readable only by its owner."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch(mode=0o600, exist_ok=True)
        target.write_text(self.to_json() + "\n", encoding="utf-8")
        return target

    def _repr_html_(self) -> str:
        from routerfix.render import result_html

        return result_html(self)

    def __rich__(self) -> Any:
        from routerfix.render import result_renderable

        return result_renderable(self)


def default_state_dir() -> Path:
    """Where results, undo records and backups go: ``$ROUTERFIX_STATE_DIR``, else
    ``$XDG_STATE_HOME/routerfix``, else ``~/.local/state/routerfix``."""
    import os

    env = os.environ.get("ROUTERFIX_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "routerfix"


def load_record(source: str | Path | dict[str, Any]) -> dict[str, Any]:
    """Read a saved result (path, JSON text or dict) and check it is an undo record."""
    if isinstance(source, dict):
        data = source
    else:
        text = str(source)
        try:
            if isinstance(source, Path) or not text.lstrip().startswith("{"):
                text = Path(text).read_text(encoding="utf-8")
            data = json.loads(text)
        except (OSError, ValueError) as exc:
            raise StateFileError(f"cannot read the saved result {str(source)[:200]!r}: {exc}") from None
    if not isinstance(data, dict) or data.get("record_version") != RECORD_VERSION or \
            not isinstance(data.get("undo"), list):
        raise StateFileError("not a routerfix result file (no record_version/undo): pass the JSON a mitigate run saved")
    return data
