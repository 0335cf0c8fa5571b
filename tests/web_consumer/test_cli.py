"""``routerfix mitigate --driver <each>`` against each simulator, from the command line (in process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from routerfix.cli import main
from routerfix.simulate import SimulatedDevice, simulate


def _args(verb: str, dev: SimulatedDevice, state: Path) -> list[str]:
    args = [verb, "--driver", dev.driver, "--host", dev.host, "--port", str(dev.port), "--yes", "--no-prompt",
            "--state-dir", str(state)]
    if dev.username:
        args += ["--username", dev.username]
    for key, value in dev.options.items():
        args += ["--option", f"{key}={value}"]
    return args


@pytest.mark.parametrize(("driver", "knobs"), [("asuswrt", {}), ("linksys", {"restart_seconds": 0.05}),
                                               ("tplink", {"model": "wr940n"})])
def test_mitigate_and_undo_from_the_command_line(driver: str, knobs: dict[str, object], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with simulate(driver, **knobs) as dev:
        monkeypatch.setenv("ROUTERFIX_PASSWORD", dev.password)
        assert main(_args("mitigate", dev, tmp_path)) == 0
        assert main(_args("mitigate", dev, tmp_path)) == 0  # unchanged
        assert main(_args("undo", dev, tmp_path)) == 0
    assert any(p.name.endswith("-mitigate.json") for p in tmp_path.iterdir())


@pytest.mark.parametrize("driver", ["belkin", "att", "upnp"])
def test_verdict_exit_code(driver: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with simulate(driver) as dev:
        monkeypatch.setenv("ROUTERFIX_PASSWORD", dev.password or "unused")
        assert main(_args("mitigate", dev, tmp_path)) == 5
