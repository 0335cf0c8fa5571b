"""TP-Link Archer firmware with the encrypted LuCI login (T18): detected and answered "not supported yet" (T19);
no login, no writes."""

from __future__ import annotations

from typing import ClassVar

from routerfix.model import Capabilities, DeviceFacts, Remedy
from routerfix.transport.http import HttpSession

from .firmware import Flavour, TplinkFirmware
from .parser import is_archer_keys_reply

__all__ = ["ARCHER_NOTE", "ArcherFirmware", "is_archer"]

ARCHER_NOTE = ("TP-Link Archer firmware with the encrypted LuCI login was detected; routerfix does not support it "
               "yet because the row format of its virtual-server table (admin/nat?form=vs) is not confirmed from a "
               "real device, and guessing could write a broken rule. Add the forward of "
               "TCP/UDP 5060-5061 to an unused LAN address by hand (NAT Forwarding > Virtual Servers)")
"""The verdict note for Archer (LuCI) firmware."""

_PROBE_STATUSES = (200, 400, 401, 403, 404, 405, 500, 501)


def is_archer(http: HttpSession) -> bool:
    """Probe the LuCI key request (T18): one POST, answered with the RSA key only by Archer firmware."""
    probe = http.request("POST", "/cgi-bin/luci/;stok=/login", page="LuCI login probe",
                                  params={"form": "keys"}, data={"operation": "read"}, ok_status=_PROBE_STATUSES)
    return probe.status == 200 and is_archer_keys_reply(probe.text)


class ArcherFirmware(TplinkFirmware):
    """Archer LuCI: the verdict only."""

    flavour: ClassVar[Flavour] = Flavour.ARCHER
    capabilities: ClassVar[Capabilities] = Capabilities(remedy=Remedy.UNSUPPORTED_FIRMWARE, notes=(ARCHER_NOTE,))

    def facts(self) -> DeviceFacts:
        """What detection tells: an Archer with the LuCI web UI."""
        return DeviceFacts("TP-Link", "Archer (LuCI web UI)", "")
