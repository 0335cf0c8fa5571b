"""Every request the Meraki driver sends, and the simulator's routes and answers, checked against Meraki's published
OpenAPI document (excerpt and attribution: ``data/meraki/README.md``) with ``jsonschema``."""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import routerfix
from routerfix.driver import Timeouts
from routerfix.simulate import SimulatedDevice, simulate

SPEC = json.loads((Path(__file__).parent / "data" / "meraki" / "spec3_excerpt.json").read_text(encoding="utf-8"))
API = "/api/v1"
NOT_EXCERPTED = {("GET", "/networks/{networkId}"), ("GET", "/networks/{networkId}/appliance/vlans/settings"),
                 ("GET", "/networks/{networkId}/clients")}
"""Operations the driver calls whose spec text is not stored yet (README); their routes are still pinned here."""


def _operation(method: str, path: str) -> tuple[str, dict[str, Any] | None]:
    """The spec template matching ``path`` (under /api/v1) and its operation for ``method``."""
    tail = path.removeprefix(API)
    for template, item in SPEC["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), tail):
            return template, item.get(method.lower())
    for m, template in NOT_EXCERPTED:
        if m == method and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), tail):
            return template, None
    raise AssertionError(f"{method} {path} is not an operation of the Dashboard API v1 spec")


def _request_schema(op: dict[str, Any]) -> dict[str, Any]:
    return dict(op["requestBody"]["content"]["application/json"]["schema"])


def _strict(schema: dict[str, Any], body: Any, where: str) -> None:
    """jsonschema validation plus: no property the spec does not declare (the API ignores or refuses those)."""
    jsonschema.validate(body, schema)
    if isinstance(body, dict) and schema.get("properties"):
        unknown = set(body) - set(schema["properties"])
        assert not unknown, f"{where}: properties not in the spec: {sorted(unknown)}"
        for key, value in body.items():
            sub = schema["properties"][key]
            if sub.get("type") == "array" and isinstance(value, list) and "items" in sub:
                for item in value:
                    _strict(sub["items"], item, f"{where}.{key}[]")


def _run(scenario: str, *, undo: bool = True) -> SimulatedDevice:
    with simulate("meraki", scenario=scenario) as dev:
        opts = {**dev.connect_options(), "timeouts": Timeouts(connect=3, read=3, apply=3)}
        with routerfix.connect("meraki", dev.host, **opts) as mx:
            result = routerfix.apply_ghostcall_mitigation(mx, backup=True)
            assert result.status == "mitigated"
            if undo:
                assert routerfix.remove_ghostcall_mitigation(mx, record=result.to_dict()).status == "undone"
        return dev


@pytest.mark.parametrize("scenario", ["office", "single_lan"])
def test_every_request_the_driver_sends_is_in_the_spec(scenario: str) -> None:
    dev = _run(scenario)
    seen = set()
    for req in dev.handle.http.requests:
        template, op = _operation(req.method, req.path)
        seen.add((req.method, template))
        if op is None:
            continue
        required = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query" and p.get("required")}
        assert required <= set(urllib.parse.parse_qs(req.query)), f"{req.method} {req.path}: missing {required}"
        if "requestBody" in op:
            assert req.headers.get("content-type", "").startswith("application/json")
            _strict(_request_schema(op), json.loads(req.body), f"{req.method} {template}")
        else:
            assert not req.body
    assert ("PUT", "/networks/{networkId}/appliance/firewall/portForwardingRules") in seen
    assert (("PUT", "/networks/{networkId}/appliance/vlans/{vlanId}") in seen) is (scenario == "office")


@pytest.mark.parametrize("scenario", ["office", "single_lan"])
def test_simulator_answers_match_the_response_schemas(scenario: str) -> None:
    dev = _run(scenario, undo=False)
    cloud = dev.handle
    answers = {"/networks/{networkId}/appliance/firewall/portForwardingRules": {"rules": cloud.rules}}
    if cloud.vlans_enabled:
        answers["/networks/{networkId}/appliance/vlans/{vlanId}"] = cloud.vlan
    else:
        answers["/networks/{networkId}/appliance/singleLan"] = cloud.single_lan
    for template, body in answers.items():
        for method in ("get", "put"):
            schema = SPEC["paths"][template][method]["responses"]["200"]["content"]["application/json"]["schema"]
            jsonschema.validate(body, schema)
    # the rules the simulator stores are valid PUT items, so a read-modify-write sends a spec-valid body back
    item = SPEC["paths"]["/networks/{networkId}/appliance/firewall/portForwardingRules"]["put"]["requestBody"]
    _strict(item["content"]["application/json"]["schema"], {"rules": cloud.rules}, "stored rules")


def test_simulator_routes_are_spec_operations() -> None:
    """Each route the simulator serves (method, template) is an operation of the spec (or pinned above)."""
    routes = [("GET", "/networks/N_1"), ("GET", "/networks/N_1/appliance/firewall/portForwardingRules"),
              ("PUT", "/networks/N_1/appliance/firewall/portForwardingRules"),
              ("GET", "/networks/N_1/appliance/vlans/settings"), ("GET", "/networks/N_1/appliance/vlans/1"),
              ("PUT", "/networks/N_1/appliance/vlans/1"), ("GET", "/networks/N_1/appliance/singleLan"),
              ("PUT", "/networks/N_1/appliance/singleLan"), ("GET", "/networks/N_1/clients")]
    for method, path in routes:
        template, op = _operation(method, API + path)
        assert op is not None or (method, template) in NOT_EXCERPTED


def test_single_lan_has_no_fixed_ip_assignments_in_the_spec() -> None:
    """facts: meraki M9 — the reason the driver declares no DHCP reservation on a single-LAN network."""
    single = SPEC["paths"]["/networks/{networkId}/appliance/singleLan"]
    assert "fixedIpAssignments" not in _request_schema(single["put"])["properties"]
    vlan = SPEC["paths"]["/networks/{networkId}/appliance/vlans/{vlanId}"]
    assert "fixedIpAssignments" in _request_schema(vlan["put"])["properties"]


def test_a_body_off_the_spec_is_caught() -> None:
    """The validation can fail: a rule with protocol 'both' (what other vendors call it) is refused."""
    op = SPEC["paths"]["/networks/{networkId}/appliance/firewall/portForwardingRules"]["put"]
    bad = {"rules": [{"lanIp": "192.168.128.9", "publicPort": "5060", "localPort": "5060", "allowedIps": ["any"],
                      "protocol": "both"}]}
    with pytest.raises(jsonschema.ValidationError):
        _strict(_request_schema(op), bad, "bad")
    with pytest.raises(AssertionError, match="not in the spec"):
        _strict(_request_schema(op), {"rules": [], "comment": "x"}, "bad")
