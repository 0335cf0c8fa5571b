"""A Linux router (nftables + dnsmasq) over SSH: see :mod:`.driver`."""

from .driver import LinuxDriver

__all__ = ["LinuxDriver"]
