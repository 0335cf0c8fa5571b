"""OPNsense REST API driver against its simulator: conformance, the CLI, idempotence, undo, faults at every write,
the route table (no OpenAPI spec exists: routes are checked against opnsense/core's controllers), secrets."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from routerfix.simulators.opnsense.device import ROUTES

import routerfix
from routerfix.cli import main
from routerfix.driver import Driver, Timeouts
from routerfix.errors import AuthenticationError, InvalidValue
from routerfix.model import PortForward, Remedy, Reservation
from routerfix.simulate import SimulatedDevice, simulate
from routerfix.testing import DriverConformance

FAST = Timeouts(connect=3, read=3, apply=3)
DATA = Path(__file__).parent / "data" / "opnsense"
WRITE_ROUTES = ("firewall/d_nat/add_rule", "firewall/d_nat/apply", "kea/dhcpv4/add_reservation",
                "kea/service/reconfigure")


def connect(device: SimulatedDevice, **extra: Any) -> Driver:
    return routerfix.connect(device.driver, device.host, **{**device.connect_options(), "timeouts": FAST, **extra})


@pytest.fixture
def opn() -> Iterator[SimulatedDevice]:
    """A simulated OPNsense 26.7 with Kea (office: one forward, a reservation, two leases)."""
    with simulate("opnsense") as device:
        yield device


class TestOpnsenseConformance(DriverConformance):
    """The shared driver contract."""

    @pytest.fixture
    def driver(self, opn: SimulatedDevice) -> Iterator[Driver]:
        with connect(opn) as d:
            yield d


def _routes(dev: SimulatedDevice) -> list[str]:
    return [f"{r.method} {r.target.split('?')[0].removeprefix('/api/')}" for r in dev.handle.http.requests]


def _state(dev: SimulatedDevice) -> str:
    h = dev.handle
    return json.dumps([h.rules, h.reservations, h.running_rules, h.running_reservations], sort_keys=True)


def _cli(verb: str, dev: SimulatedDevice, state: Path) -> list[str]:
    return [verb, *dev.cli_args(), "--yes", "--no-prompt", "--state-dir", str(state)]


# --- end to end -------------------------------------------------------------------------------------------


def test_cli_mitigate_rerun_and_undo(opn: SimulatedDevice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _state(opn)
    monkeypatch.setenv("ROUTERFIX_PASSWORD", opn.password)
    assert main(_cli("mitigate", opn, tmp_path)) == 0
    h = opn.handle
    sip = [r for r in h.rules if r["descr"].startswith("routerfix")]
    assert {r["destination.port"] for r in sip} >= {"5060-5061"} or {r["destination.port"] for r in sip} >= \
        {"5060", "5061"}
    assert all(r["interface"] == "wan" and r["destination.network"] == "wanip" for r in sip)
    assert all(r["pass"] == "" for r in sip)  # O25: no filter rule lets anything in
    sink = {r["target"] for r in sip}
    assert len(sink) == 1 and sink <= {r["ip_address"] for r in h.reservations}
    assert not h.dirty()  # saved AND applied
    opn.handle.http.clear_requests()
    assert main(_cli("mitigate", opn, tmp_path)) == 0  # unchanged
    assert not any(r.startswith("POST") for r in _routes(opn))
    assert main(_cli("undo", opn, tmp_path)) == 0
    assert _state(opn) == before


def test_idempotent_rerun_sends_no_write_and_counts_requests(opn: SimulatedDevice) -> None:
    with connect(opn) as router:
        opn.handle.http.clear_requests()
        first = routerfix.apply_ghostcall_mitigation(router)
        per_mitigation = len(opn.handle.http.requests)
    assert first.status == "mitigated"
    # planning reads (the log-in probe's rules reused), add_rule + one apply, add_reservation + one reconfigure,
    # the verify reads: 12 measured
    assert per_mitigation <= 12, _routes(opn)
    assert _routes(opn).count("POST firewall/d_nat/apply") == 1
    assert _routes(opn).count("POST kea/service/reconfigure") == 1
    with connect(opn) as router:
        opn.handle.http.clear_requests()
        second = routerfix.apply_ghostcall_mitigation(router)
        assert second.status == "unchanged" and router.writes == 0
    assert not any(r.startswith("POST") for r in _routes(opn))


def test_undo_restores_exactly(opn: SimulatedDevice) -> None:
    before = _state(opn)
    with connect(opn) as router:
        first = routerfix.apply_ghostcall_mitigation(router)
        assert routerfix.remove_ghostcall_mitigation(router, record=first.to_dict()).status == "undone"
    assert _state(opn) == before


def test_existing_sip_forward_is_a_conflict_and_nothing_is_written() -> None:
    with simulate("opnsense", scenario="pbx") as dev:
        before = _state(dev)
        with connect(dev) as router, pytest.raises(routerfix.RouterfixError):
            routerfix.apply_ghostcall_mitigation(router)
        assert _state(dev) == before and dev.handle.writes == []


# --- faults at every write ----------------------------------------------------------------------------------


@pytest.mark.parametrize("route", WRITE_ROUTES)
@pytest.mark.parametrize("kind", ["drop", "drop-after", "status"])
def test_fault_at_every_write_ends_mitigated_or_as_before(opn: SimulatedDevice, route: str, kind: str) -> None:
    before = _state(opn)
    opn.handle.http.add_fault(kind, f"POST /api/{route}", status=500)
    with connect(opn) as router:
        try:
            result = routerfix.apply_ghostcall_mitigation(router)
        except routerfix.RouterfixError:
            result = None
    h = opn.handle
    if kind != "status":  # a lost request or answer is settled by a read: the mitigation completes, once
        assert result is not None and result.status == "mitigated", (kind, route)
    if result is not None and result.status == "mitigated":
        assert not h.dirty()
        sip = [r for r in h.rules if r["descr"].startswith("routerfix")]
        assert sip and len({json.dumps({k: v for k, v in r.items() if k not in ("uuid", "sequence")})
                            for r in sip}) == len(sip)  # nothing added twice
        assert sum(1 for r in h.reservations if r["description"].startswith("routerfix")) == 1
    else:
        assert _state(opn) == before, (kind, route)


def test_write_answered_after_the_read_timeout_is_settled_by_a_read(opn: SimulatedDevice) -> None:
    """A slow device: the add lands but its answer comes after the read timeout; a read settles it, no resend."""
    opn.handle.http.add_fault("delay", "POST /api/firewall/d_nat/add_rule", seconds=1.5)
    with connect(opn, timeouts=Timeouts(connect=3, read=1, apply=3)) as router:
        assert routerfix.apply_ghostcall_mitigation(router).status == "mitigated"
    assert opn.handle.writes.count("firewall/d_nat/add_rule") == 1  # stored once, never sent again
    assert not opn.handle.dirty()


def test_device_refusal_rolls_back(opn: SimulatedDevice) -> None:
    before = _state(opn)
    opn.handle.refuse.add("kea/dhcpv4/add_reservation")
    with connect(opn) as router, pytest.raises(routerfix.RouterfixError) as info:
        routerfix.apply_ghostcall_mitigation(router)
    assert "simulated refusal" in str(info.value) + " ".join(getattr(info.value, "__notes__", []))
    assert _state(opn) == before


# --- releases and DHCP servers without an API -----------------------------------------------------------------


def test_release_without_dnat_api_gets_a_verdict_with_manual_steps() -> None:
    with simulate("opnsense", release="25.7") as dev:
        with connect(dev) as router:
            assert router.capabilities.remedy is Remedy.UNSUPPORTED_FIRMWARE
            assert any("Firewall > NAT > Port Forward" in n for n in router.capabilities.notes)
            result = routerfix.apply_ghostcall_mitigation(router)
        assert result.status == "verdict" and dev.handle.writes == []


def test_isc_dhcp_has_no_reservation_capability() -> None:
    with simulate("opnsense", dhcp="isc") as dev, connect(dev) as router:
        caps = router.capabilities
        assert routerfix.Feature.DHCP_RESERVATION not in caps and routerfix.Feature.PORT_FORWARD in caps
        assert any("ISC DHCPv4" in n and "Static Mappings" in n for n in caps.notes)
        with pytest.raises(routerfix.UnsupportedOperation):
            router.reserve_address(Reservation("10.40.0.150", "02:00:00:00:00:01", "x"))
        assert dev.handle.writes == []


def test_no_nat_mode_and_no_sip_alg_are_reported(opn: SimulatedDevice) -> None:
    with connect(opn) as router:
        state = router.read_state()
        assert state.nat_mode is None and state.sip_alg is None
        assert any("NAT filtering" in n for n in router.capabilities.notes)
        assert any("SIP ALG" in n for n in router.capabilities.notes)


def test_search_paginates_as_searchbase() -> None:
    """O23: the simulator pages like ``searchBase``; the driver asks once for all rows."""
    import requests

    with simulate("opnsense", tls=False) as opn:
        with connect(opn) as router:
            for i in range(3):
                router.add_port_forward(PortForward(f"p{i}", "tcp", 40000 + i, "10.40.0.150"))
        url = f"http://127.0.0.1:{opn.port}/api/firewall/d_nat/search_rule"
        page = requests.post(url, json={"current": 2, "rowCount": 2}, auth=(opn.username, opn.password),
                             timeout=5).json()
        assert page["current"] == 2 and page["rowCount"] == 2 and page["total"] == 5
        opn.handle.http.clear_requests()
        with connect(opn) as router:
            assert len(router.list_port_forwards()) == 4
        # one search in all: the log-in probe's answer serves the listing (no write in between)
        assert sum("search_rule" in r.target for r in opn.handle.http.requests) == 1


# --- route table (no OpenAPI spec is published: checked against opnsense/core controllers) ----------------------


def _table() -> dict[str, dict[str, str]]:
    data = json.loads((DATA / "controllers.json").read_text())
    out = {}
    for url, ctl in data["controllers"].items():
        module, controller = url.split("/")
        # the controller's URL name is its class name without "Controller", uncamelized (DNat → d_nat)
        assert re.sub(r"(?<!^)([A-Z])", r"_\1", ctl["class"].removesuffix("Controller")).lower() == controller
        assert f"/OPNsense/{module.capitalize()}/Api/" in ctl["file"] or module == "kea"
        for action, methods in ctl["actions"].items():
            snake = re.sub(r"([A-Z])", r"_\1", action).lower()
            out[f"{url}/{snake}"] = set(methods.split(","))
    return out


def test_simulator_routes_are_opnsense_core_controller_actions() -> None:
    table = _table()
    for route, methods in ROUTES.items():
        assert route in table, route
        assert set(methods.split(",")) <= table[route], route


def test_every_request_the_driver_sends_is_in_the_route_table(opn: SimulatedDevice) -> None:
    table = _table()
    with connect(opn) as router:
        first = routerfix.apply_ghostcall_mitigation(router)
        routerfix.remove_ghostcall_mitigation(router, record=first.to_dict())
    seen = _routes(opn)
    assert any("d_nat/del_rule" in s for s in seen) and any("del_reservation" in s for s in seen)
    for line in seen:
        method, path = line.split(" ", 1)
        route = "/".join(path.split("/")[:3])
        assert route in table and method in table[route], line
        assert route in ROUTES


# --- input, credentials, secrets --------------------------------------------------------------------------------


def test_bad_input_is_refused_before_any_request(opn: SimulatedDevice) -> None:
    with connect(opn) as router:
        opn.handle.http.clear_requests()
        for bad in (lambda: router.add_port_forward(PortForward("bad\nname", "udp", 5060, "10.40.0.150")),
                    lambda: router.add_port_forward(PortForward("x", "udp", 5060, "10.40.0.150", wan_only=False)),
                    lambda: router.reserve_address("10.40.0.150"),  # type: ignore[arg-type]
                    lambda: router.remove_port_forward("uuid")):  # type: ignore[arg-type]
            with pytest.raises(InvalidValue):
                bad()
        assert opn.handle.http.requests == []
    with pytest.raises(InvalidValue):
        routerfix.connect("opnsense", "bad host", username="k", password="s", no_such_option=1)


def test_wrong_secret_is_refused_once_never_retried(opn: SimulatedDevice) -> None:
    with pytest.raises(AuthenticationError):
        connect(opn, password="wrong-secret")
    assert len(opn.handle.http.requests) == 1 and opn.handle.http.requests[0].status == 401


def test_secret_never_in_logs_or_results(opn: SimulatedDevice, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    opn.handle.http.add_fault("drop", "POST /api/firewall/d_nat/add_rule")
    with connect(opn) as router:
        result = routerfix.apply_ghostcall_mitigation(router)
        text = json.dumps(result.to_dict()) + repr(router) + caplog.text
    basic = base64.b64encode(f"{opn.username}:{opn.password}".encode()).decode()
    assert opn.password not in text and basic not in text
