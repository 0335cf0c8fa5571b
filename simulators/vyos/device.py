"""A simulated VyOS router, release 1.3 (equuleus), 1.4 (sagitta, the default) or 1.5 (circinus), served over
real SSH on 127.0.0.1 (:mod:`routerfix.simulators._hosts.ssh`). Follows the table docs/facts/vyos.md.

The CLI engine is :mod:`routerfix.simulators._vyatta.shell`. This module adds each release's configuration nodes (the
part of vyos-1x's interface definitions routerfix and the starting state use), its commit-time checks, and the
``show`` layouts.

Starting state ("office"): WAN eth0 (DHCP, 203.0.113.7), LAN eth1 192.168.1.1/24, DHCP range .100-.199, a printer
static mapping (.150), a customer forward tcp 8443 → 192.168.1.20:443 as rule 100, masquerade on eth0, the SIP
conntrack module enabled, two phones and a PC leased, two inbound scanner flows on udp 5060 and one phone flow to
its provider. ``handle.router.reboot()`` reverts to the saved configuration. Scenario "pbx" adds a customer rule
forwarding udp 5060 to a PBX at 192.168.1.10. Knob ``release``: "1.3", "1.4" or "1.5".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from routerfix.simulate import SimulatedDevice

from .._hosts.ssh import (
    OPENSSH_7_KEX,
    OPENSSH_9_2_KEX,
    OPENSSH_CIPHERS,
    Knobs,
    PlatformHandle,
    SSHSimulatorHost,
    serve_device,
    simulated_device,
)
from .._vyatta.shell import ARP, LEASES, Dialect, VyattaRouter, VyattaSession, net_tools_arp, scanner_flows
from .._vyatta.tree import FLAG, LEAF, MULTI, Path, Schema, Tag, group, seed

__all__ = ["VYOS_SCHEMA", "VyosSimulator", "make_router", "simulate"]

USERNAME = "vyos"
PASSWORD = "vyos-sim-pw"  # noqa: S105 - the simulator's own test account
KEX_ALGS = {"1.3": OPENSSH_7_KEX, "1.4": OPENSSH_9_2_KEX, "1.5": OPENSSH_9_2_KEX}
"""Key exchanges sshd offers per release, OpenSSH's defaults in its order (vyos.md row 43): 7.9p1 on 1.3, 9.2p1 on
1.4 and 1.5."""

_PORT = r"\d{1,5}(?:-\d{1,5})?(?:,\d{1,5}(?:-\d{1,5})?)*"

def _schema(release: str) -> Schema:
    """The configuration nodes of one VyOS release (docs/facts/vyos.md: nat.xml.in, service_dhcp-server.xml.in,
    system_conntrack.xml.in of its vyos/vyos-1x branch; only the nodes routerfix and the starting state use)."""
    interface: Any = LEAF if release == "1.3" else {"name": LEAF, "group": LEAF}
    mapping: dict[str, Any] = {"ip-address": LEAF, "disable": FLAG}
    subnet: dict[str, Any] = {"range": Tag({"start": LEAF, "stop": LEAF}, r"[-_a-zA-Z0-9.]+"), "lease": LEAF,
                              "description": LEAF}
    options = {"default-router": LEAF, "name-server": MULTI, "domain-name": LEAF}
    if release == "1.5":
        mapping |= {"mac": LEAF, "duid": LEAF, "description": LEAF}
        subnet |= {"option": options, "subnet-id": LEAF}
    else:
        mapping |= {"mac-address": LEAF, "static-mapping-parameters": MULTI}
        subnet |= options
    subnet["static-mapping"] = Tag(mapping, r"[-_a-zA-Z0-9.]+")
    return Schema({
        "interfaces": {"ethernet": Tag({"address": MULTI, "description": LEAF, "hw-id": LEAF}, r"eth\d+")},
        "nat": {
            "destination": {"rule": Tag({
                "description": LEAF, "disable": FLAG, "log": FLAG, "exclude": FLAG, "protocol": LEAF,
                "destination": {"address": LEAF, "port": LEAF}, "source": {"address": LEAF, "port": LEAF},
                "inbound-interface": interface,
                "translation": {"address": LEAF, "port": LEAF}}, r"\d{1,6}")},
            "source": {"rule": Tag({
                "description": LEAF, "outbound-interface": interface, "source": {"address": LEAF},
                "translation": {"address": LEAF}, "protocol": LEAF}, r"\d{1,6}")}},
        "service": {
            "dhcp-server": {"shared-network-name": Tag({"subnet": Tag(subnet, r"\d+\.\d+\.\d+\.\d+/\d+"),
                                                        "authoritative": FLAG}, r"[-_a-zA-Z0-9.]+")},
            "ssh": {"port": LEAF}},
        "system": {
            "host-name": LEAF,
            "conntrack": {"modules": {name: FLAG for name in ("ftp", "h323", "nfs", "pptp", "sip", "sqlnet", "tftp")}},
            "login": {"user": Tag({"authentication": {"encrypted-password": LEAF, "plaintext-password": LEAF}})}},
    }, quote_values=True)


RELEASES = ("1.3", "1.4", "1.5")
"""The releases the simulator models: 1.3 equuleus, 1.4 sagitta, 1.5 circinus."""
SCHEMAS = {release: _schema(release) for release in RELEASES}
VYOS_SCHEMA = SCHEMAS["1.4"]

_OFFICE = """
set interfaces ethernet eth0 address 'dhcp'
set interfaces ethernet eth0 description 'WAN'
set interfaces ethernet eth0 hw-id '00:50:56:00:00:01'
set interfaces ethernet eth1 address '192.168.1.1/24'
set interfaces ethernet eth1 description 'LAN'
set interfaces ethernet eth1 hw-id '00:50:56:00:00:02'
set nat destination rule 100 description 'NAS https'
set nat destination rule 100 destination port '8443'
set nat destination rule 100 $IN 'eth0'
set nat destination rule 100 protocol 'tcp'
set nat destination rule 100 translation address '192.168.1.20'
set nat destination rule 100 translation port '443'
set nat source rule 100 $OUT 'eth0'
set nat source rule 100 source address '192.168.1.0/24'
set nat source rule 100 translation address 'masquerade'
set $LAN $OPTdefault-router '192.168.1.1'
set $LAN $OPTname-server '192.168.1.1'
set $LAN range 0 start '192.168.1.100'
set $LAN range 0 stop '192.168.1.199'
set $LAN static-mapping printer ip-address '192.168.1.150'
set $LAN static-mapping printer $MAC '00:80:77:12:34:56'
set service ssh port '22'
set system conntrack modules sip
set system host-name 'vyos'
set system login user vyos authentication encrypted-password '$6$rounds=656000$W1n2...$Xl0T.redacted'
"""

_PBX = """
set nat destination rule 50 description 'PBX'
set nat destination rule 50 destination port '5060'
set nat destination rule 50 $IN 'eth0'
set nat destination rule 50 protocol 'udp'
set nat destination rule 50 translation address '192.168.1.10'
"""


def _config(text: str, release: str) -> str:
    """``text`` in the forms of ``release`` (the placeholders are the nodes that differ: docs/facts/vyos.md)."""
    if release == "1.5":
        text += "set $LAN subnet-id '1'\n"
    words = {"$LAN": "service dhcp-server shared-network-name LAN subnet 192.168.1.0/24",
             "$IN": "inbound-interface" if release == "1.3" else "inbound-interface name",
             "$OUT": "outbound-interface" if release == "1.3" else "outbound-interface name",
             "$OPT": "option " if release == "1.5" else "",
             "$MAC": "mac" if release == "1.5" else "mac-address"}
    for key, value in words.items():
        text = text.replace(key, value)
    return text


def _leases(router: VyattaRouter) -> str:
    head = ("IP Address      MAC address        State    Lease start          Lease expiration     Remaining    "
            "Pool      Hostname        Origin\n"
            "--------------  -----------------  -------  -------------------  -------------------  -----------  "
            "--------  --------------  --------\n")
    rows = [f"{x['ip']:<16}{x['mac']:<19}{'active':<9}{'2026/11/25 08:00:00':<21}{'2026/11/26 08:00:00':<21}"
            f"{'23:10:05':<13}{'LAN':<10}{x['hostname']:<16}local" for x in router.leases]
    return head + "".join(r + "\n" for r in rows)


def _arp(router: VyattaRouter) -> str:
    rows = ["Address        Interface    Link layer address    State",
            "-------------  -----------  --------------------  ---------"]
    rows += [f"{ip:<15}{'eth1':<13}{mac:<22}REACHABLE" for ip, mac in router.arp.items()]
    rows.append(f"{'192.168.1.198':<15}{'eth1':<13}{'':<22}FAILED")
    return "\n".join(rows) + "\n"


def _leases_13(router: VyattaRouter) -> str:
    """1.3's ``show dhcp server leases`` (docs/facts/vyos.md row 23: the isc-dhcp era columns)."""
    head = ("IP address      Hardware address    State    Lease start          Lease expiration     Remaining"
            "    Pool    Hostname\n"
            "--------------  ------------------  -------  -------------------  -------------------  -----------"
            "  ------  --------------\n")
    rows = [f"{x['ip']:<16}{x['mac']:<20}{'active':<9}{'2026/11/25 08:00:00':<21}{'2026/11/26 08:00:00':<21}"
            f"{'23:10:05':<13}{'LAN':<8}{x['hostname']}" for x in router.leases]
    return head + "".join(r + "\n" for r in rows)


