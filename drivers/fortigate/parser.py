"""Readers of FortiOS REST answers (facts: ``docs/facts/fortigate.md``, rows ``F<n>``). Nothing read is trusted:
every field is type-checked, and an entry that cannot be read is skipped (forwards) or refused (the envelope)."""

from __future__ import annotations

import ipaddress
import json
import logging
from dataclasses import dataclass
from typing import Any

from routerfix.errors import InvalidValue, ParseError
from routerfix.model import AddressRange, DhcpScope, Lease, Neighbour, PortForward, Protocol, Reservation

__all__ = ["Envelope", "ServerScope", "dhcp_scope", "forwards", "leases", "neighbours", "parse_envelope",
           "sip_alg_on", "vip_forward"]

log = logging.getLogger("routerfix.drivers.fortigate")

SIP_HELPER = "sip"


@dataclass(frozen=True)
class Envelope:
    """One FortiOS answer (F4): ``status``, ``http_status``, ``results`` and, on a refusal, the ``error`` code."""

    ok: bool
    http_status: int
    results: Any
    error: str
    mkey: str


def parse_envelope(text: str, page: str) -> Envelope:
    """The JSON envelope of an answer (F4, F5); anything else is a :class:`ParseError`."""
    try:
        data = json.loads(text)
    except ValueError:
        raise ParseError(page, "the answer is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("status"), str):
        raise ParseError(page, "the answer has no FortiOS status")
    status = data.get("http_status")
    code = status if isinstance(status, int) and not isinstance(status, bool) else 0
    error = data.get("error")
    return Envelope(ok=data["status"] == "success", http_status=code, results=data.get("results"),
                    error="" if error is None else str(error)[:64], mkey=str(data.get("mkey", ""))[:80])


def _text(entry: dict[str, Any], key: str) -> str:
    value = entry.get(key, "")
    return value if isinstance(value, str) else str(value) if isinstance(value, int) else ""


def _names(value: Any) -> list[str]:
    """A FortiOS table of references ``[{"name": …}]`` (F9) as names."""
    if not isinstance(value, list):
        return []
    return [str(item["name"]) for item in value if isinstance(item, dict) and isinstance(item.get("name"), str)]


def _first_mapped(value: Any) -> str:
    ranges = [item.get("range") for item in value if isinstance(item, dict)] if isinstance(value, list) else []
    first = ranges[0] if ranges and isinstance(ranges[0], str) else ""
    return first.split("-")[0].strip()


def vip_forward(vip: dict[str, Any], policies: list[dict[str, Any]], wan: str) -> PortForward | None:
    """A VIP (F7) as a forward: enabled when an enabled accept policy has it as its destination (F9); WAN-only when
    its ``extintf`` is the WAN interface. A VIP without port forwarding maps every port (both protocols)."""
    name = _text(vip, "name")
    address = _first_mapped(vip.get("mappedip"))
    if not name or not address or _text(vip, "type") not in ("", "static-nat"):
        return None
    enabled = any(_text(p, "status") != "disable" and _text(p, "action") == "accept"
                  and name in _names(p.get("dstaddr")) for p in policies)
    try:
        if _text(vip, "portforward") != "enable":
            return PortForward(name, Protocol.BOTH, "1-65535", address, enabled=enabled,
                               wan_only=_text(vip, "extintf") == wan, ref=name[:80])
        protocol = _text(vip, "protocol") or "tcp"
        if protocol not in ("tcp", "udp"):
            return None
        ext = _text(vip, "extport")
        mapped = _text(vip, "mappedport")
        return PortForward(name, protocol, ext, address, mapped if mapped not in ("", "0") else None,
                           enabled=enabled, wan_only=_text(vip, "extintf") == wan, ref=name[:80])
    except InvalidValue:
        log.info("fortigate: VIP %r is not a port forward routerfix can read; left alone", name[:40])
        return None


def forwards(vips: Any, policies: Any, wan: str, page: str) -> tuple[PortForward, ...]:
    """Every readable VIP, in device order."""
    if not isinstance(vips, list) or not isinstance(policies, list):
        raise ParseError(page, "the VIP or policy table is not a list")
    rows = [p for p in policies if isinstance(p, dict)]
    out = [vip_forward(v, rows, wan) for v in vips if isinstance(v, dict)]
    return tuple(f for f in out if f is not None)


@dataclass(frozen=True)
class ServerScope:
    """The LAN's DHCP server (F11): its id, interface and scope."""

    id: int
    interface: str
    scope: DhcpScope
    reserved: list[dict[str, Any]]
    """The ``reserved-address`` table as read (what a PUT sends back, F12)."""


def dhcp_scope(servers: Any, lan: str | None, page: str) -> ServerScope:
    """The DHCP server on ``lan`` (or the only enabled one) as a scope."""
    if not isinstance(servers, list):
        raise ParseError(page, "the DHCP server table is not a list")
    rows = [s for s in servers if isinstance(s, dict) and _text(s, "status") != "disable"]
    if lan is not None:
        rows = [s for s in rows if _text(s, "interface") == lan]
    if len(rows) != 1:
        raise ParseError(page, f"{len(rows)} enabled DHCP servers{' on ' + lan if lan else ''}: pass the LAN "
                               f"interface as the lan_interface option")
    server = rows[0]
    try:
        gateway = ipaddress.IPv4Address(_text(server, "default-gateway"))
        network = ipaddress.IPv4Network(f"{gateway}/{_text(server, 'netmask')}", strict=False)
        pools = tuple(AddressRange(_text(r, "start-ip"), _text(r, "end-ip"))
                      for r in server.get("ip-range", []) if isinstance(r, dict))
        reserved = [r for r in server.get("reserved-address", []) if isinstance(r, dict)]
        reservations = []
        for r in reserved:
            if _text(r, "action") in ("", "assign", "reserved") and _text(r, "type") in ("", "mac"):
                reservations.append(Reservation(_text(r, "ip"), _text(r, "mac"), _text(r, "description")[:30]))
        server_id = server.get("id")
        if not isinstance(server_id, int) or isinstance(server_id, bool):
            raise ValueError("id")
        return ServerScope(server_id, _text(server, "interface"),
                           DhcpScope(network, gateway, pools, tuple(reservations)), reserved)
    except (ValueError, InvalidValue) as exc:
        raise ParseError(page, f"unreadable DHCP server ({exc})") from None


def leases(results: Any) -> tuple[Lease, ...]:
    """``monitor/system/dhcp`` (F13): IPv4 leases (``expire_time`` in epoch seconds)."""
    out = []
    for row in results if isinstance(results, list) else []:
        if not isinstance(row, dict):
            continue
        try:
            expires = row.get("expire_time")
            out.append(Lease(_text(row, "ip"), _text(row, "mac"), _text(row, "hostname")[:64],
                             float(expires) if isinstance(expires, int) and not isinstance(expires, bool) else None))
        except InvalidValue:
            continue
    return tuple(out)


def neighbours(results: Any) -> tuple[Neighbour, ...]:
    """``monitor/network/arp`` (F14)."""
    out = []
    for row in results if isinstance(results, list) else []:
        if not isinstance(row, dict):
            continue
        try:
            out.append(Neighbour(_text(row, "ip"), _text(row, "mac")))
        except InvalidValue:
            continue
    return tuple(out)


def sip_alg_on(settings: Any, helpers: Any) -> bool:
    """SIP ALG is on when VoIP traffic goes to the SIP proxy (``default-voip-alg-mode proxy-based``, F15) or a
    ``sip`` session helper is defined (F16)."""
    mode = settings.get("default-voip-alg-mode") if isinstance(settings, dict) else None
    named = [h for h in helpers if isinstance(h, dict) and h.get("name") == SIP_HELPER] \
        if isinstance(helpers, list) else []
    return mode == "proxy-based" or bool(named)
