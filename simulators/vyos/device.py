"""A simulated VyOS 1.4 (sagitta) router served over real SSH on 127.0.0.1 (:mod:`routerfix.simulators._hosts.ssh`).

The CLI engine is :mod:`routerfix.simulators.vyos.shell` (its docstring lists the facts of ``ssh-cli.md`` §3/§0.4 it
reproduces: prompts, ``[edit]``, per-session candidate, ``commit``, ``save`` → ``Done``, ``Cannot exit:
configuration modified``, ``exit discard``; inferred ones marked [I]). This module adds VyOS's syntax (a schema of
the configuration nodes routerfix and the starting state use: ``nat destination/source rule``, ``service
dhcp-server ... range N start/stop``, ``static-mapping <name> ip-address/mac``, ``system conntrack modules sip``
[C vyos-doc, §3]), the ``show dhcp server leases`` table [C sample, §3], and ``show arp``/``show interfaces``/
``show version`` layouts [I].

Starting state ("office"): WAN eth0 (DHCP, 203.0.113.7), LAN eth1 192.168.1.1/24, DHCP range .100-.199, a printer
static mapping (.150), a customer forward tcp 8443 → 192.168.1.20:443 as rule 100, masquerade on eth0, the SIP
conntrack module enabled, two phones and a PC leased, two inbound scanner flows on udp 5060 and one phone flow to
its provider. ``handle.router.reboot()`` reverts to the saved configuration. Scenario "pbx" adds a customer rule
forwarding udp 5060 to a PBX at 192.168.1.10.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from routerfix.drivers.vyos.configtree import FLAG, LEAF, MULTI, Path, Schema, Tag, rule_table  # type: ignore[import-not-found]  # mypy sees drivers/ as "drivers"

from routerfix.simulate import SimulatedDevice

from .._hosts.ssh import Knobs, PlatformHandle, SSHSimulatorHost, serve_device, simulated_device
from .shell import Conntrack, Dialect, VyattaRouter, VyattaSession, seed

__all__ = ["VYOS_SCHEMA", "VyosSimulator", "make_router", "simulate"]

USERNAME = "vyos"
PASSWORD = "vyos-sim-pw"  # noqa: S105 - the simulator's own test account

_PORT = r"\d{1,5}(?:-\d{1,5})?(?:,\d{1,5}(?:-\d{1,5})?)*"

VYOS_SCHEMA = Schema({
    "interfaces": {"ethernet": Tag({"address": MULTI, "description": LEAF, "hw-id": LEAF}, r"eth\d+")},
    "nat": {
        "destination": {"rule": Tag({
            "description": LEAF, "disable": FLAG, "log": FLAG, "exclude": FLAG, "protocol": LEAF,
            "destination": {"address": LEAF, "port": LEAF}, "source": {"address": LEAF, "port": LEAF},
            "inbound-interface": {"name": LEAF, "group": LEAF},
            "translation": {"address": LEAF, "port": LEAF}}, r"\d{1,6}")},
        "source": {"rule": Tag({
            "description": LEAF, "outbound-interface": {"name": LEAF}, "source": {"address": LEAF},
            "translation": {"address": LEAF}, "protocol": LEAF}, r"\d{1,6}")}},
    "service": {
        "dhcp-server": {"shared-network-name": Tag({"subnet": Tag({
            "option": {"default-router": LEAF, "name-server": MULTI, "domain-name": LEAF},
            "range": Tag({"start": LEAF, "stop": LEAF}, r"\w+"),
            "static-mapping": Tag({"ip-address": LEAF, "mac": LEAF, "description": LEAF}, r"[A-Za-z0-9][\w.-]*"),
            "subnet-id": LEAF, "lease": LEAF}, r"\d+\.\d+\.\d+\.\d+/\d+"), "authoritative": FLAG})},
        "ssh": {"port": LEAF}},
    "system": {
        "host-name": LEAF,
        "conntrack": {"modules": {name: {"enable-indirect-media": FLAG, "port": MULTI} if name == "sip" else FLAG
                                  for name in ("ftp", "h323", "nfs", "pptp", "sip", "sqlnet", "tftp")}},
        "login": {"user": Tag({"authentication": {"encrypted-password": LEAF, "plaintext-password": LEAF}})}},
}, quote_values=True)

_OFFICE = """
set interfaces ethernet eth0 address 'dhcp'
set interfaces ethernet eth0 description 'WAN'
set interfaces ethernet eth0 hw-id '00:50:56:00:00:01'
set interfaces ethernet eth1 address '192.168.1.1/24'
set interfaces ethernet eth1 description 'LAN'
set interfaces ethernet eth1 hw-id '00:50:56:00:00:02'
set nat destination rule 100 description 'NAS https'
set nat destination rule 100 destination port '8443'
set nat destination rule 100 inbound-interface name 'eth0'
set nat destination rule 100 protocol 'tcp'
set nat destination rule 100 translation address '192.168.1.20'
set nat destination rule 100 translation port '443'
set nat source rule 100 outbound-interface name 'eth0'
set nat source rule 100 source address '192.168.1.0/24'
set nat source rule 100 translation address 'masquerade'
set service dhcp-server shared-network-name LAN subnet 192.168.1.0/24 option default-router '192.168.1.1'
set service dhcp-server shared-network-name LAN subnet 192.168.1.0/24 option name-server '192.168.1.1'
set service dhcp-server shared-network-name LAN subnet 192.168.1.0/24 range 0 start '192.168.1.100'
set service dhcp-server shared-network-name LAN subnet 192.168.1.0/24 range 0 stop '192.168.1.199'
set service dhcp-server shared-network-name LAN subnet 192.168.1.0/24 static-mapping printer ip-address '192.168.1.150'
set service dhcp-server shared-network-name LAN subnet 192.168.1.0/24 static-mapping printer mac '00:80:77:12:34:56'
set service dhcp-server shared-network-name LAN subnet 192.168.1.0/24 subnet-id '1'
set service ssh port '22'
set system conntrack modules sip
set system host-name 'vyos'
set system login user vyos authentication encrypted-password '$6$rounds=656000$W1n2...$Xl0T.redacted'
"""

_PBX = """
set nat destination rule 50 description 'PBX'
set nat destination rule 50 destination port '5060'
set nat destination rule 50 inbound-interface name 'eth0'
set nat destination rule 50 protocol 'udp'
set nat destination rule 50 translation address '192.168.1.10'
"""

LEASES = [
    {"ip": "192.168.1.100", "mac": "00:04:f2:a1:b2:c3", "hostname": "Polycom-VVX450"},
    {"ip": "192.168.1.101", "mac": "80:5e:c0:11:22:33", "hostname": "SIP-T46S"},
    {"ip": "192.168.1.102", "mac": "3c:22:fb:44:55:66", "hostname": "reception-pc"},
]
ARP = {"192.168.1.100": "00:04:f2:a1:b2:c3", "192.168.1.150": "00:80:77:12:34:56",
       "192.168.1.20": "00:11:32:00:aa:01", "192.168.1.102": "3c:22:fb:44:55:66"}


def scanner_flows(wan: str = "203.0.113.7") -> list[Conntrack]:
    """Two inbound scanner flows to the WAN on 5060 and one phone flow to its provider (must survive a flush)."""
    return [Conntrack("udp", "198.51.100.23", wan, 5060), Conntrack("udp", "198.51.100.24", wan, 5060),
            Conntrack("udp", "192.168.1.100", "192.0.2.80", 5060)]


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


def _interfaces(router: VyattaRouter) -> str:
    return ("Codes: S - State, L - Link, u - Up, D - Down, A - Admin Down\n"
            "Interface    IP Address         MAC                VRF        MTU  S/L    Description\n"
            "-----------  -----------------  -----------------  -------  -----  -----  -------------\n"
            f"eth0         {router.wan_address:<19}00:50:56:00:00:01  default   1500  u/u    WAN\n"
            "eth1         192.168.1.1/24     00:50:56:00:00:02  default   1500  u/u    LAN\n"
            "lo           127.0.0.1/8        00:00:00:00:00:00  default  65536  u/u\n")


def _validate(paths: list[Path]) -> str | None:
    for number, rule in rule_table(paths, ("nat", "destination", "rule")).items():
        if ("translation", "address") not in rule and "exclude" not in rule.get((), []):
            return f"[ nat destination rule {number} ]\nTranslation requires address and/or port"
        if ("destination", "port") in rule and ("protocol",) not in rule:
            return f"[ nat destination rule {number} ]\nPort number can only be specified when protocol is specified"
    return None


_VERSION = """Version:          VyOS 1.4.0
Release train:    sagitta
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

