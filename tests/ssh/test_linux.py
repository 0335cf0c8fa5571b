"""The Linux (nftables + dnsmasq) driver against its Debian router simulator."""

from __future__ import annotations

import copy
import ipaddress
import re
import shlex
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from routerfix.drivers.linux.parser import ARPING_EXIT, parse_arping
from routerfix.simulators._hosts.ssh import SSHSimulatorHost

import routerfix
from routerfix.driver import Driver
from routerfix.errors import (
    DeviceError,
    ForwardConflict,
    InvalidValue,
    ParseError,
    RouterfixError,
    UnsupportedOperation,
)
from routerfix.model import Feature
from routerfix.simulate import SimulatedDevice, simulate
from routerfix.testing import DriverConformance

from .conftest import connect

DRIVER = "linux"
"""What the ``sim`` fixture starts."""

SCANNER = "198.51.100.166"


def snapshot(device: SimulatedDevice) -> Any:
    router = device.handle.model
    return router.render(), router.files.get("/etc/dnsmasq.hosts")


class TestLinuxConformance(DriverConformance):
    """Against the ``sim`` device (the folder's ``driver`` fixture)."""


class TestLinuxPackagedConformance(DriverConformance):
    @pytest.fixture
    def driver(self, ssh_host: SSHSimulatorHost) -> Iterator[Driver]:
        with simulate("linux", host=ssh_host, scenario="packaged") as device, connect(device) as d:
            yield d


def test_exact_commands(sim: SimulatedDevice) -> None:
    with connect(sim) as driver:
        start = len(sim.handle.commands)
        result = routerfix.apply_ghostcall_mitigation(driver)
    # the simulated LAN has a static camera at the top of the pool (.250): the probe skips it
    assert result.status == "mitigated" and str(result.plan.sink) == "192.168.88.249"
    sent = [re.sub(r"RFX[0-9a-f]{10}", "RFX", c) for c in sim.handle.commands[start:] if c != "exit"]
    assert sent[0] == ("uname -nr; echo RFX-0 $?; nft -j list ruleset 2>/dev/null; echo RFX-1 $?; ip -4 -o addr show; "
                       "echo RFX-2 $?; ip -4 route show default; echo RFX-3 $?; ip -4 neigh show; echo RFX-4 $?; "
                       "head -c 8193 /var/lib/routerfix/undo.json 2>/dev/null; echo; echo RFX-5 $?; "
                       "pidof dnsmasq || true; echo RFX-6 $?; command -v arping busybox systemd-run || true; "
                       "test -d /run/systemd/system || echo rfx-no-systemd-init; systemctl is-active --quiet "
                       "routerfix-revert.timer 2>/dev/null && echo rfx-revert-pending || true; echo RFX-7 $?")
    assert sent[1] == "tr '\\0' '\\n' < /proc/812/cmdline"
    assert [c for c in sent if "arping" in c and not c.startswith("uname")] == [
        "arping -D -c 2 -w 2 -I br-lan 192.168.88.250 2>&1; echo rfx-arping-exit $?",
        "arping -D -c 2 -w 2 -I br-lan 192.168.88.249 2>&1; echo rfx-arping-exit $?"]
    # the run's writes, one AND list (L48): the undo marker, the self-revert timer before the first change to the
    # router (L38-L40), the forward, the reservation; nothing after a failed command runs
    chain = [c for c in sent if "systemd-run --unit" in c]
    assert len(chain) == 1
    assert chain[0].split(" && echo RFX-")[0] == "mkdir -p /var/lib/routerfix"
    parts = re.split(r" && echo RFX-\d+ \$\?(?: && |$)", chain[0])
    assert parts[2:4] == ["chmod 600 /var/lib/routerfix/undo.json.tmp",
                          "mv -f /var/lib/routerfix/undo.json.tmp /var/lib/routerfix/undo.json"]
    assert parts[-1] == "" and parts[4:-1] == [
        "rm -f /run/routerfix-revert-other.nft",
        "printf 'add table ip routerfix\\ndelete table ip routerfix\\n' > /run/routerfix-revert.nft",
        "cp /etc/dnsmasq.hosts /run/routerfix-revert.hosts",
        "systemd-run --unit=routerfix-revert --on-active=600 /bin/sh -c 'nft -f /run/routerfix-revert.nft; "
        "test -e /run/routerfix-revert-other.nft && nft -f /run/routerfix-revert-other.nft; "
        "cp /run/routerfix-revert.hosts /etc/dnsmasq.hosts; kill -HUP 812'",
        "nft 'add table ip routerfix; add chain ip routerfix dstnat { type nat hook prerouting priority dstnat - 10; "
        "policy accept; }; add rule ip routerfix dstnat iifname \"wan0\" meta l4proto { tcp, udp } th dport "
        "5060-5061 dnat to 192.168.88.249 comment \"routerfix-sip\"'",
        "printf '%s\\n' 02:00:5e:c0:50:60,192.168.88.249,routerfix-sink >> /etc/dnsmasq.hosts",
        "kill -HUP 812"]
    stop = sent.index("systemctl stop routerfix-revert.timer 2>&1 || true")
    writes = [c for c in sent if c.startswith(("nft '", "conntrack"))]
    assert sent.index(chain[0]) < stop < sent.index(writes[0])   # stopped before the flush
    assert writes[0].startswith("conntrack -D -p udp --orig-dst 203.0.113.2 --orig-port-dst 5060 2>&1 || true")
    assert "add element ip routerfix sip_scanners { 198.51.100.166 }" in writes[1]
    assert "conntrack -D -p udp --orig-dst 198.51.100.166 2>&1 || true" in writes[1]


