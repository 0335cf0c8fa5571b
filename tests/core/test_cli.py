"""The routerfix command: JSON output, confirmation, exit codes, undo from a later process."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import routerfix

ROUTERFIX = [sys.executable, "-m", "routerfix.cli"]


def run(args: list[str], tmp_path: Path, password: str = "admin", stdin: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROUTERFIX_PASSWORD": password, "ROUTERFIX_STATE_DIR": str(tmp_path / "state")}
    return subprocess.run([*ROUTERFIX, *args], env=env, capture_output=True, text=True, input=stdin, timeout=60)


def conn(tmp_path: Path, scenario: str = "office") -> list[str]:
    return ["--driver", "memory", "--host", "site-a", "--no-prompt", "-o", f"state_file={tmp_path / 'router.json'}",
            "-o", f"scenario={scenario}"]


def test_drivers_lists_memory(tmp_path: Path) -> None:
    out = run(["drivers", "--json"], tmp_path)
    assert out.returncode == 0
    assert {"name": "memory", "target": "routerfix.drivers.memory:MemoryDriver"} in json.loads(out.stdout)


def test_show_plan_mitigate_undo_round_trip(tmp_path: Path) -> None:
    show = json.loads(run(["show", *conn(tmp_path), "--json"], tmp_path).stdout)
    assert show["nat_mode"] == "open" and len(show["phones"]) == 2
    plan = run(["plan", *conn(tmp_path), "--json"], tmp_path)
    assert plan.returncode == 0 and json.loads(plan.stdout)["status"] == "planned"
    assert not (tmp_path / "router.json").exists() or json.loads((tmp_path / "router.json").read_text())[
        "forwards"] == []
    done = run(["mitigate", *conn(tmp_path), "--yes", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["status"] == "mitigated" and Path(data["saved_to"]).exists()
    again = json.loads(run(["mitigate", *conn(tmp_path), "--yes", "--json"], tmp_path).stdout)
    assert again["status"] == "unchanged" and again["changed"] is False
    undo = run(["undo", *conn(tmp_path), "--yes", "--json"], tmp_path)
    assert undo.returncode == 0, undo.stderr
    assert json.loads(undo.stdout)["status"] == "undone"
    state = json.loads((tmp_path / "router.json").read_text())
    assert state["forwards"] == [] and state["nat_mode"] == "open"


def test_mitigate_without_terminal_needs_yes(tmp_path: Path) -> None:
    out = run(["mitigate", *conn(tmp_path)], tmp_path, stdin="")
    assert out.returncode == 2 and "--yes" in out.stderr


def test_exit_codes(tmp_path: Path) -> None:
    assert run(["show", *conn(tmp_path)], tmp_path, password="wrong").returncode == 3
    pbx = run(["mitigate", *conn(tmp_path, "pbx"), "--yes"], tmp_path)
    assert pbx.returncode == 4 and "PBX SIP" in pbx.stderr
    full = run(["mitigate", "--driver", "memory", "--host", "f", "-o", "scenario=full-pool", "--yes",
                "--no-prompt"], tmp_path)
    assert full.returncode == 4 and "no free address" in full.stderr
    bad = run(["plan", *conn(tmp_path), "--sink", "10.9.9.9"], tmp_path)
    assert bad.returncode == 2 and "sink" in bad.stderr
    unknown = run(["show", "--driver", "nope", "--host", "h", "--no-prompt"], tmp_path)
    assert unknown.returncode == 2 and "known drivers" in unknown.stderr


def test_password_is_never_an_argument(tmp_path: Path) -> None:
    out = run(["show", *conn(tmp_path), "--password", "hunter2-secret"], tmp_path)
    assert out.returncode == 2 and "not taken on the command line" in out.stderr
    assert "hunter2-secret" not in out.stderr + out.stdout
    abbreviated = run(["show", *conn(tmp_path), "--pass", "x"], tmp_path)
    assert abbreviated.returncode == 2


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_demo_runs(tmp_path: Path, json_flag: list[str]) -> None:
    out = run(["demo", *json_flag], tmp_path)
    assert out.returncode == 0, out.stderr
    if json_flag:
        data = json.loads(out.stdout)
        assert data["first"]["status"] == "mitigated" and data["second"]["changed"] is False
    else:
        assert "mitigation applied and verified" in out.stdout and "second run: status=unchanged" in out.stdout


def _confirm_args(yes: bool) -> argparse.Namespace:
    return argparse.Namespace(yes=yes, json=True)


def test_yes_reads_the_router_once_before_writing(tmp_path: Path) -> None:
    from helpers import connect, router

    from routerfix.cli.commands import _apply_confirmed

    r = router()
    with connect(r) as d:
        result = _apply_confirmed(_confirm_args(True), d, lambda: routerfix.plan_ghostcall_mitigation(d), tmp_path,
                                  True)
        reads = d._calls["get_nat_mode"]  # type: ignore[attr-defined]
    assert result is not None and result.status == "mitigated"
    assert reads == 2  # one read to plan, one to verify


def test_a_router_that_changed_while_the_plan_was_on_screen_is_not_written(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import Lease, connect, router

    import routerfix.cli.commands as cli

    r = router()

    def operator_says_yes_while_a_device_takes_the_sink(args: argparse.Namespace, question: str) -> bool:
        r.leases.append(Lease("192.168.1.110", "00:11:22:33:44:55", "new-laptop"))
        return True

    monkeypatch.setattr(cli, "confirm", operator_says_yes_while_a_device_takes_the_sink)
    with connect(r) as d:
        with pytest.raises(routerfix.MitigationError, match="changed while the plan was on screen"):
            cli._apply_confirmed(_confirm_args(False), d, lambda: routerfix.plan_ghostcall_mitigation(d), tmp_path,
                                 True)
        assert d.writes == 0
