"""Verdicts on real traffic: captures and sipp traces made by make_captures.py from real sipp, SIPVicious and
tcpdump (tests/diagnose/data/README.md). Every verdict is reached; legitimate-only traffic is never a scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from routerfix.diagnose import Verdict, diagnose
from routerfix.diagnose.report import EXIT_INSUFFICIENT, EXIT_REPLACE_ROUTER, EXIT_SCAN_REACHING
from routerfix.errors import InvalidValue

DATA = Path(__file__).parent / "data"

EXPECTED = {
    "lo-legit.pcap": Verdict.NO_SCAN,
    "lo-legit.sipp-trace.log": Verdict.NO_SCAN,
    "lo-scan-reaching.pcapng": Verdict.SCAN_REACHING_PHONE,
    "lo-scan-reaching.sipp-trace.log": Verdict.SCAN_REACHING_PHONE,
    "lo-scan-blocked.pcap": Verdict.SCAN_ARRIVING_BLOCKED,
    "lo-no-sip.pcap": Verdict.INSUFFICIENT_EVIDENCE,
    # the namespace lab: a sipp phone behind a real nftables router with open NAT (tests/lab)
    "lab-legit-phone.pcap": Verdict.NO_SCAN,
    "lab-legit-wan.pcap": Verdict.NO_SCAN,
    "lab-scan-open-phone.pcap": Verdict.SCAN_REACHING_PHONE,
    "lab-scan-open-wan.pcap": Verdict.SCAN_REACHING_PHONE,
    "lab-scan-fixed-phone.pcap": Verdict.NO_SCAN,
    "lab-scan-fixed-wan.pcap": Verdict.SCAN_ARRIVING_BLOCKED,
    "lab-tcp-connects-wan.pcap": Verdict.INSUFFICIENT_EVIDENCE,
}
LEGITIMATE = [name for name, verdict in EXPECTED.items() if verdict == Verdict.NO_SCAN]
WITH_PROVIDER_CALL = ["lo-legit.pcap", "lo-legit.sipp-trace.log", "lab-legit-phone.pcap", "lab-legit-wan.pcap"]


def test_every_data_file_has_an_expected_verdict() -> None:
    shipped = {p.name for p in DATA.iterdir() if p.suffix in (".pcap", ".pcapng", ".log")}
    assert shipped == set(EXPECTED), "data files and EXPECTED disagree: regenerate or update the table"


def test_every_verdict_is_reached() -> None:
    assert set(EXPECTED.values()) == set(Verdict)


def test_every_verdict_is_reached_on_lab_traffic() -> None:
    assert {v for name, v in EXPECTED.items() if name.startswith("lab-")} == set(Verdict)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verdict(name: str) -> None:
    result = diagnose([DATA / name])
    assert result.verdict == EXPECTED[name], result.to_json()
    assert not result.limits_reached
    assert all(f.error is None for f in result.files)


@pytest.mark.parametrize("name", LEGITIMATE)
def test_legitimate_traffic_is_never_a_scan(name: str) -> None:
    result = diagnose([DATA / name])
    assert result.scanners == []
    assert result.site.providers == ["198.51.100.10"]
    assert result.site.provider_requests > 0 and result.site.phone_requests > 0
    assert result.exit_code == 0


@pytest.mark.parametrize("name", [*WITH_PROVIDER_CALL, "lab-scan-open-phone.pcap", "lab-scan-open-wan.pcap"])
def test_a_real_call_from_the_provider_is_never_a_scan(name: str) -> None:
    result = diagnose([DATA / name])
    assert result.site.provider_caller_ids == ["Alice Example"]
    assert result.site.provider_methods.get("INVITE") == 1
    assert all("+15555550123" not in s.caller_ids for s in result.scanners)


@pytest.mark.parametrize(("name", "phone"), [("lab-scan-open-phone.pcap", "192.168.88."),
                                             ("lab-scan-open-wan.pcap", "203.0.113.2")])
def test_lab_open_nat_scan_reaches_the_phone_on_both_sides(name: str, phone: str) -> None:
    """Phone side: delivered to the phone's LAN address. WAN side: the phone answers through the open NAT."""
    result = diagnose([DATA / name])
    assert result.site.phones[0].startswith(phone)
    scanner = result.scanners[0]
    assert scanner.address == "198.51.100.166" and scanner.reached >= 10
    assert "friendly-scanner" in scanner.user_agents and {"100", "1000"} <= set(scanner.caller_ids)
    assert {"INVITE", "OPTIONS"} <= set(scanner.methods)