def test_send_chain_runs_nothing_after_a_failed_command(sim: SimulatedDevice) -> None:
    """``SSHDriver.send_chain``: an AND list (L48), the outputs of every command when all succeed; else the first
    that failed is raised with the device's words, and nothing after it ran."""
    files = sim.handle.model.files
    with connect(sim) as driver:
        assert driver.send_chain(["printf 'a\\n' > /tmp/a", "cat /tmp/a"]) == ["", "a"]
        with pytest.raises(DeviceError, match=r"cp /tmp/missing /tmp/b.*nothing after it ran.*cannot stat"):
            driver.send_chain(["printf 'c\\n' > /tmp/c", "cp /tmp/missing /tmp/b", "printf 'd\\n' > /tmp/d"])
        assert files.get("/tmp/c") == "c\n" and "/tmp/b" not in files and "/tmp/d" not in files
        assert driver.run_chain(["true", "cp /tmp/missing /tmp/b", "true"])[1] == 1


def test_end_state_idempotence_and_undo(sim: SimulatedDevice) -> None:
    router = sim.handle.model
    before = copy.deepcopy(snapshot(sim))
    with connect(sim) as driver:
        result = routerfix.apply_ghostcall_mitigation(driver)
        assert result.status == "mitigated"
        table = router.table("ip", "routerfix")
        assert table.chains["dstnat"].base["prio"] == -110, "runs before the other dstnat chains (-100)"
        assert router.forwards_text()[0] == ('iifname "wan0" meta l4proto { tcp, udp } th dport 5060-5061 '
                                             'dnat to 192.168.88.249 comment "routerfix-sip"')
        assert "02:00:5e:c0:50:60,192.168.88.249,routerfix-sink" in router.loaded_hosts, "dnsmasq reloaded"
        assert router.reloads == 1
        assert result.flushed == 2
        assert not router.scanner_reaches_phone(SCANNER)
        assert any(e["dst"] == "198.51.100.10" for e in router.conntrack), "registrar flow untouched"
        driver.writes = 0
        again = routerfix.apply_ghostcall_mitigation(driver)
        assert again.status == "unchanged" and driver.writes == 0
        undone = routerfix.remove_ghostcall_mitigation(driver, record=result.to_dict())
        assert undone.status == "undone"
    assert snapshot(sim) == before
    assert router.table("ip", "routerfix") is None


def test_finding_8_a_late_answer_cannot_reopen_the_path(sim: SimulatedDevice) -> None:
    router = sim.handle.model
    router.phone_answers("192.168.88.100", SCANNER)  # before the fix: the reply path exists
    assert router.scanner_reaches_phone(SCANNER)
    with connect(sim) as driver:
        routerfix.apply_ghostcall_mitigation(driver)
    assert not router.scanner_reaches_phone(SCANNER)
    router.phone_answers("192.168.88.100", SCANNER)  # the phone answers late, after the flush
    assert not router.scanner_reaches_phone(SCANNER), "the guard maps flows to scanners off WAN:5060"


def test_packaged_dnsmasq_is_discovered_from_its_files(ssh_host: SSHSimulatorHost) -> None:
    with simulate("linux", host=ssh_host, scenario="packaged") as device, connect(device) as driver:
        state = driver.read_state()
        assert state.scope is not None and str(state.scope.pools[0]) == "192.168.88.100-192.168.88.250"
        assert {str(r.address) for r in state.scope.reservations} == {"192.168.88.240", "192.168.88.120"}
        assert len(state.leases) == 3


