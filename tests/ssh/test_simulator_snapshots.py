"""The simulators' configuration snapshots (MikroTik Safe Mode, OpenWrt staging and ``cp``, IOS revert archive and
startup, Linux nft's atomic scripts) are copied structurally, not by ``deepcopy``: each snapshot must stay fully
independent of later changes made in place, down to the innermost dict and list."""

from __future__ import annotations

import copy

import pytest
from routerfix.simulators.cisco_ios.shell import IosRouter, IosSession
from routerfix.simulators.linux.device import LinuxRouter, NftError
from routerfix.simulators.mikrotik.device import RouterOSShell, default_state
from routerfix.simulators.openwrt.shell import OpenWrtRouter, OpenWrtSession


def test_mikrotik_safe_mode_undo_puts_back_props_changed_in_place() -> None:
    state = default_state()
    before = copy.deepcopy(state.menus)
    state.take_safe_mode(RouterOSShell("admin", state))
    for items in state.menus.values():
        for item in items:
            item.props["comment"] = "changed"
            item.disabled = not item.disabled
    state.release_safe_mode(undo=True)
    assert {k: v for k, v in state.menus.items() if k != "file"} == {k: v for k, v in before.items() if k != "file"}


def test_ios_revert_archive_and_startup_keep_their_children() -> None:
    router = IosRouter()
    session = IosSession(router)
    shown = router.render()
    assert "Backing up" in session.execute("configure terminal revert timer 5")
    session.execute("end")
    session.execute("write memory")
    for _, children in router.running:
        children.append("description changed")
    router.fire_revert()
    assert router.render() == shown
    for _, children in router.running:
        children.clear()
    router.reload()
    assert router.render() == shown


def test_openwrt_staging_and_copies_leave_the_committed_package_alone() -> None:
    router = OpenWrtRouter()
    committed = copy.deepcopy(router.committed)
    session = OpenWrtSession(router)
    session.execute("mkdir -p /tmp/keep && cp /etc/config/firewall /tmp/keep/")
    for package in ("network", "dhcp", "firewall"):
        for section in router.writable(package):
            section.options["name"] = "changed"
            for value in section.options.values():
                if isinstance(value, list):
                    value.append("changed")
    assert router.committed == committed
    for section in router.copies["/tmp/keep/firewall"]:
        section.options.clear()
    assert router.committed == committed
    for section in router.active_firewall:
        section.options.clear()
    assert router.committed == committed


def test_linux_failed_nft_script_puts_back_sets_and_rules_changed_in_place() -> None:
    router = LinuxRouter()
    router.nft("add table inet t; add chain inet t c { type filter hook forward priority 0; policy accept; }; "
               "add set inet t s { type ipv4_addr; }; add element inet t s { 192.0.2.1 }; "
               "add rule inet t c udp dport 5060 accept")
    before = copy.deepcopy(router.tables)
    with pytest.raises(NftError):
        router.nft("add element inet t s { 192.0.2.2 }; frobnicate")
    assert router.tables == before
    saved = [t.copy() for t in router.tables]
    for t in router.tables:
        for s in t.sets.values():
            s["elements"].append("198.51.100.1")
        for c in t.chains.values():
            c.base["policy"] = "drop"
            for rule in c.rules:
                rule["expr"][0]["match"]["right"] = 5061
    router.tables = saved
    assert router.tables == before
