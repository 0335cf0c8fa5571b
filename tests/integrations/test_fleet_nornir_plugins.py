"""The fleet reads any Nornir inventory plugin (through a Nornir config.yaml) and selects hosts by group and data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from integration_support import write_inventory

from routerfix.cli import main
from routerfix.inventory import InventoryError, load_inventory, load_nornir_inventory

pytest.importorskip("nornir")


def _inventory(tmp_path: Path) -> Path:
    return write_inventory(tmp_path, {
        "a": {"groups": ["eu-shops"], "data": {"tier": "gold", "site": {"region": "eu"}}},
        "b": {"groups": ["us-shops"], "data": {"tier": "gold", "tags": ["pbx", "dental"]}},
        "c": {"groups": ["eu-shops"], "data": {"tier": "bronze", "managed": True}},
    }, {
        "shops": {"platform": "memory"},
        "eu-shops": {"groups": ["shops"]},
        "us-shops": {"groups": ["shops"]},
    }, {"username": "admin", "data": {"password_env": "X"},
        "connection_options": {"routerfix": {"extras": {"scenario": "office"}}}})


def test_filter_by_group_and_data(tmp_path: Path) -> None:
    inv = load_inventory(_inventory(tmp_path))
    assert inv.filter(groups=["eu-shops"]).names() == ["a", "c"]
    assert inv.filter(groups=["shops"]).names() == ["a", "b", "c"]            # through the parent group
    assert inv.filter(groups=["us-shops", "eu-shops"]).names() == ["a", "b", "c"]
    assert inv.filter(where=["tier=gold"]).names() == ["a", "b"]
    assert inv.filter(where=["tier=gold", "site.region=eu"]).names() == ["a"]  # every condition, dotted keys
    assert inv.filter(where=["tags=pbx"]).names() == ["b"]                    # a list matches one element
    assert inv.filter(where=["managed=true"]).names() == ["c"]
    assert inv.filter(groups=["eu-shops"], where=["tier=gold"]).names() == ["a"]
    with pytest.raises(InventoryError, match="no host is in group 'eu-shop'"):
        inv.filter(groups=["eu-shop"])
    with pytest.raises(ValueError, match="key=value"):
        inv.filter(where=["tier"])


def test_a_nornir_config_file_loads_its_inventory_plugin(tmp_path: Path) -> None:
    inv = _inventory(tmp_path / "inv")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"inventory": {"plugin": "SimpleInventory", "options": {
        "host_file": str(inv / "hosts.yaml"), "group_file": str(inv / "groups.yaml"),
        "defaults_file": str(inv / "defaults.yaml")}}}))
    theirs, ours = load_inventory(config), load_inventory(inv)
    assert [(h.name, h.driver, h.username, dict(h.options), h.member_of, h.password_env) for h in theirs] == \
        [(h.name, h.driver, h.username, dict(h.options), h.member_of, h.password_env) for h in ours]


class _Cmdb:
    """A stand-in for a CMDB's Nornir inventory plugin (NetBox and the like build Nornir objects the same way)."""

    def __init__(self, sites: list[dict[str, Any]]) -> None:
        self.sites = sites

    def load(self) -> Any:
        from nornir.core.inventory import ConnectionOptions, Defaults, Group, Groups, Host, Hosts, Inventory

        defaults = Defaults(username="admin", data={"password_env": "CMDB_PW"})
        group = Group("routers", platform="memory", defaults=defaults, connection_options={
            "routerfix": ConnectionOptions(extras={"scenario": "office"})})
        hosts = Hosts({s["name"]: Host(s["name"], hostname=s["ip"], groups=[group], data={"region": s["region"]},
                                       defaults=defaults) for s in self.sites})
        return Inventory(hosts=hosts, groups=Groups({"routers": group}), defaults=defaults)


def test_any_registered_plugin(tmp_path: Path) -> None:
    from nornir.core.plugins.inventory import InventoryPluginRegister

    InventoryPluginRegister.register("RouterfixTestCmdb", _Cmdb)
    try:
        inv = load_nornir_inventory("RouterfixTestCmdb", {"sites": [
            {"name": "shop-1", "ip": "192.0.2.1", "region": "eu"}, {"name": "shop-2", "ip": "192.0.2.2",
                                                                     "region": "us"}]})
        assert [(h.name, h.hostname, h.driver, h.username, h.password_env, dict(h.options)) for h in inv] == [
            ("shop-1", "192.0.2.1", "memory", "admin", "CMDB_PW", {"scenario": "office"}),
            ("shop-2", "192.0.2.2", "memory", "admin", "CMDB_PW", {"scenario": "office"})]
        assert inv.filter(where=["region=us"]).names() == ["shop-2"]
    finally:
        InventoryPluginRegister.deregister("RouterfixTestCmdb")
    with pytest.raises(InventoryError, match="no Nornir inventory plugin 'NoSuchPlugin'"):
        load_nornir_inventory("NoSuchPlugin")


def test_fleet_plan_with_group_and_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("X", "admin")
    inv = _inventory(tmp_path / "inv")
    code = main(["fleet", "plan", str(inv), "--group", "eu-shops", "--where", "tier=gold", "--json",
                 "--state-dir", str(tmp_path / "state")])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and [h["name"] for h in report["hosts"]] == ["a"]
