"""OpenWrt ``uci`` takes one package per package command and exactly one tuple per section command (openwrt/uci
``cli.c``; docs/facts/openwrt.md): the simulator refuses anything else with the usage text and exit status 255,
and no command line the driver sends is refused that way (field report: ``uci changes network dhcp`` made every
reservation fail on real routers)."""

from __future__ import annotations

from typing import Any

import pytest
from routerfix.simulators.openwrt.device import make_router
from routerfix.simulators.openwrt.shell import OpenWrtSession

import routerfix

from .conftest import connect


def _run(line: str) -> tuple[str, int]:
    shell = OpenWrtSession(make_router())
    out = shell.execute(line)
    return out, shell.status


@pytest.mark.parametrize("line", [
    "uci changes network dhcp", "uci revert firewall dhcp", "uci show firewall dhcp", "uci export firewall dhcp",
    "uci commit firewall dhcp", "uci get dhcp.lan.start dhcp.lan.limit", "uci set a.b=c d.e=f",
    "uci add firewall", "uci add firewall redirect extra", "uci delete", "uci frobnicate firewall"])
def test_wrong_argument_counts_print_the_usage_and_exit_255(line: str) -> None:
    out, status = _run(line)
    assert status == 255
    assert out.startswith("Usage: uci [<options>] <command> [<arguments>]")


@pytest.mark.parametrize(("line", "status"), [
    ("uci", 0), ("uci help", 0), ("uci -Z show firewall", 0),  # getopt's default branch prints usage, exits 0
    ("uci changes", 0), ("uci changes dhcp", 0), ("uci -X show dhcp", 0), ("uci revert dhcp", 0),
    ("uci get dhcp.lan.start", 0), ("uci get dhcp.lan.start=5", 1), ("uci -q get dhcp.lan.nothing", 1),
    ("uci show nosuchpackage", 1)])
def test_accepted_forms(line: str, status: int) -> None:
    assert _run(line)[1] == status


def test_get_prints_the_value_and_missing_entries_say_so() -> None:
    assert _run("uci get dhcp.lan.start") == ("100\n", 0)
    assert _run("uci get dhcp.lan.nothing") == ("uci: Entry not found\n", 1)


@pytest.mark.parametrize("scenario", ["office", "pbx"])
def test_no_command_line_of_a_mitigation_and_undo_is_refused_by_uci(scenario: str, sim: Any) -> None:
    with sim("openwrt", scenario=scenario) as device:
        router = device.handle.router
        with connect(device) as driver:
            result = routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True)
            assert result.status == "mitigated", result.to_json()
            assert any(h.get("name") == "routerfix-sink" for h in
                       (s.options for s in router.committed["dhcp"] if s.type == "host"))
            assert routerfix.remove_ghostcall_mitigation(driver, record=result.to_dict()).status == "undone"
        assert router.usage_errors == []
        assert not router.staged and not router.changes


def test_restore_from_backup_sends_only_accepted_uci_lines(sim: Any) -> None:
    with sim("openwrt") as device, connect(device) as driver:
        backup = driver.backup()
        assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
        driver.restore(backup)
        assert device.handle.router.usage_errors == []
        assert not device.handle.router.changes


@pytest.mark.parametrize(("line", "status", "start"), [
    ("ifstatus", 1, "Usage: "), ("ifstatus nosuch", 1, "Interface nosuch not found"), ("ifstatus wan", 0, "{"),
    ("conntrack -D --dport 5060 -p udp", 2, "conntrack v"),
    ("conntrack -D -p udp --orig-dst 203.0.113.11 --dport 5060", 0, "conntrack v"),
    ("conntrack -D -p tcp --orig-dst 203.0.113.11 --dport 5061", 1, "conntrack v1.4.8 (conntrack-tools): 0 flow")])
def test_other_tools_argument_rules(line: str, status: int, start: str) -> None:
    out, got = _run(line)
    assert got == status and out.startswith(start)


def test_changes_staged_by_someone_else_after_planning_are_refused_before_any_commit(sim: Any) -> None:
    """The write hooks check ``uci changes`` as read with the backup, just before the writes (not as read when
    planning): a change another session stages while the candidates are probed is never committed by routerfix."""
    from routerfix.errors import DeviceError

    with sim("openwrt") as device, connect(device) as driver:
        router = device.handle.router
        committed = {p: [s.options for s in router.committed[p]] for p in ("firewall", "dhcp")}
        probe = driver.probe_address

        def probe_while_someone_stages(address: Any) -> bool:
            OpenWrtSession(router).execute("uci set firewall.@defaults[0].input='ACCEPT'")
            return probe(address)

        driver.probe_address = probe_while_someone_stages  # type: ignore[method-assign]
        with pytest.raises(DeviceError, match="uncommitted UCI changes"):
            routerfix.apply_ghostcall_mitigation(driver)
        assert {p: [s.options for s in router.committed[p]] for p in ("firewall", "dhcp")} == committed
        assert "input='ACCEPT'" in OpenWrtSession(router).execute("uci changes firewall"), "theirs, still staged"
