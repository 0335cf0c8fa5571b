"""Parsers and formatters for ASUSWRT's nvram strings and ``appGet.cgi`` replies (facts: docs/facts/asuswrt.md).

Router output is untrusted: every parser raises only :class:`routerfix.errors.ParseError`. Everything
written is built from validated values and checked once more for the ``<``/``>`` separators, so no field can
inject a rule.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from routerfix.errors import InvalidValue, ParseError
from routerfix.model import Neighbour, PortForward, PortRange, Protocol, Reservation, check_device_name, normalise_mac

__all__ = [
    "ERROR_STATUS",
    "MAX_RULES",
    "MAX_STATICLIST_CHARS",
    "StaticEntry",
    "StaticFormat",
    "VtsRule",
    "decode_nvram",
    "format_static_entry",
    "format_vts_rule",
    "parse_appget",
    "parse_hostnames",
    "static_format",
    "without_hostname",
    "parse_clientlist",
    "parse_staticlist",
    "parse_vts_rulelist",
    "rule_forwards",
]

MAX_RULES = 64
"""``profileMaxNum`` of the virtual-server page (F9)."""
MAX_STATICLIST_CHARS = 2499
"""The longest ``dhcp_staticlist``/``dhcp_hostnames`` the DHCP page submits (F17: 2499 or 2998 by version)."""


class StaticFormat(StrEnum):
    """How a firmware stores a DHCP reservation (F12-F14)."""

    NAME_IN_RECORD = "mac-ip-dns-name"
    """``<MAC>IP>DNS>name`` (stock and Merlin 386.4 and later)."""
    NAMES_APART = "mac-ip-dns+hostnames"
    """``<MAC>IP>DNS`` with the names in ``dhcp_hostnames`` as ``<MAC>name`` (Merlin before 386.4)."""

ERROR_STATUS: dict[str, str] = {
    "1": "NO_TOKEN", "2": "AUTHORIZATION", "3": "CREDENTIALS", "4": "NO_REFERER", "5": "WEB_NO_REFERER",
    "6": "REFERER_FAILED", "7": "TRY_AGAIN", "8": "LOGOUT", "9": "ANOTHER", "10": "CAPTCHA",
    "11": "RESET_REQUIRED",
}
"""``error_status`` codes of ASUSWRT's httpd (F3)."""

_PROTOCOLS = {"TCP": Protocol.TCP, "UDP": Protocol.UDP, "BOTH": Protocol.BOTH}
_PROTO_OUT = {Protocol.TCP: "TCP", Protocol.UDP: "UDP", Protocol.BOTH: "BOTH"}
_PORT_ITEM = re.compile(r"(\d{1,5})(?:[:\-~](\d{1,5}))?")


def decode_nvram(value: str) -> str:
    """An nvram value as appGet.cgi returns it, with ``&#60``/``&#62`` turned back into ``<``/``>``."""
    return value.replace("&#60", "<").replace("&#62", ">")


