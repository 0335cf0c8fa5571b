"""Parsers for Cisco IOS / IOS-XE command output (pure functions, text in, routerfix models out).

The formats are rows of ``docs/facts/cisco_ios.md``: static NAT lines (F21), SIP service lines (F24), the marker
ACL (F25), the undo-marker ACL (F40-F43), ACL lines with sequence numbers (F44), DHCP pools, manual bindings and
excluded addresses (F26-F27), ``show ip dhcp binding`` (F28-F30), ``show ip arp`` (F31), ``show version`` (F34),
running/startup layout (F14-F17).

Every parser is total: unknown lines are skipped, and only :class:`~routerfix.errors.ParseError` (or another
routerfix error) can leave it.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import re
from dataclasses import dataclass, field

from routerfix.errors import InvalidValue, ParseError
from routerfix.model import AddressRange, DeviceFacts, DhcpScope, Lease, Neighbour, PortForward, Protocol, Reservation

__all__ = [
    "IosConfig",
    "Managed",
    "StaticNat",
    "MARKER_ACL",
    "UNDO_ACL",
    "UNDO_REMARK",
    "change_lines",
    "config_body",
    "customer_rule_name",
    "dotted_mac",
    "mac_from_client_id",
    "nat_spec",
    "parse_arp",
    "parse_bindings",
    "parse_ping",
    "parse_running_config",
    "parse_version",
    "scope_from_config",
    "static_forward",
    "undo_lines",
    "undo_text",
]

MARKER_ACL = "routerfix-sip"
"""Named standard ACL (applied nowhere) whose remarks record which static NAT lines routerfix wrote."""

UNDO_ACL = "routerfix-undo"
"""Named standard ACL (applied nowhere) whose remarks hold routerfix's undo marker, base64 in numbered chunks (F40)."""
UNDO_CHUNK = 80
"""Base64 characters per remark (a multiple of 4): ``remark 123/123/12345 `` and 80 more stay under IOS's
100-character remark (F41). Every remark but the last holds exactly this many."""
MAX_UNDO_CHUNKS = 200
"""More remarks than an 8 KiB marker needs (at most 137): such an ACL is not read."""
UNDO_REMARK = re.compile(rf"remark (\d{{1,3}})/(\d{{1,3}})/(\d{{1,5}}) ([A-Za-z0-9+/=]{{1,{UNDO_CHUNK}}})")
"""One remark of :data:`UNDO_ACL`: ``remark i/n/length chunk`` (``length``: of the whole base64 text)."""

_IP = r"\d{1,3}(?:\.\d{1,3}){3}"
_STATIC_PORT_RE = re.compile(
    rf"ip nat inside source static (tcp|udp) ({_IP}) (\d+) (?:interface (\S+)|({_IP})) (\d+)((?: \S+)*)")
_STATIC_HOST_RE = re.compile(rf"ip nat inside source static ({_IP}) ({_IP})((?: \S+)*)")
_REMARK_RE = re.compile(rf"remark ([A-Za-z0-9][A-Za-z0-9_.-]*) (tcp|udp) ({_IP}) (\d+) (\S+) (\d+)")
_ACL_SEQUENCE_RE = re.compile(r"^\d{1,10} (?=\S)")
"""The sequence number some IOS-XE releases print ahead of a named ACL's lines (`` 10 remark …``, F44)."""


