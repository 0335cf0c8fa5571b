"""The configuration a simulated Nighthawk keeps across logins, and its server-side validation.

Follows docs/facts/netgear.md: rule limits 20 (ACOS, row 27) and 64 (net-cgi, row 45); forward target
inside the LAN and not the router (row 8); overlaps and the reserved ports (1900/UDP, 123/UDP, remote
management) refused whatever the target (row 9, inferred: the stricter choice).
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass, field

__all__ = ["AttachedDevice", "NetgearConfig", "Rule", "RuleRefused"]

PROTOCOLS = ("TCP/UDP", "TCP", "UDP")


class RuleRefused(Exception):
    """A server-side refusal; ``key`` names the string-table entry, ``text`` the words shown."""

    def __init__(self, key: str, text: str) -> None:
        super().__init__(text)
        self.key = key
        self.text = text


@dataclass
class Rule:
    """One custom-service port forward as the firmware stores it."""

    name: str
    proto: str  # TCP/UDP, TCP, UDP
    ext_start: int
    ext_end: int
    int_start: int
    int_end: int
    ip: str

    def protocols(self) -> set[str]:
        """{"TCP", "UDP"} members."""
        return {"TCP", "UDP"} if self.proto == "TCP/UDP" else {self.proto}


@dataclass
class AttachedDevice:
    """A LAN client in the attached-devices list."""

    ip: str
    name: str
    mac: str  # AA:BB:CC:DD:EE:FF
    wireless: bool = False


def _office_devices() -> list[AttachedDevice]:
    return [
        AttachedDevice("192.168.1.2", "Polycom-VVX450", "00:04:F2:A1:B2:C3"),
        AttachedDevice("192.168.1.3", "SIP-T46S", "80:5E:C0:11:22:33"),
        AttachedDevice("192.168.1.4", "reception-pc", "3C:22:FB:44:55:66", wireless=True),
        AttachedDevice("192.168.1.20", "printer", "00:80:77:12:34:56"),
    ]


@dataclass
class NetgearConfig:
    """Settings of one simulated router (NVRAM/config), shared by every session."""

    max_rules: int = 20
    nat_secured: bool = True
    sip_alg: bool = True
    spi: bool = True
    dmz_enable: bool = False
    dmz_ip: str = ""
    resp_ping: bool = False
    igmp_proxy: bool = True
    wan_mtu: int = 1500
    lan_ip: str = "192.168.1.1"
    lan_mask: str = "255.255.255.0"
    dhcp_start: str = "192.168.1.2"
    dhcp_end: str = "192.168.1.254"
    remote_port: int | None = None
    """Remote management TCP port when remote management is on (its port cannot be forwarded)."""
    rules: list[Rule] = field(default_factory=list)
    devices: list[AttachedDevice] = field(default_factory=_office_devices)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def network(self) -> ipaddress.IPv4Network:
        """The LAN network."""
        return ipaddress.IPv4Network(f"{self.lan_ip}/{self.lan_mask}", strict=False)

    def check_rule(self, rule: Rule, *, ignore: Rule | None = None, texts: dict[str, str]) -> None:
        """Refuse ``rule`` the way the firmware would (``texts`` maps string keys to the family's words)."""
        others = [r for r in self.rules if r is not ignore]
        if not rule.name or len(rule.name) > 30:
            raise RuleRefused("invalid_ser_name", texts["invalid_ser_name"])
        if any(r.name == rule.name for r in others):
            raise RuleRefused("name_dup", texts["name_dup"])
        try:
            ip = ipaddress.IPv4Address(rule.ip)
        except ValueError:
            raise RuleRefused("invalid_ip", texts["invalid_ip"]) from None
        net = self.network
        if ip not in net or ip in (net.network_address, net.broadcast_address):
            raise RuleRefused("ip_must_be_lan_ip", texts["ip_must_be_lan_ip"])
        if str(ip) == self.lan_ip:
            raise RuleRefused("ip_cannot_be_router_lan_ip", texts["ip_cannot_be_router_lan_ip"])
        if not (1 <= rule.ext_start <= rule.ext_end <= 65535) or not (1 <= rule.int_start <= rule.int_end <= 65535):
            raise RuleRefused("ports_error", texts["ports_error"])
        if rule.int_end - rule.int_start != rule.ext_end - rule.ext_start:
            raise RuleRefused("ports_error", texts["ports_error"])
        reserved = [(1900, "UDP"), (123, "UDP")]
        if self.remote_port:
            reserved.append((self.remote_port, "TCP"))
        for port, proto in reserved:
            if rule.ext_start <= port <= rule.ext_end and proto in rule.protocols():
                raise RuleRefused("port_reserved", texts["port_reserved"])
        for r in others:
            if r.ext_start <= rule.ext_end and rule.ext_start <= r.ext_end and r.protocols() & rule.protocols():
                raise RuleRefused("port_used", texts["port_used"])
        if len(others) >= self.max_rules:
            raise RuleRefused("max_rules", texts["max_rules"])
