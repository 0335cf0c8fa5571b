"""Parsers for a Linux router's tools: ``nft -j list ruleset``, dnsmasq's command line, configuration, lease and
hosts files, ``ip -4 -o addr``, ``ip -4 route``, ``ip -4 neigh``, ``conntrack -D``, ``command -v``,
``readlink /proc/<pid>/ns/net`` and ``arping -D`` output.

Facts relied on: docs/facts/linux.md L20 (libnftables-json layout), L11/L12 (dnsmasq options, short and long forms,
configuration lines), L14 (hostsfile lines), L15 (lease lines), L8-L10 (iproute2 output), L30/L31 (conntrack
lines), L2 (``command -v``), L6 (namespace links), L34-L37 (arping: iputils prints ``Received %d response(s)``
unless ``-q`` and in ``-D`` mode exits 0 = no reply, 1 = a reply, 2 = error; busybox prints the same count with a
parenthesis and exits the same way; both exit 0 *without* the line when the interface is not ARPable; Thomas
Habets' ``arping`` has another ``-D`` and exits 0 when something *did* answer, so the count is parsed, never the exit
status alone). Only routerfix errors leave this module.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any

from routerfix.errors import InvalidValue, ParseError
from routerfix.model import Lease, Neighbour, PortForward, PortRange, Protocol, Reservation

__all__ = ["ARPING_EXIT", "ArpingResult", "DnsmasqConfig", "NftRule", "parse_addresses", "parse_arping",
           "parse_netns",
           "parse_conntrack", "parse_default_route", "parse_dnsmasq_args", "parse_dnsmasq_conf", "parse_hostsfile",
           "parse_leases", "parse_neighbours", "parse_nft_json", "parse_tools"]

_MAC = re.compile(r"(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


@dataclass(frozen=True)
class NftRule:
    """One rule of ``nft -j list ruleset`` that routerfix understands as a port forward."""

    family: str
    table: str
    chain: str
    handle: int
    forward: PortForward | None
    comment: str = ""


@dataclass
class NftRuleset:
    """Tables, chains (with hook priorities) and the dnat rules of a ruleset."""

    tables: set[tuple[str, str]] = field(default_factory=set)
    chains: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    rules: list[NftRule] = field(default_factory=list)
    sets: set[tuple[str, str, str]] = field(default_factory=set)
    raw_rules: list[dict[str, Any]] = field(default_factory=list)


def _ports(value: Any, source: str) -> PortRange | None:
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return PortRange(value)
        if isinstance(value, dict) and "range" in value:
            low, high = value["range"]
            return PortRange(int(low), int(high))
        if isinstance(value, str):
            return PortRange.parse(value)
    except (InvalidValue, TypeError, ValueError):
        raise ParseError(source, f"bad port value {value!r}") from None
    return None


def _forward(rule: dict[str, Any], chain: dict[str, Any], source: str) -> PortForward | None:
    """A dnat rule matching a tcp/udp destination port, as a forward (``None`` when it is something else)."""
    exprs = rule.get("expr")
    if not isinstance(exprs, list):
        return None
    protocols: set[str] = set()
    ports: PortRange | None = None
    wan = False
    target: ipaddress.IPv4Address | None = None
    to_ports: PortRange | None = None
    for expr in exprs:
        if not isinstance(expr, dict):
            continue
        match = expr.get("match")
        if isinstance(match, dict):
            left, right, op = match.get("left"), match.get("right"), match.get("op", "==")
            if op not in ("==", "in"):
                if isinstance(left, dict) and left.get("meta", {}).get("key") in ("iifname", "iif"):
                    continue
                return None
            if isinstance(left, dict) and isinstance(left.get("meta"), dict):
                key = left["meta"].get("key")
                if key in ("iifname", "iif"):
                    wan = True
                elif key in ("l4proto", "protocol"):
                    values = right.get("set") if isinstance(right, dict) else [right]
                    protocols.update(str(v) for v in values or [])
            elif isinstance(left, dict) and isinstance(left.get("payload"), dict):
                payload = left["payload"]
                if payload.get("field") == "dport":
                    proto = payload.get("protocol")
                    if proto in ("tcp", "udp"):
                        protocols.add(proto)
                    ports = _ports(right, source)
                elif payload.get("field") == "protocol" and payload.get("protocol") == "ip":
                    values = right.get("set") if isinstance(right, dict) else [right]
                    protocols.update(str(v) for v in values or [])
        dnat = expr.get("dnat")
        if isinstance(dnat, dict):
            addr = dnat.get("addr")
            if not isinstance(addr, str) or not _IPV4.fullmatch(addr):
                return None
            try:
                target = ipaddress.IPv4Address(addr)
            except ValueError:
                return None
            if "port" in dnat:
                to_ports = _ports(dnat["port"], source)
    if target is None or ports is None or not protocols or not protocols <= {"tcp", "udp"}:
        return None
    protocol = Protocol.BOTH if protocols == {"tcp", "udp"} else Protocol(next(iter(protocols)))
    try:
        return PortForward(str(rule.get("comment", "")), protocol, ports, target, to_ports, wan_only=wan,
                           ref=f"{rule.get('family')} {rule.get('table')} {rule.get('chain')} {rule.get('handle')}")
    except InvalidValue as exc:
        raise ParseError(source, str(exc)) from None


def parse_nft_json(text: str, source: str = "nft -j list ruleset") -> NftRuleset:
    """Tables, chains and dnat rules of ``nft -j`` output. An empty output is an empty ruleset."""
    if not text.strip():
        return NftRuleset()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ParseError(source, f"not JSON ({exc})") from None
    items = data.get("nftables") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ParseError(source, "no 'nftables' list")
    result = NftRuleset()
    for item in items:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("table"), dict):
            t = item["table"]
            result.tables.add((str(t.get("family")), str(t.get("name"))))
        elif isinstance(item.get("chain"), dict):
            c = item["chain"]
            result.chains[(str(c.get("family")), str(c.get("table")), str(c.get("name")))] = c
        elif isinstance(item.get("set"), dict):
            s = item["set"]
            result.sets.add((str(s.get("family")), str(s.get("table")), str(s.get("name"))))
        elif isinstance(item.get("rule"), dict):
            r = item["rule"]
            result.raw_rules.append(r)
            chain = result.chains.get((str(r.get("family")), str(r.get("table")), str(r.get("chain"))), {})
            if chain.get("type") not in (None, "nat") or chain.get("hook") not in (None, "prerouting"):
                continue
            try:
                handle = int(r.get("handle", -1))
            except (TypeError, ValueError):
                raise ParseError(source, "a rule handle is not a number") from None
            fwd = _forward(r, chain, source)
            if fwd is not None:
                result.rules.append(NftRule(str(r.get("family")), str(r.get("table")), str(r.get("chain")),
                                            handle, fwd, str(r.get("comment", ""))))
    return result


@dataclass
class DnsmasqConfig:
    """What routerfix needs from dnsmasq's options (command line and configuration files)."""

    conf_files: list[str] = field(default_factory=list)
    conf_dirs: list[str] = field(default_factory=list)
    ranges: list[tuple[str, str, str]] = field(default_factory=list)
    """(start, end, netmask or "") per dhcp-range."""
    leasefile: str | None = None
    hostsfiles: list[str] = field(default_factory=list)
    hosts: list[Reservation] = field(default_factory=list)
    interfaces: list[str] = field(default_factory=list)
    except_interfaces: list[str] = field(default_factory=list)
    router: str | None = None

    def may_serve(self, interface: str, network: ipaddress.IPv4Network | None) -> bool:
        """Whether this dnsmasq can hand out addresses on ``interface`` (whose network is ``network``): it is not
        excluded there, it listens there (``--interface``; none given = every interface), and, when the network is
        known, one of its ``dhcp-range`` starts lies in it."""
        if interface in self.except_interfaces or (self.interfaces and interface not in self.interfaces):
            return False
        return network is None or any(_in(start, network) for start, _, _ in self.ranges)


