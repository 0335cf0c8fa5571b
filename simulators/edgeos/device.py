"""A simulated Ubiquiti EdgeRouter X on EdgeOS 2.0.9, served over real SSH on 127.0.0.1
(:mod:`routerfix.simulators._hosts.ssh`). Follows the table docs/facts/edgeos.md.

The CLI engine is the Vyatta-family one in :mod:`routerfix.simulators._vyatta.shell`. EdgeOS specifics here: the
``service nat rule`` and ``port-forward`` trees, ``subnet S start A stop B``, ``static-mapping`` ``ip-address``/
``mac-address``, ``system conntrack modules sip disable``, values quoted only when needed, and the ``show``
layouts of recorded EdgeRouter output.

Starting state ("office"): WAN eth0 (DHCP, 203.0.113.9), LAN switch0 192.168.1.1/24, wizard DHCP range
.38-.243, a printer static mapping (.150), a customer port-forward wizard rule tcp 8443 → 192.168.1.20:443,
masquerade rule 5010 on eth0, SIP ALG on (EdgeOS default), phones and a PC leased, scanner flows in conntrack.
Scenario "pbx" adds a customer ``service nat`` rule forwarding udp 5060 to a PBX at 192.168.1.10.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from routerfix.simulate import SimulatedDevice

from .._hosts.ssh import (
    OPENSSH_7_KEX,
    OPENSSH_CIPHERS,
    Knobs,
    PlatformHandle,
    SSHSimulatorHost,
    serve_device,
    simulated_device,
)
from .._vyatta.shell import ARP, LEASES, Dialect, VyattaRouter, VyattaSession, net_tools_arp, scanner_flows
from .._vyatta.tree import FLAG, LEAF, MULTI, Path, Schema, Tag, group, seed

__all__ = ["EDGEOS_SCHEMA", "EdgeOsSimulator", "make_router", "simulate"]

USERNAME = "ubnt"
PASSWORD = "ubnt-sim-pw"  # noqa: S105 - the simulator's own test account
KEX_ALGS = OPENSSH_7_KEX
"""Key exchanges sshd offers: OpenSSH 7.4p1's defaults, in its order (edgeos.md row 25)."""

EDGEOS_SCHEMA = Schema({
    "firewall": {"all-ping": LEAF, "broadcast-ping": LEAF, "syn-cookies": LEAF},
    "interfaces": {"ethernet": Tag({"address": MULTI, "description": LEAF, "duplex": LEAF, "speed": LEAF},
                                   r"eth\d+"),
                   "switch": Tag({"address": MULTI, "description": LEAF, "mtu": LEAF}, r"switch\d+")},
    "port-forward": {"auto-firewall": LEAF, "hairpin-nat": LEAF, "lan-interface": MULTI, "wan-interface": LEAF,
                     "rule": Tag({"description": LEAF, "original-port": LEAF, "protocol": LEAF,
                                  "forward-to": {"address": LEAF, "port": LEAF}}, r"\d{1,4}")},
    "service": {
        "dhcp-server": {"disabled": LEAF, "hostfile-update": LEAF, "use-dnsmasq": LEAF,
                        "shared-network-name": Tag({"authoritative": LEAF, "subnet": Tag({
                            "default-router": LEAF, "dns-server": MULTI, "lease": LEAF,
                            "start": Tag({"stop": LEAF}, r"\d+\.\d+\.\d+\.\d+"),
                            "static-mapping": Tag({"ip-address": LEAF, "mac-address": LEAF},
                                                  r"[A-Za-z0-9][\w.-]*")}, r"\d+\.\d+\.\d+\.\d+/\d+")})},
        "nat": {"rule": Tag({"description": LEAF, "destination": {"address": LEAF, "port": LEAF},
                             "inbound-interface": LEAF, "outbound-interface": LEAF, "log": LEAF, "protocol": LEAF,
                             "type": LEAF, "disable": FLAG, "exclude": FLAG,
                             "inside-address": {"address": LEAF, "port": LEAF},
                             "outside-address": {"address": LEAF}, "source": {"address": LEAF, "port": LEAF}},
                            r"\d{1,4}")},
        "ssh": {"port": LEAF, "protocol-version": LEAF}, "gui": {"http-port": LEAF, "https-port": LEAF}},
    "system": {
        "host-name": LEAF,
        "conntrack": {"modules": {name: {"disable": FLAG}
                                  for name in ("ftp", "gre", "h323", "pptp", "sip", "tftp")}},
        "login": {"user": Tag({"authentication": {"encrypted-password": LEAF}, "level": LEAF})}},
}, quote_values=False)

