"""Parsers for RouterOS v6/v7 CLI output (``print terse``, ``print`` key: value pages, ``/export``).

Facts relied on: docs/facts/mikrotik.md M6 (interleaved log lines), M10-M13 (terse rows: number, flag letters of
either case, ``key=value``; v6 quoting vs v7 unquoted comment first and ``key=`` for empty values; unset properties
left out), M16 (key: value pages), M17/M18 (``/export`` lines and their `` \\`` continuation), M21 (pool ranges),
M22/M23 (static leases), M30-M32 (NAT rules), M43 (escapes in quoted values). Only routerfix errors leave this
module.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from routerfix.errors import InvalidValue, ParseError
from routerfix.model import AddressRange, DhcpScope, PortForward, PortRange, Protocol, Reservation

from .strings import PROPERTY_NAME, decode_escapes

__all__ = ["ANY_MAC", "LanScope", "TerseItem", "forwards_from_rule", "join_export_lines", "parse_address_ranges",
           "parse_key_values", "parse_terse", "parse_version", "static_reservations", "strip_log_lines"]

_LOG_LINE = re.compile(r"^\s*(?:\w{3}/\d\d/\d{4} )?\d\d:\d\d:\d\d \S+: ")
_INDEX = re.compile(r"^\s*(\d+)(?=\s|$)")
_FLAG_TOKEN = re.compile(r"[A-Za-z*]+")  # connections add lower-case s (srcnat) and d (dstnat)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_KEY_AT = re.compile(rf"(?:^|(?<=\s))({PROPERTY_NAME})=")
_KEY = re.compile(rf"({PROPERTY_NAME})=")
_NEXT_KEY = re.compile(rf"\s+{PROPERTY_NAME}=")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
"""A double-quoted value (M43): up to the first quote not escaped by a backslash; a backslash escapes any
character."""
_SPACES = re.compile(r"\s*")


@dataclass(frozen=True)
class TerseItem:
    """One row of ``print terse``: its number, flag letters and properties."""

    index: int
    flags: frozenset[str] = frozenset()
    props: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str = "") -> str:
        """A property value, ``default`` when absent."""
        return self.props.get(key, default)

    @property
    def disabled(self) -> bool:
        """Flag ``X`` or ``disabled=yes``."""
        return "X" in self.flags or self.props.get("disabled") == "yes"

    @property
    def dynamic(self) -> bool:
        """Flag ``D`` (dynamic entry)."""
        return "D" in self.flags or self.props.get("dynamic") == "yes"


@dataclass(frozen=True)
class LanScope:
    """What ``_parse_scope`` read: the DHCP scope and the name of the DHCP server it belongs to."""

    scope: DhcpScope
    server: str


ANY_MAC = "00:00:00:00:00:00"
"""A static lease's ``mac-address`` when none was given (the documented default: any client's MAC)."""


def static_reservations(leases: list[TerseItem]) -> list[Reservation]:
    """Every static (not dynamic) lease with a fixed address, as a reservation (M22, M23).

    A lease identified by ``client-id`` only has no ``mac-address`` in the print; its address is reserved all the same
    (the device refuses a second static lease on it), so it is reported with :data:`ANY_MAC` and named after its
    comment or client-id. Fail-safe: disabled static leases count too (re-enabling one needs no routerfix consent),
    and so do those of other DHCP servers (``server=all``, a server shown by internal id such as ``*1``...): an
    address someone pinned is never a sink."""
    found: list[Reservation] = []
    for lease in leases:
        if lease.dynamic:
            continue
        try:
            address = ipaddress.IPv4Address(lease.get("address"))
        except ValueError:
            continue  # an address pool, not a fixed address
        mac = lease.get("mac-address")
        if not _MAC_TEXT.fullmatch(mac):
            mac = ANY_MAC
        client = lease.get("client-id")
        name = lease.get("comment") or (f"client-id {client}" if client else "")
        found.append(Reservation(address, mac, name))
    return found


_MAC_TEXT = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}")


def strip_log_lines(text: str) -> list[str]:
    """The lines of ``text`` without interleaved log lines (``17:20:06 echo: ...``) and carriage returns."""
    return [line.replace("\r", "") for line in text.split("\n") if not _LOG_LINE.match(line)]


def parse_key_values(text: str, source: str) -> dict[str, str]:
    """Parse ``key=value key="quoted value" key=`` pairs. An unquoted value runs to the next `` key=`` (v7
    prints comments unquoted, spaces included); a quoted one to its first unescaped ``"`` (M43)."""
    props: dict[str, str] = {}
    rest = text.strip()
    end = len(rest)
    pos = 0
    while pos < end:
        match = _KEY.match(rest, pos)
        if match is None:
            raise ParseError(source, f"expected key=value at {rest[pos:pos + 40]!r}")
        key = match.group(1)
        pos = match.end()
        if rest.startswith('"', pos):
            quoted = _QUOTED.match(rest, pos)
            if quoted is None:
                raise ParseError(source, "unterminated quoted value")
            value = decode_escapes(quoted.group(1))
            pos = quoted.end()
            if pos < end and not rest[pos].isspace():
                raise ParseError(source, f"text after the quoted value of {key}")
        else:
            nxt = _NEXT_KEY.search(rest, pos)
            if nxt is None:
                value, pos = rest[pos:].rstrip(), end
            else:
                value, pos = rest[pos:nxt.start()], nxt.start()
        props[key] = value
        pos = _SPACES.match(rest, pos).end()  # type: ignore[union-attr]  # matches the empty string too
    return props


