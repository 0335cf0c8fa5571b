"""Planning the ghost-call mitigation from one read of the device.

The plan forwards WAN 5060 and 5061, TCP and UDP, to a *sink*: an address in
the DHCP pool that nothing uses, so scan packets go nowhere. It also reserves
the sink in DHCP (where the device can), sets NAT filtering as the vendor's
policy wants, turns SIP ALG off where the device has it, and names the verdict
when no configuration can fix the site (replace the router, bridge mode).
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from routerfix.actions import (
    Action,
    AddForward,
    ClearUndoMarker,
    ReleaseAddress,
    RemoveForward,
    ReserveAddress,
    SaveUndoMarker,
    SetNatMode,
    SetSipAlg,
    action_to_data,
    same_forward,
    same_reservation,
)
from routerfix.enums import Operation, ResultStatus
from routerfix.errors import ForwardConflict, InvalidValue, MitigationError, NoFreeAddress
from routerfix.model import (
    DeviceState,
    Feature,
    NatMode,
    PortForward,
    PortRange,
    Protocol,
    Remedy,
    Reservation,
    to_data,
)
from routerfix.policy import NatDecision, Phone, find_phones

if TYPE_CHECKING:
    from routerfix.driver import Driver

__all__ = ["MitigationOptions", "Operation", "Plan", "RULE_PREFIX", "SINK_MAC", "SINK_NAME", "SIP_PORTS", "Verdict",
           "desired_forwards", "make_plan", "managed_view", "plan_ghostcall_mitigation"]

log = logging.getLogger("routerfix.plan")

SIP_PORTS = PortRange(5060, 5061)
"""The WAN ports SIP scanners hit."""
RULE_PREFIX = "routerfix-sip"
"""Every forward routerfix writes is named with this prefix, so it is found again and never confused
with the customer's own."""
SINK_NAME = "routerfix-sink"
"""Name of the DHCP reservation that keeps the sink address from being leased."""
SINK_MAC = "02:00:5e:c0:50:60"
"""Locally administered dummy MAC that owns the sink reservation (no real device has it)."""

_REMEDY_TEXT = {
    Remedy.REPLACE_ROUTER: "this router cannot forward ports: replace it with one that can, then run the mitigation",
    Remedy.BRIDGE_MODE: "this ISP gateway forwards only to devices it knows, so SIP cannot be sent to an unused "
                        "address: put it in bridge mode / IP Passthrough to a standalone router and mitigate that "
                        "router",
    Remedy.NAT_FAILING: "the mitigation is already in place and the site still gets ghost calls: the router's NAT "
                        "is failing; replace the router",
    Remedy.READ_ONLY_ACCESS: "this access path can read the router's forwards but cannot change them: run the "
                             "mitigation through the router's own driver (its web GUI or CLI)",
    Remedy.UNSUPPORTED_FIRMWARE: "this model or firmware is recognised but not supported yet; nothing was changed",
}


@dataclass(frozen=True)
class Verdict:
    """A remedy no configuration change can give, and why."""

    remedy: Remedy
    reason: str