def test_lab_after_the_fix_wan_side_arrives_phone_side_sees_nothing() -> None:
    wan = diagnose([DATA / "lab-scan-fixed-wan.pcap"])
    assert wan.scanners[0].address == "198.51.100.166" and wan.scanners[0].reached == 0
    assert wan.scanners[0].targets == ["203.0.113.2"]
    phone = diagnose([DATA / "lab-scan-fixed-phone.pcap"])
    assert phone.verdict == Verdict.NO_SCAN and set(phone.site.provider_methods) == {"OPTIONS"}


def test_lab_both_sides_after_the_fix_together() -> None:
    result = diagnose([DATA / "lab-scan-fixed-phone.pcap", DATA / "lab-scan-fixed-wan.pcap"], mitigated=True)
    assert result.verdict == Verdict.SCAN_ARRIVING_BLOCKED and result.exit_code == 0


def test_scan_reaching_phone_evidence() -> None:
    result = diagnose([DATA / "lo-scan-reaching.pcapng"])
    assert result.exit_code == EXIT_SCAN_REACHING
    assert "routerfix mitigate" in result.next_step
    by_address = {s.address: s for s in result.scanners}
    v4 = by_address["198.51.100.166"]
    assert v4.reached == v4.requests > 0
    assert "friendly-scanner" in v4.user_agents
    assert {"100", "1000"} <= set(v4.caller_ids)
    assert {"udp", "tcp"} <= set(v4.transports)
    assert any(m.startswith("scanner User-Agent") for m in v4.indicators)
    assert any(line.startswith("INVITE sip:100@") for line in v4.samples)
    assert "2001:db8:100::166" in by_address, "the IPv6 scan was not seen"
    assert v4.first is not None and v4.last is not None and v4.last >= v4.first
    assert result.site.phones == ["192.168.88.100"]


def test_scan_reaching_phone_when_already_mitigated_means_replace_the_router() -> None:
    result = diagnose([DATA / "lo-scan-reaching.pcapng"], mitigated=True)
    assert result.verdict == Verdict.SCAN_REACHING_PHONE
    assert result.exit_code == EXIT_REPLACE_ROUTER
    assert "NAT is failing" in result.next_step and "Replace the router" in result.next_step


def test_blocked_scan_evidence() -> None:
    result = diagnose([DATA / "lo-scan-blocked.pcap"])
    assert result.exit_code == 0
    scanner = next(s for s in result.scanners if s.address == "198.51.100.166")
    assert scanner.reached == 0 and scanner.blocked == scanner.requests > 0
    assert scanner.targets == ["203.0.113.2"]


def test_insufficient_evidence_exit_code() -> None:
    result = diagnose([DATA / "lo-no-sip.pcap"])
    assert result.exit_code == EXIT_INSUFFICIENT
    assert result.files[0].packets > 0 and result.files[0].sip_messages == 0


def test_several_files_together_the_worst_wins() -> None:
    result = diagnose([DATA / "lo-legit.pcap", DATA / "lo-scan-reaching.sipp-trace.log"])
    assert result.verdict == Verdict.SCAN_REACHING_PHONE
    assert [f.kind for f in result.files] == ["capture", "sipp-trace"]


def test_provider_named_by_the_caller() -> None:
    """Without a REGISTER in view, only scanner marks make a scan; naming the provider keeps its calls legit."""
    result = diagnose([DATA / "lo-legit.pcap"], providers=["198.51.100.10"])
    assert result.verdict == Verdict.NO_SCAN


def _lan_side_after_the_fix(tmp_path: Path, *, sink_answers: bool) -> Path:
    """The router's LAN side after the fix: the phone registers, and one scan INVITE went out to the sink
    (192.168.88.250) — the router's neighbour cache still held a MAC for it, so the packet left on the wire."""
    from routerfix.simulators._hosts.pcap import pcap_file, registration, scan_exchange

    packets = [*registration(0.0, "192.168.88.201", "198.51.100.10", "reg-1"),
               *scan_exchange(1.0, "198.51.100.166", "192.168.88.250", "scan-1", answered=sink_answers),
               *registration(2.0, "192.168.88.201", "198.51.100.10", "reg-2")]
    path = tmp_path / "lan-after.pcap"
    path.write_bytes(pcap_file(packets))
    return path


