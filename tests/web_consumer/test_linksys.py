"""Linksys JNAP driver against its simulator: conformance, exact requests, end state, side effects, faults."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from routerfix.simulators._hosts.http import SimRequest, SimResponse

import routerfix
from routerfix.driver import Driver, Timeouts
from routerfix.engine import execute_plan
from routerfix.errors import AuthenticationError, DeviceError, ForwardConflict, ParseError, RouterfixError
from routerfix.model import PortForward, Reservation
from routerfix.planner import MitigationOptions, make_plan
from routerfix.simulate import SimulatedDevice, simulate
from routerfix.testing import DriverConformance

from .helpers import connect

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


def _inner(body: bytes) -> list[str]:
    return [t["action"].replace(PREFIX, "") for t in json.loads(body)]


def _set_batches(dev: SimulatedDevice) -> list[list[str]]:
    """Every request that carried ``Set`` actions: a lone ``Set`` as ``[action]``, a transaction as its actions."""
    out = []
    for r in dev.handle.http.requests:
        action = r.headers.get("x-jnap-action", "").replace(PREFIX, "")
        if action == "core/Transaction":
            inner = _inner(r.body)
            if any("/Set" in a for a in inner):
                out.append(inner)
        elif "/Set" in action:
            out.append([action])
    return out


def _sets(dev: SimulatedDevice) -> list[str]:
    """Every ``Set`` action that reached the router, alone or inside a ``core/Transaction``."""
    return [a for batch in _set_batches(dev) for a in batch]


def _answered(dev: SimulatedDevice) -> int:
    """Requests answered, not counting the 503s of a restarting router."""
    return sum(1 for r in dev.handle.http.requests if r.status != 503)


def _state(dev: SimulatedDevice) -> str:
    h = dev.handle
    return json.dumps([h.single, h.range, h.lan, h.alg], sort_keys=True)


def _rewrite_transactions(dev: SimulatedDevice, change: Callable[[dict[str, Any]], None]) -> None:
    """Pass the router's answers to transactions carrying ``Set`` actions through ``change`` (another JNAP
    firmware's reply shape, same HTTP server)."""
    original = dev.handle.http.handler

    def handler(req: SimRequest) -> SimResponse:
        resp = original(req)
        if req.headers.get("x-jnap-action", "").endswith("core/Transaction") and b"/Set" in req.body:
            data = json.loads(resp.body)
            change(data)
            return SimResponse(resp.status, json.dumps(data), content_type=resp.content_type)
        return resp

    dev.handle.http.handler = handler


