"""The ghost-call lab: a real SIP scan through a real Linux router, before and after routerfix.

Each test starts from the router's baseline (``fresh_open`` or ``reset_router``), so they do not depend on
each other's order. The numbers go into the report printed at the end of the run.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import netlab
import pytest
from netlab import WAN_ADDR, Lab, report

# One worker runs every lab test (pytest-xdist --dist loadgroup): the lab is a session fixture, built once per
# process, and its router clears the host's /tmp/routerfix-capture-* (a netns shares the host's files).
pytestmark = [pytest.mark.usefixtures("lab_prerequisites"), pytest.mark.xdist_group("lab")]

SCAN_WINDOW = 4.0
"""Seconds the in-flight INVITE scan keeps going after routerfix returns (it must reach nobody)."""


def describe(counters: netlab.Counters, log: netlab.PhoneLog) -> str:
    return (f"attacker packets at the phone {counters.attacker} (udp {counters.attacker_udp}, tcp "
            f"{counters.attacker_tcp}), rings {len(log.rings)}, registrations {log.registered}, provider OPTIONS "
            f"answered {log.qualified}")


def probe_from_attacker(lab: Lab) -> tuple[int, dict[str, Any]]:
    """``routerfix probe WAN --json`` from the attacker's namespace: (exit code, parsed output). Uses the installed
    ``routerfix`` command where there is one, else ``python -m routerfix.cli.probe``."""
    command = Path(netlab.PYTHON).parent / "routerfix"
    argv = [str(command), "probe"] if command.exists() else [netlab.PYTHON, "-m", "routerfix.cli.probe"]
    done = lab.run("atk", [*argv, WAN_ADDR, "--json", "--timeout", "1.5"], timeout=20, check=False)
    return done.returncode, json.loads(done.stdout)


def assert_mitigated(result: dict[str, Any]) -> str:
    assert result.get("status") == "mitigated", result
    sink = result["plan"]["sink"] if "plan" in result else result.get("sink")
    assert sink, result
    return str(sink)


def test_open_nat_without_fix_the_scan_rings_the_phone(fresh_open: Lab) -> None:
    lab = fresh_open
    c0, l0 = lab.counters(), lab.phone_log()
    scan = lab.full_scan()
    time.sleep(1.0)  # the phone's 486 follows its 180 by 0.8 s; let the last INVITE finish before counting
    seen, log = lab.counters() - c0, lab.phone_log() - l0
    report(f"[1] open NAT, no fix, full scan: {describe(seen, log)}; rang for {[r[:40] for r in log.rings]}")
    assert seen.attacker_udp > 0, f"no scan packet reached the phone: the lab cannot show anything\n{scan}"
    assert len(log.rings) >= 2, f"the phone did not ring: {log}"
    assert any('"1000"' in r for r in log.rings), log.rings
    assert "routerfix-lab-phone" in scan["svmap"], scan["svmap"]
    assert log.registered >= 2 and log.provider_qualify_ok >= 2
    # without a reservation, dnsmasq gives a new device the address it asks for when that one is free: the top of
    # the pool, where a driver would put its sink, is not protected by being unused
    given = lab.new_dhcp_client(request=netlab.POOL_LAST)
    report(f"[1] without the fix, a new DHCP client asking for {netlab.POOL_LAST} got {given}")
    assert given == netlab.POOL_LAST


def test_probe_from_the_attacker_before_and_after_the_fix(driver_reads_open_nat: None, fresh_open: Lab) -> None:
    lab = fresh_open
    code, before = probe_from_attacker(lab)
    answered = [a for a in before["answers"] if a["answered"]]
    assert code == 1, before
    assert [(a["transport"], a["port"]) for a in answered] == [("udp", 5060)], before
    assert answered[0]["user_agent"] == "routerfix-lab-phone (sipp)"
    result = lab.routerfix("apply")
    assert_mitigated(result)
    code, after = probe_from_attacker(lab)
    report(f"[5] routerfix probe {WAN_ADDR} from the attacker: before the fix exit 1 "
           f"(UDP 5060 answered, User-Agent {answered[0]['user_agent']!r}); after exit {code} "
           f"({', '.join(a['transport'] + '/' + str(a['port']) + ' ' + a['state'] for a in after['answers'])})")
    assert code == 0, after
    assert not after["answered"]


def test_probe_from_the_attacker_sees_the_phone_before_any_fix(fresh_open: Lab) -> None:
    """Test 5's first half without the driver: the probe finds the phone through open NAT."""
    code, before = probe_from_attacker(fresh_open)
    assert code == 1, before
    assert any(a["answered"] and a["user_agent"] == "routerfix-lab-phone (sipp)" for a in before["answers"])


