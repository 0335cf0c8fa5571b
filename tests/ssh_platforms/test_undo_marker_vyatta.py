"""Undo without a local record on VyOS and EdgeOS: the undo marker in ``/config/routerfix/undo.json``
(docs/facts/vyos.md rows 33-42, edgeos.md rows 20-24), over real SSH against the simulators.

Mitigate (SIP ALG turned off, a customer's SIP forward replaced), throw the state directory away, undo: the router
comes back as it was, from the marker alone. A rerun keeps the first marker; a reboot keeps it. A name full of shell
metacharacters goes through byte for byte. A marker that fails its checks is ignored (undo incomplete, exit 9); a
marker left by a run whose commit-confirm reverted is stale and never replayed; a login that may not write
``/config`` is refused before anything is committed."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import routerfix
from routerfix.actions import safe_restore_name
from routerfix.cli.app import main
from routerfix.errors import RouterfixError
from routerfix.markers import encode_marker
from routerfix.planner import managed_view
from routerfix.simulate import SimulatedDevice

from .conftest import cli_args, config_text, connect, persisted

MARKER = "/config/routerfix/undo.json"
PLATFORMS = ["vyos", "edgeos"]
NAME = 'PBX $(x) "q"; [a] \\b'
"""A customer's rule description holding shell and CLI metacharacters."""
PBX_DESCRIPTION = {"vyos": ("nat", "destination", "rule", "50", "description"),
                   "edgeos": ("service", "nat", "rule", "1", "description")}



def _marker(device: SimulatedDevice) -> tuple[bytes, int] | None:
    entry: tuple[bytes, int] | None = device.handle.router.disk.files.get(MARKER)
    return entry


def _view(device: SimulatedDevice) -> list[str]:
    with connect(device) as driver:
        return managed_view(driver.read_state())


@pytest.mark.parametrize("platform", PLATFORMS)
def test_undo_from_the_marker_alone_restores(platform: str, sim: Callable[..., Any], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    with sim(platform, "pbx") as device:
        router = device.handle.router
        view = _view(device)
        monkeypatch.setenv("ROUTERFIX_PASSWORD", device.password or "")
        state = tmp_path / "state"
        assert main(cli_args("mitigate", device, state, "--replace-conflicting")) == 0
        entry = _marker(device)
        assert entry is not None and entry[1] == 0o660 and router.disk.dirs["/config/routerfix"] == 0o2770
        assert set(router.disk.files) == {MARKER}, "no scratch file left"
        marker = json.loads(entry[0])
        assert marker["complete"] is True and marker["sip_alg"] == {"was": True, "set": False}
        assert [(f["name"], f["protocol"], f["external_ports"]) for f in marker["forwards"]] == [
            ("PBX", "udp", "5060")], "the replaced forward"
        router.reboot()                                        # the file is not configuration: kept (row 33)
        assert _marker(device) == entry
        # someone deletes routerfix's rule; the rerun puts it back and keeps the first marker
        router.running = [p for p in router.running if not _is_routerfix_rule(router.running, p)]
        router.saved = list(router.running)
        assert "routerfix-sip" not in config_text(platform, device.handle)
        assert main(cli_args("mitigate", device, state, "--replace-conflicting")) == 0
        assert _marker(device) == entry
        shutil.rmtree(state)                                   # the controller's files are gone
        capsys.readouterr()
        assert main(cli_args("undo", device, state, "--json")) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["undo_from"] == "marker" and out["complete"] is True
        assert _view(device) == view and persisted(platform, device.handle)
        assert "PBX" in config_text(platform, device.handle) and "routerfix" not in config_text(platform,
                                                                                                  device.handle)
        assert _marker(device) is None, "a completed undo clears the marker"
        assert main(cli_args("undo", device, state)) == 0          # nothing left to undo


def _is_routerfix_rule(paths: list[tuple[str, ...]], path: tuple[str, ...]) -> bool:
    """``path`` belongs to the NAT rule whose description is routerfix's."""
    ours = {p[:-2] for p in paths if p[-2:] == ("description", "routerfix-sip")}
    return any(path[:len(rule)] == rule for rule in ours)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_name_with_metacharacters_goes_through_byte_for_byte(platform: str, sim: Callable[..., Any],
                                                              tmp_path: Path) -> None:
    with sim(platform, "pbx") as device:
        router = device.handle.router
        where = PBX_DESCRIPTION[platform]
        router.running = [(*where, NAME) if p[:-1] == where else p for p in router.running]
        router.saved = list(router.running)
        with connect(device) as driver:
            pbx = next(f for f in driver.read_state().forwards if f.name == NAME)  # the simulator shows it as set
            done = routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True, state_dir=tmp_path / "a")
            assert done.applied[0] == "save the undo marker on the device"
        entry = _marker(device)
        assert entry is not None
        assert entry[0] == encode_marker(json.loads(entry[0])).encode("ascii"), "the text as encoded, unchanged"
        assert json.loads(entry[0])["forwards"][0]["name"] == NAME
        with connect(device) as driver:
            assert driver.read_state().undo_marker == json.loads(entry[0]), "read back through base64"
            undone = routerfix.remove_ghostcall_mitigation(driver, state_dir=tmp_path / "b")
            assert undone.complete and undone.plan.extra["undo_from"] == "marker"
            restored = [f for f in driver.read_state().forwards if f.internal_address == pbx.internal_address]
        assert [(f.name, f.protocol, f.external_ports) for f in restored] == [
            (safe_restore_name(NAME), pbx.protocol, pbx.external_ports)], "put back under a device-safe name"
        assert _marker(device) is None


