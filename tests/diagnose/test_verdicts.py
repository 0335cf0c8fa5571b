"""Verdicts on real traffic: captures and sipp traces made by make_captures.py from real sipp, SIPVicious and
tcpdump (tests/diagnose/data/README.md). Every verdict is reached; legitimate-only traffic is never a scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from routerfix.diagnose import Verdict, diagnose
from routerfix.diagnose.report import EXIT_INSUFFICIENT, EXIT_REPLACE_ROUTER, EXIT_SCAN_REACHING

DATA = Path(__file__).parent / "data"

EXPECTED = {
    "lo-legit.pcap": Verdict.NO_SCAN,
    "lo-legit.sipp-trace.log": Verdict.NO_SCAN,
    "lo-scan-reaching.pcapng": Verdict.SCAN_REACHING_PHONE,
    "lo-scan-reaching.sipp-trace.log": Verdict.SCAN_REACHING_PHONE,
    "lo-scan-blocked.pcap": Verdict.SCAN_ARRIVING_BLOCKED,
    "lo-no-sip.pcap": Verdict.INSUFFICIENT_EVIDENCE,
}
LEGITIMATE = [name for name, verdict in EXPECTED.items() if verdict == Verdict.NO_SCAN]


def test_every_data_file_has_an_expected_verdict() -> None:
    shipped = {p.name for p in DATA.iterdir() if p.suffix in (".pcap", ".pcapng", ".log")}
    assert shipped == set(EXPECTED), "data files and EXPECTED disagree: regenerate or update the table"


def test_every_verdict_is_reached() -> None:
    assert set(EXPECTED.values()) == set(Verdict)


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
    assert "Alice Example" in result.site.provider_caller_ids or "+15555550123" in result.site.provider_caller_ids
    assert result.exit_code == 0


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