@pytest.mark.parametrize("guard", [False, True], ids=["flush-only", "flush-and-reply-guard"])
def test_reference_fix_during_a_scan_needs_the_reply_guard(fresh_open: Lab, guard: bool) -> None:
    """The in-flight scan, shown with the fix written by hand: with a 1 INVITE/s scan in flight, a forward plus
    one conntrack flush is not enough (the phone's late 486 opens a flow the scanner rides back in); the reply
    guard of :func:`netlab.reference_fix` closes that. This is what test (2) holds the linux driver to."""
    lab = fresh_open
    l0 = lab.phone_log()
    scanner = lab.attacker_invite(calls=40, rate=1, timeout=30, background=True)
    assert isinstance(scanner, netlab.Proc)
    with netlab.background(scanner, timeout=1):
        netlab.wait_for("the scan to ring the phone", lambda: len((lab.phone_log() - l0).rings) >= 2, 10)
        lab.apply_reference_fix(guard=guard)
        c1, l1 = lab.counters(), lab.phone_log()
        time.sleep(SCAN_WINDOW)
        scanner.stop()
    seen, log = lab.counters() - c1, lab.phone_log() - l1
    report(f"[8] hand-written fix during a 1 INVITE/s scan, {'flush + reply guard' if guard else 'flush only'}: "
           f"{describe(seen, log)} in the {SCAN_WINDOW:.0f} s after it")
    if guard:
        assert seen.attacker == 0 and not log.rings, f"{seen} {log.rings}\n{lab.conntrack()}"
    else:
        assert seen.attacker > 0 and log.rings, "the in-flight scan did not get through a flush-only fix: the lab " \
                                                "no longer reproduces the late-reply flow, so test (2) proves less"
    assert log.registered >= 1 and log.provider_qualify_ok >= 1


def test_mitigation_over_ssh_while_a_scan_is_running(driver_reads_open_nat: None, fresh_open: Lab) -> None:
    lab = fresh_open
    c0, l0 = lab.counters(), lab.phone_log()
    scanner = lab.attacker_invite(calls=60, rate=1, timeout=40, background=True)
    assert isinstance(scanner, netlab.Proc)
    with netlab.background(scanner, timeout=1):
        netlab.wait_for("the in-flight scan to ring the phone", lambda: len((lab.phone_log() - l0).rings) >= 2, 10)
        rung_before = len((lab.phone_log() - l0).rings)
        started = time.monotonic()
        result = lab.routerfix("apply")
        c1, l1 = lab.counters(), lab.phone_log()
        apply_seconds = time.monotonic() - started
        sink = assert_mitigated(result)
        time.sleep(SCAN_WINDOW)  # the scan goes on; every INVITE of it must now go to the sink
        scanner.stop()
    in_flight, in_flight_log = lab.counters() - c1, lab.phone_log() - l1
    scan = lab.full_scan()
    time.sleep(1.0)
    seen, log = lab.counters() - c1, lab.phone_log() - l1
    new_client = lab.new_dhcp_client(request=sink)
    report(f"[2] open NAT, routerfix apply over SSH during a 1 INVITE/s scan: {rung_before} rings before, apply took "
           f"{apply_seconds:.1f} s (sink {sink}); afterwards (in-flight scan {SCAN_WINDOW:.0f} s + full scan): "
           f"{describe(seen, log)}; a new DHCP client asking for {sink} got {new_client}")
    assert in_flight.attacker == 0 and not in_flight_log.rings, (
        f"the in-flight scan still reached the phone after routerfix returned: {in_flight}, rings "
        f"{in_flight_log.rings}\n{lab.conntrack()}")
    assert seen.attacker_udp == 0 and seen.attacker_tcp == 0, f"{seen}\n{scan}\n{lab.conntrack()}"
    assert log.rings == [], log.rings
    assert log.registered >= 3 and log.qualified >= 3 and log.provider_qualify_ok >= 3, log
    assert "routerfix-lab-phone" not in scan["svmap"], scan["svmap"]
    assert new_client != sink
    assert c1 - c0 != netlab.Counters(), "the scan never reached the phone before the fix"


CAPTURE_SECONDS = 5
"""Each live capture of test (9): at least two registration cycles and several scan INVITEs."""


