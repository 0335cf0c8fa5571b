"""Field reports from an acceptance run against stand-ins built from Netgear's GPL firmware, each a test.

The simulators follow docs/facts/netgear.md; the row numbers quoted below are rows of that table.
"""

from __future__ import annotations

from typing import Any

import pytest

import routerfix
from routerfix.errors import DeviceError
from routerfix.model import PortForward, PortRange, Protocol
from routerfix.transport.http import Page

from .conftest import connect


def _rules(device: Any) -> list[tuple[str, str, int, int, str]]:
    device.handle.settle()
    return [(r.name, r.proto, r.ext_start, r.ext_end, r.ip) for r in device.handle.config.rules]


# --- 1. net-cgi numbers forwardingArrayN from 1 to forward_array_num (facts: forwarding.htm rows) ---------------


def test_netcgi_rule_array_is_numbered_from_one() -> None:
    from routerfix.drivers.netgear import parsers

    page = Page("forwarding.htm", "", 200, "var forwardingArray1=\"Web TCP 8080 8080 80 80 192.168.1.20 0 0\";\n"
                                           "var forward_array_num=1;")
    (entry,) = parsers.parse_netcgi_entries(page)
    assert (entry.name, entry.first, entry.count, str(entry.external)) == ("Web", 1, 1, "8080")


def test_netcgi_existing_forward_show_plan_mitigate_undo(netgear: Any) -> None:
    from routerfix.simulators.netgear.state import Rule

    web = ("Web", "TCP", 8080, 8080, "192.168.1.20")
    with netgear("R7800", rules=[Rule("Web", "TCP", 8080, 8080, 80, 80, "192.168.1.20")]) as device:
        with connect(device) as router:
            assert [(f.name, str(f.external_ports)) for f in router.list_port_forwards()] == [("Web", "8080")]
            plan = routerfix.plan_ghostcall_mitigation(router)
            assert plan.actions[0].kind == "add_forward"
            first = routerfix.apply_ghostcall_mitigation(router)
            assert first.status == "mitigated" and first.verified
        assert _rules(device) == [web, ("routerfix-sip", "TCP/UDP", 5060, 5061, "192.168.1.254")]
        with connect(device) as router:
            assert routerfix.apply_ghostcall_mitigation(router).status == "unchanged"
            assert routerfix.remove_ghostcall_mitigation(router, record=first.to_dict()).status == "undone"
        assert _rules(device) == [web]


def test_netcgi_forward_added_to_an_empty_table_reads_back(netgear: Any) -> None:
    with netgear("R7800") as device:
        with connect(device) as router:
            assert routerfix.apply_ghostcall_mitigation(router).status == "mitigated"
        with connect(device) as router:  # a later run reads the page the first one left behind
            assert [f.name for f in router.list_port_forwards()] == ["routerfix-sip"]
        assert _rules(device) == [("routerfix-sip", "TCP/UDP", 5060, 5061, "192.168.1.254")]


# --- 2. net-cgi DMZ: the address is the variable dmzIpAddr inside loadvalue() (facts: net-cgi WAN rows) ---------


def test_dmz_server_and_igmp_survive_the_wan_post(netgear: Any, model: str) -> None:
    with netgear(model) as device:
        cfg = device.handle.config
        cfg.dmz_enable, cfg.dmz_ip, cfg.igmp_proxy = True, "192.168.1.50", True
        with connect(device) as router:
            result = routerfix.apply_ghostcall_mitigation(router)
            assert result.status == "mitigated" and result.verified
        device.handle.settle()
        assert (cfg.dmz_enable, cfg.dmz_ip, cfg.igmp_proxy, cfg.spi) == (True, "192.168.1.50", True, True)
        assert (cfg.nat_secured, cfg.sip_alg) == (False, False)


def test_netcgi_wan_post_carries_the_dmz_address(netgear: Any) -> None:
    with netgear("R7800") as device:
        cfg = device.handle.config
        cfg.dmz_enable, cfg.dmz_ip = True, "192.168.1.50"
        with connect(device) as router:
            router.set_sip_alg(False)
        (wan,) = [p.form for p in device.handle.server.recorded("POST") if p.form.get("submit_flag") == "wan"]
        assert (wan["dmz_value"], wan["dmz_ip"], wan["dmz_enable"]) == ("1", "192.168.1.50", "dmz_enable")
        assert [wan[f"dmzip{i}"] for i in range(1, 5)] == ["192", "168", "1", "50"]
        assert wan["igmp_value"] == "1" and wan["sipalg_value"] == "1" and wan["disable_sipalg"] == "disable_sipalg"


def test_netcgi_dmz_on_without_an_address_is_not_posted(netgear: Any) -> None:
    with netgear("R7800") as device:
        cfg = device.handle.config
        cfg.dmz_enable, cfg.dmz_ip = True, ""
        with connect(device) as router:
            with pytest.raises(routerfix.ParseError, match="DMZ"):
                router.set_sip_alg(False)
        assert device.handle.server.recorded("POST") == []


# --- 3. ACOS other admin: a page whose script goes to MNU_access_multiLogin2.htm (facts: ACOS multi-login rows) --


def test_acos_other_admin_is_recognised_and_nothing_is_written(netgear: Any) -> None:
    with netgear("R7000", other_admin=True) as device:
        with pytest.raises(routerfix.SessionError, match="another admin is logged in"):
            connect(device)
        assert device.handle.server.recorded("POST") == []
        assert device.handle.holder == "192.168.1.23"


def test_acos_take_over_goes_through_the_multi_login_page(netgear: Any) -> None:
    with netgear("R7000", other_admin=True) as device:
        with connect(device, take_over_session=True) as router:
            assert routerfix.apply_ghostcall_mitigation(router).status == "mitigated"
        server = device.handle.server
        (take,) = [r for r in server.recorded("POST") if r.path == "/multi_login.cgi"]
        assert take.form["act"] == "yes" and take.query.startswith("id=")
        gets = [r.path for r in server.recorded("GET")]
        # the log-in's WAN request was answered with the multi-login redirect: the WAN page is read after taking over
        multi = gets.index("/MNU_access_multiLogin2.htm")
        assert gets[1:multi] == ["/WAN_wan.htm", "/WAN_wan.htm"] and "/WAN_wan.htm" in gets[multi + 1:]
        assert multi < gets.index("/FW_forward3.htm")
        assert _rules(device) == [("routerfix-sip", "TCP/UDP", 5060, 5061, "192.168.1.254")]


# --- 4. the router's reason: bold text under <h1>Failure</h1> (facts: failure page rows) --------------------------


def test_a_refusal_carries_the_routers_reason(netgear: Any, model: str) -> None:
    from routerfix.simulators.netgear.state import Rule

    rules = [Rule(f"r{i}", "TCP", 1000 + i, 1000 + i, 1000 + i, 1000 + i, "192.168.1.20") for i in range(3)]
    with netgear(model, rules=rules, max_rules=3) as device, connect(device) as router:
        forward = PortForward("routerfix-sip", Protocol.BOTH, PortRange(5060, 5061), "192.168.1.254",
                              PortRange(5060, 5061))
        with pytest.raises(DeviceError) as info:
            router.add_port_forward(forward)
        reason = info.value.device_message
        assert "port forwarding rules" in reason and ("20" in reason or "64" in reason)
        assert "refused the change: the router refused" not in str(info.value)
        assert "few seconds" not in reason
    assert len(_rules(device)) == 3
