"""Live capture on RouterOS: **not supported** by ``routerfix diagnose --capture``; the refusal gives the manual
steps instead.

Why: RouterOS has no tcpdump; its ``/tool sniffer`` writes a capture *file* on the router's flash
(docs/facts/mikrotik.md rows M60-M62), and the console cannot print a binary file, so bringing it back needs a
second channel (SFTP/FTP) and a write to the router's storage. That is left for a later version; the steps below
do the same by hand and leave nothing behind.
"""

from __future__ import annotations

from routerfix.errors import UnsupportedOperation

__all__ = ["MANUAL_STEPS", "unsupported"]

MANUAL_STEPS = (
    "/tool sniffer set filter-interface=<WAN interface> filter-port=5060,5061 file-name=sip-wan.pcap "
    "file-limit=1000KiB; /tool sniffer start; wait a minute while the phone rings; /tool sniffer stop; download "
    "sip-wan.pcap (WinBox Files, or scp/sftp from the router), then /file remove sip-wan.pcap; repeat with the LAN "
    "bridge as filter-interface (sip-lan.pcap); then run: routerfix diagnose sip-wan.pcap sip-lan.pcap")


def unsupported(host: str, driver: str) -> UnsupportedOperation:
    """The refusal of ``--capture`` on RouterOS, with the manual steps."""
    return UnsupportedOperation(
        "capturing packets on the router (routerfix diagnose --capture) is not supported on RouterOS yet (its "
        f"sniffer writes a file on the router that the console cannot print). By hand: {MANUAL_STEPS}. Or capture "
        "on the phone's switch port (SPAN/mirror, or a laptop running tcpdump) and pass the file.",
        host=host, driver=driver)