_LONG = {"C": "conf-file", "7": "conf-dir", "l": "dhcp-leasefile", "F": "dhcp-range", "G": "dhcp-host",
         "i": "interface", "I": "except-interface", "O": "dhcp-option"}


def _in(address: str, network: ipaddress.IPv4Network) -> bool:
    try:
        return ipaddress.IPv4Address(address) in network
    except ValueError:
        return False


def _apply_option(cfg: DnsmasqConfig, key: str, value: str, source: str) -> None:
    if key == "conf-file":
        cfg.conf_files.append(value)
    elif key == "conf-dir":
        cfg.conf_dirs.append(value.split(",", 1)[0])
    elif key in ("dhcp-leasefile", "dhcp-lease-file"):
        cfg.leasefile = value
    elif key == "dhcp-hostsfile":
        cfg.hostsfiles.append(value)
    elif key == "interface":
        cfg.interfaces += [v for v in value.split(",") if v]
    elif key == "except-interface":
        cfg.except_interfaces += [v for v in value.split(",") if v]
    elif key == "dhcp-range":
        addrs = [p for p in value.split(",") if _IPV4.fullmatch(p.strip())]
        if len(addrs) >= 2:
            mask = addrs[2] if len(addrs) >= 3 and addrs[2].startswith("255.") else ""
            cfg.ranges.append((addrs[0].strip(), addrs[1].strip(), mask))
    elif key == "dhcp-host":
        cfg.hosts += parse_hostsfile(value, source)
    elif key == "dhcp-option":
        parts = [p.strip() for p in value.split(",")]
        if parts and parts[0] in ("3", "option:router") and len(parts) > 1 and _IPV4.fullmatch(parts[1]):
            cfg.router = parts[1]


