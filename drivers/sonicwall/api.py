"""Readers and request bodies of the SonicOS API (facts: ``docs/facts/sonicwall.md``, rows ``S<n>``). Nothing read
is trusted: every field is type-checked; an entry that cannot be read is skipped (tables) or refused (envelopes)."""

from __future__ import annotations

import enum
import ipaddress
import json
import logging
from dataclasses import dataclass
from typing import Any

from routerfix.errors import InvalidValue, ParseError
from routerfix.model import AddressRange, DhcpScope, Lease, Neighbour, PortForward, Protocol, Reservation

__all__ = ["Path", "Status", "Tables", "dhcp_scope", "forwards", "leases", "neighbours", "parse_json", "status_of",
           "voip_sip"]

log = logging.getLogger("routerfix.drivers.sonicwall")


class Path(enum.StrEnum):
    """Every endpoint the driver calls, under ``/api/sonicos`` (S1)."""

    AUTH = "auth"
    PENDING = "config/pending"
    VERSION = "version"
    ADDRESSES = "address-objects/ipv4"
    SERVICES = "service-objects"
    GROUPS = "service-groups"
    NAT = "nat-policies/ipv4"
    RULES = "access-rules/ipv4"
    DYNAMIC = "dhcp-server/ipv4/scopes/dynamic"
    STATIC = "dhcp-server/ipv4/scopes/static"
    LEASES = "reporting/dhcp-server/ipv4/leases/status"
    ARP = "reporting/arp/caches"
    VOIP = "voip"


TABLE_KEYS = {Path.ADDRESSES: ("address_objects", "ipv4"), Path.SERVICES: ("service_objects", ""),
              Path.GROUPS: ("service_groups", ""), Path.NAT: ("nat_policies", "ipv4"),
              Path.RULES: ("access_rules", "ipv4")}
"""Collection key and inner key of each object table (S9-S14)."""


@dataclass(frozen=True)
class Status:
    """The status envelope of an answer (S4): success, and the first info entry's code and message."""

    success: bool
    code: str
    message: str