def test_exact_requests_for_a_fresh_router(linksys: SimulatedDevice) -> None:
    with connect(linksys) as router:
        result = routerfix.apply_ghostcall_mitigation(router, backup=False)
    assert result.status == "mitigated" and str(result.plan.sink) == SINK
    actions = _actions(linksys)
    polls = actions.count("core/GetDeviceInfo")
    assert polls >= 1  # the router restarted after SetLANSettings and was polled until back
    # the writes go in one transaction whose answers (OK or the refusal) settle them; one more verifies them
    assert actions == [
        "core/CheckAdminPassword", "core/Transaction",  # the transaction's lists feed the read-modify-writes
        "core/Transaction", *["core/GetDeviceInfo"] * polls,
        "core/Transaction"]
    reqs = linksys.handle.http.requests
    assert [r.status for r in reqs[3:3 + polls]] == [503] * (polls - 1) + [200]
    assert _inner(reqs[2].body) == ["firewall/SetPortRangeForwardingRules", "router/SetLANSettings",
                                    "firewall/SetALGSettings"]
    verify = json.loads(reqs[-1].body)
    assert [t["action"].replace(PREFIX, "") for t in verify] == [
        "core/GetDeviceInfo", "firewall/GetSinglePortForwardingRules", "firewall/GetPortRangeForwardingRules",
        "router/GetLANSettings", "firewall/GetALGSettings"]
    auth = "Basic " + base64.b64encode(b"admin:linksys-Pa55").decode()
    assert all(r.path == "/JNAP/" and r.method == "POST" for r in reqs)
    assert all(r.headers.get("x-jnap-authorization") == auth for r in reqs
               if r.headers.get("x-jnap-action", "").endswith(("Rules", "Settings", "Transaction")))
    set_range, set_lan, set_alg = (t["request"] for t in json.loads(reqs[2].body))
    assert set_range == {"rules": [{
        "isEnabled": True, "protocol": "Both", "internalServerIPAddress": SINK, "description": "routerfix-sip",
        "firstExternalPort": 5060, "lastExternalPort": 5061}]}
    assert set_alg == {"isSIPEnabled": False}
    body = set_lan
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
            "core/CheckAdminPassword", "core/Transaction", "core/Transaction", "core/Transaction"]
        assert _set_batches(dev) == [["firewall/SetPortRangeForwardingRules", "router/SetLANSettings",
                                      "firewall/SetALGSettings"]]
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
            assert second.status == "unchanged" and router.writes == 0 and _sets(dev) == []
            assert _actions(dev) == ["core/Transaction"]  # the planning read, nothing else
            dev.handle.http.clear_requests()
            undone = routerfix.remove_ghostcall_mitigation(router, record=first.to_dict())
        assert undone.status == "undone"
        # the undo's writes go together too, in reverse: SIP ALG back on, the reservation out, the forward out
        assert _set_batches(dev) == [["firewall/SetALGSettings", "router/SetLANSettings",
                                      "firewall/SetPortRangeForwardingRules"]]
        assert _answered(dev) <= 4  # read, write transaction, answered restart poll, verify
        assert (dev.handle.single, dev.handle.range, json.dumps(dev.handle.lan)) == (single, ranged, lan)
        assert dev.handle.alg == {"isSIPEnabled": True}  # restored from the saved record


def test_conflict_stops_before_any_write() -> None:
    with simulate("linksys", scenario="pbx") as dev:
        with connect(dev) as router, pytest.raises(ForwardConflict):
            routerfix.apply_ghostcall_mitigation(router)
        assert _sets(dev) == []


def test_replace_conflicting_swaps_the_rule() -> None:
    with simulate("linksys", scenario="pbx", restart_seconds=0.05) as dev:
        with connect(dev) as router:
            result = routerfix.apply_ghostcall_mitigation(router, replace_conflicting=True)
        assert result.status == "mitigated" and dev.handle.single == []


def test_device_refusal_carries_its_words_and_rolls_back(linksys: SimulatedDevice) -> None:
    linksys.handle.max_range = 0  # the range list is "full": refused before sending, the held writes dropped
    with connect(linksys) as router, pytest.raises(DeviceError, match="maxRules 0"):
        routerfix.apply_ghostcall_mitigation(router)
    assert linksys.handle.writes == [] and _sets(linksys) == []


def test_http_500_on_lan_write_rolls_back(linksys: SimulatedDevice) -> None:
    range_before, lan_before = list(linksys.handle.range), json.dumps(linksys.handle.lan)
    # every request carrying SetLANSettings (the batch, then the engine's one-by-one retry) answers HTTP 500
    def carries_lan(r: SimRequest) -> bool:
        action = r.headers.get("x-jnap-action", "")
        return action.endswith("SetLANSettings") or (action.endswith("core/Transaction") and b"SetLAN" in r.body)

    linksys.handle.http.add_fault("status", carries_lan, status=500, times=50)
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
    assert _sets(linksys) == []


def test_wrong_password(linksys: SimulatedDevice) -> None:
    with pytest.raises(AuthenticationError):
        connect(linksys, password="wrong")


def test_firmware_without_jnap(linksys: SimulatedDevice) -> None:
    linksys.handle.login_changed = True
    with pytest.raises(ParseError, match="JNAP"):
        connect(linksys)
    assert _sets(linksys) == []