VYOS = Dialect(schema=VYOS_SCHEMA, terminal_prefix="set terminal", leases_command="show dhcp server leases",
               render_leases=_leases, render_arp=_arp, render_interfaces=_interfaces, version=_VERSION,
               validate=_validate)


VyosSimulator = PlatformHandle[VyattaRouter]
"""What ``SimulatedDevice.handle`` holds: the SSH device (knobs, recorders) and the VyattaRouter."""


def make_router(scenario: str = "office") -> VyattaRouter:
    """A router in a named starting state (``office`` or ``pbx``)."""
    if scenario not in ("office", "pbx"):
        raise ValueError(f"unknown scenario {scenario!r}: office or pbx")
    paths = seed(_OFFICE + (_PBX if scenario == "pbx" else ""))
    arp = dict(ARP)
    if scenario == "pbx":
        arp["192.168.1.10"] = "00:0b:82:aa:bb:cc"
    return VyattaRouter(VYOS, paths, user=USERNAME, leases=[dict(x) for x in LEASES], arp=arp,
                        conntrack=scanner_flows())


@contextmanager
def simulate(scenario: str = "office", *, host: SSHSimulatorHost | None = None, latency: float = 0.0,
             router: VyattaRouter | None = None, **_: Any) -> Iterator[SimulatedDevice]:
    """Serve one simulated VyOS router on 127.0.0.1 (on ``host`` if given, else on a private host)."""
    state = router or make_router(scenario)
    with serve_device(host, "vyos", lambda user: VyattaSession(state, user), username=USERNAME, password=PASSWORD,
                      knobs=Knobs(latency=latency), server_version="OpenSSH_9.2p1 Debian-2") as device:
        yield simulated_device(device, "vyos", f"VyOS 1.4 sagitta ({scenario})", VyosSimulator(device, state))
