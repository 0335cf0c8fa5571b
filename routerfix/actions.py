"""The changes a plan is made of. Each action can apply itself, say whether a read-back state
already shows it done, and produce its inverse (for rollback and undo)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from routerfix.enums import ActionKind
from routerfix.model import NatMode, PortForward, Reservation, forward_from_data, reservation_from_data, to_data

if TYPE_CHECKING:
    from routerfix.driver import Driver
    from routerfix.model import DeviceState

__all__ = ["ACTION_KINDS", "Action", "ActionKind", "AddForward", "ClearUndoMarker", "RemoveForward", "ReserveAddress",
           "ReleaseAddress", "SaveUndoMarker", "SetNatMode", "SetSipAlg", "action_from_data", "safe_restore_name",
           "same_forward", "same_reservation"]


def safe_restore_name(name: str) -> str:
    """A device-safe version of a name read from a device, for putting a removed rule back."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip("_.-")[:30]
    return cleaned or "restored-rule"


def same_forward(a: PortForward, b: PortForward) -> bool:
    """True when ``a`` and ``b`` are the same rule (device handles aside; names compared device-safe)."""
    return (a.protocol, a.external_ports, a.internal_address, a.internal_ports, a.enabled) == \
        (b.protocol, b.external_ports, b.internal_address, b.internal_ports, b.enabled) and \
        safe_restore_name(a.name) == safe_restore_name(b.name)


def same_reservation(a: Reservation, b: Reservation) -> bool:
    """True when ``a`` and ``b`` reserve the same address for the same MAC (names aside)."""
    return (a.address, a.mac) == (b.address, b.mac)


def _holds(state: DeviceState, reservation: Reservation) -> bool:
    return state.scope is not None and any(same_reservation(r, reservation) for r in state.scope.reservations)


def same_rule(a: PortForward, b: PortForward) -> bool:
    """Like :func:`same_forward`, enabled or not: a removal is done only when no rule of that identity is left."""
    return same_forward(a, b) or same_forward(a, dataclasses.replace(b, enabled=not b.enabled))


@dataclass(frozen=True)
class AddForward:
    """Add a port forward."""

    forward: PortForward
    kind: ActionKind = field(default=ActionKind.ADD_FORWARD, init=False)
    restore: bool = False
    """Putting back a forward read from the device (its own name, where :meth:`Driver.check_restore_name`
    allows it)."""

    def apply(self, driver: Driver) -> None:
        """Send the forward to the device."""
        if self.restore:
            driver.restore_port_forward(self.forward)
        else:
            driver.add_port_forward(self.forward)

    def done_in(self, state: DeviceState) -> bool:
        """True when the device already holds this forward."""
        return any(same_forward(f, self.forward) for f in state.forwards)

    def inverse(self) -> RemoveForward:
        """Removing the same forward."""
        return RemoveForward(self.forward)

    def describe(self) -> str:
        """One line for the operator."""
        return f"add forward {self.forward.describe()}"


@dataclass(frozen=True)
class RemoveForward:
    """Remove a port forward (routerfix's stale one, or a conflicting one the caller let us replace)."""

    forward: PortForward
    kind: ActionKind = field(default=ActionKind.REMOVE_FORWARD, init=False)

    def apply(self, driver: Driver) -> None:
        """Remove it (the driver finds the rule by its content; ``ref`` is only a hint)."""
        driver.remove_port_forward(self.forward)

    def done_in(self, state: DeviceState) -> bool:
        """True when the device no longer holds this forward (not even disabled or half-removed)."""
        return not any(same_rule(f, self.forward) for f in state.forwards)

    def inverse(self) -> AddForward:
        """Putting it back (under a device-safe name)."""
        f = self.forward
        return AddForward(PortForward(safe_restore_name(f.name), f.protocol, f.external_ports, f.internal_address,
                                      f.internal_ports, f.enabled, True))

    def describe(self) -> str:
        """One line for the operator."""
        return f"remove forward {self.forward.describe()}"