_OFFICE = """
set firewall all-ping enable
set interfaces ethernet eth0 address dhcp
set interfaces ethernet eth0 description Internet
set interfaces switch switch0 address 192.168.1.1/24
set interfaces switch switch0 description Local
set port-forward auto-firewall enable
set port-forward hairpin-nat enable
set port-forward lan-interface switch0
set port-forward rule 1 description 'NAS https'
set port-forward rule 1 forward-to address 192.168.1.20
set port-forward rule 1 forward-to port 443
set port-forward rule 1 original-port 8443
set port-forward rule 1 protocol tcp
set port-forward wan-interface eth0
set service dhcp-server disabled false
set service dhcp-server shared-network-name LAN authoritative enable
set $LAN default-router 192.168.1.1
set $LAN dns-server 192.168.1.1
set $LAN lease 86400
set $LAN start 192.168.1.38 stop 192.168.1.243
set $LAN static-mapping printer ip-address 192.168.1.150
set $LAN static-mapping printer mac-address 00:80:77:12:34:56
set service nat rule 5010 description 'masquerade for WAN'
set service nat rule 5010 outbound-interface eth0
set service nat rule 5010 type masquerade
set service ssh port 22
set system host-name ubnt
set system login user ubnt authentication encrypted-password '$6$abcdefgh$redacted'
set system login user ubnt level admin
"""

_PBX = """
set service nat rule 1 description PBX
set service nat rule 1 destination port 5060
set service nat rule 1 inbound-interface eth0
set service nat rule 1 inside-address address 192.168.1.10
set service nat rule 1 protocol udp
set service nat rule 1 type destination
"""


def _leases(router: VyattaRouter) -> str:
    head = ("IP address      Hardware Address   Lease expiration     Pool       Client Name\n"
            "----------      ----------------   ----------------     ----       -----------\n")
    return head + "".join(f"{x['ip']:<16}{x['mac']:<19}{'Nov 26, 2026':<21}{'LAN':<11}{x['hostname']}\n"
                          for x in router.leases)


def _arp(router: VyattaRouter) -> str:
    return net_tools_arp(router, "switch0", "192.168.1.240")


def _interfaces(router: VyattaRouter) -> str:
    return ("Codes: S - State, L - Link, u - Up, D - Down, A - Admin Down\n"
            "Interface    IP Address                        S/L  Description\n"
            "---------    ----------                        ---  -----------\n"
            f"eth0         {router.wan_address:<34}u/u  Internet\n"
            "eth1         -                                 u/u\n"
            "lo           127.0.0.1/8                       u/u\n"
            "switch0      192.168.1.1/24                    u/u  Local\n")


def _validate(paths: list[Path]) -> str | None:
    """Commit checks of a ``service nat rule`` (docs/facts/edgeos.md row 6)."""
    for number, rule in group(paths, ("service", "nat", "rule")).items():
        kind = (rule.get(("type",)) or [""])[0]
        where = f"[ service nat rule {number} ]\n"
        if kind not in ("source", "destination", "masquerade"):
            return where + "rule type not specified/valid"
        if kind == "destination" and ("inbound-interface",) not in rule:
            return where + "inbound-interface not specified"
        if kind == "destination" and ("inside-address", "address") not in rule and "exclude" not in rule.get((), []):
            return where + "inside-address not specified"
    return None


_VERSION = """Version:      v2.0.9-hotfix.7
Build ID:     5611733
Build on:     05/23/23 11:10
Copyright:    2012-2023 Ubiquiti, Inc.
HW model:     EdgeRouter X 5-Port
HW S/N:       7483C2A1B2C3
Uptime:       10:21:03 up 3 days,  2:11,  1 user,  load average: 0.08, 0.05, 0.01
"""

EDGEOS = Dialect(schema=EDGEOS_SCHEMA, terminal_prefix="terminal", leases_command="show dhcp leases",
                 render_leases=_leases, render_arp=_arp, render_interfaces=_interfaces, version=_VERSION,
                 validate=_validate)


EdgeOsSimulator = PlatformHandle[VyattaRouter]
"""What ``SimulatedDevice.handle`` holds: the SSH device (knobs, recorders) and the VyattaRouter."""


def make_router(scenario: str = "office") -> VyattaRouter:
    """A router in a named starting state (``office`` or ``pbx``)."""
    if scenario not in ("office", "pbx"):
        raise ValueError(f"unknown scenario {scenario!r}: office or pbx")
    arp = dict(ARP)
    if scenario == "pbx":
        arp["192.168.1.10"] = "00:0b:82:aa:bb:cc"
    text = (_OFFICE + (_PBX if scenario == "pbx" else "")).replace(
        "$LAN", "service dhcp-server shared-network-name LAN subnet 192.168.1.0/24")
    return VyattaRouter(EDGEOS, seed(text), user=USERNAME,
                        leases=[dict(x) for x in LEASES], arp=arp, wan_address="203.0.113.9/24",
                        conntrack=scanner_flows("203.0.113.9"))


@contextmanager
def simulate(scenario: str = "office", *, host: SSHSimulatorHost | None = None, latency: float = 0.0,
             router: VyattaRouter | None = None, **_: Any) -> Iterator[SimulatedDevice]:
    """Serve one simulated EdgeRouter on 127.0.0.1 (on ``host`` if given, else on a private host)."""
    state = router or make_router(scenario)
    with serve_device(host, "edgeos", lambda user: VyattaSession(state, user), username=USERNAME,
                      password=PASSWORD, knobs=Knobs(latency=latency),
                      server_version="OpenSSH_7.4p1 Debian-10", kex_algs=KEX_ALGS,
                      encryption_algs=OPENSSH_CIPHERS) as device:
        yield simulated_device(device, "edgeos", f"EdgeRouter X EdgeOS 2.0.9 ({scenario})",
                               EdgeOsSimulator(device, state))
