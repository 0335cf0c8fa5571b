"""``routerfix fleet plan|mitigate|undo INVENTORY``: exit codes, reports, --only-failed, confirmation."""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
from pathlib import Path

import pytest
from integration_support import PYTHON

from routerfix.cli import fleet as cli_fleet


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="routerfix")
    sub = parser.add_subparsers(dest="command", required=True)
    cli_fleet.register(sub)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_plan_reports_and_exit_code_some(fleet_inventory: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    report, table = tmp_path / "plan.json", tmp_path / "plan.csv"
    code = _run(["fleet", "plan", str(fleet_inventory), "--report", str(report), "--csv", str(table),
                 "--state-dir", str(tmp_path / "state")])
    out = capsys.readouterr().out
    assert code == 1
    assert "office-a" in out and "planned" in out and "ForwardConflict" in out and "--only-failed" in out
    data = json.loads(report.read_text())
    assert data["summary"]["ok"] == 2 and data["exit_code"] == 1
    assert [row["status"] for row in csv.DictReader(table.open())] == ["planned", "planned", "failed", "failed"]


def test_json_output_is_the_report(fleet_inventory: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = _run(["fleet", "plan", str(fleet_inventory), "--json", "--state-dir", str(tmp_path)])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["routerfix_fleet_report"] == 1 and len(data["hosts"]) == 4
    assert Path(data["report_file"]).exists() and Path(data["report_file"]).parent == tmp_path / "reports"


def test_mitigate_needs_yes_without_a_terminal(fleet_inventory: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = _run(["fleet", "mitigate", str(fleet_inventory), "--state-dir", str(tmp_path)])
    assert code == 2 and "--yes" in capsys.readouterr().err
    assert not list(tmp_path.glob("*-mitigate.json"))


def test_bad_inventory_is_exit_2_with_host_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "hosts.yaml").write_text("shop:\n  platform: memory\n  prot: 22\n")
    assert _run(["fleet", "plan", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "shop" in err and "prot" in err


def test_only_failed_then_all_succeed(fleet_inventory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    state, first = tmp_path / "state", tmp_path / "first.json"
    assert _run(["fleet", "mitigate", str(fleet_inventory), "--yes", "--state-dir", str(state),
                 "--report", str(first), "--workers", "2"]) == 1
    monkeypatch.setenv("ROUTERFIX_TEST_BAD_PW", "admin")
    second = tmp_path / "second.json"
    assert _run(["fleet", "mitigate", str(fleet_inventory), "--yes", "--state-dir", str(state),
                 "--only-failed", str(first), "--replace-conflicting", "--report", str(second)]) == 0
    data = json.loads(second.read_text())
    assert [h["name"] for h in data["hosts"]] == ["pbx", "wrong-pw"] and data["summary"]["mitigated"] == 2
    capsys.readouterr()
    assert _run(["fleet", "plan", str(fleet_inventory), "--only-failed", str(second), "--json",
                 "--state-dir", str(state)]) == 0
    assert json.loads(capsys.readouterr().out)["hosts"] == []


def test_mitigate_and_undo_in_separate_processes(fleet_inventory: Path, tmp_path: Path) -> None:
    """The real ``routerfix`` command: records written by one process are undone by another."""
    exe = str(Path(PYTHON).parent / "routerfix")
    if not Path(exe).exists():
        pytest.skip("the routerfix console script is not installed")
    env = {**os.environ, "ROUTERFIX_NO_PROGRESS": "1"}
    state = tmp_path / "state"
    common = ["--state-dir", str(state), "--yes", "--only", "office-a", "--only", "office-b"]
    done = subprocess.run([exe, "fleet", "mitigate", str(fleet_inventory), *common], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(list(state.glob("*-mitigate.json"))) == 2
    undone = subprocess.run([exe, "fleet", "undo", str(fleet_inventory), *common, "--json"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert undone.returncode == 0, undone.stderr
    report = json.loads(undone.stdout)
    assert [h["status"] for h in report["hosts"]] == ["undone", "undone"]
    assert all(h["record"] and h["record"].endswith("-undo.json") for h in report["hosts"])
    assert "admin" not in undone.stdout.replace('"username"', "")


def test_registered_in_the_main_command(fleet_inventory: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from routerfix import cli

    code = cli.main(["fleet", "plan", str(fleet_inventory), "--only", "office-a", "--json",
                     "--state-dir", str(tmp_path)])
    assert code == 0 and json.loads(capsys.readouterr().out)["summary"]["planned"] == 1