def _addr(text: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        return None


def dotted_mac(mac: str) -> str:
    """``aa:bb:cc:dd:ee:ff`` → Cisco's ``aabb.ccdd.eeff``."""
    digits = mac.replace(":", "").lower()
    return ".".join(digits[i:i + 4] for i in range(0, 12, 4))


def mac_from_client_id(text: str) -> str | None:
    """A MAC from a dotted hardware address (6 bytes) or an Ethernet client ID (``01`` + 6 bytes); else None."""
    digits = text.replace(".", "").lower()
    if not re.fullmatch(r"[0-9a-f]+", digits):
        return None
    if len(digits) == 14 and digits.startswith("01"):
        digits = digits[2:]
    if len(digits) != 12:
        return None
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


@dataclass(frozen=True)
class StaticNat:
    """One ``ip nat inside source static`` line, parsed.

    ``protocol`` is ``None`` for a whole-host (1:1) static NAT, which forwards every port.
    """

    line: str
    protocol: str | None
    local: ipaddress.IPv4Address
    local_port: int | None
    interface: str | None
    global_ip: ipaddress.IPv4Address | None
    global_port: int | None

    def spec(self) -> str:
        """The marker text identifying this rule: ``udp 192.168.1.250 5060 GigabitEthernet0/0 5060``."""
        where = self.interface or str(self.global_ip)
        return f"{self.protocol} {self.local} {self.local_port} {where} {self.global_port}"


def nat_spec(protocol: str, local: ipaddress.IPv4Address, port: int, interface: str) -> str:
    """Marker text of the rule routerfix writes for ``protocol``/``port`` to ``local`` via ``interface``."""
    return f"{protocol} {local} {port} {interface} {port}"


@dataclass
class IosConfig:
    """What routerfix needs from ``show running-config``."""

    hostname: str = ""
    interfaces: dict[str, list[str]] = field(default_factory=dict)
    """Interface name → its sub-command lines (stripped)."""
    pools: dict[str, list[str]] = field(default_factory=dict)
    """``ip dhcp pool`` name → its sub-command lines (stripped)."""
    excluded: list[tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]] = field(default_factory=list)
    statics: list[StaticNat] = field(default_factory=list)
    overload_interfaces: list[str] = field(default_factory=list)
    """Interfaces named in ``ip nat inside source list ... interface X overload``."""
    marks: dict[str, str] = field(default_factory=dict)
    """Marker spec → routerfix rule name (remarks of :data:`MARKER_ACL`)."""
    marker_acl: bool = False
    """Whether :data:`MARKER_ACL` exists at all (an empty one is residue of a refused block)."""
    sip_alg_off: set[str] = field(default_factory=set)
    """Protocols with ``no ip nat service sip <proto> port 5060``."""
    undo: list[str] | None = None
    """The sub-command lines of :data:`UNDO_ACL` (the undo marker's remarks); None: no such ACL."""

    def nat_interfaces(self, side: str) -> list[str]:
        """Interfaces carrying ``ip nat inside`` / ``ip nat outside``."""
        return [name for name, lines in self.interfaces.items() if f"ip nat {side}" in lines]

    def interface_address(self, name: str) -> ipaddress.IPv4Interface | None:
        """The primary IPv4 address of an interface (None for ``ip address dhcp`` or none)."""
        for line in self.interfaces.get(name, []):
            m = re.fullmatch(rf"ip address ({_IP}) ({_IP})", line)
            if m:
                try:
                    return ipaddress.IPv4Interface(f"{m.group(1)}/{m.group(2)}")
                except ValueError:
                    return None
        return None

    @property
    def sip_alg(self) -> bool | None:
        """SIP ALG is on when neither the UDP nor the TCP SIP service is turned off, off when both are, and
        undetermined (None) when only one is: a change cut off between its two lines, which the engine then
        redoes whichever way it was going."""
        if not self.sip_alg_off & {"udp", "tcp"}:
            return True
        if {"udp", "tcp"} <= self.sip_alg_off:
            return False
        return None


def parse_running_config(text: str) -> IosConfig:
    """Parse ``show running-config`` (indented blocks under top-level lines)."""
    if not isinstance(text, str):
        raise ParseError("show running-config", "not text")
    config = IosConfig()
    block: list[str] | None = None
    block_kind = ""
    block_name = ""
    for raw in text.replace("\r", "").split("\n"):
        if not raw.strip() or raw.startswith("!"):
            if raw.startswith("!"):
                block = None
            continue
        if raw.startswith(" ") and block is not None:
            line = " ".join(raw.split())
            if block_kind == "acl":
                line = _ACL_SEQUENCE_RE.sub("", line, count=1)  # `` 10 remark x`` reads as ``remark x`` (F44)
            block.append(line)
            if block_kind == "acl" and block_name == MARKER_ACL:
                m = _REMARK_RE.fullmatch(line)
                if m:
                    config.marks[" ".join(m.groups()[1:])] = m.group(1)
            continue
        if raw.startswith(" "):
            continue
        line = " ".join(raw.split())
        block = None
        block_kind = ""
        if m := re.fullmatch(r"hostname (\S+)", line):
            config.hostname = m.group(1)
        elif m := re.fullmatch(r"interface (\S+)", line):
            block = config.interfaces.setdefault(m.group(1), [])
            block_kind = "interface"
        elif m := re.fullmatch(r"ip dhcp pool (\S+)", line):
            block = config.pools.setdefault(m.group(1), [])
            block_kind = "pool"
        elif m := re.fullmatch(r"ip access-list standard (\S+)", line):
            block = []
            block_kind, block_name = "acl", m.group(1)
            if block_name == UNDO_ACL:
                block = config.undo = []
            config.marker_acl = config.marker_acl or block_name == MARKER_ACL
        elif m := re.fullmatch(rf"ip dhcp excluded-address ({_IP})(?: ({_IP}))?", line):
            first, last = _addr(m.group(1)), _addr(m.group(2) or m.group(1))
            if first is not None and last is not None and first <= last:
                config.excluded.append((first, last))
        elif m := _STATIC_PORT_RE.fullmatch(line):
            local, gip = _addr(m.group(2)), _addr(m.group(5)) if m.group(5) else None
            lport, gport = int(m.group(3)), int(m.group(6))
            if local is not None and 1 <= lport <= 65535 and 1 <= gport <= 65535:
                config.statics.append(StaticNat(line, m.group(1), local, lport, m.group(4), gip, gport))
        elif m := _STATIC_HOST_RE.fullmatch(line):
            local, gip = _addr(m.group(1)), _addr(m.group(2))
            if local is not None and gip is not None:
                config.statics.append(StaticNat(line, None, local, None, None, gip, None))
        elif m := re.fullmatch(r"ip nat inside source list \S+ interface (\S+) overload", line):
            config.overload_interfaces.append(m.group(1))
        elif m := re.fullmatch(r"no ip nat service sip (udp|tcp) port 5060", line):
            config.sip_alg_off.add(m.group(1))
    return config


