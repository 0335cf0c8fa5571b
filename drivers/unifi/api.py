"""UniFi Network application records to routerfix values and back (facts: ``docs/facts/unifi.md``, rows ``U<n>``)."""

from __future__ import annotations

import enum
import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from routerfix.errors import ParseError
from routerfix.model import AddressRange, DeviceFacts, DhcpScope, Neighbour, PortForward, Protocol, Reservation

__all__ = ["CLASSIC", "UNIFI_OS", "ApiError", "Endpoint", "Platform", "forward_to_record", "parse_answer",
           "parse_clients", "parse_facts", "parse_fixed_ips", "parse_forwards", "parse_scope"]


class Endpoint(enum.StrEnum):
    """Every site endpoint the driver calls, relative to ``<prefix>/api/s/<site>/`` (route table in the facts)."""

    SYSINFO = "stat/sysinfo"
    PORTFORWARD = "rest/portforward"
    NETWORKCONF = "rest/networkconf"
    USER = "rest/user"
    STA = "stat/sta"


@dataclass(frozen=True)
class Platform:
    """Where a UniFi Network application lives (U1-U4, U9): paths and whether writes carry the CSRF token."""

    name: str
    login: str
    logout: str
    prefix: str
    csrf: bool


UNIFI_OS = Platform("UniFi OS console", "/api/auth/login", "/api/auth/logout", "/proxy/network", csrf=True)
CLASSIC = Platform("classic controller", "/api/login", "/logout", "", csrf=False)

_PROTOCOLS = {Protocol.TCP: "tcp", Protocol.UDP: "udp", Protocol.BOTH: "tcp_udp"}
"""routerfix protocol → ``proto`` (U12)."""
WAN = "wan"


class ApiError(Exception):
    """An answer with ``meta.rc`` ``error`` (U5): ``msg`` is the device's words."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


def parse_answer(text: str, page: str) -> list[dict[str, Any]]:
    """The ``data`` records of a site API answer (U5); raises :class:`ApiError` on ``rc`` error."""
    try:
        body = json.loads(text)
    except ValueError:
        raise ParseError(page, "the answer is not JSON") from None
    meta = body.get("meta") if isinstance(body, dict) else None
    if not isinstance(meta, dict):
        raise ParseError(page, "an answer without meta")
    if meta.get("rc") != "ok":
        raise ApiError(str(meta.get("msg") or meta.get("rc") or "error"))
    data = body.get("data", [])
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ParseError(page, "an answer whose data is not a list of records")
    return data


def _ports(text: Any) -> str | None:
    """A single port or a ``first-last`` range (U13); anything else None (skipped, never touched)."""
    value = str(text).strip()
    parts = value.split("-")
    if 1 <= len(parts) <= 2 and all(p.isdigit() for p in parts):
        return value
    return None


def parse_forwards(records: list[dict[str, Any]]) -> tuple[PortForward, ...]:
    """Port forwards from ``rest/portforward`` (U10, U12, U13), ``ref`` their ``_id``. Every UniFi port forward is
    WAN ingress (U12). A rule routerfix cannot represent (a port list, an unknown protocol) is skipped."""
    names = {v: k for k, v in _PROTOCOLS.items()}
    out = []
    for row in records:
        protocol = names.get(str(row.get("proto", "")))
        external, internal = _ports(row.get("dst_port", "")), _ports(row.get("fwd_port", ""))
        if protocol is None or external is None:
            continue
        try:
            out.append(PortForward(name=str(row.get("name", "")), protocol=protocol, external_ports=external,
                                   internal_address=str(row.get("fwd", "")), internal_ports=internal,
                                   enabled=row.get("enabled", True) is not False, wan_only=True,
                                   ref=str(row.get("_id", ""))))
        except ValueError:
            continue
    return tuple(out)


def forward_to_record(forward: PortForward) -> dict[str, Any]:
    """The ``rest/portforward`` record for ``forward`` (U10-U12): from any source, on ``wan``."""
    internal = forward.internal_ports or forward.external_ports
    return {"name": forward.name, "enabled": forward.enabled, "src": "any", "dst_port": str(forward.external_ports),
            "fwd": str(forward.internal_address), "fwd_port": str(internal), "proto": _PROTOCOLS[forward.protocol],
            "pfwd_interface": WAN}


def parse_facts(records: list[dict[str, Any]]) -> DeviceFacts:
    """``stat/sysinfo`` (U18)."""
    if not records:
        raise ParseError(Endpoint.SYSINFO, "no system information")
    info = records[0]
    model = str(info.get("ubnt_device_type") or "UniFi Network")
    return DeviceFacts(vendor="Ubiquiti", model=model, firmware=str(info.get("version", "")),
                       hostname=str(info.get("hostname") or info.get("name") or ""))


def _lan(networks: list[dict[str, Any]]) -> dict[str, Any]:
    """The default LAN, else the first corporate network with DHCP on (U17)."""
    lans = [n for n in networks if n.get("purpose") == "corporate" and n.get("enabled", True) is not False]
    chosen = next((n for n in lans if n.get("attr_hidden_id") == "LAN"), None) or \
        next((n for n in lans if n.get("dhcpd_enabled")), None)
    if chosen is None:
        raise ParseError(Endpoint.NETWORKCONF, "no LAN (corporate) network")
    return chosen


def parse_fixed_ips(users: list[dict[str, Any]], network_id: str) -> tuple[Reservation, ...]:
    """Known clients' fixed IPs on ``network_id`` (U15); unreadable records are skipped."""
    out = []
    for row in users:
        if row.get("use_fixedip") is not True or str(row.get("network_id", "")) not in ("", network_id):
            continue
        try:
            out.append(Reservation(str(row.get("fixed_ip", "")), str(row.get("mac", "")),
                                   str(row.get("name") or row.get("hostname") or "")))
        except ValueError:
            continue
    return tuple(out)


def parse_scope(networks: list[dict[str, Any]], users: list[dict[str, Any]]) -> DhcpScope:
    """The LAN's subnet, gateway (the ``ip_subnet`` address), DHCP range and fixed IPs (U15, U17)."""
    lan = _lan(networks)
    try:
        interface = ipaddress.IPv4Interface(str(lan.get("ip_subnet", "")))
    except ValueError:
        raise ParseError(Endpoint.NETWORKCONF, "an unreadable ip_subnet") from None
    pools: tuple[AddressRange, ...] = ()
    if lan.get("dhcpd_enabled") and lan.get("dhcpd_start") and lan.get("dhcpd_stop"):
        try:
            pools = (AddressRange(str(lan["dhcpd_start"]), str(lan["dhcpd_stop"])),)
        except ValueError:
            raise ParseError(Endpoint.NETWORKCONF, "an unreadable DHCP range") from None
    fixed = parse_fixed_ips(users, str(lan.get("_id", "")))
    try:
        return DhcpScope(interface.network, interface.ip, pools, fixed)
    except ValueError as exc:
        raise ParseError(Endpoint.NETWORKCONF, f"an unreadable network ({exc})") from None


def parse_clients(records: list[dict[str, Any]]) -> tuple[Neighbour, ...]:
    """Active clients from ``stat/sta`` (U14); a client without an IPv4 address is skipped."""
    out = []
    for row in records:
        try:
            out.append(Neighbour(str(row.get("ip", "")), str(row.get("mac", "")),
                                 str(row.get("hostname") or row.get("name") or "")))
        except ValueError:
            continue
    return tuple(out)
