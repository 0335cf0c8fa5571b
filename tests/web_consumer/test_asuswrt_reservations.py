"""ASUSWRT DHCP reservations: the manual-assignment switch (``dhcp_static_x``) and the record format of each
firmware era (docs/facts/asuswrt.md rows F12-F16), against the simulator of both eras."""

from __future__ import annotations

import pytest

import routerfix
from routerfix.errors import DeviceError
from routerfix.simulate import simulate

from .helpers import connect, writes_seen

SINK = "192.168.50.253"
SINK_MAC = "02:00:5E:C0:50:60"
_KEYS = ("vts_enable_x", "vts_rulelist", "dhcp_staticlist", "dhcp_static_x", "dhcp_hostnames")


def _fields(value: str) -> list[int]:
    return [len(raw.split(">")) for raw in value.split("<")[1:]]


def test_manual_assignment_off_is_switched_on_with_the_reservation_and_undo_restores_it() -> None:
    with simulate("asuswrt", scenario="manual-off") as dev:
        before = {k: dev.handle.nvram[k] for k in _KEYS}
        with connect(dev) as router:
            result = routerfix.apply_ghostcall_mitigation(router)
        assert result.status == "mitigated"
        assert (SINK_MAC, SINK, "routerfix-sink") in dev.handle.reservations()  # the reservation takes effect
        reqs = dev.handle.http.requests
        assert [(r.method, r.path) for r in reqs] == [
            ("POST", "/login.cgi"), ("GET", "/appGet.cgi"), ("POST", "/applyapp.cgi"), ("POST", "/applyapp.cgi"),
            ("GET", "/appGet.cgi"), ("GET", "/Logout.asp")]
        assert reqs[3].form["dhcp_static_x"] == "1" and "dhcp_staticlist" in reqs[3].form  # one write
        with connect(dev) as router:
            undone = routerfix.remove_ghostcall_mitigation(router, record=result.to_dict())
        assert undone.status == "undone"
        assert {k: dev.handle.nvram[k] for k in _KEYS} == before


def test_dormant_reservations_are_not_switched_on_and_the_plan_says_so() -> None:
    with simulate("asuswrt") as dev:
        dev.handle.nvram["dhcp_static_x"] = "0"  # the office's phone reservation, switched off
        before = {k: dev.handle.nvram[k] for k in ("dhcp_static_x", "dhcp_staticlist", "dhcp_hostnames")}
        with connect(dev) as router:
            result = routerfix.apply_ghostcall_mitigation(router)
        assert result.status == "mitigated"
        assert any("cannot reserve" in w for w in result.plan.warnings)
        assert {k: dev.handle.nvram[k] for k in before} == before
        assert [a[0] for a in dev.handle.applied] == ["restart_firewall"]


def test_a_direct_reservation_with_dormant_ones_is_refused() -> None:
    with simulate("asuswrt") as dev:
        dev.handle.nvram["dhcp_static_x"] = "0"
        with connect(dev) as router, pytest.raises(DeviceError, match="manual DHCP assignment"):
            router.reserve_address(routerfix.Reservation(SINK, SINK_MAC, "routerfix-sink"))
        assert [w for w in writes_seen(dev) if "applyapp" in w] == []


def test_merlin_384_gets_three_field_records_and_its_host_name_list() -> None:
    with simulate("asuswrt", era="384") as dev:
        before = {k: dev.handle.nvram[k] for k in _KEYS}
        with connect(dev) as router:
            state = router.read_state()
            assert state.scope is not None
            assert [r.name for r in state.scope.reservations] == ["Polycom-VVX450"]  # from dhcp_hostnames
            result = routerfix.apply_ghostcall_mitigation(router)
        assert result.status == "mitigated"
        assert set(_fields(dev.handle.nvram["dhcp_staticlist"])) == {3}
        assert dev.handle.nvram["dhcp_hostnames"].endswith(f"<{SINK_MAC}>routerfix-sink")
        assert (SINK_MAC, SINK, "routerfix-sink") in dev.handle.reservations()
        with connect(dev) as router:
            routerfix.remove_ghostcall_mitigation(router, record=result.to_dict())
        assert {k: dev.handle.nvram[k] for k in _KEYS} == before


def test_merlin_384_with_an_empty_list_is_told_by_its_version() -> None:
    with simulate("asuswrt", era="384", scenario="manual-off") as dev:
        with connect(dev) as router:
            result = routerfix.apply_ghostcall_mitigation(router)
        assert result.status == "mitigated"
        assert dev.handle.nvram["dhcp_staticlist"] == f"<{SINK_MAC}>{SINK}>"
        assert dev.handle.nvram["dhcp_hostnames"] == f"<{SINK_MAC}>routerfix-sink"
        assert dev.handle.reservations() == [(SINK_MAC, SINK, "routerfix-sink")]


def test_388_keeps_four_field_records() -> None:
    with simulate("asuswrt") as dev:
        with connect(dev) as router:
            routerfix.apply_ghostcall_mitigation(router)
        assert set(_fields(dev.handle.nvram["dhcp_staticlist"])) == {4}
        assert dev.handle.nvram["dhcp_hostnames"] == ""
        assert (SINK_MAC, SINK, "routerfix-sink") in dev.handle.reservations()
