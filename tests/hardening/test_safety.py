"""Item 7: routerfix never forwards to an address in use (leased, reserved, seen on the LAN, the router itself,
a static squatter answering a probe), never replaces a live PBX forward without the explicit flag, and either
keeps the sink reserved in DHCP or reports the risk — on every driver."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost

import routerfix
from routerfix import Feature, ForwardConflict, InvalidValue
from routerfix.actions import safe_restore_name
from routerfix.planner import SINK_MAC

from .faults import fresh_device, open_driver
from .targets import ALL_TARGETS, Target, native_state


def _pbx_knobs(target: Target) -> dict[str, Any]:
    if target.driver == "netgear":
        from routerfix.simulators.netgear.state import Rule

        return {"rules": [Rule("PBX", "UDP", 5060, 5060, 5060, 5060, "192.168.1.10")]}
    return {"scenario": "pbx"}


def _in_use(state: routerfix.DeviceState) -> dict[ipaddress.IPv4Address, str]:
    used: dict[ipaddress.IPv4Address, str] = {}
    for lease in state.leases:
        used[lease.address] = "leased"
    for n in state.neighbours:
        used.setdefault(n.address, "neighbour")
    if state.scope is not None:
        used.setdefault(state.scope.gateway, "the router")
        for r in state.scope.reservations:
            if r.mac != SINK_MAC:
                used.setdefault(r.address, "reserved")
    for f in state.forwards:
        used.setdefault(f.internal_address, "forward target")
    return used


@pytest.mark.parametrize("target", ALL_TARGETS, ids=str)
def test_sink_is_unused_and_reserved_or_risk_reported(target: Target, ssh_host: SSHSimulatorHost) -> None:
    with fresh_device(target, ssh_host) as device, open_driver(target, device) as d:
        before = d.read_state()
        used = _in_use(before)
        assert used, "the simulator has nothing in use: the check would prove nothing"
        result = routerfix.apply_ghostcall_mitigation(d)
        sink = result.plan.sink
        assert sink is not None and sink not in used, f"sink {sink} is {used.get(sink)}"
        assert before.scope is None or before.scope.in_pool(sink)
        if Feature.PROBE in before.capabilities:
            assert not d.probe_address(sink), f"something answers at the sink {sink}"
        after = d.read_state()
        ours = [f for f in after.forwards if f.name.startswith("routerfix-sip")]
        assert ours and all(f.internal_address == sink for f in ours)
        if Feature.DHCP_RESERVATION in before.capabilities:
            assert after.scope is not None
            assert any(r.address == sink and r.mac == SINK_MAC for r in after.scope.reservations), \
                "the sink is not reserved"
        else:
            assert any("cannot reserve" in w for w in result.warnings), result.warnings


@pytest.mark.parametrize("target", ALL_TARGETS, ids=str)
def test_an_address_in_use_is_refused_as_sink(target: Target, ssh_host: SSHSimulatorHost) -> None:
    with fresh_device(target, ssh_host) as device, open_driver(target, device) as d:
        state = d.read_state()
        native = native_state(target, device)
        refused = []
        for address, why in sorted(_in_use(state).items()):
            if state.scope is not None and address not in state.scope.network:
                continue
            with pytest.raises(InvalidValue, match="sink"):
                routerfix.apply_ghostcall_mitigation(d, sink=str(address))
            refused.append(why)
        assert refused, "nothing in use inside the LAN to try"
        assert d.writes == 0 and native_state(target, device) == native


@pytest.mark.parametrize("target", [t for t in ALL_TARGETS if t.id != "mikrotik-v6"], ids=str)
def test_static_squatter_answering_a_probe_is_skipped(target: Target, ssh_host: SSHSimulatorHost) -> None:
    """A host with a static address inside the pool (no lease, not in ARP yet) that answers a probe."""
    with fresh_device(target, ssh_host) as device, open_driver(target, device) as d:
        state = d.read_state()
        if Feature.PROBE not in state.capabilities:  # the risk is reported instead
            plan = routerfix.plan_ghostcall_mitigation(d)
            assert "not probed" in plan.sink_reason, plan.sink_reason
            return
        assert state.scope is not None
        used = _in_use(state)
        free = [a for p in reversed(state.scope.pools) for a in p.from_top() if a not in used][:12]
        squatters = [a for a in free if d.probe_address(a)]
        if not squatters:
            pytest.skip(f"the {target.driver} simulator has no static squatter inside its pool")
        plan = routerfix.plan_ghostcall_mitigation(d)
        assert plan.sink not in squatters
        assert any("answered" in w for w in plan.warnings) or free.index(squatters[0]) > free.index(plan.sink)
        with pytest.raises(InvalidValue, match="answered"):
            routerfix.apply_ghostcall_mitigation(d, sink=str(squatters[0]))
        assert d.writes == 0


def test_memory_squatter_and_full_pool() -> None:
    """The reference driver: a squatter at the top of the pool is skipped; a pool with no free address is
    refused with NoFreeAddress and nothing written."""
    with routerfix.connect("memory", "squat", password="admin") as d:
        state = d.read_state()
        assert state.scope is not None
        top = next(a for a in state.scope.pools[-1].from_top() if a not in _in_use(state))
        d.router.answering.add(top)  # type: ignore[attr-defined]
        result = routerfix.apply_ghostcall_mitigation(d)
        assert result.plan.sink != top and any("answered" in w for w in result.warnings)
    with routerfix.connect("memory", "full", scenario="full-pool", password="admin") as d:
        with pytest.raises(routerfix.NoFreeAddress):
            routerfix.apply_ghostcall_mitigation(d)
        assert d.writes == 0


def _restored_name(driver: routerfix.Driver, name: str) -> str:
    try:
        return driver.check_restore_name(name)
    except routerfix.InvalidValue:
        return safe_restore_name(name)


@pytest.mark.parametrize("target", [t for t in ALL_TARGETS if t.id != "mikrotik-v6"], ids=str)
def test_live_pbx_forward_needs_the_explicit_flag(target: Target, ssh_host: SSHSimulatorHost) -> None:
    with fresh_device(target, ssh_host, **_pbx_knobs(target)) as device:
        with open_driver(target, device) as d:
            before = d.read_state()
            native = native_state(target, device)
            pbx = [f for f in before.forwards if f.covers(routerfix.Protocol.UDP, 5060)]
            assert pbx, "the pbx scenario has no SIP forward"
            with pytest.raises(ForwardConflict) as caught:
                routerfix.apply_ghostcall_mitigation(d)
            assert "replace_conflicting" in str(caught.value)
            assert d.writes == 0
        assert native_state(target, device) == native, "the device changed although the run was refused"
        with open_driver(target, device) as d:
            result = routerfix.apply_ghostcall_mitigation(d, replace_conflicting=True)
            assert result.status == "mitigated"
            assert any("replacing the existing forward" in w for w in result.warnings)
            after = d.read_state()
            assert not [f for f in after.forwards if f.covers(routerfix.Protocol.UDP, 5060)
                        and not f.name.startswith("routerfix-sip")]
            # and the undo from the record puts the PBX forward back: under its own name where the driver can
            # write it (Driver.check_restore_name), else under a device-safe one ("PBX SIP" -> "PBX_SIP")
            routerfix.remove_ghostcall_mitigation(d, record=result.to_dict())
            restored = d.read_state()
            assert [f.key()[1:] for f in restored.forwards if f.covers(routerfix.Protocol.UDP, 5060)] == \
                [f.key()[1:] for f in pbx]
            assert [f.name for f in restored.forwards if f.covers(routerfix.Protocol.UDP, 5060)] == \
                [_restored_name(d, f.name) for f in pbx]
