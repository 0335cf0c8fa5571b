"""Linksys JNAP driver against its simulator: conformance, exact requests, end state, side effects, faults."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

import routerfix
from routerfix.driver import Driver, Timeouts
from routerfix.errors import AuthenticationError, DeviceError, ForwardConflict, ParseError, RouterfixError
from routerfix.simulate import SimulatedDevice, simulate
from routerfix.testing import DriverConformance

from .helpers import connect, writes_seen

SINK = "10.135.1.148"  # .149 is leased: the highest free address of the pool
PREFIX = "http://linksys.com/jnap/"


class TestLinksysConformance(DriverConformance):
    """The shared driver contract."""

    @pytest.fixture
    def driver(self, linksys: SimulatedDevice) -> Iterator[Driver]:
        with connect(linksys) as d:
            yield d


def _actions(dev: SimulatedDevice) -> list[str]:
    return [r.headers.get("x-jnap-action", "").replace(PREFIX, "") for r in dev.handle.http.requests]


def test_exact_requests_for_a_fresh_router(linksys: SimulatedDevice) -> None:
    with connect(linksys) as router:
        result = routerfix.apply_ghostcall_mitigation(router, backup=False)
    assert result.status == "mitigated" and str(result.plan.sink) == SINK
    actions = _actions(linksys)
    polls = actions.count("core/GetDeviceInfo")
    assert polls >= 1  # the router restarted after SetLANSettings and was polled until back
    # each write's answer (OK or the refusal) settles it; one transaction verifies them all at the end
    assert actions == [
        "core/CheckAdminPassword", "core/Transaction",  # the transaction's lists feed the read-modify-writes
        "firewall/SetPortRangeForwardingRules",
        "router/SetLANSettings", *["core/GetDeviceInfo"] * polls,
        "firewall/SetALGSettings",
        "core/Transaction"]
    reqs = linksys.handle.http.requests
    assert [r.status for r in reqs[4:4 + polls]] == [503] * (polls - 1) + [200]
    verify = json.loads(reqs[-1].body)
    assert [t["action"].replace(PREFIX, "") for t in verify] == [
        "core/GetDeviceInfo", "firewall/GetSinglePortForwardingRules", "firewall/GetPortRangeForwardingRules",
        "router/GetLANSettings", "firewall/GetALGSettings"]
    auth = "Basic " + base64.b64encode(b"admin:linksys-Pa55").decode()
    assert all(r.path == "/JNAP/" and r.method == "POST" for r in reqs)
    assert all(r.headers.get("x-jnap-authorization") == auth for r in reqs
               if r.headers.get("x-jnap-action", "").endswith(("Rules", "Settings", "Transaction")))
    set_range = next(r for r in reqs if r.headers["x-jnap-action"].endswith("SetPortRangeForwardingRules"))
    assert json.loads(set_range.body) == {"rules": [{
        "isEnabled": True, "protocol": "Both", "internalServerIPAddress": SINK, "description": "routerfix-sip",
        "firstExternalPort": 5060, "lastExternalPort": 5061}]}
    set_lan = next(r for r in reqs if r.headers["x-jnap-action"].endswith("SetLANSettings"))
    body = json.loads(set_lan.body)
    assert set(body) == {"ipAddress", "networkPrefixLength", "hostName", "isDHCPEnabled", "dhcpSettings"}
    assert body["dhcpSettings"]["reservations"][-1] == {"macAddress": "02:00:5E:C0:50:60", "ipAddress": SINK,
                                                        "description": "routerfix-sink"}
    transaction = json.loads(reqs[1].body)
    assert [t["action"].replace(PREFIX, "") for t in transaction][:3] == [
        "core/GetDeviceInfo", "firewall/GetSinglePortForwardingRules", "firewall/GetPortRangeForwardingRules"]


def test_backup_reuses_the_read_and_restart_polls_back_off() -> None:
    with simulate("linksys", restart_seconds=0.6) as dev:
        with connect(dev) as router:  # restart_wait and poll_interval 0.05 s: pauses 0.05, 0.1, 0.2, 0.2 ...
            result = routerfix.apply_ghostcall_mitigation(router)
        assert result.status == "mitigated"
        actions = _actions(dev)
        polls = actions.count("core/GetDeviceInfo")
        # the backup comes from the planning transaction (no write in between): still two transactions
        assert [a for a in actions if a != "core/GetDeviceInfo"] == [
            "core/CheckAdminPassword", "core/Transaction", "firewall/SetPortRangeForwardingRules",
            "router/SetLANSettings", "firewall/SetALGSettings", "core/Transaction"]
        # polls at about 0.05, 0.1, 0.2, 0.4, 0.6, 0.8 s; a fixed 0.05 s pause would poll a dozen times
        assert 1 <= polls <= 7


def test_silently_dropped_write_fails_verification_and_rolls_back(linksys: SimulatedDevice) -> None:
    range_before, lan_before = list(linksys.handle.range), json.dumps(linksys.handle.lan)
    linksys.handle.ignore_sets.add("firewall/SetALGSettings")  # answered OK, nothing stored
    with connect(linksys) as router, pytest.raises(routerfix.VerificationFailed) as info:
        routerfix.apply_ghostcall_mitigation(router)
    assert "sip alg" in str(info.value)
    assert "rolled back" in " ".join(getattr(info.value, "__notes__", []))
    assert linksys.handle.range == range_before and json.dumps(linksys.handle.lan) == lan_before


def test_end_state_idempotent_and_undo() -> None:
    with simulate("linksys", scenario="rules", restart_seconds=0.05) as dev:
        single, ranged, lan = list(dev.handle.single), list(dev.handle.range), json.dumps(dev.handle.lan)
        with connect(dev) as router:
            first = routerfix.apply_ghostcall_mitigation(router)
        assert first.status == "mitigated"
        assert dev.handle.range[0]["description"] == "routerfix-sip" and dev.handle.range[1:] == ranged
        assert dev.handle.single == single and dev.handle.alg == {"isSIPEnabled": False}
        with connect(dev) as router:
            dev.handle.http.clear_requests()
            second = routerfix.apply_ghostcall_mitigation(router)
            assert second.status == "unchanged" and router.writes == 0 and writes_seen(dev) == []
            undone = routerfix.remove_ghostcall_mitigation(router, record=first.to_dict())
        assert undone.status == "undone"
        assert (dev.handle.single, dev.handle.range, json.dumps(dev.handle.lan)) == (single, ranged, lan)
        assert dev.handle.alg == {"isSIPEnabled": True}  # restored from the saved record


def test_conflict_stops_before_any_write() -> None:
    with simulate("linksys", scenario="pbx") as dev:
        with connect(dev) as router, pytest.raises(ForwardConflict):
            routerfix.apply_ghostcall_mitigation(router)
        assert writes_seen(dev) == []


def test_replace_conflicting_swaps_the_rule() -> None:
    with simulate("linksys", scenario="pbx", restart_seconds=0.05) as dev:
        with connect(dev) as router:
            result = routerfix.apply_ghostcall_mitigation(router, replace_conflicting=True)
        assert result.status == "mitigated" and dev.handle.single == []


def test_device_refusal_carries_its_words_and_rolls_back(linksys: SimulatedDevice) -> None:
    linksys.handle.max_range = 0  # the range list is "full"
    with connect(linksys) as router, pytest.raises(DeviceError, match="maxRules 0"):
        routerfix.apply_ghostcall_mitigation(router)
    assert linksys.handle.writes == []


def test_http_500_on_lan_write_rolls_back(linksys: SimulatedDevice) -> None:
    range_before, lan_before = list(linksys.handle.range), json.dumps(linksys.handle.lan)
    linksys.handle.http.add_fault("status", lambda r: r.headers.get("x-jnap-action", "").endswith("SetLANSettings"),
                                  status=500, times=50)
    with connect(linksys) as router, pytest.raises(RouterfixError) as info:
        routerfix.apply_ghostcall_mitigation(router)
    assert "rolled back" in " ".join(getattr(info.value, "__notes__", []))
    assert linksys.handle.range == range_before and json.dumps(linksys.handle.lan) == lan_before


def test_restart_longer_than_the_apply_timeout_ends_mitigated_or_as_before(linksys: SimulatedDevice) -> None:
    lan_before = json.dumps(linksys.handle.lan)
    linksys.handle.restart_seconds = 1.5  # the driver gives up polling after 0.3 s; the engine re-reads
    with connect(linksys, timeouts=Timeouts(connect=1, read=1, apply=0.3)) as router:
        try:
            result = routerfix.apply_ghostcall_mitigation(router, backup=False)
        except RouterfixError:
            assert json.dumps(linksys.handle.lan) == lan_before and linksys.handle.range == []
        else:
            assert result.status == "mitigated"
            reservations = linksys.handle.lan["dhcpSettings"]["reservations"]
            assert [r["description"] for r in reservations].count("routerfix-sink") == 1


def test_garbled_reply_is_a_parse_error_without_writes(linksys: SimulatedDevice) -> None:
    linksys.handle.http.add_fault("garble", lambda r: "Transaction" in r.headers.get("x-jnap-action", ""), times=5)
    with connect(linksys) as router, pytest.raises(ParseError):
        routerfix.apply_ghostcall_mitigation(router)
    assert writes_seen(linksys) == []


def test_wrong_password(linksys: SimulatedDevice) -> None:
    with pytest.raises(AuthenticationError):
        connect(linksys, password="wrong")


def test_firmware_without_jnap(linksys: SimulatedDevice) -> None:
    linksys.handle.login_changed = True
    with pytest.raises(ParseError, match="JNAP"):
        connect(linksys)
    assert writes_seen(linksys) == []


def test_transaction_reads_everything_in_one_request(linksys: SimulatedDevice) -> None:
    with connect(linksys) as router:
        linksys.handle.http.clear_requests()
        state = router.read_state()
    assert len(linksys.handle.http.requests) == 1
    assert state.sip_alg is True and len(state.leases) == 2 and len(state.neighbours) == 3
    assert state.scope is not None and str(state.scope.pools[0]) == "10.135.1.100-10.135.1.149"
