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
from collections.abc import Iterator, Sequence
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from routerfix.actions import (
    Action,
    AddForward,
    ClearUndoMarker,
    ReleaseAddress,
    RemoveForward,
    ReserveAddress,
    SetNatMode,
    SetSipAlg,
    action_from_data,
    action_to_data,
    same_forward,
    same_reservation,
)
from routerfix.driver import Driver
from routerfix.enums import Operation, ResultStatus
from routerfix.errors import (
    InvalidValue,
    MitigationError,
    RollbackFailed,
    RouterfixError,
    StateFileError,
    VerificationFailed,
)
from routerfix.interrupts import shielded
from routerfix.locks import device_lock
from routerfix.markers import marker_holds, marker_record
from routerfix.model import (
    Backup,
    DeviceState,
    Feature,
    NatMode,
    PortForward,
    forward_from_data,
    reservation_from_data,
)
from routerfix.planner import (
    RULE_PREFIX,
    SINK_MAC,
    SIP_PORTS,
    MitigationOptions,
    Plan,
    make_plan,
    managed_view,
    shows_routerfix,
    simulate,
)
from routerfix.records import (
    DeviceKey,
    Journal,
    JournalStatus,
    atomic_write,
    load_record,
    prior_state,
    undo_chain,
    unique_path,
)
from routerfix.result import MitigationResult
from routerfix.retry import is_transient, retry_transient

__all__ = ["apply_ghostcall_mitigation", "execute_plan", "plan_ghostcall_removal", "plan_ghostcall_undo",
           "remove_ghostcall_mitigation"]

log = logging.getLogger("routerfix.engine")


class UndoSource(StrEnum):
    """What an undo plan restores from (``plan.extra["undo_from"]``)."""

    RECORD = "record"
    """A local record (or record chain): the exact state before routerfix's first change."""
    MARKER = "marker"
    """The undo marker on the device (:mod:`routerfix.markers`)."""
    NONE = "none"
    """Nothing: routerfix's forwards and reservation are removed by name, what they replaced stays as it is."""


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


def _fresh_session(driver: Driver) -> None:
    """Drop the session (it may hold an interrupted command's leftover reply) and open a new one."""
    log.warning("%s: interrupted; dropping the session and reconnecting before deciding", driver.host)
    retry_transient(driver.reconnect, wait=driver.timeouts.retry_wait, max_wait=8 * driver.timeouts.retry_wait)


def _rollback(driver: Driver, plan: Plan, attempted: Sequence[Action], backup: Backup | None) -> str:
    """Undo the attempted actions (those the device shows done), verify, fall back to the backup."""
    try:
        state = _read(driver)
        for action in reversed(attempted):
            if action.done_in(state):
                _run(driver, _inverse(driver, action))
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
    path = unique_path(state_dir, DeviceKey.of(driver).slug, "backup")
    return str(atomic_write(path, backup.text))


def _batches_indexed(driver: Driver, actions: Sequence[Action]) -> Iterator[tuple[range, list[Action]]]:
    start = 0
    for group in _batches(driver, actions):
        yield range(start, start + len(group)), group
        start += len(group)


def _finish_after_interrupt(driver: Driver, plan: Plan) -> bool:
    """Every write was sent when the interrupt came: on a new session, True when the device verifies."""
    try:
        _fresh_session(driver)
        _verify(driver, plan.after)
    except RouterfixError as exc:
        log.warning("%s: verification after the interrupt failed (%s); rolling back", driver.host, exc)
        return False
    return True


