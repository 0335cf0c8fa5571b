"""Item 3a: malformed addresses, ports, ranges, names and descriptions are refused before any device I/O.

Each driver is connected to its simulator (login and reads happen), the simulator's recorders are marked, then
every bad value is pushed through the public API: model constructors, the driver's write verbs, mitigation
options and driver options. Every attempt must raise :class:`routerfix.InvalidValue`, and the simulator must have
received nothing after the mark: no command line, no request, not one byte.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost

import routerfix
from routerfix import InvalidValue, PortForward, Reservation

from .faults import FAST, fresh_device, open_driver, ssh_device
from .recorders import Mark, operations_since
from .targets import ALL_TARGETS, Target

BAD_NAMES = [
    "sip\nreboot", "sip\rreboot", "a;reboot", "a[find]", 'a"b', "a'b", "<b>x</b>", "<script>alert(1)</script>",
    "$(reboot)", "`id`", "a|b", "a&b", "a>b", "a b", "-rf", "rоuterfix-sip", "routerfix\u200b-sip", "ｒouterfix",
    "sip\x00", "x" * 31, "", "名前", "a\\b", "a{b}", "a%0ab", "a$b", "a*b",
]
BAD_ADDRESSES = ["192.168.1.300", "192.168.1.1; reboot", "192.168.1.1 && id", "1.2.3", "::1", "192.168.01.1",
                 "１９２.168.1.1", "192.168.1.1/24", "0x7f.0.0.1", "", "localhost", "192.168.1.1\x00"]
BAD_PORTS: list[Any] = [0, 65536, -1, 5060.0, True, "5060;", "5060-", "5061-5060", "5060 5061", "５０６０", "0x13c4",
                        "5060\n5061", "1-70000", None]
BAD_PROTOCOLS = ["tcp;", "icmp", "t\ncp", "ｔcp", ""]
BAD_MACS = ["02:00:5e:c0:50:6g", "02:00:5e:c0:50:60;", "02:00:5e:c0:50", "０2:00:5e:c0:50:60", "zz"]
BAD_SINKS = ["192.168.1.250; reboot", "192.168.1.250\nreboot", "<b>", "1.2.3.4.5", "", "１９２.168.1.250"]
GOOD_ADDR = "192.168.1.250"


def _attempts(driver: routerfix.Driver) -> list[tuple[str, Callable[[], Any]]]:
    """Every bad value, each as a call that must raise InvalidValue."""
    calls: list[tuple[str, Callable[[], Any]]] = []
    for name in BAD_NAMES:
        calls.append((f"forward name {name!r}", lambda n=name: driver.add_port_forward(
            PortForward(n, "udp", 5060, GOOD_ADDR))))
        calls.append((f"reservation name {name!r}", lambda n=name: driver.reserve_address(
            Reservation(GOOD_ADDR, "02:00:5e:c0:50:60", n))))
    for address in BAD_ADDRESSES:
        calls.append((f"forward address {address!r}", lambda a=address: driver.add_port_forward(
            PortForward("routerfix-sip", "udp", 5060, a))))
        calls.append((f"reservation address {address!r}", lambda a=address: driver.reserve_address(
            Reservation(a, "02:00:5e:c0:50:60", "routerfix-sink"))))
    for port in BAD_PORTS:
        calls.append((f"external port {port!r}", lambda p=port: driver.add_port_forward(
            PortForward("routerfix-sip", "udp", p, GOOD_ADDR))))
        calls.append((f"internal port {port!r}", lambda p=port: driver.add_port_forward(
            PortForward("routerfix-sip", "udp", 5060, GOOD_ADDR, internal_ports=p if p is not None else "x"))))
        calls.append((f"flush port {port!r}", lambda p=port: driver.flush_connections([p])))
    calls.append(("internal range longer than external", lambda: driver.add_port_forward(
        PortForward("routerfix-sip", "udp", 5060, GOOD_ADDR, internal_ports="5060-5062"))))
    for proto in BAD_PROTOCOLS:
        calls.append((f"protocol {proto!r}", lambda p=proto: driver.add_port_forward(
            PortForward("routerfix-sip", p, 5060, GOOD_ADDR))))
    for mac in BAD_MACS:
        calls.append((f"mac {mac!r}", lambda m=mac: driver.reserve_address(
            Reservation(GOOD_ADDR, m, "routerfix-sink"))))
    for sink in BAD_SINKS:
        calls.append((f"sink {sink!r}", lambda s=sink: routerfix.apply_ghostcall_mitigation(driver, sink=s)))
    calls.append(("nat mode", lambda: driver.set_nat_mode("open; reboot")))
    calls.append(("sip alg", lambda: driver.set_sip_alg("off; reboot")))  # type: ignore[arg-type]
    calls.append(("not wan-only", lambda: driver.add_port_forward(
        PortForward("routerfix-sip", "udp", 5060, GOOD_ADDR, wan_only=False))))
    calls.append(("unknown mitigation option", lambda: routerfix.apply_ghostcall_mitigation(driver, reboot=True)))
    calls.append(("max_probes", lambda: routerfix.apply_ghostcall_mitigation(driver, max_probes="8; reboot")))
    return calls


@pytest.mark.parametrize("target", [t for t in ALL_TARGETS if t.kind != "memory"], ids=str)
def test_bad_values_never_reach_the_device(target: Target, ssh_host: SSHSimulatorHost) -> None:
    with fresh_device(target, ssh_host) as device, open_driver(target, device) as driver:
        mark = Mark(target, device)
        received = len(ssh_device(device).received) if target.kind == "ssh" else 0
        accepted = []
        for label, call in _attempts(driver):
            try:
                call()
            except InvalidValue:
                continue
            except Exception as exc:  # noqa: BLE001 - reported below
                accepted.append(f"{label}: {type(exc).__name__}: {exc}")
                continue
            accepted.append(f"{label}: accepted")
        assert not accepted, "bad values not refused as InvalidValue:\n" + "\n".join(accepted)
        assert operations_since(mark) == []
        if target.kind == "ssh":
            assert bytes(ssh_device(device).received[received:]) == b"", "bytes reached the SSH simulator"
        assert driver.writes == 0


def test_the_recorder_would_see_a_write(ssh_host: SSHSimulatorHost) -> None:
    """The proof above can fail: a valid write after the mark is recorded, bytes and command."""
    target = next(t for t in ALL_TARGETS if t.id == "mikrotik-v7")
    with fresh_device(target, ssh_host) as device, open_driver(target, device) as driver:
        mark = Mark(target, device)
        before = len(ssh_device(device).received)
        driver.add_port_forward(PortForward("routerfix-sip-udp", "udp", 5060, "192.168.88.250"))
        assert operations_since(mark) and len(ssh_device(device).received) > before


SSH_OPTIONS = {
    "mikrotik": {"wan_list": ["WAN; /system reboot", "WAN\n/system reboot", 'W"AN', "[find]"]},
    "linux": {"wan_interface": ["eth0; reboot", "eth0\nreboot", "$(id)", "eth0 eth1"],
              "lan_interface": ["br-lan;id", "`id`"],
              "dnsmasq_hostsfile": ["relative/path", "/etc/a\nb", "/etc/a\x00b"],
              "dnsmasq_leases": ["x", "/a\rb"],
              "dnsmasq_pid": ["812; reboot", "-1", "abc"]},
}


@pytest.mark.parametrize(("driver_name", "option", "value"),
                         [(d, o, v) for d, opts in SSH_OPTIONS.items() for o, vs in opts.items() for v in vs])
def test_bad_driver_options_refused_before_connecting(driver_name: str, option: str, value: str,
                                                      ssh_host: SSHSimulatorHost) -> None:
    target = next(t for t in ALL_TARGETS if t.driver == driver_name)
    with fresh_device(target, ssh_host) as device:
        logins = ssh_device(device).auth_attempts
        with pytest.raises(InvalidValue):
            routerfix.connect(driver_name, device.host, timeouts=FAST, **{**device.connect_options(), option: value})
        assert ssh_device(device).auth_attempts == logins and ssh_device(device).received == bytearray()


def test_odd_paths_travel_only_shell_quoted(ssh_host: SSHSimulatorHost) -> None:
    """Absolute paths are allowed to hold shell metacharacters (they are file names), but they only ever reach
    the shell inside single quotes."""
    target = next(t for t in ALL_TARGETS if t.driver == "linux")
    odd = "/tmp/x; touch /pwned $(id)"
    with fresh_device(target, ssh_host) as device:
        with open_driver(target, device, dnsmasq_hostsfile=odd, dnsmasq_leases=odd) as driver:
            routerfix.plan_ghostcall_mitigation(driver)
        lines = [c for c in ssh_device(device).commands if "pwned" in c]
        assert lines
        for line in lines:
            assert line.count(odd) == line.count(f"'{odd}'"), line
