"""Parsers for TP-Link's legacy ``/userRpm/`` pages and the Archer (LuCI) login probe (facts:
docs/facts/tplink.md).

Legacy pages carry their data in ``<script>`` blocks of the form::

    var DHCPDynList = new Array(
    "host", "00-11-22-33-44-55", "192.168.0.100", "01:23:45",
    0,0 );

(two trailing zeros close every array). Paged tables come with a parameter array that declares the page, a
has-next flag, the rows on this page, the row width and the rows per page (:class:`TableLayout`); rows are read
with the width the page declares. The virtual-server table has **no name column**: rule names are derived by the
driver.

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
    "ReservationRow",
    "TableLayout",
    "VsRow",
    "is_archer_keys_reply",
    "parse_arrays",
    "parse_dhcp",
    "parse_lan",
    "parse_leases",
    "parse_layout",
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
class TableLayout:
    """A paged table's parameter array (``virServerPara``, ``DHCPStaticPara``): T5."""

    page: int
    has_next: bool
    rows: int
    """Rows on this page."""
    width: int
    """Values per row."""
    per_page: int

    @property
    def first_index(self) -> int:
        """The table index of this page's first row."""
        return (self.page - 1) * self.per_page

    @property
    def whole_table(self) -> bool:
        """True when this page is the whole table."""
        return self.page == 1 and not self.has_next


def parse_layout(arrays: dict[str, list[str | int]], name: str, page: str) -> TableLayout:
    """The :class:`TableLayout` in array ``name``."""
    values = _need(arrays, name, page)
    if len(values) < 5 or not all(isinstance(v, int) for v in values[:5]):
        raise ParseError(page, f"{name} is not the page/next/rows/width/per-page array this driver knows")
    number, has_next, rows, width, per_page = (int(v) for v in values[:5])
    if number < 1 or has_next not in (0, 1) or rows < 0 or width < 1 or per_page < 1 or rows > per_page:
        raise ParseError(page, f"{name} holds impossible values {values[:5]!r}")
    return TableLayout(number, has_next == 1, rows, width, per_page)


def _rows(arrays: dict[str, list[str | int]], name: str, layout: TableLayout, page: str) -> list[list[str | int]]:
    values = _need(arrays, name, page)
    if len(values) < layout.rows * layout.width:
        raise ParseError(page, f"{name} holds {len(values)} values, fewer than {layout.rows} rows of "
                               f"{layout.width}")
    return [values[i * layout.width:(i + 1) * layout.width] for i in range(layout.rows)]


def _port(value: str | int, page: str, what: str) -> int:
    text = str(value).strip()
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise ParseError(page, f"bad {what} {value!r}")
    return int(text)


@dataclass(frozen=True)
class VsRow:
    """One virtual-server row as the device shows it: ``index`` is its 0-based place in the table (what ``Del=``
    takes), ``page`` the page it is on."""

    index: int
    external: PortRange
    internal: PortRange | None
    address: ipaddress.IPv4Address
    protocol: Protocol
    enabled: bool
    page: int = 1


VS_WIDTHS = (6, 7)
"""Row widths of the virtual-server table this driver reads (T6, T7)."""


def _vs_ports(row: list[str | int], page: str) -> tuple[PortRange, PortRange | None, list[str | int]]:
    """External and internal ports of a 6-value (T6) or 7-value (T7) row, and the rest (IP, protocol, state)."""
    ext = PortRange(_port(row[0], page, "external port"), _port(row[1], page, "external port"))
    if len(row) == 7:
        lo, hi = _port(row[2], page, "internal port"), _port(row[3], page, "internal port")
        inner = PortRange(lo, hi) if lo else None
        return ext, (None if inner == ext else inner), row[4:]
    lo = _port(row[2], page, "internal port")
    if lo in (0, ext.start):  # T6: 0 (or the range start) maps the external ports onto themselves
        return ext, None, row[3:]
    return ext, PortRange(lo, lo + ext.end - ext.start), row[3:]


def parse_vs_rows(arrays: dict[str, list[str | int]], page: str = "VirtualServerRpm.htm") -> list[VsRow]:
    """The rows of one ``VirtualServerRpm.htm`` page, read with the width ``virServerPara`` declares."""
    layout = parse_layout(arrays, "virServerPara", page)
    if layout.width not in VS_WIDTHS:
        raise ParseError(page, f"the virtual-server rows are {layout.width} values wide; this driver reads "
                               f"{' and '.join(map(str, VS_WIDTHS))}-value rows (another firmware?)")
    out = []
    for i, row in enumerate(_rows(arrays, "virServerListPara", layout, page)):
        index = layout.first_index + i
        try:
            external, inner, (ip, proto, state) = _vs_ports(row, page)
        except InvalidValue as exc:
            raise ParseError(page, f"row {index}: {exc.message}") from None
        if not isinstance(proto, int) or proto not in _CODE_PROTO or state not in (0, 1):
            raise ParseError(page, f"row {index}: bad protocol/state {proto!r}/{state!r}")
        out.append(VsRow(index, external, inner, _ip(ip, page, "address"), _CODE_PROTO[proto], state == 1,
                         layout.page))
    return out


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


@dataclass(frozen=True)
class ReservationRow:
    """One ``dhcpList`` row: ``index`` is its 0-based place in the table, ``page`` the page it is on."""

    index: int
    reservation: Reservation
    enabled: bool
    page: int = 1


def parse_reservations(arrays: dict[str, list[str | int]], page: str = "FixMapCfgRpm.htm") -> list[ReservationRow]:
    """The ``dhcpList`` rows (MAC, IP, state: T10) of one ``FixMapCfgRpm.htm`` page; names are not stored."""
    layout = parse_layout(arrays, "DHCPStaticPara", page)
    if layout.width != 3:
        raise ParseError(page, f"the reservation rows are {layout.width} values wide; this driver reads 3")
    out = []
    for i, (mac, ip, state) in enumerate(_rows(arrays, "dhcpList", layout, page)):
        index = layout.first_index + i
        try:
            out.append(ReservationRow(index, Reservation(str(ip), str(mac)), state == 1, layout.page))
        except InvalidValue as exc:
            raise ParseError(page, f"row {index}: {exc.message}") from None
    return out


def is_archer_keys_reply(text: str) -> bool:
    """True when ``text`` is the JSON an Archer (LuCI) firmware answers to ``login?form=keys``
    (``{"success": true, "data": {"password": [n, e]}}``, T18)."""
    try:
        data: Any = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return False
    if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
        return False
    password = data["data"].get("password")
    return isinstance(password, list) and len(password) == 2
