"""Read SIP messages out of text logs: sipp ``-trace_msg``, Asterisk ``full``/console (chan_pjsip packet logger
and failed-request notices) and security logs, Kamailio sipdump text files. Each format's source is a row of
docs/facts/diagnose.md. Lines are bounded (:attr:`Limits.max_line_bytes`); a line that is not understood is
skipped, never interpreted."""

from __future__ import annotations

import re
import time as _time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from routerfix.diagnose.limits import BoundedReader, Budget
from routerfix.diagnose.sip import Origin, SipEvent, host_of, looks_like_sip, parse_sip
from routerfix.errors import ParseError

__all__ = ["LOCAL", "LogFormat", "LogStats", "read_log", "sniff_log"]

LOCAL = "(logging host)"
"""The address of the device that wrote a log, where the log does not say it."""


class LogFormat(StrEnum):
    """Text log formats diagnose reads."""

    SIPP_TRACE = "sipp-trace"
    ASTERISK = "asterisk"
    KAMAILIO_SIPDUMP = "kamailio-sipdump"


@dataclass
class LogStats:
    """What reading one log found."""

    format: LogFormat | None = None
    records: int = 0
    sip_messages: int = 0
    skipped: int = 0
    bytes_cut: bool = False


_SIPP_HEAD = re.compile(r"^-{20,} (.*)$")
_SIPP_KIND = re.compile(r"^(UDP|TCP|TLS|SCTP|WS\w*) (?:control )?message (sent|received) [\[(]\d+")
_AST_PREFIX = re.compile(r"^\[([^\]]{6,40})\] ?(\w+)\[\d+\](?:\[[^\]]*\])*:? ?\S+:(?:\d+ )?")
_AST_LOGGER = re.compile(r"<--- (Received|Transmitting) SIP (request|response) \(\d+ bytes\) (?:from|to) "
                         r"(\w+):(\[[0-9A-Fa-f:.]+\]|[^:\s]+):(\d+) --->")
_AST_FAILED = re.compile(r"Request '([A-Z]{2,12})' from '(.*)' failed for '(\[[0-9A-Fa-f:.]+\]|[^':]+):(\d+)' "
                         r"\(callid: ([^)]*)\) - (.*?)(?: after \d+ tries.*)?$")
_AST_SECURITY = re.compile(r'SecurityEvent="(\w+)".*?RemoteAddress="IPV[46]/(\w+)/([^/"]+)/(\d+)"')
_AST_ACCOUNT = re.compile(r'AccountID="([^"]*)"')
_KAM_FIELD = re.compile(r"^(tag|time|proto|srcip|srcport|dstip|dstport): (.*)$")
_AST_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%b %d %H:%M:%S")


def sniff_log(head: str) -> LogFormat | None:
    """Which log format ``head`` (the first kilobytes of a file) is, or None."""
    if re.search(r"^-{20,} .*\n(?:UDP|TCP|TLS|SCTP)\S* (?:control )?message (?:sent|received)", head, re.M):
        return LogFormat.SIPP_TRACE
    if re.search(r"^={20}\ntag: \w+\n", head, re.M):
        return LogFormat.KAMAILIO_SIPDUMP
    if re.search(r"res_pjsip_logger\.c|pjsip_distributor\.c|SecurityEvent=\"|<--- (?:Received|Transmitting) SIP",
                 head):
        return LogFormat.ASTERISK
    return None


def _lines(reader: BoundedReader, limit: int, stats: LogStats) -> Iterator[str]:
    while True:
        raw = reader.readline(limit)
        if not raw:
            return
        if not raw.endswith(b"\n") and len(raw) >= limit:  # an over-long line: skip the rest of it
            stats.skipped += 1
            while (more := reader.readline(limit)) and not more.endswith(b"\n"):
                pass
            continue
        yield raw.decode("utf-8", "replace").rstrip("\r\n")


def _ast_time(stamp: str) -> float | None:
    text = stamp.split(".")[0].strip()
    for fmt in _AST_TIME_FORMATS:
        try:
            parsed = _time.strptime(text, fmt)
        except ValueError:
            continue
        if parsed.tm_year == 1900:
            return None
        return _time.mktime(parsed)
    return None


