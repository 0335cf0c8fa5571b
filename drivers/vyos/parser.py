"""Parsers for VyOS's own configuration nodes (docs/facts/vyos.md rows 13-14, 20, 22). Pure functions; only
routerfix errors leave them. The table, lease, ARP and version parsers VyOS shares with EdgeOS live in
:mod:`routerfix.drivers._vyatta.parser` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable

from routerfix.model import PortForward

from .._vyatta.configtree import Path, parse_commands, rule_table
from .._vyatta.parser import (
    dhcp_scope,
    make_forward,
    order,
    parse_arp,
    parse_conntrack_deleted,
    parse_interface_address,
    parse_leases,
    parse_table,
    parse_version,
    protocol_of,
)

__all__ = ["all_paths", "dhcp_scope", "parse_arp", "parse_conntrack_deleted", "parse_interface_address", "parse_leases",
           "parse_table", "parse_version", "vyos_forwards", "vyos_sip_alg", "vyos_wan_interface"]


def vyos_forwards(paths: Iterable[Path]) -> tuple[PortForward, ...]:
    """Every ``nat destination rule`` that translates to an address, in rule-number order."""
    table = rule_table(paths, ("nat", "destination", "rule"))
    forwards: list[PortForward] = []
    for number in order(table):
        rule = table[number]
        first = {k: v[0] for k, v in rule.items() if v}
        inbound = first.get(("inbound-interface", "name")) or first.get(("inbound-interface",))
        forwards += make_forward(
            first.get(("description",)) or f"rule-{number}", protocol_of(first.get(("protocol",))),
            first.get(("destination", "port")), first.get(("translation", "address")),
            first.get(("translation", "port")), wan_only=bool(inbound), enabled="disable" not in rule.get((), []),
            ref=number)
    return tuple(forwards)


def vyos_wan_interface(paths: Iterable[Path]) -> str | None:
    """The interface of the first source-NAT rule (the masquerade toward the WAN), if any."""
    table = rule_table(paths, ("nat", "source", "rule"))
    for number in order(table):
        rule = table[number]
        values = rule.get(("outbound-interface", "name")) or rule.get(("outbound-interface",)) or []
        if values:
            return values[0]
    return None


def vyos_sip_alg(paths: Iterable[Path]) -> bool:
    """On while a ``system conntrack modules sip`` node exists (1.4+: the helper loads only then)."""
    return any(p[:4] == ("system", "conntrack", "modules", "sip") for p in paths)


def all_paths(text: str) -> list[Path]:
    """The paths of ``show configuration commands``."""
    return parse_commands(text)
