"""Every example runs: the MSP script, the example inventory through the CLI, and the notebook (nbclient)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest
from integration_support import EXAMPLES, PYTHON


def test_msp_fleet_script(tmp_path: Path) -> None:
    report = tmp_path / "sweep.csv"
    env = {**os.environ, "ROUTERFIX_PASSWORD": "admin"}
    proc = subprocess.run([PYTHON, str(EXAMPLES / "msp_fleet.py"), str(EXAMPLES / "inventory"), "--mitigate",
                           "--csv", str(report), "--state-dir", str(tmp_path / "state")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr          # some sites need a person
    rows = {r["name"]: r for r in csv.DictReader(report.open())}
    assert {n for n, r in rows.items() if r["status"] == "mitigated"} == {"dental-office", "law-firm", "bakery"}
    assert rows["law-firm"]["sink"] == "192.168.1.180"               # per-host data.mitigation.sink
    assert (rows["call-centre"]["error_type"], rows["florist"]["error_type"]) == ("ForwardConflict", "NoFreeAddress")
    assert "TICKET call-centre" in proc.stdout and "TICKET florist" in proc.stdout
    assert len(list((tmp_path / "state").glob("*-mitigate.json"))) == 3


def test_msp_fleet_script_without_the_password_fails_every_host(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ROUTERFIX_PASSWORD"}
    proc = subprocess.run([PYTHON, str(EXAMPLES / "msp_fleet.py"), str(EXAMPLES / "inventory")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and proc.stdout.count("InventoryError") >= 5, proc.stdout + proc.stderr
    assert "ROUTERFIX_PASSWORD is not set" in proc.stdout


def test_example_inventory_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from routerfix import cli

    monkeypatch.setenv("ROUTERFIX_PASSWORD", "admin")
    code = cli.main(["fleet", "plan", str(EXAMPLES / "inventory"), "--json", "--state-dir", str(tmp_path)])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["summary"] == {"planned": 3, "failed": 2, "total": 5, "ok": 3, "not_ok": 2,
                                             "changed": 0}


@pytest.mark.timeout(120)
def test_notebook_executes(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(EXAMPLES / "ghostcall.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook without outputs"
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "\n".join(o["data"]["text/html"] for o in outputs if "data" in o and "text/html" in o["data"])
    assert "device state" in html and "mitigate on" in html and 'class="routerfix-fleet"' in html
    text = "\n".join(o.get("text", "") for o in outputs)
    assert "ghost calls blocked: WAN 5060-5061 -> 192.168.1.254 (unused); NAT filtering open" in text
