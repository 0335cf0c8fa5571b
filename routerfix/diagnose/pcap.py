"""Read SIP messages out of a packet capture (pcap or pcapng) with dpkt, imported on first use.

UDP datagrams and TCP streams on any port, over IPv4 and IPv6, on the link types tcpdump and Wireshark write on
Linux and elsewhere (Ethernet, Linux cooked v1/v2, raw IP, BSD loopback). TCP streams are followed in sequence
order; a gap (lost or unseen segment) drops that stream's buffer and resumes at the next message start.
Everything is bounded by :class:`~routerfix.diagnose.limits.Limits`; malformed input raises only routerfix errors.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from routerfix.diagnose.limits import BoundedReader, Budget
from routerfix.diagnose.sip import MAX_MESSAGE_BYTES, Origin, SipEvent, looks_like_sip, parse_sip
from routerfix.errors import ParseError

__all__ = ["PCAP_MAGICS", "PCAPNG_MAGIC", "CaptureStats", "is_capture", "read_capture"]

PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

# link-layer header types (tcpdump.org/linktypes.html)
_NULL, _ETHERNET, _RAW_OLD1, _RAW_OLD2, _RAW, _LOOP, _SLL, _IPV4, _IPV6, _SLL2 = 0, 1, 12, 14, 101, 108, 113, \
    228, 229, 276
_ETH_IPV4, _ETH_IPV6, _ETH_VLAN, _ETH_QINQ = 0x0800, 0x86DD, 0x8100, 0x88A8


@dataclass
class CaptureStats:
    """What reading one capture found."""

    packets: int = 0
    sip_messages: int = 0
    skipped: int = 0
    bytes_cut: bool = False
    link_type: int = -1


def is_capture(head: bytes) -> bool:
    """True when the first bytes of a file are a pcap or pcapng magic number."""
    return head[:4] in PCAP_MAGICS or head[:4] == PCAPNG_MAGIC


def _network(link: int, frame: bytes) -> tuple[int, bytes] | None:
    """(ethertype, network-layer bytes) of a frame, or None for a frame that carries no IP."""
    if link == _ETHERNET:
        if len(frame) < 14:
            return None
        kind, offset = struct.unpack_from("!H", frame, 12)[0], 14
        while kind in (_ETH_VLAN, _ETH_QINQ) and len(frame) >= offset + 4:
            kind, offset = struct.unpack_from("!H", frame, offset + 2)[0], offset + 4
        return kind, frame[offset:]
    if link == _SLL:
        return (struct.unpack_from("!H", frame, 14)[0], frame[16:]) if len(frame) >= 16 else None
    if link == _SLL2:
        return (struct.unpack_from("!H", frame, 0)[0], frame[20:]) if len(frame) >= 20 else None
    if link in (_NULL, _LOOP):
        if len(frame) < 4:
            return None
        family = struct.unpack_from("<I" if link == _NULL and frame[0] else "!I", frame, 0)[0]
        return (_ETH_IPV4 if family == 2 else _ETH_IPV6), frame[4:]
    if link in (_RAW, _RAW_OLD1, _RAW_OLD2, _IPV4, _IPV6):
        if not frame:
            return None
        return (_ETH_IPV4 if frame[0] >> 4 == 4 else _ETH_IPV6), frame
    return None


@dataclass
class _Stream:
    next_seq: int | None
    buffer: bytearray


class _Streams:
    """TCP stream reassembly, bounded in streams and bytes; yields complete SIP messages (framed by
    Content-Length, RFC 3261 §18.3)."""

    def __init__(self, max_streams: int, max_bytes: int, budget: Budget) -> None:
        self.streams: dict[tuple[str, int, str, int], _Stream] = {}
        self.max_streams = max_streams
        self.max_bytes = max_bytes
        self.budget = budget

    def feed(self, key: tuple[str, int, str, int], seq: int, flags: int, data: bytes) -> list[bytes]:
        stream = self.streams.get(key)
        if flags & 0x05:  # FIN or RST: the stream ends after this segment
            self.streams.pop(key, None)
            return self._frame(_Stream(None, bytearray()), data) if data and looks_like_sip(data) else []
        if not data:
            return []
        if stream is None:
            if not looks_like_sip(data):
                return []
            if len(self.streams) >= self.max_streams:
                self.budget.hit("max_tcp_streams")
                self.streams.pop(next(iter(self.streams)))
            stream = self.streams[key] = _Stream(None, bytearray())
        if stream.next_seq is not None:
            delta = (seq - stream.next_seq) & 0xFFFFFFFF
            if delta >= 0x80000000:  # retransmission of what was already read (maybe with more at the end)
                overlap = (stream.next_seq - seq) & 0xFFFFFFFF
                if overlap >= len(data):
                    return []
                data, seq = data[overlap:], stream.next_seq
            elif delta:  # a gap: resynchronise at a message start
                stream.buffer.clear()
                if not looks_like_sip(data):
                    stream.next_seq = (seq + len(data)) & 0xFFFFFFFF
                    return []
        stream.next_seq = (seq + len(data)) & 0xFFFFFFFF
        return self._frame(stream, data)

    def _frame(self, stream: _Stream, data: bytes) -> list[bytes]:
        stream.buffer += data
        if len(stream.buffer) > self.max_bytes:
            self.budget.hit("max_stream_bytes")
            stream.buffer.clear()
            return []
        out: list[bytes] = []
        while stream.buffer:
            while stream.buffer[:2] == b"\r\n":  # keep-alive CRLFs (RFC 5626 §3.5.1)
                del stream.buffer[:2]
            end = stream.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            length = 0
            for line in bytes(stream.buffer[:end]).split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() in (b"content-length", b"l"):
                    text = value.strip()
                    length = int(text) if text.isdigit() and len(text) < 9 else 0
                    break
            total = end + 4 + length
            if total > MAX_MESSAGE_BYTES:
                stream.buffer.clear()
                break
            if len(stream.buffer) < total:
                break
            out.append(bytes(stream.buffer[:total]))
            del stream.buffer[:total]
        return out


def _open(path: Path, limit: int) -> tuple[Any, BoundedReader, Any]:
    import dpkt.pcap
    import dpkt.pcapng

    try:
        raw = path.open("rb")
    except OSError as exc:
        raise ParseError(str(path), f"cannot read: {exc.strerror}") from None
    bounded = BoundedReader(raw, limit)
    head = raw.read(4)
    raw.seek(0)
    try:
        reader = dpkt.pcapng.Reader(bounded) if head == PCAPNG_MAGIC else dpkt.pcap.Reader(bounded)
    except Exception as exc:  # noqa: BLE001 - dpkt raises ValueError, struct.error, dpkt.Error... on bad headers
        raw.close()
        raise ParseError(str(path), f"not a readable pcap/pcapng file ({type(exc).__name__}: {exc})") from None
    return reader, bounded, raw


def read_capture(path: Path, budget: Budget, stats: CaptureStats) -> Iterator[SipEvent]:
    """Yield every SIP message in the capture at ``path``, within ``budget``."""
    import dpkt

    reader, bounded, raw = _open(path, budget.limits.max_bytes_per_file)
    streams = _Streams(budget.limits.max_tcp_streams, budget.limits.max_stream_bytes, budget)
    name = path.name
    try:
        stats.link_type = int(reader.datalink())
        packets = iter(reader)
        while True:
            try:
                timestamp, frame = next(packets)
            except StopIteration:
                break
            except Exception:  # noqa: BLE001 - a truncated or corrupt record ends the readable part of the file
                stats.skipped += 1
                break
            if not budget.take_packet():
                break
            stats.packets += 1
            found = _network(stats.link_type, bytes(frame))
            if found is None:
                continue
            try:
                yield from _sip_in(found, float(timestamp), name, streams, budget, stats)
            except (dpkt.UnpackError, struct.error, ValueError, IndexError):  # ParseError is a ValueError
                stats.skipped += 1
            if budget.messages >= budget.limits.max_messages:
                budget.hit("max_messages")
                break
    finally:
        stats.bytes_cut = bounded.cut
        raw.close()


def _sip_in(found: tuple[int, bytes], timestamp: float, name: str, streams: _Streams, budget: Budget,
            stats: CaptureStats) -> Iterator[SipEvent]:
    import socket

    import dpkt.ip
    import dpkt.ip6
    import dpkt.tcp
    import dpkt.udp

    kind, data = found
    packet: Any
    if kind not in (_ETH_IPV4, _ETH_IPV6):
        return
    try:  # dpkt decodes bytes from the network: any exception it raises is a packet it could not read
        if kind == _ETH_IPV4:
            packet = dpkt.ip.IP(data)
            src, dst = socket.inet_ntop(socket.AF_INET, packet.src), socket.inet_ntop(socket.AF_INET, packet.dst)
            fragment = bool(packet.mf or packet.offset)
        else:
            packet = dpkt.ip6.IP6(data)
            src, dst = socket.inet_ntop(socket.AF_INET6, packet.src), socket.inet_ntop(socket.AF_INET6, packet.dst)
            fragment = False
        segment = packet.data
    except Exception:  # noqa: BLE001 - e.g. AttributeError from dpkt's IPv6 extension headers on crafted bytes
        stats.skipped += 1
        return
    if fragment:  # a fragment: SIP over fragmented UDP is not reassembled
        stats.skipped += 1
        return
    if isinstance(segment, dpkt.udp.UDP):
        payload = bytes(segment.data)
        if looks_like_sip(payload) and budget.take_message():
            stats.sip_messages += 1
            yield parse_sip(payload, source=name, origin=Origin.CAPTURE, time=timestamp, transport="udp",
                            src=src, sport=segment.sport, dst=dst, dport=segment.dport)
    elif isinstance(segment, dpkt.tcp.TCP):
        for message in streams.feed((src, segment.sport, dst, segment.dport), segment.seq, segment.flags,
                                    bytes(segment.data)):
            if not budget.take_message():
                return
            stats.sip_messages += 1
            yield parse_sip(message, source=name, origin=Origin.CAPTURE, time=timestamp, transport="tcp",
                            src=src, sport=segment.sport, dst=dst, dport=segment.dport)
