"""MikroTik: every name is written as a RouterOS string (docs/facts/mikrotik.md M43), and a customer's forward goes
back under its own name, byte for byte, when every print shows it back (M44); other names fall back to a safe one."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost
from routerfix.simulators.mikrotik.device import default_state

import routerfix
from routerfix.driver import Driver
from routerfix.engine import _restore_forward
from routerfix.errors import DeviceError, InvalidValue
from routerfix.model import PortForward
from routerfix.simulate import SimulatedDevice, simulate

from .conftest import connect

V7, V6 = "7.16.2", "6.49.10"
NAMES = ("PBX SIP", 'say "hi"', "cost $5 or $HOME", "C:\\voip\\", "what? a;b [x] {y} #z", "50% off, 'ok'=yes")
"""Spaces, quotes, ``$`` (a variable if unescaped), backslashes, ``?`` (the help key if unescaped), ``;`` and
brackets: all written verbatim and read back (v6 quoted, v7 unquoted)."""
REFUSED = ("PBX\tSIP", "line\nbreak", " lead", "trail ", '"quoted" start', "key after a=b c", "caf\u00e9", "x" * 65, "")


@pytest.fixture(scope="module", params=[V7, V6], ids=["v7", "v6"])
def router(ssh_host: SSHSimulatorHost, request: pytest.FixtureRequest) -> Iterator[SimulatedDevice]:
    """One pbx router per RouterOS layout for the module (``PBX SIP`` forwards 5060/udp)."""
    with simulate("mikrotik", host=ssh_host, version=request.param, scenario="pbx") as device:
        yield device


def test_ros_quote_escapes_what_the_console_would_interpret() -> None:
    from routerfix.drivers.mikrotik.strings import ros_quote

    assert ros_quote('a "b" \\c $d ?e;[f]') == '"a \\"b\\" \\\\c \\$d \\?e;[f]"'
    with pytest.raises(InvalidValue):
        ros_quote("a\x18b")  # Ctrl-X would take Safe Mode


def test_names_that_would_not_come_back_verbatim_are_refused() -> None:
    driver = routerfix.get_driver("mikrotik")("192.0.2.1")
    for name in NAMES:
        assert driver.check_restore_name(name) == name
    for name in REFUSED:
        with pytest.raises(InvalidValue):
            driver.check_restore_name(name)
    assert _restore_forward(driver, PortForward("PBX\ufffdSIP", "udp", 5060, "192.168.88.10")).forward.name == \
        "PBX_SIP", "the engine falls back to the device-safe name"


def test_simulator_reads_strings_as_the_manual_says(router: SimulatedDevice) -> None:
    with connect(router) as driver:
        send = driver.send  # type: ignore[attr-defined]
        assert send(':put "a\\$b \\?c\\_d\\41 \\"e\\" \\\\f"').strip() == 'a$b ?c dA "e" \\f'
        assert send(':put "cost $HOME?"').strip() == "cost", "an unescaped $ names a variable, ? asks for help"
        with pytest.raises(DeviceError):
            send(':put "\\z"')


def test_names_round_trip_byte_for_byte(router: SimulatedDevice) -> None:
    forwards = [PortForward(name, "udp", 7100 + i, "192.168.88.30") for i, name in enumerate(NAMES)]
    with connect(router) as driver:
        for forward in forwards:
            driver.restore_port_forward(forward)
        read = {f.name for f in driver.list_port_forwards()}
        comments = {r.get("comment") for r in router.handle.model.nat_rules()}
        for forward in forwards:
            driver.remove_port_forward(forward)
        left = {f.name for f in driver.list_port_forwards()}
    assert set(NAMES) <= comments, "stored on the device as written"
    assert set(NAMES) <= read, "and read back the same"
    assert not {f.key() for f in forwards} & left, "and removed by content"


def _undo_after_replace(driver: Driver) -> None:
    result = routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True)
    assert result.status == "mitigated"
    undone = routerfix.remove_ghostcall_mitigation(driver, record=result.to_dict())
    assert undone.status == "undone"


@pytest.mark.parametrize("version", [V7, V6], ids=["v7", "v6"])
def test_undo_after_replace_conflicting_puts_pbx_sip_back_exactly(ssh_host: SSHSimulatorHost,
                                                                  version: str) -> None:
    with simulate("mikrotik", host=ssh_host, version=version, scenario="pbx") as device:
        before = copy.deepcopy(device.handle.model.nat_rules())
        with connect(device) as driver:
            _undo_after_replace(driver)
        after = device.handle.model.nat_rules()
    assert [r.get("comment") for r in after if r["action"] == "dst-nat"] == ["PBX SIP"]
    assert sorted(sorted(r.items()) for r in after) == sorted(sorted(r.items()) for r in before), \
        "every rule as it was (a restored one goes first)"


def test_a_name_with_a_control_character_goes_back_under_a_safe_name(ssh_host: SSHSimulatorHost) -> None:
    state = default_state(V7, "pbx")
    rule = next(i for i in state.items("ip firewall nat") if i.props.get("comment") == "PBX SIP")
    rule.props["comment"] = "PBX\tSIP"
    with simulate("mikrotik", host=ssh_host, state=state) as device, connect(device) as driver:
        _undo_after_replace(driver)
    assert [r.get("comment") for r in state.nat_rules() if r["action"] == "dst-nat"] == ["PBX_SIP"]
