"""Field reports 6 and 7: a refused configuration line stops the block there, no line ever runs in a mode it was
not written for, and ``write memory`` runs once per successful run and never after a rollback (IOS keeps running
the lines typed after a refused one: docs/facts/cisco_ios.md)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import routerfix
from routerfix.errors import DeviceError

from .conftest import connect

INVALID = "                 ^\n% Invalid input detected at '^' marker.\n"
CONFIG_WORDS = ("ip ", "no ", "remark ", "host ", "hardware-address ", "exit", "end")


def _wrong_mode(router: Any) -> list[str]:
    """Configuration lines that ran at the exec prompt (``end`` there is a host name: a DNS lookup)."""
    return [line for mode, line in router.history if mode == "exec" and line.startswith(CONFIG_WORDS)]


@pytest.mark.parametrize("refused", [
    "ip access-list standard routerfix-sip",  # a mode-entering line: what follows would run in (config)
    # typed together with the ACL's "exit" before it: refused, the block still stops there
    "ip nat inside source static tcp 192.168.1.198 5060 interface GigabitEthernet0/0 5060",
    "hardware-address 0200.5ec0.5060",  # the block's last line (the pool's "exit" is left to "end")
    "ip nat inside source static tcp 192.168.1.198 5061 interface GigabitEthernet0/0 5061",
    "ip dhcp pool routerfix-sink",
    "no ip nat service sip tcp port 5060",
])
def test_a_refused_line_stops_the_block_and_nothing_runs_in_the_wrong_mode(refused: str, sim: Any) -> None:
    with sim("cisco_ios") as device, connect(device) as driver:
        router = device.handle.router
        before, startup = router.render(), router.render(router.startup)
        router.refuse[refused] = INVALID
        with pytest.raises(DeviceError) as caught:
            routerfix.apply_ghostcall_mitigation(driver)
        assert caught.value.device_message == "% Invalid input detected at '^' marker."
        assert not _wrong_mode(router), f"ran in the wrong mode: {_wrong_mode(router)}"
        lines = [line for _, line in router.history]
        at = lines.index(refused)
        assert lines[at + 1] == "end", f"the block went on after the refused line: {lines[at + 1:at + 4]}"
        assert router.render() == before, "the device is not as it was"
        assert router.render(router.startup) == startup
        assert "write memory" not in device.handle.device.commands, "a rolled-back run saved the configuration"


LABELS = [f"remark routerfix-sip-{proto}-{port} {proto} 192.168.1.198 {port} GigabitEthernet0/0 {port}"
          for proto in ("tcp", "udp") for port in (5060, 5061)]


@pytest.mark.parametrize("refused", [LABELS[0], LABELS[2], LABELS[3]])
def test_a_refused_label_stops_the_block_before_any_forward(refused: str, sim: Any) -> None:
    """The forwards' labels (remarks of routerfix-sip) are typed together (F11, F25): a refused one leaves the
    ACL mode as it was, the labels after it run there, and nothing after them is sent: no static NAT line is
    typed before its label is seen accepted. The put-back removes the labels that landed."""
    with sim("cisco_ios") as device, connect(device) as driver:
        router = device.handle.router
        before = router.render()
        router.refuse[refused] = INVALID
        with pytest.raises(DeviceError):
            routerfix.apply_ghostcall_mitigation(driver)
        lines = [line for _, line in router.history]
        assert [mode for mode, line in router.history if line in LABELS] == ["config-std-nacl"] * 4
        end = lines.index("end", lines.index(refused))
        assert lines[lines.index(LABELS[0]):end] == LABELS, "something other than the labels ran before end"
        assert not any(line.startswith("ip nat inside source static") for line in lines)
        assert not _wrong_mode(router)
        assert router.render() == before, "the device is not as it was"
        assert "write memory" not in device.handle.device.commands


def test_a_rolled_back_run_does_not_save_the_operators_unsaved_change(sim: Any) -> None:
    with sim("cisco_ios") as device, connect(device) as driver:
        router = device.handle.router
        router.add("ip route 10.9.0.0 255.255.0.0 192.168.1.254")  # the operator's change, not saved
        router.refuse["ip dhcp pool routerfix-sink"] = INVALID
        with pytest.raises(DeviceError):
            routerfix.apply_ghostcall_mitigation(driver)
        assert "ip route 10.9.0.0" not in router.render(router.startup)
        assert "write memory" not in device.handle.device.commands


def test_one_configuration_block_and_one_save_per_run(sim: Any, caplog: pytest.LogCaptureFixture) -> None:
    with sim("cisco_ios") as device:
        router = device.handle.router
        with connect(device) as driver, caplog.at_level(logging.WARNING, logger="routerfix.drivers.cisco_ios"):
            result = routerfix.apply_ghostcall_mitigation(driver)
            assert result.status == "mitigated" and len(result.applied) == 7  # the undo marker first
        mine = [r for r in caplog.records if r.name.startswith("routerfix")]  # not paramiko's threads of other tests
        assert not mine, "warned of unsaved changes where running and startup were the same"
        sent = device.handle.device.commands
        assert sent.count("configure terminal revert timer 10") == 1 and sent.count("write memory") == 1
        assert sent.index("write memory") > sent.index("configure confirm") > max(
            i for i, c in enumerate(sent) if c == "end")
        assert router.render() == router.render(router.startup), "the change is not saved"
        device.handle.device.clear_records()
        with connect(device) as driver:
            assert routerfix.remove_ghostcall_mitigation(driver).status == "undone"
        sent = device.handle.device.commands
        assert sent.count("configure terminal revert timer 10") == 1 and sent.count("write memory") == 1
        assert router.render() == router.render(router.startup)


def test_unsaved_changes_from_before_the_run_are_warned_about_before_writing(sim: Any,
                                                                             caplog: pytest.LogCaptureFixture
                                                                             ) -> None:
    with sim("cisco_ios") as device, connect(device) as driver:
        router = device.handle.router
        router.add("ip route 10.9.0.0 255.255.0.0 192.168.1.254")  # the operator's change, not saved
        with caplog.at_level(logging.WARNING, logger="routerfix.drivers.cisco_ios"):
            assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
        warned = [r for r in caplog.records if "startup-config" in r.getMessage()]
        assert warned, "no warning that write memory also saves changes made before this run"
        assert "ip route 10.9.0.0" in router.render(router.startup)


def test_a_run_with_nothing_to_do_saves_nothing(sim: Any) -> None:
    with sim("cisco_ios") as device:
        with connect(device) as driver:
            routerfix.apply_ghostcall_mitigation(driver)
        device.handle.device.clear_records()
        with connect(device) as driver:
            assert routerfix.apply_ghostcall_mitigation(driver).status == "unchanged"
        assert "write memory" not in device.handle.device.commands
