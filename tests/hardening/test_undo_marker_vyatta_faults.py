"""The client dies right after the undo marker reached a VyOS or EdgeOS router (docs/facts/vyos.md rows 33-40): the
marker lines go ahead of the candidate in one typed-ahead block, so the session ends with the marker on the router
and nothing committed. ``routerfix undo`` with no record then finds a marker on a router without routerfix's
changes: stale, so nothing of it is replayed, and the router stays exactly as before (running and saved)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import routerfix
from routerfix.cli.app import main
from routerfix.driver import Driver
from routerfix.errors import RouterfixError
from routerfix.simulate import SimulatedDevice

from .faults import FAST

MARKER = "/config/routerfix/undo.json"


@contextmanager
def _device(platform: str) -> Iterator[SimulatedDevice]:
    with importlib.import_module(f"routerfix.simulators.{platform}.device").simulate("pbx") as device:
        yield device


def _connect(device: SimulatedDevice) -> Driver:
    return routerfix.connect(device.driver, device.host, timeouts=FAST, **device.connect_options())


def _marker_step(platform: str, tmp: Path) -> int:
    """The command (1-based, after the session opened) that renames the marker into place, on a clean run."""
    with _device(platform) as device, _connect(device) as driver:
        dev = device.handle.device
        dev.clear_records()
        routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True, state_dir=tmp)
        return next(i for i, line in enumerate(dev.commands, 1) if f"\\mv -f {MARKER}.tmp {MARKER}" in line)


@pytest.mark.parametrize("platform", ["vyos", "edgeos"])
def test_client_gone_right_after_the_marker_write_leaves_the_router_as_before(
        platform: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    step = _marker_step(platform, tmp_path / "clean")
    with _device(platform) as device:
        router, dev = device.handle.router, device.handle.device
        before = router.config_text()
        driver = _connect(device)
        dev.clear_records()
        dev.knobs.fail_auth = True                        # the client is gone: nothing logs in again
        dev.drop_after(step, executes=True)               # the marker line runs, then the connection dies
        try:
            with pytest.raises(RouterfixError):
                routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True, state_dir=tmp_path / "run")
        finally:
            driver.close()
        assert dev.knobs.drop_at is None and MARKER in dev.commands[-1], "the fault did not hit the marker line"
        assert MARKER in router.disk.files and router.config_text() == before and router.confirm_deadline is None
        dev.knobs.fail_auth = False
        monkeypatch.setenv("ROUTERFIX_PASSWORD", device.password or "")
        capsys.readouterr()
        code = main(["undo", *device.cli_args(), "--yes", "--no-prompt", "--state-dir", str(tmp_path / "none"),
                     "--json"])
        out = json.loads(capsys.readouterr().out)
        assert code == 9 and out["undo_from"] == "marker" and out["complete"] is False, out
        assert any("stale" in w and "'PBX'" in w for w in out["warnings"]), out["warnings"]
        assert router.config_text() == before and sorted(router.saved) == sorted(router.running)
        assert router.disk.files == {}, "the stale marker or a scratch file was left"
