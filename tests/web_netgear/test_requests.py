"""The exact requests the driver sends for a given state (method, path, form fields).

NAT filtering and SIP ALG share the WAN setup form: the mitigation sends them in ONE WAN POST (the engine's
``write_batch``), read back once."""

from __future__ import annotations

from typing import Any

import routerfix

from .conftest import connect


def test_acos_requests_for_default_state(netgear: Any) -> None:
    with netgear("R7000") as device:
        with connect(device) as router:
            routerfix.apply_ghostcall_mitigation(router)
        server = device.handle.server
        edits = [p for p in server.recorded("POST") if p.form.get("action") == "edit"]
        assert edits and all(p.form["selectEntry"] == "1" and p.form["Edit"] == "Edit Service" for p in edits)
        posts = [p for p in server.recorded("POST") if p.form.get("action") != "edit"]
        assert [p.path for p in posts] == ["/pforward.cgi", "/pforward.cgi", "/security.cgi"]
        assert all(p.query.startswith("id=") and len(p.query) == 3 + 64 for p in posts)
        custom, add, wan = (p.form for p in posts)
        assert custom["action"] == "custom" and custom["Add"] == "Add Custom Service" and custom["serv_type"] == "pf"
        assert {k: add[k] for k in ("portname", "srvtype", "port_start", "port_end", "same_range", "action",
                                    "newType", "newIP", "entryData", "apply")} == {
            "portname": "routerfix-sip", "srvtype": "TCP/UDP", "port_start": "5060", "port_end": "5061",
            "same_range": "same_range", "action": "add_apply", "newType": "TCP/UDP", "newIP": "192.168.1.254",
            "entryData": "", "apply": "Apply"}
        assert [add[f"server_ip{i}"] for i in range(1, 5)] == ["192", "168", "1", "254"]
        assert "internal_port_start" not in add
        # one WAN POST carries both changes: NAT filtering Open and SIP ALG off (ticked "Disable SIP ALG")
        assert wan["NatInboundFiltering"] == "Open" and wan["apply"] == "Apply" and wan["wan_mtu"] == "1500"
        assert wan["disable_sip"] == "disable_sip"
        assert "disable_spi" not in wan and "dmz_enable" not in wan and "disable_gproxy" not in wan
        assert [(r.method, r.path) for r in server.recorded()] == [
            # log in on the WAN page (401 first, row 3), which is also read_state's WAN read
            ("GET", "/currentsetting.htm"), ("GET", "/WAN_wan.htm"), ("GET", "/WAN_wan.htm"),
            # read_state: forwards, LAN, attached devices
            ("GET", "/FW_forward3.htm"), ("GET", "/LAN_lan.htm"), ("GET", "/DEV_device.htm"),
            # add the forward (custom-service form, add_apply), read the list back (and get a fresh token)
            ("POST", "/pforward.cgi"), ("POST", "/pforward.cgi"), ("GET", "/FW_forward3.htm"),
            # NAT filtering + SIP ALG: ONE POST built from the WAN page read above (the forward POSTs do not
            # change it; the newest token is used), ONE read-back
            ("POST", "/security.cgi"), ("GET", "/WAN_wan.htm"),
            # verification reuses both read-backs; the protocol of the SIP rule needs the edit form
            ("POST", "/pforward.cgi"),
            ("GET", "/LGO_logout.htm")]
        assert len(server.recorded()) == 13  # 16 before: start page, WAN form refetch, verification list re-read
        assert len(server.recorded("GET")) == 9 and len(server.recorded("POST")) == 4
        first = server.recorded()[:3]
        assert [(r.path, r.status) for r in first] == [("/currentsetting.htm", 200), ("/WAN_wan.htm", 401),
                                                       ("/WAN_wan.htm", 200)]
        assert "xsrf_token=" in server.recorded()[2].headers.get("cookie", "").lower()
        assert server.recorded()[-1].path == "/LGO_logout.htm"


