"""Undo without a local record on Cisco IOS: the undo marker kept in the configuration as numbered base64 remarks
of the ACL ``routerfix-undo`` (docs/facts/cisco_ios.md F40-F43), over real SSH against the simulator.

Mitigate (SIP ALG turned off, the customer's PBX forward replaced), throw the state directory away, undo: the router
comes back exactly as it was, from the marker alone; the marker is saved with the change and comes back after a
reload. A rerun keeps the first marker. A marker that fails its checks is ignored with a warning (undo incomplete,
exit 9); a stale one is never replayed. Forward names with CLI metacharacters round-trip byte for byte."""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from routerfix.drivers.cisco_ios import parser as ios
from routerfix.simulators.cisco_ios.shell import IosRouter

import routerfix
from routerfix.cli.app import main
from routerfix.errors import ParseError
from routerfix.markers import MAX_MARKER_BYTES, encode_marker
from routerfix.planner import managed_view

from .conftest import cli_args, connect

ACL = "ip access-list standard routerfix-undo"
PBX = {"name": "nat-udp-192.168.1.10-5060", "protocol": "udp", "external_ports": "5060",
       "internal_address": "192.168.1.10", "internal_ports": "5060", "enabled": True, "wan_only": True, "ref": ""}
ODD = 'PBX $(x) "q"; [a] \\b'
"""A forward name holding what a shell or the IOS CLI could interpret."""



def _acl(router: IosRouter, config: list[Any] | None = None) -> list[str] | None:
    """The lines of the ACL routerfix-undo in ``config`` (running by default), None when absent."""
    entry = next((e for e in (router.running if config is None else config) if e[0] == ACL), None)
    return None if entry is None else list(entry[1])


def _held(router: IosRouter, config: list[Any] | None = None) -> dict[str, Any]:
    """The marker the ACL holds, decoded here (not through the driver)."""
    lines = _acl(router, config)
    assert lines, "no marker"
    chunks = dict(re.fullmatch(r"remark (\d+)/\d+/\d+ (\S+)", line).groups() for line in lines)  # type: ignore[union-attr]
    return dict(json.loads(base64.b64decode("".join(chunks[str(i)] for i in range(1, len(chunks) + 1)))))


def _plant(router: IosRouter, lines: list[str]) -> None:
    """Put an ACL routerfix-undo with ``lines`` in the running-config (what a person or a cut-off block left)."""
    with router.lock:
        router.running = [e for e in router.running if e[0] != ACL]
        router.add(ACL)[1].extend(lines)


def _remarks(text: str) -> list[str]:
    return list(ios.undo_lines(text))


def _shortened() -> list[str]:
    """A valid marker whose middle remark lost its last 4 characters: 3 bytes inside a long forward name, so the
    joined text is still base64 of a marker ``parse_marker`` accepts, with a name 3 characters shorter."""
    long_name = dict(PBX, name="P" * 150)
    lines = _remarks(encode_marker({"routerfix_undo_marker": 1, "complete": True, "nat_mode": None,
                                    "sip_alg": {"was": True, "set": False}, "forwards": [long_name],
                                    "reservations": []}))
    middle = next(i for i, x in enumerate(lines[:-1]) if x.endswith("UFBQ" * 20))  # base64 of "PPP"... only
    lines[middle] = lines[middle][:-4]
    return lines


