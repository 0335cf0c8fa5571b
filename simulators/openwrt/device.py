"""A simulated OpenWrt 23.05.3 router (Xiaomi Mi Router 4A Gigabit, ramips/mt7621) with a root shell over real
SSH on 127.0.0.1 (:mod:`routerfix.simulators._hosts.ssh`).

Follows the table docs/facts/openwrt.md. The shell and ``uci`` model are
:mod:`routerfix.simulators.openwrt.shell`. UCI changes are staged until ``uci commit``
(and lost at ``handle.router.reboot()``); ``handle.router.active_firewall`` is what fw4 loaded at the last reload.

Starting state ("office"): lan 192.168.1.1/24 with ``start=100``/``limit=150`` (pool .100-.249), a printer host
(.150), a customer redirect tcp 8443 → 192.168.1.20:443, the SIP helper module loaded with ``auto_helper``
unset (on), the conntrack tool installed, phones and a PC leased, two inbound scanner flows on udp 5060 and a
phone's flow to its provider, and a static host answering ping at .249. Knobs: ``conntrack_tool`` (False: the
tool is missing), ``sip_module`` (False: no helper kmod), scenario "pbx" (a customer redirect of udp 5060 to a
PBX at 192.168.1.10), ``latency``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from routerfix.simulate import SimulatedDevice

from .._hosts.ssh import Knobs, PlatformHandle, SSHSimulatorHost, serve_device, simulated_device
from .shell import OpenWrtRouter, OpenWrtSession, Section

__all__ = ["OpenWrtSimulator", "make_router", "simulate"]

USERNAME = "root"
KEX_ALGS = ("curve25519-sha256", "curve25519-sha256@libssh.org", "diffie-hellman-group14-sha256",
            "diffie-hellman-group14-sha1")
"""Key exchanges dropbear 2022.82 offers as OpenWrt 23.05 builds it, in its order (openwrt.md row 45)."""
CIPHERS = ("chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-ctr")
"""Ciphers dropbear 2022.82 offers as OpenWrt 23.05 builds it, in its order: no AES-GCM (openwrt.md row 46)."""
PASSWORD = "openwrt-sim-pw"  # noqa: S105 - the simulator's own test account


OpenWrtSimulator = PlatformHandle[OpenWrtRouter]
"""What ``SimulatedDevice.handle`` holds: the SSH device (knobs, recorders) and the OpenWrtRouter."""


def make_router(scenario: str = "office", *, conntrack_tool: bool = True, sip_module: bool = True) -> OpenWrtRouter:
    """A router in a named starting state (``office`` or ``pbx``)."""
    if scenario not in ("office", "pbx"):
        raise ValueError(f"unknown scenario {scenario!r}: office or pbx")
    router = OpenWrtRouter(has_conntrack=conntrack_tool, sip_module=sip_module)
    if scenario == "pbx":
        router.committed["firewall"].append(Section("cfg0b1a2c", "redirect", True, {
            "name": "PBX", "target": "DNAT", "src": "wan", "src_dport": "5060", "dest": "lan",
            "dest_ip": "192.168.1.10", "proto": "udp"}))
        router.neigh["192.168.1.10"] = "00:0b:82:aa:bb:cc"
    return router


@contextmanager
def simulate(scenario: str = "office", *, host: SSHSimulatorHost | None = None, latency: float = 0.0,
             conntrack_tool: bool = True, sip_module: bool = True, router: OpenWrtRouter | None = None,
             **_: Any) -> Iterator[SimulatedDevice]:
    """Serve one simulated OpenWrt router on 127.0.0.1 (on ``host`` if given, else on a private host)."""
    state = router or make_router(scenario, conntrack_tool=conntrack_tool, sip_module=sip_module)
    with serve_device(host, "openwrt", lambda user: OpenWrtSession(state, user), username=USERNAME,
                      password=PASSWORD, knobs=Knobs(latency=latency), server_version="dropbear",
                      kex_algs=KEX_ALGS, encryption_algs=CIPHERS) as device:
        yield simulated_device(device, "openwrt", f"OpenWrt 23.05.3 ({scenario})", OpenWrtSimulator(device, state))