def test_netcgi_requests_for_default_state(netgear: Any) -> None:
    with netgear("R7800") as device:
        with connect(device) as router:
            routerfix.apply_ghostcall_mitigation(router)
        server = device.handle.server
        posts = server.recorded("POST")
        assert [(p.path, p.query.split(" ")[0], p.form["submit_flag"]) for p in posts] == [
            ("/apply.cgi", "/forwarding.htm", "forwarding_add_range"), ("/apply.cgi", "/WAN_wan.htm", "wan")]
        assert all(" timestamp=" in p.query for p in posts)
        add, wan = (p.form for p in posts)
        assert {k: add[k] for k in ("portname", "srvtype", "port_start", "port_end", "hidden_port_int_start",
                                    "hidden_port_int_end", "service_ip", "serflag", "hidden_port_range")} == {
            "portname": "routerfix-sip", "srvtype": "TCP/UDP", "port_start": "5060,", "port_end": "5061,",
            "hidden_port_int_start": "5060,", "hidden_port_int_end": "5061,", "service_ip": "192.168.1.254",
            "serflag": "0", "hidden_port_range": "1"}
        # one WAN POST carries both changes: NAT filtering Open and SIP ALG off (hidden sipalg_value=1)
        assert wan["NatInboundFiltering"] == "Open" and wan["sipalg_value"] == "1"
        assert wan["disable_sipalg"] == "disable_sipalg"  # the checkbox's own value (the handler reads sipalg_value)
        assert wan["spi_value"] == "1" and "disable_spi" not in wan  # the hidden-field trap: SPI stays on
        assert wan["wan_mtu"] == "1500" and wan["dmz_value"] == "0" and wan["rspToPing_value"] == "0"
        assert wan["igmp_value"] == "1"  # IGMP proxying stays as it was (the markup default "0" would turn it off)
        assert [(r.method, r.path, r.query.split(" ")[0]) for r in server.recorded()] == [
            # log in on the WAN page (401 first, row 3), which is also read_state's WAN read
            ("GET", "/currentsetting.htm", ""), ("GET", "/WAN_wan.htm", ""), ("GET", "/WAN_wan.htm", ""),
            ("GET", "/forwarding.htm", ""), ("GET", "/LAN_lan.htm", ""), ("GET", "/DEV_show_device.htm", ""),
            # add the forward (its form, the POST), read the list back
            ("GET", "/forwarding_add.htm", ""), ("POST", "/apply.cgi", "/forwarding.htm"),
            ("GET", "/forwarding.htm", ""),
            # NAT filtering + SIP ALG: ONE POST with the WAN page read above (its own `wan` timestamp, row 33),
            # ONE read-back
            ("POST", "/apply.cgi", "/WAN_wan.htm"), ("GET", "/WAN_wan.htm", ""),
            # verification reuses both read-backs
            ("GET", "/LGO_logout.htm", "")]
        assert len(server.recorded()) == 12  # 15 before: start page, WAN form refetch, verification list re-read
        assert len(server.recorded("GET")) == 10 and len(server.recorded("POST")) == 2


def test_remove_finds_the_rule_by_content(netgear: Any, model: str) -> None:
    from routerfix.simulators.netgear.state import Rule

    rules = [Rule("Web", "TCP", 8080, 8080, 8080, 8080, "192.168.1.20"),
             Rule("H323", "TCP/UDP", 1719, 1720, 1719, 1720, "192.168.1.20"),
             Rule("Game", "UDP", 3074, 3074, 3074, 3074, "192.168.1.4")]
    with netgear(model, rules=rules) as device:
        with connect(device) as router:
            game = next(f for f in router.list_port_forwards() if f.name == "Game")
            router.remove_port_forward(game)
            router.remove_port_forward(game)  # already gone: not an error, nothing sent
            assert [f.name for f in router.list_port_forwards()] == ["Web", "H323"]
        device.handle.settle()
        assert [r.name for r in device.handle.config.rules] == ["Web", "H323"]
