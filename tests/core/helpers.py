"""Builders for in-memory routers in precise states."""

from __future__ import annotations

import ipaddress
from typing import Any

from routerfix.drivers.memory.driver import MemoryRouter

import routerfix
from routerfix import AddressRange, DeviceFacts, DhcpScope, Lease, Neighbour, PortForward


def router(pool: tuple[str, str] = ("192.168.1.100", "192.168.1.110"), **fields: Any) -> MemoryRouter:
    """A router with no leases, no forwards, the given pool, and any field overridden."""
    r = MemoryRouter(facts=DeviceFacts("test", "memory", "1"),
                     scope=DhcpScope("192.168.1.0/24", "192.168.1.1", (AddressRange(*pool),)))
    for key, value in fields.items():
        setattr(r, key, value)
    return r


def connect(r: MemoryRouter, **options: Any) -> routerfix.Driver:
    """Open the memory driver on ``r``."""
    return routerfix.connect("memory", f"t-{id(r):x}", password="admin", router=r, **options)


def ip(text: str) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(text)


__all__ = ["Lease", "Neighbour", "PortForward", "connect", "ip", "router"]
