"""Putting a configuration back after a refused line leaves no residue, and the simulators keep the order the
devices generate (not the order lines were typed in). Regression tests for the last cells of the fault matrix
(RELIABILITY.md, item 1)."""

from __future__ import annotations

from typing import Any

from routerfix.drivers.cisco_ios.parser import MARKER_ACL, parse_running_config
from routerfix.simulators.cisco_ios.shell import IosSession

from .conftest import config_text, connect


def _type(session: Any, *lines: str) -> list[str]:
    return [session.execute(line) for line in lines]


def test_ios_sip_service_lines_show_in_one_order_whichever_was_typed_first(sim: Any) -> None:
    orders = []
    for first, second in (("udp", "tcp"), ("tcp", "udp")):
        with sim("cisco_ios") as device:
            session = IosSession(device.handle.router)
            _type(session, "configure terminal", f"no ip nat service sip {first} port 5060",
                  f"no ip nat service sip {second} port 5060", "end")
            text = device.handle.router.render()
            orders.append([line for line in text.splitlines() if "ip nat service sip" in line])
    assert orders[0] == orders[1] == ["no ip nat service sip tcp port 5060", "no ip nat service sip udp port 5060"]


def test_vyos_commit_keeps_the_tree_order(sim: Any) -> None:
    with sim("vyos") as device:
        router = device.handle.router
        tree_order = router.dialect.schema.canonical
        assert router.running == tree_order(router.running)
        with connect(device) as driver:  # deletes, then sets again, a path in the middle of the tree
            assert driver.get_sip_alg() is True
            driver.set_sip_alg(False)
            driver.set_sip_alg(True)
        assert router.running == tree_order(router.running)
        assert router.saved == router.running


def test_ios_parser_sees_an_empty_marker_acl() -> None:
    text = f"!\ninterface GigabitEthernet0/1\n ip address 192.168.1.1 255.255.255.0\n!\nip access-list standard " \
           f"{MARKER_ACL}\n!\nend\n"
    config = parse_running_config(text)
    assert config.marker_acl and config.marks == {}
    assert not parse_running_config(text.replace(MARKER_ACL, "OTHER")).marker_acl


def test_ios_restore_removes_an_empty_marker_acl_and_a_half_built_pool(sim: Any) -> None:
    with sim("cisco_ios") as device:
        router = device.handle.router
        with connect(device) as driver:
            backup = driver.backup()
            before = config_text("cisco_ios", device.handle)
            # what a refused line used to leave: the ACL without its remark, the pool without its host line
            _type(IosSession(router), "configure terminal", f"ip access-list standard {MARKER_ACL}", "exit",
                  "ip dhcp pool routerfix-sink", "hardware-address 0200.5ec0.5060", "exit", "end")
            assert config_text("cisco_ios", device.handle) != before
            driver._cached = None  # the residue was typed behind the driver's back: read again
            driver.restore(backup)
        assert config_text("cisco_ios", device.handle) == before
