"""The VyOS 1.4/1.5 driver (SSH, netmiko ``vyos``), see the package docstring."""

from __future__ import annotations

from typing import ClassVar

from routerfix.errors import UnsupportedOperation
from routerfix.model import Capabilities, DhcpScope, Feature, Lease, PortForward, Protocol, Reservation

from .._vyatta.configtree import Path, rule_table
from .._vyatta.engine import VyattaDriver
from .parser import dhcp_scope, parse_leases, vyos_forwards, vyos_sip_alg, vyos_wan_interface
from .syntax import SYNTAX, VyosSyntax, train_of

__all__ = ["VyosDriver"]

_PROTO = {Protocol.TCP: "tcp", Protocol.UDP: "udp", Protocol.BOTH: "tcp_udp"}


class VyosDriver(VyattaDriver):
    """VyOS 1.3 (equuleus), 1.4 (sagitta), 1.5 (circinus) and later rolling releases over SSH; the nodes that
    differ between releases are chosen by the version ``show version`` reports.

    Options (besides the SSH trust options): ``wan_interface`` (default: the outbound interface of the first
    source-NAT rule), ``dhcp_subnet`` (the LAN DHCP subnet; default: the first subnet with a range).
    """

    name: ClassVar[str] = "vyos"
    vendor: ClassVar[str] = "VyOS"
    device_type: ClassVar[str] = "vyos"
    capabilities = Capabilities(
        features=frozenset({Feature.PORT_FORWARD, Feature.FORWARD_TO_UNUSED, Feature.DHCP_SCOPE, Feature.LEASES,
                            Feature.NEIGHBOURS, Feature.DHCP_RESERVATION, Feature.BACKUP, Feature.SIP_ALG,
                            Feature.FLUSH_CONNECTIONS, Feature.UNDO_MARKER}),
        forward_ranges=True, forward_both=True, orders_rules=True,
        notes=("destination NAT rules take the lowest free rule number and are restricted with inbound-interface",
               "no NAT filtering setting (Linux conntrack): NAT mode not managed",
               "all changes of a run go as one commit-confirm (the device reboots to its saved configuration unless "
               "confirmed), confirmed and saved once the read-back matches the plan",
               "undo marker in /config/routerfix/undo.json (kept across reboots and image upgrades; the login user "
               "must be in the vyattacfg group)"))
    session_commands: ClassVar[tuple[str, ...]] = ("set terminal width 512", "set terminal length 0")
    leases_command: ClassVar[str] = "show dhcp server leases"
    managed_prefixes: ClassVar[tuple[Path, ...]] = (
        ("nat", "destination"), ("service", "dhcp-server"), ("system", "conntrack", "modules"))

    def _syntax(self) -> VyosSyntax:
        """The running release's nodes (``show version`` is read once per driver; reads already hold it)."""
        firmware = self.facts().firmware
        train = train_of(firmware)
        if train is None:
            raise UnsupportedOperation(f"VyOS {firmware}: routerfix knows the configuration syntax of 1.3 "
                                       "(equuleus) and later only", host=self.host, driver=self.name)
        return SYNTAX[train]

    def _forwards(self, paths: list[Path]) -> tuple[PortForward, ...]:
        return vyos_forwards(paths)

    def _scope(self, paths: list[Path]) -> tuple[DhcpScope, tuple[str, str]]:
        subnet = self.options.get("dhcp_subnet")
        return dhcp_scope(paths, subnet=str(subnet) if subnet else None)

    def _sip_alg(self, paths: list[Path]) -> bool:
        return vyos_sip_alg(paths)

    def _wan_from(self, paths: list[Path]) -> str | None:
        return vyos_wan_interface(paths)

    def _parse_leases(self, text: str) -> tuple[Lease, ...]:
        return parse_leases(text, source=self.leases_command)

    def _used_numbers(self, paths: list[Path]) -> set[int]:
        return {int(n) for n in rule_table(paths, ("nat", "destination", "rule")) if n.isdecimal()}

    def _rule_path(self, forward: PortForward) -> str:
        return f"nat destination rule {forward.ref}"

    def _add_commands(self, number: int, forward: PortForward, wan: str) -> list[str]:
        base = f"set nat destination rule {number}"
        return [f"{base} description '{forward.name}'",
                f"{base} destination port '{forward.external_ports}'",
                f"{base} {self._syntax().inbound_interface} '{wan}'",
                f"{base} protocol '{_PROTO[forward.protocol]}'",
                f"{base} translation address '{forward.internal_address}'",
                f"{base} translation port '{forward.internal_ports}'"]

    def _reserve_commands(self, where: tuple[str, str], reservation: Reservation) -> list[str]:
        base = (f"set service dhcp-server shared-network-name {where[0]} subnet {where[1]} "
                f"static-mapping {reservation.name}")
        return [f"{base} ip-address '{reservation.address}'",
                f"{base} {self._syntax().static_mapping_mac} '{reservation.mac}'"]

    def _sip_commands(self, enabled: bool) -> list[str]:
        # the SIP helper is loaded only while this node exists (docs/facts/vyos.md row 22)
        return ["set system conntrack modules sip"] if enabled else ["delete system conntrack modules sip"]