def _arp_13(router: VyattaRouter) -> str:
    """1.3's ``show arp`` (``arp -e -n``, docs/facts/vyos.md row 24)."""
    return net_tools_arp(router, "eth1", "192.168.1.198")


def _interfaces(router: VyattaRouter) -> str:
    return ("Codes: S - State, L - Link, u - Up, D - Down, A - Admin Down\n"
            "Interface    IP Address         MAC                VRF        MTU  S/L    Description\n"
            "-----------  -----------------  -----------------  -------  -----  -----  -------------\n"
            f"eth0         {router.wan_address:<19}00:50:56:00:00:01  default   1500  u/u    WAN\n"
            "eth1         192.168.1.1/24     00:50:56:00:00:02  default   1500  u/u    LAN\n"
            "lo           127.0.0.1/8        00:00:00:00:00:00  default  65536  u/u\n")


def _validator(release: str) -> Callable[[list[Path]], str | None]:
    """Commit-time checks of ``release`` (docs/facts/vyos.md: src/conf_mode/nat.py and service_dhcp-server.py)."""
    mac_key = "mac" if release == "1.5" else "mac-address"

    def validate(paths: list[Path]) -> str | None:
        for number, rule in group(paths, ("nat", "destination", "rule")).items():
            err = f"Destination NAT configuration error in rule {number}:"
            if ("translation", "address") not in rule and ("translation", "port") not in rule and \
                    "exclude" not in rule.get((), []):
                return f"{err} translation requires address and/or port"
            if any(k in rule for k in (("destination", "port"), ("translation", "port"), ("source", "port"))) and \
                    (rule.get(("protocol",)) or [""])[0] not in ("tcp", "udp", "tcp_udp"):
                return f"{err} ports can only be specified when protocol is either tcp, udp or tcp_udp!"
        for network, body in group(paths, ("service", "dhcp-server", "shared-network-name")).items():
            subnets = {k[1] for k in body if len(k) >= 2 and k[0] == "subnet"}
            for subnet in sorted(subnets):
                sub = {k[2:]: v for k, v in body.items() if k[:2] == ("subnet", subnet)}
                if release == "1.5" and ("subnet-id",) not in sub:
                    return f'Unique subnet ID not specified for subnet "{subnet}"'
                names = {k[1] for k in sub if len(k) >= 2 and k[0] == "static-mapping"}
                for name in sorted(names):
                    if ("static-mapping", name, "ip-address") not in sub:
                        continue
                    has_mac = ("static-mapping", name, mac_key) in sub
                    if release == "1.5":
                        if has_mac == (("static-mapping", name, "duid") in sub):
                            return ("Either MAC address or Client identifier (DUID) is required for static mapping "
                                    f'"{name}" within shared-network "{network}, {subnet}"!')
                    elif not has_mac:
                        return (f'MAC address required for static mapping "{name}"\n'
                                f'within shared-network "{network}, {subnet}"!')
        return None

    return validate


