"""Parsers for TP-Link's legacy ``/userRpm/`` pages and the Archer (LuCI) login probe.

Legacy pages carry their data in ``<script>`` blocks of the form::

    var DHCPDynList = new Array(
    "host", "00-11-22-33-44-55", "192.168.0.100", "01:23:45",
    0,0 );

(two trailing zeros close every array) [C] ``AlexandrErohin/TP-Link-Archer-C6U:
tplinkrouterc6u/client/wdr.py`` (``_parseRawHTML``/``_parseDataBlock``; leases are 4-tuples host, MAC, IP,
lease time; reservations in ``FixMapCfgRpm.htm`` are 3-tuples MAC, IP, state; DHCP settings are enabled,
start, end, lease, gateway, domain, dns1, dns2; ``NetworkCfgRpm.htm`` holds the netmask at index 3).
Virtual-server rows are 5-tuples ExPort, InPort, IP, Protocol (1 ALL, 2 TCP, 3 UDP), State (1 on) — the
field names of the ``Save`` query are [C] (consumer-web.md §3c), the array names and row layout are [I].
The virtual-server table has **no name column**: rule names are derived (see :func:`vs_forwards`).

Only :class:`routerfix.errors.ParseError` leaves these parsers.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any

from routerfix.errors import InvalidValue, ParseError
from routerfix.model import Lease, PortRange, Protocol, Reservation

__all__ = [
    "CUSTOMER_RULE_NAME",
    "PROTO_CODE",
    "VsRow",
    "is_archer_keys_reply",
    "parse_arrays",
    "parse_dhcp",
    "parse_lan",
    "parse_leases",
    "parse_reservations",
    "parse_vs_rows",
]

PROTO_CODE = {Protocol.BOTH: 1, Protocol.TCP: 2, Protocol.UDP: 3}
"""``Protocol`` values of the virtual-server form (1 = ALL)."""
_CODE_PROTO = {v: k for k, v in PROTO_CODE.items()}
CUSTOMER_RULE_NAME = "virtual-server"
"""The name given to rules that are not routerfix's (the device stores no names)."""

_ARRAY_RE = re.compile(r"var\s+([A-Za-z_]\w*)\s*=\s*new\s+Array\s*\((.*?)\)\s*;", re.S)
_ITEM_RE = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|(-?\d+))\s*(?:,|$)', re.S)


def parse_arrays(html: str, page: str) -> dict[str, list[str | int]]:
    """Every ``var X = new Array(...)`` of a page, trailing ``0,0`` removed. Values are str or int."""
    if not isinstance(html, str):
        raise ParseError(page, "not text")
    out: dict[str, list[str | int]] = {}
    for m in _ARRAY_RE.finditer(html):
        body = m.group(2).strip()
        items: list[str | int] = []
        pos = 0
        while pos < len(body):
            im = _ITEM_RE.match(body, pos)
            if im is None or im.end() == pos:
                raise ParseError(page, f"unreadable array {m.group(1)}")
            items.append(im.group(1) if im.group(1) is not None else int(im.group(2)))
            pos = im.end()
        if items[-2:] != [0, 0]:
            raise ParseError(page, f"array {m.group(1)} does not end with 0,0")
        out.setdefault(m.group(1), items[:-2])
    return out


def _need(arrays: dict[str, list[str | int]], name: str, page: str) -> list[str | int]:
    if name not in arrays:
        raise ParseError(page, f"no {name} in the page (logged out, or another firmware?)")
    return arrays[name]


