"""UPnP IGD, read-only: lists the gateway's port mappings so existing claims on WAN 5060/5061 are visible.

Facts: ``docs/facts/upnp.md`` (rows ``U<n>``). UPnP cannot install the ghost-call fix in general: miniupnpd's
default secure mode refuses a mapping to any address but the requester's (UPnPError 718 on IGDv1, 606 on IGDv2,
U11) and mappings are leases of the daemon, not configuration (U12). So this driver declares only
``Feature.LIST_FORWARDS`` and the verdict ``Remedy.READ_ONLY_ACCESS``; the planner then warns about any mapping
that already takes the SIP ports. It never sends ``AddPortMapping`` or ``DeletePortMapping``.

Discovery by SSDP multicast is left to the caller: pass the root description's path or URL as ``location``
(default ``/rootDesc.xml``, miniupnpd's, U2) and the port the SSDP answer's ``LOCATION`` names (default 5000, U1).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from routerfix.base.web import HTTP_OPTION_NAMES, WebDriver
from routerfix.errors import DeviceError, InvalidValue, ParseError
from routerfix.model import Capabilities, DeviceFacts, DeviceState, Feature, PortForward, Remedy
from routerfix.retry import retry_transient
from routerfix.transport.http import HttpServerError

from .parser import (
    MAPPING_PROTOCOLS,
    Description,
    SoapFault,
    build_soap,
    mapping_to_forward,
    parse_description,
    parse_soap,
)

__all__ = ["UPNP_NOTE", "UpnpDriver"]

log = logging.getLogger("routerfix.drivers.upnp")

UPNP_NOTE = ("UPnP IGD cannot install this fix: the usual UPnP daemon (miniupnpd, secure mode on by default) "
             "refuses mappings to any address but the requester's (UPnPError 718/606), refuses all forwarding "
             "behind a private WAN address, and mappings expire and vanish on reboot; use the router's own driver "
             "(this driver only reads the mappings, to show conflicts)")
"""Why UPnP gets a verdict instead of a plan."""
END_OF_LIST = 713
"""The fault that ends the GetGenericPortMappingEntry walk (SpecifiedArrayIndexInvalid, facts: upnp U8); any
other fault is an error, so a listing is never cut short silently."""


class UpnpDriver(WebDriver):
    """UPnP IGD, read-only. Options: the HTTP options (default ``scheme="http"``), ``location`` (path or URL
    of the root description, default ``/rootDesc.xml``), ``max_entries`` (bound of the mapping walk, default
    256). Default port 5000."""

    name: ClassVar[str] = "upnp"
    capabilities = Capabilities(features=frozenset({Feature.LIST_FORWARDS}), remedy=Remedy.READ_ONLY_ACCESS,
                                notes=(UPNP_NOTE,))
    option_names: ClassVar[frozenset[str]] = HTTP_OPTION_NAMES | {"location", "max_entries"}
    option_help: ClassVar[Mapping[str, str]] = {
        **WebDriver.option_help,
        "location": "path, or URL on the device, of the IGD root description (default /rootDesc.xml)",
        "max_entries": "most port mappings read, 1-4096 (default 256)",
    }
    default_scheme: ClassVar[str] = "http"
    default_port: ClassVar[int | None] = 5000

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        self.location = str(self.options.get("location", "/rootDesc.xml"))
        self.max_entries = self.options.get("max_entries", 256)
        if isinstance(self.max_entries, bool) or not isinstance(self.max_entries, int) or \
                not 1 <= self.max_entries <= 4096:
            raise InvalidValue("max_entries", self.max_entries, "a whole number from 1 to 4096")
        self._desc: Description | None = None
        self.truncated = False
        """True when the last walk stopped at ``max_entries``."""
        self.skipped: list[str] = []
        """Mappings of the last walk that a forward cannot hold (``UDPLITE``), described."""

    def _on_open(self) -> None:
        """Fetch the root description and find the WAN connection service."""
        page = self.http.get(self.location, page="root description", check=False)
        self._desc = parse_description(page.text, self.http.url(self.location))

    @property
    def description(self) -> Description:
        """The parsed root description."""
        if self._desc is None:
            raise ParseError("root description", "not read yet (open the driver first)", host=self.host,
                             driver=self.name)
        return self._desc

    def facts(self) -> DeviceFacts:
        """Manufacturer, model and name from the root description."""
        return self.description.facts

    def _soap(self, action: str, args: dict[str, str]) -> dict[str, str] | SoapFault:
        desc = self.description
        headers = {"Content-Type": 'text/xml; charset="utf-8"', "SOAPAction": f'"{desc.service_type}#{action}"'}

        def once() -> dict[str, str] | SoapFault:
            page = self.http.request("POST", desc.control_url, page=action, data=build_soap(desc.service_type,
                                                                                          action, args),
                                     headers=headers, ok_status=(200, 500))
            try:
                return parse_soap(page.text, action)
            except ParseError:
                if page.status == 500:
                    raise HttpServerError(f"{action}: the gateway answered HTTP 500 without a UPnP error",
                                          status=500, host=self.host, driver=self.name) from None
                raise

        return retry_transient(once)  # every action this driver sends is a read

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """Every TCP/UDP mapping, walking ``GetGenericPortMappingEntry`` from index 0 until the gateway says the
        index is past the end (713), at most ``max_entries`` entries. Other protocols are skipped into
        :attr:`skipped`."""
        out: list[PortForward] = []
        self.truncated, self.skipped = False, []
        for index in range(self.max_entries):
            reply = self._soap("GetGenericPortMappingEntry", {"NewPortMappingIndex": str(index)})
            if isinstance(reply, SoapFault):
                if reply.code == END_OF_LIST:
                    return tuple(out)
                raise DeviceError(f"GetGenericPortMappingEntry {index} refused (the mappings could not all be read)",
                                  device_message=f"UPnPError {reply.code} {reply.description}", host=self.host,
                                  driver=self.name)
            protocol = reply.get("NewProtocol", "").upper()
            if protocol not in MAPPING_PROTOCOLS:
                self.skipped.append(f"{protocol[:16]} {reply.get('NewExternalPort', '?')[:5]} -> "
                                    f"{reply.get('NewInternalClient', '?')[:45]}")
                continue
            out.append(mapping_to_forward(reply, index))
        self.truncated = True
        log.warning("%s: stopped listing UPnP mappings after %d entries", self.host, self.max_entries)
        return tuple(out)

    def read_state(self) -> DeviceState:
        """Facts, the mappings, and the verdict capabilities whose notes name mappings on WAN 5060/5061."""
        forwards = self.list_port_forwards()
        notes = [UPNP_NOTE]
        if self.truncated:
            notes.append(f"only the first {self.max_entries} UPnP mappings were read")
        if self.skipped:
            notes.append("UPnP mappings of other protocols (not TCP/UDP, so not the SIP ports): "
                         + "; ".join(self.skipped))
        self.capabilities = type(self).capabilities.replace(notes=tuple(notes))
        return DeviceState(facts=self.facts(), capabilities=self.capabilities, forwards=forwards)