def execute_plan(driver: Driver, plan: Plan, *, dry_run: bool = False, backup: bool = True,
                 state_dir: str | Path | None = None, flush_ports: Sequence[int] = tuple(SIP_PORTS)
                 ) -> MitigationResult:
    """Apply ``plan`` to ``driver`` with backup, verification and rollback, and build the result.

    With ``state_dir``, a write-ahead record is saved there before the first write (the prior state of
    everything the plan touches), updated after each step and closed with the result
    (:mod:`routerfix.records`): ``undo`` works from it even after a kill at any point.

    An interrupt (Ctrl-C, SIGTERM through :func:`routerfix.interrupts.handle_termination`) stops the writes;
    the interrupted session is dropped, a new one re-reads the device and rolls back (or, when every write
    was already sent, verifies and finishes); further interrupts wait until that is done. The interrupt is
    then re-raised with a note saying how the device was left.

    :raises RollbackFailed: the apply failed and the device could not be put back (the message
        lists what is left).
    Any other failure is re-raised after a verified rollback, with a note saying so.
    """
    mitigate = plan.operation is Operation.MITIGATE
    security = driver.transport_security
    if plan.verdicts and not plan.actions:
        return MitigationResult(status=ResultStatus.VERDICT, changed=False, dry_run=dry_run, plan=plan,
                                transport_security=security, port=driver.port)
    if not plan.actions:
        return MitigationResult(status=ResultStatus.UNCHANGED if mitigate else ResultStatus.NOTHING_TO_UNDO,
                                changed=False, dry_run=dry_run, plan=plan, verified=True,
                                transport_security=security, port=driver.port)
    undo_records = tuple(action_to_data(_inverse(driver, a)) for a in reversed(plan.actions))
    if dry_run:
        return MitigationResult(status=ResultStatus.PLANNED, changed=False, dry_run=True, plan=plan,
                                undo=undo_records, transport_security=security, port=driver.port)

    journal = Journal(state_dir, DeviceKey.of(driver), plan.operation) if state_dir is not None else None
    if journal is not None:
        journal.begin(prior_state(plan.before), [action_to_data(a) for a in plan.actions], list(undo_records))
    saved: Backup | None = None
    backup_file = None
    notes: list[str] = []
    attempted: list[Action] = []
    sent = False
    try:
        if backup and Feature.BACKUP in plan.before.capabilities:
            saved = driver.backup()
            backup_file = _save_backup(saved, driver, Path(state_dir) if state_dir else None)
        driver.hold_changes()
        for indexes, group in _batches_indexed(driver, plan.actions):
            attempted.extend(group)
            _run_batch(driver, group)
            if journal is not None:
                with shielded():
                    journal.steps_done(indexes)
        sent = True
        _verify(driver, plan.after)
    except BaseException as exc:
        with shielded():
            interrupted = not isinstance(exc, Exception)
            if interrupted and sent and _finish_after_interrupt(driver, plan):
                notes.append(f"interrupted ({type(exc).__name__}) after every change was sent; verified on a new "
                             f"session")
            else:
                _recover(driver, plan, attempted, saved, journal, exc, fresh=interrupted or
                         not isinstance(exc, RouterfixError))
                raise
    try:
        flushed = _flush(driver, plan, flush_ports, notes)
    except KeyboardInterrupt as exc:  # the change is in and verified: keep it, close the record, then stop
        with shielded():
            if journal is not None:
                journal.step_done(len(plan.actions))
                journal.finish(JournalStatus.DONE)
        exc.add_note("interrupted while clearing connection tracking: the change is in place and verified"
                     + (f"; its undo record is {journal.path}" if journal is not None else ""))
        raise
    result = MitigationResult(status=ResultStatus.MITIGATED if mitigate else ResultStatus.UNDONE, changed=True,
                              dry_run=False, plan=plan, applied=tuple(a.describe() for a in plan.actions),
                              verified=True, undo=undo_records,
                              backup_file=backup_file, flushed=flushed, transport_security=security,
                              notes=tuple(notes), record_file=str(journal.path) if journal else None,
                              port=driver.port, complete=bool(plan.extra.get("complete", True)))
    if journal is not None:
        with shielded():
            journal.finish(JournalStatus.DONE, result.to_dict())
    return result


def _flush(driver: Driver, plan: Plan, ports: Sequence[int], notes: list[str]) -> int | None:
    """Clear inbound connection tracking when the plan asks; a failure is a note, not a rollback (the rules
    are in and verified)."""
    if not plan.flush:
        return None
    try:
        return driver.flush_connections(ports)
    except RouterfixError as exc:
        notes.append(f"the change is in place, but clearing connection tracking failed ({exc}): scanners already "
                     f"talking to a phone reach it until they pause")
        return None


