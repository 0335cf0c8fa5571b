"""Parsers for EdgeOS's own configuration nodes: raw ``service nat rule`` destination rules, the port-forward
wizard tree, masquerade rules, the SIP helper switch (docs/facts/edgeos.md rows 3, 7, 10). Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable

from routerfix.model import PortForward

from .._vyatta.configtree import Path, rule_table
from .._vyatta.parser import make_forward, order, protocol_of

__all__ = ["edgeos_forwards", "edgeos_sip_alg", "edgeos_wan_interface"]


def edgeos_forwards(paths: Iterable[Path]) -> tuple[PortForward, ...]:
    """Destination NAT rules (``ref`` = ``nat:N``) then port-forward wizard rules (``ref`` = ``pf:N``)."""
    paths = list(paths)
    forwards: list[PortForward] = []
    table = rule_table(paths, ("service", "nat", "rule"))
    for number in order(table):
        rule = {k: v[0] for k, v in table[number].items() if v}
        if rule.get(("type",)) != "destination":
            continue
        forwards += make_forward(
            rule.get(("description",)) or f"nat-rule-{number}", protocol_of(rule.get(("protocol",))),
            rule.get(("destination", "port")), rule.get(("inside-address", "address")),
            rule.get(("inside-address", "port")), wan_only=bool(rule.get(("inbound-interface",))),
            enabled="disable" not in table[number].get((), []), ref=f"nat:{number}")
    wan = next((p[2] for p in paths if p[:2] == ("port-forward", "wan-interface") and len(p) == 3), None)
    pf = rule_table(paths, ("port-forward", "rule"))
    for number in order(pf):
        rule = {k: v[0] for k, v in pf[number].items() if v}
        forwards += make_forward(
            rule.get(("description",)) or f"port-forward-{number}", protocol_of(rule.get(("protocol",))),
            rule.get(("original-port",)), rule.get(("forward-to", "address")), rule.get(("forward-to", "port")),
            wan_only=wan is not None, enabled=True, ref=f"pf:{number}")
    return tuple(forwards)


def edgeos_wan_interface(paths: Iterable[Path]) -> str | None:
    """The outbound interface of the first masquerade rule, else the port-forward ``wan-interface``."""
    paths = list(paths)
    table = rule_table(paths, ("service", "nat", "rule"))
    for number in order(table):
        rule = {k: v[0] for k, v in table[number].items() if v}
        if rule.get(("type",)) in ("masquerade", "source") and rule.get(("outbound-interface",)):
            return rule[("outbound-interface",)]
    return next((p[2] for p in paths if p[:2] == ("port-forward", "wan-interface") and len(p) == 3), None)


def edgeos_sip_alg(paths: Iterable[Path]) -> bool:
    """On (the EdgeOS default) unless ``system conntrack modules sip disable`` is set."""
    return not any(p == ("system", "conntrack", "modules", "sip", "disable") for p in paths)