def _seen(data: dict[str, Any], kept: Path) -> str:
    """What a failing diagnose saw: its verdict, each scanner's targets and sample requests, and every packet of the
    kept capture files (tcpdump's one-line summary), so that a failure in CI says which request went where."""
    lines = [f"verdict {data['verdict']}: {data['summary']}", f"classes {data['classes']}"]
    lines += [f"scanner {s['address']}: reached {s['reached']}, blocked {s['blocked']}, targets {s['targets']}, "
              f"methods {s['methods']}, samples {s['samples']}" for s in data["scanners"]]
    for pcap in sorted(kept.glob("*.pcap")):
        listing = subprocess.run(["tcpdump", "-nn", "-tttt", "-r", str(pcap)], capture_output=True,
                                 text=True, timeout=30, check=False)
        lines += [f"== {pcap.name}", *listing.stdout.splitlines()[:200]]
    return "\n".join(lines)


def test_diagnose_captures_live_on_the_router_before_and_after_the_fix(driver_reads_open_nat: None,
                                                                       fresh_open: Lab) -> None:
    """``routerfix diagnose --capture`` through the linux driver while a scan runs: the router's own tcpdump on
    wan0 and br-lan. Before the fix the INVITEs reach the phone (exit 7); after ``apply`` they arrive on the WAN and
    go nowhere (exit 0). Nothing of the capture stays on the router."""
    lab = fresh_open
    scanner = lab.attacker_invite(calls=60, rate=2, timeout=40, background=True)
    assert isinstance(scanner, netlab.Proc)
    l0 = lab.phone_log()
    with netlab.background(scanner, timeout=1):
        netlab.wait_for("the scan to ring the phone", lambda: len((lab.phone_log() - l0).rings) >= 1, 10)
        started = time.monotonic()
        code_before, before = lab.diagnose_capture(CAPTURE_SECONDS)
        before_seconds = time.monotonic() - started
        result = lab.routerfix("apply")
        assert_mitigated(result)
        started = time.monotonic()
        kept = lab.dir / "diagnose-after"  # the pcaps are kept: a failure below lists what each side saw
        code_after, after = lab.diagnose_capture(CAPTURE_SECONDS, "--mitigated", "--save-capture", str(kept))
        after_seconds = time.monotonic() - started
        scanner.stop()
    undone = lab.routerfix("undo")
    left = sorted(Path("/tmp").glob("routerfix-capture-*"))  # the router's /tmp is this host's (netns only)

    def sides(data: dict[str, Any]) -> str:
        return ", ".join(f"{s['interface']} {s['note'] or s['bytes']}" for s in data["capture"]["sides"])

    report(f"[9] routerfix diagnose --capture {CAPTURE_SECONDS} on the router during a 2 INVITE/s scan: before the fix "
           f"exit {code_before} {before['verdict']} ({sides(before)}; {before_seconds:.1f} s), after apply exit "
           f"{code_after} {after['verdict']} ({sides(after)}; {after_seconds:.1f} s); capture files left on the "
           f"router: {len(left)}; undo {undone['status']}")
    assert (code_before, before["verdict"]) == (7, "scan-reaching-phone"), before
    assert netlab.ATTACKER_ADDR in [s["address"] for s in before["scanners"]], before["scanners"]
    assert netlab.PROVIDER_ADDR in before["site"]["providers"], before["site"]
    assert (code_after, after["verdict"]) == (0, "scan-arriving-blocked"), _seen(after, kept)
    assert after["classes"].get("scan-arriving-blocked", 0) > 0 and not after["classes"].get("scan-reaching-phone")
    for data in (before, after):
        assert data["capture"]["removed_from_device"] is True, data["capture"]
        assert [s["interface"] for s in data["capture"]["sides"]] == ["wan0", "br-lan"], data["capture"]
    assert not left, left
    assert undone["status"] == "undone", undone


