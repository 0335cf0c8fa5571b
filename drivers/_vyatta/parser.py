"""Parsers the VyOS and EdgeOS drivers share (tables, ARP, leases, version, DHCP scope, destination-NAT rule to
forwards). Pure functions; only routerfix errors leave them. Facts: docs/facts/vyos.md, docs/facts/edgeos.md.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Iterable
from enum import StrEnum

from routerfix.errors import InvalidValue, ParseError
from routerfix.model import AddressRange, DeviceFacts, DhcpScope, Lease, Neighbour, PortForward, Protocol, Reservation

from .configtree import Path, rule_table

__all__ = ["RangeSyntax", "dhcp_scope", "make_forward", "order", "parse_arp", "parse_conntrack_deleted",
           "parse_interface_address", "parse_leases", "parse_table", "parse_version", "port_list", "protocol_of"]

_MAC_RE = re.compile(r"\b([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})\b")
_IP_RE = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){3})\b")


def _addr(text: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(text.strip())
    except ValueError:
        return None


def order(numbers: Iterable[str]) -> list[str]:
    """Rule numbers in numeric order (non-numbers last)."""
    return sorted(numbers, key=lambda n: int(n) if n.isdecimal() else 1 << 30)


def protocol_of(value: str | None) -> Protocol | None:
    """``tcp``/``udp``/``tcp_udp``/``all``/absent → a :class:`Protocol` (None for other protocols)."""
    if value in (None, "", "all", "tcp_udp"):
        return Protocol.BOTH
    if value in ("tcp", "udp"):
        return Protocol(value)
    return None


def port_list(value: str | None) -> list[str]:
    """``"5060-5061"``, ``"80,443"`` or absent (all ports) → range strings (``"1-65535"`` for all)."""
    if not value:
        return ["1-65535"]
    return [p.strip() for p in value.split(",") if p.strip()]


def make_forward(name: str, proto: Protocol | None, external: str | None, address: str | None,
                 internal: str | None, *, wan_only: bool, enabled: bool, ref: str) -> list[PortForward]:
    """Forwards for one destination-NAT rule (one per external port list entry); bad values give none."""
    if proto is None or not address:
        return []
    result = []
    externals = port_list(external)
    internals = port_list(internal) if internal else externals
    for i, ports in enumerate(externals):
        inner = internals[i] if i < len(internals) else internals[-1]
        try:
            result.append(PortForward(name, proto, ports, address, inner, enabled, wan_only, ref=ref))
        except InvalidValue:
            continue
    return result


class RangeSyntax(StrEnum):
    """How a dialect writes a DHCP subnet's address range."""

    VYOS = "vyos"
    """``range N start A`` and ``range N stop B``."""
    EDGEOS = "edgeos"
    """``start A stop B``."""


def dhcp_scope(paths: Iterable[Path], *, subnet: str | None = None, mac_keys: tuple[str, ...] = ("mac", "mac-address"),
               ranges: RangeSyntax = RangeSyntax.VYOS) -> tuple[DhcpScope, tuple[str, str]]:
    """The LAN DHCP scope and its ``(shared-network-name, subnet)``.

    :param subnet: the subnet to use (``192.168.1.0/24``); default: the first subnet with a range.
    :param ranges: the dialect's range syntax.
    :raises ParseError: no DHCP subnet with a range.
    """
    paths = list(paths)
    prefix = ("service", "dhcp-server", "shared-network-name")
    candidates: list[tuple[str, str, dict[Path, list[str]]]] = []
    for network_name, body in rule_table(paths, prefix).items():
        subnets: dict[str, dict[Path, list[str]]] = {}
        for sub, values in body.items():
            if len(sub) >= 2 and sub[0] == "subnet":
                subnets.setdefault(sub[1], {}).setdefault(sub[2:], []).extend(values)
            elif len(sub) == 1 and sub[0] == "subnet":
                for v in values:
                    subnets.setdefault(v, {})
        for net, sbody in subnets.items():
            candidates.append((network_name, net, sbody))
    chosen = None
    for network_name, net, sbody in candidates:
        if subnet is not None and net != subnet:
            continue
        has_range = any(k[:1] in (("range",), ("start",)) for k in sbody)
        if has_range:
            chosen = (network_name, net, sbody)
            break
    if chosen is None:
        raise ParseError("show configuration commands", "no DHCP server subnet with an address range" +
                         (f" for {subnet}" if subnet else ""))
    network_name, net, sbody = chosen
    try:
        network = ipaddress.IPv4Network(net, strict=False)
    except ValueError:
        raise ParseError("show configuration commands", f"bad DHCP subnet {net!r}") from None
    pools: list[AddressRange] = []
    if ranges == RangeSyntax.VYOS:
        starts = {k[1]: v[0] for k, v in sbody.items() if len(k) == 3 and k[0] == "range" and k[2] == "start"}
        stops = {k[1]: v[0] for k, v in sbody.items() if len(k) == 3 and k[0] == "range" and k[2] == "stop"}
        pairs: list[tuple[str, str]] = [(starts[n], stops.get(n, "")) for n in starts]
    else:
        pairs = [(k[1], v[0]) for k, v in sbody.items() if len(k) == 3 and k[0] == "start" and k[2] == "stop"]
    for first, last in pairs:
        a, b = _addr(first), _addr(last)
        if a is None or b is None or a > b or a not in network or b not in network:
            continue
        pools.append(AddressRange(a, b))
    if not pools:
        raise ParseError("show configuration commands", f"the DHCP subnet {net} has no usable range")
    gateway = None
    router_keys: tuple[Path, ...] = (("option", "default-router"), ("default-router",))
    for key in router_keys:
        if key in sbody:
            gateway = _addr(sbody[key][0])
            if gateway:
                break
    if gateway is None:
        gateway = next(network.hosts())
    mappings: dict[str, dict[str, str]] = {}
    for key, values in sbody.items():
        if len(key) == 3 and key[0] == "static-mapping":
            mappings.setdefault(key[1], {})[key[2]] = values[0]
    reservations = []
    for name, fields in mappings.items():
        address = _addr(fields.get("ip-address", ""))
        mac = next((fields[k] for k in mac_keys if k in fields), None)
        if address is None or mac is None:
            continue
        try:
            reservations.append(Reservation(address, mac, name))
        except InvalidValue:
            continue
    return DhcpScope(network, gateway, tuple(pools), tuple(reservations)), (network_name, net)


