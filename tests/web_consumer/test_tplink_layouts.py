"""TP-Link legacy virtual-server tables read with the layout the router declares (docs/facts/tplink.md T5-T7):
6- and 7-value rows, paged by the has-next flag, against the simulator serving each width."""

from __future__ import annotations

import urllib.parse

import pytest

import routerfix
from routerfix.model import PortRange, Protocol
from routerfix.simulate import simulate

from .helpers import connect

SINK = "192.168.0.198"
WIDTHS = [("wr841n", 6), ("wr841n", 7), ("wr940n", 6), ("wr940n", 7)]


def _vs_queries(dev: routerfix.simulate.SimulatedDevice) -> list[dict[str, list[str]]]:
    return [urllib.parse.parse_qs(r.query, keep_blank_values=True) for r in dev.handle.http.requests
            if r.path.endswith("/VirtualServerRpm.htm")]


@pytest.mark.parametrize(("model", "width"), WIDTHS)
def test_a_router_with_virtual_servers_is_mitigated_and_keeps_them(model: str, width: int) -> None:
    with simulate("tplink", model=model, scenario="rules", vs_width=width) as dev:
        before = list(dev.handle.vs)
        with connect(dev) as router:
            state = router.read_state()
            assert [(f.protocol, f.external_ports, str(f.internal_address), f.internal_ports)
                    for f in state.forwards] == [
                (Protocol.TCP, PortRange(443), "192.168.0.20", PortRange(443)),
                (Protocol.BOTH, PortRange(27015, 27030), "192.168.0.30", PortRange(27015, 27030))]
            result = routerfix.apply_ghostcall_mitigation(router)
            assert result.status == "mitigated"
            assert dev.handle.vs[:2] == before and dev.handle.vs[2].ip == SINK
            undone = routerfix.remove_ghostcall_mitigation(router, record=result.to_dict())
        assert undone.status == "undone" and dev.handle.vs == before


@pytest.mark.parametrize(("model", "width"), WIDTHS)
def test_paging_follows_the_has_next_flag_not_the_row_width(model: str, width: int) -> None:
    with simulate("tplink", model=model, scenario="many", vs_width=width) as dev:  # ten rules: two pages
        with connect(dev) as router:
            dev.handle.http.clear_requests()
            forwards = router.list_port_forwards()
            assert sorted(f.external_ports.start for f in forwards) == [20000 + i for i in range(10)]
            assert [f.ref for f in forwards] == [str(i) for i in range(10)]
            assert [q.get("Page") for q in _vs_queries(dev)] == [["1"], ["2"]]


def test_removing_a_rule_on_the_second_page_names_that_page() -> None:
    with simulate("tplink", scenario="many", vs_width=7) as dev:
        with connect(dev) as router:
            ninth = next(f for f in router.list_port_forwards() if f.ref == "9")
            dev.handle.http.clear_requests()
            router.remove_port_forward(ninth)
        deletes = [q for q in _vs_queries(dev) if "Del" in q]
        assert deletes == [{"Del": ["9"], "Page": ["2"]}]
        assert len(dev.handle.vs) == 9 and all(v.external != "20009" for v in dev.handle.vs)
