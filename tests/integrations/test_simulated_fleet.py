"""Fleet, Nornir and Ansible runs against the SSH and web drivers' simulators (real sockets on 127.0.0.1)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from integration_support import PYTHON, REPO

from routerfix.fleet import run_fleet

pytestmark = pytest.mark.timeout(180)


def test_mixed_fleet_mitigate_rerun_undo(simulated_fleet: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    inventory, devices = simulated_fleet
    state = tmp_path / "state"
    first = run_fleet(inventory, "mitigate", workers=4, state_dir=state)
    by = {r.name: r for r in first.results}
    assert set(by) == set(devices)
    for name, r in by.items():
        if name == "sim-belkin":      # no port forwarding: the verdict, nothing changed
            assert r.status == "verdict" and not r.ok and "replace_router" in r.verdicts[0]
        else:
            assert r.status == "mitigated" and r.changed and r.record, (name, r.error_type, r.error_message)
            assert r.transport_security in ("ssh", "tls", "tls-pinned", "plain-http"), (name, r.transport_security)
    second = run_fleet(inventory, "mitigate", workers=4, state_dir=state)
    assert all(r.status in ("unchanged", "verdict") and not r.changed for r in second.results)
    undone = run_fleet(inventory, "undo", workers=4, state_dir=state)
    assert all(r.status in ("undone", "nothing_to_undo") and r.error_type is None for r in undone.results)
    assert [r.name for r in undone.results if r.status == "undone"] == \
        [r.name for r in first.results if r.status == "mitigated"]


def test_wrong_password_on_one_simulator_fails_only_that_host(simulated_fleet: tuple[Path, dict[str, Any]],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    inventory, devices = simulated_fleet
    victim = sorted(n for n in devices if n != "sim-belkin")[0]
    monkeypatch.setenv(f"ROUTERFIX_SIM_PW_{victim.removeprefix('sim-').upper()}", "Wr0ng-but-long")
    report = run_fleet(inventory, "plan", workers=4)
    by = {r.name: r for r in report.results}
    assert by[victim].error_type == "AuthenticationError"
    assert all(r.error_type is None for n, r in by.items() if n != victim)
    assert "Wr0ng-but-long" not in report.to_json()


def test_nornir_over_simulators(simulated_fleet: tuple[Path, dict[str, Any]]) -> None:
    pytest.importorskip("nornir")
    from nornir import InitNornir

    from routerfix.integrations.nornir_tasks import facts, mitigate

    inventory, _ = simulated_fleet
    nr = InitNornir(runner={"plugin": "threaded", "options": {"num_workers": 4}},
                    inventory={"plugin": "SimpleInventory", "options": {"host_file": str(inventory / "hosts.yaml")}},
                    logging={"enabled": False})
    nr = nr.filter(filter_func=lambda h: h.name != "sim-belkin")
    dry = nr.run(task=mitigate, dry_run=True)
    assert not dry.failed, {h: m[0].exception for h, m in dry.items()}
    assert all(m[0].changed and m[0].result["status"] == "planned" and m[0].diff for m in dry.values())
    read = nr.run(task=facts)
    assert all(not any(f["name"].startswith("routerfix-sip") for f in m[0].result["forwards"])
               for m in read.values())   # the dry run wrote nothing
    real = nr.run(task=mitigate)
    assert not real.failed and all(m[0].changed and m[0].result["verified"] for m in real.values())
    nr.close_connections()


@pytest.mark.slow
def test_ansible_against_a_web_and_an_ssh_simulator(simulated_fleet: tuple[Path, dict[str, Any]],
                                                    tmp_path: Path) -> None:
    exe = Path(PYTHON).parent / "ansible-playbook"
    if not exe.exists():
        pytest.skip("ansible-core is not installed")
    _, devices = simulated_fleet
    chosen = {n: d for n, d in devices.items() if n in ("sim-netgear", "sim-mikrotik")}
    if not chosen:
        pytest.skip("neither the netgear nor the mikrotik simulator is installed")
    hosts = {name: {"routerfix_driver": d.driver, "ansible_host": d.host, "router_port": d.port,
                    "router_username": d.username, "router_password": d.password, "driver_options": d.options}
             for name, d in chosen.items()}
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": PYTHON}}}))
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "all", "gather_facts": False,
        "module_defaults": {"group/routerfix.routerfix.routerfix": {
            "driver": "{{ routerfix_driver }}", "host": "{{ ansible_host }}", "port": "{{ router_port }}",
            "username": "{{ router_username }}", "password": "{{ router_password }}",
            "driver_options": "{{ driver_options }}"}},
        "tasks": [{"name": "mitigate", "routerfix.routerfix.ghostcall_mitigation": {
            "state_dir": str(tmp_path / "state") + "/{{ inventory_hostname }}"}}],
    }]))
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(REPO), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / ".tmp"), "ANSIBLE_HOME": str(tmp_path / ".ansible")}

    def play(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(exe), "-i", str(inventory), str(playbook), *extra], capture_output=True,
                              text=True, env=env, timeout=150)

    check = play("--check", "--diff")
    assert check.returncode == 0 and check.stdout.count("changed=1") == len(chosen), check.stdout
    assert "+forward routerfix-sip" in check.stdout
    apply = play()
    assert apply.returncode == 0 and apply.stdout.count("changed=1") == len(chosen), apply.stdout
    again = play("-vvv")
    assert again.returncode == 0 and again.stdout.count("changed=0") == len(chosen), again.stdout
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in again.stdout   # -vvv shows the module args, masked
    for d in chosen.values():   # simulator passwords are ordinary words ("password"): look for them as values
        assert f': "{d.password}"' not in again.stdout + again.stderr and f"={d.password}" not in again.stdout
