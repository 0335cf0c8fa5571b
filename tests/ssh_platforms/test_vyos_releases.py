"""VyOS nodes differ by release (vyos/vyos-1x interface definitions per branch; docs/facts/vyos.md): a DHCP
static mapping's MAC is ``mac-address`` on 1.3/1.4 and ``mac`` on 1.5, the NAT inbound interface is
``inbound-interface <if>`` on 1.3 and ``inbound-interface name <if>`` from 1.4. The simulator models each release
and its commit-time checks; the driver writes the forms of the release ``show version`` reports (field report:
1.4 routers refused ``static-mapping ... mac``)."""

from __future__ import annotations

from typing import Any

import pytest
from routerfix.drivers.vyos.syntax import Train, train_of
from routerfix.simulators._vyatta.shell import VyattaSession
from routerfix.simulators.vyos.device import make_router

import routerfix
from routerfix.planner import SINK_NAME

from .conftest import connect

LAN = "set service dhcp-server shared-network-name LAN subnet 192.168.1.0/24"
FORMS = {
    "1.3": ("inbound-interface 'eth0'", "mac-address"),
    "1.4": ("inbound-interface name 'eth0'", "mac-address"),
    "1.5": ("inbound-interface name 'eth0'", "mac"),
}


def _configure(release: str, *lines: str) -> list[str]:
    session = VyattaSession(make_router(release=release), "vyos")
    session.execute("configure")
    return [session.execute(line) for line in lines]


@pytest.mark.parametrize("release", sorted(FORMS))
def test_mitigation_writes_the_forms_of_the_running_release(release: str, sim: Any) -> None:
    inbound, mac = FORMS[release]
    with sim("vyos", release=release) as device:
        before = device.handle.router.config_text()
        with connect(device) as driver:
            result = routerfix.apply_ghostcall_mitigation(driver)
            assert result.status == "mitigated", result.to_json()
            text = device.handle.router.config_text()
            assert f"set nat destination rule 1 {inbound}" in text
            assert f"{LAN} static-mapping {SINK_NAME} {mac} '02:00:5e:c0:50:60'" in text
            undone = routerfix.remove_ghostcall_mitigation(driver, record=result.to_dict())
            assert undone.status == "undone"
        assert device.handle.router.config_text() == before


@pytest.mark.parametrize(("release", "wrong"), [("1.4", "mac"), ("1.3", "mac"), ("1.5", "mac-address")])
def test_each_release_refuses_the_other_mac_node(release: str, wrong: str) -> None:
    out = _configure(release, f"{LAN} static-mapping x {wrong} '02:00:5e:c0:50:61'")[0]
    assert "is not valid" in out and "Set failed" in out


@pytest.mark.parametrize("release", ["1.3", "1.4"])
def test_sagitta_and_equuleus_commit_needs_mac_address_with_ip_address(release: str) -> None:
    out = _configure(release, f"{LAN} static-mapping x ip-address '192.168.1.77'", "commit")[-1]
    assert 'MAC address required for static mapping "x"' in out and "Commit failed" in out


def test_circinus_commit_needs_a_subnet_id_and_a_mac_or_duid() -> None:
    out = _configure("1.5", f"{LAN} static-mapping x ip-address '192.168.1.77'", "commit")[-1]
    assert "Either MAC address or Client identifier (DUID) is required" in out and "Commit failed" in out
    out = _configure("1.5", f"delete {LAN.removeprefix('set ')} subnet-id", "commit")[-1]
    assert 'Unique subnet ID not specified for subnet "192.168.1.0/24"' in out


def test_equuleus_has_no_inbound_interface_name() -> None:
    out = _configure("1.3", "set nat destination rule 9 inbound-interface name 'eth0'")[0]
    assert "Set failed" in out


@pytest.mark.parametrize(("version", "train"), [
    ("VyOS 1.3.8", Train.EQUULEUS), ("VyOS 1.4.0", Train.SAGITTA), ("VyOS 1.4.0-epa1", Train.SAGITTA),
    ("VyOS 1.5-rolling-202410210007", Train.CIRCINUS), ("VyOS 2025.01.10-0020-rolling", Train.CURRENT),
    ("VyOS 1.2.9-S1", None), ("VyOS 999", None), ("", None)])
def test_train_of_version(version: str, train: Train | None) -> None:
    assert train_of(version) == train


@pytest.mark.parametrize("release", sorted(FORMS))
def test_reads_leases_and_neighbours_of_each_release(release: str, sim: Any) -> None:
    with sim("vyos", release=release) as device, connect(device) as driver:
        state = driver.read_state()
        assert {str(lease.address) for lease in state.leases} == {"192.168.1.100", "192.168.1.101", "192.168.1.102"}
        assert {str(n.address) for n in state.neighbours} == set(device.handle.router.arp)
        assert state.scope is not None and any(r.name == "printer" for r in state.scope.reservations)