@pytest.mark.parametrize(("platform", "tamper"), [
    pytest.param("vyos", b'{"routerfix_undo_marker":1,"complete":true,"nat_mode":null,"sip_alg":{"was":"on; reboot",'
                 b'"set":false},"forwards":[],"reservations":[]}', id="vyos-bad-field"),
    pytest.param("edgeos", b'{"routerfix_undo_marker":1,"complete":true,"x":"' + b"A" * 9000 + b'"}',
                 id="edgeos-oversized"),
])
def test_a_tampered_marker_is_ignored_and_the_undo_says_it_is_incomplete(
        platform: str, tamper: bytes, sim: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    with sim(platform, "pbx") as device:
        router = device.handle.router
        monkeypatch.setenv("ROUTERFIX_PASSWORD", device.password or "")
        assert main(cli_args("mitigate", device, tmp_path / "a", "--replace-conflicting")) == 0
        router.disk.files[MARKER] = (tamper, 0o660)
        capsys.readouterr()
        assert main(cli_args("undo", device, tmp_path / "b", "--json")) == 9
        out = json.loads(capsys.readouterr().out)
        assert out["complete"] is False and out["undo_from"] == "none"
        assert any(f"undo marker {MARKER}" in w and "ignored" in w for w in out["warnings"]), out["warnings"]
        assert "PBX" not in config_text(platform, device.handle), "nothing odd was trusted"
        assert _marker(device) is None


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_marker_left_by_a_reverted_commit_confirm_is_never_replayed(platform: str, sim: Callable[..., Any],
                                                                       tmp_path: Path) -> None:
    """The run's commit-confirm is never confirmed (the client is gone): the router reboots to its saved
    configuration and keeps the marker file (row 40). An undo replays nothing of it, says what it held, clears it."""
    with sim(platform, "pbx") as device:
        router = device.handle.router
        before, view = config_text(platform, device.handle), _view(device)
        with connect(device) as driver:
            plan = routerfix.plan_ghostcall_mitigation(driver, replace_conflicting=True)
            with driver.write_batch():
                for action in plan.actions:
                    action.apply(driver)
        assert router.confirm_deadline is not None and _marker(device) is not None
        router.fire_revert()
        assert config_text(platform, device.handle) == before and _marker(device) is not None
        with connect(device) as driver:
            undone = routerfix.remove_ghostcall_mitigation(driver, state_dir=tmp_path)
            assert not undone.complete and any("stale" in w and "'PBX'" in w for w in undone.warnings), \
                undone.warnings
        assert config_text(platform, device.handle) == before and _view(device) == view
        assert _marker(device) is None


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_login_that_may_not_write_config_is_refused_before_any_commit(platform: str, sim: Callable[..., Any],
                                                                        tmp_path: Path) -> None:
    with sim(platform, "pbx") as device:
        router = device.handle.router
        router.disk.writable = False                           # not in the vyattacfg group (row 37)
        before = config_text(platform, device.handle)
        with connect(device) as driver, pytest.raises(RouterfixError) as caught:
            routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True, state_dir=tmp_path)
        assert "vyattacfg" in str(caught.value) and "Permission denied" in str(caught.value.device_message)
        assert config_text(platform, device.handle) == before and persisted(platform, device.handle)
        assert router.confirm_deadline is None and router.reverts == 0, "nothing was committed or armed"
        assert router.disk.files == {} and "/config/routerfix" not in router.disk.dirs


def _undo_confirm_step(sim: Callable[..., Any], tmp: Path) -> int:
    """The undo's ``confirm`` (1-based, after the session opened), measured on a clean undo."""
    with sim("vyos", "pbx") as device:
        with connect(device) as driver:
            routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True, state_dir=tmp / "a")
        with connect(device) as driver:
            device.handle.device.clear_records()
            routerfix.remove_ghostcall_mitigation(driver, state_dir=tmp / "b")
            sent = device.handle.device.commands
            return sent.index("confirm") + 1


