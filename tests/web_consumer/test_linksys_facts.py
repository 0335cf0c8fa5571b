"""Linksys JNAP: the driver's parsers over outputs recorded from real routers (``data/linksys/README.md``) and the
behaviours of ``docs/facts/linksys.md`` the simulator reproduces from Linksys's own GUI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from routerfix.drivers.linksys import parser as jnap

from routerfix.errors import AuthenticationError
from routerfix.simulate import simulate

from .helpers import connect

DATA = Path(__file__).parent / "data" / "linksys"


def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def test_recorded_transaction_parses_in_request_order() -> None:
    text = (DATA / "core_transaction_whw03.json").read_text(encoding="utf-8")
    outer, replies = jnap.parse_transaction(text, 11)
    assert outer.ok and all(r.ok for r in replies)
    info = replies[0].output
    assert (info["modelNumber"], info["firmwareVersion"]) == ("WHW03", "2.1.20.213195")


def test_recorded_device_list_gives_the_connected_devices() -> None:
    """facts: linksys L18 — only devices with a connection have an address; names may be missing."""
    devices = _load("core_transaction_whw03.json")["responses"][6]["output"]
    neighbours = jnap.parse_devices(devices)
    assert [(str(n.address), n.mac) for n in neighbours] == [
        ("192.168.1.1", "30:23:03:2e:af:ee"), ("192.168.1.194", "30:23:03:2e:a4:ea"),
        ("192.168.3.113", "d2:60:cb:a0:3d:17"), ("192.168.3.103", "12:7d:2a:77:4a:0d")]


def test_recorded_forwarding_lists() -> None:
    rules, forwards, limit = jnap.parse_rules(_load("single_port_forwarding_rules.json"), "single", "single")
    assert limit == 50 and len(rules) == 2
    assert [f.describe() for f in forwards] == ["XBOX: both 999 -> 10.137.1.123:9999 (disabled)",
                                                "tt123: both 22 -> 10.137.1.33:3333"]
    _, ranged, limit = jnap.parse_rules(_load("port_range_forwarding_rules.json"), "range", "range")
    assert limit == 25 and [f.describe() for f in ranged] == ["Rule 2222: both 5003-5004 -> 10.137.1.230:5003-5004"]


def test_recorded_lan_settings() -> None:
    scope = jnap.parse_lan_settings(_load("lan_settings.json"))
    assert (str(scope.network), str(scope.gateway)) == ("10.135.1.0/24", "10.135.1.1")
    assert [(str(p.first), str(p.last)) for p in scope.pools] == [("10.135.1.10", "10.135.1.254")]


def test_login_checks_the_password_as_linksys_app_does() -> None:
    """facts: linksys L7 — ``core/CheckAdminPassword`` carries ``adminPassword`` as Linksys's app sends it."""
    with simulate("linksys") as dev:
        with connect(dev) as router:
            assert router.facts().model.startswith("EA7500")
        check = [r for r in dev.handle.http.requests if "CheckAdminPassword" in r.headers.get("x-jnap-action", "")]
        assert len(check) == 1 and set(json.loads(check[0].body)) == {"adminPassword"}


@pytest.mark.parametrize("result", ["ErrorInvalidAdminPassword", "ErrorPasswordCheckDelayed",
                                    "ErrorAdminAccountLocked"])
def test_password_check_refusals_are_authentication_errors(result: str) -> None:
    """facts: linksys L7 — these results are the router refusing the password (never retried)."""
    with simulate("linksys") as dev:
        dev.handle.check_result = result
        with pytest.raises(AuthenticationError):
            connect(dev)
        assert dev.handle.writes == []
