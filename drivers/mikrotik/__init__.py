"""MikroTik RouterOS v6/v7 over SSH (netmiko ``mikrotik_routeros``): see :mod:`.driver`."""

from .driver import MikrotikDriver

__all__ = ["MikrotikDriver"]
