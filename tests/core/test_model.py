"""Value types validate and normalise; names that reach a device are injection-proof."""

from __future__ import annotations

import ipaddress
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import routerfix
from routerfix import AddressRange, DhcpScope, Lease, NatMode, PortForward, PortRange, Protocol, Reservation
from routerfix.model import DEVICE_NAME_MAX, check_device_name, normalise_mac

SAFE = set(string.ascii_letters + string.digits + "_.-")

HOSTILE = ["a\nb", "x;reboot", "rule[1]", 'a"b', "a'b", "<b>x</b>", "$(id)", "`id`", "a b", "a|b", "a&b",
           "rule\r", "ｒｏｕｔｅｒ", "routеr", "", "-leading", "a" * (DEVICE_NAME_MAX + 1), "a\x00b", "a\\b",
           "a/b", "a{b}", "a>b", "%0a", "a,b"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(routerfix.InvalidValue) as info:
        check_device_name(name, "forward name")
    assert info.value.field == "forward name"
    assert isinstance(info.value, ValueError) and isinstance(info.value, routerfix.RouterfixError)
    assert "expected" in str(info.value)


@given(st.text(max_size=40))
@settings(max_examples=500)
def test_only_the_safe_set_passes(name: str) -> None:
    ok = bool(name) and len(name) <= DEVICE_NAME_MAX and set(name) <= SAFE and name[0].isalnum()
    if ok:
        assert check_device_name(name) == name
    else:
        with pytest.raises(routerfix.InvalidValue):
            check_device_name(name)


def test_add_port_forward_refuses_hostile_names_before_any_io() -> None:
    with routerfix.connect("memory", "inj", password="admin") as d:
        for name in HOSTILE:
            with pytest.raises(routerfix.InvalidValue):
                d.add_port_forward(PortForward(name, "udp", 5060, "192.168.1.9"))
        with pytest.raises(routerfix.InvalidValue):
            d.reserve_address(Reservation("192.168.1.9", "02:00:00:00:00:09", "bad;name"))
        assert d.writes == 0


@pytest.mark.parametrize(("value", "field"), [
    (0, "external_ports"), (65536, "external_ports"), ("5061-5060", "external_ports"), ("abc", "external_ports"),
    (True, "external_ports"), ("5060-", "external_ports"),
])
def test_bad_ports_name_the_field(value: object, field: str) -> None:
    with pytest.raises(routerfix.InvalidValue) as info:
        PortForward("x", "udp", value, "192.168.1.9")  # type: ignore[arg-type]
    assert info.value.field == field


def test_bad_address_and_protocol_and_mac() -> None:
    with pytest.raises(routerfix.InvalidValue, match="internal_address"):
        PortForward("x", "udp", 5060, "192.168.1.300")
    with pytest.raises(routerfix.InvalidValue, match="protocol"):
        PortForward("x", "icmp", 5060, "192.168.1.3")
    with pytest.raises(routerfix.InvalidValue, match="lease mac"):
        Lease("192.168.1.3", "00:11:22:33:44")
    with pytest.raises(routerfix.InvalidValue, match="internal_ports"):
        PortForward("x", "udp", "5060-5061", "192.168.1.3", "7000-7009")


def test_normalisation() -> None:
    f = PortForward("x", "TCP/UDP", "5060-5061", "192.168.1.9")
    assert f.protocol is Protocol.BOTH and f.external_ports == PortRange(5060, 5061) and f.internal_ports == \
        f.external_ports
    assert normalise_mac("00-04-F2-AA-BB-CC") == normalise_mac("0004.f2aa.bbcc") == "00:04:f2:aa:bb:cc"
    assert NatMode.parse("Secure") is NatMode.SECURE
    assert PortRange.parse("5060") == PortRange(5060) and str(PortRange(5060, 5061)) == "5060-5061"


def test_values_are_immutable() -> None:
    f = PortForward("x", "udp", 5060, "192.168.1.9")
    with pytest.raises(AttributeError):
        f.name = "y"  # type: ignore[misc]


def test_scope_pool_must_be_inside_the_network() -> None:
    with pytest.raises(routerfix.InvalidValue, match="pools"):
        DhcpScope("192.168.1.0/24", "192.168.1.1", (AddressRange("192.168.2.10", "192.168.2.20"),))
    scope = DhcpScope("192.168.1.0/24", "192.168.1.1", (AddressRange("192.168.1.10", "192.168.1.20"),))
    assert scope.in_pool(ipaddress.IPv4Address("192.168.1.15")) and not scope.in_pool(
        ipaddress.IPv4Address("192.168.1.21"))


def test_text_read_from_devices_loses_control_characters() -> None:
    lease = Lease("192.168.1.3", "00:11:22:33:44:55", "evil\x1b[2Jname\n")
    assert lease.hostname == "evil[2Jname"


def test_unknown_driver_option_is_named() -> None:
    with pytest.raises(routerfix.InvalidValue, match="option: 'scenaro'"):
        routerfix.connect("memory", "x", scenaro="office")
    with pytest.raises(routerfix.InvalidValue, match="host"):
        routerfix.connect("memory", "bad host", password="admin")
    with pytest.raises(routerfix.InvalidValue, match="port"):
        routerfix.connect("memory", "h", port=70000)


def test_device_text_loses_bidirectional_overrides_as_well_as_control_characters() -> None:
    """A right-to-left override (U+202E) or an isolate (U+2066-2069) in a name a device sent would reorder how a
    terminal or a page shows what follows it ("Trojan Source"): removed like any control character."""
    from routerfix.model import clean_device_text, without_controls

    tricky = "sip\u202egnp.exe\u2066x\u2069\x1b[2J"
    assert clean_device_text(tricky) == "sipgnp.exex[2J"
    assert without_controls(tricky) == "sipgnp.exex[2J"
