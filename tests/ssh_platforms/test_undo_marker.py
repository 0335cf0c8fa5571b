"""Undo without a local record: the undo marker routerfix keeps on a Linux or OpenWrt router (docs/facts/openwrt.md
rows 38, 39, 43, 44, docs/facts/linux.md L48-L51), over real SSH against the simulators.

Mitigate (SIP ALG turned off, a customer's SIP forward replaced), throw the state directory away (an AWX job),
undo: the router comes back exactly as it was, from the marker alone. A rerun keeps the first marker. A marker that
fails its checks is ignored with a warning, and the undo says it is incomplete (exit 9)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from routerfix.simulators.openwrt.shell import OpenWrtSession

import routerfix
from routerfix.cli.app import main
from routerfix.model import DeviceState
from routerfix.planner import managed_view
from routerfix.simulate import SimulatedDevice

from .conftest import cli_args, config_text, connect

OPENWRT_MARKER = "/etc/routerfix/undo.json"
KEEP = "/lib/upgrade/keep.d/routerfix"
LINUX_MARKER = "/var/lib/routerfix/undo.json"
PBX = {"name": "PBX", "protocol": "udp", "external_ports": "5060", "internal_address": "192.168.1.10",
       "internal_ports": "5060", "enabled": True, "wan_only": True, "ref": ""}


def _sections(text: str) -> list[str]:
    """The exported UCI sections but the PBX redirect, in no order (a forward put back is written the way the
    driver writes its rules: compared through the driver's read instead)."""
    return sorted(b.strip() for b in text.split("\n\n") if b.strip() and "option name 'PBX'" not in b)



def test_openwrt_undo_from_the_marker_alone_restores_exactly(sim: Callable[..., Any], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with sim("openwrt", "pbx") as device:
        router = device.handle.router
        before = config_text("openwrt", device.handle)
        with connect(device) as driver:
            managed = managed_view(driver.read_state())
        monkeypatch.setenv("ROUTERFIX_PASSWORD", device.password or "")
        state = tmp_path / "state"
        assert main(cli_args("mitigate", device, state, "--replace-conflicting")) == 0
        text, mode = router.disk[OPENWRT_MARKER]
        assert mode == 0o600 and not any(p.endswith(".tmp") for p in router.disk)
        assert router.disk[KEEP][0].split() == ["/etc/routerfix/", KEEP], "kept by a sysupgrade (row 39)"
        marker = json.loads(text)
        assert marker["complete"] is True and marker["sip_alg"] == {"was": True, "set": False}
        assert marker["forwards"] == [PBX], "the replaced forward, byte for byte"
        # someone deletes routerfix's redirect; the rerun puts it back and keeps the first marker (the PBX forward
        # it replaced stays in it: never overwritten with the mitigated state)
        OpenWrtSession(router).execute("uci delete firewall.routerfix_sip && uci commit firewall")
        assert main(cli_args("mitigate", device, state, "--replace-conflicting")) == 0
        assert router.disk[OPENWRT_MARKER] == (text, 0o600)
        shutil.rmtree(state)                                   # AWX: the controller's files are gone
        assert main(cli_args("undo", device, state, "--json")) == 0
        assert _sections(config_text("openwrt", device.handle)) == _sections(before)
        with connect(device) as driver:
            assert managed_view(driver.read_state()) == managed
        assert OPENWRT_MARKER not in router.disk and KEEP not in router.disk, "a completed undo clears the marker"
        assert main(cli_args("undo", device, state)) == 0          # nothing left to undo


def test_linux_undo_from_the_marker_alone(sim: Callable[..., Any], tmp_path: Path) -> None:
    with sim("linux", "lab") as device:
        router = device.handle.model
        router.nft('add rule ip nat prerouting iifname "wan0" udp dport 5060 dnat to 192.168.88.10 comment "PBX"')
        with connect(device) as driver:
            before = driver.read_state()
            done = routerfix.apply_ghostcall_mitigation(driver, state_dir=tmp_path, replace_conflicting=True)
            assert done.applied[0] == "save the undo marker on the device"
            assert router.modes[LINUX_MARKER] == 0o600
            assert json.loads(router.files[LINUX_MARKER])["forwards"][0]["name"] == "PBX"
            undone = routerfix.remove_ghostcall_mitigation(driver)   # no record, no state directory
            assert undone.complete and undone.plan.extra["undo_from"] == "marker"
            assert managed_view(driver.read_state()) == managed_view(before)
        assert LINUX_MARKER not in router.files


@pytest.mark.parametrize("tamper", [
    pytest.param('{"routerfix_undo_marker":1,"complete":true,"nat_mode":null,"sip_alg":{"was":"on; reboot",'
                 '"set":false},"forwards":[],"reservations":[]}', id="bad-field"),
    pytest.param('{"routerfix_undo_marker":1,"complete":true,"x":"' + "A" * 9000 + '"}', id="oversized"),
    pytest.param('{"routerfix_undo_marker":1,"complete":true,"nat_mode":null,"sip_alg":null,"forwards":[{"name":"PBX",'
                 '"protocol":"tcp","external_ports":"22","internal_address":"192.168.1.10","internal_ports":"22",'
                 '"enabled":true,"wan_only":true}],"reservations":[]}', id="not-a-sip-forward"),
    pytest.param('{"routerfix_undo_marker":1,"complete":true,"nat_mode":null,"sip_alg":null,"forwards":[],'
                 '"reservations":[{"address":"192.168.1.20","mac":"00:11:22:33:44:55","name":"x"}]}',
                 id="a-reservation"),
])
def test_a_tampered_marker_is_ignored_and_the_undo_says_it_is_incomplete(
        sim: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tamper: str) -> None:
    with sim("openwrt", "pbx") as device:
        router = device.handle.router
        monkeypatch.setenv("ROUTERFIX_PASSWORD", device.password or "")
        assert main(cli_args("mitigate", device, tmp_path / "a", "--replace-conflicting")) == 0
        router.disk[OPENWRT_MARKER] = (tamper, 0o600)
        capsys.readouterr()
        assert main(cli_args("undo", device, tmp_path / "b", "--json")) == 9
        out = json.loads(capsys.readouterr().out)
        assert out["complete"] is False and out["undo_from"] == "none"
        assert any("undo marker /etc/routerfix/undo.json" in w and "ignored" in w for w in out["warnings"])
        assert "PBX" not in config_text("openwrt", device.handle), "nothing odd was trusted"
        assert OPENWRT_MARKER not in router.disk


def _plant_stale_marker(device: SimulatedDevice) -> DeviceState:
    """A marker naming the PBX forward on a Linux router without routerfix's rules; the router's state as read."""
    with connect(device) as driver:
        before = driver.read_state()
    router = device.handle.model
    router.files[LINUX_MARKER] = json.dumps({"routerfix_undo_marker": 1, "complete": True, "nat_mode": None,
                                             "sip_alg": None, "forwards": [PBX], "reservations": []})
    router.modes[LINUX_MARKER] = 0o600
    return before


def test_a_stale_marker_is_replaced_not_replayed(sim: Callable[..., Any], tmp_path: Path) -> None:
    """A marker left on a router whose routerfix rules are gone (removed by hand, a reset, a self-revert) describes
    another time: the next mitigation starts a new one, and an undo from it never brings back the PBX forward the
    old marker names (the customer may have removed it since) — and says so: what the old marker held is named, and
    the undo is reported incomplete (the admin may also have removed routerfix's rule by hand with PBX still
    replaced: only a person can tell)."""
    with sim("linux", "lab") as device:
        router = device.handle.model
        before = _plant_stale_marker(device)
        with connect(device) as driver:
            done = routerfix.apply_ghostcall_mitigation(driver)
            assert any("stale" in w and "'PBX'" in w for w in done.plan.warnings), done.plan.warnings
            marker = json.loads(router.files[LINUX_MARKER])
            assert marker["forwards"] == [] and marker["complete"] is False, "the stale marker was kept"
            undone = routerfix.remove_ghostcall_mitigation(driver)   # no record: from the marker
            assert undone.plan.extra["undo_from"] == "marker" and not undone.complete
            assert managed_view(driver.read_state()) == managed_view(before), "the old PBX forward came back"


def test_undo_does_not_replay_a_stale_marker(sim: Callable[..., Any]) -> None:
    """The router shows none of routerfix's rules but still holds a marker (a self-revert put the router back; the
    customer then removed their PBX forward): undo replays nothing, clears the marker, and says what it held."""
    with sim("linux", "lab") as device:
        router = device.handle.model
        before = _plant_stale_marker(device)
        with connect(device) as driver:
            undone = routerfix.remove_ghostcall_mitigation(driver)
            assert not undone.complete and any("stale" in w and "'PBX'" in w for w in undone.warnings)
            assert managed_view(driver.read_state()) == managed_view(before), "the stale marker was replayed"
        assert LINUX_MARKER not in router.files


def test_saving_the_marker_leaves_the_session_umask_alone(sim: Callable[..., Any]) -> None:
    """The marker is made 0600 with ``chmod`` (L49): a ``umask 077`` would stay set for the rest of the session, and
    a hostsfile the run creates afterwards would be 0600 — unreadable to dnsmasq, which runs as its own user."""
    with sim("linux", "lab") as device:
        router = device.handle.model
        hostsfile = "/etc/dnsmasq.hosts"
        with router.lock:
            router.files.pop(hostsfile, None)
            router.modes.pop(hostsfile, None)
        with connect(device, self_revert="false") as driver:  # the timer would copy the (absent) hostsfile first
            done = routerfix.apply_ghostcall_mitigation(driver)
        assert done.applied[0] == "save the undo marker on the device"
        assert router.modes[LINUX_MARKER] == 0o600
        assert hostsfile in router.files and router.modes[hostsfile] == 0o644, router.modes.get(hostsfile)
