"""Undo without a local record on MikroTik RouterOS: the undo marker kept in a file on the router's flash
(docs/facts/mikrotik.md M72-M81), over real SSH against the RouterOS simulator.

Mitigate (endpoint-independent NAT and SIP ALG off, a customer's SIP forward replaced), throw the state directory
away, undo: the router comes back exactly as it was, from the marker alone. A rerun keeps the first marker. A forward
name full of console metacharacters comes back byte for byte. A marker that fails its checks is ignored with a
warning (exit 9); a stale one is never replayed. RouterOS before 7.9 keeps none."""

from __future__ import annotations

import base64
import json
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost
from routerfix.simulators.mikrotik.device import RouterOSShell, RouterOSState, default_state, simulate

import routerfix
from routerfix.cli.app import main
from routerfix.errors import RouterfixError, UnsupportedOperation
from routerfix.model import Feature
from routerfix.planner import managed_view
from routerfix.simulate import SimulatedDevice

from .conftest import cli_args, connect

MARKER = "flash/routerfix-undo.txt"
ODD = 'PBX $(x) "q"; [b] \\c'
"""A customer forward name holding shell and RouterOS metacharacters (M43, M44 allow it verbatim)."""


def _pbx(name: str = "PBX SIP") -> dict[str, Any]:
    return {"name": name, "protocol": "udp", "external_ports": "5060", "internal_address": "192.168.88.10",
            "internal_ports": "5060", "enabled": True, "wan_only": True, "ref": ""}


@contextmanager
def _router(ssh_host: SSHSimulatorHost, version: str = "7.16.2", name: str = "PBX SIP", *, flash: bool = True
            ) -> Iterator[SimulatedDevice]:
    """The office router (endpoint-independent NAT on) with a customer's WAN SIP forward named ``name``."""
    state = default_state(version, "office")
    state.flash = flash
    state.add("ip firewall nat", {"chain": "dstnat", "action": "dst-nat", "to-addresses": "192.168.88.10",
                                  "to-ports": "5060", "protocol": "udp", "in-interface-list": "WAN",
                                  "dst-port": "5060", "comment": name})
    with simulate(host=ssh_host, state=state) as device:
        yield device


def _config(state: RouterOSState) -> dict[str, Any]:
    """Every configuration menu and the file list, item IDs left out (a rule put back is a new item)."""
    with state.lock:
        state.sync_files()
        return {menu: sorted(json.dumps([dict(i.props), i.disabled], sort_keys=True) for i in items)
                for menu, items in state.menus.items() if menu != "ip firewall connection"}


def _file(state: RouterOSState, name: str = MARKER) -> str | None:
    path = Path(state.file_path(name))
    return path.read_text("latin-1") if path.is_file() else None


def _marker(state: RouterOSState) -> dict[str, Any]:
    text = _file(state)
    assert text is not None and re.fullmatch(r"[A-Za-z0-9+/]+=*", text), "stored as base64 only (M77)"
    return dict(json.loads(base64.b64decode(text)))


def _plant(state: RouterOSState, text: str, name: str = MARKER) -> None:
    Path(state.file_path(name)).write_text(text, "latin-1")