def parse_dnsmasq_args(args: list[str], source: str = "/proc/<pid>/cmdline") -> DnsmasqConfig:
    """dnsmasq's command line (argv, program name first). No ``--conf-file`` means ``/etc/dnsmasq.conf``."""
    cfg = DnsmasqConfig()
    explicit_conf = False
    i = 1
    while i < len(args):
        arg = args[i]
        key, value = "", ""
        if arg.startswith("--"):
            key, _, value = arg[2:].partition("=")
            if not _ and key in ("conf-file", "conf-dir", "dhcp-leasefile", "dhcp-hostsfile", "dhcp-range",
                                 "interface", "except-interface", "dhcp-host", "dhcp-option") \
                    and i + 1 < len(args):
                i += 1
                value = args[i]
        elif arg.startswith("-") and len(arg) >= 2 and arg[1] in _LONG:
            key = _LONG[arg[1]]
            value = arg[2:].lstrip("=")
            if not value and i + 1 < len(args):
                i += 1
                value = args[i]
        i += 1
        if not key:
            continue
        if key == "conf-file":
            explicit_conf = True
        _apply_option(cfg, key, value, source)
    if not explicit_conf:
        cfg.conf_files.insert(0, "/etc/dnsmasq.conf")
    return cfg


def parse_dnsmasq_conf(text: str, cfg: DnsmasqConfig, source: str) -> DnsmasqConfig:
    """Add the options of a configuration file (``key=value`` lines, ``#`` comments) to ``cfg``."""
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        _apply_option(cfg, key.strip(), value.strip(), source)
    return cfg


def parse_hostsfile(text: str, source: str = "dhcp-hostsfile") -> list[Reservation]:
    """``mac[,mac],ip[,name][,lease]`` lines (also ``dhcp-host=`` values). Lines without both a MAC and an address
    (client-id or tag forms) are skipped."""
    result: list[Reservation] = []
    for raw in text.split("\n"):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split(",")]
        macs = [p for p in parts if _MAC.fullmatch(p)]
        addrs = [p for p in parts if _IPV4.fullmatch(p)]
        names = [p for p in parts if p and not _MAC.fullmatch(p) and not _IPV4.fullmatch(p)
                 and not re.fullmatch(r"\d+[smhdw]?|infinite|ignore|set:.*|tag:.*|id:.*|\[.*\]", p)]
        if not macs or not addrs:
            continue
        try:
            result.append(Reservation(addrs[0], macs[0], names[0] if names else ""))
        except InvalidValue:
            continue
    return result


def parse_leases(text: str, source: str = "dnsmasq.leases") -> list[Lease]:
    """``expiry mac ip hostname client-id`` lines (``*`` = no host name; expiry 0 = infinite)."""
    leases: list[Lease] = []
    for raw in text.split("\n"):
        parts = raw.split()
        if len(parts) < 3 or parts[0] == "duid":
            continue
        if not parts[0].isdecimal() or not _MAC.fullmatch(parts[1]) or not _IPV4.fullmatch(parts[2]):
            continue
        host = parts[3] if len(parts) > 3 and parts[3] != "*" else ""
        try:
            leases.append(Lease(parts[2], parts[1], host, None if parts[0] == "0" else float(parts[0])))
        except InvalidValue:
            continue
    return leases


