"""One SIP message seen in the evidence (:class:`SipEvent`) and the bounded parser that reads its start line and
the few headers diagnosis needs (RFC 3261 §7, compact forms §7.3.3; see docs/facts/diagnose.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from routerfix.errors import ParseError

__all__ = ["MAX_MESSAGE_BYTES", "Origin", "SipEvent", "looks_like_sip", "parse_sip"]

MAX_MESSAGE_BYTES = 65_535
"""A SIP message longer than this (the largest UDP payload) is cut here before parsing."""
MAX_FIELD = 200
"""Every text field kept from a message is cut to this many characters."""

_METHOD = re.compile(rb"^([A-Z]{3,12}) (\S{1,2048}) SIP/2\.0\r?$")
_STATUS = re.compile(rb"^SIP/2\.0 (\d{3})(?: .*)?\r?$")
_START = re.compile(rb"^(?:[A-Z]{3,12} \S+ SIP/2\.0|SIP/2\.0 \d{3})")
_COMPACT = {"f": "from", "t": "to", "i": "call-id", "v": "via", "m": "contact", "l": "content-length"}
_WANTED = {"from", "to", "call-id", "via", "user-agent", "server", "content-length", "cseq"}
_USER = re.compile(r"<?\s*(?:sips?|tel):([^@;>?\s]*)")
_DISPLAY = re.compile(r'^\s*"((?:[^"\\]|\\.)*)"|^\s*([^<"]+?)\s*<')
_VIA = re.compile(r"SIP/2\.0/([A-Za-z]+)\s+(\[[0-9A-Fa-f:.]+\]|[^\s:;,]+)(?::(\d+))?([^,]*)")
_RECEIVED = re.compile(r";\s*received=([0-9A-Fa-f:.\[\]]+)")
_RPORT = re.compile(r";\s*rport=(\d+)")
_HOST = re.compile(r"^(?:sips?:)?(?:[^@]*@)?(\[[0-9A-Fa-f:.]+\]|[^:;>?]+)")


class Origin(StrEnum):
    """What kind of evidence a message came from."""

    CAPTURE = "capture"
    SIPP_TRACE = "sipp-trace"
    ASTERISK = "asterisk"
    KAMAILIO = "kamailio"


@dataclass(frozen=True)
class SipEvent:
    """A SIP message (or a log line that stands for one). Addresses are None where the evidence does not say;
    ``dst`` of a message a device logged as received is that device (``"(logging host)"``)."""

    source: str
    origin: Origin
    time: float | None
    transport: str
    src: str | None
    sport: int | None
    dst: str | None
    dport: int | None
    method: str | None = None
    status: int | None = None
    request_user: str = ""
    from_user: str = ""
    from_display: str = ""
    to_user: str = ""
    user_agent: str = ""
    call_id: str = ""
    cseq_method: str = ""
    via_host: str = ""
    via_port: int | None = None
    line: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def is_request(self) -> bool:
        """True for a request (it has a method), False for a response."""
        return self.method is not None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")[:MAX_FIELD]


def looks_like_sip(payload: bytes) -> bool:
    """True when ``payload`` starts like a SIP request or response."""
    return bool(_START.match(payload[:2100]))


def host_of(uri: str) -> str:
    """The host part of a SIP URI or Via sent-by (brackets of an IPv6 reference removed)."""
    found = _HOST.match(uri.strip().lstrip("<"))
    return found.group(1).strip("[]") if found else ""


def parse_sip(payload: bytes, *, source: str, origin: Origin, time: float | None, transport: str,
              src: str | None, sport: int | None, dst: str | None, dport: int | None) -> SipEvent:
    """Parse one SIP message. Raises :class:`~routerfix.errors.ParseError` when the start line is not SIP."""
    data = payload[:MAX_MESSAGE_BYTES]
    head, _, _ = data.partition(b"\r\n\r\n")
    if head == data:
        head, _, _ = data.partition(b"\n\n")
    lines = head.split(b"\n")
    first = lines[0].rstrip(b"\r")
    method: str | None = None
    status: int | None = None
    request_user = ""
    request = _METHOD.match(first)
    if request:
        method = request.group(1).decode("ascii")
        user = _USER.match(_text(request.group(2)))
        request_user = user.group(1) if user else ""
    else:
        response = _STATUS.match(first)
        if not response:
            raise ParseError(f"{source}", f"not a SIP start line: {_text(first)[:80]!r}")
        status = int(response.group(1))
    headers: dict[str, str] = {}
    for raw in lines[1:200]:
        name, sep, value = raw.partition(b":")
        if not sep:
            continue
        key = name.strip().decode("latin-1").lower()
        key = _COMPACT.get(key, key)
        if key in _WANTED and key not in headers:
            headers[key] = value.strip().decode("utf-8", "replace")[:1000]
    from_value = headers.get("from", "")
    from_user = _USER.search(from_value)
    display = _DISPLAY.match(from_value)
    via = _VIA.search(headers.get("via", ""))
    via_host, via_port = "", None
    if via:
        params = via.group(4)
        received, rport = _RECEIVED.search(params), _RPORT.search(params)
        via_host = (received.group(1) if received else via.group(2)).strip("[]")
        port_text = rport.group(1) if rport else via.group(3)
        via_port = int(port_text) if port_text and int(port_text) < 65536 else None
    to_user = _USER.search(headers.get("to", ""))
    cseq = headers.get("cseq", "").split()
    return SipEvent(
        source=source, origin=origin, time=time, transport=transport, src=src, sport=sport, dst=dst, dport=dport,
        method=method, status=status, request_user=request_user[:MAX_FIELD],
        from_user=(from_user.group(1) if from_user else "")[:MAX_FIELD],
        from_display=(next((g for g in display.groups() if g), "") if display else "").strip()[:MAX_FIELD],
        to_user=(to_user.group(1) if to_user else "")[:MAX_FIELD],
        user_agent=(headers.get("user-agent") or headers.get("server") or "")[:MAX_FIELD],
        call_id=headers.get("call-id", "")[:MAX_FIELD], cseq_method=cseq[1][:20] if len(cseq) > 1 else "",
        via_host=via_host[:MAX_FIELD], via_port=via_port, line=_text(first))
