"""Field reports against the RouterOS simulator: each test failed before its fix (docs/facts/mikrotik.md rows)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost

import routerfix
from routerfix.simulate import SimulatedDevice, simulate

from .conftest import connect


def static_leases(device: SimulatedDevice) -> list[dict[str, str]]:
    return [dict(i.props) for i in device.handle.model.items("ip dhcp-server lease") if not i.dynamic]


PINNED = {
    "client-id-only": {"address": "192.168.88.252", "client-id": "1:0:4:f2:aa:bb:cc", "server": "defconf",
                       "status": "waiting", "comment": "door phone"},
    "server-by-id": {"address": "192.168.88.252", "mac-address": "00:04:F2:AA:BB:CC", "server": "*1",
                     "status": "waiting", "comment": "door phone"},
}


@pytest.mark.parametrize("kind", sorted(PINNED))
def test_a_pinned_address_is_never_the_sink(ssh_host: SSHSimulatorHost, kind: str) -> None:
    """Report 8: a static lease with ``client-id`` and no ``mac-address`` reserves its address (facts M22, M23);
    so does one whose server prints as an internal id (fail-safe of M23)."""
    with simulate("mikrotik", host=ssh_host) as device:
        state = device.handle.model
        # .252 is the sink the office picks otherwise (test_mikrotik.test_exact_commands_for_the_office_v7)
        state.add("ip dhcp-server lease", PINNED[kind])
        with connect(device) as driver:
            scope = driver.get_dhcp_scope()
            assert any(str(r.address) == "192.168.88.252" for r in scope.reservations)
            result = routerfix.apply_ghostcall_mitigation(driver)
        assert result.status == "mitigated"
        assert str(result.plan.sink) != "192.168.88.252"
        door = [lease for lease in static_leases(device) if lease["address"] == "192.168.88.252"]
        assert door == [PINNED[kind]]


def eim_rules(device: SimulatedDevice) -> list[dict[str, str]]:
    return [r for r in device.handle.model.nat_rules() if r["action"] == "endpoint-independent-nat"]


def test_undo_leaves_eim_rules_the_operator_disabled(ssh_host: SSHSimulatorHost) -> None:
    """Report 9: undo re-enables only the endpoint-independent-nat rules the run disabled (facts M34, M35)."""
    with simulate("mikrotik", host=ssh_host) as device:
        state = device.handle.model
        state.add("ip firewall nat", {"chain": "dstnat", "action": "endpoint-independent-nat", "protocol": "udp",
                                      "in-interface-list": "WAN", "randomise-ports": "no",
                                      "comment": "games console, off on purpose"}, disabled=True)
        before: Any = copy.deepcopy(eim_rules(device))
        assert [r["disabled"] for r in before] == ["no", "no", "yes"]
        with connect(device) as driver:
            result = routerfix.apply_ghostcall_mitigation(driver)
            assert result.status == "mitigated"
            assert all(r["disabled"] == "yes" for r in eim_rules(device))
            undone = routerfix.remove_ghostcall_mitigation(driver, record=result.to_dict())
            assert undone.status == "undone" and undone.verified
        assert eim_rules(device) == before


@pytest.mark.parametrize("version", ["7.16.2"])
def test_undo_in_a_new_session_restores_exactly(ssh_host: SSHSimulatorHost, version: str) -> None:
    """Report 9, across sessions: the record is all the second session has."""
    with simulate("mikrotik", host=ssh_host, version=version) as device:
        device.handle.model.add("ip firewall nat", {"chain": "srcnat", "action": "endpoint-independent-nat",
                                                    "protocol": "udp", "out-interface-list": "WAN"}, disabled=True)
        before = copy.deepcopy(eim_rules(device))
        with connect(device) as driver:
            record = routerfix.apply_ghostcall_mitigation(driver).to_dict()
        with connect(device) as driver:
            assert routerfix.remove_ghostcall_mitigation(driver, record=record).status == "undone"
        assert eim_rules(device) == before
