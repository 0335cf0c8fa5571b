"""Parsers for Netgear pages (ACOS and net-cgi) and the Genie SOAP attached-device string.

Router output is untrusted: every function either returns validated values or raises
:class:`routerfix.errors.ParseError` naming the page. Facts: docs/facts/netgear.md (row formats, page
variables, hidden fields, failure pages, ``currentsetting.htm``, ``GetAttachDevice``).
"""

from __future__ import annotations

import html
import ipaddress
import re
from dataclasses import dataclass

from routerfix.errors import InvalidValue, ParseError, RouterfixError
from routerfix.model import AddressRange, DhcpScope, Neighbour, PortRange, Protocol
from routerfix.transport.http import Page, js_vars

__all__ = [
    "AcosRow", "NetCgiEntry", "parse_acos_devices", "parse_acos_rows", "parse_acos_service_type",
    "parse_attach_device_soap", "parse_current_setting", "parse_failure", "parse_netcgi_devices",
    "parse_netcgi_entries", "parse_wait_ms", "scope_from", "acos_token",
]

_TOKEN_RE = re.compile(r"""\.cgi\?id=([0-9a-f]{8,64}|\d{1,10})["'\s>]""")
_TTEXT_RE = re.compile(r"<span class=\"?ttext\"?>(.*?)</span>", re.S | re.I)
_ROUTE_RE = re.compile(r"name=\"?RouteSelect\"?\s+value=\"?(\d+)", re.I)


def parse_current_setting(text: str, source: str = "currentsetting.htm") -> dict[str, str]:
    """``Key=Value`` lines (CRLF) → dict; needs at least ``Model`` and ``Firmware``."""
    if not isinstance(text, str) or len(text) > 8192:
        raise ParseError(source, "not a short text page")
    out: dict[str, str] = {}
    for line in re.split(r"\r?\n", text):
        key, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,40}", key.strip()):
            out.setdefault(key.strip(), value.strip())
    if not out.get("Model") or not out.get("Firmware"):
        raise ParseError(source, "no Model/Firmware lines (not a Netgear router, or discovery is off)")
    if not re.fullmatch(r"[A-Za-z0-9_.+-]{1,40}", out["Model"]):
        raise ParseError(source, "the Model line is not a model name")
    return out


def acos_token(text: str) -> str | None:
    """The ``?id=`` token of an ACOS page's POST form, or None when the page has no form."""
    if not isinstance(text, str):
        return None
    match = _TOKEN_RE.search(text)
    return match.group(1) if match else None


def parse_wait_ms(page: Page, default: int = 500) -> int:
    """The delay (ms) a "Please wait a moment..." page waits before going back; ``default`` when absent."""
    match = re.search(r"setTimeout\([^,]{0,200},\s*(\d{1,6})\s*\)", page.text)
    return int(match.group(1)) if match else default


_FAILURE_RE = re.compile(r"<h1>\s*Failure\s*</h1>|<title>\s*Failure\s*</title>", re.I)
_BOLD_RE = re.compile(r"<b>(.*?)</b>", re.S | re.I)


def parse_failure(page: Page) -> str | None:
    """The reason on a "Failure" page, or None when the page is not one.

    Both families head the page ``<h1>Failure</h1>`` and put the reason in the bold text of the next
    centred cell (ACOS ``BKS_err.htm``; net-cgi ``del_fail.htm``-style pages); without it, the page's
    own words after the heading."""
    match = _FAILURE_RE.search(page.text)
    if match is None:
        return None
    rest = page.text[match.end():]
    bold = _BOLD_RE.search(rest)
    words = _plain(bold.group(1)) if bold else ""
    if not words:
        words = _plain(re.sub(r"<script.*?</script>", " ", rest, flags=re.S | re.I))
    return words[:200] or "no reason given"


def _plain(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]*>", " ", fragment))).strip()


@dataclass(frozen=True)
class AcosRow:
    """A row of the ACOS port-forward list (no protocol column)."""

    index: int
    name: str
    external: PortRange
    internal: PortRange
    ip: ipaddress.IPv4Address


def _ports(text: str, source: str) -> PortRange:
    try:
        return PortRange.parse(text.strip(), "ports")
    except InvalidValue:
        raise ParseError(source, f"{text[:20]!r} is not a port or port range") from None


def _ip(text: str, source: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text.strip())
    except ValueError:
        raise ParseError(source, f"{text[:20]!r} is not an IPv4 address") from None


