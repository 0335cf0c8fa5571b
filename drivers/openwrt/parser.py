"""Parsers for OpenWrt (22.03+, fw4/UCI) output. Pure functions; only routerfix errors leave them.

Facts relied on (docs/facts/openwrt.md): ``uci show`` lines and ``-X`` ids (rows 11-12), redirect options (16-17),
``auto_helper`` and the SIP helper module (19, 21), the DHCP ``start``/``limit`` pool and ``host`` sections (22-23),
``/tmp/dhcp.leases`` (24), ``/etc/openwrt_release`` (26), ``ifstatus`` JSON (27), ``ip neigh show`` (33).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from routerfix.errors import InvalidValue, ParseError
from routerfix.model import AddressRange, DeviceFacts, DhcpScope, Lease, Neighbour, PortForward, Protocol, Reservation
from routerfix.words import split

__all__ = ["UciSection", "parse_export", "parse_facts", "parse_ip_neigh", "parse_leases", "parse_uci_show",
           "redirect_forwards", "scope_from_uci", "sip_alg_from_uci", "uci_protocol", "wan_address"]


@dataclass
class UciSection:
    """One UCI section: id (``cfg0a92bd`` or a name), type, options (lists as Python lists)."""

    package: str
    id: str
    type: str
    options: dict[str, str | list[str]] = field(default_factory=dict)

    def get(self, option: str, default: str = "") -> str:
        """An option as one string (lists joined with spaces)."""
        value = self.options.get(option)
        if value is None:
            return default
        return " ".join(value) if isinstance(value, list) else value


def parse_uci_show(text: str) -> list[UciSection]:
    """Sections of ``uci [-X] show <package>`` output, in order (unknown lines skipped)."""
    sections: dict[tuple[str, str], UciSection] = {}
    if not isinstance(text, str):
        return []
    for line in text.replace("\r", "").split("\n"):
        m = re.fullmatch(r"([\w-]+)\.([\w@\[\]-]+)(?:\.([\w-]+))?=(.*)", line.strip())
        if not m:
            continue
        package, sid, option, raw = m.groups()
        if option is None:
            sections[(package, sid)] = UciSection(package, sid, raw.strip("'"))
            continue
        section = sections.get((package, sid))
        if section is None:
            continue
        try:
            values = split(raw)
        except ValueError:
            continue
        section.options[option] = values[0] if len(values) == 1 else values
    return list(sections.values())


def parse_export(text: str) -> list[UciSection]:
    """Sections of ``uci export`` output (``package X`` / ``config type 'name'`` / ``option``/``list`` lines).
    Anonymous sections get ids ``@type[N]``."""
    sections: list[UciSection] = []
    if not isinstance(text, str):
        return sections
    package = ""
    counts: dict[tuple[str, str], int] = {}
    for line in text.replace("\r", "").split("\n"):
        try:
            words = split(line)
        except ValueError:
            continue
        if len(words) == 2 and words[0] == "package":
            package = words[1]
        elif words[:1] == ["config"] and len(words) in (2, 3):
            kind = words[1]
            index = counts.get((package, kind), 0)
            counts[(package, kind)] = index + 1
            sections.append(UciSection(package, words[2] if len(words) == 3 else f"@{kind}[{index}]", kind))
        elif len(words) == 3 and words[0] in ("option", "list") and sections:
            options = sections[-1].options
            if words[0] == "list":
                existing = options.get(words[1])
                options[words[1]] = [*(existing if isinstance(existing, list) else []), words[2]]
            else:
                options[words[1]] = words[2]
    return sections


def uci_protocol(value: str) -> Protocol | None:
    """fw4 ``proto`` (``tcp``, ``udp``, ``tcp udp``, ``tcpudp``, ``all``; default ``tcp udp``) → Protocol."""
    words = set(value.replace(",", " ").split()) if value else {"tcp", "udp"}
    if words in ({"tcp", "udp"}, {"tcpudp"}, {"all"}):
        return Protocol.BOTH
    if words == {"tcp"}:
        return Protocol.TCP
    if words == {"udp"}:
        return Protocol.UDP
    return None


def redirect_forwards(sections: list[UciSection], wan_zone: str = "wan") -> tuple[PortForward, ...]:
    """Every DNAT redirect with a ``dest_ip``, in section order (``ref`` = section id)."""
    forwards: list[PortForward] = []
    for s in sections:
        if s.type != "redirect" or s.get("target", "DNAT").upper() != "DNAT" or not s.get("dest_ip"):
            continue
        proto = uci_protocol(s.get("proto"))
        external = (s.get("src_dport") or "1-65535").replace(":", "-")
        internal = (s.get("dest_port") or external).replace(":", "-")
        if proto is None:
            continue
        try:
            forwards.append(PortForward(s.get("name") or f"redirect-{s.id}", proto, external, s.get("dest_ip"),
                                        internal, s.get("enabled", "1") != "0", s.get("src") == wan_zone, ref=s.id))
        except InvalidValue:
            continue
    return tuple(forwards)


def _network_of(section: UciSection) -> ipaddress.IPv4Interface | None:
    raw = section.options.get("ipaddr")
    first = raw[0] if isinstance(raw, list) and raw else raw if isinstance(raw, str) else ""
    try:
        if "/" in first:
            return ipaddress.IPv4Interface(first)
        return ipaddress.IPv4Interface(f"{first}/{section.get('netmask', '255.255.255.0')}")
    except ValueError:
        return None


def scope_from_uci(network: list[UciSection], dhcp: list[UciSection], lan: str = "lan") -> DhcpScope:
    """The LAN scope: ``start``/``limit`` offsets of the ``dhcp`` section serving ``lan``; ``host`` sections as
    reservations.

    :raises ParseError: no ``network.<lan>`` address or no ``dhcp`` section for it (or DHCP ignored there).
    """
    iface = next((s for s in network if s.type == "interface" and s.id == lan), None)
    address = _network_of(iface) if iface is not None else None
    if address is None:
        raise ParseError("uci show network", f"no IPv4 address on interface {lan!r}")
    pool = next((s for s in dhcp if s.type == "dhcp" and s.get("interface") == lan), None)
    if pool is None or pool.get("ignore") == "1":
        raise ParseError("uci show dhcp", f"no DHCP server on interface {lan!r}")
    try:
        start, limit = int(pool.get("start", "100")), int(pool.get("limit", "150"))
    except ValueError:
        raise ParseError("uci show dhcp", "start/limit are not numbers") from None
    net = address.network
    first = int(net.network_address) + max(start, 1)
    last = min(first + max(limit, 1) - 1, int(net.broadcast_address) - 1)
    if first > last:
        raise ParseError("uci show dhcp", f"start {start} / limit {limit} leave no address in {net}")
    reservations = []
    for s in dhcp:
        if s.type != "host":
            continue
        mac = s.get("mac").split()[0] if s.get("mac") else ""
        try:
            reservations.append(Reservation(s.get("ip"), mac, s.get("name") or s.id))
        except InvalidValue:
            continue
    return DhcpScope(net, address.ip, (AddressRange(ipaddress.IPv4Address(first), ipaddress.IPv4Address(last)),),
                     tuple(r for r in reservations if r.address in net))


def sip_alg_from_uci(firewall: list[UciSection], module_loaded: bool) -> bool:
    """On when the SIP conntrack helper module is loaded and fw4's ``auto_helper`` is not ``0`` (or a zone lists
    the ``sip`` helper explicitly)."""
    if not module_loaded:
        return False
    defaults = next((s for s in firewall if s.type == "defaults"), None)
    auto = defaults.get("auto_helper", "1") if defaults is not None else "1"
    explicit = any(s.type == "zone" and "sip" in s.get("helper").split() for s in firewall)
    return auto != "0" or explicit


def parse_leases(text: str) -> tuple[Lease, ...]:
    """``/tmp/dhcp.leases`` lines (``expiry MAC IP hostname client-id``); malformed lines skipped."""
    if not isinstance(text, str):
        raise ParseError("/tmp/dhcp.leases", "not text")  # noqa: S108 - names the file read
    leases = []
    for line in text.replace("\r", "").split("\n"):
        words = line.split()
        if len(words) < 4 or not words[0].isdecimal():
            continue
        try:
            expires = int(words[0])
            leases.append(Lease(words[2], words[1], "" if words[3] == "*" else words[3],
                                None if expires == 0 else float(expires)))
        except (InvalidValue, ValueError):
            continue
    return tuple(leases)


def parse_ip_neigh(text: str) -> tuple[Neighbour, ...]:
    """``ip neigh show``: IPv4 entries with a ``lladdr`` (FAILED/INCOMPLETE ones have none)."""
    if not isinstance(text, str):
        raise ParseError("ip neigh show", "not text")
    result = []
    for line in text.replace("\r", "").split("\n"):
        m = re.match(r"(\d{1,3}(?:\.\d{1,3}){3}) .*\blladdr ([0-9a-fA-F:]{17})\b", line.strip())
        if not m:
            continue
        try:
            result.append(Neighbour(m.group(1), m.group(2)))
        except InvalidValue:
            continue
    return tuple(result)


def parse_facts(release: str, model: str, hostname: str = "") -> DeviceFacts:
    """``/etc/openwrt_release`` (``DISTRIB_*='...'``) and ``/tmp/sysinfo/model``."""
    fields: dict[str, str] = {}
    for line in (release if isinstance(release, str) else "").replace("\r", "").split("\n"):
        m = re.fullmatch(r"(DISTRIB_\w+)=['\"]?(.*?)['\"]?", line.strip())
        if m:
            fields[m.group(1)] = m.group(2)
    if "DISTRIB_RELEASE" not in fields:
        raise ParseError("/etc/openwrt_release", "no DISTRIB_RELEASE line")
    firmware = f"{fields.get('DISTRIB_ID', 'OpenWrt')} {fields['DISTRIB_RELEASE']} {fields.get('DISTRIB_REVISION', '')}"
    model_line = (model if isinstance(model, str) else "").strip().split("\n")[0].strip()
    return DeviceFacts("OpenWrt", model_line or fields.get("DISTRIB_TARGET", "OpenWrt device"), firmware.strip(),
                       hostname)


def wan_address(text: str) -> ipaddress.IPv4Address | None:
    """The first ``ipv4-address`` of ``ifstatus wan`` JSON (None when down or unparseable)."""
    import json

    try:
        data = json.loads(text)
        return ipaddress.IPv4Address(data["ipv4-address"][0]["address"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None
