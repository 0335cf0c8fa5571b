"""OPNsense API records to routerfix values and back (facts: ``docs/facts/opnsense.md``, rows ``O<n>``)."""

from __future__ import annotations

import enum
import ipaddress
import json
from typing import Any

from routerfix.errors import ParseError
from routerfix.model import AddressRange, DhcpScope, Lease, Neighbour, PortForward, Protocol, Reservation

__all__ = ["Route", "forward_to_rule", "parse_json", "parse_leases", "parse_neighbours", "parse_reservations",
           "parse_rules", "parse_scope", "reservation_to_record"]


class Route(enum.StrEnum):
    """Every API endpoint the driver calls: ``<module>/<controller>/<command>`` (O1, route table in the facts)."""

    SYSTEM_INFO = "diagnostics/system/system_information"
    SEARCH_RULE = "firewall/d_nat/search_rule"
    ADD_RULE = "firewall/d_nat/add_rule"
    DEL_RULE = "firewall/d_nat/del_rule"
    APPLY_NAT = "firewall/d_nat/apply"
    KEA_GET = "kea/dhcpv4/get"
    SEARCH_SUBNET = "kea/dhcpv4/search_subnet"
    SEARCH_RESERVATION = "kea/dhcpv4/search_reservation"
    ADD_RESERVATION = "kea/dhcpv4/add_reservation"
    DEL_RESERVATION = "kea/dhcpv4/del_reservation"
    KEA_RECONFIGURE = "kea/service/reconfigure"
    LEASES = "kea/leases4/search"
    ARP = "diagnostics/interface/get_arp"


_PROTOCOLS = {Protocol.TCP: "tcp", Protocol.UDP: "udp", Protocol.BOTH: "tcp/udp"}
"""routerfix protocol → DNat ``protocol`` value (O5: lower-case, ``TCP/UDP`` offered as one option)."""
WAN = "wan"
WAN_ADDRESS = "wanip"


def parse_json(text: str, page: str) -> Any:
    """The JSON body of an API answer (O1)."""
    try:
        return json.loads(text)
    except ValueError:
        raise ParseError(page, "the answer is not JSON") from None


def _rows(data: Any, page: str) -> list[dict[str, Any]]:
    """The ``rows`` of a search answer (O23)."""
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ParseError(page, "a search answer without a list of rows")
    return rows


def _ports(text: str) -> str:
    return text.replace(":", "-").strip()


def parse_rules(data: Any) -> tuple[PortForward, ...]:
    """Port forwards from ``search_rule`` rows, without the automatic anti-lockout rows (O6). A rule whose
    protocol, ports or target is not a plain value (alias, ``any``) is skipped: routerfix neither reads nor
    touches what it cannot represent."""
    out = []
    names = {v: k for k, v in _PROTOCOLS.items()}
    for row in _rows(data, Route.SEARCH_RULE):
        if row.get("is_automatic") or str(row.get("uuid", "")).startswith("lockout_"):
            continue
        protocol = names.get(str(row.get("protocol", "")).lower())
        external = _ports(str(row.get("destination.port", "")))
        if protocol is None or not external:
            continue
        local = _ports(str(row.get("local-port", ""))) or None
        if local is not None and local.isdigit() and "-" in external:  # O5: a range maps from its first port
            first, last = (int(p) for p in external.split("-", 1))
            local = f"{local}-{int(local) + last - first}"
        interfaces = [i for i in str(row.get("interface", "")).split(",") if i]
        try:
            out.append(PortForward(
                name=str(row.get("descr", "")), protocol=protocol, external_ports=external,
                internal_address=str(row.get("target", "")), internal_ports=local,
                enabled=str(row.get("disabled", "0")) != "1", wan_only=interfaces == [WAN],
                ref=str(row.get("uuid", ""))))
        except ValueError:
            continue  # an alias or a network as target: not a forward routerfix can hold
    return tuple(out)