def test_a_scan_delivered_to_the_sink_went_nowhere(tmp_path: Path) -> None:
    """A scan forwarded to the mitigation's sink is where the fix sends it: not a phone, not "replace the router"."""
    lan = _lan_side_after_the_fix(tmp_path, sink_answers=False)
    unnamed = diagnose([lan], mitigated=True)
    assert (unnamed.verdict, unnamed.exit_code) == (Verdict.SCAN_REACHING_PHONE, EXIT_REPLACE_ROUTER)
    named = diagnose([lan], mitigated=True, sinks=["192.168.88.250"])
    assert (named.verdict, named.exit_code) == (Verdict.SCAN_ARRIVING_BLOCKED, 0), named.summary
    assert named.site.sinks == ["192.168.88.250"] and "192.168.88.250" not in named.site.phones
    assert named.scanners[0].blocked == 1 and named.scanners[0].reached == 0


def test_a_sink_that_answers_is_a_device_the_scan_reached(tmp_path: Path) -> None:
    """Something answering at the sink address means the scan reached a device: never called blocked."""
    lan = _lan_side_after_the_fix(tmp_path, sink_answers=True)
    result = diagnose([lan], mitigated=True, sinks=["192.168.88.250"])
    assert (result.verdict, result.exit_code) == (Verdict.SCAN_REACHING_PHONE, EXIT_REPLACE_ROUTER)


def test_a_sink_must_be_an_address() -> None:
    with pytest.raises(InvalidValue, match="sink"):
        diagnose([DATA / "lo-scan-blocked.pcap"], sinks=["not-an-address"])


def _late_answer_on_the_wan(tmp_path: Path, *, answer_port: int) -> Path:
    """The router's WAN side just after the fix, as the namespace lab captured it (CI, 2026-12-05): the phone's 486
    to a scan INVITE sent before the capture leaves through the NAT from ``answer_port``; the scanner ACKs it to
    WAN:5060, and its new INVITEs to WAN:5060 go unanswered (forwarded to the sink)."""
    from routerfix.simulators._hosts.pcap import Datagram, pcap_file, registration, scan_exchange

    wan, scanner = "203.0.113.2", "198.51.100.166"
    head = ("Via: SIP/2.0/UDP 198.51.100.166:5060;branch=z9hG4bKlate\r\nFrom: \"1000\" <sip:1000@198.51.100.166>;tag=1"
            "\r\nTo: <sip:100@203.0.113.2:5060>;tag=p\r\nCall-ID: late-1\r\n")
    busy = f"SIP/2.0 486 Busy Here\r\n{head}CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    ack = f"ACK sip:100@203.0.113.2:5060 SIP/2.0\r\n{head}CSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    packets = [Datagram(0.0, wan, scanner, busy, sport=answer_port), Datagram(0.01, scanner, wan, ack),
               *registration(0.1, wan, "198.51.100.10", "reg-1"),
               *[p for i in range(6) for p in scan_exchange(0.2 + i * 0.5, scanner, wan, f"new-{i}", answered=False)]]
    path = tmp_path / "wan-after.pcap"
    path.write_bytes(pcap_file(packets))
    return path


def test_an_ack_to_a_late_answer_from_another_port_went_nowhere(tmp_path: Path) -> None:
    """The flaky lab test's evidence: the phone's late 486 left from WAN:26096 (the fix maps flows to scanners onto
    other ports), so the scanner's ACK to WAN:5060 was not answered by anything there. It used to count as "reached"
    (its Call-ID had been answered by the WAN address) and the verdict said "replace the router"."""
    result = diagnose([_late_answer_on_the_wan(tmp_path, answer_port=26096)], mitigated=True)
    assert (result.verdict, result.exit_code) == (Verdict.SCAN_ARRIVING_BLOCKED, 0), result.summary
    assert result.scanners[0].reached == 0 and result.scanners[0].blocked == 7


def test_an_ack_to_an_answer_from_the_same_port_reached_the_phone(tmp_path: Path) -> None:
    """Open NAT, before the fix: the phone answers from WAN:5060, where the scanner sends: its ACK reaches the
    phone, and with the router already mitigated that means its NAT is failing."""
    result = diagnose([_late_answer_on_the_wan(tmp_path, answer_port=5060)], mitigated=True)
    assert (result.verdict, result.exit_code) == (Verdict.SCAN_REACHING_PHONE, EXIT_REPLACE_ROUTER)
    assert result.scanners[0].reached == 1