@dataclass
class Managed:
    """The objects routerfix manages in an IOS configuration; nothing else in it is ever written."""

    statics: set[str] = field(default_factory=set)
    """``ip nat inside source static`` lines."""
    marks: dict[str, str] = field(default_factory=dict)
    """Marker spec → rule name (remarks of :data:`MARKER_ACL`)."""
    marker_acl: bool = False
    sip_off: set[str] = field(default_factory=set)
    """Protocols with ``no ip nat service sip <proto> port 5060``."""
    pools: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """``ip dhcp pool`` blocks without a ``network`` line: manual bindings (name → sub-command lines)."""
    undo: tuple[str, ...] | None = None
    """The lines of :data:`UNDO_ACL` (the undo marker); None: no such ACL."""

    @classmethod
    def of(cls, config: IosConfig) -> Managed:
        """The managed objects of a parsed running-config."""
        # every pool without a network line: manual bindings, and one a refused line left empty or half-built
        manual = {name: tuple(body) for name, body in config.pools.items()
                  if not any(x.startswith("network ") for x in body)}
        return cls({s.line for s in config.statics}, dict(config.marks), config.marker_acl, set(config.sip_alg_off),
                   manual, None if config.undo is None else tuple(config.undo))

    def copy(self) -> Managed:
        """An independent copy (to change as a target)."""
        return Managed(set(self.statics), dict(self.marks), self.marker_acl, set(self.sip_off), dict(self.pools),
                       self.undo)


def change_lines(now: Managed, target: Managed) -> list[str]:
    """Configuration lines (global mode, sub-modes entered and left with ``exit``) taking the managed objects from
    ``now`` to ``target``. A remark goes in before its static NAT line and out after it: a static line without
    its remark would read as the customer's. The undo marker (:data:`UNDO_ACL`) is written first (a block cut off
    leaves no change it does not describe) and removed last; it is replaced whole (F42, F43)."""
    acl = f"ip access-list standard {MARKER_ACL}"
    lines: list[str] = []
    undo_changed = now.undo != target.undo
    if undo_changed and now.undo is not None:
        lines.append(f"no ip access-list standard {UNDO_ACL}")
    if undo_changed and target.undo is not None:
        lines += [f"ip access-list standard {UNDO_ACL}", *target.undo, "exit"]
    added = [(spec, name) for spec, name in target.marks.items() if now.marks.get(spec) != name]
    dropped = [(spec, name) for spec, name in now.marks.items() if target.marks.get(spec) != name]
    if added:
        lines += [acl, *(f"remark {name} {spec}" for spec, name in added), "exit"]
    lines += [f"no {line}" for line in sorted(now.statics - target.statics)]
    lines += sorted(target.statics - now.statics)
    if now.marker_acl and not target.marker_acl and not target.marks:
        lines.append(f"no {acl}")
    elif dropped:
        lines += [acl, *(f"no remark {name} {spec}" for spec, name in dropped), "exit"]
    for proto in ("udp", "tcp"):
        if (proto in now.sip_off) != (proto in target.sip_off):
            lines.append(("no " if proto in target.sip_off else "") + f"ip nat service sip {proto} port 5060")
    for name in sorted(set(now.pools) | set(target.pools)):
        if now.pools.get(name) == target.pools.get(name):
            continue
        if name in now.pools:
            lines.append(f"no ip dhcp pool {name}")
        if name in target.pools:
            lines += [f"ip dhcp pool {name}", *target.pools[name], "exit"]
    if undo_changed and target.undo is None and lines[:1] == [f"no ip access-list standard {UNDO_ACL}"]:
        lines.append(lines.pop(0))  # clearing the marker: last, after what it describes is put back
    return lines


