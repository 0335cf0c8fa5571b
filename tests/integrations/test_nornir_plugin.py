"""The Nornir connection plugin and tasks through a real InitNornir + threaded runner."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from integration_support import PYTHON, write_inventory

pytest.importorskip("nornir")

from nornir import InitNornir
from nornir.core import Nornir

from routerfix.integrations.nornir_tasks import facts, mitigate, plan, undo


def _nornir(inventory: Path, dry_run: bool = False, workers: int = 4) -> Nornir:
    return InitNornir(
        runner={"plugin": "threaded", "options": {"num_workers": workers}},
        inventory={"plugin": "SimpleInventory", "options": {
            "host_file": str(inventory / "hosts.yaml"), "group_file": str(inventory / "groups.yaml"),
            "defaults_file": str(inventory / "defaults.yaml")}},
        dry_run=dry_run, logging={"enabled": False})


def _router(state_file: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(state_file).read_text())
    return data


def _state_file(nr: Nornir, name: str) -> str:
    return str(nr.inventory.hosts[name].get_connection_parameters("routerfix").extras["state_file"])


def test_plugin_is_found_through_the_entry_point() -> None:
    from nornir.core.plugins.connections import ConnectionPluginRegister

    from routerfix.integrations.nornir import RouterfixConnection

    ConnectionPluginRegister.auto_register()
    assert ConnectionPluginRegister.get_plugin("routerfix") is RouterfixConnection


def test_dry_run_writes_nothing_and_reports_the_diff(fleet_inventory: Path) -> None:
    nr = _nornir(fleet_inventory, dry_run=True)
    result = nr.run(task=mitigate)
    for name in ("office-a", "office-b"):
        r = result[name][0]
        assert not r.failed and r.changed is True          # would change (napalm_configure convention)
        assert "+forward routerfix-sip" in r.diff and r.result["status"] == "planned"
        assert r.result["dry_run"] is True
    # nothing was written: the state files were never created (a write saves them)
    assert not Path(_state_file(nr, "office-a")).exists()
    # one host's failure does not stop the others; the error is the routerfix error
    assert result["pbx"].failed and "ForwardConflict" in result["pbx"][0].exception.__class__.__name__
    assert result["wrong-pw"].failed and type(result["wrong-pw"][0].exception).__name__ == "AuthenticationError"
    assert "not-the-password" not in str(result["wrong-pw"][0].result)
    # the per-call override wins over the global dry run
    r2 = nr.filter(name="office-a").run(task=mitigate, dry_run=False)
    assert r2["office-a"][0].changed is True and r2["office-a"][0].result["status"] == "mitigated"


def test_mitigate_then_rerun_is_idempotent_then_undo(fleet_inventory: Path, tmp_path: Path) -> None:
    nr = _nornir(fleet_inventory).filter(filter_func=lambda h: h.name.startswith("office"))
    state_dir = tmp_path / "state"
    first = nr.run(task=mitigate, state_dir=state_dir)
    assert not first.failed
    for name, multi in first.items():
        r = multi[0]
        assert r.changed and r.result["status"] == "mitigated" and r.result["verified"]
        assert r.diff.count("+forward routerfix-sip") == 1
        saved = r.result["saved_to"]
        assert saved and Path(saved).exists()
        router = _router(_state_file(nr, name))
        assert any(f["name"].startswith("routerfix-sip") for f in router["forwards"])
    nr.close_connections()
    second = _nornir(fleet_inventory).filter(filter_func=lambda h: h.name.startswith("office")).run(task=mitigate)
    assert all(m[0].changed is False and m[0].result["status"] == "unchanged" and m[0].diff == ""
               for m in second.values())
    nr2 = _nornir(fleet_inventory).filter(filter_func=lambda h: h.name.startswith("office"))
    back = nr2.run(task=undo, state_dir=state_dir)
    for name, multi in back.items():
        assert multi[0].changed and multi[0].result["status"] == "undone"
        router = _router(_state_file(nr2, name))
        assert not any(f["name"].startswith("routerfix-sip") for f in router["forwards"])
        assert router["nat_mode"] == "open" and router["sip_alg"] is True   # restored from the record
    again = nr2.run(task=undo, state_dir=state_dir)
    assert all(not m[0].changed for m in again.values())


def test_plan_and_facts_never_write(fleet_inventory: Path) -> None:
    nr = _nornir(fleet_inventory).filter(name="office-a")
    p = nr.run(task=plan)["office-a"][0]
    assert p.changed is True and p.result["status"] == "planned" and p.diff
    f = nr.run(task=facts)["office-a"][0]
    assert f.changed is False and f.result["facts"]["model"] == "in-memory router"
    assert {ph["address"] for ph in f.result["phones"]} >= {"192.168.1.100", "192.168.1.101"}
    assert not Path(_state_file(nr, "office-a")).exists()


def test_per_host_mitigation_options_and_password_file(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("admin\n")
    pw.chmod(0o600)
    inv = write_inventory(tmp_path / "inv", {
        "site": {"hostname": "site.test", "data": {"password_file": str(pw), "mitigation": {"sink": "192.168.1.177"}}},
    }, {}, {"platform": "memory", "username": "admin"})
    nr = _nornir(inv)
    r = nr.run(task=mitigate)["site"][0]
    assert not r.failed, r.exception
    assert r.result["sink"] == "192.168.1.177"


def test_many_hosts_threaded(tmp_path: Path, password_env: str) -> None:
    hosts = {f"r{i:02d}": {"hostname": f"r{i:02d}.test"} for i in range(24)}
    inv = write_inventory(tmp_path / "inv", hosts, {}, {"platform": "memory", "data": {"password_env": password_env}})
    result = _nornir(inv, workers=8).run(task=mitigate)
    assert not result.failed and all(m[0].changed for m in result.values()) and len(result) == 24
    assert len({m[0].result["sink"] for m in result.values()}) == 1   # same scenario, same choice


def test_import_routerfix_does_not_import_nornir() -> None:
    code = "import sys, routerfix, routerfix.fleet, routerfix.inventory; print('nornir' in sys.modules)"
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_connection_plugin_takes_credentials_and_timeouts_from_extras(password_env: str) -> None:
    from routerfix.errors import AuthenticationError, InvalidValue
    from routerfix.integrations.nornir import RouterfixConnection

    conn = RouterfixConnection()
    with pytest.raises(InvalidValue):
        _ = conn.connection
    conn.open("plugin.test", None, None, None, "memory",
              {"password_env": password_env, "timeouts": {"connect": 3, "read": 4}, "scenario": "office"})
    driver = conn.connection
    assert driver.is_open and driver.timeouts.connect == 3 and driver.options == {"scenario": "office"}
    conn.close()
    conn.close()
    assert not driver.is_open
    with pytest.raises(AuthenticationError):
        RouterfixConnection().open("plugin.test", None, "wrong-password", None, "memory", {})
    with pytest.raises(InvalidValue, match="platform"):
        RouterfixConnection().open("plugin.test", None, None, None, None, {})
