"""Live capture on OpenWrt (``routerfix diagnose --capture``): tcpdump on the WAN and LAN devices at once (the
``l3_device`` of ``ifstatus wan`` and ``ifstatus <lan_interface>``), through
:func:`routerfix.diagnose.tcpdump.capture_with_tcpdump`.

Facts: docs/facts/openwrt.md rows 40-42 (``ifstatus`` names the device; tcpdump is an opkg package; stock
BusyBox has neither ``timeout`` nor ``base64``, both are coreutils packages) and docs/facts/diagnose.md K1-K8.
"""

from __future__ import annotations

import json
import re

from routerfix.base.ssh import SSHDriver
from routerfix.diagnose.live import LiveCapture, Side
from routerfix.diagnose.tcpdump import capture_with_tcpdump
from routerfix.errors import DeviceError

__all__ = ["INSTALL", "capture", "l3_device"]

INSTALL = "install them with 'opkg update && opkg install tcpdump coreutils-timeout coreutils-base64'"
_IFNAME = re.compile(r"[A-Za-z0-9_.:@-]{1,15}")


def l3_device(text: str) -> str | None:
    """The ``l3_device`` (else ``device``) of ``ifstatus IFACE`` JSON; None when absent or not an interface name."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for key in ("l3_device", "device"):
        value = data.get(key)
        if isinstance(value, str) and _IFNAME.fullmatch(value):
            return value
    return None


def capture(driver: SSHDriver, lan_interface: str, seconds: float, max_packets: int) -> LiveCapture:
    """Find the two devices (one round trip), then capture ``seconds`` on both."""
    wan_text, lan_text = driver.send_many(["ifstatus wan", f"ifstatus {lan_interface}"], check=False)
    wan, lan = l3_device(wan_text), l3_device(lan_text)
    if wan is None or lan is None:
        which, text = ("wan", wan_text) if wan is None else (lan_interface, lan_text)
        raise DeviceError(f"cannot tell which device the {which} interface uses (ifstatus {which})",
                          device_message=text.strip()[:200] or "no output", host=driver.host, driver=driver.name)
    return capture_with_tcpdump(driver, [(Side.WAN, wan), (Side.LAN, lan)], seconds, max_packets, install=INSTALL)