def undo_lines(text: str) -> tuple[str, ...]:
    """The remarks holding marker ``text`` (ASCII) in :data:`UNDO_ACL`: base64 (an alphabet nothing on the IOS
    command line interprets, F43) in chunks of :data:`UNDO_CHUNK`, each numbered ``i/n`` and carrying the length of
    the whole base64 text."""
    encoded = base64.b64encode(text.encode("ascii")).decode("ascii")
    chunks = [encoded[i:i + UNDO_CHUNK] for i in range(0, len(encoded), UNDO_CHUNK)]
    if len(chunks) > MAX_UNDO_CHUNKS:
        raise ParseError("undo marker", f"{len(text)} bytes do not fit {MAX_UNDO_CHUNKS} remarks")
    return tuple(f"remark {i}/{len(chunks)}/{len(encoded)} {chunk}" for i, chunk in enumerate(chunks, 1))


def undo_text(lines: list[str] | None) -> str:
    """The marker text held by the lines of :data:`UNDO_ACL` ('' when there is no such ACL or it is empty), else
    :class:`~routerfix.errors.ParseError`: every line must be a numbered chunk, ``1/n`` to ``n/n`` each once, all
    naming the same total length, every chunk but the last exactly :data:`UNDO_CHUNK` long and the last the rest
    (a block cut off part way, or any remark cut short or grown, reads as not valid, never as another marker,
    F43)."""
    if not lines:
        return ""
    if len(lines) > MAX_UNDO_CHUNKS:
        raise ParseError(UNDO_ACL, f"more than {MAX_UNDO_CHUNKS} lines")
    chunks: dict[int, str] = {}
    header: tuple[int, int] | None = None
    for line in lines:
        m = UNDO_REMARK.fullmatch(line)
        if m is None:
            raise ParseError(UNDO_ACL, f"not a marker remark: {line[:40]!r}")
        index, count, length, chunk = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
        if not 1 <= index <= count or header not in (None, (count, length)) or index in chunks:
            raise ParseError(UNDO_ACL, f"remark {index}/{count}/{length} does not fit the others")
        if count != -(-length // UNDO_CHUNK):
            raise ParseError(UNDO_ACL, f"{count} remarks cannot hold {length} characters")
        expected = UNDO_CHUNK if index < count else length - (count - 1) * UNDO_CHUNK
        if len(chunk) != expected:
            raise ParseError(UNDO_ACL, f"remark {index}/{count} holds {len(chunk)} characters, not {expected}")
        header, chunks[index] = (count, length), chunk
    assert header is not None
    if len(chunks) != header[0]:
        raise ParseError(UNDO_ACL, f"{len(chunks)} of {header[0]} remarks")
    try:
        return base64.b64decode("".join(chunks[i] for i in range(1, header[0] + 1)), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        raise ParseError(UNDO_ACL, "not base64 of ASCII text") from None


_HEADER_RE = re.compile(r"Building configuration\.\.\.|Current configuration : \d+ bytes|Using \d+ out of \d+ bytes|"
                        r"ntp clock-period \d+")


def config_body(text: str) -> list[str]:
    """The configuration lines of ``show running-config`` / ``show startup-config``, without the headers, the
    ``!`` comment lines (they carry the time of the last change and save) and ``ntp clock-period`` (IOS updates
    it by itself): two texts with equal bodies hold the same configuration."""
    lines = (raw.rstrip() for raw in text.replace("\r", "").split("\n"))
    return [line for line in lines if line.strip() and not line.startswith("!") and not _HEADER_RE.fullmatch(
        line.strip())]


def customer_rule_name(static: StaticNat) -> str:
    """The name routerfix shows for a static NAT rule it did not write: derived from its content, device-safe
    and at most 30 characters, so a removed rule put back reads back under the same name."""
    if static.protocol is None:
        return f"nat-static-{static.local}"
    return f"nat-{static.protocol}-{static.local}-{static.global_port}"


def static_forward(static: StaticNat, config: IosConfig) -> PortForward:
    """The :class:`PortForward` a static NAT line stands for; routerfix's own carry their marker name.

    A line is routerfix's only when a remark of :data:`MARKER_ACL` names exactly this line's content: the
    customer's own static NAT lines (which IOS cannot label) are never taken for ours, even when they forward
    the same ports, and a remark left without its line names nothing.
    """
    if static.protocol is None:
        return PortForward(customer_rule_name(static), Protocol.BOTH, "1-65535", static.local, ref=static.line)
    name = config.marks.get(static.spec()) or customer_rule_name(static)
    assert static.global_port is not None and static.local_port is not None
    return PortForward(name, static.protocol, static.global_port, static.local, static.local_port, ref=static.line)


def orphan_forwards(config: IosConfig) -> tuple[PortForward, ...]:
    """Remarks of :data:`MARKER_ACL` whose static NAT line is gone (a removal cut off between its lines), as
    *disabled* forwards under their recorded names: they forward nothing, but a removal of that rule is not done
    until the remark is gone too, and a disabled rule never counts as a mitigation in place."""
    present = {s.spec() for s in config.statics if s.protocol is not None}
    out = []
    for spec, name in config.marks.items():
        if spec in present:
            continue
        try:
            proto, local, local_port, _wan, port = spec.split()
            out.append(PortForward(name, proto, int(port), local, int(local_port), enabled=False,
                                   ref=f"remark {name} {spec}"))
        except (ValueError, InvalidValue):
            continue  # a remark routerfix did not write in its own format names nothing
    return tuple(out)


def scope_from_config(config: IosConfig, pool_name: str | None = None) -> DhcpScope:
    """The LAN DHCP scope: the pool's network minus excluded addresses and the router's own address.

    :param pool_name: the ``ip dhcp pool`` serving the LAN; by default the pool whose network holds the address
        of an ``ip nat inside`` interface (else the first pool with a ``network``).
    :raises ParseError: no pool with a ``network`` line.
    """
    networks: dict[str, tuple[ipaddress.IPv4Network, list[str]]] = {}
    for name, lines in config.pools.items():
        for line in lines:
            m = re.fullmatch(rf"network ({_IP}) ({_IP}|/\d+)", line)
            if m:
                try:
                    mask = m.group(2).lstrip("/")
                    networks[name] = (ipaddress.IPv4Network(f"{m.group(1)}/{mask}", strict=False), lines)
                except ValueError:
                    continue
    if pool_name is not None:
        if pool_name not in networks:
            raise ParseError("show running-config", f"no 'ip dhcp pool {pool_name}' with a network line")
        chosen = pool_name
    else:
        inside = [a for a in (config.interface_address(i) for i in config.nat_interfaces("inside")) if a]
        chosen = next((n for n, (net, _) in networks.items() if any(a.ip in net for a in inside)), "")
        if not chosen:
            if not networks:
                raise ParseError("show running-config", "no 'ip dhcp pool' with a network line")
            chosen = next(iter(networks))
    network, lines = networks[chosen]
    gateway = None
    for line in lines:
        m = re.fullmatch(rf"default-router ({_IP}).*", line)
        if m:
            gateway = _addr(m.group(1))
            break
    own = [a.ip for a in (config.interface_address(i) for i in config.interfaces) if a and a.ip in network]
    if gateway is None:
        gateway = own[0] if own else next(network.hosts(), network.network_address)
    blocked = sorted([(int(a), int(b)) for a, b in config.excluded] + [(int(x), int(x)) for x in own])
    pools: list[AddressRange] = []
    start = int(network.network_address) + 1
    end = int(network.broadcast_address) - 1
    cursor = start
    for first, last in blocked:
        if last < cursor or first > end:
            continue
        if first > cursor:
            pools.append(AddressRange(ipaddress.IPv4Address(cursor), ipaddress.IPv4Address(first - 1)))
        cursor = max(cursor, last + 1)
    if cursor <= end:
        pools.append(AddressRange(ipaddress.IPv4Address(cursor), ipaddress.IPv4Address(end)))
    reservations = []
    for name, plines in config.pools.items():
        host = mac = None
        for line in plines:
            if m := re.fullmatch(rf"host ({_IP})(?: ({_IP}|/\d+))?", line):
                host = _addr(m.group(1))
            elif m := re.fullmatch(r"(?:hardware-address|client-identifier) ([0-9a-fA-F.]+)(?: \S+)?", line):
                mac = mac_from_client_id(m.group(1))
        if host is not None and mac is not None and host in network:
            reservations.append(Reservation(host, mac, name))
    return DhcpScope(network, gateway, tuple(pools), tuple(reservations))


_BINDING_RE = re.compile(
    rf"({_IP})\s+([0-9a-fA-F.]+)\s+(.*?)\s*\b(Automatic|Manual|Static|Hardware|Remembered)\b(?:\s+\S+){{0,2}}\s*")


def _expiry(text: str) -> float | None:
    text = " ".join(text.split())
    for fmt in ("%b %d %Y %I:%M %p", "%b %d %Y %H:%M", "%b %d, %Y %I:%M %p"):
        try:
            return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.UTC).timestamp()
        except ValueError:
            continue
    return None


def parse_bindings(text: str) -> tuple[Lease, ...]:
    """Parse ``show ip dhcp binding`` (classic IOS and IOS-XE columns; wrapped long client IDs joined).

    Bindings whose client ID is not an Ethernet address are skipped (no MAC to report), and so are ``Manual``
    bindings: they are reservations, read from the configuration.
    """
    if not isinstance(text, str):
        raise ParseError("show ip dhcp binding", "not text")
    lines = [line.rstrip() for line in text.replace("\r", "").split("\n")]
    joined: list[str] = []
    for line in lines:
        stripped = line.strip()
        if joined and re.fullmatch(r"[0-9a-fA-F.]+", stripped.split(" ")[0] if stripped else "") \
                and line.startswith(" ") and re.match(rf"{_IP}\s+\S+\.\s*$", joined[-1]):
            joined[-1] = joined[-1].rstrip() + stripped  # a client ID wrapped onto the next line
            continue
        joined.append(line)
    leases: list[Lease] = []
    for line in joined:
        m = _BINDING_RE.fullmatch(line.strip())
        if not m:
            continue
        mac = mac_from_client_id(m.group(2))
        address = _addr(m.group(1))
        if mac is None or address is None or m.group(4) == "Manual":
            continue  # manual bindings are reservations (read from the configuration), not leases
        expires = None if m.group(3).strip().lower() in ("infinite", "") else _expiry(m.group(3))
        leases.append(Lease(address, mac, "", expires))
    return tuple(leases)


_ARP_RE = re.compile(rf"Internet\s+({_IP})\s+(\S+)\s+([0-9a-fA-F]{{4}}\.[0-9a-fA-F]{{4}}\.[0-9a-fA-F]{{4}})\s+\S+.*")


def parse_arp(text: str) -> tuple[Neighbour, ...]:
    """Parse ``show ip arp``; the router's own entries (age ``-``) and incomplete ones are left out."""
    if not isinstance(text, str):
        raise ParseError("show ip arp", "not text")
    result = []
    for line in text.replace("\r", "").split("\n"):
        m = _ARP_RE.fullmatch(line.strip())
        if not m or m.group(2) == "-":
            continue
        address, mac = _addr(m.group(1)), mac_from_client_id(m.group(3))
        if address is None or mac is None:
            continue
        try:
            result.append(Neighbour(address, mac))
        except InvalidValue:
            continue
    return tuple(result)


def parse_ping(text: str) -> bool:
    """Whether any echo came back, from ``ping``'s ``Success rate is P percent`` line (F32)."""
    if not isinstance(text, str):
        raise ParseError("ping", "not text")
    m = re.search(r"Success rate is (\d+) percent", text)
    if m is None:
        raise ParseError("ping", "no 'Success rate' line")
    return int(m.group(1)) > 0


def parse_version(text: str, hostname: str = "") -> DeviceFacts:
    """Model, software version and host name from ``show version`` (classic IOS and IOS-XE first lines)."""
    if not isinstance(text, str):
        raise ParseError("show version", "not text")
    version = model = ""
    vendor = "Cisco"
    for line in text.replace("\r", "").split("\n"):
        line = line.strip()
        if not version and (m := re.search(r"Cisco IOS(?: XE)? Software.*?Version ([^\s,]+)", line)):
            version = ("IOS-XE " if " XE " in line else "IOS ") + m.group(1)
        elif not model and (m := re.match(r"[Cc]isco (\S+) \(.*\) (?:processor|with)", line)):
            model = m.group(1)
        elif not hostname and (m := re.match(r"(\S+) uptime is ", line)):
            hostname = m.group(1)
    if not version:
        raise ParseError("show version", "no 'Cisco IOS Software ... Version' line")
    return DeviceFacts(vendor, model or "IOS router", version, hostname)