def test_undo_from_the_marker_alone_restores_exactly(ssh_host: SSHSimulatorHost, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with _router(ssh_host) as device:
        state: RouterOSState = device.handle.model
        before = _config(state)
        with connect(device) as driver:
            managed = managed_view(driver.read_state())
        monkeypatch.setenv("ROUTERFIX_PASSWORD", device.password or "")
        records = tmp_path / "state"
        assert main(cli_args("mitigate", device, records, "--replace-conflicting")) == 0
        marker = _marker(state)
        assert marker["complete"] is True and marker["sip_alg"] == {"was": True, "set": False}
        assert marker["nat_mode"] == {"was": "open", "set": "secure"}
        assert marker["forwards"] == [_pbx()], "the replaced forward, byte for byte"
        assert _file(state, "routerfix-undo.txt") is None, "in flash/, not on the RAM disk (M73)"
        text = _file(state)
        # someone deletes routerfix's tcp rule; the rerun puts it back and keeps the first marker
        RouterOSShell("admin", state).execute('/ip firewall nat remove [find where comment="routerfix-sip-tcp"]')
        assert main(cli_args("mitigate", device, records, "--replace-conflicting")) == 0
        assert _file(state) == text
        shutil.rmtree(records)                                  # AWX: the controller's files are gone
        assert main(cli_args("undo", device, records, "--json")) == 0
        assert _config(state) == before, "exactly as before, the marker file gone"
        with connect(device) as driver:
            assert managed_view(driver.read_state()) == managed
        assert main(cli_args("undo", device, records)) == 0         # nothing left to undo


def test_metacharacters_in_a_forward_name_round_trip_byte_for_byte(ssh_host: SSHSimulatorHost) -> None:
    with _router(ssh_host, name=ODD, flash=False) as device, connect(device) as driver:
        state: RouterOSState = device.handle.model
        before = driver.read_state()
        done = routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True)
        assert done.applied[0] == "save the undo marker on the device"
        assert _file(state, MARKER) is None and _file(state, "routerfix-undo.txt") is not None, "no flash: top (M73)"
        marker = json.loads(base64.b64decode(_file(state, "routerfix-undo.txt") or ""))
        assert marker["forwards"] == [_pbx(ODD)]
        undone = routerfix.remove_ghostcall_mitigation(driver)   # no record: from the marker
        assert undone.complete and undone.plan.extra["undo_from"] == "marker"
        assert managed_view(driver.read_state()) == managed_view(before)
        assert any(r.get("comment") == ODD for r in state.nat_rules()), "the name came back byte for byte"
        assert _file(state, "routerfix-undo.txt") is None


@pytest.mark.parametrize("tamper", [
    pytest.param("$(reboot); /system reboot", id="not-base64"),
    pytest.param(base64.b64encode(b'{"routerfix_undo_marker":1,"complete":true,"nat_mode":null,"sip_alg":'
                                  b'{"was":"on; reboot","set":false},"forwards":[],"reservations":[]}').decode(),
                 id="bad-field"),
    pytest.param(base64.b64encode(b'{"routerfix_undo_marker":1,"complete":true,"nat_')[:-8].decode(), id="cut-short"),
])
def test_a_tampered_marker_is_ignored_and_the_undo_says_it_is_incomplete(
        ssh_host: SSHSimulatorHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], tamper: str) -> None:
    with _router(ssh_host) as device:
        state: RouterOSState = device.handle.model
        monkeypatch.setenv("ROUTERFIX_PASSWORD", device.password or "")
        assert main(cli_args("mitigate", device, tmp_path / "a", "--replace-conflicting")) == 0
        _plant(state, tamper)
        capsys.readouterr()
        assert main(cli_args("undo", device, tmp_path / "b", "--json")) == 9
        out = json.loads(capsys.readouterr().out)
        assert out["complete"] is False and out["undo_from"] == "none"
        assert any(f"undo marker file {MARKER}" in w and "ignored" in w for w in out["warnings"]), out["warnings"]
        assert not any(r.get("comment") == "PBX SIP" for r in state.nat_rules()), "nothing odd was trusted"
        assert _file(state) is None


def test_a_stale_marker_is_not_replayed(ssh_host: SSHSimulatorHost) -> None:
    """A marker on a router without routerfix's rules (rules removed by hand, a reset): undo replays nothing,
    says what it held, and clears it; an empty file (M74) is no marker and is rewritten in place."""
    with _router(ssh_host) as device, connect(device) as driver:
        state: RouterOSState = device.handle.model
        before = driver.read_state()
        _plant(state, base64.b64encode(json.dumps(
            {"routerfix_undo_marker": 1, "complete": True, "nat_mode": None, "sip_alg": None,
             "forwards": [_pbx("Old PBX")], "reservations": []}).encode()).decode())
        undone = routerfix.remove_ghostcall_mitigation(driver)
        assert not undone.complete and any("stale" in w and "'Old PBX'" in w for w in undone.warnings)
        assert managed_view(driver.read_state()) == managed_view(before)
        assert _file(state) is None
        _plant(state, "")
        assert driver.read_state().undo_marker is None
        assert routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True).verified
        assert _marker(state)["forwards"] == [_pbx()]


def test_routeros_before_7_9_keeps_no_marker(ssh_host: SSHSimulatorHost) -> None:
    """``/file add`` came with 7.9 (M72): older routers declare no marker and get no file."""
    with _router(ssh_host, "7.8") as device, connect(device) as driver:
        state: RouterOSState = device.handle.model
        assert Feature.UNDO_MARKER not in driver.read_state().capabilities
        done = routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True)
        assert done.verified and "save the undo marker on the device" not in done.applied
        assert _file(state) is None and _file(state, "routerfix-undo.txt") is None