def parse_table(text: str) -> list[dict[str, str]]:
    """Rows of a fixed-width table with a dashed rule under its header, keyed by header text.

    Column *starts* come from the dashes; a cell runs to the next column's start (values may be wider than
    their dashes).
    """
    if not isinstance(text, str):
        return []
    lines = text.replace("\r", "").split("\n")
    for i in range(1, len(lines)):
        rule = lines[i]
        if not re.fullmatch(r"\s*-{2,}(?:\s+-{2,})*\s*", rule):
            continue
        header = lines[i - 1]
        starts = [m.start() for m in re.finditer(r"-+", rule)]
        names = []
        for j, start in enumerate(starts):
            end = starts[j + 1] if j + 1 < len(starts) else None
            names.append(header[start:end].strip())
        rows = []
        for line in lines[i + 1:]:
            if not line.strip():
                continue
            cells = {}
            for j, start in enumerate(starts):
                end = starts[j + 1] if j + 1 < len(starts) else None
                cells[names[j]] = line[start:end].strip()
            rows.append(cells)
        return rows
    return []


def _expiry(text: str) -> float | None:
    for fmt in ("%Y/%m/%d %H:%M:%S", "%b %d, %Y", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.datetime.strptime(text.strip(), fmt).replace(tzinfo=datetime.UTC).timestamp()
        except ValueError:
            continue
    return None


def parse_leases(text: str, *, source: str = "show dhcp server leases") -> tuple[Lease, ...]:
    """DHCP leases from a leases table (VyOS ``show dhcp server leases``, EdgeOS ``show dhcp leases``).

    ``Warning:`` lines before the table are ignored; rows without an address and MAC are skipped.
    """
    if not isinstance(text, str):
        raise ParseError(source, "not text")
    leases = []
    for row in parse_table(text):
        values = list(row.values())
        ip = _addr(values[0]) if values else None
        mac_cell = next((v for k, v in row.items() if "mac" in k.lower() or "hardware" in k.lower()), "")
        m = _MAC_RE.fullmatch(mac_cell)
        if ip is None or m is None:
            continue
        state = row.get("State", "active")
        if state and state not in ("active", ""):
            continue
        host = next((v for k, v in row.items() if k.lower() in ("hostname", "client name")), "")
        expires = next((v for k, v in row.items() if k.lower() == "lease expiration"), "")
        try:
            leases.append(Lease(ip, m.group(1), "" if host in ("-", "?") else host, _expiry(expires)))
        except InvalidValue:
            continue
    return tuple(leases)


def parse_arp(text: str) -> tuple[Neighbour, ...]:
    """Neighbours from ``show arp`` in any of its layouts: a line starting with an IPv4 address and holding a MAC
    (incomplete/failed entries have none and are skipped)."""
    if not isinstance(text, str):
        raise ParseError("show arp", "not text")
    result = []
    for line in text.replace("\r", "").split("\n"):
        ip = _IP_RE.match(line.strip())
        mac = _MAC_RE.search(line)
        if ip is None or mac is None:
            continue
        address = _addr(ip.group(1))
        if address is None or mac.group(1) == "00:00:00:00:00:00":
            continue
        try:
            result.append(Neighbour(address, mac.group(1)))
        except InvalidValue:
            continue
    return tuple(result)


def parse_interface_address(text: str, interface: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address of ``interface`` in ``show interfaces`` (None when it has none)."""
    if not isinstance(text, str):
        return None
    for line in text.replace("\r", "").split("\n"):
        words = line.split()
        if words and words[0] == interface:
            for word in words[1:]:
                m = re.fullmatch(r"(\d{1,3}(?:\.\d{1,3}){3})/\d{1,2}", word)
                if m and _addr(m.group(1)):
                    return _addr(m.group(1))
    return None


def parse_conntrack_deleted(text: str) -> int:
    """The count in ``conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted.`` (-1 if absent)."""
    m = re.search(r"(\d+) flow entr(?:y|ies) ha(?:s|ve) been deleted", text if isinstance(text, str) else "")
    return int(m.group(1)) if m else -1


def parse_version(text: str, vendor: str, hostname: str = "") -> DeviceFacts:
    """``show version``: ``Version:`` and ``Hardware model:``/``HW model:`` lines."""
    if not isinstance(text, str):
        raise ParseError("show version", "not text")
    fields: dict[str, str] = {}
    for line in text.replace("\r", "").split("\n"):
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())
    version = fields.get("version")
    if not version:
        raise ParseError("show version", "no 'Version:' line")
    model = fields.get("hardware model") or fields.get("hw model") or vendor
    return DeviceFacts(vendor, model, version, hostname)
