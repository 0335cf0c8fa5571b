"""The readers: log formats (samples in formats/), capture link types, TCP streams, limits, bad input."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import dpkt
import pytest

from routerfix.diagnose import Limits, Verdict, diagnose, read_evidence
from routerfix.diagnose.limits import Budget
from routerfix.diagnose.logs import LOCAL
from routerfix.diagnose.pcap import _Streams
from routerfix.errors import InvalidValue, ParseError

FORMATS = Path(__file__).parent / "formats"
DATA = Path(__file__).parent / "data"


def invite(user: str = "100", ua: str = "friendly-scanner", call_id: str = "c1", transport: str = "UDP") -> bytes:
    return (f"INVITE sip:{user}@192.168.88.100 SIP/2.0\r\nVia: SIP/2.0/{transport} 198.51.100.166:5060;branch=z9\r\n"
            f"From: \"1000\" <sip:1000@198.51.100.166>;tag=1\r\nTo: <sip:{user}@192.168.88.100>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nUser-Agent: {ua}\r\nContent-Length: 4\r\n\r\nv=0\n").encode()


def write_pcap(path: Path, frames: list[bytes], linktype: int) -> None:
    with path.open("wb") as handle:
        writer = dpkt.pcap.Writer(handle, linktype=linktype)
        for n, frame in enumerate(frames):
            writer.writepkt(frame, ts=1_700_000_000.0 + n)


def ipv4_udp(payload: bytes, src: str = "198.51.100.166", dst: str = "192.168.88.100") -> bytes:
    udp = dpkt.udp.UDP(sport=5060, dport=5060, data=payload)
    udp.ulen = len(udp)
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=17, data=udp)
    ip.len = len(ip)
    return bytes(ip)


def ipv6_tcp(payload: bytes, seq: int, flags: int = 0x18) -> bytes:
    tcp = dpkt.tcp.TCP(sport=40000, dport=5060, seq=seq, flags=flags, data=payload)
    ip6 = dpkt.ip6.IP6(src=socket.inet_pton(socket.AF_INET6, "2001:db8:100::166"),
                       dst=socket.inet_pton(socket.AF_INET6, "fd00::6"), nxt=6, hlim=64, data=tcp)
    ip6.plen = len(tcp)
    return bytes(ip6)


def test_asterisk_full_log() -> None:
    events, reports, _ = read_evidence([FORMATS / "asterisk-full.log"])
    assert reports[0].kind == "asterisk" and reports[0].error is None
    lines = [(e.src, e.dst, e.line) for e in events]
    assert (LOCAL, "198.51.100.10", "REGISTER sip:198.51.100.10 SIP/2.0") in lines
    assert ("198.51.100.166", LOCAL, "INVITE sip:100@203.0.113.2 SIP/2.0") in lines
    failed = [e for e in events if e.notes]
    assert [(e.src, e.method, e.notes[0]) for e in failed] == [
        ("198.51.100.166", "INVITE", "No matching endpoint found"),
        ("2001:db8:100::166", "REGISTER", "Failed to authenticate")]
    assert failed[0].from_user == "1000" and failed[0].from_display == "1000"
    result = diagnose([FORMATS / "asterisk-full.log"])
    assert result.verdict == Verdict.SCAN_REACHING_PHONE
    assert result.site.providers == ["198.51.100.10"]
    assert {s.address for s in result.scanners} == {"198.51.100.166", "2001:db8:100::166"}
    assert result.site.provider_caller_ids == ["Alice Example"]


def test_asterisk_security_log_with_the_full_log() -> None:
    result = diagnose([FORMATS / "asterisk-full.log", FORMATS / "asterisk-security.log"])
    scanner = next(s for s in result.scanners if s.address == "198.51.100.167")
    assert scanner.requests == 2 and scanner.reached == 2
    assert scanner.samples == ["SecurityEvent InvalidAccountID", "SecurityEvent ChallengeResponseFailed"]


def test_kamailio_sipdump() -> None:
    events, reports, _ = read_evidence([FORMATS / "kamailio.data"])
    assert reports[0].kind == "kamailio-sipdump"
    assert [(e.src, e.sport, e.dst, e.transport, e.method) for e in events] == [
        ("198.51.100.166", 5060, "192.168.1.6", "udp", "OPTIONS"),
        ("2001:db8:100::166", 40000, "2001:db8:1::6", "tcp", "INVITE")]
    assert events[0].time == pytest.approx(1764897600.123456)
    assert diagnose([FORMATS / "kamailio.data"]).verdict == Verdict.SCAN_REACHING_PHONE


def test_sipp_trace_addresses_come_from_via() -> None:
    events, _, _ = read_evidence([DATA / "lo-scan-reaching.sipp-trace.log"])
    received = [e for e in events if e.dst == LOCAL and e.method == "INVITE"]
    assert received and all(e.src == "198.51.100.166" and e.sport in (5060, 5061) for e in received)
    assert all(e.time and e.time > 1.7e9 for e in events)


@pytest.mark.parametrize("linktype", ["raw", "sll", "sll2", "null", "ethernet-vlan"])
def test_link_types(tmp_path: Path, linktype: str) -> None:
    packet = ipv4_udp(invite())
    frame, dlt = {
        "raw": (packet, 101),
        "sll": (struct.pack("!HHH8sH", 0, 1, 6, b"\0" * 8, 0x0800) + packet, 113),
        "sll2": (struct.pack("!HHIHBB8s", 0x0800, 0, 2, 1, 0, 6, b"\0" * 8) + packet, 276),
        "null": (struct.pack("<I", 2) + packet, 0),
        "ethernet-vlan": (b"\0" * 12 + struct.pack("!HHH", 0x8100, 7, 0x0800) + packet, 1),
    }[linktype]
    path = tmp_path / "one.pcap"
    write_pcap(path, [frame], dlt)
    events, _, _ = read_evidence([path])
    assert [(e.src, e.dst, e.method, e.request_user, e.user_agent) for e in events] == [
        ("198.51.100.166", "192.168.88.100", "INVITE", "100", "friendly-scanner")]


def test_tcp_stream_split_retransmitted_and_two_messages_in_one_segment(tmp_path: Path) -> None:
    first, second = invite(call_id="a", transport="TCP"), invite(call_id="b", transport="TCP")
    frames = [ipv6_tcp(b"", 99, flags=0x02),
              ipv6_tcp(first[:50], 100),
              ipv6_tcp(first[:50], 100),                       # retransmission
              ipv6_tcp(first[50:] + second[:10], 150),
              ipv6_tcp(second[5:], 150 + len(first) - 50 + 5),  # overlaps 5 bytes already read
              ipv6_tcp(b"", 0, flags=0x11)]
    path = tmp_path / "tcp.pcap"
    write_pcap(path, frames, 101)
    events, _, _ = read_evidence([path])
    assert [(e.call_id, e.transport, e.src) for e in events] == [("a", "tcp", "2001:db8:100::166"),
                                                                ("b", "tcp", "2001:db8:100::166")]


def test_tcp_gap_resynchronises_at_the_next_message() -> None:
    streams = _Streams(4, 1 << 16, Budget(Limits()))
    key = ("a", 1, "b", 2)
    message = invite(call_id="x")
    assert streams.feed(key, 1000, 0x18, message[:30]) == []
    assert streams.feed(key, 5000, 0x18, b"garbage in the middle") == []   # gap, not a message start
    assert streams.feed(key, 9000, 0x18, message) == [message]             # gap, at a message start


def test_tcp_stream_count_is_bounded() -> None:
    budget = Budget(Limits())
    streams = _Streams(2, 1 << 16, budget)
    for n in range(5):
        streams.feed(("a", n, "b", 2), 1, 0x18, invite()[:40])
    assert len(streams.streams) == 2 and "max_tcp_streams" in budget.reached


def test_stream_bytes_are_bounded() -> None:
    budget = Budget(Limits())
    streams = _Streams(2, 1000, budget)
    key = ("a", 1, "b", 2)
    streams.feed(key, 1, 0x18, b"INVITE sip:x SIP/2.0\r\n" + b"X: y\r\n" * 100)
    streams.feed(key, 1 + 622, 0x18, b"X: y\r\n" * 100)
    assert "max_stream_bytes" in budget.reached and not streams.streams[key].buffer


def test_byte_limit_cuts_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "many.pcap"
    write_pcap(path, [ipv4_udp(invite(call_id=str(n))) for n in range(50)], 101)
    result = diagnose([path], limits=Limits(max_bytes_per_file=2000))
    assert result.files[0].cut_at_byte_limit
    assert 0 < result.files[0].sip_messages < 50


def test_message_limit(tmp_path: Path) -> None:
    path = tmp_path / "many.pcap"
    write_pcap(path, [ipv4_udp(invite(call_id=str(n))) for n in range(50)], 101)
    result = diagnose([path], limits=Limits(max_messages=10))
    assert result.files[0].sip_messages == 10 and result.limits_reached == ["max_messages"]


def test_truncated_capture_keeps_what_was_read(tmp_path: Path) -> None:
    path = tmp_path / "cut.pcap"
    packets = [ipv4_udp(invite(call_id=str(n))) for n in range(3)]
    write_pcap(path, packets, 101)
    path.write_bytes(path.read_bytes()[:-(16 + len(packets[-1]) - 8)])  # 8 bytes of the last record header left
    result = diagnose([path])
    assert result.files[0].sip_messages == 2 and result.files[0].skipped == 1


def test_one_bad_file_among_good_ones_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\xff" * 10)
    result = diagnose([bad, DATA / "lo-legit.pcap"])
    assert result.files[0].error and "pcap" in result.files[0].error
    assert result.verdict == Verdict.NO_SCAN


def test_no_evidence_and_missing_files() -> None:
    with pytest.raises(InvalidValue):
        diagnose([])
    with pytest.raises(InvalidValue):
        diagnose(["/nonexistent/capture.pcap"])


def test_unknown_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("the phone rang at 3am\n")
    with pytest.raises(ParseError):
        diagnose([path])


def test_overlong_log_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "full"
    text = (FORMATS / "asterisk-full.log").read_text()
    path.write_text("[2026-12-05 01:00:00] NOTICE[1] x.c: " + "A" * 5000 + "\n" + text)
    events, reports, _ = read_evidence([path], Limits(max_line_bytes=1024))
    assert reports[0].skipped >= 1 and len(events) == 6


@pytest.mark.parametrize("kwargs", [{"phones": ["not-an-ip"]}, {"providers": ["198.51.100.300"]}])
def test_named_addresses_are_validated(kwargs: dict[str, list[str]]) -> None:
    with pytest.raises(InvalidValue):
        diagnose([DATA / "lo-legit.pcap"], **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0, -5, True])
def test_limits_are_validated(value: int) -> None:
    with pytest.raises(InvalidValue):
        Limits(max_packets=value)