_VERSION = """Version:          VyOS {version}
Release train:    {train}
Release flavor:   generic

Built by:         autobuild@vyos.net
Built on:         Mon 04 Mar 2024 10:02 UTC
Build UUID:       2f1b9e6a-8c1c-4a5b-9f53-8e1a2b3c4d5e
Build commit ID:  4b9c1a2d3e4f5a

Architecture:     x86_64
Boot via:         installed image
System type:      KVM guest

Hardware vendor:  QEMU
Hardware model:   Standard PC (i440FX + PIIX, 1996)
"""

_NAMES = {"1.3": ("1.3.8", "equuleus"), "1.4": ("1.4.0", "sagitta"), "1.5": ("1.5-rolling-202410210007", "circinus")}
"""Version and release train ``show version`` prints for each modelled release."""

DIALECTS = {release: Dialect(
    schema=SCHEMAS[release], terminal_prefix="set terminal", leases_command="show dhcp server leases",
    render_leases=_leases_13 if release == "1.3" else _leases, render_arp=_arp_13 if release == "1.3" else _arp,
    render_interfaces=_interfaces,
    version=_VERSION.format(version=_NAMES[release][0], train=_NAMES[release][1]), validate=_validator(release))
    for release in RELEASES}
VYOS = DIALECTS["1.4"]