def test_second_run_changes_nothing_and_undo_restores_the_router(driver_reads_open_nat: None, fresh_open: Lab) -> None:
    lab = fresh_open
    ruleset, reservations = lab.ruleset(), lab.reservations()
    first = lab.routerfix("apply")
    sink = assert_mitigated(first)
    mitigated_ruleset, mitigated_reservations = lab.ruleset(), lab.reservations()
    marker = lab.dir / "undo-marker.json"   # the router's undo marker (lanhost.py points it here)
    assert marker.stat().st_mode & 0o777 == 0o600 and json.loads(marker.read_text())["complete"] is True
    assert mitigated_ruleset != ruleset
    assert any(sink in line for line in mitigated_reservations), mitigated_reservations
    second = lab.routerfix("apply")
    assert second["status"] == "unchanged" and second["changed"] is False, second
    assert second["_writes"] == 0, second
    assert lab.ruleset() == mitigated_ruleset and lab.reservations() == mitigated_reservations
    undone = lab.routerfix("undo")
    assert undone["status"] == "undone", undone
    assert lab.ruleset() == ruleset, "undo did not restore the router's ruleset"
    assert lab.reservations() == reservations, "undo did not restore the DHCP reservations"
    assert not marker.exists(), "the completed undo left its marker on the router"
    again = lab.routerfix("undo")
    assert again["status"] == "nothing_to_undo" and again["changed"] is False, again
    report(f"[3] second apply: status {second['status']}, {second['_writes']} writes, "
           f"{second['_seconds']:.1f} s; undo: ruleset and reservations identical to before "
           f"({len(reservations)} reservation(s)); second undo: {again['status']}")


def test_static_squatter_at_the_top_of_the_pool_is_probed_and_skipped(driver_reads_open_nat: None,
                                                                     fresh_open: Lab) -> None:
    """A static squatter with real parts: a device set by hand to the top of the pool has no lease and no neighbour
    entry on the router, so only the driver's ARP probe (the router's real busybox/iputils ``arping -D`` over SSH)
    can see it. The sink must be another address, and the attacker's SIP must never reach the squatter."""
    lab = fresh_open
    squatter = netlab.POOL_LAST
    with lab.static_squatter(squatter) as role:
        leases = lab.leasefile.read_text()
        neigh = lab.run("router", ["ip", "-4", "neigh", "show", squatter]).stdout.strip()
        assert squatter not in leases and not neigh, (leases, neigh)
        answer = lab.run("router", ["busybox", "arping", "-D", "-c", "2", "-w", "2", "-I", "br-lan", squatter],
                         check=False)
        assert answer.returncode == 1 and "Received 1 response(s)" in answer.stdout, answer.stdout
        started = time.monotonic()
        result = lab.routerfix("apply")
        apply_seconds = time.monotonic() - started
        sink = assert_mitigated(result)
        assert sink != squatter, result
        assert f"skipped {squatter}: something answered there" in result["sink_reason"], result["sink_reason"]
        assert any(squatter in w and "answered" in w for w in result["warnings"]), result["warnings"]
        assert ipaddress.ip_address(sink) in ipaddress.ip_network(netlab.LAN_NET)
        before = lab.squatter_counters(role)
        started = time.monotonic()
        tcp: dict[int, str] = {}
        connects = threading.Thread(target=lambda: tcp.update(lab.attacker_tcp_connects(timeout=1.0)), daemon=True)
        connects.start()
        svmap = lab.attacker_tool("sipvicious_svmap", [WAN_ADDR, "-p", "5060-5061"], timeout=15)
        connects.join(timeout=10)
        attack_seconds = time.monotonic() - started
        seen = {k: v - before.get(k, 0) for k, v in lab.squatter_counters(role).items()}
        flows = [line for line in lab.run("router", ["conntrack", "-L", "-s", netlab.ATTACKER_ADDR],
                                          check=False).stdout.splitlines() if "dport=506" in line]
        undone = lab.routerfix("undo")
        # positive control: the squatter's SIP counter does count a datagram that is sent to it (from the router)
        lab.run("router", [netlab.PYTHON, "-c", "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
                           f".sendto(b'OPTIONS sip:x SIP/2.0\\r\\n\\r\\n', ('{squatter}', 5060))"])
        control = netlab.wait_for("the control datagram at the squatter", lambda: lab.squatter_counters(role)["sip"]
                                  - before.get("sip", 0) - seen.get("sip", 0), 5)
    to_sink = [line for line in flows if f"src={sink} " in line]
    report(f"[6] static squatter at {squatter} (no lease, no neighbour entry; the router's arping -D answered): "
           f"routerfix apply took {apply_seconds:.1f} s, sink {sink} ({result['sink_reason']}); svmap + TCP connects "
           f"({attack_seconds:.1f} s, {len(to_sink)} of {len(flows)} attacker SIP flows DNATed to the sink): "
           f"{seen.get('attacker', 0)} attacker packets and {seen.get('sip', 0)} SIP packets at the squatter "
           f"(control datagram from the router: {control}); undo {undone['status']}")
    assert flows and len(to_sink) == len(flows), f"the attack did not all meet the sink\n{flows}\n{svmap.stdout}"
    assert seen.get("attacker", 0) == 0 and seen.get("sip", 0) == 0, seen
    assert control == 1, "the squatter's counter does not count: the 0 above would prove nothing"
    assert "routerfix-lab-phone" not in svmap.stdout, svmap.stdout
    assert undone["status"] == "undone", undone


