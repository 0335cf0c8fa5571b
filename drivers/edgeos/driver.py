"""The Ubiquiti EdgeOS driver (SSH, netmiko ``ubiquiti_edgerouter``), see the package docstring."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from routerfix.model import Capabilities, DhcpScope, Feature, Lease, PortForward, Protocol, Reservation

from .._vyatta.configtree import Path, rule_table
from .._vyatta.engine import VyattaDriver
from .._vyatta.parser import RangeSyntax, dhcp_scope, parse_leases
from .parser import edgeos_forwards, edgeos_sip_alg, edgeos_wan_interface

__all__ = ["EdgeOsDriver"]

_PROTO = {Protocol.TCP: "tcp", Protocol.UDP: "udp", Protocol.BOTH: "tcp_udp"}


class EdgeOsDriver(VyattaDriver):
    """Ubiquiti EdgeRouter (EdgeOS 2.x) over SSH.

    Options (besides the SSH trust options): ``wan_interface`` (default: the outbound interface of the first
    masquerade rule, else the port-forward ``wan-interface``), ``dhcp_subnet`` (default: the first subnet with a
    ``start``/``stop`` range).
    """

    name: ClassVar[str] = "edgeos"
    vendor: ClassVar[str] = "Ubiquiti"
    device_type: ClassVar[str] = "ubiquiti_edgerouter"
    option_help: ClassVar[Mapping[str, str]] = {
        **VyattaDriver.option_help,
        "wan_interface": "inbound interface of the destination-NAT rules, e.g. eth0 or pppoe0 (default: the "
                         "outbound interface of the first masquerade rule, else the port-forward wan-interface)",
    }
    capabilities = Capabilities(
        features=frozenset({Feature.PORT_FORWARD, Feature.FORWARD_TO_UNUSED, Feature.DHCP_SCOPE, Feature.LEASES,
                            Feature.NEIGHBOURS, Feature.DHCP_RESERVATION, Feature.BACKUP, Feature.SIP_ALG,
                            Feature.FLUSH_CONNECTIONS, Feature.UNDO_MARKER}),
        forward_ranges=True, forward_both=True, orders_rules=True,
        notes=("forwards are raw destination NAT rules (service nat rule N type destination, inbound-interface), "
               "numbered with the lowest free number below 5000 (5000+ is left to source NAT)",
               "port-forward wizard rules are read (and removed only with replace_conflicting), never written",
               "no NAT filtering setting (Linux conntrack): NAT mode not managed",
               "all changes of a run go as one commit-confirm (the device reboots to its saved configuration unless "
               "confirmed), confirmed and saved once the read-back matches the plan",
               "undo marker in /config/routerfix/undo.json (kept across reboots and image upgrades; the login user "
               "must be in the vyattacfg group)"))
    session_commands: ClassVar[tuple[str, ...]] = ("terminal width 512", "terminal length 0")
    leases_command: ClassVar[str] = "show dhcp leases"
    rule_number_limit: ClassVar[int] = 4999
    managed_prefixes: ClassVar[tuple[Path, ...]] = (
        ("service", "nat"), ("port-forward",), ("service", "dhcp-server"), ("system", "conntrack", "modules"))

    def _forwards(self, paths: list[Path]) -> tuple[PortForward, ...]:
        return edgeos_forwards(paths)

    def _scope(self, paths: list[Path]) -> tuple[DhcpScope, tuple[str, str]]:
        subnet = self.options.get("dhcp_subnet")
        return dhcp_scope(paths, subnet=str(subnet) if subnet else None, mac_keys=("mac-address",),
                          ranges=RangeSyntax.EDGEOS)

    def _sip_alg(self, paths: list[Path]) -> bool:
        return edgeos_sip_alg(paths)

    def _wan_from(self, paths: list[Path]) -> str | None:
        return edgeos_wan_interface(paths)

    def _parse_leases(self, text: str) -> tuple[Lease, ...]:
        return parse_leases(text, source=self.leases_command)

    def _used_numbers(self, paths: list[Path]) -> set[int]:
        return {int(n) for n in rule_table(paths, ("service", "nat", "rule")) if n.isdecimal()}

    def _rule_path(self, forward: PortForward) -> str:
        kind, _, number = forward.ref.partition(":")
        return f"port-forward rule {number}" if kind == "pf" else f"service nat rule {number}"

    def _add_commands(self, number: int, forward: PortForward, wan: str) -> list[str]:
        base = f"set service nat rule {number}"
        return [f"{base} description '{forward.name}'",
                f"{base} destination port {forward.external_ports}",
                f"{base} inbound-interface {wan}",
                f"{base} inside-address address {forward.internal_address}",
                f"{base} inside-address port {forward.internal_ports}",
                f"{base} log disable",
                f"{base} protocol {_PROTO[forward.protocol]}",
                f"{base} type destination"]

    def _reserve_commands(self, where: tuple[str, str], reservation: Reservation) -> list[str]:
        base = (f"set service dhcp-server shared-network-name {where[0]} subnet {where[1]} "
                f"static-mapping {reservation.name}")
        return [f"{base} ip-address {reservation.address}", f"{base} mac-address {reservation.mac}"]

    def _sip_commands(self, enabled: bool) -> list[str]:
        return ["delete system conntrack modules sip disable"] if enabled else \
            ["set system conntrack modules sip disable"]
