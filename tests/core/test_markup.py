"""Text the LAN or the device controls is never interpreted: rich markup in the terminal, HTML in Jupyter,
formulas in the CSV report."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import Lease, PortForward, connect, router

from routerfix.fleet import FleetOperation, FleetReport, HostResult, ResultStatus
from routerfix.render import state_html

ROUTERFIX = [sys.executable, "-m", "routerfix.cli"]
CAMERA = "iot-cam[/]"
LINK = "[link=https://evil.example/]pc[/link]"
PBX = "old PBX [/]"


def hostile_router_file(tmp_path: Path) -> Path:
    r = router(leases=[Lease("192.168.1.100", "00:11:22:33:44:01", CAMERA),
                       Lease("192.168.1.101", "00:11:22:33:44:02", LINK)],
               forwards=[PortForward(PBX, "udp", "5060", "192.168.1.10")])
    path = tmp_path / "router.json"
    path.write_text(json.dumps(r.to_data()))
    return path


def cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROUTERFIX_PASSWORD": "admin", "ROUTERFIX_STATE_DIR": str(tmp_path / "state"),
           "COLUMNS": "200"}
    return subprocess.run([*ROUTERFIX, *args], env=env, capture_output=True, text=True, timeout=60)


def test_show_prints_device_names_as_they_are(tmp_path: Path) -> None:
    conn = ["--driver", "memory", "--host", "markup", "--no-prompt", "-o",
            f"state_file={hostile_router_file(tmp_path)}"]
    out = cli(["show", *conn], tmp_path)
    assert out.returncode == 0, out.stderr
    assert CAMERA in out.stdout and LINK in out.stdout and PBX in out.stdout
    assert "\x1b]8;" not in out.stdout  # no hidden hyperlink


def test_a_successful_mitigation_with_a_bracketed_forward_name_exits_0(tmp_path: Path) -> None:
    conn = ["--driver", "memory", "--host", "markup", "--no-prompt", "-o",
            f"state_file={hostile_router_file(tmp_path)}"]
    out = cli(["mitigate", *conn, "--yes", "--replace-conflicting"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "mitigated" in out.stdout and PBX in out.stdout


def test_html_escapes_device_text() -> None:
    r = router(leases=[Lease("192.168.1.100", "00:11:22:33:44:01", "<img src=x onerror=alert(1)>")])
    with connect(r) as d:
        page = state_html(d.read_state())
    assert "<img" not in page and "&lt;img src=x" in page


def test_csv_cells_never_start_a_formula() -> None:
    row = HostResult(name="=HYPERLINK(\"http://x\")", hostname="h", driver="memory", operation=FleetOperation.PLAN,
                     status=ResultStatus.FAILED, ok=False, error_message="+cmd|' /C calc'!A0",
                     warnings=("-2+3", "@SUM(A1)"))
    text = FleetReport(operation=FleetOperation.PLAN, results=(row,)).to_csv()
    cells = next(r for r in csv.DictReader(io.StringIO(text)))
    assert cells["name"].startswith("'=") and cells["error_message"].startswith("'+")
    assert cells["warnings"].startswith("'-")
    assert cells["ok"] == "False"


def test_a_page_is_parsed_once_however_often_its_forms_are_asked_for() -> None:
    from routerfix.transport.html import Page

    page = Page("wan.htm", "http://192.0.2.1/wan.htm", 200,
                '<form name="a" action="a.cgi"><input name="x" value="1"></form><script>var v = "2";</script>')
    assert page.form("a") is page.form("a") is page.forms()[0]  # one parse, not one per call
    assert page.vars() == {"v": "2"} and page.vars() is not page.vars()  # a copy each: callers may change it