@dataclass(frozen=True)
class SetNatMode:
    """Change NAT filtering."""

    target: NatMode
    previous: NatMode | None
    reason: str = ""
    kind: ActionKind = field(default=ActionKind.SET_NAT_MODE, init=False)

    def apply(self, driver: Driver) -> None:
        """Set the mode."""
        driver.set_nat_mode(self.target)

    def done_in(self, state: DeviceState) -> bool:
        """True when the device shows the target mode."""
        return state.nat_mode is self.target

    def inverse(self) -> SetNatMode:
        """Back to the previous mode."""
        return SetNatMode(self.previous or self.target, self.target, "restore the previous NAT mode")

    def describe(self) -> str:
        """One line for the operator."""
        was = self.previous.value if self.previous else "unknown"
        return f"set NAT filtering {was} -> {self.target.value}" + (f" ({self.reason})" if self.reason else "")


@dataclass(frozen=True)
class SetSipAlg:
    """Turn SIP ALG on or off."""

    enabled: bool
    previous: bool | None
    kind: ActionKind = field(default=ActionKind.SET_SIP_ALG, init=False)

    def apply(self, driver: Driver) -> None:
        """Set it."""
        driver.set_sip_alg(self.enabled)

    def done_in(self, state: DeviceState) -> bool:
        """True when the device shows the wanted setting."""
        return state.sip_alg is self.enabled

    def inverse(self) -> SetSipAlg:
        """Back to the previous setting."""
        return SetSipAlg(self.previous if self.previous is not None else self.enabled, self.enabled)

    def describe(self) -> str:
        """One line for the operator."""
        return f"turn SIP ALG {'on' if self.enabled else 'off'}"


@dataclass(frozen=True)
class ReserveAddress:
    """Reserve the sink in DHCP for routerfix's dummy MAC."""

    reservation: Reservation
    kind: ActionKind = field(default=ActionKind.RESERVE_ADDRESS, init=False)

    def apply(self, driver: Driver) -> None:
        """Make the reservation."""
        driver.reserve_address(self.reservation)

    def done_in(self, state: DeviceState) -> bool:
        """True when the device shows the reservation."""
        return _holds(state, self.reservation)

    def inverse(self) -> ReleaseAddress:
        """Releasing it."""
        return ReleaseAddress(self.reservation)

    def describe(self) -> str:
        """One line for the operator."""
        r = self.reservation
        return f"reserve {r.address} in DHCP for {r.mac} ({r.name})"


@dataclass(frozen=True)
class ReleaseAddress:
    """Remove a DHCP reservation routerfix made."""

    reservation: Reservation
    kind: ActionKind = field(default=ActionKind.RELEASE_ADDRESS, init=False)

    def apply(self, driver: Driver) -> None:
        """Remove the reservation."""
        driver.release_address(self.reservation)

    def done_in(self, state: DeviceState) -> bool:
        """True when the device no longer shows it."""
        return not _holds(state, self.reservation)

    def inverse(self) -> ReserveAddress:
        """Reserving it again."""
        return ReserveAddress(self.reservation)

    def describe(self) -> str:
        """One line for the operator."""
        r = self.reservation
        return f"release DHCP reservation {r.address} ({r.mac})"


@dataclass(frozen=True)
class SaveUndoMarker:
    """Save routerfix's undo marker on the device (:mod:`routerfix.markers`), the first write of a run."""

    marker: dict[str, Any] = field(compare=False)
    previous: dict[str, Any] | None = field(default=None, compare=False)
    """The device's marker before this step (None: there was none), for the inverse."""
    kind: ActionKind = field(default=ActionKind.SAVE_UNDO_MARKER, init=False)

    def apply(self, driver: Driver) -> None:
        """Write it (atomically on the device)."""
        driver.save_undo_marker(self.marker)

    def done_in(self, state: DeviceState) -> bool:
        """True when the device holds this marker."""
        return state.undo_marker == self.marker

    def inverse(self) -> SaveUndoMarker | ClearUndoMarker:
        """Back to the previous marker, or none."""
        if self.previous is None:
            return ClearUndoMarker(self.marker)
        return SaveUndoMarker(self.previous, self.marker)

    def describe(self) -> str:
        """One line for the operator."""
        return "save the undo marker on the device"