def test_without_hostsfile_no_reservation_is_promised(ssh_host: SSHSimulatorHost) -> None:
    with simulate("linux", host=ssh_host, scenario="no-hostsfile") as device, connect(device) as driver:
        driver.read_state()
        assert Feature.DHCP_RESERVATION not in driver.capabilities
        result = routerfix.apply_ghostcall_mitigation(driver)
        assert result.status == "mitigated"
        assert any("cannot reserve" in w for w in result.plan.warnings)


@pytest.mark.parametrize("sim", [{"scenario": "pbx"}], indirect=True)
def test_existing_forward_is_a_conflict_and_can_be_replaced(sim: SimulatedDevice) -> None:
    with connect(sim) as driver:
        with pytest.raises(ForwardConflict):
            routerfix.apply_ghostcall_mitigation(driver)
        result = routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True)
        assert result.status == "mitigated"
    assert "pbx" not in sim.handle.model.render()


def test_backup_and_restore_cover_our_table_and_hostsfile(sim: SimulatedDevice) -> None:
    with connect(sim) as driver:
        routerfix.apply_ghostcall_mitigation(driver)
        saved = driver.backup()
        mitigated = copy.deepcopy(snapshot(sim))
        routerfix.remove_ghostcall_mitigation(driver)
        assert snapshot(sim) != mitigated
        driver.restore(saved)
    render, hosts = snapshot(sim)
    assert hosts == mitigated[1]
    assert render.replace("198.51.100.166 expires 59m59s", "") == mitigated[0].replace(
        "198.51.100.166 expires 59m59s", "")


@pytest.mark.parametrize("executes", [False, True], ids=["lost-before", "landed-then-lost"])
def test_a_drop_at_each_step_leaves_the_device_mitigated_or_as_before(ssh_host: SSHSimulatorHost,
                                                                      executes: bool) -> None:
    with simulate("linux", host=ssh_host) as probe, connect(probe) as driver:
        start = probe.handle.commands_seen
        routerfix.apply_ghostcall_mitigation(driver)
        steps = probe.handle.commands_seen - start
    assert steps >= 5
    for step in range(1, steps + 1):
        with simulate("linux", host=ssh_host) as device:
            before = copy.deepcopy(snapshot(device))
            with connect(device) as driver:
                device.handle.drop_after(step, executes=executes)
                try:
                    outcome = routerfix.apply_ghostcall_mitigation(driver).status
                except RouterfixError:
                    outcome = "failed"
            if outcome == "failed":
                assert snapshot(device) == before, f"drop at step {step} left a half-applied device"
            else:
                assert outcome == "mitigated"
                with connect(device) as check:
                    assert routerfix.apply_ghostcall_mitigation(check).status == "unchanged", f"step {step}"


# --- probing a candidate sink with ARP duplicate-address detection (docs/facts/linux.md L34-L37) ----------------------

SQUATTER = "192.168.88.250"
"""The simulated LAN's static camera: top of the pool, no lease, no neighbour entry, answers ARP."""


def _sent(device: SimulatedDevice, start: int) -> list[str]:
    return [c for c in device.handle.commands[start:] if c != "exit"]


@pytest.mark.parametrize("sim", [{}, {"arping": "busybox"}, {"arping": "both"}], indirect=True,
                         ids=["iputils", "busybox", "both"])
def test_probe_answers_for_hosts_that_exist_only(sim: SimulatedDevice) -> None:
    with connect(sim) as driver:
        state = driver.read_state()
        assert Feature.PROBE in state.capabilities and state.capabilities == driver.capabilities
        assert driver.probe_address(ipaddress.IPv4Address(SQUATTER)) is True, "the static squatter answers"
        assert driver.probe_address(ipaddress.IPv4Address("192.168.88.100")) is True, "a leased phone"
        assert driver.probe_address(ipaddress.IPv4Address("192.168.88.240")) is True, "a neighbour (printer)"
        assert driver.probe_address(ipaddress.IPv4Address("192.168.88.249")) is False, "FAILED neighbour: nobody"
        assert driver.probe_address(ipaddress.IPv4Address("192.168.88.120")) is False, "reserved but offline"
        assert driver.probe_address(ipaddress.IPv4Address("192.168.88.1")) is False, "the router's own probe"
        assert driver.writes == 0