def _recover(driver: Driver, plan: Plan, attempted: Sequence[Action], saved: Backup | None, journal: Journal | None,
             exc: BaseException, *, fresh: bool) -> None:
    """Roll back after ``exc`` (on a new session when ``fresh``), note the outcome on ``exc`` and in the
    journal. Raises :class:`RollbackFailed` (from ``exc``) when the device could not be put back; returns
    otherwise (the caller re-raises ``exc``)."""
    try:
        if fresh:
            _fresh_session(driver)
        outcome = _rollback(driver, plan, attempted, saved)
    except RollbackFailed as failed:
        if journal is not None:
            journal.finish(JournalStatus.FAILED)
            failed.add_note(f"the state before this run is saved in {journal.path}: `routerfix undo` restores it")
        raise failed from exc
    except BaseException as other:  # noqa: BLE001 - reconnecting failed: the device is in an unknown state
        if journal is not None:
            journal.finish(JournalStatus.FAILED)
        raise RollbackFailed(f"could not reconnect to roll back ({other}): the device may be half-configured; "
                             f"`routerfix undo` restores it from the record"
                             + (f" {journal.path}" if journal else ""),
                             report=tuple(a.describe() for a in attempted), host=driver.host,
                             driver=driver.name) from exc
    if journal is not None:
        journal.finish(JournalStatus.ROLLED_BACK)
    exc.add_note(outcome)
    if isinstance(exc, Exception) and not isinstance(exc, RouterfixError):
        raise MitigationError(f"unexpected error while applying ({type(exc).__name__}: {exc}); {outcome}",
                              host=driver.host, driver=driver.name) from exc


def apply_ghostcall_mitigation(driver: Driver, *, dry_run: bool = False, state_dir: str | Path | None = None,
                               lock_wait: float | None = None, **options: Any) -> MitigationResult:
    """Plan and apply the ghost-call mitigation on an open driver.

    :param driver: an open driver (see :func:`routerfix.connect`).
    :param dry_run: plan only; nothing is written (status ``planned``).
    :param state_dir: where to write the undo record (a write-ahead journal) and the pre-change backup
        (private files), if anywhere.
    :param lock_wait: seconds to wait for another run on the same device (:func:`routerfix.locks.device_lock`).
    :param options: :class:`~routerfix.planner.MitigationOptions` fields (``sink``,
        ``replace_conflicting``, ``reserve_sink``, ``manage_nat``, ``sip_alg_off``, ``flush``, ``probe``,
        ``still_ringing``, ``backup``...).
    :returns: a :class:`MitigationResult`; a second run returns ``changed=False``, status ``unchanged``.
    """
    opts = MitigationOptions.build(options)
    if dry_run:
        return execute_plan(driver, make_plan(driver, _read(driver), opts), dry_run=True)
    with device_lock(DeviceKey.of(driver), wait=lock_wait):
        plan = make_plan(driver, _read(driver), opts)
        return execute_plan(driver, plan, backup=opts.backup, state_dir=state_dir)


def _restore_forward(driver: Driver, forward: PortForward) -> AddForward:
    """Putting a removed forward back: under its own name, byte for byte, when the driver can write it
    (:meth:`Driver.check_restore_name`), else under a device-safe one."""
    safe = RemoveForward(forward).inverse()
    try:
        driver.check_restore_name(forward.name)
    except InvalidValue:
        return safe
    return AddForward(replace(safe.forward, name=forward.name), restore=True)


def _inverse(driver: Driver, action: Action) -> Action:
    """What takes ``action`` back on this driver (a removed forward returns under its own name where it can)."""
    if isinstance(action, RemoveForward):
        return _restore_forward(driver, action.forward)
    return action.inverse()


def _planned(records: Sequence[dict[str, Any]]) -> list[Action]:
    found: list[Action] = []
    for data in records:
        for item in data.get("planned") or ():
            if isinstance(item, dict):
                found.append(action_from_data(item))
    return found


def _done(records: Sequence[dict[str, Any]]) -> list[Action]:
    """The planned actions the records show done (a finished run's record: all of them)."""
    found: list[Action] = []
    for data in records:
        planned = [action_from_data(x) for x in data.get("planned") or () if isinstance(x, dict)]
        steps = data.get("steps_done")
        if isinstance(steps, list):
            found += [planned[i] for i in steps if isinstance(i, int) and 0 <= i < len(planned)]
        elif data.get("status") in (ResultStatus.MITIGATED, ResultStatus.UNDONE):
            found += planned
    return found


def plan_restore(driver: Driver, state: DeviceState, records: Sequence[dict[str, Any]]) -> Plan:
    """Plan putting back the state saved by the first of ``records`` (a chain, oldest first): remove
    routerfix's forwards and sink reservations that were not there, put back what the chain removed, and
    restore NAT filtering and SIP ALG where the device still shows what routerfix set."""
    before = records[0]["before"]
    planned = _planned(records)
    warnings: list[str] = []
    try:
        was_forwards = [forward_from_data(f) for f in before.get("forwards") or ()]
        was_reservations = [reservation_from_data(r) for r in before.get("reservations") or ()]
        was_nat = NatMode.parse(before["nat_mode"]) if before.get("nat_mode") else None
    except (RouterfixError, KeyError, TypeError, ValueError) as exc:
        raise StateFileError(f"the saved 'before' state is unusable ({str(exc)[:200]})", host=driver.host,
                             driver=driver.name) from None
    was_alg = before.get("sip_alg")
    removed = [a.forward for a in planned if isinstance(a, RemoveForward)]
    released = [a.reservation for a in planned if isinstance(a, ReleaseAddress)]
    actions: list[Action] = []
    for f in state.forwards:
        if f.name.startswith(RULE_PREFIX) and not any(same_forward(f, w) for w in was_forwards):
            actions.append(RemoveForward(f))
    scope = state.scope
    now_reserved = list(scope.reservations) if scope is not None else []
    if scope is not None:
        for r in now_reserved:
            if r.mac == SINK_MAC and not any(same_reservation(r, w) for w in was_reservations):
                actions.append(ReleaseAddress(r))
    for w in was_forwards:
        if any(same_forward(w, f) for f in state.forwards) or not any(same_forward(w, r) for r in removed):
            continue
        restore = _restore_forward(driver, w)
        if restore.forward.name != w.name:
            warnings.append(f"the forward {w.name!r} goes back as {restore.forward.name!r}: its own name cannot "
                            f"be written safely")
        actions.append(restore)
    if scope is not None and Feature.DHCP_RESERVATION in state.capabilities:
        for res in was_reservations:
            if not any(same_reservation(res, r) for r in now_reserved) and \
                    any(same_reservation(res, r) for r in released):
                actions.append(ReserveAddress(res))
    done = _done(records)
    nat_targets = {a.target for a in planned if isinstance(a, SetNatMode)}
    if was_nat is not None and state.nat_mode is not was_nat:
        if state.nat_mode in nat_targets:
            actions.append(SetNatMode(was_nat, state.nat_mode, "restore the NAT mode from before routerfix"))
        else:
            warnings.append(f"NAT filtering is {state.nat_mode.value if state.nat_mode else 'unknown'} now, not what "
                            f"routerfix set; left as it is")
    elif any(isinstance(a, SetNatMode) for a in done):
        warnings.append(f"NAT filtering is {state.nat_mode.value if state.nat_mode else 'unknown'} now, not what "
                        f"routerfix set (someone changed it back); left as it is")
    alg_targets = {a.enabled for a in planned if isinstance(a, SetSipAlg)}
    if isinstance(was_alg, bool) and state.sip_alg is not None and state.sip_alg is not was_alg:
        if state.sip_alg in alg_targets:
            actions.append(SetSipAlg(was_alg, state.sip_alg))
        else:
            warnings.append("SIP ALG was changed since routerfix set it; left as it is")
    elif any(isinstance(a, SetSipAlg) for a in done):
        warnings.append("SIP ALG was changed since routerfix set it; left as it is")
    if state.nat_mode is not NatMode.OPEN and was_nat is NatMode.OPEN and any(isinstance(a, SetNatMode)
                                                                              for a in actions):
        warnings.append("NAT filtering goes back to open")
    return Plan(operation=Operation.UNDO, host=driver.host, driver=driver.name, before=state,
                actions=tuple(_in_reverse_of(actions, planned)), warnings=tuple(warnings))


def _reverses(step: Action, done: Action) -> bool:
    """True when ``step`` takes back what ``done`` did."""
    if isinstance(step, RemoveForward) and isinstance(done, AddForward):
        return same_forward(step.forward, done.forward)
    if isinstance(step, AddForward) and isinstance(done, RemoveForward):
        return same_forward(done.forward, step.forward)
    if isinstance(step, (ReleaseAddress, ReserveAddress)) and isinstance(done, (ReserveAddress, ReleaseAddress)) \
            and type(step) is not type(done):
        return same_reservation(step.reservation, done.reservation)
    return isinstance(step, (SetNatMode, SetSipAlg)) and type(step) is type(done)


def _in_reverse_of(actions: Sequence[Action], planned: Sequence[Action]) -> list[Action]:
    """``actions`` in the reverse order of the planned steps they take back (the order a rollback would use,
    so devices that keep lines in the order they were typed end as they were); the rest after, as they are."""
    def rank(item: tuple[int, Action]) -> tuple[int, int]:
        position, step = item
        found = [i for i, done in enumerate(planned) if _reverses(step, done)]
        return (-max(found), position) if found else (1, position)

    return [a for _, a in sorted(enumerate(actions), key=rank)]


def plan_ghostcall_undo(driver: Driver, state: DeviceState, record: dict[str, Any] | None = None, *,
                        chain: Sequence[dict[str, Any]] = ()) -> Plan:
    """Plan removing routerfix's changes.

    From a record chain (``chain``, oldest first, or the one ``record``) with a saved ``before`` state:
    restore that state (:func:`plan_restore`). From a version 1 record: replay its ``undo`` list. With no record,
    from the device's undo marker (:mod:`routerfix.markers`). With none of those: remove routerfix's rules and
    reservation by name (NAT mode and SIP ALG are then left as they are; ``plan.extra["complete"]`` is False).
    A marker on the device is cleared as the plan's last step."""
    records = list(chain) or ([record] if record is not None else [])
    key = DeviceKey.of(driver)
    for data in records:
        theirs = DeviceKey.from_record(data)
        if (theirs.driver, theirs.host) != (key.driver, key.host) or \
                (data.get("record_version", 1) >= 2 and theirs.port != key.port):
            raise StateFileError(f"the saved result is for {theirs.describe()[:200]}, not {key.describe()}",
                                 host=driver.host, driver=driver.name)
    if records and isinstance(records[0].get("before"), dict):
        plan = plan_restore(driver, state, records)
        left = _marker_beyond_records(state, records)
        if left:
            plan = replace(plan, warnings=(*plan.warnings, f"the undo marker on the device also held {left}, "
                                           "which the saved records do not: not restored, check by hand"))
        return _clearing_marker(plan, state, UndoSource.RECORD, complete=not left)
    if not records and state.undo_marker is not None and not shows_routerfix(state):
        held = marker_holds(state.undo_marker)
        plan = Plan(operation=Operation.UNDO, host=driver.host, driver=driver.name, before=state, actions=(),
                    warnings=(f"the router shows none of routerfix's rules: its undo marker is stale and was not "
                              f"replayed (it held {held}): check those by hand",) if held else ())
        return _clearing_marker(plan, state, UndoSource.MARKER, complete=not held)
    if not records and state.undo_marker is not None:
        plan = plan_restore(driver, state, [marker_record(state.undo_marker)])
        if not state.undo_marker["complete"]:
            plan = replace(plan, warnings=(*plan.warnings, "the undo marker on the device was started after "
                                           "routerfix's first change: what that change replaced is not restored"))
        return _clearing_marker(plan, state, UndoSource.MARKER, complete=bool(state.undo_marker["complete"]))
    warnings: list[str] = []
    actions: list[Action] = []
    if records:
        for data in records[-1]["undo"]:
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
        if state.marker_warning is not None:
            warnings.append(state.marker_warning)
        warnings.append("no saved result and no undo marker on the device: removing routerfix's forwards and "
                        "reservation; NAT mode, SIP ALG and any forward they replaced are left as they are "
                        "(the undo is incomplete)")
    after = simulate(state, actions)
    actions += [RemoveForward(f) for f in after.forwards if f.name.startswith(RULE_PREFIX)]
    if after.scope is not None and Feature.DHCP_RESERVATION in state.capabilities:
        actions += [ReleaseAddress(r) for r in after.scope.reservations if r.mac == SINK_MAC]
    if state.nat_mode is NatMode.OPEN and any(isinstance(a, SetNatMode) for a in actions):
        warnings.append("NAT filtering goes back to open")
    plan = Plan(operation=Operation.UNDO, host=driver.host, driver=driver.name, before=state, actions=tuple(actions),
                warnings=tuple(warnings))
    return _clearing_marker(plan, state, UndoSource.RECORD if records else UndoSource.NONE, complete=bool(records)
                            or not actions)