def parse_appget(text: str, source: str = "appGet.cgi") -> dict[str, Any]:
    """The JSON object of an ``appGet.cgi`` (or ``applyapp.cgi``/``login.cgi``) reply."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        raise ParseError(source, "the reply is not JSON (an HTML page? a firmware with another API?)") from None
    if not isinstance(data, dict):
        raise ParseError(source, f"expected a JSON object, got {type(data).__name__}")
    return data


@dataclass(frozen=True)
class VtsRule:
    """One record of ``vts_rulelist`` as stored (``raw`` is written back untouched)."""

    raw: str
    name: str
    external: str
    address: str
    internal: str
    protocol: str
    source: str = ""


def parse_vts_rulelist(value: str, source: str = "vts_rulelist") -> list[VtsRule]:
    """Split ``vts_rulelist`` (already decoded) into records."""
    if not isinstance(value, str):
        raise ParseError(source, "not a string")
    rules: list[VtsRule] = []
    if not value.strip():
        return rules
    if not value.startswith("<"):
        raise ParseError(source, "the rule list does not start with '<'")
    for raw in value.split("<")[1:]:
        parts = raw.split(">")
        if len(parts) == 7 and parts[6] == "":  # a trailing '>' after the source field
            parts = parts[:6]
        if len(parts) not in (5, 6):
            raise ParseError(source, f"a rule has {len(parts)} fields, expected 5 or 6: {raw[:60]!r}")
        name, external, address, internal, protocol = parts[:5]
        src = parts[5] if len(parts) == 6 else ""
        rules.append(VtsRule(raw="<" + raw, name=name, external=external, address=address, internal=internal,
                             protocol=protocol.upper(), source=src))
    return rules


def _ports(text: str, source: str) -> list[PortRange]:
    out = []
    for item in text.split(","):
        m = _PORT_ITEM.fullmatch(item.strip())
        if m is None:
            raise ParseError(source, f"unreadable port {item!r}")
        try:
            out.append(PortRange(int(m.group(1)), int(m.group(2) or 0)))
        except InvalidValue as exc:
            raise ParseError(source, f"bad port {item!r} ({exc.expected})") from None
    return out


def rule_forwards(rule: VtsRule, ref: str, source: str = "vts_rulelist", *, enabled: bool = True
                  ) -> list[PortForward]:
    """The forwards one record stands for (a port list gives one forward per item; OTHER gives none)."""
    proto = _PROTOCOLS.get(rule.protocol)
    if proto is None:
        if rule.protocol == "OTHER":
            return []
        raise ParseError(source, f"unknown protocol {rule.protocol!r} in rule {rule.name!r}")
    try:
        address = ipaddress.IPv4Address(rule.address.strip())
    except ValueError:
        raise ParseError(source, f"bad address {rule.address!r} in rule {rule.name!r}") from None
    externals = _ports(rule.external, source)
    internal = _ports(rule.internal, source)[0] if rule.internal.strip() else None
    out = []
    for ext in externals:
        inner = internal if internal is not None and len(externals) == 1 else None
        try:
            out.append(PortForward(rule.name, proto, ext, address, inner, enabled=enabled, ref=ref))
        except InvalidValue as exc:
            raise ParseError(source, f"rule {rule.name!r}: {exc.message}") from None
    return out


def _check_field(value: str, what: str) -> str:
    if any(c in value for c in "<>&#\"'\r\n\x00"):
        raise InvalidValue(what, value, "text without '<', '>', '&', '#', quotes or line breaks")
    return value


def format_vts_rule(forward: PortForward) -> str:
    """The ``vts_rulelist`` record for ``forward`` (name checked; internal port left empty when equal)."""
    name = _check_field(check_device_name(forward.name, "forward name"), "forward name")
    ext = f"{forward.external_ports.start}" if len(forward.external_ports) == 1 else \
        f"{forward.external_ports.start}:{forward.external_ports.end}"
    internal = "" if forward.internal_ports == forward.external_ports else str(forward.internal_ports)
    if len(forward.external_ports) > 1 and internal:
        raise InvalidValue("internal_ports", str(forward.internal_ports),
                           "the same ports as external_ports: ASUSWRT maps a range onto itself")
    record = f"<{name}>{ext}>{forward.internal_address}>{internal}>{_PROTO_OUT[forward.protocol]}>"
    _check_field(record.replace("<", "", 1).replace(">", ""), "rule")
    return record


@dataclass(frozen=True)
class StaticEntry:
    """One ``dhcp_staticlist`` record (``raw`` is written back untouched); ``fields`` is its field count."""

    raw: str
    mac: str
    address: ipaddress.IPv4Address
    name: str = ""
    fields: int = 4


def parse_staticlist(value: str, source: str = "dhcp_staticlist") -> list[StaticEntry]:
    """Split ``dhcp_staticlist`` (already decoded) into records: ``<MAC>IP``, ``<MAC>IP>DNS`` or
    ``<MAC>IP>DNS>name`` (F12, F13)."""
    if not isinstance(value, str):
        raise ParseError(source, "not a string")
    out: list[StaticEntry] = []
    if not value.strip():
        return out
    if not value.startswith("<"):
        raise ParseError(source, "the list does not start with '<'")
    for raw in value.split("<")[1:]:
        parts = raw.split(">")
        if len(parts) < 2 or len(parts) > 4:
            raise ParseError(source, f"a record has {len(parts)} fields, expected 2 to 4: {raw[:60]!r}")
        try:
            mac = normalise_mac(parts[0])
            address = ipaddress.IPv4Address(parts[1].strip())
        except (InvalidValue, ValueError):
            raise ParseError(source, f"unreadable record {raw[:60]!r}") from None
        name = parts[3] if len(parts) == 4 else ""
        out.append(StaticEntry(raw="<" + raw, mac=mac, address=address, name=name, fields=len(parts)))
    return out


def parse_hostnames(value: str, source: str = "dhcp_hostnames") -> dict[str, str]:
    """``dhcp_hostnames`` (F14): ``<MAC>name`` records, as MAC (normalised) to name."""
    if not isinstance(value, str):
        raise ParseError(source, "not a string")
    out: dict[str, str] = {}
    if not value.strip():
        return out
    if not value.startswith("<"):
        raise ParseError(source, "the list does not start with '<'")
    for raw in value.split("<")[1:]:
        mac, sep, name = raw.partition(">")
        try:
            out[normalise_mac(mac)] = name if sep else ""
        except InvalidValue:
            raise ParseError(source, f"unreadable record {raw[:60]!r}") from None
    return out


def without_hostname(value: str, mac: str) -> str:
    """``dhcp_hostnames`` without the records of ``mac`` (normalised); the others byte for byte."""
    parse_hostnames(value)
    return "".join("<" + raw for raw in value.split("<")[1:] if normalise_mac(raw.partition(">")[0]) != mac)


def _version(buildno: str) -> tuple[int, int]:
    m = re.match(r"(\d+)(?:\.(\d+))?", buildno.strip())
    return (int(m.group(1)), int(m.group(2) or 0)) if m else (0, 0)


def static_format(entries: list[StaticEntry], hostnames: str, buildno: str) -> StaticFormat:
    """The record format this router uses: from its own records when they tell (three fields: names apart; four:
    name in the record), else from a non-empty ``dhcp_hostnames``, else from the firmware version (F14: Merlin
    moved the names into the record at 386.4)."""
    widths = {e.fields for e in entries}
    if widths == {3}:
        return StaticFormat.NAMES_APART
    if widths == {4}:
        return StaticFormat.NAME_IN_RECORD
    if hostnames.strip():
        return StaticFormat.NAMES_APART
    return StaticFormat.NAMES_APART if _version(buildno) < (386, 4) else StaticFormat.NAME_IN_RECORD


def format_static_entry(reservation: Reservation, fmt: StaticFormat = StaticFormat.NAME_IN_RECORD
                        ) -> tuple[str, str]:
    """The ``dhcp_staticlist`` record for ``reservation`` in format ``fmt`` and its ``dhcp_hostnames`` record
    (empty when the name is in the record); the name is checked."""
    name = _check_field(check_device_name(reservation.name, "reservation name"), "reservation name")
    mac = reservation.mac.upper()
    if fmt is StaticFormat.NAMES_APART:
        return f"<{mac}>{reservation.address}>", f"<{mac}>{name}"
    return f"<{mac}>{reservation.address}>>{name}", ""


def parse_clientlist(data: object, source: str = "get_clientlist()") -> list[Neighbour]:
    """Neighbours from the ``get_clientlist()`` hook: ``{"maclist": [...], "<MAC>": {"ip", "name", "isOnline"}}``.
    Offline clients and entries without an IPv4 address are skipped."""
    if not isinstance(data, dict):
        raise ParseError(source, "expected a JSON object")
    out: list[Neighbour] = []
    for key, entry in data.items():
        if key in ("maclist", "ClientAPILevel") or not isinstance(entry, dict):
            continue
        ip = entry.get("ip")
        if not isinstance(ip, str) or not ip or str(entry.get("isOnline", "1")) != "1":
            continue
        name = entry.get("nickName") or entry.get("name") or ""
        try:
            out.append(Neighbour(ip, str(entry.get("mac") or key), str(name)))
        except InvalidValue:
            raise ParseError(source, f"unreadable client {key[:40]!r}") from None
    return out
