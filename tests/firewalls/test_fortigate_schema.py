"""Every request body the FortiGate driver sends, and every object its simulator serves, validated against the FortiOS
table schemas of Fortinet's Ansible collection (``data/fortigate``, GPL-3.0, see its README)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import routerfix
from routerfix.simulate import SimulatedDevice, simulate

from .test_fortigate import connect

DATA = Path(__file__).parent / "data" / "fortigate" / "ansible_fortios_schemas.json"
_TYPES = {"string": "string", "integer": "integer", "list": "array", "dict": "object"}
SERVED_ONLY = frozenset({"q_origin_key"})
"""Fields FortiOS adds to what it serves (the entry's key as stored), not part of the table schema."""


def _json_schema(node: dict[str, Any], *, required: bool, served: bool) -> dict[str, Any]:
    """One Ansible ``versioned_schema`` node as a JSON Schema (``options`` → enum, children → closed object)."""
    kind = node.get("type", "dict")
    if (kind == "list" and "children" in node) or (kind == "dict" and "children" in node):
        children = node["children"]
        props = {name.replace("_", "-"): _json_schema(child, required=True, served=served)
                 for name, child in children.items()}
        if served:
            props.update({name: {} for name in SERVED_ONLY})
        obj = {"type": "object", "properties": props, "additionalProperties": False,
               "required": [n.replace("_", "-") for n, c in children.items() if c.get("required") and required]}
        return {"type": "array", "items": obj} if kind == "list" else obj
    if kind == "list":  # a list of plain values (``elements`` string/integer)
        return {"type": "array", "items": {"type": _TYPES.get(node.get("elements", "string"), "string")}}
    out: dict[str, Any] = {"type": _TYPES.get(kind, "string")}
    if "options" in node:
        out["enum"] = [o["value"] for o in node["options"]]
    return out


@cache
def _schemas() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text())
    return data


def validator(table: str, *, whole: bool, served: bool = False) -> jsonschema.Draft202012Validator:
    """A validator of one object of ``table``: ``whole`` (a POST) requires the key fields, a PUT is partial."""
    node = dict(_schemas()[table]["schema"])
    node["type"] = "dict"
    schema = _json_schema(node, required=True, served=served)
    if not whole:
        schema["required"] = []
    return jsonschema.Draft202012Validator(schema)


def _table(path: str) -> tuple[str, bool]:
    """``/api/v2/cmdb/firewall/vip/x`` → (``firewall/vip``, True when an mkey follows)."""
    parts = path.split("/api/v2/cmdb/", 1)[1].split("/")
    return f"{parts[0]}/{parts[1]}", len(parts) > 2


@pytest.fixture
def office() -> Iterator[SimulatedDevice]:
    with simulate("fortigate") as device:
        yield device


def _bodies(dev: SimulatedDevice) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for r in dev.handle.http.requests:
        if r.method in ("POST", "PUT") and "/api/v2/cmdb/" in r.path:
            out.append((r.method, r.path, json.loads(r.body)))
    return out


def test_every_body_of_a_mitigation_and_its_undo_fits_the_schema(office: SimulatedDevice) -> None:
    with connect(office) as router:
        first = routerfix.apply_ghostcall_mitigation(router, backup=False)
        assert first.status == "mitigated"
        assert routerfix.remove_ghostcall_mitigation(router, record=first.to_dict()).status == "undone"
    bodies = _bodies(office)
    tables = {(m, _table(p)[0]) for m, p, _ in bodies}
    assert tables == {("POST", "firewall/vip"), ("POST", "firewall/policy"), ("PUT", "system.dhcp/server"),
                      ("PUT", "system/settings"), ("POST", "system/session-helper")}
    for method, path, body in bodies:
        table, keyed = _table(path)
        errors = [e.message for e in validator(table, whole=method == "POST" and not keyed).iter_errors(body)]
        assert errors == [], f"{method} {path}: {errors}"


@pytest.mark.parametrize("scenario", ["office", "rules", "pbx"])
def test_every_object_the_simulator_serves_fits_the_schema(scenario: str) -> None:
    with simulate("fortigate", scenario=scenario) as dev:
        fg = dev.handle
        for table, rows in fg.tables.items():
            check = validator(table, whole=True, served=True)
            for row in rows:
                assert [e.message for e in check.iter_errors(row)] == [], f"{table} {row}"
        settings = validator("system/settings", whole=False)
        assert [e.message for e in settings.iter_errors(fg.settings)] == []


def test_the_validator_catches_a_wrong_body() -> None:
    """The check can fail: a VIP with a protocol FortiOS does not have, an unknown field, a policy without its key."""
    vip = validator("firewall/vip", whole=True)
    assert list(vip.iter_errors({"name": "x", "protocol": "both"}))
    assert list(vip.iter_errors({"name": "x", "ext-port": "5060"}))
    assert list(validator("firewall/policy", whole=True).iter_errors({"name": "x"}))
    assert not list(vip.iter_errors({"name": "x", "protocol": "udp", "extport": "5060-5061",
                                     "mappedip": [{"range": "192.168.1.2"}]}))
