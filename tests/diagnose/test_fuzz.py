"""Generated input for every diagnose reader: only routerfix errors come out, and nothing hangs
(like tests/hardening/test_parser_fuzz.py)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from routerfix.diagnose import Limits, diagnose, read_evidence
from routerfix.diagnose.limits import Budget
from routerfix.diagnose.pcap import PCAPNG_MAGIC, _network, _Streams
from routerfix.diagnose.sip import Origin, parse_sip
from routerfix.errors import RouterfixError

EXAMPLES = int(os.environ.get("ROUTERFIX_FUZZ_EXAMPLES", "0")) or 200
_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
DATA = Path(__file__).parent / "data"
FORMATS = Path(__file__).parent / "formats"

_SIP_TOKENS = [b"INVITE ", b"OPTIONS ", b"SIP/2.0", b"SIP/2.0 ", b"200 OK", b"sip:", b"sips:", b"@", b"\r\n", b"\n",
               b"\r\n\r\n", b"Via: ", b"v: ", b"SIP/2.0/UDP ", b"[2001:db8::1]", b":5060", b";received=", b";rport=",
               b"99999999", b"From: ", b"f: ", b"\"", b"<", b">", b"Call-ID: ", b"CSeq: 1 ", b"User-Agent: ",
               b"Content-Length: ", b"l: ", b"-1", b"\x00", b"\xff", "é".encode(), b"\x1b[31m"]
SIP = st.lists(st.sampled_from(_SIP_TOKENS) | st.binary(max_size=8), max_size=40).map(b"".join)
_LOG_TOKENS = ["-" * 47 + " ", "2026-12-05 01:02:03.4", "UDP message received [12] bytes :",
               "UDP message sent (1 bytes):",
               "TCP message received [9] bytes:", "\n", "\n\n", "INVITE sip:100@x SIP/2.0", "SIP/2.0 180 Ringing",
               "Via: SIP/2.0/UDP 1.2.3.4:5060", "From: \"1000\" <sip:1000@x>", "[2026-12-05 01:02:03] ",
               "VERBOSE[1] res_pjsip_logger.c: ", "<--- Received SIP request (5 bytes) from UDP:1.2.3.4:5060 --->",
               "<--- Transmitting SIP response (5 bytes) to TCP:[::1]:99999 --->", "NOTICE[2] ",
               "res_pjsip/pjsip_distributor.c: ", "Request 'INVITE' from '<sip:a@b>' failed for '1.2.3.4:5060' ",
               "(callid: x) - No matching endpoint found", "SecurityEvent=\"InvalidAccountID\",",
               "RemoteAddress=\"IPV4/UDP/1.2.3.4/5060\"", "=" * 20, "~" * 20, "|" * 20, "tag: rcv", "srcip: ",
               "srcport: 70000", "time: nan", "proto: udp ipv4", "\x00", "\u202e"]
LOG = st.lists(st.sampled_from(_LOG_TOKENS) | st.text(max_size=6), max_size=60).map("".join)


def _pcap_header(linktype: int) -> bytes:
    return b"\xd4\xc3\xb2\xa1" + (2).to_bytes(2, "little") + (4).to_bytes(2, "little") + bytes(8) + \
        (65535).to_bytes(4, "little") + linktype.to_bytes(4, "little")


def _record(frame: bytes, caplen: int | None = None) -> bytes:
    size = len(frame) if caplen is None else caplen
    return (1).to_bytes(4, "little") + bytes(4) + size.to_bytes(4, "little") + len(frame).to_bytes(4, "little") + frame


@_SETTINGS
@given(SIP)
def test_parse_sip_raises_only_routerfix_errors(payload: bytes) -> None:
    try:
        event = parse_sip(payload, source="f", origin=Origin.CAPTURE, time=None, transport="udp", src="a", sport=1,
                          dst="b", dport=2)
    except RouterfixError:
        return
    assert len(event.user_agent) <= 200 and len(event.line) <= 200


@_SETTINGS
@given(st.sampled_from([0, 1, 12, 101, 113, 228, 229, 276, 9999]), st.binary(max_size=120))
def test_link_layer_never_raises(linktype: int, frame: bytes) -> None:
    _network(linktype, frame)


@_SETTINGS
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2**32 - 1), st.integers(0, 255), SIP), max_size=20))
def test_tcp_streams_never_raise_and_stay_bounded(segments: list[tuple[int, int, int, bytes]]) -> None:
    streams = _Streams(2, 512, Budget(Limits()))
    for key, seq, flags, data in segments:
        for message in streams.feed(("a", key, "b", 5060), seq, flags, data):
            assert len(message) <= 65535
        assert len(streams.streams) <= 2
        assert all(len(s.buffer) <= 512 for s in streams.streams.values())


def _check(path: Path) -> None:
    try:
        result = diagnose([path], limits=Limits(max_packets=500, max_bytes_per_file=1 << 20))
    except RouterfixError:
        return
    assert result.to_dict()["verdict"]
    result._repr_html_()


@_SETTINGS
@given(st.sampled_from([1, 101, 113, 276, 0]), st.lists(st.tuples(SIP | st.binary(max_size=60),
                                                                 st.none() | st.integers(0, 2**32 - 1)),
                                                       max_size=8))
@example(0, [(b"\x00" * 10 + b",", 60), (b"\x00" * 14, None), (b"", 16777216), (b"", None)])  # dpkt's IPv6
# extension headers raised AttributeError ('IP6HopOptsHeader' ... 'frag_off'), found by this test in a full run
def test_pcap_files(linktype: int, records: list[tuple[bytes, int | None]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.pcap"
        path.write_bytes(_pcap_header(linktype) + b"".join(_record(f, c) for f, c in records))
        _check(path)


@_SETTINGS
@given(st.binary(max_size=300))
def test_pcapng_and_pcap_garbage(tail: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for head in (PCAPNG_MAGIC, b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4"):
            path = Path(tmp) / "f.cap"
            path.write_bytes(head + tail)
            _check(path)


@_SETTINGS
@given(st.binary(min_size=0, max_size=600), st.integers(0, 20000))
def test_real_capture_damaged(noise: bytes, where: int) -> None:
    original = (DATA / "lo-scan-reaching.pcapng").read_bytes()
    where %= len(original)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "damaged.pcapng"
        path.write_bytes(original[:where] + noise + original[where + len(noise):])
        _check(path)


@_SETTINGS
@given(LOG)
def test_text_logs(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log"
        path.write_text(text, encoding="utf-8", errors="replace")
        _check(path)


def test_enough_inputs() -> None:
    assert EXAMPLES * 7 >= 1000


def test_huge_claimed_lengths_do_not_allocate(tmp_path: Path) -> None:
    """A record that claims 4 GB of capture and a pcapng block that claims 4 GB are read within the byte limit."""
    pcap = tmp_path / "huge.pcap"
    pcap.write_bytes(_pcap_header(1) + _record(b"x" * 10, caplen=0xFFFFFFF0))
    pcapng = tmp_path / "huge.pcapng"
    pcapng.write_bytes(PCAPNG_MAGIC + (0xFFFFFFF0).to_bytes(4, "little") + b"\x4d\x3c\x2b\x1a" + bytes(64))
    for path in (pcap, pcapng):
        _check(path)
    events, _, _ = read_evidence([FORMATS / "kamailio.data"], Limits(max_bytes_per_file=10))
    assert events == []