def parse_terse(text: str, source: str) -> list[TerseItem]:
    """Rows of ``print terse`` output (v6 or v7 layout). Header, blank and log lines are skipped; a row that is
    not ``<index> [flags] key=value...`` raises :class:`ParseError`."""
    items: list[TerseItem] = []
    for line in strip_log_lines(text):
        if not line.strip() or line.lstrip().startswith(("Flags:", "Columns:", "#")):
            continue
        match = _INDEX.match(line)
        if match is None:
            raise ParseError(source, f"unexpected line {line.strip()[:60]!r}")
        rest = line[match.end():]
        first_key = _KEY_AT.search(rest)
        head, body = (rest, "") if first_key is None else (rest[: first_key.start()], rest[first_key.start():])
        flags: set[str] = set()
        for token in head.split():
            if not _FLAG_TOKEN.fullmatch(token):
                raise ParseError(source, f"unexpected flags {token[:20]!r}")
            flags.update(token)
        items.append(TerseItem(int(match.group(1)), frozenset(flags), parse_key_values(body, source)))
    return items


def parse_key_value_page(text: str, source: str) -> dict[str, str]:
    """``key: value`` lines (``/system resource print``, ``/system identity print``)."""
    values: dict[str, str] = {}
    for line in strip_log_lines(text):
        if ":" not in line or not line.strip():
            continue
        key, _, value = line.partition(":")
        key = key.strip()
        if re.fullmatch(r"[a-z][a-z0-9\-]*", key):
            values[key] = value.strip()
    return values


def parse_version(text: str) -> tuple[int, int]:
    """``7.16.2 (stable)`` → ``(7, 16)``; raises :class:`ParseError` when there is no version."""
    match = re.match(r"\s*(\d+)\.(\d+)", text)
    if match is None:
        raise ParseError("/system resource print", f"no RouterOS version in {text[:40]!r}")
    return int(match.group(1)), int(match.group(2))


def parse_address_ranges(value: str, source: str) -> list[AddressRange]:
    """A pool's ``ranges=`` value: ``a-b``, single addresses and ``net/len``, comma separated."""
    ranges: list[AddressRange] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            if "/" in part:
                net = ipaddress.IPv4Network(part, strict=False)
                if net.prefixlen >= 31:   # /31 and /32: every address is a host (what net.hosts() gives)
                    ranges.append(AddressRange(net.network_address, net.broadcast_address))
                else:                     # the usable hosts, by arithmetic: a /8 costs no more than a /30
                    ranges.append(AddressRange(net.network_address + 1, net.broadcast_address - 1))
            elif "-" in part:
                first, last = part.split("-", 1)
                ranges.append(AddressRange(first.strip(), last.strip()))
            else:
                ranges.append(AddressRange(part, part))
        except (ValueError, InvalidValue) as exc:
            raise ParseError(source, f"bad address range {part!r}: {exc}") from None
    return ranges


def _ports(value: str, source: str) -> list[PortRange]:
    ports: list[PortRange] = []
    for part in (p.strip() for p in value.split(",") if p.strip()):
        try:
            ports.append(PortRange.parse(part))
        except InvalidValue:
            raise ParseError(source, f"bad port {part!r}") from None
    ports.sort()
    merged: list[PortRange] = []
    for p in ports:
        if merged and p.start <= merged[-1].end + 1:
            merged[-1] = PortRange(merged[-1].start, max(p.end, merged[-1].end))
        else:
            merged.append(p)
    return merged


def forwards_from_rule(item: TerseItem, source: str = "/ip firewall nat print terse") -> list[PortForward]:
    """The port forwards one NAT rule stands for: ``chain=dstnat action=dst-nat|netmap`` with a tcp/udp protocol,
    ``dst-port`` and ``to-addresses`` (other rules give none). A port list gives one forward per contiguous
    range; ``ref`` is the rule's number in the print."""
    p = item.props
    if p.get("chain") != "dstnat" or p.get("action") not in ("dst-nat", "netmap"):
        return []
    proto = p.get("protocol", "")
    if proto not in ("tcp", "udp") or not p.get("dst-port") or not p.get("to-addresses"):
        return []
    target = p["to-addresses"].split("-", 1)[0].strip()
    try:
        address = ipaddress.IPv4Address(target)
    except ValueError:
        return []
    external = _ports(p["dst-port"].lstrip("!"), source)
    if p["dst-port"].startswith("!"):
        return []
    internal = _ports(p["to-ports"], source) if p.get("to-ports") else []
    wan_only = bool(p.get("in-interface-list") or p.get("in-interface")) and not (
        p.get("in-interface-list", "").startswith("!") or p.get("in-interface", "").startswith("!"))
    name = _CONTROL.sub("\ufffd", p.get("comment", ""))  # a control character never vanishes into a valid name
    forwards = []
    for ext in external:
        to_ports = internal[0] if len(internal) == 1 and (len(internal[0]) in (1, len(ext))) else None
        try:
            forwards.append(PortForward(name, Protocol(proto), ext, address, to_ports, enabled=not item.disabled,
                                        wan_only=wan_only, ref=str(item.index)))
        except InvalidValue as exc:
            raise ParseError(source, str(exc)) from None
    return forwards


def join_export_lines(text: str) -> list[str]:
    """``/export`` text as logical lines: continuation lines (`` \\`` at the end, then an indented line) joined,
    comments and log lines dropped."""
    lines: list[str] = []
    current = ""
    for raw in strip_log_lines(text):
        line = raw.rstrip()
        if current:
            current += " " + line.strip()
        else:
            current = line
        if current.endswith("\\"):
            current = current[:-1].rstrip()
            continue
        if current.strip() and not current.lstrip().startswith("#"):
            lines.append(current.strip())
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines
