"""Check a site from outside: does anything answer SIP on the WAN address?

:func:`probe` sends one SIP OPTIONS request over UDP and over TCP to ports 5060 and
5061 of the single address the caller names (nothing else is ever contacted), and
reports, per port and transport, whether something answered and the
``User-Agent``/``Server`` header it gave. A mitigated site answers nothing: the
scan packets go to the sink. Every wait is bounded by ``timeout``; the four
checks run in parallel, so a probe takes at most about ``timeout`` seconds.

This is what an MSP runs from outside the customer's network after
``routerfix mitigate`` (``routerfix probe ADDRESS``). TLS on 5061 is not spoken:
a TCP port that accepts the connection but does not answer plain SIP is reported
as ``open``.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from routerfix.enums import PortState
from routerfix.errors import InvalidValue

__all__ = ["DEFAULT_PORTS", "DEFAULT_TIMEOUT", "PortAnswer", "ProbeResult", "parse_address", "probe"]

DEFAULT_PORTS = (5060, 5061)
"""The SIP ports scanners hit and routerfix forwards to the sink."""
DEFAULT_TIMEOUT = 2.0
"""Seconds to wait for each port/transport to answer."""
MAX_TIMEOUT = 30.0
"""The largest timeout accepted (seconds)."""
_TRANSPORTS = ("udp", "tcp")
_MAX_RESPONSE = 8192
_MAX_HEADER_TEXT = 200
_UDP_RETRANSMIT = (0.5, 1.0, 2.0)
"""SIP timer T1 doubling: when to send the UDP request again while nothing has answered."""


@dataclass(frozen=True, kw_only=True)
class PortAnswer:
    """What one port/transport did when probed.

    :param transport: ``"udp"`` or ``"tcp"``.
    :param port: the port probed.
    :param state: a :class:`~routerfix.enums.PortState`: ``"sip"`` (a SIP response came back), ``"open"`` (TCP
        connection accepted, no SIP response), ``"refused"`` (TCP reset or ICMP port unreachable),
        ``"unreachable"`` (ICMP host or network unreachable) or ``"silent"`` (nothing within the timeout).
    :param status: the SIP status line (``"SIP/2.0 200 OK"``) when ``state`` is ``"sip"``.
    :param user_agent: the ``User-Agent`` or ``Server`` header of the response, if any.
    :param detail: a short human explanation.
    :param seconds: how long this check took.
    """

    transport: str
    port: int
    state: PortState
    status: str | None = None
    user_agent: str | None = None
    detail: str = ""
    seconds: float = 0.0

    @property
    def answered(self) -> bool:
        """True when something answered: a SIP response, or a TCP connection accepted."""
        return self.state in (PortState.SIP, PortState.OPEN)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"transport": self.transport, "port": self.port, "answered": self.answered, "state": str(self.state),
                "status": self.status, "user_agent": self.user_agent, "detail": self.detail,
                "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of :func:`probe` for one address."""

    address: str
    timeout: float
    answers: tuple[PortAnswer, ...]
    seconds: float = 0.0

    @property
    def answered(self) -> bool:
        """True when anything answered on any probed port/transport (the site is exposed)."""
        return any(a.answered for a in self.answers)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"address": self.address, "answered": self.answered, "timeout": self.timeout,
                "seconds": round(self.seconds, 3), "answers": [a.to_dict() for a in self.answers]}


def parse_address(value: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Check that ``value`` names exactly one host address to probe.

    Accepts one IPv4 or IPv6 address. Refuses host names (they may resolve to several hosts), networks,
    ranges, lists, and addresses that are not one host (unspecified, multicast, broadcast).

    :raises InvalidValue: anything else.
    """
    expected = "one IPv4 or IPv6 host address (not a name, network, range or list)"
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue("address", value, expected)
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidValue("address", value, expected) from None
    if address.is_unspecified or address.is_multicast or (
            isinstance(address, ipaddress.IPv4Address) and address == ipaddress.IPv4Address("255.255.255.255")):
        raise InvalidValue("address", value, expected)
    return address


def _check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT:
        raise InvalidValue("timeout", timeout, f"seconds, more than 0 and at most {MAX_TIMEOUT:g}")
    return float(timeout)


def _check_ports(ports: Iterable[int]) -> tuple[int, ...]:
    checked = tuple(ports)
    if not checked or any(isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535 for p in checked):
        raise InvalidValue("ports", checked, "one or more ports from 1 to 65535")
    return checked


def _uri_host(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    return f"[{address}]" if address.version == 6 else str(address)


def build_options(address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int, transport: str,
                  local: tuple[str, int], call_id: str) -> bytes:
    """The OPTIONS request sent to ``address``:``port`` (public for tests and documentation)."""
    from routerfix import __version__

    host = _uri_host(address)
    local_host = f"[{local[0]}]" if ":" in local[0] else local[0]
    branch = "z9hG4bK" + secrets.token_hex(8)
    tag = secrets.token_hex(6)
    lines = [
        f"OPTIONS sip:{host}:{port} SIP/2.0",
        f"Via: SIP/2.0/{transport.upper()} {local_host}:{local[1]};branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:routerfix-probe@{local_host}>;tag={tag}",
        f"To: <sip:{host}:{port}>",
        f"Call-ID: {call_id}",
        "CSeq: 1 OPTIONS",
        f"Contact: <sip:routerfix-probe@{local_host}:{local[1]}>",
        "Accept: application/sdp",
        f"User-Agent: routerfix-probe/{__version__}",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def _clean(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text).strip()[:_MAX_HEADER_TEXT]


def parse_response(data: bytes, call_id: str | None = None) -> tuple[str, str | None] | None:
    """``(status line, User-Agent or Server)`` of a SIP response, or None when ``data`` is not a SIP
    response (or answers another Call-ID than ``call_id``). Never raises."""
    text = data[:_MAX_RESPONSE].decode("utf-8", errors="replace")
    head = text.split("\r\n\r\n", 1)[0].split("\n\n", 1)[0]
    lines = [line.rstrip("\r") for line in head.split("\n")]
    if not lines or not lines[0].startswith("SIP/2.0 ") or len(lines[0].split()) < 2 \
            or not lines[0].split()[1].isdigit():
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), value.strip())
    answered_id = headers.get("call-id", headers.get("i"))
    if call_id is not None and answered_id is not None and answered_id != call_id:
        return None
    agent = headers.get("user-agent") or headers.get("server")
    return _clean(lines[0]), (_clean(agent) if agent else None)


def _family(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> socket.AddressFamily:
    return socket.AF_INET6 if address.version == 6 else socket.AF_INET


@dataclass(frozen=True)
class _Answers:
    """Builds the :class:`PortAnswer` of one port/transport check begun at ``start`` (monotonic seconds)."""

    transport: str
    port: int
    start: float

    def __call__(self, state: PortState, detail: str, status: str | None = None,
                 agent: str | None = None) -> PortAnswer:
        return PortAnswer(transport=self.transport, port=self.port, state=state, status=status, user_agent=agent,
                          detail=detail, seconds=time.monotonic() - self.start)


def _probe_udp(address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int, timeout: float) -> PortAnswer:
    start = time.monotonic()
    deadline = start + timeout
    call_id = secrets.token_hex(10) + "@routerfix-probe"

    answer = _Answers("udp", port, start)

    with socket.socket(_family(address), socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((str(address), port))
            local = sock.getsockname()
            request = build_options(address, port, "udp", (local[0], local[1]), call_id)
            sock.send(request)
            resend = [start + t for t in _UDP_RETRANSMIT]
            while True:
                now = time.monotonic()
                if now >= deadline:
                    return answer(PortState.SILENT, f"no answer within {timeout:g} s")
                if resend and now >= resend[0]:
                    resend.pop(0)
                    sock.send(request)
                    continue
                sock.settimeout(max(0.01, min([deadline, *resend[:1]]) - now))
                try:
                    data = sock.recv(_MAX_RESPONSE)
                except TimeoutError:
                    continue
                parsed = parse_response(data, call_id)
                if parsed is not None:
                    return answer(PortState.SIP, "answered SIP", parsed[0], parsed[1])
        except ConnectionRefusedError:
            return answer(PortState.REFUSED, "port unreachable (ICMP): nothing listens")
        except OSError as exc:
            return answer(PortState.UNREACHABLE, _os_detail(exc))


def _probe_tcp(address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int, timeout: float) -> PortAnswer:
    start = time.monotonic()
    deadline = start + timeout
    call_id = secrets.token_hex(10) + "@routerfix-probe"

    answer = _Answers("tcp", port, start)

    with socket.socket(_family(address), socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((str(address), port))
        except TimeoutError:
            return answer(PortState.SILENT, f"no answer within {timeout:g} s")
        except ConnectionRefusedError:
            return answer(PortState.REFUSED, "connection refused: nothing listens")
        except OSError as exc:
            return answer(PortState.UNREACHABLE, _os_detail(exc))
        data = b""
        try:
            local = sock.getsockname()
            sock.sendall(build_options(address, port, "tcp", (local[0], local[1]), call_id))
            while b"\r\n\r\n" not in data and len(data) < _MAX_RESPONSE:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                sock.settimeout(remaining)
                chunk = sock.recv(_MAX_RESPONSE - len(data))
                if not chunk:
                    break
                data += chunk
        except (TimeoutError, OSError):
            pass
        parsed = parse_response(data, call_id)
        if parsed is not None:
            return answer(PortState.SIP, "answered SIP", parsed[0], parsed[1])
        return answer(PortState.OPEN, "connection accepted, no SIP answer (TLS or another service)")


def _os_detail(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}"


def probe(address: str, *, timeout: float = DEFAULT_TIMEOUT, ports: Iterable[int] = DEFAULT_PORTS,
          transports: Iterable[str] = _TRANSPORTS) -> ProbeResult:
    """Send SIP OPTIONS over UDP and TCP to ``ports`` of ``address`` and report who answered.

    Only ``address`` is contacted, once per port and transport (UDP requests are repeated at 0.5, 1 and
    2 s while nothing answers, as SIP does). The checks run in parallel; the whole probe returns within
    about ``timeout`` seconds.

    :param address: one IPv4 or IPv6 address (see :func:`parse_address`).
    :param timeout: seconds to wait for each check, more than 0 and at most 30.
    :param ports: ports to probe (default 5060 and 5061).
    :param transports: ``"udp"`` and/or ``"tcp"``.
    :raises InvalidValue: a bad address, timeout, port or transport.
    :returns: a :class:`ProbeResult`; ``result.answered`` is True when the site is exposed.
    """
    target = parse_address(address)
    limit = _check_timeout(timeout)
    checked_ports = _check_ports(ports)
    chosen = tuple(transports)
    if not chosen or any(t not in _TRANSPORTS for t in chosen):
        raise InvalidValue("transports", chosen, "'udp' and/or 'tcp'")
    jobs = [(t, p) for p in checked_ports for t in chosen]
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="routerfix-probe") as pool:
        futures = [pool.submit(_probe_udp if t == "udp" else _probe_tcp, target, p, limit) for t, p in jobs]
        answers = tuple(f.result(timeout=limit + 5) for f in futures)
    return ProbeResult(str(target), limit, answers, time.monotonic() - start)