def test_a_marker_too_long_for_one_line_is_refused_before_any_write(ssh_host: SSHSimulatorHost) -> None:
    """At most 2,000 base64 characters (M80): a plan replacing many forwards stops before its first write."""
    state = default_state("7.16.2", "office")
    for k in range(8):
        state.add("ip firewall nat", {"chain": "dstnat", "action": "dst-nat", "to-addresses": f"192.168.88.{30 + k}",
                                      "to-ports": "5060", "protocol": "udp", "in-interface-list": "WAN",
                                      "dst-port": "5060", "comment": f"an old PBX forward number {k}"})
    with simulate(host=ssh_host, state=state) as device, connect(device) as driver:
        before = _config(state)
        with pytest.raises(UnsupportedOperation, match="undo marker needs"):
            routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True)
        assert _config(state) == before and state.safe_owner is None


def test_a_login_without_the_ftp_policy_keeps_no_marker_and_still_shows_mitigates_and_undoes(
        ssh_host: SSHSimulatorHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    """The default ``write`` group lacks ``ftp`` (M68): the router refuses it ``/file`` (M83). The guarded file reads
    never stop the first read line; the run keeps no marker (as before 7.9), says why and how to grant it, and undo
    works from the local record."""
    with _router(ssh_host) as device:
        state: RouterOSState = device.handle.model
        state.sniffer.policies.discard("ftp")          # a user of the default "write" group
        before = _config(state)
        monkeypatch.setenv("ROUTERFIX_PASSWORD", device.password or "")
        records = tmp_path / "state"
        assert main(["show", *device.cli_args(), "--no-prompt", "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert shown["forwards"], "the first read line ran to its end"
        assert main(cli_args("mitigate", device, records, "--replace-conflicting", "--json")) == 0
        done = json.loads(capsys.readouterr().out)
        assert done["status"] == "mitigated" and done["verified"] is True
        assert "save the undo marker on the device" not in json.dumps(done)
        assert "'ftp' policy" in caplog.text and "/user group set" in caplog.text
        assert not any(c.startswith("/file add") for c in device.handle.commands)
        assert _file(state) is None and _file(state, "routerfix-undo.txt") is None
        assert main(cli_args("undo", device, records, "--json")) == 0
        assert json.loads(capsys.readouterr().out)["complete"] is True
        assert _config(state) == before


def test_the_marker_is_removed_only_after_safe_mode_is_released(ssh_host: SSHSimulatorHost) -> None:
    """M78 is inferred: a router that keeps file changes when a Safe Mode session drops must not lose the marker
    while it undoes the undo's rule changes. The undo's session drops right after its write line ran: the router puts
    the mitigation back, and the marker that describes it is still there."""
    with _router(ssh_host) as device:
        state: RouterOSState = device.handle.model
        state.safe_mode_undoes_files = False            # the other reading of M78
        with connect(device) as driver:
            assert routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True).verified
        mitigated, text = _config(state), _file(state)
        assert text is not None
        with connect(device) as driver:
            start = len(device.handle.commands)
            device.handle.knobs.fail_auth = True          # the client is gone: nothing logs in again
            device.handle.drop_after(2, executes=True)    # 1 the read line, 2 the write line (run, answer lost)
            with pytest.raises(RouterfixError):
                routerfix.remove_ghostcall_mitigation(driver)
        assert device.handle.knobs.drop_at is None, "the drop did not happen: the case tests nothing"
        device.handle.knobs.fail_auth = False
        deadline = time.monotonic() + 5
        while state.safe_owner is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _config(state) == mitigated and _file(state) == text, "the router undid the undo; the marker stays"
        assert not any("/file remove" in c for c in device.handle.commands[start:]), "not under Safe Mode"
        with connect(device) as driver:                   # a clean undo: released first, then the marker removed
            start = len(device.handle.received)
            assert routerfix.remove_ghostcall_mitigation(driver).complete
        sent = bytes(device.handle.received[start:])
        assert sent.index(b"/file remove") > sent.rindex(b"\x18"), "removed after the release (M78)"
        assert _file(state) is None
