"""A simulated Cisco router: a Cisco 2911 on IOS 15.7(3)M4 (or, with ``xe=True``, an ISR4331 on IOS-XE 17.3),
served over real SSH on 127.0.0.1 by the shared host :mod:`routerfix.simulators._hosts.ssh`.

The CLI lives in :mod:`routerfix.simulators.cisco_ios.shell`; both follow the fact table ``docs/facts/cisco_ios.md``.
Configuration persists across sessions (running), and ``write memory`` copies it to startup;
``handle.router.reload()`` simulates a power cycle (running := startup), so a change that was not saved is lost,
as on the real device.

Starting state ("office"): WAN GigabitEthernet0/0 (``ip address dhcp``, ``ip nat outside``), LAN
GigabitEthernet0/1 192.168.1.1/24 (``ip nat inside``), pool LAN 192.168.1.0/24 with 192.168.1.1-99 and
.200-.254 excluded (so the dynamic range is .100-.199), a manual binding for a printer (.150), a customer static
forward tcp 8443 → 192.168.1.20:443, SIP ALG on (IOS default), two phones and a PC bound, and a static host
answering ping at .199. Scenario "pbx" adds a customer forward of udp 5060 to a PBX at 192.168.1.10.

Knobs: ``latency`` (seconds per round trip), ``xe``, ``privilege`` (1: sessions start at ``R1>`` and need
``enable``), ``archive`` (False: no ``archive``/``path``, so no revert timer), ``acl_sequence`` (named ACL lines
printed with sequence numbers, F44),
``router.enable_secret`` (None: no enable password configured), ``router.refuse`` (configuration
lines the device refuses, line → error text), and everything on ``handle.device.knobs`` (drop after N commands,
slow output, authentication failure) — see :mod:`routerfix.simulators._hosts.ssh`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from routerfix.simulate import SimulatedDevice

from .._hosts.ssh import Knobs, PlatformHandle, SSHSimulatorHost, serve_device, simulated_device
from .shell import IosRouter, IosSession

__all__ = ["CiscoSimulator", "simulate"]

USERNAME = "admin"
PASSWORD = "cisco-sim-pw"  # noqa: S105 - the simulator's own test account


KEX_ALGS_IOS = ("diffie-hellman-group-exchange-sha1", "diffie-hellman-group14-sha1", "diffie-hellman-group14-sha256")
"""Key exchanges the IOS 15 router offers: the two SHA-1 exchanges classic IOS offers, then a stand-in on the same
2048-bit group for paramiko, which has no SHA-1 exchange (F45, the stand-in inferred)."""
KEX_ALGS_IOS_RECORDED = KEX_ALGS_IOS[:2]
"""The classic IOS list as recorded, without the stand-in (``sha1_only=True``): what paramiko 5 cannot use (F45)."""
KEX_ALGS_XE = ("curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384",
               "ecdh-sha2-nistp521", "diffie-hellman-group14-sha256", "diffie-hellman-group16-sha512")
"""Key exchanges an IOS-XE 17 router offers by default, in its order (F45)."""
CIPHERS_IOS = ("aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-cbc", "3des-cbc", "aes192-cbc", "aes256-cbc")
"""Ciphers classic IOS offers, in its order: no AES-GCM (F46)."""
CIPHERS_XE = ("chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr",
              "aes192-ctr", "aes256-ctr")
"""Ciphers an IOS-XE 17 router offers by default, in its order, without the RFC 5647 names ``aes128-gcm`` and
``aes256-gcm`` (asyncssh has none; paramiko neither, so what it agrees on is the same) (F46)."""


CiscoSimulator = PlatformHandle[IosRouter]
"""What ``SimulatedDevice.handle`` holds: the SSH device (knobs, recorders) and the IosRouter."""


def make_router(scenario: str = "office", *, xe: bool = False, privilege: int = 15, archive: bool = True,
                acl_sequence: bool = False) -> IosRouter:
    """A router in a named starting state (``office`` or ``pbx``); ``archive=False`` removes the ``archive``
    block (no revert timer possible, F36); ``acl_sequence`` prints named ACL lines with sequence numbers (F44)."""
    if scenario not in ("office", "pbx"):
        raise ValueError(f"unknown scenario {scenario!r}: office or pbx")
    router = IosRouter(xe=xe, privilege=privilege, enable_secret=PASSWORD, acl_sequence=acl_sequence)
    if scenario == "pbx":
        router.add("ip nat inside source static udp 192.168.1.10 5060 interface GigabitEthernet0/0 5060")
        router.arp["192.168.1.10"] = "000b.82aa.bbcc"
    if not archive:
        router.running = [e for e in router.running if e[0] != "archive"]
    router.startup = [[e[0], list(e[1])] for e in router.running]
    return router


@contextmanager
def simulate(scenario: str = "office", *, host: SSHSimulatorHost | None = None, xe: bool = False,
             privilege: int = 15, latency: float = 0.0, router: IosRouter | None = None, archive: bool = True,
             acl_sequence: bool = False, sha1_only: bool = False, **_: Any) -> Iterator[SimulatedDevice]:
    """Serve one simulated IOS router on 127.0.0.1 (on ``host`` if given, else on a private host). ``sha1_only``:
    an IOS 15 router offers only its recorded SHA-1 key exchanges, without the SHA-256 stand-in (F45)."""
    state = router or make_router(scenario, xe=xe, privilege=privilege, archive=archive, acl_sequence=acl_sequence)
    with serve_device(host, "cisco_ios", lambda user: IosSession(state, user), username=USERNAME,
                      password=PASSWORD, knobs=Knobs(latency=latency), server_version="Cisco-1.25",
                      kex_algs=KEX_ALGS_XE if state.xe else KEX_ALGS_IOS_RECORDED if sha1_only else KEX_ALGS_IOS,
                      encryption_algs=CIPHERS_XE if state.xe else CIPHERS_IOS) as device:
        yield simulated_device(device, "cisco_ios",
                               f"Cisco {'ISR4331 IOS-XE 17.3' if state.xe else '2911 IOS 15.7'} ({scenario})",
                               CiscoSimulator(device, state))