def forward_to_rule(forward: PortForward) -> dict[str, str]:
    """The ``rule`` object of ``add_rule`` for ``forward`` (O5, O24): on the WAN interface, to the WAN address;
    ``pass`` is left out (Manual, no filter rule: O25)."""
    internal = forward.internal_ports or forward.external_ports
    return {"disabled": "0" if forward.enabled else "1", "interface": WAN, "ipprotocol": "inet",
            "protocol": _PROTOCOLS[forward.protocol], "source.network": "any", "destination.network": WAN_ADDRESS,
            "destination.port": str(forward.external_ports), "target": str(forward.internal_address),
            "local-port": str(internal.start), "descr": forward.name}


def _pools(text: str, page: str) -> tuple[AddressRange, ...]:
    out = []
    for line in text.replace(",", "\n").splitlines():
        item = line.strip()
        if not item:
            continue
        try:
            if "-" in item:
                first, last = (p.strip() for p in item.split("-", 1))
                out.append(AddressRange(first, last))
            else:
                net = ipaddress.IPv4Network(item, strict=False)
                out.append(AddressRange(str(net.network_address + 1), str(net.broadcast_address - 1)))
        except ValueError:
            raise ParseError(page, f"an unreadable pool {item!r}") from None
    return tuple(out)


def parse_scope(subnets: Any, reservations: tuple[tuple[str, Reservation], ...]) -> tuple[str, DhcpScope]:
    """The first Kea subnet (its uuid and scope, O13) with its reservations. The gateway is the subnet's
    ``option_data.routers`` when set, else the subnet's first host address (O13, inferred)."""
    rows = _rows(subnets, Route.SEARCH_SUBNET)
    if not rows:
        raise ParseError(Route.SEARCH_SUBNET, "Kea has no IPv4 subnet")
    row = rows[0]
    try:
        network = ipaddress.IPv4Network(str(row.get("subnet", "")), strict=False)
    except ValueError:
        raise ParseError(Route.SEARCH_SUBNET, "an unreadable subnet") from None
    routers = str(row.get("option_data.routers", "")).split(",")[0].strip()
    gateway = routers or str(network.network_address + 1)
    uuid = str(row.get("uuid", ""))
    mine = tuple(r for subnet, r in reservations if subnet == uuid)
    try:
        return uuid, DhcpScope(network, gateway, _pools(str(row.get("pools", "")), Route.SEARCH_SUBNET), mine)
    except ValueError as exc:
        raise ParseError(Route.SEARCH_SUBNET, f"an unreadable subnet ({exc})") from None


def parse_reservations(data: Any) -> tuple[tuple[str, str, Reservation], ...]:
    """``(uuid, subnet uuid, reservation)`` per Kea reservation row (O11); unreadable rows are skipped."""
    out = []
    for row in _rows(data, Route.SEARCH_RESERVATION):
        try:
            res = Reservation(str(row.get("ip_address", "")), str(row.get("hw_address", "")),
                              str(row.get("description", "") or row.get("hostname", "")))
        except ValueError:
            continue
        out.append((str(row.get("uuid", "")), str(row.get("subnet", "")), res))
    return tuple(out)


def reservation_to_record(reservation: Reservation, subnet: str) -> dict[str, str]:
    """The ``reservation`` object of ``add_reservation`` (O11); the name goes to ``description``."""
    return {"subnet": subnet, "ip_address": str(reservation.address), "hw_address": reservation.mac,
            "hostname": "", "description": reservation.name}


def parse_leases(data: Any) -> tuple[Lease, ...]:
    """Kea leases (O16)."""
    out = []
    for row in _rows(data, Route.LEASES):
        try:
            expire = row.get("expire")
            out.append(Lease(str(row.get("address", "")), str(row.get("hwaddr", "")), str(row.get("hostname", "")),
                             float(expire) if isinstance(expire, (int, float, str)) and str(expire).isdigit()
                             else None))
        except ValueError:
            continue
    return tuple(out)


def parse_neighbours(data: Any) -> tuple[Neighbour, ...]:
    """The ARP table (O17): a list of ``{ip, mac, hostname, intf}``."""
    if not isinstance(data, list):
        raise ParseError(Route.ARP, "the ARP answer is not a list")
    out = []
    for row in data:
        if not isinstance(row, dict):
            continue
        try:
            out.append(Neighbour(str(row.get("ip", "")), str(row.get("mac", "")), str(row.get("hostname", ""))))
        except ValueError:
            continue
    return tuple(out)