def parse_acos_rows(page: Page) -> list[AcosRow]:
    """Rows of ``FW_forward2.htm`` (name, ext start, ext end, int start, int end, IP) or ``FW_forward3.htm``
    (name, ext ports, int ports, IP); ``index`` is the 1-based ``RouteSelect`` value."""
    text = page.text
    if "pforward.cgi" not in text:
        raise ParseError(page.name, "no port-forwarding form (pforward.cgi) in the page")
    rows: list[AcosRow] = []
    for chunk in re.split(r"<tr[\s>]", text, flags=re.I)[1:]:
        route = _ROUTE_RE.search(chunk)
        if route is None:
            continue
        cells = [html.unescape(re.sub(r"<[^>]*>", "", c)).strip() for c in _TTEXT_RE.findall(chunk)]
        if len(cells) == 6:
            name, es, ee, is_, ie, ip = cells
            external = _range(es, ee, page.name)
            internal = _range(is_, ie, page.name)
        elif len(cells) == 4:
            name, ext, internal_text, ip = cells
            external = _ports(ext, page.name)
            internal = _ports(internal_text, page.name)
        else:
            raise ParseError(page.name, f"a rule row has {len(cells)} cells, expected 4 or 6")
        rows.append(AcosRow(int(route.group(1)), name, external, internal, _ip(ip, page.name)))
    return rows


def _range(start: str, end: str, source: str) -> PortRange:
    first, last = _ports(start, source), _ports(end, source)
    try:
        return PortRange(first.start, last.end)
    except InvalidValue:
        raise ParseError(source, f"port range {start}-{end} runs backwards") from None


def parse_acos_service_type(page: Page) -> Protocol:
    """The protocol of the rule an ACOS edit form shows (hidden ``oldType`` BOTH/TCP/UDP)."""
    match = re.search(r"name=\"?oldType\"?\s+value=\"?([A-Z/]*)", page.text)
    value = match.group(1) if match else ""
    mapping = {"BOTH": Protocol.BOTH, "TCP/UDP": Protocol.BOTH, "TCP": Protocol.TCP, "UDP": Protocol.UDP}
    if value not in mapping:
        raise ParseError(page.name, f"the edit form shows no known protocol (oldType={value[:10]!r})")
    return mapping[value]


def scope_from(lan_ip: str, netmask: str, start: str, end: str, source: str) -> DhcpScope:
    """A :class:`DhcpScope` from the LAN page's values, or :class:`ParseError`."""
    try:
        network = ipaddress.IPv4Network(f"{lan_ip}/{netmask}", strict=False)
        return DhcpScope(network, lan_ip, (AddressRange(start, end),))
    except (ValueError, RouterfixError) as exc:
        raise ParseError(source, f"LAN settings do not make a DHCP scope ({type(exc).__name__})") from None


def parse_acos_devices(page: Page) -> list[Neighbour]:
    """Attached devices of ACOS ``DEV_device.htm``: rows of ``thead`` #, then IP, name, MAC ``ttext`` cells."""
    if "Attached" not in page.text and "devices.cgi" not in page.text:
        raise ParseError(page.name, "not the attached-devices page")
    out: list[Neighbour] = []
    for chunk in re.split(r"<tr[\s>]", page.text, flags=re.I)[1:]:
        cells = [html.unescape(re.sub(r"<[^>]*>", "", c)).strip() for c in _TTEXT_RE.findall(chunk)]
        if not cells:
            continue
        if len(cells) != 3:
            raise ParseError(page.name, f"a device row has {len(cells)} cells, expected 3")
        out.append(_neighbour(cells[0], cells[2], cells[1], page.name))
    return out


def _neighbour(ip: str, mac: str, name: str, source: str) -> Neighbour:
    try:
        return Neighbour(ip.strip(), mac.strip(), name)
    except InvalidValue:
        raise ParseError(source, "a device entry has no valid IP/MAC address") from None


@dataclass(frozen=True)
class NetCgiEntry:
    """A rule of net-cgi ``forwardingArrayN`` with its aux entries: ``first`` is the 1-based index of its
    first entry, ``count`` how many entries (``select_del``/``select_del_num``)."""

    first: int
    count: int
    name: str
    protocol: Protocol
    external: PortRange
    internal: PortRange
    ip: ipaddress.IPv4Address


