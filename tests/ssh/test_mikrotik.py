"""The MikroTik driver against its RouterOS simulator (v6 and v7): commands sent, end state, faults, CLI."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost

import routerfix
from routerfix.driver import Driver
from routerfix.errors import DeviceError, ForwardConflict, RouterfixError
from routerfix.simulate import SimulatedDevice, simulate
from routerfix.testing import DriverConformance

from .conftest import connect

DRIVER = "mikrotik"
"""What the ``sim`` fixture starts."""

V7, V6 = "7.16.2", "6.49.10"


def snapshot(device: SimulatedDevice) -> Any:
    """Everything the mitigation may touch, ids aside."""
    state = device.handle.model
    return (state.nat_rules(), state.service("sip").disabled,
            sorted((i.props["address"], i.props["mac-address"], i.props.get("comment", ""))
                   for i in state.items("ip dhcp-server lease") if not i.dynamic))


def writes_sent(device: SimulatedDevice, start: int) -> list[str]:
    return [re.sub(r"RFX[0-9a-f]{10}", "RFX", c) for c in device.handle.commands[start:]]


class TestMikrotikV7Conformance(DriverConformance):
    """Against the ``sim`` device (the folder's ``driver`` fixture)."""


class TestMikrotikV6Conformance(DriverConformance):
    @pytest.fixture
    def driver(self, ssh_host: SSHSimulatorHost) -> Iterator[Driver]:
        with simulate("mikrotik", host=ssh_host, version=V6) as device, connect(device) as d:
            yield d


def test_exact_commands_for_the_office_v7(sim: SimulatedDevice) -> None:
    """Three round trips (M5): every read on one line; every write on one line with the read-back and the SIP
    connection print after it; the removal of the inbound flows. Safe Mode keys (M40) besides."""
    with connect(sim) as driver:
        start = len(sim.handle.commands)
        result = routerfix.apply_ghostcall_mitigation(driver)
        assert driver.round_trips == 3  # type: ignore[attr-defined]
    assert result.status == "mitigated" and str(result.plan.sink) == "192.168.88.252"
    read, line, flush = [c for c in writes_sent(sim, start) if c != "quit"]
    assert read.startswith("/system resource print; ")
    commands = re.split(r'; :put "RFX-\d+"(?:; |$)', line)[:-1]
    assert commands[0].startswith('/file add name="flash/routerfix-undo.txt" contents="')  # the undo marker (M80)
    commands = commands[1:]
    assert commands[:6] == [
        '/ip firewall nat add chain=dstnat action=dst-nat protocol=tcp dst-port=5060-5061 in-interface-list="WAN" '
        'to-addresses=192.168.88.252 to-ports=5060-5061 comment="routerfix-sip-tcp" place-before=0',
        '/ip firewall nat add chain=dstnat action=dst-nat protocol=udp dst-port=5060-5061 in-interface-list="WAN" '
        'to-addresses=192.168.88.252 to-ports=5060-5061 comment="routerfix-sip-udp" place-before=0',
        '/ip dhcp-server lease add address=192.168.88.252 mac-address=02:00:5E:C0:50:60 server="defconf" '
        'comment="routerfix-sink"',
        '/ip firewall nat set 1 disabled=yes comment="routerfix-off|"',
        '/ip firewall nat set 2 disabled=yes comment="routerfix-off|"',
        "/ip firewall service-port set sip disabled=yes",
    ]
    assert all(" print terse " in c for c in commands[6:-2])
    assert "/ip firewall nat print terse without-paging" in commands
    assert commands[-2].startswith(  # its read-back, guarded (M83)
        ':do {:foreach f in=[/file find where name="flash/routerfix-undo.txt"]')
    assert commands[-1] == '/ip firewall connection print terse without-paging where dst-port~"^(5060|5061)\\$"'
    assert flush == "/ip firewall connection remove 0"
    assert len(line) <= 2400


@pytest.mark.parametrize("sim", [{"version": V7}, {"version": V6}], indirect=True, ids=["v7", "v6"])
def test_end_state_idempotence_and_undo(sim: SimulatedDevice) -> None:
    before = copy.deepcopy(snapshot(sim))
    state = sim.handle.model
    with connect(sim) as driver:
        result = routerfix.apply_ghostcall_mitigation(driver)
        assert result.status == "mitigated"
        rules = state.nat_rules()
        assert sorted(r.get("comment") for r in rules[:2]) == ["routerfix-sip-tcp", "routerfix-sip-udp"], "first"
        for rule in rules[:2]:
            assert rule["in-interface-list"] == "WAN" and rule["to-addresses"] == str(result.plan.sink)
        assert state.service("sip").disabled is True
        assert any(i.props.get("comment") == "routerfix-sink" and i.props["mac-address"] == "02:00:5E:C0:50:60"
                   for i in state.items("ip dhcp-server lease"))
        if state.v7:
            assert all(r["disabled"] == "yes" for r in rules if r["action"] == "endpoint-independent-nat")
        assert not any(c["src-address"] == "198.51.100.166" for c in
                       (i.props for i in state.items("ip firewall connection"))), "inbound scan flushed"
        assert any(c["src-address"] == "192.168.88.254" for c in
                   (i.props for i in state.items("ip firewall connection"))), "the phone's own flow kept"
        driver.writes = 0
        again = routerfix.apply_ghostcall_mitigation(driver)
        assert again.status == "unchanged" and driver.writes == 0
        undone = routerfix.remove_ghostcall_mitigation(driver, record=result.to_dict())
        assert undone.status == "undone"
    assert snapshot(sim) == before


@pytest.mark.parametrize("sim", [{"scenario": "pbx"}], indirect=True)
def test_existing_sip_forward_is_a_conflict(sim: SimulatedDevice) -> None:
    with connect(sim) as driver:
        with pytest.raises(ForwardConflict):
            routerfix.apply_ghostcall_mitigation(driver)
        forwards = driver.list_port_forwards()
        assert [f.name for f in forwards] == ["PBX SIP"]
        result = routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True)
        assert result.status == "mitigated"
        assert "PBX SIP" not in [f.name for f in driver.list_port_forwards()]


