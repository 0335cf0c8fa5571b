"""`routerfix mitigate --driver <each>` works against its simulator from the command line: a real CLI process
talking over loopback to the simulator served by this test process; then a rerun changes nothing and undo
restores. Verdict drivers exit 5 and change nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import routerfix
from routerfix.planner import managed_view
from routerfix.simulate import SimulatedDevice, simulate

KNOBS: dict[str, dict[str, Any]] = {"linksys": {"restart_seconds": 0.05}}
VERDICTS = {"belkin": "replace_router", "att": "bridge_mode", "upnp": "read_only_access"}
WRITERS = sorted(set(routerfix.list_drivers()) - set(VERDICTS) - {"memory"})


def _cli(verb: str, dev: SimulatedDevice, state: Path) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "routerfix.cli", verb, *dev.cli_args(), "--yes", "--no-prompt", "--json",
            "--state-dir", str(state)]
    env = {**os.environ, "ROUTERFIX_PASSWORD": dev.password or "unused"}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)


def _view(dev: SimulatedDevice) -> list[str]:
    with routerfix.connect(dev.driver, dev.host, **dev.connect_options()) as d:
        return managed_view(d.read_state())


@pytest.mark.parametrize("driver", WRITERS)
def test_mitigate_rerun_undo_from_the_command_line(driver: str, tmp_path: Path) -> None:
    with simulate(driver, **KNOBS.get(driver, {})) as dev:
        before = _view(dev)
        first = _cli("mitigate", dev, tmp_path)
        assert first.returncode == 0, first.stderr
        data = json.loads(first.stdout)
        assert data["status"] == "mitigated" and data["verified"] is True, data
        assert any(line.startswith("forward routerfix-sip") for line in _view(dev))
        second = _cli("mitigate", dev, tmp_path)
        assert second.returncode == 0 and json.loads(second.stdout)["status"] == "unchanged", second.stderr
        undo = _cli("undo", dev, tmp_path)
        assert undo.returncode == 0, undo.stderr
        assert json.loads(undo.stdout)["status"] == "undone"
        assert _view(dev) == before


@pytest.mark.parametrize("driver", sorted(VERDICTS))
def test_verdict_drivers_exit_5_and_change_nothing(driver: str, tmp_path: Path) -> None:
    with simulate(driver) as dev:
        out = _cli("mitigate", dev, tmp_path)
    assert out.returncode == 5, out.stderr
    data = json.loads(out.stdout)
    assert data["status"] == "verdict" and data["changed"] is False
    assert [v["remedy"] for v in data["verdicts"]] == [VERDICTS[driver]]
