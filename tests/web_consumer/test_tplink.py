"""TP-Link driver against its simulators: legacy /userRpm/ (header and cookie logins) and Archer detection."""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Iterator

import pytest
import requests

import routerfix
from routerfix.driver import Driver, Timeouts
from routerfix.errors import DeviceError, ParseError, RouterfixError
from routerfix.model import Remedy
from routerfix.simulate import SimulatedDevice, simulate
from routerfix.testing import DriverConformance

from .helpers import connect, writes_seen

SINK = "192.168.0.198"  # .199 is leased


class TestTplinkConformance(DriverConformance):
    """The shared driver contract, for both legacy login flavours."""

    @pytest.fixture
    def driver(self, tplink: SimulatedDevice) -> Iterator[Driver]:
        with connect(tplink) as d:
            yield d


def _pages(dev: SimulatedDevice) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in dev.handle.http.requests]


def _page(path: str) -> str:
    return path if path == "/" else path.rsplit("/", 1)[-1]


def test_exact_requests_header_login() -> None:
    with simulate("tplink", model="wr841n") as dev:
        with connect(dev) as router:
            result = routerfix.apply_ghostcall_mitigation(router)
        assert result.status == "mitigated" and str(result.plan.sink) == SINK
        reqs = dev.handle.http.requests
        # the Basic challenge of the start page tells the build; six reads; two saves, each answered with
        # its table; verification reads the virtual servers again (listed before the reservation was saved)
        # and reuses the reservation table the last save answered with
        assert [(r.status, _page(r.path)) for r in reqs] == [
            (401, "/"), (200, "StatusRpm.htm"), (200, "FixMapCfgRpm.htm"), (200, "VirtualServerRpm.htm"),
            (200, "NetworkCfgRpm.htm"), (200, "LanDhcpServerRpm.htm"), (200, "AssignedIpAddrListRpm.htm"),
            (200, "VirtualServerRpm.htm"), (200, "FixMapCfgRpm.htm"), (200, "VirtualServerRpm.htm")]
        assert [r.query for r in reqs if not r.query.endswith("Save=Save")] == [""] * 2 + ["Page=1"] * 2 + \
            [""] * 3 + ["Page=1"]
        auth = "Basic " + base64.b64encode(b"admin:tplink-Pa55").decode()
        assert all(r.headers.get("authorization") == auth for r in reqs[1:])
        assert all(r.headers["referer"].endswith("/userRpm/MenuRpm.htm") for r in reqs[1:])
        assert all(r.method == "GET" for r in reqs)
        saves = [r for r in reqs if "Save=Save" in r.query]
        assert [urllib.parse.parse_qs(r.query, keep_blank_values=True) for r in saves] \
            == [{"ExPort": ["5060-5061"], "InPort": [""], "Ip": [SINK], "Protocol": ["1"], "State": ["1"],
                 "Commonport": ["0"], "Changed": ["0"], "SelIndex": ["0"], "Page": ["1"], "Save": ["Save"]},
                {"Mac": ["02-00-5E-C0-50-60"], "Ip": [SINK], "State": ["1"], "Changed": ["0"], "SelIndex": ["0"],
                 "Page": ["1"], "Save": ["Save"]}]
        assert dev.handle.writes == [f"vs add 5060-5061 {SINK} 1", f"res add 02-00-5E-C0-50-60 {SINK}"]


def test_cookie_login_uses_the_session_prefix_and_logs_out() -> None:
    with simulate("tplink", model="wr940n") as dev:
        with connect(dev) as router:
            routerfix.apply_ghostcall_mitigation(router)
        reqs = dev.handle.http.requests
        login = next(r for r in reqs if r.path == "/userRpm/LoginRpm.htm")
        assert "Authorization=Basic%20" in login.headers["cookie"]
        later = [r for r in reqs if r.path.endswith(".htm") and r.path != "/userRpm/LoginRpm.htm"]
        assert all(r.path.split("/")[1].isupper() and len(r.path.split("/")[1]) == 16 for r in later)
        assert reqs[-1].path.endswith("/userRpm/LogoutRpm.htm") and dev.handle.prefix is None
        # start page, LuCI probe (answered with the login page), log-in, six reads, two saves, one
        # read-back (virtual servers), log-out
        assert [_page(r.path) for r in reqs] == [
            "/", "login", "LoginRpm.htm", "StatusRpm.htm", "FixMapCfgRpm.htm", "VirtualServerRpm.htm",
            "NetworkCfgRpm.htm", "LanDhcpServerRpm.htm", "AssignedIpAddrListRpm.htm", "VirtualServerRpm.htm",
            "FixMapCfgRpm.htm", "VirtualServerRpm.htm", "LogoutRpm.htm"]


