"""Parsers and builders for Linksys JNAP (``POST /JNAP/``, JSON); facts: ``docs/facts/linksys.md``.

Only :class:`routerfix.errors.ParseError` leaves these parsers.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from routerfix import jsonread
from routerfix.errors import InvalidValue, ParseError
from routerfix.model import AddressRange, DhcpScope, Lease, Neighbour, PortForward, Protocol, Reservation

__all__ = [
    "ACTION_PREFIX",
    "JnapReply",
    "RuleTable",
    "action_url",
    "forward_to_rule",
    "is_range_rule",
    "parse_alg",
    "parse_devices",
    "parse_lan_settings",
    "parse_leases",
    "parse_reply",
    "parse_rules",
    "parse_transaction",
    "reservation_to_json",
]

ACTION_PREFIX = "http://linksys.com/jnap/"
"""Current action namespace (older firmware: ``http://cisco.com/jnap/``)."""

_PROTO_IN = {"tcp": Protocol.TCP, "udp": Protocol.UDP, "both": Protocol.BOTH}
_PROTO_OUT = {Protocol.TCP: "TCP", Protocol.UDP: "UDP", Protocol.BOTH: "Both"}


def action_url(action: str) -> str:
    """``"firewall/GetALGSettings"`` → the full ``X-JNAP-Action`` value."""
    return ACTION_PREFIX + action


@dataclass(frozen=True)
class JnapReply:
    """One JNAP reply: ``result`` (``OK`` or an error code), ``output``, ``error`` text, ``side_effects``."""

    result: str
    output: dict[str, Any]
    error: str = ""
    side_effects: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when ``result`` is ``OK``."""
        return self.result == "OK"


def _reply_from(data: object, source: str) -> JnapReply:
    if not isinstance(data, dict) or not isinstance(data.get("result"), str):
        raise ParseError(source, "not a JNAP reply (no 'result')")
    output = data.get("output", {})
    if output is None:
        output = {}
    if not isinstance(output, dict):
        raise ParseError(source, "'output' is not an object")
    effects = data.get("sideEffects", [])
    if not isinstance(effects, list) or not all(isinstance(e, str) for e in effects):
        raise ParseError(source, "'sideEffects' is not a list of names")
    error = data.get("error", "")
    return JnapReply(data["result"], output, str(error) if error else "", tuple(effects))


def _load(text: str, source: str) -> Any:
    return jsonread.load(text, source, "the reply is not JSON (is this a JNAP router?)")


def parse_reply(text: str, source: str) -> JnapReply:
    """Parse one JNAP reply."""
    return _reply_from(_load(text, source), source)


def parse_transaction(text: str, count: int, source: str = "core/Transaction") -> tuple[JnapReply, list[JnapReply]]:
    """The transaction's own reply and its ``count`` inner replies (in request order)."""
    data = _load(text, source)
    outer = _reply_from(data, source)
    if not outer.ok:
        return outer, []
    responses = data.get("responses")
    if not isinstance(responses, list) or len(responses) != count:
        raise ParseError(source, f"expected {count} responses")
    return outer, [_reply_from(r, source) for r in responses]




def is_range_rule(rule: dict[str, Any]) -> bool:
    """True for a port-range rule (``firstExternalPort``), False for a single-port one."""
    return "firstExternalPort" in rule


class RuleTable(StrEnum):
    """The two JNAP port-forward tables; a forward's ``ref`` is ``<table>:<index>``."""

    SINGLE = "single"
    """``SinglePortForwardingRules``: one external port onto one internal port."""
    RANGE = "range"
    """``PortRangeForwardingRules``: a range onto the same range (``firstExternalPort``)."""


def parse_rules(output: dict[str, Any], kind: RuleTable, source: str) -> tuple[list[dict[str, Any]],
                                                                                list[PortForward], int | None]:
    """The raw rules (kept for read-modify-write), their forwards (``ref`` = ``kind:index``) and ``maxRules``."""
    table = RuleTable(kind)

    def read(i: int, rule: dict[str, Any], proto: Protocol) -> PortForward:
        if table is RuleTable.RANGE:
            ext: Any = f"{jsonread.number(rule, 'firstExternalPort', source)}-" \
                       f"{jsonread.number(rule, 'lastExternalPort', source)}"
            internal: Any = None
        else:
            ext = jsonread.number(rule, "externalPort", source)
            internal = jsonread.number(rule, "internalPort", source)
        return PortForward(str(rule.get("description", "")), proto, ext,
                           jsonread.text(rule, "internalServerIPAddress", source), internal,
                           enabled=jsonread.flag(rule, "isEnabled", source), ref=f"{table}:{i}")

    rules, forwards = jsonread.forwards_from_rules(output, source, _PROTO_IN, read)
    limit = output.get("maxRules")
    return rules, forwards, limit if isinstance(limit, int) and not isinstance(limit, bool) else None


def forward_to_rule(forward: PortForward) -> dict[str, Any]:
    """The JNAP rule for ``forward``: a port-range rule when it spans several ports, else single-port."""
    common = {"isEnabled": forward.enabled, "protocol": _PROTO_OUT[forward.protocol],
              "internalServerIPAddress": str(forward.internal_address), "description": forward.name}
    ext = forward.external_ports
    if len(ext) > 1:
        if forward.internal_ports != ext:
            raise InvalidValue("internal_ports", str(forward.internal_ports),
                               "the same range as external_ports: JNAP range rules map a range onto itself")
        return {**common, "firstExternalPort": ext.start, "lastExternalPort": ext.end}
    assert forward.internal_ports is not None
    return {**common, "externalPort": ext.start, "internalPort": forward.internal_ports.start}


def parse_lan_settings(output: dict[str, Any], source: str = "router/GetLANSettings") -> DhcpScope:
    """The DHCP scope from ``GetLANSettings``."""
    dhcp = output.get("dhcpSettings")
    if not isinstance(dhcp, dict):
        raise ParseError(source, "'dhcpSettings' missing")
    try:
        gateway = ipaddress.IPv4Address(jsonread.text(output, "ipAddress", source))
        prefix = jsonread.number(output, "networkPrefixLength", source)
        network = ipaddress.IPv4Network(f"{gateway}/{prefix}", strict=False)
        pools = (AddressRange(jsonread.text(dhcp, "firstClientIPAddress", source),
                              jsonread.text(dhcp, "lastClientIPAddress", source)),) \
            if output.get("isDHCPEnabled", True) else ()
        reservations = []
        for r in dhcp.get("reservations") or []:
            if not isinstance(r, dict):
                raise ParseError(source, "a reservation is not an object")
            reservations.append(Reservation(jsonread.text(r, "ipAddress", source),
                                            jsonread.text(r, "macAddress", source), str(r.get("description", ""))))
        return DhcpScope(network, gateway, pools, tuple(reservations))
    except (InvalidValue, ValueError) as exc:
        raise ParseError(source, f"unreadable LAN settings ({exc})") from None


def reservation_to_json(reservation: Reservation) -> dict[str, str]:
    """A ``dhcpSettings.reservations`` entry."""
    return {"macAddress": reservation.mac.upper(), "ipAddress": str(reservation.address),
            "description": reservation.name}


def parse_devices(output: dict[str, Any], source: str = "devicelist/GetDevices") -> list[Neighbour]:
    """Neighbours from the device list: one per connection that has an IPv4 address."""
    out = []
    for dev in jsonread.objects(output, "devices", source, "device"):
        if not isinstance(dev.get("connections", []), list):
            raise ParseError(source, "a device's 'connections' is not a list")
        name = dev.get("friendlyName") or ""
        for conn in dev.get("connections", []):
            if not isinstance(conn, dict) or not conn.get("ipAddress"):
                continue
            try:
                out.append(Neighbour(str(conn.get("ipAddress")), str(conn.get("macAddress")), str(name)))
            except InvalidValue as exc:
                raise ParseError(source, f"unreadable connection ({exc.message})") from None
    return out


def parse_leases(output: dict[str, Any], source: str = "router/GetDHCPClientLeases") -> list[Lease]:
    """DHCP leases."""
    out = []
    for item in jsonread.objects(output, "leases", source, "lease"):
        try:
            out.append(Lease(str(item.get("ipAddress")), str(item.get("macAddress")), str(item.get("hostName") or "")))
        except InvalidValue as exc:
            raise ParseError(source, f"unreadable lease ({exc.message})") from None
    return out


def parse_alg(output: dict[str, Any], source: str = "firewall/GetALGSettings") -> bool:
    """``isSIPEnabled``."""
    return jsonread.flag(output, "isSIPEnabled", source)