def parse_json(text: str, page: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ParseError(page, "the answer is not JSON") from None


def status_of(data: Any) -> Status | None:
    """The ``status`` envelope (S4), or None when the answer has none."""
    status = data.get("status") if isinstance(data, dict) else None
    if not isinstance(status, dict) or not isinstance(status.get("success"), bool):
        return None
    info = status.get("info")
    first = info[0] if isinstance(info, list) and info and isinstance(info[0], dict) else {}
    return Status(status["success"], str(first.get("code", ""))[:40], str(first.get("message", ""))[:120])


def rows(data: Any, path: Path) -> list[dict[str, Any]]:
    """The inner objects of an object table answer (S9-S14)."""
    key, inner = TABLE_KEYS[path]
    table = data.get(key) if isinstance(data, dict) else None
    if not isinstance(table, list):
        raise ParseError(str(path), f"no {key} list in the answer")
    out = []
    for entry in table:
        obj = entry.get(inner) if inner and isinstance(entry, dict) else entry
        if isinstance(obj, dict):
            out.append(obj)
    return out


def scope_rows(data: Any, kind: str) -> list[dict[str, Any]]:
    """``dhcp_server.ipv4.scope.<kind>`` (S15, S16)."""
    try:
        table = data["dhcp_server"]["ipv4"]["scope"].get(kind, [])
    except (KeyError, TypeError, AttributeError):
        raise ParseError(f"dhcp-server/ipv4/scopes/{kind}", "no DHCP scope list in the answer") from None
    return [r for r in table if isinstance(r, dict)] if isinstance(table, list) else []


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _port(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value == int(value) \
        else None


@dataclass(frozen=True)
class Tables:
    """The object tables one forward is read from (S9-S12)."""

    addresses: list[dict[str, Any]]
    services: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    nat: list[dict[str, Any]]

    def host(self, name: str) -> str | None:
        """The IP address of the host address object ``name`` (S9)."""
        for obj in self.addresses:
            if obj.get("name") == name and isinstance(obj.get("host"), dict):
                ip = obj["host"].get("ip")
                return ip if isinstance(ip, str) else None
        return None

    def service(self, name: str) -> tuple[Protocol, str] | None:
        """A TCP or UDP service object as (protocol, ``begin-end``) (S10)."""
        for obj in self.services:
            if obj.get("name") != name:
                continue
            for proto in (Protocol.TCP, Protocol.UDP):
                ports = obj.get(proto.value)
                if isinstance(ports, dict):
                    begin, end = _port(ports.get("begin")), _port(ports.get("end"))
                    if begin is not None:
                        return proto, f"{begin}-{end}" if end not in (None, begin) else str(begin)
        return None

    def resolve(self, ref: Any) -> tuple[Protocol, str] | None:
        """A NAT ``service`` reference (S12): a service object, or a group of one TCP and one UDP object over the
        same ports (both protocols) or of one object; ``any`` is every port of both (a one-to-one NAT)."""
        if not isinstance(ref, dict):
            return None
        if ref.get("any") is True:
            return Protocol.BOTH, "1-65535"
        if isinstance(ref.get("name"), str):
            return self.service(ref["name"])
        group = next((g for g in self.groups if g.get("name") == ref.get("group")), None)
        members = group.get("service_object") if group else None
        if not isinstance(members, list) or group is None or group.get("service_group"):
            return None
        found = [self.service(str(m.get("name"))) for m in members if isinstance(m, dict)]
        if not found or None in found or len(found) != len(members):
            return None
        kinds = {f for f in found if f is not None}
        if len(kinds) == 1:
            return next(iter(kinds))
        if len(kinds) == 2 and {k[0] for k in kinds} == {Protocol.TCP, Protocol.UDP} \
                and len({k[1] for k in kinds}) == 1:
            return Protocol.BOTH, next(iter(kinds))[1]
        return None


def forwards(tables: Tables, wan: str) -> tuple[PortForward, ...]:
    """Every inbound NAT policy that translates to one host address (S12) as a forward, ``ref`` its uuid; WAN-only
    when its inbound interface is ``wan``. Policies routerfix cannot read as a forward are left alone (logged)."""
    out = []
    for policy in tables.nat:
        target = policy.get("translated_destination")
        if not isinstance(target, dict) or not isinstance(target.get("name"), str):
            continue
        address = tables.host(target["name"])
        service = tables.resolve(policy.get("service"))
        name = _text(policy, "name") or _text(policy, "comment")
        if address is None or service is None:
            log.info("sonicwall: NAT policy %r is not a port forward routerfix can read; left alone", name[:40])
            continue
        internal = None
        translated = policy.get("translated_service")
        if isinstance(translated, dict) and isinstance(translated.get("name"), str):
            mapped = tables.service(translated["name"])
            internal = mapped[1] if mapped else None
        try:
            out.append(PortForward(name[:64] or "nat-policy", service[0], service[1], address, internal,
                                   enabled=policy.get("enable") is not False,
                                   wan_only=_text(policy, "inbound") == wan, ref=_text(policy, "uuid")[:80]))
        except InvalidValue:
            log.info("sonicwall: NAT policy %r is not a port forward routerfix can read; left alone", name[:40])
    return tuple(out)


def dhcp_scope(dynamic: list[dict[str, Any]], static: list[dict[str, Any]]) -> DhcpScope:
    """The LAN scope: the network of the first enabled dynamic range (its gateway and netmask, S15), every enabled
    range in it as a pool and the static entries in it as reservations (S16)."""
    ranges = [r for r in dynamic if r.get("enable") is not False]
    if not ranges:
        raise ParseError(str(Path.DYNAMIC), "no enabled dynamic DHCP scope")
    try:
        gateway = ipaddress.IPv4Address(_text(ranges[0], "default_gateway"))
        network = ipaddress.IPv4Network(f"{gateway}/{_text(ranges[0], 'netmask')}", strict=False)
        pools = tuple(AddressRange(_text(r, "from"), _text(r, "to")) for r in ranges
                      if ipaddress.IPv4Address(_text(r, "from")) in network)
    except (ValueError, InvalidValue) as exc:
        raise ParseError(str(Path.DYNAMIC), f"unreadable dynamic DHCP scope ({exc})") from None
    reservations = []
    for entry in static:
        try:
            found = Reservation(_text(entry, "ip"), _text(entry, "mac"), _text(entry, "name")[:30])
        except InvalidValue:
            continue
        if found.address in network:
            reservations.append(found)
    return DhcpScope(network, gateway, pools, tuple(reservations))


def leases(data: Any) -> tuple[Lease, ...]:
    """``reporting/dhcp-server/ipv4/leases/status`` (S17); ``lease_expires`` is display text, not read."""
    out = []
    for row in data if isinstance(data, list) else []:
        if isinstance(row, dict):
            try:
                out.append(Lease(_text(row, "ip_address"), _text(row, "mac_address"), _text(row, "host_name")[:64]))
            except InvalidValue:
                continue
    return tuple(out)


def neighbours(data: Any) -> tuple[Neighbour, ...]:
    """``reporting/arp/caches`` (S18)."""
    out = []
    for row in data if isinstance(data, list) else []:
        if isinstance(row, dict):
            try:
                out.append(Neighbour(_text(row, "ip_address"), _text(row, "mac_address")))
            except InvalidValue:
                continue
    return tuple(out)


def voip_sip(data: Any) -> tuple[bool | None, bool | None]:
    """(SIP transformations on, consistent NAT on) from ``GET voip`` (S19); None where not readable."""
    voip = data.get("voip") if isinstance(data, dict) else None
    if not isinstance(voip, dict):
        raise ParseError(str(Path.VOIP), "no voip object in the answer")
    sip = voip.get("sip")
    enabled = sip.get("enable") if isinstance(sip, dict) else False if sip is None else None
    consistent = voip.get("consistent_nat")
    return (enabled if isinstance(enabled, bool) else None,
            consistent if isinstance(consistent, bool) else None)