def test_transaction_reads_everything_in_one_request(linksys: SimulatedDevice) -> None:
    with connect(linksys) as router:
        linksys.handle.http.clear_requests()
        state = router.read_state()
    assert len(linksys.handle.http.requests) == 1
    assert state.sip_alg is True and len(state.leases) == 2 and len(state.neighbours) == 4  # router too (L18)
    assert state.scope is not None and str(state.scope.pools[0]) == "10.135.1.100-10.135.1.149"


# --- the writes of a run in one core/Transaction -----------------------------------------------------------


def test_mitigation_is_one_write_transaction_and_at_most_five_requests(linksys: SimulatedDevice) -> None:
    with connect(linksys) as router:
        result = routerfix.apply_ghostcall_mitigation(router)  # backup on: it reuses the planning read
        stats = router.request_stats()
    assert result.status == "mitigated"
    assert _set_batches(linksys) == [["firewall/SetPortRangeForwardingRules", "router/SetLANSettings",
                                      "firewall/SetALGSettings"]]
    assert linksys.handle.writes == ["firewall/SetPortRangeForwardingRules", "router/SetLANSettings",
                                     "firewall/SetALGSettings"]
    busy = len(linksys.handle.http.requests) - _answered(linksys)
    assert _answered(linksys) <= 5 and stats["requests"] - busy <= 5  # GUI minimum 3 + 2
    assert stats["logins"] == 1 and stats["gets"] == 0


def test_two_changes_to_one_list_end_in_one_held_body(linksys: SimulatedDevice) -> None:
    sip = PortForward("routerfix-sip", "both", "5060-5061", SINK)
    rtp = PortForward("rtp", "udp", "10000-10100", "10.135.1.147")
    with connect(linksys) as router:
        router.read_state()
        linksys.handle.http.clear_requests()
        with router.write_batch():
            router.add_port_forward(sip)
            router.add_port_forward(rtp)
            router.reserve_address(Reservation(SINK, "02:00:5e:c0:50:60", "routerfix-sink"))
            router.reserve_address(Reservation("10.135.1.147", "02:00:5e:c0:50:61", "second"))
            assert linksys.handle.http.requests == []  # held, not sent (and nothing re-read)
    assert _actions(linksys)[0] == "core/Transaction"
    assert _set_batches(linksys) == [["firewall/SetPortRangeForwardingRules", "router/SetLANSettings"]]
    ranged, lan = (t["request"] for t in json.loads(linksys.handle.http.requests[0].body))
    assert [r["description"] for r in ranged["rules"]] == ["rtp", "routerfix-sip"]
    assert [r["description"] for r in lan["dhcpSettings"]["reservations"]] == ["lobby phone", "routerfix-sink",
                                                                               "second"]
    assert [r["description"] for r in linksys.handle.range] == ["rtp", "routerfix-sip"]


def test_an_error_inside_the_batch_sends_nothing(linksys: SimulatedDevice) -> None:
    before = _state(linksys)
    with connect(linksys) as router:
        router.read_state()
        with pytest.raises(RuntimeError), router.write_batch():
            router.add_port_forward(PortForward("routerfix-sip", "both", "5060-5061", SINK))
            raise RuntimeError("stop")
        router.set_sip_alg(False)  # outside a batch: one Set, as before
    assert _sets(linksys) == ["firewall/SetALGSettings"]
    assert linksys.handle.alg == {"isSIPEnabled": False}
    linksys.handle.alg = {"isSIPEnabled": True}
    assert _state(linksys) == before


def _plan_then(dev: SimulatedDevice, router: Driver, meanwhile: Callable[[], None]) -> routerfix.MitigationResult:
    """Plan on the current state, run ``meanwhile`` (the router changes under the plan), then apply."""
    plan = make_plan(router, router.read_state(), MitigationOptions.build({}))
    meanwhile()
    return execute_plan(router, plan)


def test_refused_inner_action_leaves_the_router_as_before(linksys: SimulatedDevice) -> None:
    before = _state(linksys)
    with connect(linksys) as router, pytest.raises(DeviceError) as info:
        # the range list shrinks to nothing after the planning read: the router refuses that Set, applies the
        # others (LAN settings restart it), the driver waits it out and the engine rolls back what landed
        _plan_then(linksys, router, lambda: setattr(linksys.handle, "max_range", 0))
    assert "firewall/SetPortRangeForwardingRules refused" in info.value.message
    assert "ErrorInvalidInput" in str(info.value) and "too many rules" in str(info.value)
    assert "rolled back" in " ".join(getattr(info.value, "__notes__", []))
    token = base64.b64encode(b"admin:linksys-Pa55").decode()
    assert "linksys-Pa55" not in repr(info.value) and token not in repr(info.value)
    assert _set_batches(linksys)[0] == ["firewall/SetPortRangeForwardingRules", "router/SetLANSettings",
                                        "firewall/SetALGSettings"]
    assert _state(linksys) == before


@pytest.mark.parametrize("bare", [False, True])
def test_refused_transaction_reply_shape_is_read_too(linksys: SimulatedDevice, bare: bool) -> None:
    """[I] A firmware that answers a transaction with a refused action with that action's result outside (as
    Linksys's app reads it), sideEffects on the transaction, and the inner replies kept or (``bare``) not:
    still refused, waited out or re-read through the restart, rolled back."""
    before = _state(linksys)

    def refused_outside(data: dict[str, Any]) -> None:
        first = next((r for r in data["responses"] if r["result"] != "OK"), None)
        effects = sorted({e for r in data["responses"] for e in r.pop("sideEffects", [])})
        if first is not None:
            data.update(result=first["result"], error=first.get("error", ""))
            if bare:
                del data["responses"]
        if effects:
            data["sideEffects"] = effects

    _rewrite_transactions(linksys, refused_outside)
    name = "core/Transaction refused" if bare else "SetPortRangeForwardingRules refused"
    with connect(linksys) as router, pytest.raises(DeviceError, match=name) as info:
        _plan_then(linksys, router, lambda: setattr(linksys.handle, "max_range", 0))
    assert "ErrorInvalidInput" in str(info.value) and "rolled back" in " ".join(info.value.__notes__)
    assert _state(linksys) == before


def test_side_effects_on_the_transaction_reply_are_honoured(linksys: SimulatedDevice) -> None:
    def effects_outside(data: dict[str, Any]) -> None:
        data["sideEffects"] = sorted({e for r in data["responses"] for e in r.pop("sideEffects", [])})

    _rewrite_transactions(linksys, effects_outside)
    linksys.handle.restart_seconds = 0.3
    with connect(linksys) as router:
        result = routerfix.apply_ghostcall_mitigation(router)
    assert result.status == "mitigated"
    actions = _actions(linksys)
    write = actions.index("core/Transaction", 2)
    assert actions[write + 1] == "core/GetDeviceInfo"  # polled until back before verifying
    assert linksys.handle.http.requests[-1].status == 200


@pytest.mark.parametrize("kind", ["drop", "drop-after"])
def test_lost_transaction_answer_is_settled_by_a_read(linksys: SimulatedDevice, kind: str) -> None:
    linksys.handle.http.add_fault(kind, lambda r: r.headers.get("x-jnap-action", "").endswith("core/Transaction")
                                  and b"/Set" in r.body)
    with connect(linksys) as router:
        result = routerfix.apply_ghostcall_mitigation(router)
    assert result.status == "mitigated"
    assert [r["description"] for r in linksys.handle.range] == ["routerfix-sip"]
    reservations = linksys.handle.lan["dhcpSettings"]["reservations"]
    assert [r["description"] for r in reservations].count("routerfix-sink") == 1
    assert linksys.handle.alg == {"isSIPEnabled": False}
    batches = _set_batches(linksys)
    if kind == "drop":  # never reached the router: the read shows it, and it is sent once more
        assert len(batches) == 2 and batches[0] == batches[1]
    else:  # landed, answer lost: the read shows it done, nothing is sent again
        assert len(batches) == 1
