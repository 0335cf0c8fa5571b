"""A simulated UPnP Internet Gateway Device (miniupnpd 2.3 in its default secure mode) on 127.0.0.1.

Follows the fact table ``docs/facts/upnp.md`` (rows ``U<n>``), never the driver: it imports no driver code.

* ``GET /rootDesc.xml`` → a root description with a ``WANIPConnection:1`` service at ``/ctl/IPConn`` (U2, U3);
* SOAP ``POST /ctl/IPConn`` with ``SOAPAction: "<serviceType>#<Action>"`` (U4); faults are HTTP 500 with
  ``<UPnPError><errorCode>`` and miniupnpd's own description texts (U6, U7);
* ``GetGenericPortMappingEntry`` by index: 402 without a numeric index, 713 past the end; entries always say
  ``NewEnabled`` 1 and a protocol ``TCP``, ``UDP`` or ``UDPLITE`` (U8, U9);
* ``GetSpecificPortMappingEntry`` (714 when absent), ``GetExternalIPAddress``, ``DeletePortMapping`` (714);
* secure mode: ``AddPortMapping`` to any address but the requester's fails with 718 (U11).

Knobs (attributes of :class:`UpnpGateway`): ``endless`` (``GetGenericPortMappingEntry`` never runs out, to prove
the driver's bound), ``secure_mode``, ``faults`` (index → UPnP error code answered for that
``GetGenericPortMappingEntry`` index, as a gateway in trouble would); HTTP faults through ``handle.http``.
``handle.attempts`` records every ``AddPortMapping``/``DeletePortMapping`` that reached the device.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from routerfix.simulate import SimulatedDevice

from .._hosts.http import HttpSimulator, SimRequest, SimResponse

__all__ = ["Mapping", "UpnpGateway", "simulate"]

SERVICE = "urn:schemas-upnp-org:service:WANIPConnection:1"

ERRORS = {
    401: "Invalid Action", 402: "Invalid Args", 501: "Action Failed", 606: "Action not authorized",
    713: "SpecifiedArrayIndexInvalid", 714: "NoSuchEntryInArray", 718: "ConflictInMappingEntry",
    724: "SamePortValuesRequired", 725: "OnlyPermanentLeasesSupported", 728: "NoPortMapsAvailable",
    729: "ConflictWithOtherMechanisms",
}
"""UPnP error codes and the description texts miniupnpd sends with them (facts: upnp U7)."""


@dataclass
class Mapping:
    """One port mapping."""

    external: int
    protocol: str
    internal_client: str
    internal_port: int
    description: str
    lease: int = 0


SCENARIOS = {
    "office": [Mapping(3074, "UDP", "192.168.1.30", 3074, "Xbox"), Mapping(51413, "TCP", "192.168.1.20", 51413,
                                                                           "Transmission at 192.168.1.20:51413")],
    "pbx": [Mapping(5060, "UDP", "192.168.1.10", 5060, "PBX SIP"), Mapping(3074, "UDP", "192.168.1.30", 3074, "Xbox")],
    "empty": [],
    "udplite": [Mapping(5004, "UDPLITE", "192.168.1.40", 5004, "RTP over UDP-Lite"),
                Mapping(5060, "UDP", "192.168.1.10", 5060, "PBX SIP")],
}
"""Starting mappings for the ``scenario`` knob."""

_DESC = """<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>1</minor></specVersion>
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<friendlyName>OpenWrt router</friendlyName><manufacturer>OpenWrt</manufacturer>
<modelName>OpenWrt router</modelName><modelNumber>2.3.1</modelNumber>
<UDN>uuid:b0f6a4a2-9c4e-4c1e-8f11-000000000001</UDN>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
<serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><SCPDURL>/WANIPCn.xml</SCPDURL>
<controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL></service></serviceList>
</device></deviceList></device></deviceList></device></root>
"""


def _envelope(inner: str) -> str:
    return ('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>' + inner + "</s:Body></s:Envelope>")


class UpnpGateway:
    """The device model: the mapping table and the SOAP handler."""

    def __init__(self, scenario: str = "office") -> None:
        self.mappings = [Mapping(**vars(m)) for m in SCENARIOS[scenario]]
        self.secure_mode = True
        self.endless = False
        self.faults: dict[int, int] = {}
        """``GetGenericPortMappingEntry`` index → the UPnP error answered for it instead of the entry."""
        self.attempts: list[str] = []
        """Every AddPortMapping/DeletePortMapping received (proof that nothing tried to write)."""
        self.http: HttpSimulator | None = None
        """The server (set by :func:`simulate`)."""
        self.lock = threading.Lock()

    def _fault(self, code: int) -> SimResponse:
        body = _envelope('<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>'
                         '<UPnPError xmlns="urn:schemas-upnp-org:control-1-0">'
                         f"<errorCode>{code}</errorCode><errorDescription>{ERRORS.get(code, '')}"
                         "</errorDescription></UPnPError></detail></s:Fault>")
        return SimResponse(500, body, content_type='text/xml; charset="utf-8"')

    def _ok(self, action: str, args: dict[str, str]) -> SimResponse:
        inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in args.items())
        return SimResponse(200, _envelope(f'<u:{action}Response xmlns:u="{SERVICE}">{inner}</u:{action}Response>'),
                           content_type='text/xml; charset="utf-8"')

    @staticmethod
    def _entry(m: Mapping) -> dict[str, str]:
        return {"NewRemoteHost": "", "NewExternalPort": str(m.external), "NewProtocol": m.protocol,
                "NewInternalPort": str(m.internal_port), "NewInternalClient": m.internal_client,
                "NewEnabled": "1", "NewPortMappingDescription": m.description,
                "NewLeaseDuration": str(m.lease)}

    def handle(self, req: SimRequest) -> SimResponse:
        """Answer one HTTP request."""
        with self.lock:
            if req.path == "/rootDesc.xml" and req.method == "GET":
                return SimResponse(200, _DESC, content_type='text/xml; charset="utf-8"')
            if req.path != "/ctl/IPConn" or req.method != "POST":
                return SimResponse(404, "<html><body>404 Not Found</body></html>")
            m = re.fullmatch(r'"?([^#"]+)#(\w+)"?', req.headers.get("soapaction", "").strip())
            if m is None or m.group(1) != SERVICE:
                return self._fault(401)
            action = m.group(2)
            text = req.body.decode("utf-8", "replace")
            args = dict(re.findall(r"<(New\w+)>([^<]*)</New\w+>", text))
            if action == "GetGenericPortMappingEntry":
                if not args.get("NewPortMappingIndex", "").isdigit():
                    return self._fault(402)
                index = int(args["NewPortMappingIndex"])
                if index in self.faults:
                    return self._fault(self.faults[index])
                if self.endless and self.mappings:
                    return self._ok(action, self._entry(self.mappings[index % len(self.mappings)]))
                if index >= len(self.mappings):
                    return self._fault(713)
                return self._ok(action, self._entry(self.mappings[index]))
            if action == "GetSpecificPortMappingEntry":
                for mp in self.mappings:
                    if str(mp.external) == args.get("NewExternalPort") and mp.protocol == args.get("NewProtocol"):
                        entry = self._entry(mp)
                        return self._ok(action, {k: entry[k] for k in ("NewInternalPort", "NewInternalClient",
                                                                       "NewEnabled", "NewPortMappingDescription",
                                                                       "NewLeaseDuration")})
                return self._fault(714)
            if action == "GetExternalIPAddress":
                return self._ok(action, {"NewExternalIPAddress": "203.0.113.2"})
            if action == "AddPortMapping":
                self.attempts.append(f"add {args.get('NewProtocol')} {args.get('NewExternalPort')} -> "
                                     f"{args.get('NewInternalClient')}")
                if self.secure_mode and args.get("NewInternalClient") != req.client:
                    return self._fault(718)
                self.mappings.append(Mapping(int(args.get("NewExternalPort", "0")), args.get("NewProtocol", ""),
                                             args.get("NewInternalClient", ""), int(args.get("NewInternalPort", "0")),
                                             args.get("NewPortMappingDescription", "")))
                return self._ok(action, {})
            if action == "DeletePortMapping":
                self.attempts.append(f"delete {args.get('NewProtocol')} {args.get('NewExternalPort')}")
                before = len(self.mappings)
                self.mappings = [mp for mp in self.mappings if (str(mp.external), mp.protocol) !=
                                 (args.get("NewExternalPort"), args.get("NewProtocol"))]
                return self._ok(action, {}) if len(self.mappings) < before else self._fault(714)
            return self._fault(401)


@contextmanager
def simulate(scenario: str = "office", **_: Any) -> Iterator[SimulatedDevice]:
    """Run a simulated IGD on 127.0.0.1 (plain HTTP, as UPnP is)."""
    gateway = UpnpGateway(scenario)
    with HttpSimulator(gateway.handle, tls=False, server_header="OpenWRT/23.05 UPnP/1.1 MiniUPnPd/2.3.1") as server:
        gateway.http = server
        yield SimulatedDevice(driver="upnp", host="127.0.0.1", port=server.port, username="", password="",
                              options={"location": "/rootDesc.xml"},
                              description=f"UPnP IGD (miniupnpd, secure mode) at {server.url}", handle=gateway)
