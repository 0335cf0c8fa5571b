"""The SimpleInventory loader: Nornir's resolution order, credentials by reference, validation errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from integration_support import EXAMPLES, write_inventory

from routerfix.inventory import InventoryError, load_inventory, resolve_password
from routerfix.secrets import Secret


def test_resolution_follows_nornir_host_groups_defaults(tmp_path: Path) -> None:
    inv = write_inventory(tmp_path, {
        "a": {"hostname": "10.0.0.1", "groups": ["child", "other"], "port": 8443},
        "b": {"groups": ["other"], "username": "root",
              "connection_options": {"routerfix": {"extras": {"scenario": "pbx"}}}},
    }, {
        "parent": {"platform": "memory", "data": {"site": "parent", "password_env": "PARENT_PW"}},
        "child": {"groups": ["parent"], "data": {"site": "child"}},
        "other": {"username": "other-user",
                  "connection_options": {"routerfix": {"extras": {"scenario": "full-pool"}}}},
    }, {"platform": "memory", "username": "admin", "data": {"password_env": "DEFAULT_PW", "region": "eu"}})
    hosts = {h.name: h for h in load_inventory(inv)}
    a, b = hosts["a"], hosts["b"]
    assert (a.hostname, a.port, a.driver, a.username) == ("10.0.0.1", 8443, "memory", "other-user")
    assert a.password_env == "PARENT_PW"          # child → parent before the defaults
    assert a.data["site"] == "child" and a.data["region"] == "eu"
    assert a.options == {"scenario": "full-pool"}  # extras from the first level that sets them
    assert (b.hostname, b.username, b.password_env) == ("b", "root", "DEFAULT_PW")
    assert b.options == {"scenario": "pbx"}        # not merged with the group's, as in Nornir


def test_a_hosts_file_path_finds_its_sibling_files(tmp_path: Path) -> None:
    inv = write_inventory(tmp_path, {"x": {"groups": ["g"]}}, {"g": {"platform": "memory"}}, {"username": "u"})
    (host,) = load_inventory(inv / "hosts.yaml").hosts
    assert (host.driver, host.username) == ("memory", "u")


def test_the_same_files_load_in_nornir_identically(tmp_path: Path) -> None:
    InitNornir = pytest.importorskip("nornir").InitNornir

    inv = write_inventory(tmp_path, {"a": {"hostname": "h1", "groups": ["g"]}},
                          {"g": {"platform": "memory", "connection_options": {"routerfix": {"extras": {"scenario":
                                                                                                        "pbx"}}}}},
                          {"username": "admin", "data": {"password_env": "X"}})
    nr = InitNornir(inventory={"plugin": "SimpleInventory", "options": {
        "host_file": str(inv / "hosts.yaml"), "group_file": str(inv / "groups.yaml"),
        "defaults_file": str(inv / "defaults.yaml")}}, logging={"enabled": False})
    theirs = nr.inventory.hosts["a"]
    params = theirs.get_connection_parameters("routerfix")
    ours = load_inventory(inv).hosts[0]
    assert (params.hostname, params.platform, params.username, params.extras) == \
        (ours.hostname, ours.driver, ours.username, dict(ours.options))
    assert theirs["password_env"] == ours.password_env


def test_password_from_environment_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("from-file\n")
    secret_file.chmod(0o600)
    inv = write_inventory(tmp_path, {
        "env": {"data": {"password_env": "SITE_PW"}},
        "file": {"data": {"password_file": "pw"}},   # relative to the inventory
        "none": {},
    }, None, {"platform": "memory"})
    monkeypatch.setenv("SITE_PW", "from-env")
    hosts = {h.name: h for h in load_inventory(inv)}
    assert hosts["env"].credentials() == Secret("from-env")
    assert hosts["file"].credentials() == Secret("from-file")
    assert hosts["none"].credentials() is None
    assert "from-env" not in repr(hosts["env"]) and "from-env" not in repr(hosts["env"].connect_options())


def test_missing_credential_names_host_and_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_PW", raising=False)
    inv = write_inventory(tmp_path, {"shop": {"data": {"password_env": "NOPE_PW"}},
                                     "shop2": {"data": {"password_file": "missing"}}}, None, {"platform": "memory"})
    hosts = {h.name: h for h in load_inventory(inv)}   # loading succeeds: credentials resolve per host, later
    with pytest.raises(InventoryError) as info:
        hosts["shop"].credentials()
    assert info.value.host == "shop" and info.value.field == "data.password_env" and "NOPE_PW" in str(info.value)
    with pytest.raises(InventoryError) as info:
        hosts["shop2"].credentials()
    assert info.value.field == "data.password_file"


def test_world_readable_password_file_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    f = tmp_path / "pw"
    f.write_text("hunter22")
    f.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="routerfix.inventory"):
        assert resolve_password("h", password_file=f) == Secret("hunter22")
    assert "readable by other users" in caplog.text and "hunter22" not in caplog.text


def test_inline_password_works_but_is_warned(tmp_path: Path) -> None:
    inv = write_inventory(tmp_path, {"a": {"password": "inline-secret"}}, None, {"platform": "memory"})
    loaded = load_inventory(inv)
    assert loaded.hosts[0].credentials() == Secret("inline-secret")
    assert any("inline password" in w and "'a'" in w for w in loaded.warnings)
    assert all("inline-secret" not in w for w in loaded.warnings)
    assert "inline-secret" not in repr(loaded)


@pytest.mark.parametrize(("hosts", "groups", "host", "field"), [
    ({"a": {"platfrom": "memory"}}, None, "a", "platfrom"),
    ({"a": {"platform": "no-such-driver"}}, None, "a", "platform"),
    ({"a": {}}, None, "a", "platform"),
    ({"a": {"platform": "memory", "port": 70000}}, None, "a", "port"),
    ({"a": {"platform": "memory", "port": "22"}}, None, "a", "port"),
    ({"a": {"platform": "memory", "groups": "g"}}, None, "a", "groups"),
    ({"a": {"platform": "memory", "groups": ["missing"]}}, {}, "a", "groups"),
    ({"a": {"platform": "memory", "connection_options": {"routerfix": {"extras": {"colour": "red"}}}}}, None, "a",
     "connection_options.routerfix.extras.colour"),
    ({"a": {"platform": "memory", "connection_options": {"routerfix": {"extra": {}}}}}, None, "a",
     "connection_options.routerfix.extra"),
    ({"a": {"platform": "memory", "data": {"mitigation": {"sink": "nowhere"}}}}, None, "a", "data.mitigation.sink"),
    ({"a": {"platform": "memory", "data": {"mitigation": {"turbo": True}}}}, None, "a", "data.mitigation.option"),
    ({"a": {"platform": "memory", "data": {"timeouts": {"connect": -1}}}}, None, "a", "data.timeouts.connect"),
    ({"a": {"platform": "memory", "data": {"password_env": 5}}}, None, "a", "data.password_env"),
    ({"a": {"platform": "memory", "hostname": "two words"}}, None, "a", "hostname"),
    ({"a": {"platform": "memory", "groups": ["x"]}}, {"x": {"groups": ["y"]}, "y": {"groups": ["x"]}}, "a",
     "groups"),
])
def test_validation_errors_name_host_and_field(tmp_path: Path, hosts: dict[str, object],
                                               groups: dict[str, object] | None, host: str, field: str) -> None:
    inv = write_inventory(tmp_path, hosts, groups)
    with pytest.raises(InventoryError) as info:
        load_inventory(inv)
    assert info.value.host == host and info.value.field == field
    assert f"host {host!r}" in str(info.value) and field in str(info.value)


def test_broken_yaml_and_missing_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="no hosts file"):
        load_inventory(tmp_path / "nowhere")
    (tmp_path / "hosts.yaml").write_text("a: [unclosed\n")
    with pytest.raises(InventoryError, match="not valid YAML at line"):
        load_inventory(tmp_path)
    (tmp_path / "hosts.yaml").write_text("- a\n- b\n")
    with pytest.raises(InventoryError, match="must be a mapping"):
        load_inventory(tmp_path)


def test_two_entries_for_one_device_are_warned(tmp_path: Path) -> None:
    inv = write_inventory(tmp_path, {"a": {"hostname": "10.0.0.1"}, "b": {"hostname": "10.0.0.1"}}, None,
                          {"platform": "memory"})
    assert any("same device" in w for w in load_inventory(inv).warnings)


def test_select_keeps_order_and_refuses_unknown_names(tmp_path: Path) -> None:
    inv = load_inventory(write_inventory(tmp_path, {n: {} for n in "abc"}, None, {"platform": "memory"}))
    assert inv.select(["c", "a"]).names() == ["a", "c"]
    with pytest.raises(InventoryError, match="'zz'"):
        inv.select(["zz"])


def test_example_inventory_loads() -> None:
    inv = load_inventory(EXAMPLES / "inventory")
    assert len(inv) >= 4 and not inv.warnings
    assert all(h.password_env == "ROUTERFIX_PASSWORD" and h.password is None for h in inv)
