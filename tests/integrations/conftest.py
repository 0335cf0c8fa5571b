"""Fixtures for the integration tests (fleet, Nornir, Ansible, examples, notebook)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from integration_support import PYTHON, write_inventory


@pytest.fixture
def password_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """ROUTERFIX_TEST_PW holds the memory routers' password; returns the variable's name."""
    monkeypatch.setenv("ROUTERFIX_TEST_PW", "admin")
    return "ROUTERFIX_TEST_PW"


@pytest.fixture
def fleet_inventory(tmp_path: Path, password_env: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Four memory routers with state files (so separate processes see the same routers):
    two clean offices, a PBX site (ForwardConflict) and one with a wrong password."""
    state = tmp_path / "routers"
    state.mkdir()

    def host(scenario: str, **extra: Any) -> dict[str, Any]:
        return {"hostname": f"{scenario}-{len(extra)}-{os.urandom(3).hex()}.test", "groups": ["memory"],
                "connection_options": {"routerfix": {"extras": {
                    "scenario": scenario, "state_file": str(state / f"{os.urandom(4).hex()}.json")}}}, **extra}

    hosts = {"office-a": host("office"), "office-b": host("office"), "pbx": host("pbx"),
             "wrong-pw": host("office", data={"password_env": "ROUTERFIX_TEST_BAD_PW"})}
    monkeypatch.setenv("ROUTERFIX_TEST_BAD_PW", "not-the-password")
    groups = {"memory": {"platform": "memory"}}
    defaults = {"username": "admin", "data": {"password_env": password_env}}
    return write_inventory(tmp_path / "inventory", hosts, groups, defaults)


@pytest.fixture
def ansible_available() -> str:
    """The ansible-playbook executable next to this interpreter (skip when ansible-core is absent)."""
    exe = Path(PYTHON).parent / "ansible-playbook"
    if not exe.exists():
        found = shutil.which("ansible-playbook")
        if found is None:
            pytest.skip("ansible-core is not installed (pip install ansible-core)")
        return found
    return str(exe)


SIMULATED = ("mikrotik", "cisco_ios", "netgear", "tplink", "belkin")
"""Simulators of the SSH and web drivers used for fleet/Nornir/Ansible runs (those installed)."""


@pytest.fixture
def simulated_fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The installed simulators of :data:`SIMULATED`, running on 127.0.0.1, as an inventory directory
    (credentials by environment variable); yields (inventory dir, {name: SimulatedDevice})."""
    from routerfix.errors import RouterfixError
    from routerfix.simulate import simulate

    hosts: dict[str, Any] = {}
    devices: dict[str, Any] = {}
    with ExitStack() as stack:
        for name in SIMULATED:
            try:
                device = stack.enter_context(simulate(name))
            except (RouterfixError, ImportError):
                continue   # that driver or its simulator is not in this tree yet
            var = f"ROUTERFIX_SIM_PW_{name.upper()}"
            monkeypatch.setenv(var, device.password)
            hosts[f"sim-{name}"] = {"hostname": device.host, "port": device.port, "username": device.username,
                                    "platform": device.driver, "data": {"password_env": var},
                                    "connection_options": {"routerfix": {"extras": dict(device.options)}}}
            devices[f"sim-{name}"] = device
        if not devices:
            pytest.skip("no SSH or web simulator is installed yet")
        yield write_inventory(tmp_path / "sim-inventory", hosts, {}, {}), devices
