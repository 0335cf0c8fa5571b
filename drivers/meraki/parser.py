"""Parsers and builders for the Meraki Dashboard API v1 bodies; facts: ``docs/facts/meraki.md`` (rows ``M<n>``).

Only :class:`routerfix.errors.ParseError` (or :class:`~routerfix.errors.InvalidValue` for the caller's own
input) leaves these functions. Raw rule objects are kept whole so a read-modify-write never loses a field.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from routerfix import jsonread
from routerfix.errors import InvalidValue, ParseError
from routerfix.model import AddressRange, DhcpScope, Neighbour, PortForward, Protocol, Reservation

__all__ = ["forward_to_rule", "load", "parse_clients", "parse_fixed", "parse_rules", "parse_scope",
           "reservation_entry"]

_PROTO_IN = {"tcp": Protocol.TCP, "udp": Protocol.UDP}


def load(text: str, source: str) -> Any:
    """JSON from an API answer."""
    return jsonread.load(text, source, "the answer is not JSON (is this the Meraki Dashboard API?)")


def parse_rules(data: Any, source: str) -> tuple[list[dict[str, Any]], list[PortForward]]:
    """``{"rules": [...]}`` (M3) → the raw rules (kept whole) and their forwards (``ref`` = index). A rule whose
    ports do not read as one port or range (M5, inferred: port lists such as ``"80,443"``) is refused, never
    guessed."""
    def read(i: int, rule: dict[str, Any], proto: Protocol) -> PortForward:
        return PortForward(str(rule.get("name") or ""), proto, jsonread.text(rule, "publicPort", source),
                           jsonread.text(rule, "lanIp", source), jsonread.text(rule, "localPort", source), ref=str(i))

    return jsonread.forwards_from_rules(data, source, _PROTO_IN, read)


def _ports(ports: Any) -> str:
    return str(ports.start) if len(ports) == 1 else f"{ports.start}-{ports.end}"


def forward_to_rule(forward: PortForward) -> dict[str, Any]:
    """The API rule for ``forward`` (M4): one protocol per rule, open to any remote address, both uplinks."""
    if forward.protocol not in (Protocol.TCP, Protocol.UDP):
        raise InvalidValue("protocol", str(forward.protocol), "tcp or udp: a Meraki rule carries one protocol")
    if not forward.enabled:
        raise InvalidValue("enabled", "False", "an enabled rule: Meraki rules have no on/off switch")
    internal = forward.internal_ports or forward.external_ports
    return {"name": forward.name, "lanIp": str(forward.internal_address), "uplink": "both",
            "publicPort": _ports(forward.external_ports), "localPort": _ports(internal),
            "allowedIps": ["any"], "protocol": str(forward.protocol)}


def parse_fixed(data: Any, source: str) -> dict[str, dict[str, Any]]:
    """``fixedIpAssignments`` of a VLAN (M8): ``{mac: {"ip", "name"}}``."""
    fixed = data.get("fixedIpAssignments", {}) if isinstance(data, dict) else None
    if fixed is None:
        fixed = {}
    if not isinstance(fixed, dict) or not all(isinstance(v, dict) for v in fixed.values()):
        raise ParseError(source, "'fixedIpAssignments' is not an object of objects")
    return fixed


def parse_scope(data: Any, source: str) -> DhcpScope:
    """The DHCP scope of a VLAN or of the single LAN (``subnet``, ``applianceIp``; M7, M9). The MX hands out
    the whole subnet except ``reservedIpRanges`` (M10), so the pool is the subnet's hosts."""
    if not isinstance(data, dict):
        raise ParseError(source, "not an object")
    try:
        network = ipaddress.IPv4Network(jsonread.text(data, "subnet", source), strict=False)
        gateway = ipaddress.IPv4Address(jsonread.text(data, "applianceIp", source))
        hosts = (network.network_address + 1, network.broadcast_address - 1)
        reservations = tuple(Reservation(str(v.get("ip")), mac, str(v.get("name") or ""))
                             for mac, v in parse_fixed(data, source).items())
        return DhcpScope(network, gateway, (AddressRange(str(hosts[0]), str(hosts[1])),), reservations)
    except (InvalidValue, ValueError) as exc:
        raise ParseError(source, f"unreadable LAN settings ({exc})") from None


def reservation_entry(reservation: Reservation) -> dict[str, str]:
    """A ``fixedIpAssignments`` value (M8)."""
    return {"ip": str(reservation.address), "name": reservation.name}


def parse_clients(data: Any, source: str) -> list[Neighbour]:
    """Clients (M11): one neighbour per client with an IPv4 address."""
    out = []
    for item in jsonread.objects(data, None, source, "client"):
        if not item.get("ip") or not item.get("mac"):
            continue
        try:
            out.append(Neighbour(str(item["ip"]), str(item["mac"]), str(item.get("description") or "")))
        except InvalidValue:
            continue  # an IPv6-only or odd entry says nothing about the IPv4 LAN
    return out