def test_probe_command_text_is_quoted_and_busybox_is_used_without_iputils(ssh_host: SSHSimulatorHost) -> None:
    with simulate("linux", host=ssh_host, arping="busybox") as device, connect(device) as driver:
        driver.read_state()
        start = len(device.handle.commands)
        assert driver.probe_address("192.168.88.249") is False  # type: ignore[arg-type]
        sent = _sent(device, start)
    assert sent == ["busybox arping -D -c 2 -w 2 -I br-lan 192.168.88.249 2>&1; echo rfx-arping-exit $?"]
    probe, _, marker = sent[0].partition(" 2>&1; ")
    assert probe == " ".join(shlex.quote(a) for a in shlex.split(probe)), "every argument is quoted"
    assert marker == f"echo {ARPING_EXIT} $?"


def test_squatter_at_the_top_of_the_pool_is_skipped(sim: SimulatedDevice) -> None:
    router = sim.handle.model
    assert SQUATTER in router.squatters
    with connect(sim) as driver:
        state = driver.read_state()
        assert ipaddress.IPv4Address(SQUATTER) not in {x.address for x in state.leases}
        assert ipaddress.IPv4Address(SQUATTER) not in {x.address for x in state.neighbours}
        result = routerfix.apply_ghostcall_mitigation(driver)
    assert result.status == "mitigated"
    assert str(result.plan.sink) == "192.168.88.249", "the next free address below the squatter"
    assert f"skipped {SQUATTER}: something answered there" in result.plan.sink_reason
    assert any("answered" in w and SQUATTER in w for w in result.warnings)
    assert all(SQUATTER not in text for text in router.forwards_text())
    assert SQUATTER not in router.loaded_hosts


def test_an_operator_sink_that_answers_is_refused_before_any_write(sim: SimulatedDevice) -> None:
    before = copy.deepcopy(snapshot(sim))
    with connect(sim) as driver:
        with pytest.raises(InvalidValue, match="answered"):
            routerfix.apply_ghostcall_mitigation(driver, sink=SQUATTER)
        assert driver.writes == 0
    assert snapshot(sim) == before


def test_without_arping_there_is_no_probe_and_the_plan_says_so(ssh_host: SSHSimulatorHost) -> None:
    with simulate("linux", host=ssh_host, arping="none") as device, connect(device) as driver:
        start = len(device.handle.commands)
        state = driver.read_state()
        assert Feature.PROBE not in state.capabilities and Feature.PROBE not in driver.capabilities
        assert any("no arping" in note for note in state.capabilities.notes)
        with pytest.raises(UnsupportedOperation):
            driver.probe_address(ipaddress.IPv4Address("192.168.88.249"))
        plan = routerfix.plan_ghostcall_mitigation(driver)
        assert "not probed" in plan.sink_reason
        # this is the risk the probe exists for: unprobed, the squatter's address is the sink
        assert str(plan.sink) == SQUATTER
        result = routerfix.apply_ghostcall_mitigation(driver)
        assert result.status == "mitigated" and result.verified
        sent = _sent(device, start)
    assert not [c for c in sent if "arping -D" in c], "nothing probed"
    assert device.handle.model.forwards_text()


def test_a_run_that_does_not_probe_costs_no_extra_round_trip(ssh_host: SSHSimulatorHost) -> None:
    trips = {}
    for arping in ("none", "iputils"):
        with simulate("linux", host=ssh_host, arping=arping) as device, connect(device) as driver:
            before = driver.round_trips
            result = routerfix.apply_ghostcall_mitigation(driver, probe=False)
            assert result.status == "mitigated"
            trips[arping] = driver.round_trips - before
    assert trips["iputils"] == trips["none"], trips
    with simulate("linux", host=ssh_host) as device, connect(device) as driver:
        before = driver.round_trips
        routerfix.apply_ghostcall_mitigation(driver)
        assert driver.round_trips - before == trips["none"] + 2, "one round trip per probed candidate (.250, .249)"


BAD_ADDRESSES: list[Any] = [
    "192.168.88.249; reboot", "192.168.88.249\nreboot", "$(reboot)", "`reboot`", "192.168.88.249 -I wan0", "-D",
    "", " 192.168.88.249", "192.168.088.249", "999.1.1.1", "::1", "fe80::1%br-lan", "192.168.88.0/24",
    "10.0.0.5", "203.0.113.1", "192.168.88.0", "192.168.88.255", 3232258297, True, None, 1.5, b"192.168.88.249",
    ipaddress.IPv6Address("::1"), ["192.168.88.249"],
]


