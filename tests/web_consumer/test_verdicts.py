"""Drivers that answer with a verdict (Belkin, AT&T, UPnP) write nothing; AT&T's explicit IP Passthrough."""

from __future__ import annotations

import pytest

import routerfix
from routerfix.errors import AuthenticationError, InvalidValue, ParseError, UnsupportedOperation
from routerfix.model import Feature, PortForward, Remedy
from routerfix.simulate import simulate
from routerfix.testing import check_capabilities_honest, check_signatures

from .helpers import connect, writes_seen


@pytest.mark.parametrize(("name", "remedy"), [("belkin", Remedy.REPLACE_ROUTER), ("att", Remedy.BRIDGE_MODE),
                                              ("upnp", Remedy.READ_ONLY_ACCESS)])
def test_verdict_without_any_write(name: str, remedy: Remedy) -> None:
    with simulate(name) as dev:
        with connect(dev) as router:
            check_signatures(type(router))
            check_capabilities_honest(router)
            result = routerfix.apply_ghostcall_mitigation(router)
            assert result.status == "verdict" and result.changed is False and router.writes == 0
            assert [v.remedy for v in result.plan.verdicts] == [remedy]
            undo = routerfix.remove_ghostcall_mitigation(router)
            assert undo.changed is False
        assert writes_seen(dev) == []


def test_belkin_reads_only_the_login_page() -> None:
    with simulate("belkin") as dev:
        with connect(dev) as router:
            assert router.facts().model == "F9K1102"
            routerfix.apply_ghostcall_mitigation(router)
        assert [(r.method, r.path) for r in dev.handle.http.requests] == [("GET", "/login.stm")]
        assert dev.handle.logins == [] and dev.handle.applies == []


def test_belkin_detection_refuses_other_pages() -> None:
    with simulate("att") as dev, pytest.raises(ParseError, match="Belkin"):
        routerfix.connect("belkin", dev.host, **{**dev.connect_options(), "password": "x"})


def test_att_verdict_names_ip_passthrough() -> None:
    with simulate("att", model="BGW210-700") as dev:
        with connect(dev) as router:
            result = routerfix.apply_ghostcall_mitigation(router)
            assert router.facts().model == "BGW210-700"
        assert "IP Passthrough" in result.plan.verdicts[0].reason and "device list" in result.plan.verdicts[0].reason
        assert [r.path for r in dev.handle.http.requests] == ["/cgi-bin/sysinfo.ha"]
        assert Feature.FORWARD_TO_UNUSED not in router.capabilities


def test_att_set_ip_passthrough_when_asked() -> None:
    with simulate("att") as dev:
        with connect(dev) as router:
            router.set_ip_passthrough("AA-BB-CC-00-11-22")  # type: ignore[attr-defined]
            assert router.get_ip_passthrough() == ("passthrough", "aa:bb:cc:00:11:22")  # type: ignore[attr-defined]
            assert router.writes == 1
        gw = dev.handle
        assert (gw.allocmode, gw.passmode, gw.passmac) == ("passthrough", "dhcps-fixed", "aa:bb:cc:00:11:22")
        assert gw.writes == ["ippass passthrough dhcps-fixed aa:bb:cc:00:11:22"]
        login = next(r for r in gw.http.requests if r.path == "/cgi-bin/login.ha")
        assert login.form["password"] == "*" * len(dev.password) and len(login.form["hashpassword"]) == 32
        post = next(r for r in gw.http.requests if r.method == "POST" and r.path == "/cgi-bin/ippass.ha")
        assert {k: post.form[k] for k in ("allocmode", "passmode", "ippassmaclist", "passmac", "Save")} == {
            "allocmode": "passthrough", "passmode": "dhcps-fixed", "ippassmaclist": "",
            "passmac": "aa:bb:cc:00:11:22", "Save": "Save"}
        assert gw.http.requests[-1].path == "/cgi-bin/logout.ha"


@pytest.mark.parametrize("mac", ["", "aa:bb:cc", "zz:bb:cc:00:11:22", "aa:bb:cc:00:11:22;reboot", "<script>"])
def test_att_passthrough_validates_the_mac_before_sending(mac: str) -> None:
    with simulate("att") as dev:
        with connect(dev) as router, pytest.raises(InvalidValue):
            router.set_ip_passthrough(mac)  # type: ignore[attr-defined]
        assert [r.path for r in dev.handle.http.requests] == ["/cgi-bin/sysinfo.ha"]


def test_att_wrong_access_code() -> None:
    with simulate("att") as dev:
        with connect(dev, password="wrong") as router, pytest.raises(AuthenticationError):
            router.set_ip_passthrough("aa:bb:cc:00:11:22")  # type: ignore[attr-defined]
        assert dev.handle.writes == []


def test_att_stale_nonce_page_then_success() -> None:
    with simulate("att") as dev:
        dev.handle.expire_on = "POST /cgi-bin/ippass.ha"
        with connect(dev) as router:
            router.set_ip_passthrough("aa:bb:cc:00:11:22")  # type: ignore[attr-defined]
        assert dev.handle.passmac == "aa:bb:cc:00:11:22" and dev.handle.logins == 2


def test_att_login_changed_is_a_parse_error() -> None:
    with simulate("att") as dev:
        dev.handle.login_changed = True
        with connect(dev) as router, pytest.raises(ParseError, match="nonce"):
            router.set_ip_passthrough("aa:bb:cc:00:11:22")  # type: ignore[attr-defined]
        assert dev.handle.writes == []


def test_upnp_lists_mappings_and_names_sip_conflicts() -> None:
    with simulate("upnp", scenario="pbx") as dev:
        with connect(dev) as router:
            forwards = router.list_port_forwards()
            assert [f.describe() for f in forwards] == ["PBX SIP: udp 5060 -> 192.168.1.10:5060",
                                                        "Xbox: udp 3074 -> 192.168.1.30:3074"]
            result = routerfix.apply_ghostcall_mitigation(router)
            assert result.plan.verdicts[0].remedy is Remedy.READ_ONLY_ACCESS
            assert "718" in result.plan.verdicts[0].reason
            assert any("PBX SIP: udp 5060 -> 192.168.1.10:5060" in w for w in result.warnings)
            with pytest.raises(UnsupportedOperation):
                router.add_port_forward(PortForward("routerfix-sip", "udp", 5060, "192.168.1.250"))
        assert dev.handle.attempts == []


def test_upnp_walk_is_bounded() -> None:
    with simulate("upnp") as dev:
        dev.handle.endless = True
        with connect(dev, max_entries=5) as router:
            assert len(router.list_port_forwards()) == 5 and router.truncated  # type: ignore[attr-defined]
            state = router.read_state()
            assert any("first 5" in n for n in state.capabilities.notes)


def test_upnp_garbled_description_is_a_parse_error() -> None:
    with simulate("upnp") as dev:
        dev.handle.http.add_fault("garble", "rootDesc")
        with pytest.raises(ParseError):
            connect(dev)