def test_undo_from_the_marker_alone_restores_exactly(sim: Callable[..., Any], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with sim("cisco_ios", "pbx") as device:
        router = device.handle.router
        before = router.render()
        monkeypatch.setenv("ROUTERFIX_PASSWORD", device.password or "")
        state = tmp_path / "state"
        assert main(cli_args("mitigate", device, state, "--replace-conflicting")) == 0
        marker = _held(router)
        assert marker["complete"] is True and marker["sip_alg"] == {"was": True, "set": False}
        assert marker["forwards"] == [PBX], "the replaced forward, byte for byte"
        lines = _acl(router)
        assert lines and all(re.fullmatch(r"remark \d{1,3}/\d{1,3}/\d{1,5} [A-Za-z0-9+/=]{1,80}", x) for x in lines)
        assert all(len(x) - len("remark ") <= 100 for x in lines), "a longer remark is cut (F41)"
        assert _acl(router, router.startup) == lines, "saved with the change (write memory)"
        router.reload()                                        # a power cycle keeps it (F40)
        assert _acl(router) == lines
        # someone deletes one of routerfix's rules; the rerun puts it back and keeps the first marker (the PBX
        # forward it replaced stays in it: never overwritten with the mitigated state)
        assert router.remove("ip nat inside source static udp 192.168.1.198 5060 interface GigabitEthernet0/0 5060")
        assert main(cli_args("mitigate", device, state, "--replace-conflicting")) == 0
        assert _acl(router) == lines
        shutil.rmtree(state)                                   # AWX: the controller's files are gone
        assert main(cli_args("undo", device, state, "--json")) == 0
        assert router.render() == before, "not exactly as before"
        assert router.render(router.startup) == router.render(), "the undo is saved"
        assert main(cli_args("undo", device, state)) == 0          # nothing left to undo


def test_odd_names_round_trip_byte_for_byte_and_nothing_is_interpreted(sim: Callable[..., Any]) -> None:
    odd = dict(PBX, name=ODD)
    planted = {"routerfix_undo_marker": 1, "complete": True, "nat_mode": None,
               "sip_alg": {"was": True, "set": False}, "forwards": [odd], "reservations": []}
    with sim("cisco_ios", archive=False) as device:  # the verb alone would arm a revert timer nothing confirms
        router = device.handle.router
        with connect(device) as driver:
            assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
            driver.save_undo_marker(planted)
        typed = [c for c in device.handle.device.commands if c.startswith("remark ") and "/" in c.split()[1]]
        assert typed and all(re.fullmatch(r"remark \d+/\d+/\d+ [A-Za-z0-9+/=]+", c) for c in typed)
        assert _held(router)["forwards"][0]["name"] == ODD
        with connect(device) as driver:                        # a new session reads it back as saved
            state = driver.read_state()
            assert state.undo_marker is not None and state.undo_marker["forwards"][0]["name"] == ODD
            assert encode_marker(state.undo_marker) == encode_marker(planted)
            undone = routerfix.remove_ghostcall_mitigation(driver)
            assert undone.plan.extra["undo_from"] == "marker" and undone.complete
            assert any(repr(ODD) in w for w in undone.warnings), undone.warnings  # named as it was
            back = [f for f in driver.read_state().forwards if str(f.internal_address) == "192.168.1.10"]
            assert back and back[0].protocol.value == "udp", "the forward the marker held was put back"
        assert _acl(router) is None


@pytest.mark.parametrize("tamper", [
    pytest.param(lambda: _remarks(encode_marker({"routerfix_undo_marker": 1, "complete": True, "nat_mode": None,
                                                 "sip_alg": {"was": True, "set": False}, "forwards": [PBX],
                                                 "reservations": []}))[:-1], id="cut-off"),
    pytest.param(lambda: _remarks('{"routerfix_undo_marker":1,"complete":true,"nat_mode":null,"sip_alg":{"was":'
                                  '"on; reload","set":false},"forwards":[],"reservations":[]}'), id="bad-field"),
    pytest.param(lambda: ["remark 1/1 not;base64", "permit any"], id="not-remarks"),
    pytest.param(lambda: [*_remarks("{}"), "remark 1/1/4 e30="], id="duplicate"),
    pytest.param(_shortened, id="middle-remark-shortened"),
])
def test_a_tampered_marker_is_ignored_and_the_undo_says_it_is_incomplete(
        sim: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tamper: Callable[[], list[str]]) -> None:
    with sim("cisco_ios", "pbx") as device:
        router = device.handle.router
        monkeypatch.setenv("ROUTERFIX_PASSWORD", device.password or "")
        assert main(cli_args("mitigate", device, tmp_path / "a", "--replace-conflicting")) == 0
        _plant(router, tamper())
        capsys.readouterr()
        assert main(cli_args("undo", device, tmp_path / "b", "--json")) == 9
        out = json.loads(capsys.readouterr().out)
        assert out["complete"] is False and out["undo_from"] == "none"
        assert any("undo marker in the ACL routerfix-undo" in w and "ignored" in w for w in out["warnings"])
        assert "192.168.1.10 5060" not in router.render(), "nothing odd was trusted"
        assert _acl(router) is None


def _plant_stale(router: IosRouter) -> None:
    """A valid marker naming the PBX forward on a router without routerfix's rules."""
    _plant(router, _remarks(encode_marker({"routerfix_undo_marker": 1, "complete": True, "nat_mode": None,
                                           "sip_alg": None, "forwards": [PBX], "reservations": []})))


def test_a_stale_marker_is_never_replayed(sim: Callable[..., Any]) -> None:
    with sim("cisco_ios") as device:
        router = device.handle.router
        with connect(device) as driver:
            before = managed_view(driver.read_state())
        _plant_stale(router)
        with connect(device) as driver:
            undone = routerfix.remove_ghostcall_mitigation(driver)
            assert not undone.complete and any("stale" in w and PBX["name"] in w for w in undone.warnings)
            assert managed_view(driver.read_state()) == before, "the stale marker was replayed"
        assert _acl(router) is None
        _plant_stale(router)
        with connect(device) as driver:
            done = routerfix.apply_ghostcall_mitigation(driver)
            assert any("stale" in w for w in done.plan.warnings), done.plan.warnings
        assert _held(router)["forwards"] == [] and _held(router)["complete"] is False


def test_the_largest_marker_fits_remarks_of_at_most_100_characters() -> None:
    text = "{" + "x" * (MAX_MARKER_BYTES - 2) + "}"
    lines = ios.undo_lines(text)
    assert max(len(x) - len("remark ") for x in lines) <= 100 and len(lines) == 137
    assert ios.undo_text(list(lines)) == text
    assert ios.undo_text(list(reversed(lines))) == text, "the order IOS lists them in does not matter (F43)"
    with pytest.raises(ParseError):
        ios.undo_text([*lines[:-1], lines[-1][:-1] + "?"])   # a remark cut or changed is never read


def test_acl_lines_printed_with_sequence_numbers_read_as_without(sim: Callable[..., Any], tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """IOS-XE releases that print ` 10 remark …` in the running-config (F44): the marker and routerfix's rule
    remarks read the same, so a rerun changes nothing and the undo from the marker alone restores exactly."""
    with sim("cisco_ios", "pbx", acl_sequence=True) as device:
        router = device.handle.router
        before = router.render()
        monkeypatch.setenv("ROUTERFIX_PASSWORD", device.password or "")
        state = tmp_path / "state"
        assert main(cli_args("mitigate", device, state, "--replace-conflicting")) == 0
        running = router.render()
        assert re.search(r"^ 10 remark 1/\d+/\d+ ", running, re.M), "the knob prints no sequence numbers"
        assert re.search(r"^ 10 remark routerfix-sip-", running, re.M)
        sent = len(device.handle.device.commands)
        assert main(cli_args("mitigate", device, state, "--replace-conflicting")) == 0
        assert not any(c.startswith(("ip nat", "no ip nat", "remark", "ip access-list", "no ip access-list"))
                       for c in device.handle.device.commands[sent:]), "the rerun rewrote what it read back"
        shutil.rmtree(state)
        assert main(cli_args("undo", device, state)) == 0
        assert router.render() == before, "not exactly as before"