def _ip(value: str | int, page: str, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(str(value).strip())
    except ValueError:
        raise ParseError(page, f"bad {what} {value!r}") from None


@dataclass(frozen=True)
class VsRow:
    """One virtual-server row as the device shows it (``index`` is its 0-based position)."""

    index: int
    external: PortRange
    internal: PortRange | None
    address: ipaddress.IPv4Address
    protocol: Protocol
    enabled: bool


def parse_vs_rows(arrays: dict[str, list[str | int]], page: str = "VirtualServerRpm.htm") -> list[VsRow]:
    """Rows of ``virServerListPara`` (5 values each)."""
    values = _need(arrays, "virServerListPara", page)
    if len(values) % 5:
        raise ParseError(page, "the rule table is not made of 5-value rows")
    rows = []
    for i in range(0, len(values), 5):
        ext, internal, ip, proto, state = values[i:i + 5]
        try:
            external = PortRange.parse(str(ext), "ExPort")
            inner = PortRange.parse(str(internal), "InPort") if str(internal).strip() else None
        except InvalidValue as exc:
            raise ParseError(page, f"row {i // 5}: {exc.message}") from None
        if not isinstance(proto, int) or proto not in _CODE_PROTO or state not in (0, 1):
            raise ParseError(page, f"row {i // 5}: bad protocol/state {proto!r}/{state!r}")
        rows.append(VsRow(i // 5, external, inner, _ip(ip, page, "address"), _CODE_PROTO[proto], state == 1))
    return rows


def parse_dhcp(arrays: dict[str, list[str | int]], page: str = "LanDhcpServerRpm.htm"
               ) -> tuple[bool, ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """``DHCPPara``: (enabled, first, last)."""
    values = _need(arrays, "DHCPPara", page)
    if len(values) < 3:
        raise ParseError(page, "DHCPPara is too short")
    first, last = _ip(values[1], page, "pool start"), _ip(values[2], page, "pool end")
    if last < first:
        raise ParseError(page, f"pool {first}-{last} runs backwards")
    return values[0] == 1, first, last


def parse_lan(arrays: dict[str, list[str | int]], page: str = "NetworkCfgRpm.htm") -> ipaddress.IPv4Interface:
    """``lanPara``: the router's LAN address and netmask (indexes 1 and 3)."""
    values = _need(arrays, "lanPara", page)
    if len(values) < 4:
        raise ParseError(page, "lanPara is too short")
    try:
        return ipaddress.IPv4Interface(f"{str(values[1]).strip()}/{str(values[3]).strip()}")
    except ValueError:
        raise ParseError(page, f"bad LAN address {values[1]!r}/{values[3]!r}") from None


def parse_leases(arrays: dict[str, list[str | int]], page: str = "AssignedIpAddrListRpm.htm") -> list[Lease]:
    """``DHCPDynList`` 4-tuples (host, MAC, IP, lease time)."""
    values = _need(arrays, "DHCPDynList", page)
    if len(values) % 4:
        raise ParseError(page, "the client list is not made of 4-value rows")
    out = []
    for i in range(0, len(values), 4):
        try:
            out.append(Lease(str(values[i + 2]), str(values[i + 1]), str(values[i])))
        except InvalidValue as exc:
            raise ParseError(page, f"row {i // 4}: {exc.message}") from None
    return out


def parse_reservations(arrays: dict[str, list[str | int]], page: str = "FixMapCfgRpm.htm"
                       ) -> list[tuple[int, Reservation, bool]]:
    """``dhcpList`` 3-tuples (MAC, IP, state) as (index, reservation, enabled); names are not stored."""
    values = _need(arrays, "dhcpList", page)
    if len(values) % 3:
        raise ParseError(page, "the reservation list is not made of 3-value rows")
    out = []
    for i in range(0, len(values), 3):
        try:
            out.append((i // 3, Reservation(str(values[i + 1]), str(values[i])), values[i + 2] == 1))
        except InvalidValue as exc:
            raise ParseError(page, f"row {i // 3}: {exc.message}") from None
    return out


def is_archer_keys_reply(text: str) -> bool:
    """True when ``text`` is the JSON an Archer (LuCI) firmware answers to ``login?form=keys``
    (``{"success": true, "data": {"password": [n, e]}}``) [C] tplinkrouterc6u ``c6u.py``."""
    try:
        data: Any = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return False
    if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
        return False
    password = data["data"].get("password")
    return isinstance(password, list) and len(password) == 2
