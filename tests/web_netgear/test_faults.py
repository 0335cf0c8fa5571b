"""Each fault knob leaves the router as it was or fully mitigated."""

from __future__ import annotations

from typing import Any

import pytest

import routerfix
from routerfix.errors import RouterfixError

from .conftest import connect

MITIGATED = ([("routerfix-sip", "TCP/UDP", 5060, 5061, "192.168.1.254")], False, False)
UNTOUCHED = ([], True, True)
"""(rules, NAT Secured, SIP ALG on): the default simulator (2 phones, Secured, SIP ALG on) before and after."""


def _end(device: Any) -> tuple[list[tuple[str, str, int, int, str]], bool, bool]:
    device.handle.settle()
    cfg = device.handle.config
    assert cfg.spi is True
    return [(r.name, r.proto, r.ext_start, r.ext_end, r.ip) for r in cfg.rules], cfg.nat_secured, cfg.sip_alg


def test_other_admin_refused_without_takeover(netgear: Any, model: str) -> None:
    with netgear(model, other_admin=True) as device:
        with pytest.raises(routerfix.SessionError, match="take_over_session"):
            connect(device)
        assert _end(device) == UNTOUCHED
        assert device.handle.holder == "192.168.1.23"


def test_other_admin_taken_over_when_allowed(netgear: Any, model: str) -> None:
    with netgear(model, other_admin=True) as device:
        with connect(device, take_over_session=True) as router:
            assert routerfix.apply_ghostcall_mitigation(router).status == "mitigated"
        assert _end(device) == MITIGATED


@pytest.mark.parametrize("after", [5, 8, 9, 10, 11, 12, 13])
def test_token_expires_mid_flow(netgear: Any, model: str, after: int) -> None:
    with netgear(model, expire_token_after=after) as device:
        with connect(device) as router:
            try:
                routerfix.apply_ghostcall_mitigation(router)
            except RouterfixError:
                pass
        assert _end(device) in (MITIGATED, UNTOUCHED)


@pytest.mark.parametrize("target", ["GET /WAN_wan.htm", "POST /security.cgi", "POST /pforward.cgi", "POST /apply.cgi",
                                    "forwarding"])
def test_http_500(netgear: Any, model: str, target: str) -> None:
    with netgear(model, http500=target) as device:
        with connect(device) as router:
            try:
                routerfix.apply_ghostcall_mitigation(router)
            except RouterfixError:
                pass
        assert _end(device) in (MITIGATED, UNTOUCHED)


@pytest.mark.parametrize("target", ["FW_forward3", "forwarding.htm", "WAN_wan", "LAN_lan", "DEV_"])
def test_garbled_page(netgear: Any, model: str, target: str) -> None:
    with netgear(model) as device:
        # the log-in's first request is the WAN page's 401 challenge (row 3): garble the page itself
        device.handle.server.add_fault("garble", target, skip=1 if target == "WAN_wan" else 0)
        with connect(device) as router:
            try:
                routerfix.apply_ghostcall_mitigation(router)
            except RouterfixError as exc:
                assert not isinstance(exc, routerfix.RollbackFailed)
        assert _end(device) in (MITIGATED, UNTOUCHED)


def test_garbled_list_page_names_the_page(netgear: Any) -> None:
    with netgear("R7800", garble="forwarding.htm") as device, connect(device) as router:
        with pytest.raises(routerfix.ParseError, match="forwarding.htm"):
            router.list_port_forwards()
        assert router.writes == 0


def test_slow_apply(netgear: Any, model: str) -> None:
    with netgear(model, slow_apply=0.6) as device:
        with connect(device) as router:
            assert routerfix.apply_ghostcall_mitigation(router).status == "mitigated"
        assert _end(device) == MITIGATED


def test_login_changed(netgear: Any, model: str) -> None:
    with netgear(model, login_changed=True) as device:
        with pytest.raises(routerfix.UnsupportedOperation, match="form"):
            connect(device)
        assert _end(device) == UNTOUCHED
        assert device.handle.server.recorded("POST") == []


def test_dropped_connection_during_write(netgear: Any, model: str) -> None:
    with netgear(model) as device:
        device.handle.server.add_fault("drop-after", "POST /security.cgi" if model == "R7000" else "POST /apply.cgi")
        with connect(device) as router:
            try:
                routerfix.apply_ghostcall_mitigation(router)
            except RouterfixError:
                pass
        assert _end(device) in (MITIGATED, UNTOUCHED)
