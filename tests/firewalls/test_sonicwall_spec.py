"""Every request the SonicWall driver sends, and the simulator's routes and answers, checked against SonicWall's
published SonicOS API 7.0.1 OpenAPI document (excerpt and attribution: ``data/sonicwall/README.md``) with
``jsonschema``."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import routerfix
from routerfix.driver import Timeouts
from routerfix.simulate import SimulatedDevice, simulate

SPEC = json.loads((Path(__file__).parent / "data" / "sonicwall" / "sonicos_7_0_1_excerpt.json")
                  .read_text(encoding="utf-8"))
API = "/api/sonicos"
NOT_IN_SPEC = {("POST", "/auth")}
"""Log-in with HTTP Basic: not in the document (it shows only two-factor log-in); facts S2 cite SonicWall's client."""


def _inline(node: Any, seen: tuple[str, ...] = ()) -> Any:
    """``node`` with every ``$ref`` replaced by its schema, OpenAPI ``nullable`` as a null type and a ``oneOf`` whose
    alternatives all lack ``required`` as ``anyOf`` (fact S24)."""
    if isinstance(node, list):
        return [_inline(n, seen) for n in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[1]
        assert name not in seen, f"recursive schema {name}"
        return _inline(SPEC["components"]["schemas"][name], (*seen, name))
    out = {k: _inline(v, seen) for k, v in node.items() if k not in ("nullable", "readOnly")}
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if "oneOf" in out and not any("required" in alt for alt in out["oneOf"]):
        out["anyOf"] = out.pop("oneOf")
    return out


@cache
def _operation(method: str, path: str) -> tuple[str, str]:
    """The spec template matching ``path`` (under /api/sonicos); asserts the method is an operation of it."""
    tail = path.removeprefix(API)
    for template, item in SPEC["paths"].items():
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), tail):
            assert method.lower() in item or (method, template) in NOT_IN_SPEC, f"{method} {template}: not in the spec"
            return template, method.lower()
    raise AssertionError(f"{method} {path} is not a path of the SonicOS API spec")


def _declared(schema: dict[str, Any]) -> set[str] | None:
    """Property names an object schema (and its anyOf/oneOf/allOf branches) declares; None: any."""
    names: set[str] = set(schema.get("properties", {}))
    for key in ("anyOf", "oneOf", "allOf"):
        for alt in schema.get(key, []):
            names |= _declared(alt) or set()
    return names or None


def _strict(schema: dict[str, Any], body: Any, where: str) -> None:
    """No property the spec does not declare, at any depth (the API refuses or ignores those)."""
    if isinstance(body, dict):
        declared = _declared(schema)
        if declared is None:
            return
        unknown = set(body) - declared
        assert not unknown, f"{where}: properties not in the spec: {sorted(unknown)}"
        for key, value in body.items():
            for sub in _subschemas(schema, key):
                _strict(sub, value, f"{where}.{key}")
    elif isinstance(body, list) and isinstance(schema.get("items"), dict):
        for item in body:
            _strict(schema["items"], item, f"{where}[]")


def _subschemas(schema: dict[str, Any], key: str) -> list[dict[str, Any]]:
    out = [schema["properties"][key]] if key in schema.get("properties", {}) else []
    for k in ("anyOf", "oneOf", "allOf"):
        for alt in schema.get(k, []):
            out += _subschemas(alt, key)
    return out


def check(schema: Any, body: Any, where: str) -> None:
    """``body`` against an (inlined) spec schema: jsonschema, then no undeclared property."""
    resolved = _inline(schema)
    jsonschema.validate(body, resolved)
    _strict(resolved, body, where)


def _request_schema(template: str, method: str) -> Any:
    return SPEC["paths"][template][method]["requestBody"]["content"]["application/json"]["schema"]


def _run(scenario: str, **options: Any) -> SimulatedDevice:
    with simulate("sonicwall", scenario=scenario) as dev:
        opts = {**dev.connect_options(), "timeouts": Timeouts(connect=3, read=3, apply=3)}
        with routerfix.connect("sonicwall", dev.host, **opts) as fw:
            result = routerfix.apply_ghostcall_mitigation(fw, backup=False, **options)
            assert result.status == "mitigated"
            assert routerfix.remove_ghostcall_mitigation(fw, record=result.to_dict()).status == "undone"
        return dev


@pytest.fixture(scope="module")
def office() -> SimulatedDevice:
    return _run("office")


@pytest.mark.parametrize("scenario", ["office", "pbx"])
def test_every_request_the_driver_sends_is_in_the_spec(scenario: str, office: SimulatedDevice) -> None:
    dev = office if scenario == "office" else _run("pbx", replace_conflicting=True)
    seen = set()
    for req in dev.handle.http.requests:
        template, method = _operation(req.method, req.path)
        seen.add((req.method, template))
        op = SPEC["paths"][template].get(method)
        if op is None:
            continue
        if "requestBody" in op:
            assert req.headers.get("content-type", "").startswith("application/json")
            check(_request_schema(template, method), json.loads(req.body), f"{req.method} {template}")
        elif req.method != "POST":
            assert not req.body, f"{req.method} {template} sends a body"
    for wanted in [("POST", "/nat-policies/ipv4"), ("POST", "/access-rules/ipv4"), ("PUT", "/voip"),
                   ("POST", "/config/pending"), ("DELETE", "/auth"), ("DELETE", "/access-rules/ipv4/uuid/{UUID}")]:
        assert wanted in seen