@pytest.mark.parametrize("address", BAD_ADDRESSES, ids=repr)
def test_bad_probe_addresses_never_reach_the_device(sim: SimulatedDevice, address: Any) -> None:
    with connect(sim) as driver:
        driver.read_state()
        start = len(sim.handle.commands)
        with pytest.raises(InvalidValue):
            driver.probe_address(address)
        assert _sent(sim, start) == []


@pytest.mark.parametrize("sim", [{"arping": "habets"}], indirect=True)
def test_an_arping_without_duplicate_address_detection_is_refused(sim: SimulatedDevice) -> None:
    """Thomas Habets' arping: its -D prints dots and it exits 0 when something *answered* — trusting the exit
    status would call the squatter free. The driver refuses it, before any write."""
    with connect(sim) as driver:
        with pytest.raises(ParseError, match="Received N response"):
            driver.probe_address(ipaddress.IPv4Address(SQUATTER))
        with pytest.raises(ParseError):
            routerfix.apply_ghostcall_mitigation(driver)
        assert driver.writes == 0
    assert sim.handle.model.forwards_text() == []


@pytest.mark.parametrize(("text", "received", "status"), [
    ("ARPING 192.168.88.250 from 0.0.0.0 br-lan\nUnicast reply from 192.168.88.250 [A4:14:37:5C:A7:E1]  0.731ms\n"
     "Sent 1 probes (1 broadcast(s))\nReceived 1 response(s)\nrfx-arping-exit 1\n", 1, 1),
    ("ARPING 10.9.0.8 from 0.0.0.0 v0\nSent 2 probe(s) (0 broadcast(s))\n"
     "Received 0 response(s) (0 request(s), 0 broadcast(s))\nrfx-arping-exit 0", 0, 0),
    ("Received 2 response(s) (1 request(s))\nrfx-arping-exit 1", 2, 1),
    ('Interface "lo" is not ARPable\nrfx-arping-exit 0', None, 0),
    ("arping: interface br-x not found: No such device\nrfx-arping-exit 2", None, 2),
    ("!!\t  0% packet loss (0 extra)\nrfx-arping-exit 0", None, 0),
])
def test_parse_arping(text: str, received: int | None, status: int) -> None:
    result = parse_arping(text)
    assert (result.received, result.status) == (received, status)
    assert ARPING_EXIT not in result.message


@pytest.mark.parametrize("text", [
    "Received 1 response(s)\n",  # no exit line
    "Received 1 response(s)\nrfx-arping-exit 0",  # a reply but "free": not DAD semantics
    "Received 0 response(s)\nrfx-arping-exit 1",
    "Received 0 response(s)\nReceived 1 response(s)\nrfx-arping-exit 1",
    "rfx-arping-exit 0\nrfx-arping-exit 1",
])
def test_parse_arping_refuses_what_it_cannot_trust(text: str) -> None:
    with pytest.raises(ParseError):
        parse_arping(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.integers(min_value=0, max_value=300), st.booleans())
def test_parse_arping_raises_only_parse_errors(body: str, status: int, marker: bool) -> None:
    text = body + (f"\n{ARPING_EXIT} {status}\n" if marker else "")
    try:
        result = parse_arping(text)
    except ParseError:
        return
    assert result.received is None or result.received >= 0


@pytest.mark.parametrize(("reply", "error"), [
    (("", "arping: interface br-lan not found: No such device\n", 2), DeviceError),
    (("", "arping: interface br-lan is not ARPable\n", 0), ParseError),  # exit 0 = "free" without a count
    (('Interface "br-lan" is not ARPable\n', "", 0), ParseError),
    (("", "arping: socket(AF_PACKET,2,0): Operation not permitted\n", 1), DeviceError),
])
def test_an_arping_that_cannot_probe_is_an_error_never_free(sim: SimulatedDevice, monkeypatch: pytest.MonkeyPatch,
                                                            reply: tuple[str, str, int], error: type) -> None:
    from routerfix.simulators.linux.device import LinuxShell

    monkeypatch.setattr(LinuxShell, "_arping", lambda self, rest, flavour: reply)
    with connect(sim) as driver:
        with pytest.raises(error):
            driver.probe_address(ipaddress.IPv4Address("192.168.88.249"))
        with pytest.raises(RouterfixError):
            routerfix.apply_ghostcall_mitigation(driver)
        assert driver.writes == 0
