"""ASUSWRT driver against its simulator: conformance, exact requests, end state, faults."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import pytest

import routerfix
from routerfix.driver import Driver, Timeouts
from routerfix.errors import (
    AuthenticationError,
    DeviceError,
    ForwardConflict,
    ParseError,
    RouterfixError,
    SessionError,
)
from routerfix.planner import managed_view
from routerfix.simulate import SimulatedDevice, simulate
from routerfix.testing import DriverConformance

from .helpers import connect, writes_seen

SINK = "192.168.50.253"  # .254 is the printer: the highest free address of the pool


class TestAsusConformance(DriverConformance):
    """The shared driver contract."""

    @pytest.fixture
    def driver(self, asus: SimulatedDevice) -> Iterator[Driver]:
        with connect(asus) as d:
            yield d


def test_exact_requests_for_a_fresh_router(asus: SimulatedDevice) -> None:
    with connect(asus) as router:
        result = routerfix.apply_ghostcall_mitigation(router)
    assert result.status == "mitigated" and str(result.plan.sink) == SINK
    reqs = asus.handle.http.requests
    summary = [(r.method, r.path) for r in reqs]
    # read everything, two writes (each answer says whether the router took it), one read-back, log out
    assert summary == [("POST", "/login.cgi"), ("GET", "/appGet.cgi"), ("POST", "/applyapp.cgi"),
                       ("POST", "/applyapp.cgi"), ("GET", "/appGet.cgi"), ("GET", "/Logout.asp")]
    assert reqs[0].form == {"login_authorization": base64.b64encode(b"admin:asus-Pa55").decode()}
    assert "DUTUtil" in reqs[0].headers["user-agent"] and reqs[1].headers["referer"].endswith("/")
    assert "get_clientlist();" in reqs[1].query and "nvram_get(vts_rulelist);" in reqs[1].query
    assert reqs[2].form == {"action_mode": "apply", "rc_service": "restart_firewall", "vts_enable_x": "1",
                            "vts_rulelist": f"<routerfix-sip>5060:5061>{SINK}>>BOTH>"}
    assert reqs[3].form == {"action_mode": "apply", "rc_service": "restart_dnsmasq",
                            "dhcp_staticlist": f"<00:04:F2:A1:B2:C3>192.168.50.100>><02:00:5E:C0:50:60>{SINK}>>"
                                               f"routerfix-sink"}
    assert all("asus_token=" in r.headers.get("cookie", "") for r in reqs[1:])
    verify = reqs[4].query  # the read-back holds every value verification compares, not the client list
    assert "nvram_get(vts_rulelist);" in verify and "nvram_get(dhcp_staticlist);" in verify
    assert "get_clientlist();" not in verify


def test_silently_dropped_write_fails_verification_and_rolls_back(asus: SimulatedDevice) -> None:
    before = dict(asus.handle.nvram)
    asus.handle.ignore_services.add("restart_dnsmasq")  # answered modify=1, nothing stored
    with connect(asus) as router, pytest.raises(routerfix.VerificationFailed) as info:
        routerfix.apply_ghostcall_mitigation(router)
    assert "routerfix-sink" in str(info.value)
    assert "rolled back" in " ".join(getattr(info.value, "__notes__", []))
    assert {k: asus.handle.nvram[k] for k in ("vts_rulelist", "vts_enable_x", "dhcp_staticlist")} == \
        {k: before[k] for k in ("vts_rulelist", "vts_enable_x", "dhcp_staticlist")}


def test_end_state_idempotent_and_undo() -> None:
    with simulate("asuswrt", scenario="rules") as dev:
        before = dict(dev.handle.nvram)
        with connect(dev) as router:
            first = routerfix.apply_ghostcall_mitigation(router)
        assert first.changed and first.verified
        rules = dev.handle.nvram["vts_rulelist"]
        assert rules.startswith(f"<routerfix-sip>5060:5061>{SINK}>>BOTH>")  # first: rules are evaluated in order
        assert rules.endswith(before["vts_rulelist"])  # the customer's rules are untouched, byte for byte
        assert dev.handle.applied[0][0] == "restart_firewall"
        with connect(dev) as router:
            dev.handle.http.clear_requests()
            second = routerfix.apply_ghostcall_mitigation(router)
            assert second.status == "unchanged" and router.writes == 0
            assert writes_seen(dev) == []
            undone = routerfix.remove_ghostcall_mitigation(router, record=first.to_dict())
        assert undone.status == "undone"
        assert {k: dev.handle.nvram[k] for k in ("vts_rulelist", "vts_enable_x", "dhcp_staticlist")} == \
            {k: before[k] for k in ("vts_rulelist", "vts_enable_x", "dhcp_staticlist")}


def test_undo_of_fresh_router_restores_factory_switch(asus: SimulatedDevice) -> None:
    with connect(asus) as router:
        result = routerfix.apply_ghostcall_mitigation(router)
        assert asus.handle.nvram["vts_enable_x"] == "1"
        routerfix.remove_ghostcall_mitigation(router, record=result.to_dict())
    assert asus.handle.nvram["vts_enable_x"] == "0" and asus.handle.nvram["vts_rulelist"] == ""


def test_dormant_rules_are_not_switched_on() -> None:
    with simulate("asuswrt", scenario="dormant") as dev:
        before = dict(dev.handle.nvram)
        with connect(dev) as router:
            state = router.read_state()
            assert [f.enabled for f in state.forwards] == [False]
            with pytest.raises(DeviceError, match="switched off"):
                routerfix.apply_ghostcall_mitigation(router)
        assert dev.handle.nvram == before


def test_conflicting_forward_stops_before_any_write() -> None:
    with simulate("asuswrt", scenario="pbx") as dev:
        with connect(dev) as router, pytest.raises(ForwardConflict):
            routerfix.apply_ghostcall_mitigation(router)
        assert writes_seen(dev) == []


def test_full_rule_list_is_refused_before_writing() -> None:
    with simulate("asuswrt", scenario="full") as dev:
        with connect(dev) as router, pytest.raises(RouterfixError, match="at most 64"):
            routerfix.apply_ghostcall_mitigation(router)
        assert writes_seen(dev) == []


def test_expired_token_mid_flow_relogs_once_and_completes(asus: SimulatedDevice) -> None:
    asus.handle.expire_on = "POST /applyapp.cgi"
    with connect(asus) as router:
        result = routerfix.apply_ghostcall_mitigation(router)
    assert result.status == "mitigated"
    assert asus.handle.logins == 2
    assert asus.handle.nvram["vts_rulelist"] == f"<routerfix-sip>5060:5061>{SINK}>>BOTH>"


def test_http_500_on_apply_leaves_router_as_it_was_or_mitigated(asus: SimulatedDevice) -> None:
    before = dict(asus.handle.nvram)
    asus.handle.http.add_fault("status", "POST /applyapp.cgi", status=500, times=2)
    with connect(asus) as router:
        try:
            result = routerfix.apply_ghostcall_mitigation(router)
        except RouterfixError:
            assert asus.handle.nvram == before
        else:
            assert result.status == "mitigated"
            assert managed_view(router.read_state()) == managed_view(result.plan.after)


def test_http_500_on_second_write_rolls_back(asus: SimulatedDevice) -> None:
    before = dict(asus.handle.nvram)
    asus.handle.http.add_fault("status", lambda r: r.form.get("rc_service") == "restart_dnsmasq", status=500,
                               times=50)
    with connect(asus) as router, pytest.raises(RouterfixError) as info:
        routerfix.apply_ghostcall_mitigation(router)
    assert "rolled back" in " ".join(getattr(info.value, "__notes__", []))
    assert {k: asus.handle.nvram[k] for k in ("vts_rulelist", "dhcp_staticlist")} == \
        {k: before[k] for k in ("vts_rulelist", "dhcp_staticlist")}


def test_slow_apply_answer_lost_but_change_landed(asus: SimulatedDevice) -> None:
    asus.handle.http.add_fault("delay", "POST /applyapp.cgi", seconds=1.5)  # beyond the 1 s read timeout
    with connect(asus, timeouts=Timeouts(connect=2, read=1, apply=1)) as router:
        result = routerfix.apply_ghostcall_mitigation(router)
    assert result.status == "mitigated"
    assert asus.handle.nvram["vts_rulelist"].count("routerfix-sip") == 1  # never written twice


def test_dropped_answer_after_write_is_not_repeated(asus: SimulatedDevice) -> None:
    asus.handle.http.add_fault("drop-after", "POST /applyapp.cgi")
    with connect(asus) as router:
        result = routerfix.apply_ghostcall_mitigation(router)
    assert result.status == "mitigated"
    assert len([a for a in asus.handle.applied if a[0] == "restart_firewall"]) == 1


def test_garbled_read_raises_parse_error_without_writes(asus: SimulatedDevice) -> None:
    asus.handle.http.add_fault("garble", "GET /appGet.cgi", times=5)
    with connect(asus) as router, pytest.raises(ParseError, match="appGet"):
        routerfix.apply_ghostcall_mitigation(router)
    assert writes_seen(asus) == []


def test_other_admin_refuses_login(asus: SimulatedDevice) -> None:
    asus.handle.other_admin = True
    with pytest.raises(SessionError, match="another admin"):
        connect(asus)
    assert writes_seen(asus) == []


def test_wrong_password_is_authentication_error_and_tried_once(asus: SimulatedDevice) -> None:
    with pytest.raises(AuthenticationError):
        connect(asus, password="wrong")
    assert len(asus.handle.http.recorded("POST", "/login.cgi")) == 1


def test_firmware_whose_login_changed(asus: SimulatedDevice) -> None:
    asus.handle.login_changed = True
    with pytest.raises(ParseError, match="login changed"):
        connect(asus)
    assert writes_seen(asus) == []


def test_tls_pinning_is_reported_and_enforced(asus: SimulatedDevice) -> None:
    with connect(asus) as router:
        assert router.transport_security == "tls-pinned"
    wrong = "sha256:" + "00" * 32
    with pytest.raises(routerfix.TrustError, match="pinned"):
        connect(asus, tls_fingerprint=wrong)


def test_secrets_never_logged(asus: SimulatedDevice, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with connect(asus) as router:
        routerfix.apply_ghostcall_mitigation(router)
    token = base64.b64encode(b"admin:asus-Pa55").decode()
    assert "asus-Pa55" not in caplog.text and token not in caplog.text
