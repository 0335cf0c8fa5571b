"""The Linux (nftables + dnsmasq) driver against its Debian router simulator."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest

import routerfix
from routerfix.driver import Driver
from routerfix.errors import ForwardConflict, RouterfixError
from routerfix.model import Feature
from routerfix.simulate import SimulatedDevice, simulate
from routerfix.simulator.ssh import SSHSimulatorHost
from routerfix.testing import DriverConformance

from .conftest import connect

DRIVER = "linux"
"""What the ``sim`` fixture starts."""

SCANNER = "198.51.100.166"


def snapshot(device: SimulatedDevice) -> Any:
    router = device.handle.model
    return router.render(), router.files.get("/etc/dnsmasq.hosts")


class TestLinuxConformance(DriverConformance):
    @pytest.fixture
    def driver(self, sim: SimulatedDevice) -> Iterator[Driver]:
        with connect(sim) as d:
            yield d


class TestLinuxPackagedConformance(DriverConformance):
    @pytest.fixture
    def driver(self, ssh_host: SSHSimulatorHost) -> Iterator[Driver]:
        with simulate("linux", host=ssh_host, scenario="packaged") as device, connect(device) as d:
            yield d


def test_exact_commands(sim: SimulatedDevice) -> None:
    with connect(sim) as driver:
        start = len(sim.handle.commands)
        result = routerfix.apply_ghostcall_mitigation(driver)
    assert result.status == "mitigated" and str(result.plan.sink) == "192.168.88.250"
    sent = [re.sub(r"RFX[0-9a-f]{10}", "RFX", c) for c in sim.handle.commands[start:] if c != "exit"]
    assert sent[0] == ("uname -nr; echo RFX-0 $?; nft -j list ruleset 2>/dev/null; echo RFX-1 $?; ip -4 -o addr show; "
                       "echo RFX-2 $?; ip -4 route show default; echo RFX-3 $?; ip -4 neigh show; echo RFX-4 $?; "
                       "pidof dnsmasq || true; echo RFX-5 $?")
    assert sent[1] == "tr '\\0' '\\n' < /proc/812/cmdline"
    writes = [c for c in sent if c.startswith(("nft '", "printf", "conntrack")) or "kill -HUP" in c]
    assert writes[0] == (
        "nft 'add table ip routerfix; add chain ip routerfix dstnat { type nat hook prerouting priority dstnat - 10; "
        "policy accept; }; add rule ip routerfix dstnat iifname \"wan0\" meta l4proto { tcp, udp } th dport "
        "5060-5061 dnat to 192.168.88.250 comment \"routerfix-sip\"'")
    assert writes[1] == ("printf '%s\\n' 02:00:5e:c0:50:60,192.168.88.250,routerfix-sink >> /etc/dnsmasq.hosts; "
                         "echo RFX-0 $?; kill -HUP 812; echo RFX-1 $?")
    assert writes[2].startswith("conntrack -D -p udp --orig-dst 203.0.113.2 --orig-port-dst 5060 2>&1 || true")
    assert "add element ip routerfix sip_scanners { 198.51.100.166 }" in writes[3]
    assert "conntrack -D -p udp --orig-dst 198.51.100.166 2>&1 || true" in writes[3]


def test_end_state_idempotence_and_undo(sim: SimulatedDevice) -> None:
    router = sim.handle.model
    before = copy.deepcopy(snapshot(sim))
    with connect(sim) as driver:
        result = routerfix.apply_ghostcall_mitigation(driver)
        assert result.status == "mitigated"
        table = router.table("ip", "routerfix")
        assert table.chains["dstnat"].base["prio"] == -110, "runs before the other dstnat chains (-100)"
        assert router.forwards_text()[0] == ('iifname "wan0" meta l4proto { tcp, udp } th dport 5060-5061 '
                                             'dnat to 192.168.88.250 comment "routerfix-sip"')
        assert "02:00:5e:c0:50:60,192.168.88.250,routerfix-sink" in router.loaded_hosts, "dnsmasq reloaded"
        assert router.reloads == 1
        assert result.flushed == 2
        assert not router.scanner_reaches_phone(SCANNER)
        assert any(e["dst"] == "198.51.100.10" for e in router.conntrack), "registrar flow untouched"
        driver.writes = 0
        again = routerfix.apply_ghostcall_mitigation(driver)
        assert again.status == "unchanged" and driver.writes == 0
        undone = routerfix.remove_ghostcall_mitigation(driver, record=result.to_dict())
        assert undone.status == "undone"
    assert snapshot(sim) == before
    assert router.table("ip", "routerfix") is None


def test_finding_8_a_late_answer_cannot_reopen_the_path(sim: SimulatedDevice) -> None:
    router = sim.handle.model
    router.phone_answers("192.168.88.100", SCANNER)  # before the fix: the reply path exists
    assert router.scanner_reaches_phone(SCANNER)
    with connect(sim) as driver:
        routerfix.apply_ghostcall_mitigation(driver)
    assert not router.scanner_reaches_phone(SCANNER)
    router.phone_answers("192.168.88.100", SCANNER)  # the phone answers late, after the flush
    assert not router.scanner_reaches_phone(SCANNER), "the guard maps flows to scanners off WAN:5060"


def test_packaged_dnsmasq_is_discovered_from_its_files(ssh_host: SSHSimulatorHost) -> None:
    with simulate("linux", host=ssh_host, scenario="packaged") as device, connect(device) as driver:
        state = driver.read_state()
        assert state.scope is not None and str(state.scope.pools[0]) == "192.168.88.100-192.168.88.250"
        assert {str(r.address) for r in state.scope.reservations} == {"192.168.88.240", "192.168.88.120"}
        assert len(state.leases) == 3


def test_without_hostsfile_no_reservation_is_promised(ssh_host: SSHSimulatorHost) -> None:
    with simulate("linux", host=ssh_host, scenario="no-hostsfile") as device, connect(device) as driver:
        driver.read_state()
        assert Feature.DHCP_RESERVATION not in driver.capabilities
        result = routerfix.apply_ghostcall_mitigation(driver)
        assert result.status == "mitigated"
        assert any("cannot reserve" in w for w in result.plan.warnings)


@pytest.mark.parametrize("sim", [{"scenario": "pbx"}], indirect=True)
def test_existing_forward_is_a_conflict_and_can_be_replaced(sim: SimulatedDevice) -> None:
    with connect(sim) as driver:
        with pytest.raises(ForwardConflict):
            routerfix.apply_ghostcall_mitigation(driver)
        result = routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True)
        assert result.status == "mitigated"
    assert "pbx" not in sim.handle.model.render()


def test_backup_and_restore_cover_our_table_and_hostsfile(sim: SimulatedDevice) -> None:
    with connect(sim) as driver:
        routerfix.apply_ghostcall_mitigation(driver)
        saved = driver.backup()
        mitigated = copy.deepcopy(snapshot(sim))
        routerfix.remove_ghostcall_mitigation(driver)
        assert snapshot(sim) != mitigated
        driver.restore(saved)
    render, hosts = snapshot(sim)
    assert hosts == mitigated[1]
    assert render.replace("198.51.100.166 expires 59m59s", "") == mitigated[0].replace(
        "198.51.100.166 expires 59m59s", "")


@pytest.mark.parametrize("executes", [False, True], ids=["lost-before", "landed-then-lost"])
def test_a_drop_at_each_step_leaves_the_device_mitigated_or_as_before(ssh_host: SSHSimulatorHost,
                                                                      executes: bool) -> None:
    with simulate("linux", host=ssh_host) as probe, connect(probe) as driver:
        start = probe.handle.commands_seen
        routerfix.apply_ghostcall_mitigation(driver)
        steps = probe.handle.commands_seen - start
    assert steps >= 5
    for step in range(1, steps + 1):
        with simulate("linux", host=ssh_host) as device:
            before = copy.deepcopy(snapshot(device))
            with connect(device) as driver:
                device.handle.drop_after(step, executes=executes)
                try:
                    outcome = routerfix.apply_ghostcall_mitigation(driver).status
                except RouterfixError:
                    outcome = "failed"
            if outcome == "failed":
                assert snapshot(device) == before, f"drop at step {step} left a half-applied device"
            else:
                assert outcome == "mitigated"
                with connect(device) as check:
                    assert routerfix.apply_ghostcall_mitigation(check).status == "unchanged", f"step {step}"