def test_a_device_plugged_in_and_out_leaves_the_gateway_mac_and_the_phone_alone(fresh_open: Lab) -> None:
    """Plugging a LAN device in and out must not change the router's LAN MAC. It did while the lab's bridge had no
    address of its own (a Linux bridge then takes its lowest port's address): the phone learnt the temporary MAC
    from the router's next ARP and, once the device was gone, sent its REGISTERs to a MAC that no longer existed
    until its neighbour entry timed out; the next ``reset_router`` timed out waiting for a registration. The
    device's port here has an address lower than any other, and the router is made to ARP the phone while it is
    plugged in, so the lab without a fixed LAN MAC fails this test every time."""
    lab = fresh_open
    gateway = lab.lan_mac()
    with lab.plugged_device(port_mac=netlab.LOW_PORT_MAC):
        plugged = lab.lan_mac()
        lab.run("router", ["ip", "neigh", "flush", "dev", "br-lan"])  # its next packet to the phone asks by ARP
        lab.wait_registration_progress(lab.phone_log(), count=1)
        learnt = lab.phone_gateway_mac()
    started = time.monotonic()
    after = lab.wait_registration_progress(lab.phone_log(), count=2)
    report(f"[7] a LAN device (port MAC {netlab.LOW_PORT_MAC}) plugged in and out: router LAN MAC {gateway} -> "
           f"{plugged}, the phone's gateway entry {learnt}; {after.cycles} registration cycles in "
           f"{time.monotonic() - started:.1f} s after it was unplugged")
    assert gateway == plugged == netlab.LAN_MAC, (gateway, plugged)
    assert learnt == gateway and lab.phone_gateway_mac() == gateway, (learnt, lab.phone_gateway_mac())


def test_secure_nat_before_the_fix_nothing_reaches_the_phone(lab: Lab) -> None:
    lab.reset_router("secure")
    c0, l0 = lab.counters(), lab.phone_log()
    lab.full_scan()
    seen, log = lab.counters() - c0, lab.phone_log() - l0
    report(f"[4a] secure NAT, no fix, full scan: {describe(seen, log)}")
    assert seen.attacker == 0 and not log.rings
    assert log.registered >= 2 and log.provider_qualify_ok >= 2


def test_secure_nat_mitigation_applies_cleanly(lab: Lab, linux_driver: None) -> None:
    lab.reset_router("secure")
    result = lab.routerfix("apply")
    assert_mitigated(result)
    c0, l0 = lab.counters(), lab.phone_log()
    lab.full_scan()
    seen, log = lab.counters() - c0, lab.phone_log() - l0
    undone = lab.routerfix("undo")
    report(f"[4b] secure NAT, routerfix apply ({result['status']}, {result['_seconds']:.1f} s) then full scan: "
           f"{describe(seen, log)}; undo {undone['status']}")
    assert seen.attacker == 0 and not log.rings
    assert log.registered >= 2 and log.qualified >= 2 and log.provider_qualify_ok >= 2
    assert undone["status"] == "undone"


ALLOWED = [ipaddress.ip_network(n) for n in ("198.51.100.0/24", "203.0.113.0/24", netlab.LAN_NET, "127.0.0.0/8")]


def test_the_lab_is_contained_and_its_router_is_driven_by_pid(lab: Lab) -> None:
    """No interface in the root namespace, only TEST-NET and the private LAN inside, dnsmasq signalled by PID."""
    assert netlab.root_links() == lab.root_links_before
    for role, addresses in lab.addresses().items():
        for address in addresses:
            assert any(ipaddress.ip_interface(address).ip in net for net in ALLOWED), (role, address)
    dnsmasq = lab.lab_pids("dnsmasq")
    assert len(dnsmasq) == 1, dnsmasq
    log = lab.dir / "dnsmasq.log"
    reads = log.read_text().count("dhcp-hosts")
    lab.hup_dnsmasq()
    netlab.wait_for("dnsmasq to re-read its hosts file", lambda: log.read_text().count("dhcp-hosts") > reads, 5)
    report(f"containment: root namespace interfaces unchanged ({len(lab.root_links_before)}), "
           f"{sum(map(len, lab.addresses().values()))} lab addresses all in TEST-NET/192.168.88.0/24, "
           f"stale namespaces removed at start: {len(lab.stale)}")