def test_simulator_routes_are_spec_operations() -> None:
    """Each route the simulator serves (method, template) is an operation of the spec (or the log-in, S2)."""
    routes = [("POST", "/auth"), ("DELETE", "/auth"), ("GET", "/config/pending"), ("POST", "/config/pending"),
              ("DELETE", "/config/pending"), ("GET", "/version"), ("GET", "/voip"), ("PUT", "/voip"),
              ("GET", "/reporting/dhcp-server/ipv4/leases/status"), ("GET", "/reporting/arp/caches"),
              ("GET", "/dhcp-server/ipv4/scopes/dynamic"), ("GET", "/dhcp-server/ipv4/scopes/static"),
              ("POST", "/dhcp-server/ipv4/scopes/static"),
              ("DELETE", "/dhcp-server/ipv4/scopes/static/ip/192.168.168.9/mac/0004F2000001")]
    for table, by in (("address-objects/ipv4", "name"), ("service-objects", "name"), ("service-groups", "name"),
                      ("nat-policies/ipv4", "uuid"), ("access-rules/ipv4", "uuid")):
        routes += [("GET", f"/{table}"), ("POST", f"/{table}"), ("DELETE", f"/{table}/{by}/x")]
    for method, path in routes:
        _operation(method, API + path)


def test_simulator_answers_match_the_response_schemas() -> None:
    with simulate("sonicwall", scenario="pbx") as dev:
        opts = {**dev.connect_options(), "timeouts": Timeouts(connect=3, read=3, apply=3)}
        with routerfix.connect("sonicwall", dev.host, **opts) as fw:
            assert routerfix.apply_ghostcall_mitigation(fw, backup=False,
                                                        replace_conflicting=True).status == "mitigated"
            for template in ("/version", "/voip", "/address-objects/ipv4", "/service-objects", "/service-groups",
                             "/nat-policies/ipv4", "/access-rules/ipv4", "/dhcp-server/ipv4/scopes/dynamic",
                             "/dhcp-server/ipv4/scopes/static", "/reporting/dhcp-server/ipv4/leases/status",
                             "/reporting/arp/caches"):
                page = fw.http.get(API + template, page=template)  # type: ignore[attr-defined]
                schema = SPEC["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
                check(schema, json.loads(page.text), f"GET {template}")
            status = fw.http.request("POST", API + "/config/pending", page="commit")  # type: ignore[attr-defined]
            default = SPEC["paths"]["/config/pending"]["post"]["responses"]["default"]
            check(default["content"]["application/json"]["schema"], json.loads(status.text), "commit answer")


def test_the_spec_documents_what_the_driver_relies_on() -> None:
    """Facts S6, S19, S26: commit/discard of the pending configuration, SIP transformations and consistent NAT in
    the VoIP settings, SIP transformation per access rule."""
    assert {"get", "post", "delete"} <= set(SPEC["paths"]["/config/pending"])
    voip = _inline(SPEC["components"]["schemas"]["voip"])["properties"]["voip"]["properties"]
    assert voip["consistent_nat"]["type"] == "boolean" and voip["sip"]["properties"]["enable"]["type"] == "boolean"
    rule = _inline(_request_schema("/access-rules/ipv4", "post"))
    assert rule["properties"]["access_rules"]["items"]["properties"]["ipv4"]["properties"]["sip"]["type"] == "boolean"


def test_a_body_off_the_spec_is_caught() -> None:
    """The validation can fail: an access rule with action 'accept' (FortiOS's word) and an unknown field."""
    good = {"access_rules": [{"ipv4": {"from": "WAN", "to": "LAN", "action": "allow",
                                       "source": {"address": {"any": True}, "port": {"any": True}},
                                       "service": {"group": "g"}, "destination": {"address": {"name": "a"}},
                                       "schedule": {"always_on": True}}}]}
    check(_request_schema("/access-rules/ipv4", "post"), good, "good")
    bad = copy.deepcopy(good)
    bad["access_rules"][0]["ipv4"]["action"] = "accept"
    with pytest.raises(jsonschema.ValidationError):
        check(_request_schema("/access-rules/ipv4", "post"), bad, "bad")
    bad = copy.deepcopy(good)
    bad["access_rules"][0]["ipv4"]["srcintf"] = "X1"
    with pytest.raises(AssertionError, match="not in the spec"):
        check(_request_schema("/access-rules/ipv4", "post"), bad, "bad")
    with pytest.raises(AssertionError, match="not a path"):
        _operation("POST", API + "/firewall/vip")