def test_device_errors_are_raised_with_the_device_words(sim: SimulatedDevice) -> None:
    with connect(sim) as driver:
        assert isinstance(driver, routerfix.get_driver("mikrotik"))
        with pytest.raises(DeviceError) as info:
            driver.send("/ip firewal nat print")  # type: ignore[attr-defined]
        assert info.value.device_message == "bad command name firewal (line 1 column 5)"
        with pytest.raises(DeviceError) as info:
            driver.send("/ip firewall nat print bogus")  # type: ignore[attr-defined]
        assert info.value.device_message == "expected end of command (line 1 column 24)"
        with pytest.raises(DeviceError) as info:
            driver.send("/ip firewall nat remove 99")  # type: ignore[attr-defined]
        assert info.value.device_message == "no such item"
        with pytest.raises(DeviceError) as info:
            driver.send_many(["/system identity print", "/ip pool frob", "/system identity print"])  # type: ignore[attr-defined]
        assert "bad command name frob" in info.value.device_message


def test_username_suffix_prompt_and_state_across_sessions(sim: SimulatedDevice) -> None:
    with connect(sim) as driver:
        driver.send("/ip firewall nat add chain=dstnat action=dst-nat protocol=udp dst-port=7000 "  # type: ignore[attr-defined]
                    "to-addresses=192.168.88.30 comment=kept")
        assert driver.session.last_prompt == "[admin@MikroTik] >"  # type: ignore[attr-defined]
        driver.send("/ip firewall nat")  # type: ignore[attr-defined]
        assert driver.session.last_prompt == "[admin@MikroTik] /ip firewall nat>"  # type: ignore[attr-defined]
    with connect(sim) as driver:
        assert "kept" in [f.name for f in driver.list_port_forwards()]
    assert sim.handle.logins == 2


def test_log_lines_in_output_are_ignored(sim: SimulatedDevice) -> None:
    sim.handle.model.log_lines = True
    with connect(sim) as driver:
        state = driver.read_state()
    assert len(state.leases) == 3 and state.scope is not None


@pytest.mark.parametrize("executes", [False, True], ids=["lost-before", "landed-then-lost"])
def test_a_drop_at_each_step_leaves_the_device_mitigated_or_as_before(ssh_host: SSHSimulatorHost,
                                                                      executes: bool) -> None:
    with simulate("mikrotik", host=ssh_host) as probe, connect(probe) as driver:
        start = probe.handle.commands_seen
        routerfix.apply_ghostcall_mitigation(driver)
        steps = probe.handle.commands_seen - start
    assert steps >= 3
    outcomes = set()
    for step in range(1, steps + 1):
        with simulate("mikrotik", host=ssh_host) as device:
            before = copy.deepcopy(snapshot(device))
            with connect(device) as driver:
                device.handle.drop_after(step, executes=executes)
                try:
                    result = routerfix.apply_ghostcall_mitigation(driver)
                    outcome = result.status
                except RouterfixError:
                    outcome = "failed"
            if outcome == "failed":
                assert snapshot(device) == before, f"drop at step {step} left a half-applied device"
            else:
                assert outcome == "mitigated"
                with connect(device) as check:
                    assert routerfix.apply_ghostcall_mitigation(check).status == "unchanged", f"step {step}"
            outcomes.add(outcome)
    assert "mitigated" in outcomes


def test_cli_mitigate_against_the_simulator(sim: SimulatedDevice, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from routerfix.cli import main

    monkeypatch.setenv("ROUTERFIX_PASSWORD", sim.password)
    code = main(["mitigate", "-d", "mikrotik", "-H", sim.host, "--port", str(sim.port), "-u", sim.username,
                 "--no-prompt", "-o", f"host_key_fingerprint={sim.options['host_key_fingerprint']}", "--yes",
                 "--json", "--state-dir", str(tmp_path)])
    assert code == 0
    first = sorted(r.get("comment") for r in sim.handle.model.nat_rules()[:2])
    assert first == ["routerfix-sip-tcp", "routerfix-sip-udp"]
