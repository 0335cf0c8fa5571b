"""Small SIP-over-UDP captures for the simulators' live-capture commands (classic pcap, Ethernet link type).

Follows docs/facts/diagnose.md rows K9-K10 (the pcap file layout tcpdump writes with ``-w``: libpcap's savefile
format). Only what a scan and a registration look like on the wire; addresses and texts are the simulator's own.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Datagram", "pcap_file", "scan_exchange", "registration"]

_MAC_A, _MAC_B = b"\x02\x00\x00\x00\x0a\x01", b"\x02\x00\x00\x00\x0a\x02"


@dataclass(frozen=True)
class Datagram:
    """One UDP datagram at a time (seconds since the capture started)."""

    time: float
    src: str
    dst: str
    payload: str
    sport: int = 5060
    dport: int = 5060


def _ip(text: str) -> bytes:
    return bytes(int(part) for part in text.split("."))


def _checksum(header: bytes) -> int:
    total: int = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _frame(d: Datagram) -> bytes:
    payload = d.payload.encode()
    udp = struct.pack("!HHHH", d.sport, d.dport, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, 17, 0, _ip(d.src), _ip(d.dst))
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return _MAC_B + _MAC_A + b"\x08\x00" + header + udp


def pcap_file(datagrams: Iterable[Datagram], start: float = 1764979200.0, snaplen: int = 2048) -> bytes:
    """A pcap savefile (microsecond time stamps, link type 1) holding ``datagrams``."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1)]
    for d in datagrams:
        frame = _frame(d)
        when = start + d.time
        kept = frame[:snaplen]
        out.append(struct.pack("<IIII", int(when), round((when % 1) * 1e6) % 1000000, len(kept), len(frame)))
        out.append(kept)
    return b"".join(out)


def _request(method: str, uri: str, src: str, dst: str, call_id: str, from_user: str, agent: str) -> str:
    return (f"{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {src}:5060;branch=z9hG4bK{call_id}\r\n"
            f"From: \"{from_user}\" <sip:{from_user}@{src}>;tag=1\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\n"
            f"CSeq: 1 {method}\r\nMax-Forwards: 70\r\nUser-Agent: {agent}\r\nContent-Length: 0\r\n\r\n")


def _response(status: str, request: str) -> str:
    keep = [line for line in request.split("\r\n") if line.split(":", 1)[0] in ("Via", "From", "To", "Call-ID", "CSeq")]
    return f"SIP/2.0 {status}\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n"


def registration(time: float, phone: str, provider: str, call_id: str) -> list[Datagram]:
    """A phone's REGISTER to the provider and its ``200 OK``."""
    register = _request("REGISTER", f"sip:{provider}", phone, provider, call_id, "2001", "Yealink SIP-T46S")
    return [Datagram(time, phone, provider, register), Datagram(time + 0.02, provider, phone,
                                                                _response("200 OK", register))]


def scan_exchange(time: float, scanner: str, target: str, call_id: str, *, answered: bool) -> list[Datagram]:
    """A scanner's INVITE to extension 100 from caller ID 1000 (friendly-scanner); ``answered``: the phone at
    ``target`` rings (``180 Ringing``)."""
    invite = _request("INVITE", f"sip:100@{target}", scanner, target, call_id, "1000", "friendly-scanner")
    out = [Datagram(time, scanner, target, invite)]
    if answered:
        out.append(Datagram(time + 0.01, target, scanner, _response("180 Ringing", invite)))
    return out