VyosSimulator = PlatformHandle[VyattaRouter]
"""What ``SimulatedDevice.handle`` holds: the SSH device (knobs, recorders) and the VyattaRouter."""


def make_router(scenario: str = "office", *, release: str = "1.4") -> VyattaRouter:
    """A router in a named starting state (``office`` or ``pbx``) on ``release`` (1.3, 1.4 or 1.5)."""
    if scenario not in ("office", "pbx"):
        raise ValueError(f"unknown scenario {scenario!r}: office or pbx")
    if release not in RELEASES:
        raise ValueError(f"unknown release {release!r}: one of {', '.join(RELEASES)}")
    paths = seed(_config(_OFFICE + (_PBX if scenario == "pbx" else ""), release))
    arp = dict(ARP)
    if scenario == "pbx":
        arp["192.168.1.10"] = "00:0b:82:aa:bb:cc"
    return VyattaRouter(DIALECTS[release], paths, user=USERNAME, leases=[dict(x) for x in LEASES], arp=arp,
                        conntrack=scanner_flows())


@contextmanager
def simulate(scenario: str = "office", *, host: SSHSimulatorHost | None = None, latency: float = 0.0,
             router: VyattaRouter | None = None, release: str = "1.4", **_: Any) -> Iterator[SimulatedDevice]:
    """Serve one simulated VyOS ``release`` router on 127.0.0.1 (on ``host`` if given, else on a private host)."""
    state = router or make_router(scenario, release=release)
    with serve_device(host, "vyos", lambda user: VyattaSession(state, user), username=USERNAME, password=PASSWORD,
                      knobs=Knobs(latency=latency), server_version="OpenSSH_9.2p1 Debian-2",
                      kex_algs=KEX_ALGS[release], encryption_algs=OPENSSH_CIPHERS) as device:
        version, train = _NAMES[release]
        yield simulated_device(device, "vyos", f"VyOS {version} {train} ({scenario})", VyosSimulator(device, state))