def parse_neighbours(text: str) -> list[Neighbour]:
    """``ip -4 neigh show`` lines with a link-layer address (FAILED/INCOMPLETE entries skipped)."""
    result: list[Neighbour] = []
    for raw in text.split("\n"):
        match = re.match(r"\s*(\S+) dev \S+ lladdr (\S+)", raw)
        if match is None or "FAILED" in raw or "INCOMPLETE" in raw:
            continue
        try:
            result.append(Neighbour(match.group(1), match.group(2)))
        except InvalidValue:
            continue
    return result


def parse_addresses(text: str) -> dict[str, list[ipaddress.IPv4Interface]]:
    """``ip -4 -o addr show``: interface name → its IPv4 addresses."""
    result: dict[str, list[ipaddress.IPv4Interface]] = {}
    for raw in text.split("\n"):
        match = re.match(r"\s*\d+:\s+(\S+?)(?:@\S+)?\s+inet\s+(\S+)", raw)
        if match is None:
            continue
        try:
            result.setdefault(match.group(1), []).append(ipaddress.IPv4Interface(match.group(2)))
        except ValueError:
            continue
    return result


def parse_default_route(text: str) -> str | None:
    """The device of ``default via ... dev X`` (first default route)."""
    match = re.search(r"^default\b.*?\bdev (\S+)", text, re.M)
    return match.group(1) if match else None


def parse_conntrack(text: str) -> list[dict[str, str]]:
    """Entries printed by ``conntrack -L``/``-D``: the protocol and the *original* direction's src/dst/ports."""
    entries: list[dict[str, str]] = []
    for raw in text.split("\n"):
        match = re.match(r"\s*(tcp|udp)\s+\d+\s+.*?src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)", raw)
        if match:
            entries.append({"protocol": match.group(1), "src": match.group(2), "dst": match.group(3),
                            "sport": match.group(4), "dport": match.group(5)})
    return entries


def parse_netns(text: str) -> int | None:
    """``readlink /proc/<pid>/ns/net`` → the namespace inode (``net:[4026531840]``); None when unreadable."""
    match = re.fullmatch(r"\s*net:\[(\d+)\]\s*", text)
    return int(match.group(1)) if match else None


def parse_tools(text: str, names: tuple[str, ...] = ("arping", "busybox")) -> set[str]:
    """``command -v NAME...``: which of ``names`` exist (one absolute path per line found; anything else ignored)."""
    found: set[str] = set()
    for raw in text.split("\n"):
        line = raw.strip()
        if line.startswith("/") and " " not in line:
            base = line.rsplit("/", 1)[-1]
            if base in names:
                found.add(base)
    return found


ARPING_EXIT = "rfx-arping-exit"
"""The word the driver echoes with arping's exit status after its output (``...; echo rfx-arping-exit $?``)."""

_RECEIVED = re.compile(r"^Received (\d+) response\(s\)", re.M)
_EXIT = re.compile(rf"^{ARPING_EXIT} (\d+)\s*$", re.M)


@dataclass(frozen=True)
class ArpingResult:
    """What ``arping -D ... 2>&1; echo rfx-arping-exit $?`` said.

    :param received: replies counted on the ``Received N response(s)`` line; ``None`` when there is no such line.
    :param status: arping's exit status.
    :param message: arping's own output (without the exit line), for error messages.
    """

    received: int | None
    status: int
    message: str


def parse_arping(text: str, source: str = "arping -D") -> ArpingResult:
    """The reply count and exit status of a duplicate-address probe. Raises :class:`ParseError` when the exit line is
    missing, or when a count is there but disagrees with the ``-D`` exit status (0 = none, 1 = some): such an arping
    does not do duplicate address detection the way routerfix relies on."""
    exits = _EXIT.findall(text)
    if len(exits) != 1:
        raise ParseError(source, f"no single '{ARPING_EXIT} <status>' line")
    body = _EXIT.sub("", text).strip()
    status = int(exits[0])
    counts = _RECEIVED.findall(body)
    if len(counts) > 1:
        raise ParseError(source, "more than one 'Received N response(s)' line")
    received = int(counts[0]) if counts else None
    if received is not None and status in (0, 1) and status != (1 if received else 0):
        raise ParseError(source, f"exit status {status} disagrees with {received} response(s) in -D mode")
    return ArpingResult(received, status, body)
