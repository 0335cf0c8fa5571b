"""Applying and undoing the ghost-call mitigation safely.

Plan from read-back state → back up → apply step by step → read back and
verify → flush connection tracking. A transport fault during a write is never
blindly retried: the engine reconnects, re-reads and applies the step again
only if the device does not show it. Any other failure rolls back what this
run changed (verified by read-back, falling back to the backup), so the device
ends either fully mitigated or exactly as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from routerfix.actions import (
    Action,
    ReleaseAddress,
    RemoveForward,
    SetNatMode,
    SetSipAlg,
    action_from_data,
    action_to_data,
)
from routerfix.driver import Driver
from routerfix.errors import MitigationError, RollbackFailed, RouterfixError, StateFileError, VerificationFailed
from routerfix.model import Backup, DeviceState, Feature, NatMode
from routerfix.planner import (
    RULE_PREFIX,
    SINK_MAC,
    SIP_PORTS,
    MitigationOptions,
    Plan,
    make_plan,
    managed_view,
    simulate,
)
from routerfix.result import MitigationResult, load_record
from routerfix.retry import is_transient, retry_transient

__all__ = ["apply_ghostcall_mitigation", "execute_plan", "plan_ghostcall_removal", "plan_ghostcall_undo",
           "remove_ghostcall_mitigation"]

log = logging.getLogger("routerfix.engine")


def _read(driver: Driver, expected: DeviceState | None = None) -> DeviceState:
    """Read state, reconnecting once the session has dropped (reads are safe to repeat). With ``expected``,
    read only what verification compares with it (:meth:`Driver.verify_state`)."""
    def attempt() -> DeviceState:
        try:
            return driver.read_state() if expected is None else driver.verify_state(expected)
        except RouterfixError as exc:
            if is_transient(exc):
                driver.reconnect()
            raise
    return retry_transient(attempt, wait=driver.timeouts.retry_wait, max_wait=8 * driver.timeouts.retry_wait)


def _reread_after_fault(driver: Driver, actions: Sequence[Action]) -> DeviceState:
    """After a transport fault while writing ``actions``: reconnect and read the device again (never resend
    blindly: the caller applies only what the fresh state does not show done)."""
    log.warning("%s: connection lost during %s; re-reading before deciding", driver.host,
                " + ".join(repr(a.describe()) for a in actions))
    retry_transient(driver.reconnect, wait=driver.timeouts.retry_wait, max_wait=8 * driver.timeouts.retry_wait)
    return _read(driver)


def _run(driver: Driver, action: Action) -> None:
    """Apply one action. After a transport fault: reconnect, re-read, and apply again only if not done."""
    try:
        action.apply(driver)
    except RouterfixError as exc:
        if not is_transient(exc):
            raise
        if not action.done_in(_reread_after_fault(driver, [action])):
            action.apply(driver)


def _batches(driver: Driver, actions: Sequence[Action]) -> list[list[Action]]:
    """``actions`` in order, neighbours the driver can write together (:attr:`Driver.batch_kinds`) grouped."""
    groups: list[list[Action]] = []
    for action in actions:
        if groups and action.kind in driver.batch_kinds and groups[-1][-1].kind in driver.batch_kinds:
            groups[-1].append(action)
        else:
            groups.append([action])
    return groups


def _run_batch(driver: Driver, group: Sequence[Action]) -> None:
    """Apply a group of actions in one :meth:`Driver.write_batch`. After a transport fault: reconnect, re-read,
    and apply one by one only those the device does not show done (the batch may have landed in part)."""
    if len(group) == 1:
        _run(driver, group[0])
        return
    try:
        with driver.write_batch():
            for action in group:
                action.apply(driver)
    except RouterfixError as exc:
        if not is_transient(exc):
            raise
        state = _reread_after_fault(driver, group)
        for action in group:
            if not action.done_in(state):
                _run(driver, action)


def _verify(driver: Driver, expected: DeviceState) -> DeviceState:
    actual = _read(driver, expected)
    want, have = managed_view(expected), managed_view(actual)
    if want != have:
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        raise VerificationFailed(
            "read-back does not match the plan: " + "; ".join(
                [f"missing {m}" for m in missing] + [f"unexpected {e}" for e in extra]),
            host=driver.host, driver=driver.name)
    return actual


def _rollback(driver: Driver, plan: Plan, attempted: Sequence[Action], backup: Backup | None) -> str:
    """Undo the attempted actions (those the device shows done), verify, fall back to the backup."""
    try:
        state = _read(driver)
        for action in reversed(attempted):
            if action.done_in(state):
                _run(driver, action.inverse())
        _verify(driver, plan.before)
        return "rolled back: the device is as it was before this run"
    except Exception as first:  # any failure here falls back to the backup
        if backup is None:
            raise RollbackFailed(f"rollback failed ({first}); no backup to restore: check the device by hand",
                                 report=tuple(a.describe() for a in attempted), host=driver.host,
                                 driver=driver.name) from first
        try:
            driver.restore(backup)
            _verify(driver, plan.before)
            return "rolled back from the backup: the device is as it was before this run"
        except Exception as second:
            raise RollbackFailed(f"rollback failed ({first}) and restoring the backup failed ({second})",
                                 report=tuple(a.describe() for a in attempted), host=driver.host,
                                 driver=driver.name) from second


def _save_backup(backup: Backup, driver: Driver, state_dir: Path | None) -> str | None:
    if state_dir is None:
        return None
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    safe_host = "".join(c if c.isalnum() or c in ".-" else "_" for c in driver.host)
    path = state_dir / f"{safe_host}-{driver.name}-{time.strftime('%Y%m%dT%H%M%S')}.backup"
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(backup.text, encoding="utf-8")
    return str(path)


def execute_plan(driver: Driver, plan: Plan, *, dry_run: bool = False, backup: bool = True,
                 state_dir: str | Path | None = None, flush_ports: Sequence[int] = tuple(SIP_PORTS)
                 ) -> MitigationResult:
    """Apply ``plan`` to ``driver`` with backup, verification and rollback, and build the result.

    :raises RollbackFailed: the apply failed and the device could not be put back (the message
        lists what is left).
    Any other failure is re-raised after a verified rollback, with a note saying so.
    """
    mitigate = plan.operation == "mitigate"
    security = driver.transport_security
    if plan.verdicts and not plan.actions:
        return MitigationResult("verdict", False, dry_run, plan, transport_security=security)
    if not plan.actions:
        return MitigationResult("unchanged" if mitigate else "nothing_to_undo", False, dry_run, plan,
                                verified=True, transport_security=security)
    undo_records = tuple(action_to_data(a.inverse()) for a in reversed(plan.actions))
    if dry_run:
        return MitigationResult("planned", False, True, plan, undo=undo_records, transport_security=security)

    saved: Backup | None = None
    backup_file = None
    if backup and Feature.BACKUP in plan.before.capabilities:
        saved = driver.backup()
        backup_file = _save_backup(saved, driver, Path(state_dir) if state_dir else None)
    attempted: list[Action] = []
    try:
        for group in _batches(driver, plan.actions):
            attempted.extend(group)
            _run_batch(driver, group)
        _verify(driver, plan.after)
    except BaseException as exc:
        outcome = _rollback(driver, plan, attempted, saved)
        if isinstance(exc, RouterfixError):
            exc.add_note(outcome)
            raise
        if isinstance(exc, Exception):
            raise MitigationError(f"unexpected error while applying ({type(exc).__name__}: {exc}); {outcome}",
                                  host=driver.host, driver=driver.name) from exc
        raise
    notes: list[str] = []
    flushed: int | None = None
    if plan.flush:
        try:
            flushed = driver.flush_connections(flush_ports)
        except RouterfixError as exc:  # the rules are in and verified; a failed flush is a warning, not a rollback
            notes.append(f"the change is in place, but clearing connection tracking failed ({exc}): scanners already "
                         f"talking to a phone reach it until they pause")
    return MitigationResult("mitigated" if mitigate else "undone", True, False, plan,
                            applied=tuple(a.describe() for a in plan.actions), verified=True, undo=undo_records,
                            backup_file=backup_file, flushed=flushed, transport_security=security,
                            notes=tuple(notes))


def apply_ghostcall_mitigation(driver: Driver, *, dry_run: bool = False, state_dir: str | Path | None = None,
                               **options: Any) -> MitigationResult:
    """Plan and apply the ghost-call mitigation on an open driver.

    :param driver: an open driver (see :func:`routerfix.connect`).
    :param dry_run: plan only; nothing is written (status ``planned``).
    :param state_dir: where to write the pre-change backup (a private file), if anywhere.
    :param options: :class:`~routerfix.planner.MitigationOptions` fields (``sink``,
        ``replace_conflicting``, ``reserve_sink``, ``manage_nat``, ``sip_alg_off``, ``flush``, ``probe``,
        ``still_ringing``, ``backup``...).
    :returns: a :class:`MitigationResult`; a second run returns ``changed=False``, status ``unchanged``.
    """
    opts = MitigationOptions.build(options)
    plan = make_plan(driver, _read(driver), opts)
    return execute_plan(driver, plan, dry_run=dry_run, backup=opts.backup, state_dir=state_dir)


def plan_ghostcall_undo(driver: Driver, state: DeviceState, record: dict[str, Any] | None = None) -> Plan:
    """Plan removing routerfix's changes: from a saved record when given, else by routerfix's rule and
    reservation names (NAT mode and SIP ALG are then left as they are)."""
    warnings: list[str] = []
    actions: list[Action] = []
    if record is not None:
        if record.get("host") != driver.host or record.get("driver") != driver.name:
            raise StateFileError(f"the saved result is for {record.get('driver')}:{record.get('host')}, not "
                                 f"{driver.name}:{driver.host}", host=driver.host, driver=driver.name)
        for data in record["undo"]:
            action = action_from_data(data)
            if isinstance(action, SetNatMode) and state.nat_mode is not action.previous:
                warnings.append(f"NAT filtering is {state.nat_mode.value if state.nat_mode else 'unknown'} now, not "
                                f"what routerfix set; left as it is")
                continue
            if isinstance(action, SetSipAlg) and state.sip_alg is not action.previous:
                warnings.append("SIP ALG was changed since routerfix set it; left as it is")
                continue
            if not action.done_in(simulate(state, actions)):
                actions.append(action)
    else:
        warnings.append("no saved result: removing routerfix's forwards and reservation; NAT mode and SIP ALG are "
                        "left as they are")
    after = simulate(state, actions)
    actions += [RemoveForward(f) for f in after.forwards if f.name.startswith(RULE_PREFIX)]
    if after.scope is not None and Feature.DHCP_RESERVATION in state.capabilities:
        actions += [ReleaseAddress(r) for r in after.scope.reservations if r.mac == SINK_MAC]
    if state.nat_mode is NatMode.OPEN and any(isinstance(a, SetNatMode) for a in actions):
        warnings.append("NAT filtering goes back to open")
    return Plan("undo", driver.host, driver.name, state, tuple(actions), warnings=tuple(warnings))


def remove_ghostcall_mitigation(driver: Driver, *, record: str | Path | dict[str, Any] | None = None,
                                dry_run: bool = False, state_dir: str | Path | None = None,
                                backup: bool = True) -> MitigationResult:
    """Undo the mitigation on an open driver, also from a new process.

    :param record: a saved result (path, JSON text or dict from :meth:`MitigationResult.to_dict`); with
        it, the previous NAT mode, SIP ALG and any replaced forward are restored too.
    :param dry_run: plan only.
    :returns: a result with status ``undone`` or ``nothing_to_undo`` (a second undo changes nothing).
    """
    plan = plan_ghostcall_removal(driver, record=record)
    return execute_plan(driver, plan, dry_run=dry_run, backup=backup, state_dir=state_dir)


def plan_ghostcall_removal(driver: Driver, *, record: str | Path | dict[str, Any] | None = None) -> Plan:
    """Read the device once and plan :func:`remove_ghostcall_mitigation` (with the saved ``record`` when
    given). Changes nothing."""
    data = load_record(record) if record is not None else None
    return plan_ghostcall_undo(driver, _read(driver), data)


def options_help() -> dict[str, str]:
    """Mitigation option names with their defaults (for the CLI and Ansible docs)."""
    return {name: repr(f.default) for name, f in MitigationOptions.__dataclass_fields__.items()}