def _marker_beyond_records(state: DeviceState, records: Sequence[dict[str, Any]]) -> str:
    """What the device's marker would restore that the record chain's first ``before`` state does not hold (another
    machine's rerun replaced it), in a few words; '' when nothing."""
    marker = state.undo_marker
    if marker is None:
        return ""
    before = records[0]["before"]
    known = [forward_from_data(f) for f in before.get("forwards") or [] if isinstance(f, dict)]
    extra = dict(marker, nat_mode=None, sip_alg=None,
                 forwards=[f for f in marker["forwards"]
                           if not any(same_forward(forward_from_data(f), k) for k in known)])
    return marker_holds(extra)


def _clearing_marker(plan: Plan, state: DeviceState, source: UndoSource, *, complete: bool = True) -> Plan:
    """``plan`` ending with clearing the device's undo marker (a valid one or an unreadable one), noting in
    ``plan.extra`` what the undo works from (``undo_from``) and whether it restores all it should (``complete``:
    the result's :attr:`~routerfix.result.MitigationResult.complete`)."""
    actions = plan.actions
    if state.undo_marker is not None or state.marker_warning is not None:
        actions = (*actions, ClearUndoMarker(state.undo_marker))
    plan = replace(plan, actions=actions)
    plan.extra.update(undo_from=str(source), complete=complete)
    return plan


def remove_ghostcall_mitigation(driver: Driver, *, record: str | Path | dict[str, Any] | None = None,
                                dry_run: bool = False, state_dir: str | Path | None = None,
                                backup: bool = True, lock_wait: float | None = None) -> MitigationResult:
    """Undo the mitigation on an open driver, also from a new process.

    :param record: a saved record (path, JSON text or dict from :meth:`MitigationResult.to_dict`); with
        it, the previous NAT mode, SIP ALG and any replaced forward are restored too.
    :param state_dir: where records are kept: without ``record``, the device's record chain there is used
        (every run since the last undo: the state before routerfix's first change comes back), and this
        run's own record is written there.
    :param dry_run: plan only.
    :param lock_wait: seconds to wait for another run on the same device.
    :returns: a result with status ``undone`` or ``nothing_to_undo`` (a second undo changes nothing); with no
        record and no undo marker on the device, ``complete`` is False (what routerfix replaced is not restored).
    """
    if dry_run:
        return execute_plan(driver, plan_ghostcall_removal(driver, record=record, state_dir=state_dir), dry_run=True)
    with device_lock(DeviceKey.of(driver), wait=lock_wait):
        plan = plan_ghostcall_removal(driver, record=record, state_dir=state_dir)
        return execute_plan(driver, plan, backup=backup, state_dir=state_dir)


def plan_ghostcall_removal(driver: Driver, *, record: str | Path | dict[str, Any] | None = None,
                           state_dir: str | Path | None = None) -> Plan:
    """Read the device once and plan :func:`remove_ghostcall_mitigation` (from the saved ``record`` when
    given, else from the device's record chain in ``state_dir``). Changes nothing."""
    if record is not None:
        plan = plan_ghostcall_undo(driver, _read(driver), load_record(record))
        used = [str(record)] if isinstance(record, (str, Path)) and not str(record).lstrip().startswith("{") else []
    else:
        chain = undo_chain(state_dir, DeviceKey.of(driver)) if state_dir is not None else []
        plan = plan_ghostcall_undo(driver, _read(driver), chain=[data for _, data in chain])
        used = [str(path) for path, _ in chain]
    plan.extra["records"] = used
    return plan


def options_help() -> dict[str, str]:
    """Mitigation option names with their help and default (from :data:`routerfix.options.MITIGATION_OPTIONS`)."""
    from routerfix.options import MITIGATION_OPTIONS

    return {spec.name: f"{spec.help} (default {spec.default!r})" for spec in MITIGATION_OPTIONS}
