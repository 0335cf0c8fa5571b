"""Live capture on a Linux router (``routerfix diagnose --capture``): tcpdump on the WAN interface (the default
route's device, or ``wan_interface=``) and the LAN interface (the one holding the DHCP range, or
``lan_interface=``) at once, through :func:`routerfix.diagnose.tcpdump.capture_with_tcpdump`.

Facts: docs/facts/linux.md rows L41-L42 (tcpdump, coreutils timeout and base64 on Debian) and
docs/facts/diagnose.md rows K1-K8.
"""

from __future__ import annotations

from routerfix.base.ssh import SSHDriver
from routerfix.diagnose.live import LiveCapture, Side
from routerfix.diagnose.tcpdump import capture_with_tcpdump
from routerfix.errors import UnsupportedOperation

__all__ = ["INSTALL", "capture"]

INSTALL = "install it as root with 'apt-get install tcpdump' (Debian/Ubuntu; timeout and base64 are coreutils)"


def capture(driver: SSHDriver, wan: str | None, lan: str | None, seconds: float, max_packets: int) -> LiveCapture:
    """Capture ``seconds`` on both sides; refuses (naming the option to pass) when an interface is unknown."""
    if wan is None or lan is None:
        which = "wan_interface" if wan is None else "lan_interface"
        raise UnsupportedOperation(f"live capture needs both interfaces and the {which.replace('_', ' ')} is "
                                   f"unknown: pass -o {which}=<name>", host=driver.host, driver=driver.name)
    return capture_with_tcpdump(driver, [(Side.WAN, wan), (Side.LAN, lan)], seconds, max_packets, install=INSTALL)
