"""End state through the simulators: forwards present (WAN-only, named), sink reserved, SIP ALG off, saved so it
survives a reboot; a rerun sends no write; undo from the saved record restores the configuration exactly; the
conformance kit passes; a PBX forward is refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import routerfix
from routerfix.driver import Driver
from routerfix.errors import ForwardConflict
from routerfix.planner import RULE_PREFIX, SINK_MAC, SINK_NAME
from routerfix.testing import DriverConformance

from .conftest import PLATFORMS, config_text, connect, persisted

SINKS = {"cisco_ios": "192.168.1.198", "vyos": "192.168.1.199", "edgeos": "192.168.1.243",
         "openwrt": "192.168.1.248"}
"""The sink each starting state leads to (Cisco/OpenWrt probe past a static host at the top of the pool)."""
RULES = {"cisco_ios": 4, "vyos": 1, "edgeos": 1, "openwrt": 1}


def device_side_facts(platform: str, handle: Any, sink: str) -> None:
    """Check the mitigation on the device's own state, not through the driver."""
    text = config_text(platform, handle)
    if platform == "cisco_ios":
        for proto in ("tcp", "udp"):
            for port in (5060, 5061):
                line = f"ip nat inside source static {proto} {sink} {port} interface GigabitEthernet0/0 {port}"
                assert line in text
                assert f" remark {RULE_PREFIX}-{proto}-{port} {proto} {sink} {port} GigabitEthernet0/0 {port}" in text
        assert f"ip dhcp pool {SINK_NAME}\n host {sink} 255.255.255.0\n hardware-address 0200.5ec0.5060" in text
        assert "no ip nat service sip udp port 5060" in text and "no ip nat service sip tcp port 5060" in text
    elif platform == "vyos":
        for line in ("set nat destination rule 1 description 'routerfix-sip'",
                     "set nat destination rule 1 inbound-interface name 'eth0'",
                     "set nat destination rule 1 destination port '5060-5061'",
                     "set nat destination rule 1 protocol 'tcp_udp'",
                     f"set nat destination rule 1 translation address '{sink}'",
                     f"static-mapping {SINK_NAME} mac-address '{SINK_MAC}'"):  # 1.4 sagitta
            assert line in text
        assert "conntrack modules sip" not in text
    elif platform == "edgeos":
        for line in ("set service nat rule 1 type destination", "set service nat rule 1 inbound-interface eth0",
                     "set service nat rule 1 description routerfix-sip",
                     f"set service nat rule 1 inside-address address {sink}",
                     f"static-mapping {SINK_NAME} mac-address {SINK_MAC}",
                     "set system conntrack modules sip disable"):
            assert line in text
    else:
        assert "config redirect 'routerfix_sip'" in text
        for option in ("option src 'wan'", "option target 'DNAT'", f"option dest_ip '{sink}'",
                       "option proto 'tcp udp'", "option src_dport '5060-5061'", f"option mac '{SINK_MAC}'",
                       "option auto_helper '0'"):
            assert option in text
        first_redirect = text.index("config redirect")
        assert text.index("config redirect 'routerfix_sip'") == first_redirect, "not placed first"
        assert any(s.id == "routerfix_sip" for s in handle.router.active_firewall), "firewall not reloaded"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_mitigate_rerun_undo(platform: str, sim: Any) -> None:
    with sim(platform) as device:
        before = config_text(platform, device.handle)
        with connect(device) as driver:
            result = routerfix.apply_ghostcall_mitigation(driver)
            assert result.status == "mitigated" and result.verified
            sink = str(result.plan.sink)
            assert sink == SINKS[platform]
            ours = [f for f in driver.list_port_forwards() if f.name.startswith(RULE_PREFIX)]
            assert len(ours) == RULES[platform] and all(f.wan_only for f in ours)
            assert driver.get_sip_alg() is False
            assert any(r.mac == SINK_MAC and str(r.address) == sink for r in driver.get_dhcp_scope().reservations)
        device_side_facts(platform, device.handle, sink)
        assert persisted(platform, device.handle), "the change would not survive a reboot"
        if platform != "cisco_ios":  # IOS translations cannot be told apart by direction: no flush (see notes)
            assert result.flushed == 2
            flows = device.handle.router.conntrack
            assert len(flows) == 1 and flows[0].src == "192.168.1.100", "the phone's own flow must survive"

        with connect(device) as driver:  # a new session (state persisted across logins)
            again = routerfix.apply_ghostcall_mitigation(driver)
            assert again.status == "unchanged" and not again.changed
            assert driver.writes == 0

        with connect(device) as driver:
            undone = routerfix.remove_ghostcall_mitigation(driver, record=result.to_dict())
            assert undone.status == "undone"
        assert config_text(platform, device.handle) == before, "undo did not restore the configuration exactly"
        assert persisted(platform, device.handle)
        with connect(device) as driver:
            assert routerfix.remove_ghostcall_mitigation(driver, record=result.to_dict()).changed is False


@pytest.mark.parametrize("platform", PLATFORMS)
def test_pbx_forward_is_a_conflict(platform: str, sim: Any) -> None:
    with sim(platform, "pbx") as device:
        before = config_text(platform, device.handle)
        with connect(device) as driver, pytest.raises(ForwardConflict) as caught:
            routerfix.apply_ghostcall_mitigation(driver)
        assert "192.168.1.10" in str(caught.value)
        assert config_text(platform, device.handle) == before


@pytest.mark.parametrize("platform", PLATFORMS)
def test_replace_conflicting_then_undo_puts_the_pbx_rule_back(platform: str, sim: Any) -> None:
    with sim(platform, "pbx") as device:
        with connect(device) as driver:
            before = routerfix.planner.managed_view(driver.read_state())
            result = routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True)
            assert result.status == "mitigated"
            assert not any(str(f.internal_address) == "192.168.1.10" for f in driver.list_port_forwards())
            routerfix.remove_ghostcall_mitigation(driver, record=result.to_dict())
            after = driver.read_state()
            assert any(str(f.internal_address) == "192.168.1.10" and f.protocol.value == "udp"
                       for f in after.forwards)
            assert len(routerfix.planner.managed_view(after)) == len(before)


def test_openwrt_without_conntrack_tool_declares_no_flush(sim: Any) -> None:
    with sim("openwrt", conntrack_tool=False) as device, connect(device) as driver:
        assert routerfix.Feature.FLUSH_CONNECTIONS not in driver.capabilities
        result = routerfix.apply_ghostcall_mitigation(driver)
        assert result.status == "mitigated" and result.flushed is None
        assert any("cannot clear connection tracking" in w for w in result.warnings)


class _Conformance(DriverConformance):
    platform = ""

    @pytest.fixture
    def driver(self, sim: Any) -> Iterator[Driver]:
        with sim(self.platform) as device, connect(device) as driver:
            yield driver


class TestCiscoConformance(_Conformance):
    """The kit against the IOS simulator."""

    platform = "cisco_ios"


class TestVyosConformance(_Conformance):
    """The kit against the VyOS simulator."""

    platform = "vyos"


class TestEdgeOsConformance(_Conformance):
    """The kit against the EdgeOS simulator."""

    platform = "edgeos"


class TestOpenWrtConformance(_Conformance):
    """The kit against the OpenWrt simulator."""

    platform = "openwrt"
