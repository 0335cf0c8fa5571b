"""The collection's own unit tests through ``ansible-test units``, and its docs through ``ansible-doc``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from integration_support import PYTHON, REPO

COLLECTION = REPO / "ansible_collections" / "routerfix" / "routerfix"
MODULES = ("ghostcall_mitigation", "port_forward", "nat_mode", "router_facts")


def _tool(name: str) -> str:
    exe = Path(PYTHON).parent / name
    if not exe.exists():
        pytest.skip(f"{name} is not installed (pip install ansible-core)")
    return str(exe)


def test_runtime_action_group_lists_every_module() -> None:
    runtime = yaml.safe_load((COLLECTION / "meta" / "runtime.yml").read_text())
    assert sorted(runtime["action_groups"]["routerfix"]) == sorted(MODULES)
    assert sorted(p.stem for p in (COLLECTION / "plugins" / "modules").glob("*.py")) == sorted(MODULES)
    galaxy = yaml.safe_load((COLLECTION / "galaxy.yml").read_text())
    assert (galaxy["namespace"], galaxy["name"]) == ("routerfix", "routerfix")


@pytest.mark.slow
def test_ansible_doc_renders_every_module() -> None:
    exe = _tool("ansible-doc")
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(REPO)}
    out = subprocess.run([exe, "-t", "module", "--json", *(f"routerfix.routerfix.{m}" for m in MODULES)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    docs = json.loads(out.stdout)
    for m in MODULES:
        entry = docs[f"routerfix.routerfix.{m}"]
        assert {"driver", "host", "password", "driver_secrets"} <= set(entry["doc"]["options"])
        assert entry["examples"] and entry["return"]


@pytest.mark.slow
@pytest.mark.xdist_group("ansible_test")  # ansible-test writes and removes the checkout's collection tests/output
def test_ansible_test_units(tmp_path: Path) -> None:
    exe = _tool("ansible-test")
    env = {**os.environ, "PATH": f"{Path(PYTHON).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([exe, "units", "--local", "--python", "3.11"], cwd=COLLECTION, capture_output=True,
                          text=True, env=env, timeout=240)
    shutil.rmtree(COLLECTION / "tests" / "output", ignore_errors=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and " failed" not in proc.stdout