def test_the_marker_outlives_an_undo_whose_commit_confirm_reverts(sim: Callable[..., Any], tmp_path: Path) -> None:
    """The undo's client is gone after its ``commit-confirm``, before its ``confirm``: the router reboots to the
    saved (mitigated) configuration, and the marker describing that mitigation is still there (its removal waits
    for the confirm, row 40), so the next undo restores from it."""
    step = _undo_confirm_step(sim, tmp_path / "clean")
    with sim("vyos", "pbx") as device:
        router, dev = device.handle.router, device.handle.device
        view = _view(device)
        with connect(device) as driver:
            routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True, state_dir=tmp_path / "a")
        mitigated, entry = config_text("vyos", device.handle), _marker(device)
        driver = connect(device)
        dev.clear_records()
        dev.knobs.fail_auth = True                             # the client is gone: nothing logs in again
        dev.drop_after(step)                                   # "confirm" never arrives
        try:
            with pytest.raises(RouterfixError):
                routerfix.remove_ghostcall_mitigation(driver, state_dir=tmp_path / "b")
        finally:
            driver.close()
        assert "commit-confirm 10" in dev.commands and dev.commands[-1] == "configure"
        assert router.confirm_deadline is not None
        router.fire_revert()
        assert _marker(device) == entry, "the marker went before the undo was confirmed"
        assert config_text("vyos", device.handle) == mitigated
        dev.knobs.fail_auth = False
        with connect(device) as driver:
            undone = routerfix.remove_ghostcall_mitigation(driver, state_dir=tmp_path / "c")
            assert undone.complete and undone.plan.extra["undo_from"] == "marker"
        assert _view(device) == view and _marker(device) is None


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_marker_chunk_lost_to_a_full_disk_is_refused_before_any_commit(platform: str, sim: Callable[..., Any],
                                                                         tmp_path: Path) -> None:
    """The second base64 chunk's append finds ``/config`` full, then room comes back: what is left still decodes
    (shorter). The size check before the rename and the chunk line's own complaint refuse it (vyos.md row 41)."""
    with sim(platform, "pbx") as device:
        router, dev = device.handle.router, device.handle.device
        router.disk.full_at = 2                                # "> .b64" succeeds, the first ">> .b64" fails
        before = config_text(platform, device.handle)
        dev.clear_records()
        with connect(device) as driver, pytest.raises(RouterfixError) as caught:
            routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True, state_dir=tmp_path)
        assert sum(c.startswith("\\printf %s ") for c in dev.commands) >= 2, "the marker fits one chunk"
        assert "No space left on device" in str(caught.value.device_message)
        assert config_text(platform, device.handle) == before and persisted(platform, device.handle)
        assert router.confirm_deadline is None and router.reverts == 0, "nothing was committed or armed"
        assert router.disk.files == {}, "a torn marker or a scratch file was left"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_marker_that_cannot_be_removed_after_a_confirmed_undo_is_only_a_warning(
        platform: str, sim: Callable[..., Any], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The undo is confirmed and saved when ``/config`` refuses the marker's removal: the undo stands (no rollback
    of a finished undo, which would start by re-saving the marker and fail the same way); the leftover marker is
    stale (row 40) and a warning says so."""
    with sim(platform, "pbx") as device:
        router = device.handle.router
        view = _view(device)
        with connect(device) as driver:
            routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True, state_dir=tmp_path / "a")
        entry = _marker(device)
        router.disk.writable = False                           # the removal is refused
        with caplog.at_level("WARNING", logger="routerfix"), connect(device) as driver:
            undone = routerfix.remove_ghostcall_mitigation(driver, state_dir=tmp_path / "b")
        assert undone.complete and undone.plan.extra["undo_from"] == "marker"
        assert [line for line in _view(device) if not line.startswith("undo marker")] == view
        assert "routerfix" not in config_text(platform, device.handle)
        assert persisted(platform, device.handle) and router.confirm_deadline is None and router.reverts == 0
        assert _marker(device) == entry
        assert any("could not be removed" in r.getMessage() and "stale" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_shell_that_refuses_the_marker_read_leaves_the_rest_of_the_read_and_refuses_writes(
        platform: str, sim: Callable[..., Any], tmp_path: Path) -> None:
    """A login whose shell answers plain commands with ``Invalid command`` (row 42): the read still shows the
    configuration, with no marker and a warning; a mitigation is refused at the marker, before any commit."""
    with sim(platform, "pbx") as device:
        router = device.handle.router
        router.shell_commands = False
        before = config_text(platform, device.handle)
        with connect(device) as driver:
            state = driver.read_state()
            assert any(f.name == "PBX" for f in state.forwards) and state.sip_alg is True
            assert state.undo_marker is None and state.marker_warning is not None
            assert "could not be read" in state.marker_warning and "Invalid command" in state.marker_warning
            with pytest.raises(RouterfixError) as caught:
                routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True, state_dir=tmp_path)
        assert "cannot save the undo marker" in str(caught.value)
        assert config_text(platform, device.handle) == before and persisted(platform, device.handle)
        assert router.confirm_deadline is None and router.reverts == 0, "nothing was committed or armed"