@dataclass(frozen=True)
class ClearUndoMarker:
    """Remove routerfix's undo marker from the device (the last step of a completed undo)."""

    previous: dict[str, Any] | None = field(default=None, compare=False)
    """The marker removed (None: an unreadable one), for the inverse."""
    kind: ActionKind = field(default=ActionKind.CLEAR_UNDO_MARKER, init=False)

    def apply(self, driver: Driver) -> None:
        """Remove it."""
        driver.clear_undo_marker()

    def done_in(self, state: DeviceState) -> bool:
        """True when the device holds no marker, not even an unreadable one."""
        return state.undo_marker is None and state.marker_warning is None

    def inverse(self) -> SaveUndoMarker | ClearUndoMarker:
        """Saving the removed marker again (an unreadable one cannot come back: nothing)."""
        return ClearUndoMarker() if self.previous is None else SaveUndoMarker(self.previous)

    def describe(self) -> str:
        """One line for the operator."""
        return "clear the undo marker on the device"


Action = (AddForward | RemoveForward | SetNatMode | SetSipAlg | ReserveAddress | ReleaseAddress | SaveUndoMarker
          | ClearUndoMarker)
"""Any plan step."""

ACTION_KINDS: frozenset[ActionKind] = frozenset(ActionKind)
"""Every ``Action.kind`` (what :attr:`routerfix.Driver.batch_kinds` chooses from)."""


def action_to_data(action: Action) -> dict[str, Any]:
    """JSON-ready form of an action (used in saved results)."""
    data: dict[str, Any] = to_data(action)
    return data


def action_from_data(data: dict[str, Any]) -> Action:
    """Rebuild an action saved with :func:`action_to_data`."""
    kind = data.get("kind")
    if kind == ActionKind.ADD_FORWARD:
        return AddForward(forward_from_data(data["forward"]), restore=data.get("restore") is True)
    if kind == ActionKind.REMOVE_FORWARD:
        return RemoveForward(forward_from_data(data["forward"]))
    if kind == ActionKind.SET_NAT_MODE:
        prev = data.get("previous")
        return SetNatMode(NatMode.parse(data["target"]), NatMode.parse(prev) if prev else None,
                          str(data.get("reason", "")))
    if kind == ActionKind.SET_SIP_ALG:
        prev_alg = data.get("previous")
        return SetSipAlg(bool(data["enabled"]), None if prev_alg is None else bool(prev_alg))
    if kind == ActionKind.RESERVE_ADDRESS:
        return ReserveAddress(reservation_from_data(data["reservation"]))
    if kind == ActionKind.RELEASE_ADDRESS:
        return ReleaseAddress(reservation_from_data(data["reservation"]))
    if kind in (ActionKind.SAVE_UNDO_MARKER, ActionKind.CLEAR_UNDO_MARKER):
        from routerfix.markers import check_marker

        def marker(key: str) -> dict[str, Any] | None:
            value = data.get(key)
            return None if value is None else check_marker(value, "a saved record's undo marker")

        if kind == ActionKind.CLEAR_UNDO_MARKER:
            return ClearUndoMarker(marker("previous"))
        saved = marker("marker")
        if saved is None:
            from routerfix.errors import StateFileError

            raise StateFileError("a saved record's save_undo_marker step has no marker")
        return SaveUndoMarker(saved, marker("previous"))
    from routerfix.errors import StateFileError

    raise StateFileError(f"unknown action kind {kind!r} in a saved record")
