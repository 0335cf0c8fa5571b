"""UPnP IGD: root-description and SOAP parsing, SOAP request building (facts: ``docs/facts/upnp.md``).

XML from the device is untrusted: documents with a DTD (entity tricks) are refused before parsing, and only
:class:`routerfix.errors.ParseError` leaves these functions.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # DTDs are refused before parsing (see _parse)
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit
from xml.sax.saxutils import escape

from routerfix.errors import InvalidValue, ParseError
from routerfix.model import DeviceFacts, PortForward

__all__ = [
    "IGD_SERVICES",
    "MAPPING_PROTOCOLS",
    "SoapFault",
    "UPNP_ERRORS",
    "Description",
    "build_soap",
    "mapping_to_forward",
    "parse_description",
    "parse_soap",
]

IGD_SERVICES = (
    "urn:schemas-upnp-org:service:WANIPConnection:",
    "urn:schemas-upnp-org:service:WANPPPConnection:",
)
"""Service types that hold port mappings, any version, in order of preference (facts: upnp U3)."""
MAPPING_PROTOCOLS = frozenset({"TCP", "UDP"})
"""Mapping protocols a :class:`PortForward` can hold; miniupnpd also lists ``UDPLITE`` (facts: upnp U9)."""

UPNP_ERRORS = {
    402: "Invalid Args", 501: "Action Failed", 606: "Action not authorized", 713: "SpecifiedArrayIndexInvalid",
    714: "NoSuchEntryInArray", 718: "ConflictInMappingEntry", 724: "SamePortValuesRequired",
    725: "OnlyPermanentLeasesSupported", 728: "NoPortMapsAvailable", 729: "ConflictWithOtherMechanisms",
}
"""UPnP error codes (facts: upnp U7)."""

_DTD_RE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.I)
_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def _parse(text: str, source: str) -> ET.Element:
    if not isinstance(text, str):
        raise ParseError(source, "not text")
    if _DTD_RE.search(text):
        raise ParseError(source, "the document carries a DTD (refused)")
    try:
        return ET.fromstring(text)  # noqa: S314 - no DTD (checked above), so no entity expansion
    except (ET.ParseError, ValueError, RecursionError):
        raise ParseError(source, "not well-formed XML") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(node: ET.Element, name: str) -> str:
    for child in node:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


@dataclass(frozen=True)
class Description:
    """What the root description says: the device facts and the port-mapping service to use."""

    facts: DeviceFacts
    service_type: str
    control_url: str


def parse_description(text: str, location: str, source: str = "root description") -> Description:
    """Find the IGD's WAN connection service and its absolute control URL (same host as ``location``)."""
    root = _parse(text, source)
    base = location
    device = None
    for node in root.iter():
        name = _local(node.tag)
        if name == "URLBase" and (node.text or "").strip():
            base = (node.text or "").strip()
        elif name == "device" and device is None:
            device = node
    if device is None:
        raise ParseError(source, "no <device> element")
    services: dict[str, str] = {}
    for node in root.iter():
        if _local(node.tag) == "service":
            stype, control = _child_text(node, "serviceType"), _child_text(node, "controlURL")
            if stype and control:
                services.setdefault(stype, control)
    chosen = next((s for prefix in IGD_SERVICES for s in services if s.startswith(prefix)
                   and s[len(prefix):].isdecimal()), None)
    if chosen is None:
        raise ParseError(source, "no WANIPConnection/WANPPPConnection service (not an Internet gateway?)")
    control_url = urljoin(base, services[chosen])
    if urlsplit(control_url).netloc != urlsplit(location).netloc:
        raise ParseError(source, f"the control URL {control_url!r} is on another host than the description")
    facts = DeviceFacts(vendor=_child_text(device, "manufacturer") or "UPnP IGD",
                        model=_child_text(device, "modelName") or "Internet gateway",
                        firmware=_child_text(device, "modelNumber"), hostname=_child_text(device, "friendlyName"))
    return Description(facts, chosen, control_url)


def build_soap(service_type: str, action: str, args: dict[str, str]) -> bytes:
    """A SOAP envelope for ``action`` (argument values XML-escaped)."""
    if not re.fullmatch(r"[A-Za-z]+", action) or not all(re.fullmatch(r"[A-Za-z]+", k) for k in args):
        raise InvalidValue("action", action, "a UPnP action and argument names (letters only)")
    inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in args.items())
    return (f'<?xml version="1.0"?><s:Envelope xmlns:s="{_SOAP_ENV}" '
            f's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
            f'<u:{action} xmlns:u="{escape(service_type)}">{inner}</u:{action}></s:Body></s:Envelope>').encode()


@dataclass(frozen=True)
class SoapFault:
    """A UPnP error answer."""

    code: int
    description: str


def parse_soap(text: str, action: str, source: str | None = None) -> dict[str, str] | SoapFault:
    """The output arguments of ``<action>Response``, or the :class:`SoapFault`."""
    src = source or action
    root = _parse(text, src)
    for node in root.iter():
        name = _local(node.tag)
        if name == "UPnPError":
            code = _child_text(node, "errorCode")
            if not code.isdecimal():
                raise ParseError(src, "a UPnP error without a numeric code")
            return SoapFault(int(code), _child_text(node, "errorDescription") or UPNP_ERRORS.get(int(code), ""))
        if name == f"{action}Response":
            return {_local(child.tag): (child.text or "").strip() for child in node}
    raise ParseError(src, f"no {action}Response and no UPnP error in the reply")


def mapping_to_forward(args: dict[str, str], index: int, source: str = "GetGenericPortMappingEntry") -> PortForward:
    """A port mapping entry as a :class:`PortForward` (``ref`` = the entry's index)."""
    try:
        return PortForward(args.get("NewPortMappingDescription", ""), args.get("NewProtocol", "").lower(),
                           int(args.get("NewExternalPort", "")), args.get("NewInternalClient", ""),
                           int(args.get("NewInternalPort", "")), enabled=args.get("NewEnabled", "1") == "1",
                           ref=str(index))
    except (InvalidValue, ValueError) as exc:
        raise ParseError(source, f"entry {index} is unreadable ({exc})") from None