def read_log(path: Path, budget: Budget, stats: LogStats) -> Iterator[SipEvent]:
    """Yield every SIP message (or failed-request record) in the log at ``path``, within ``budget``."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise ParseError(str(path), f"cannot read: {exc.strerror}") from None
    try:
        head = raw.read(65536).decode("utf-8", "replace")
        raw.seek(0)
        found = sniff_log(head)
        if found is None:
            raise ParseError(str(path), "not a packet capture nor a known SIP log (sipp -trace_msg, Asterisk full "
                                        "or security log, Kamailio sipdump)")
        stats.format = found
        reader = BoundedReader(raw, budget.limits.max_bytes_per_file)
        lines = _lines(reader, budget.limits.max_line_bytes, stats)
        parse: Callable[[Iterator[str], str, Budget, LogStats], Iterator[SipEvent]] = {
            LogFormat.SIPP_TRACE: _sipp, LogFormat.ASTERISK: _asterisk, LogFormat.KAMAILIO_SIPDUMP: _kamailio,
        }[found]
        try:
            yield from parse(lines, path.name, budget, stats)
        except OSError as exc:  # the file went away or the disk failed mid-way: keep what was read
            raise ParseError(str(path), f"read failed after {stats.records} records: {exc.strerror}") from None
        stats.bytes_cut = reader.cut
    finally:
        raw.close()


def _blocks(lines: Iterator[str], start: Callable[[str], bool], limit: int) -> Iterator[list[str]]:
    """Group lines into blocks that each begin at a line where ``start`` is true (bounded to ``limit`` lines)."""
    block: list[str] = []
    for line in lines:
        if start(line):
            if block:
                yield block
            block = [line]
        elif block and len(block) < limit:
            block.append(line)
    if block:
        yield block


def _message(lines: list[str]) -> bytes:
    """The SIP message in ``lines`` (from its start line to the blank line after the headers)."""
    body: list[str] = []
    for line in lines:
        if not body and not line.strip():
            continue
        if body and not line.strip():
            break
        body.append(line.strip() if not body else line)
    return ("\r\n".join(body) + "\r\n\r\n").encode("utf-8", "replace")


def _emit(message: bytes, budget: Budget, stats: LogStats, **where: object) -> Iterator[SipEvent]:
    if not looks_like_sip(message):
        stats.skipped += 1
        return
    try:
        event = parse_sip(message, **where)  # type: ignore[arg-type]
    except ParseError:
        stats.skipped += 1
        return
    if budget.take_message():
        stats.sip_messages += 1
        yield event


def _sipp(lines: Iterator[str], name: str, budget: Budget, stats: LogStats) -> Iterator[SipEvent]:
    """sipp -trace_msg: '----- <time>' then '<TRANSPORT> message sent|received ...' then the message. The
    trace names no addresses: the sender is the top Via's sent-by (received=/rport where present), the receiver
    of a received message is the host running sipp, and of a sent request its Request-URI host."""
    for block in _blocks(lines, lambda line: bool(_SIPP_HEAD.match(line)), 400):
        if not budget.take_packet():
            return
        stats.records += 1
        kind = _SIPP_KIND.match(block[1]) if len(block) > 1 else None
        if not kind:
            stats.skipped += 1
            continue
        stamp = _SIPP_HEAD.match(block[0])
        when = _sipp_time(stamp.group(1) if stamp else "")
        message = _message(block[2:])
        for event in _emit(message, budget, stats, source=name, origin=Origin.SIPP_TRACE, time=when,
                           transport=kind.group(1).lower(), src=None, sport=None, dst=None, dport=None):
            yield _locate(event, received=kind.group(2) == "received", message=message)


def _sipp_time(text: str) -> float | None:
    """sipp's trace time stamp: 'YYYY-MM-DD HH:MM:SS.ffffff' in the sipp host's local time (or epoch seconds)."""
    found = re.match(r"\s*(\d{4}-\d{2}-\d{2})[ \t]+(\d{2}:\d{2}:\d{2})(\.\d+)?", text)
    if found:
        try:
            stamp = _time.mktime(_time.strptime(f"{found.group(1)} {found.group(2)}", "%Y-%m-%d %H:%M:%S"))
        except (ValueError, OverflowError):
            return None
        return stamp + float(found.group(3) or 0)
    for part in reversed(text.split()):
        try:
            value = float(part)
        except ValueError:
            continue
        if 1e9 < value < 1e11:
            return value
    return None


def _locate(event: SipEvent, *, received: bool, message: bytes) -> SipEvent:
    """Fill in the addresses a sipp trace leaves out (see :func:`_sipp`)."""
    if received:
        return replace(event, src=event.via_host or None, sport=event.via_port, dst=LOCAL)
    dst = None
    if event.is_request:
        first = message.split(b"\r\n", 1)[0].decode("utf-8", "replace").split()
        dst = host_of(first[1]) if len(first) > 1 else None
    return replace(event, src=LOCAL, dst=dst or None)


def _asterisk(lines: Iterator[str], name: str, budget: Budget, stats: LogStats) -> Iterator[SipEvent]:
    """Asterisk full/console log: pjsip packet logger blocks, failed-request notices, security events."""
    pending: tuple[re.Match[str], float | None] | None = None
    held: list[str] = []
    for line in lines:
        prefix = _AST_PREFIX.match(line)
        logger = _AST_LOGGER.search(line)
        if pending is not None and (prefix or logger):
            yield from _ast_packet(pending, held, name, budget, stats)
            pending, held = None, []
        if logger:
            if not budget.take_packet():
                return
            stats.records += 1
            pending, held = (logger, _ast_time(prefix.group(1)) if prefix else None), []
            continue
        if pending is not None:
            if len(held) < 400:
                held.append(line)
            continue
        if not prefix:
            continue
        failed, security = _AST_FAILED.search(line), _AST_SECURITY.search(line)
        if not failed and not security:
            continue
        if not budget.take_packet():
            return
        stats.records += 1
        when = _ast_time(prefix.group(1))
        event: SipEvent
        if failed:
            method, sender, host, port, call_id, reason = failed.groups()
            try:
                sip = parse_sip(f"{method} sip:pbx SIP/2.0\r\nFrom: {sender}\r\n\r\n".encode(), source=name,
                                origin=Origin.ASTERISK, time=when, transport="?", src=host.strip("[]"),
                                sport=int(port) if len(port) < 6 else None, dst=LOCAL, dport=None)
            except ParseError:
                stats.skipped += 1
                continue
            event = replace(sip, call_id=call_id[:200], request_user="", line=f"{method} (Asterisk: {reason[:120]})",
                            notes=(reason[:120],))
        else:
            assert security is not None
            kind, transport, host, port = security.groups()
            account = _AST_ACCOUNT.search(line)
            event = SipEvent(source=name, origin=Origin.ASTERISK, time=when, transport=transport.lower()[:8],
                             src=host.strip("[]")[:100], sport=int(port) if len(port) < 6 else None, dst=LOCAL,
                             dport=None, method="", request_user=(account.group(1) if account else "")[:200],
                             line=f"SecurityEvent {kind[:60]}", notes=(kind[:60],))
        if budget.take_message():
            stats.sip_messages += 1
            yield event
    if pending is not None:
        yield from _ast_packet(pending, held, name, budget, stats)


def _ast_packet(pending: tuple[re.Match[str], float | None], held: list[str], name: str, budget: Budget,
                stats: LogStats) -> Iterator[SipEvent]:
    logger, when = pending
    direction, _, transport, host, port = logger.groups()
    address, number = host.strip("[]"), int(port) if len(port) < 6 else None
    received = direction == "Received"
    yield from _emit(_message(held), budget, stats, source=name, origin=Origin.ASTERISK, time=when,
                     transport=transport.lower()[:8], src=address if received else LOCAL,
                     sport=number if received else None, dst=LOCAL if received else address,
                     dport=None if received else number)


def _kamailio(lines: Iterator[str], name: str, budget: Budget, stats: LogStats) -> Iterator[SipEvent]:
    """Kamailio sipdump text: '====================', 'key: value' lines, '~~~~~~~~~~~~~~~~~~~~', the message,
    '||||||||||||||||||||'."""
    for block in _blocks(lines, lambda line: line == "=" * 20, 400):
        if not budget.take_packet():
            return
        stats.records += 1
        fields: dict[str, str] = {}
        message: list[str] = []
        in_message = False
        for line in block[1:]:
            if line == "~" * 20:
                in_message = True
            elif line == "|" * 20:
                break
            elif in_message:
                message.append(line)
            elif (found := _KAM_FIELD.match(line)) is not None:
                fields[found.group(1)] = found.group(2).strip()
        try:
            when: float | None = float(fields.get("time", ""))
        except ValueError:
            when = None
        ports = [int(p) if p.isdigit() and len(p) < 6 else None for p in (fields.get("srcport", ""),
                                                                         fields.get("dstport", ""))]
        yield from _emit(_message(message), budget, stats, source=name, origin=Origin.KAMAILIO, time=when,
                         transport=fields.get("proto", "?").split(" ")[0][:8], src=fields.get("srcip") or None,
                         sport=ports[0], dst=fields.get("dstip") or None, dport=ports[1])