def test_end_state_idempotent_and_undo(tplink: SimulatedDevice) -> None:
    with connect(tplink) as router:
        first = routerfix.apply_ghostcall_mitigation(router)
    assert [(v.external, v.ip, v.protocol) for v in tplink.handle.vs] == [("5060-5061", SINK, 1)]
    with connect(tplink) as router:  # a new session: the rule is recognised through the sink reservation
        tplink.handle.http.clear_requests()
        second = routerfix.apply_ghostcall_mitigation(router)
        assert second.status == "unchanged" and router.writes == 0 and writes_seen(tplink) == []
        undone = routerfix.remove_ghostcall_mitigation(router, record=first.to_dict())
    assert undone.status == "undone"
    assert tplink.handle.vs == [] and tplink.handle.reservations == [("00-04-F2-A1-B2-C3", "192.168.0.100", 1)]


def test_customer_rules_survive_and_keep_their_place() -> None:
    with simulate("tplink", scenario="many") as dev:
        before = list(dev.handle.vs)
        with connect(dev) as router:
            state = router.read_state()
            assert len(state.forwards) == 10  # two pages of eight
            result = routerfix.apply_ghostcall_mitigation(router)
            routerfix.remove_ghostcall_mitigation(router, record=result.to_dict())
        assert dev.handle.vs == before


def test_expired_session_mid_flow_relogs_and_completes() -> None:
    with simulate("tplink", model="wr940n") as dev:
        dev.handle.expire_on = "Save=Save"
        with connect(dev) as router:
            result = routerfix.apply_ghostcall_mitigation(router)
        assert result.status == "mitigated"
        assert [w for w in dev.handle.writes if w.startswith("vs add")] == [f"vs add 5060-5061 {SINK} 1"]


def test_http_500_on_reservation_rolls_back(tplink: SimulatedDevice) -> None:
    tplink.handle.http.add_fault("status", "Mac=02-00", status=500, times=50)
    with connect(tplink) as router, pytest.raises(RouterfixError) as info:
        routerfix.apply_ghostcall_mitigation(router)
    assert "rolled back" in " ".join(getattr(info.value, "__notes__", []))
    assert tplink.handle.vs == []


def test_slow_save_is_verified_not_repeated(tplink: SimulatedDevice) -> None:
    tplink.handle.http.add_fault("delay", "ExPort=", seconds=1.5)  # beyond the 1 s read timeout
    with connect(tplink, timeouts=Timeouts(connect=2, read=1, apply=1)) as router:
        result = routerfix.apply_ghostcall_mitigation(router)
    assert result.status == "mitigated" and len(tplink.handle.vs) == 1


def test_device_refusal_is_device_error(tplink: SimulatedDevice) -> None:
    with connect(tplink) as router, pytest.raises(DeviceError, match="conflicts"):
        router.add_port_forward(routerfix.PortForward("routerfix-x", "both", "5060-5061", "192.168.0.150"))
        router.add_port_forward(routerfix.PortForward("routerfix-y", "udp", "5061", "192.168.0.151"))


def test_garbled_page_is_a_parse_error_without_writes(tplink: SimulatedDevice) -> None:
    tplink.handle.http.add_fault("garble", "VirtualServerRpm", times=5)
    with connect(tplink) as router, pytest.raises(ParseError):
        routerfix.apply_ghostcall_mitigation(router)
    assert writes_seen(tplink) == [] and tplink.handle.writes == []


def test_referer_is_required(tplink: SimulatedDevice) -> None:
    dev = tplink
    auth = ("admin", "tplink-Pa55")
    answer = requests.get(f"http://127.0.0.1:{dev.port}/userRpm/StatusRpm.htm", auth=auth, timeout=3)
    assert dev.handle.model != "wr841n" or "no authority" in answer.text


def test_firmware_whose_pages_changed(tplink: SimulatedDevice) -> None:
    tplink.handle.login_changed = True
    with pytest.raises(ParseError):
        connect(tplink)
    assert tplink.handle.writes == []


def test_archer_is_detected_and_gets_the_unsupported_verdict_without_writes() -> None:
    with simulate("tplink", model="archer-c6") as dev:
        with connect(dev) as router:
            assert router.flavour == "archer"
            result = routerfix.apply_ghostcall_mitigation(router)
        assert result.status == "verdict" and not result.changed
        assert result.plan.verdicts[0].remedy is Remedy.UNSUPPORTED_FIRMWARE
        assert "virtual-server table" in result.plan.verdicts[0].reason
        assert dev.handle.writes == [] and writes_seen(dev) == []
        assert [(r.method, r.target) for r in dev.handle.http.requests] == [
            ("GET", "/"), ("POST", "/cgi-bin/luci/;stok=/login?form=keys")]
