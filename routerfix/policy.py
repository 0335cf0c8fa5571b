"""NAT-mode policy and phone discovery.

:func:`find_phones` counts the SIP phones on the LAN from DHCP leases and the
neighbour table, by the MAC address's registered vendor (IEEE OUI registry
through ``netaddr``) and by host name. Drivers use the count in their
:meth:`~routerfix.Driver.nat_policy` hook; :func:`default_nat_policy` is the
vendor-neutral rule: raise NAT filtering security where the device offers it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from routerfix.model import Feature, NatMode

if TYPE_CHECKING:
    from routerfix.model import DeviceState

__all__ = ["NatDecision", "PHONE_HOSTNAME_RE", "PHONE_VENDORS", "Phone", "default_nat_policy", "find_phones",
           "mac_vendor"]

PHONE_VENDORS: tuple[str, ...] = (
    "polycom", "poly ", "plantronics", "yealink", "grandstream", "snom", "mitel", "aastra", "avaya",
    "fanvil", "obihai", "panasonic", "cisco", "spectralink", "htek", "alcatel-lucent enterprise",
    "algo communication", "cyberdata", "gigaset", "akuvox", "linksys voice",
)
"""Lower-case fragments of IEEE registrant names that make desk phones (and ATAs)."""

PHONE_HOSTNAME_RE = re.compile(
    r"(^|[^a-z])(sep[0-9a-f]{12}|polycom|poly|yealink|sip-?t\d|grandstream|gxp\d|grp\d|ht\d{3}|snom|mitel|"
    r"avaya|fanvil|obihai|obi\d|kx-?t|spa\d{3}|cp-?\d{4}|voip|phone)",
    re.IGNORECASE,
)
"""Host names phones announce in DHCP (``SEP<mac>`` is Cisco's, ``SIP-T46S`` Yealink's...)."""

# Vendors whose OUIs also ship routers, switches and PCs: a MAC match alone is not enough.
_AMBIGUOUS = ("cisco", "panasonic", "alcatel-lucent enterprise", "linksys voice")


@dataclass(frozen=True)
class Phone:
    """A LAN device that looks like a SIP phone, and why routerfix thinks so."""

    address: ipaddress.IPv4Address
    mac: str
    hostname: str
    vendor: str
    reason: str


@dataclass(frozen=True)
class NatDecision:
    """What to do with NAT filtering: ``target`` is the wanted mode (None: leave it), ``reason`` says why."""

    target: NatMode | None
    reason: str


@lru_cache(maxsize=4096)
def mac_vendor(mac: str) -> str:
    """The IEEE registrant of ``mac``'s OUI, or ``""`` (random/locally administered or unknown)."""
    from netaddr import EUI, NotRegisteredError  # lazy: netaddr loads its OUI index on first use

    try:
        first = int(mac[:2], 16)
        if first & 0x02:  # locally administered (randomised Wi-Fi MACs, routerfix's own sink MAC)
            return ""
        return str(EUI(mac).oui.registration().org)
    except (NotRegisteredError, ValueError, IndexError):
        return ""


def find_phones(state: DeviceState) -> tuple[Phone, ...]:
    """The SIP phones on the LAN, from leases and neighbours, one per MAC address."""
    seen: dict[str, Phone] = {}
    entries = [(lease.address, lease.mac, lease.hostname) for lease in state.leases]
    entries += [(n.address, n.mac, n.hostname) for n in state.neighbours]
    for address, mac, hostname in entries:
        if mac in seen:
            continue
        vendor = mac_vendor(mac)
        lowered = vendor.lower()
        vendor_hit = next((v for v in PHONE_VENDORS if v in lowered), None)
        name_hit = bool(hostname) and PHONE_HOSTNAME_RE.search(hostname) is not None
        if vendor_hit and (vendor_hit not in _AMBIGUOUS or name_hit):
            reason = f"MAC vendor {vendor}" + (f" and host name {hostname!r}" if name_hit else "")
        elif name_hit:
            reason = f"host name {hostname!r}"
        else:
            continue
        seen[mac] = Phone(address=address, mac=mac, hostname=hostname, vendor=vendor, reason=reason)
    return tuple(sorted(seen.values(), key=lambda p: p.address))


def default_nat_policy(state: DeviceState, phones: tuple[Phone, ...]) -> NatDecision:
    """Raise NAT filtering to ``secure`` where the device has the setting; otherwise leave it."""
    if Feature.NAT_MODE not in state.capabilities:
        return NatDecision(None, "the device has no NAT filtering setting")
    if state.nat_mode is NatMode.SECURE:
        return NatDecision(NatMode.SECURE, "NAT filtering is already secure")
    return NatDecision(NatMode.SECURE, "secure NAT filtering drops unsolicited inbound SIP")