_NC_PROTO = {"TCP/UDP": Protocol.BOTH, "TCP": Protocol.TCP, "UDP": Protocol.UDP, "BOTH": Protocol.BOTH}


def _decode_name(name: str) -> str:
    return html.unescape(name.replace("&harr;", " "))


def parse_netcgi_entries(page: Page) -> list[NetCgiEntry]:
    """Rules of net-cgi ``forwarding.htm`` from ``forwardingArray1`` .. ``forwardingArray<forward_array_num>``."""
    values = js_vars(page.text)
    if "forward_array_num" not in values:
        raise ParseError(page.name, "no forward_array_num (not the port-forwarding page)")
    try:
        count = int(values["forward_array_num"])
    except ValueError:
        raise ParseError(page.name, "forward_array_num is not a number") from None
    if not 0 <= count <= 1024:
        raise ParseError(page.name, f"forward_array_num {count} is out of range")
    entries: list[NetCgiEntry] = []
    for i in range(1, count + 1):  # the page script counts forwardingArray1..forward_array_num
        line = values.get(f"forwardingArray{i}")
        if line is None:
            raise ParseError(page.name, f"forwardingArray{i} is missing")
        parts = line.split(" ")
        if len(parts) != 9:
            raise ParseError(page.name, f"forwardingArray{i} has {len(parts)} fields, expected 9")
        name, proto, es, ee, is_, ie, ip, aux, _serflag = parts
        if aux == "1":  # the TCP 1503 companion of an H.323 range: part of the previous rule
            if not entries:
                raise ParseError(page.name, "an aux entry comes first")
            prev = entries[-1]
            entries[-1] = NetCgiEntry(prev.first, prev.count + 1, prev.name, prev.protocol, prev.external,
                                      prev.internal, prev.ip)
            continue
        if proto not in _NC_PROTO:
            raise ParseError(page.name, f"forwardingArray{i} has protocol {proto[:10]!r}")
        entries.append(NetCgiEntry(i, 1, _decode_name(name), _NC_PROTO[proto], _range(es, ee, page.name),
                                   _range(is_, ie, page.name), _ip(ip, page.name)))
    return entries


def parse_netcgi_devices(page: Page) -> list[Neighbour]:
    """Attached devices of net-cgi ``DEV_show_device.htm`` (``access_control_deviceN="Allowed*IP*MAC*type*…"``)."""
    values = js_vars(page.text)
    if "access_control_device_num" not in values:
        raise ParseError(page.name, "no access_control_device_num (not the attached-devices page)")
    try:
        count = int(values["access_control_device_num"])
    except ValueError:
        raise ParseError(page.name, "access_control_device_num is not a number") from None
    if not 0 <= count <= 1024:
        raise ParseError(page.name, f"access_control_device_num {count} is out of range")
    out: list[Neighbour] = []
    for i in range(count):
        record = values.get(f"access_control_device{i}")
        if record is None:
            raise ParseError(page.name, f"access_control_device{i} is missing")
        fields = record.split("*")
        if len(fields) < 4:
            raise ParseError(page.name, f"access_control_device{i} has {len(fields)} fields")
        name = html.unescape(values.get(f"access_control_device_name{i}", ""))
        out.append(_neighbour(fields[1], fields[2], name, page.name))
    return out


def parse_attach_device_soap(text: str, source: str = "GetAttachDevice") -> list[Neighbour]:
    """The Genie SOAP ``NewAttachDevice`` value ``N@1;ip;name;mac;type;rate;signal[;allow]@2;...``."""
    if not isinstance(text, str):
        raise ParseError(source, "not text")
    match = re.search(r"<NewAttachDevice>(.*?)</NewAttachDevice>", text, re.S)
    value = html.unescape(match.group(1) if match else text).strip()
    head, _, rest = value.partition("@")
    if not (head.isascii() and head.isdecimal()):
        raise ParseError(source, "the device list does not start with a count")
    records = [r for r in rest.split("@") if r] if rest else []
    if int(head) != len(records):
        raise ParseError(source, f"the count {head} does not match {len(records)} records")
    out: list[Neighbour] = []
    for record in records:
        fields = record.split(";")
        if len(fields) < 4:
            raise ParseError(source, f"a record has {len(fields)} fields, expected at least 4")
        name = "" if fields[2] == "<unknown>" else fields[2]
        out.append(_neighbour(fields[1], fields[3], name, source))
    return out