@dataclass(frozen=True)
class MitigationOptions:
    """Options of :func:`plan_ghostcall_mitigation` and :func:`~routerfix.apply_ghostcall_mitigation`.

    :param sink: use this address as the sink instead of choosing one (still checked: inside the
        LAN, not in use).
    :param replace_conflicting: allow removing an existing forward of 5060/5061 that is not
        routerfix's (for example an old forward to a PBX that is gone). Off by default.
    :param reserve_sink: reserve the sink in DHCP where the device can.
    :param manage_nat: apply the vendor's NAT filtering policy.
    :param sip_alg_off: turn SIP ALG off where the device has it.
    :param flush: flush inbound connection tracking for 5060/5061 after the change, where possible.
    :param probe: ask the device whether anything answers at a candidate sink, where it can.
    :param max_probes: how many candidates to probe before giving up.
    :param still_ringing: the site still gets ghost calls although it was mitigated earlier.
    :param backup: take a configuration backup before writing, where the device can.
    """

    sink: ipaddress.IPv4Address | None = None
    replace_conflicting: bool = False
    reserve_sink: bool = True
    manage_nat: bool = True
    sip_alg_off: bool = True
    flush: bool = True
    probe: bool = True
    max_probes: int = 8
    still_ringing: bool = False
    backup: bool = True

    def __post_init__(self) -> None:
        if self.sink is not None and not isinstance(self.sink, ipaddress.IPv4Address):
            try:
                object.__setattr__(self, "sink", ipaddress.IPv4Address(str(self.sink)))
            except ValueError:
                raise InvalidValue("sink", self.sink, "an IPv4 address inside the LAN's DHCP pool") from None
        for name in ("replace_conflicting", "reserve_sink", "manage_nat", "sip_alg_off", "flush", "probe",
                     "still_ringing", "backup"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidValue(name, getattr(self, name), "True or False")
        if isinstance(self.max_probes, bool) or not isinstance(self.max_probes, int) or not 0 <= self.max_probes <= 64:
            raise InvalidValue("max_probes", self.max_probes, "a whole number from 0 to 64")

    @classmethod
    def build(cls, options: dict[str, Any]) -> MitigationOptions:
        """Build from keyword options, naming any unknown one."""
        known = set(cls.__dataclass_fields__)
        for key in options:
            if key not in known:
                raise InvalidValue("option", key, f"one of: {', '.join(sorted(known))}")
        return cls(**options)


def managed_view(state: DeviceState) -> list[str]:
    """The part of the device state the mitigation touches, as sorted lines for diffs and verification."""
    lines = []
    if state.nat_mode is not None:
        lines.append(f"nat filtering: {state.nat_mode.value}")
    if state.sip_alg is not None:
        lines.append(f"sip alg: {'on' if state.sip_alg else 'off'}")
    lines += sorted(f"forward {f.describe()}" for f in state.forwards)
    if state.scope is not None:
        lines += sorted(f"dhcp reservation {r.address} {r.mac} {r.name}".rstrip() for r in state.scope.reservations)
    if state.undo_marker is not None:
        lines.append("undo marker: saved")
    elif state.marker_warning is not None:
        lines.append("undo marker: unreadable")
    return lines


def simulate(state: DeviceState, actions: Iterable[Action]) -> DeviceState:
    """The state the device should show after ``actions`` (used for the diff and for verification)."""
    from dataclasses import replace

    forwards = list(state.forwards)
    scope = state.scope
    nat_mode, sip_alg = state.nat_mode, state.sip_alg
    marker, marker_warning = state.undo_marker, state.marker_warning
    for action in actions:
        if isinstance(action, AddForward):
            forwards.append(action.forward)
        elif isinstance(action, RemoveForward):
            forwards = [f for f in forwards if not same_forward(f, action.forward)]
        elif isinstance(action, SetNatMode):
            nat_mode = action.target
        elif isinstance(action, SetSipAlg):
            sip_alg = action.enabled
        elif isinstance(action, ReserveAddress) and scope is not None:
            scope = replace(scope, reservations=(*scope.reservations, action.reservation))
        elif isinstance(action, ReleaseAddress) and scope is not None:
            scope = replace(scope, reservations=tuple(x for x in scope.reservations
                                                      if not same_reservation(x, action.reservation)))
        elif isinstance(action, SaveUndoMarker):
            marker, marker_warning = action.marker, None
        elif isinstance(action, ClearUndoMarker):
            marker, marker_warning = None, None
    return replace(state, forwards=tuple(forwards), scope=scope, nat_mode=nat_mode, sip_alg=sip_alg,
                   undo_marker=marker, marker_warning=marker_warning)


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What the mitigation (or its undo) will change on one device, computed from read-back state."""

    operation: Operation
    host: str
    driver: str
    before: DeviceState
    actions: tuple[Action, ...]
    sink: ipaddress.IPv4Address | None = None
    sink_reason: str = ""
    nat: NatDecision | None = None
    phones: tuple[Phone, ...] = ()
    warnings: tuple[str, ...] = ()
    verdicts: tuple[Verdict, ...] = ()
    flush: bool = False
    reservation: Reservation | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "operation", Operation(self.operation))

    @property
    def changed(self) -> bool:
        """True when applying the plan would change the device."""
        return bool(self.actions)

    @property
    def after(self) -> DeviceState:
        """The state expected after the plan is applied."""
        return simulate(self.before, self.actions)

    def diff(self) -> str:
        """A unified diff of the managed configuration, before → after (empty when nothing changes); computed
        once (the result and its record both show it)."""
        text: str | None = self.__dict__.get("_diff")
        if text is None:
            text = "".join(difflib.unified_diff(
                [line + "\n" for line in managed_view(self.before)],
                [line + "\n" for line in managed_view(self.after)],
                fromfile=f"{self.host} (now)", tofile=f"{self.host} (planned)", n=50))
            object.__setattr__(self, "_diff", text)  # a frozen dataclass: the plan never changes
        return text

    def _repr_html_(self) -> str:
        from routerfix.render import result_html
        from routerfix.result import MitigationResult

        status = ResultStatus.PLANNED if self.actions else ResultStatus.UNCHANGED
        return result_html(MitigationResult(status=status, changed=False, dry_run=True, plan=self))

    def __rich__(self) -> Any:
        from routerfix.render import plan_renderable

        return plan_renderable(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "operation": str(self.operation), "host": self.host, "driver": self.driver,
            "facts": to_data(self.before.facts), "changed": self.changed,
            "actions": [a.describe() for a in self.actions],
            "action_records": [action_to_data(a) for a in self.actions],
            "sink": str(self.sink) if self.sink else None, "sink_reason": self.sink_reason,
            "nat": None if self.nat is None else {"target": self.nat.target.value if self.nat.target else None,
                                                   "current": to_data(self.before.nat_mode),
                                                   "reason": self.nat.reason},
            "phones": [{"address": str(p.address), "mac": p.mac, "hostname": p.hostname, "vendor": p.vendor,
                        "reason": p.reason} for p in self.phones],
            "warnings": list(self.warnings),
            "verdicts": [{"remedy": v.remedy.value, "reason": v.reason} for v in self.verdicts],
            "flush": self.flush, "diff": self.diff(),
        }


def desired_forwards(state: DeviceState, sink: ipaddress.IPv4Address) -> list[PortForward]:
    """The forwards of 5060-5061 tcp+udp to ``sink``, in as few rules as the device allows."""
    caps = state.capabilities
    protocols = [Protocol.BOTH] if caps.forward_both else [Protocol.TCP, Protocol.UDP]
    ranges = [SIP_PORTS] if caps.forward_ranges else [PortRange(p) for p in SIP_PORTS]
    rules = []
    for proto in protocols:
        for ports in ranges:
            parts = [RULE_PREFIX]
            if proto is not Protocol.BOTH:
                parts.append(proto.value)
            if len(ranges) > 1:
                parts.append(str(ports))
            rules.append(PortForward("-".join(parts), proto, ports, sink))
    return rules


def _is_ours(forward: PortForward) -> bool:
    return forward.name.startswith(RULE_PREFIX)


def _touches_sip(forward: PortForward) -> bool:
    return forward.external_ports.overlaps(SIP_PORTS)


def _in_use(state: DeviceState, *, exclude_sink_reservation: bool = True) -> dict[ipaddress.IPv4Address, str]:
    """Addresses something uses, with what uses them."""
    used: dict[ipaddress.IPv4Address, str] = {}
    for lease in state.leases:
        used.setdefault(lease.address, f"leased to {lease.mac}" + (f" ({lease.hostname})" if lease.hostname else ""))
    for n in state.neighbours:
        used.setdefault(n.address, f"in the neighbour table as {n.mac}")
    if state.scope is not None:
        for r in state.scope.reservations:
            if exclude_sink_reservation and r.mac == SINK_MAC:
                continue
            used.setdefault(r.address, f"reserved for {r.mac}" + (f" ({r.name})" if r.name else ""))
        used.setdefault(state.scope.gateway, "the router's own address")
    for f in state.forwards:
        if not _is_ours(f):
            used.setdefault(f.internal_address, f"target of forward {f.name!r}")
    return used


def _seen_as(used: dict[ipaddress.IPv4Address, str], address: ipaddress.IPv4Address) -> str:
    """What uses ``address`` on the LAN (a forward naming it as its target does not count)."""
    why = used.get(address)
    return "not seen on the LAN now" if why is None or why.startswith("target of forward") else why


def _pick_sink(driver: Driver, state: DeviceState, opts: MitigationOptions, current: ipaddress.IPv4Address | None,
               warnings: list[str]) -> tuple[ipaddress.IPv4Address, str]:
    scope = state.scope
    used = _in_use(state)
    can_probe = opts.probe and Feature.PROBE in state.capabilities

    def unusable(addr: ipaddress.IPv4Address) -> str | None:
        if scope is not None:
            if addr not in scope.network:
                return f"outside the LAN {scope.network}"
            if addr in (scope.network.network_address, scope.network.broadcast_address):
                return "the network or broadcast address"
        return used.get(addr)

    if opts.sink is not None:
        why = unusable(opts.sink)
        if why:
            raise InvalidValue("sink", str(opts.sink), f"an unused LAN address ({opts.sink} is {why})")
        if scope is not None and not scope.in_pool(opts.sink):
            warnings.append(f"the chosen sink {opts.sink} is outside the DHCP pool")
        if can_probe and driver.probe_address(opts.sink):
            raise InvalidValue("sink", str(opts.sink), "an address where nothing answers (something answered)")
        return opts.sink, "chosen by the operator"
    if current is not None and unusable(current) is None and (scope is None or scope.in_pool(current)):
        return current, "the sink of the mitigation already in place"
    if current is not None:
        warnings.append(f"the previous sink {current} is now {unusable(current) or 'outside the pool'}: moving it")
    if scope is None:
        raise MitigationError("the DHCP pool cannot be read from this device: pass sink=<unused address>",
                              host=driver.host, driver=driver.name)
    probes = 0
    skipped: list[str] = []
    for pool in reversed(scope.pools):
        for addr in pool.from_top():
            if unusable(addr) is not None:
                continue
            if can_probe:
                if probes >= opts.max_probes:
                    break
                probes += 1
                if driver.probe_address(addr):
                    skipped.append(str(addr))
                    continue
            reason = "the highest free address of the DHCP pool"
            if skipped:
                reason += f" (skipped {', '.join(skipped)}: something answered there)"
                warnings.append(f"static hosts answered at {', '.join(skipped)} inside the DHCP pool")
            elif not opts.probe:
                reason += " (not probed: probing switched off)"
            elif not can_probe:
                reason += " (not probed: the device cannot probe addresses)"
            return addr, reason
    pools = ", ".join(map(str, scope.pools))
    raise NoFreeAddress(f"no free address in the DHCP pool {pools}: every address is leased, reserved, seen on the "
                        f"LAN or answering; widen the pool or free an address", host=driver.host, driver=driver.name)


def make_plan(driver: Driver, state: DeviceState, opts: MitigationOptions) -> Plan:
    """Plan the mitigation for ``state`` (already read from ``driver``)."""
    caps = state.capabilities
    warnings: list[str] = []
    verdicts: list[Verdict] = []
    phones = find_phones(state)

    def verdict_plan(remedy: Remedy, extra: str = "") -> Plan:
        for f in state.forwards:
            if f.enabled and _touches_sip(f) and not _is_ours(f):
                warnings.append(f"WAN SIP ports are already forwarded: {f.describe()} (a PBX? it must stay reachable "
                                f"after any replacement)")
        verdicts.append(Verdict(remedy, _REMEDY_TEXT[remedy] + (f" ({extra})" if extra else "")))
        return Plan(operation=Operation.MITIGATE, host=driver.host, driver=driver.name, before=state, actions=(),
                    phones=phones, warnings=tuple(warnings), verdicts=tuple(verdicts))

    if caps.remedy is not None:
        return verdict_plan(caps.remedy, "; ".join(caps.notes))
    if Feature.PORT_FORWARD not in caps:
        return verdict_plan(Remedy.REPLACE_ROUTER)
    if Feature.FORWARD_TO_UNUSED not in caps:
        return verdict_plan(Remedy.BRIDGE_MODE)

    ours = [f for f in state.forwards if _is_ours(f)]
    foreign = [f for f in state.forwards if not _is_ours(f) and _touches_sip(f)]
    actions: list[Action] = []
    used = _in_use(state)
    conflicts = [f for f in foreign if f.enabled]
    for f in foreign:
        if not f.enabled:
            warnings.append(f"a disabled forward {f.describe()} also names SIP ports; left as it is")
    if conflicts and not opts.replace_conflicting:
        described = "; ".join(f"{f.describe()} (target: {_seen_as(used, f.internal_address)})" for f in conflicts)
        raise ForwardConflict(
            f"WAN SIP ports are already forwarded: {described}. If that host is a PBX, the site needs it and this "
            f"mitigation does not apply; if the rule is stale, rerun with replace_conflicting=True "
            f"(--replace-conflicting) to replace it", rules=tuple(f.name for f in conflicts),
            host=driver.host, driver=driver.name)
    for f in conflicts:
        warnings.append(f"replacing the existing forward {f.describe()} as asked (replace_conflicting)")
        actions.append(RemoveForward(f))
    # the targets of forwards being replaced no longer count as in use for the sink choice
    state_for_sink = dataclasses.replace(state, forwards=tuple(f for f in state.forwards if f not in conflicts))

    current_sinks = {f.internal_address for f in ours}
    current = next(iter(current_sinks)) if len(current_sinks) == 1 else None
    sink, sink_reason = _pick_sink(driver, state_for_sink, opts, current, warnings)

    want = desired_forwards(state, sink)
    want_keys = {f.key() for f in want}
    have_keys = {f.key() for f in ours if f.enabled}
    stale = [f for f in ours if not f.enabled or f.key() not in want_keys]  # a disabled rule protects nothing
    missing = [f for f in want if f.key() not in have_keys]
    actions += [RemoveForward(f) for f in stale]
    if caps.max_forwards is not None:
        total = len(state.forwards) - len(stale) - len(conflicts) + len(missing)
        if total > caps.max_forwards:
            raise MitigationError(
                f"the device holds at most {caps.max_forwards} port forwards and this needs {total}: remove "
                f"{total - caps.max_forwards} unused rule(s) first", host=driver.host, driver=driver.name)
    actions += [AddForward(f) for f in missing]

    reservation: Reservation | None = None
    if opts.reserve_sink and Feature.DHCP_RESERVATION in caps and state.scope is not None:
        reservation = Reservation(sink, SINK_MAC, SINK_NAME)
        mine = [r for r in state.scope.reservations if r.mac == SINK_MAC]
        actions += [ReleaseAddress(r) for r in mine if r.address != sink]
        if not any(r.address == sink for r in mine):
            actions.append(ReserveAddress(reservation))
    elif Feature.DHCP_RESERVATION not in caps:
        warnings.append(f"this device cannot reserve addresses: a new device could later be leased {sink} and "
                        f"receive the scans; it was taken from the top of the pool to make that unlikely")

    nat: NatDecision = driver.nat_policy(state, phones)
    if opts.manage_nat and nat.target is not None and Feature.NAT_MODE in caps and nat.target is not state.nat_mode:
        actions.append(SetNatMode(nat.target, state.nat_mode, nat.reason))
    elif not opts.manage_nat:
        nat = NatDecision(None, "NAT mode left alone as asked")

    if opts.sip_alg_off and Feature.SIP_ALG in caps and state.sip_alg:
        actions.append(SetSipAlg(False, True))

    flush = bool(missing) and opts.flush and Feature.FLUSH_CONNECTIONS in caps
    if missing and opts.flush and Feature.FLUSH_CONNECTIONS not in caps:
        warnings.append("this device cannot clear connection tracking: a scanner already talking to a phone keeps "
                        "reaching it until it pauses for about two minutes or the router restarts")

    if actions and Feature.UNDO_MARKER in caps:
        _save_marker_first(state, actions, warnings)

    if not actions and opts.still_ringing:
        verdicts.append(Verdict(Remedy.NAT_FAILING, _REMEDY_TEXT[Remedy.NAT_FAILING]))
    if state.nat_mode is NatMode.OPEN and nat.target is NatMode.OPEN:
        warnings.append("NAT filtering stays open: only WAN ports 5060/5061 are covered, so keep phones on local "
                        "port 5060 and set them to accept SIP only from their provider")
    return Plan(operation=Operation.MITIGATE, host=driver.host, driver=driver.name, before=state,
                actions=tuple(actions), sink=sink, sink_reason=sink_reason,
                nat=nat, phones=phones, warnings=tuple(warnings), verdicts=tuple(verdicts), flush=flush,
                reservation=reservation)


def shows_routerfix(state: DeviceState) -> bool:
    """The device carries routerfix's forward or its sink reservation (read back as they are)."""
    return any(_is_ours(f) for f in state.forwards) or (
        state.scope is not None and any(r.mac == SINK_MAC for r in state.scope.reservations))


def _save_marker_first(state: DeviceState, actions: list[Action], warnings: list[str]) -> None:
    """Make saving the device's undo marker the plan's first write, when the marker lacks what ``actions`` change
    (:func:`routerfix.markers.plan_marker`: a marker already there is kept and only added to)."""
    from routerfix.markers import marker_holds, plan_marker

    ours = shows_routerfix(state)
    if state.marker_warning is not None:
        warnings.append(state.marker_warning)
    stale = state.undo_marker is not None and not ours
    held = marker_holds(state.undo_marker) if stale and state.undo_marker is not None else ""
    if stale:
        warnings.append("the device holds an undo marker but none of routerfix's rules (removed by hand, reset, or "
                        "put back by a self-revert): that marker is stale and a new one is saved" + (
                            f"; it held {held}, which an undo will not restore: check those by hand (the new "
                            "marker is marked incomplete)" if held else ""))
    marker = plan_marker(state, actions, ours=(ours and state.undo_marker is None) or bool(held), keep=not stale)
    if marker is not None:
        actions.insert(0, SaveUndoMarker(marker, state.undo_marker))
    if ours and state.undo_marker is None:
        warnings.append("the device already shows routerfix's changes but holds no undo marker: the marker saved "
                        "now cannot say what routerfix changed before; an undo from it is reported as partial")


def plan_ghostcall_mitigation(driver: Driver, **options: Any) -> Plan:
    """Read the device once and plan the ghost-call mitigation. Changes nothing.

    :param driver: an open driver (see :func:`routerfix.connect`).
    :param options: :class:`MitigationOptions` fields.
    :raises ForwardConflict: 5060/5061 are already forwarded by a rule that is not routerfix's.
    :raises NoFreeAddress: no safe sink address in the DHCP pool.
    """
    opts = MitigationOptions.build(options)
    return make_plan(driver, driver.read_state(), opts)
