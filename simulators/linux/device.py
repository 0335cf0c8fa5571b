"""A Debian 12 router shell (bash as root, nftables 1.0.6, dnsmasq 2.90, conntrack-tools 1.4.7) over real SSH.

Follows docs/facts/linux.md (the L rows marked "simulator" or "both"), never the driver.

The router: ``wan0`` 203.0.113.2/24 (default route), ``br-lan`` 192.168.88.1/24, dnsmasq started with
``--conf-file=/dev/null --interface=br-lan --dhcp-range=192.168.88.100,192.168.88.250,12h``, a lease file and
``--dhcp-hostsfile`` (re-read on SIGHUP), masquerade in ``table ip nat``. Scenarios: ``packaged`` runs Debian's
packaged dnsmasq instead (``/etc/dnsmasq.conf`` + ``-7 /etc/dnsmasq.d,...``, L16 inferred); ``container`` adds a
container's dnsmasq in another network namespace whose ``--interface`` name also exists here; ``multi`` adds that
and a guest LAN ``br-guest`` served by a second dnsmasq configured with ``-C /etc/dnsmasq-guest.conf`` (L3-L6,
L11-L13: ``pidof`` lists the others first, each has its own hostsfile, SIGHUP count and namespace link).

* Shell: ``PS1``, ``$?``, ``;``/``||``/``&&`` (L48), redirections (L1; a new file is 0666 & ~umask, L49),
  ``umask``, ``chmod``, ``mkdir -p``, ``head -c``, ``mv -f``, ``rm -f`` (L48-L50, the undo marker), ``command -v`` (L2),
  ``uname -nr`` (L7), ``readlink /proc/<pid>/ns/net`` (L6), ``/proc/<pid>/cmdline`` (L5); bash's
  ``-bash: X: command not found`` wording is inferred.
* iproute2 output (L8-L10); nftables transactions, priorities, rule syntax and JSON (L20-L23), the error wording
  (L25, inferred); the ``nft list ruleset`` text layout is inferred (the driver reads only JSON).
* dnsmasq options, hostsfile and lease lines, SIGHUP (L11-L15, L17).
* Self-revert (L38-L40; L43: only where ``test -d /run/systemd/system`` succeeds, else ``systemd-run`` fails):
  ``systemd-run --unit=<u> --on-active=<s> /bin/sh -c '<script>'`` starts a transient
  timer (a second one of the same name is refused), ``systemctl stop <u>.timer`` cancels it; the script runs when
  its time comes in *simulated* time (:meth:`LinuxRouter.advance`). ``cp``; ``nft -f <file>`` loads a file of nft
  commands and ``nft list table``/``nft list ruleset`` text as one transaction (L40); ``add table`` of an existing
  table is a no-op and ``delete table`` removes it with its content (L44).
* conntrack ``-D``/``-L`` lines and summary (L30, L31), exit status 1 when nothing matched (L32, inferred); a late
  answer from a phone forms a LAN flow that masquerade maps to WAN:5060 (L26, L27) —
  :meth:`LinuxRouter.phone_answers` models it, :meth:`LinuxRouter.scanner_reaches_phone` says whether a scanner's
  next packet to WAN:5060 would reach the phone.

ARP duplicate-address detection, knob ``arping``: ``"iputils"`` (default: Debian's iputils-arping), ``"busybox"``
(only ``busybox arping``), ``"both"``, ``"habets"`` (Thomas Habets' ``arping`` package, whose ``-D`` is something
else) or ``"none"``. Hosts that "exist" on ``br-lan`` answer: leased addresses, neighbour entries with a link-layer
address, and the static squatters (knob ``squatters``, address → MAC; every scenario has one: a camera set by hand to
192.168.88.250, the top of the pool, with no lease and no neighbour entry). Facts used:

* iputils ``arping.c`` (L34): header ``ARPING <dst> from <src> <dev>`` (src 0.0.0.0 in -D mode), reply
  ``Unicast reply from <ip> [<MAC, upper-case hex>]  <t>ms``, ``Sent N probes (N broadcast(s))``,
  ``Received N response(s)`` (a parenthesis only for broadcast/request replies), nothing of that with ``-q``;
  ``-D`` quits on the first reply and exits ``!!received``; ``Device X not available.`` exit 2; ``Interface "lo" is
  not ARPable`` on stdout, exit 0 in -D mode.
* busybox ``networking/arping.c`` (L35): ``ARPING <dst> from 0.0.0.0 <dev>``, ``Unicast reply from <ip> [<mac>]
  <t>ms``, ``Sent N probe(s) (0 broadcast(s))``, ``Received N response(s) (0 request(s), 0 broadcast(s))``, exit 1 /
  0; ``arping: interface X not found: No such device`` exit 2; ``arping: interface lo is not ARPable`` exit 0;
  ``arping: bad address 'X'`` exit 2; ``X: applet not found`` exit 127; the probe adds no neighbour entry.
* Habets ``src/arping.c`` (L36): ``-D`` = Cisco-style display (``!`` per reply, ``.`` per timeout, then
  ``\t<loss>% packet loss (N extra)``), exit ``!numrecvd`` (0 when something answered).

Inferred: the reply times (fixed), iputils' ``Sent`` count of 2 for a free address with ``-c 2 -w 2`` (read from its
event loop), iputils' wording for a bad target (``arping: X: Name or service not known``), the program paths
``command -v`` prints, Habets' exact spacing, busybox's exact spacing, and that nothing but those hosts answers (no
proxy ARP).
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from routerfix.simulate import SimulatedDevice
from routerfix.words import split

from .._hosts.ssh import (
    OPENSSH_9_2_KEX,
    OPENSSH_CIPHERS,
    Knobs,
    Shell,
    SSHSimulatorHost,
    serve_device,
    simulated_device,
)
from . import capture as _capture

__all__ = ["LinuxRouter", "LinuxShell", "simulate"]

KEX_ALGS = OPENSSH_9_2_KEX
"""Key exchanges Debian 12's sshd (OpenSSH 9.2p1) offers by default, in its order (L53)."""

WAN, LAN = "wan0", "br-lan"
WAN_ADDR = "203.0.113.2"
NETNS = 4026531840
"""The initial network namespace's inode (the shell and the LAN's dnsmasq live there)."""
_PRIO = {"dstnat": -100, "srcnat": 100, "filter": 0, "mangle": -150}


class NftError(Exception):
    """An nft failure; the text is what nft prints."""


@dataclass
class Chain:
    """An nftables chain."""

    name: str
    handle: int
    base: dict[str, Any] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Table:
    """An nftables table."""

    family: str
    name: str
    handle: int
    chains: dict[str, Chain] = field(default_factory=dict)
    sets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def copy(self) -> Table:
        """An independent copy: its own chains, rules and sets, all the way down."""
        return replace(self, sets=_copy_json(self.sets), chains={
            name: replace(c, base=_copy_json(c.base), rules=_copy_json(c.rules)) for name, c in self.chains.items()})


def _copy_json(value: Any) -> Any:
    """An independent copy of JSON-like data (dicts and lists of strings and numbers): what ``copy.deepcopy`` gives,
    for a fraction of its cost; any other container is deep-copied."""
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    if value is None or isinstance(value, (str, int, float)):
        return value
    return copy.deepcopy(value)


def _parse_rule(text: str) -> tuple[list[dict[str, Any]], str]:
    """The JSON expressions and comment of a rule in nft syntax (the subset routers use)."""
    tokens = re.findall(r'"[^"]*"|\{[^}]*\}|\S+', text)
    exprs: list[dict[str, Any]] = []
    comment = ""
    i = 0

    def value(tok: str) -> Any:
        if tok.startswith("{"):
            return {"set": [v.strip() for v in tok.strip("{}").split(",") if v.strip()]}
        if re.fullmatch(r"\d+-\d+", tok):
            a, b = tok.split("-")
            return {"range": [int(a), int(b)]}
        if tok.isdigit():
            return int(tok)
        return tok.strip('"')

    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok in ("iifname", "oifname"):
            exprs.append({"match": {"op": "==", "left": {"meta": {"key": tok}}, "right": value(nxt)}})
            i += 2
        elif tok == "meta" and nxt == "l4proto":
            exprs.append({"match": {"op": "==", "left": {"meta": {"key": "l4proto"}},
                                    "right": value(tokens[i + 2])}})
            i += 3
        elif tok in ("tcp", "udp", "th") and nxt in ("dport", "sport"):
            exprs.append({"match": {"op": "==", "left": {"payload": {"protocol": tok, "field": nxt}},
                                    "right": value(tokens[i + 2])}})
            i += 3
        elif tok == "ip" and nxt in ("daddr", "saddr"):
            exprs.append({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": nxt}},
                                    "right": tokens[i + 2]}})
            i += 3
        elif tok == "ct" and nxt in ("state", "status"):
            exprs.append({"match": {"op": "in", "left": {"ct": {"key": nxt}}, "right": tokens[i + 2]}})
            i += 3
        elif tok == "dnat" and nxt == "to":
            target = tokens[i + 2]
            addr, _, port = target.partition(":")
            stmt: dict[str, Any] = {"addr": addr}
            if port:
                stmt["port"] = value(port)
            exprs.append({"dnat": stmt})
            i += 3
        elif tok == "masquerade":
            stmt = {}
            i += 1
            if i < len(tokens) and tokens[i] == "to":
                stmt["port"] = value(tokens[i + 1].lstrip(":"))
                i += 2
            if i < len(tokens) and tokens[i] == "random":
                stmt["flags"] = "random"
                i += 1
            exprs.append({"masquerade": stmt or None})
        elif tok == "counter":
            exprs.append({"counter": {"packets": 0, "bytes": 0}})
            i += 1
        elif tok in ("accept", "drop"):
            exprs.append({tok: None})
            i += 1
        elif tok == "comment":
            comment = nxt.strip('"')
            i += 2
        else:
            raise NftError(f"Error: syntax error, unexpected {tok}")
    return exprs, comment


@dataclass
class Dnsmasq:
    """Another dnsmasq process on the machine (a second LAN, or one inside a container's network namespace)."""

    pid: int
    args: list[str]
    hostsfile: str | None = None
    netns: int = NETNS
    """Inode of its network namespace (``readlink /proc/<pid>/ns/net`` prints ``net:[<inode>]``)."""
    reloads: int = 0
    loaded_hosts: str = ""


@dataclass
class LinuxRouter:
    """The router's state, shared by all sessions."""

    files: dict[str, str] = field(default_factory=dict)
    dnsmasq_pid: int | None = 812
    dnsmasq_args: list[str] = field(default_factory=list)
    reloads: int = 0
    """SIGHUPs dnsmasq received."""
    loaded_hosts: str = ""
    """The hostsfile content dnsmasq last read (at start or SIGHUP)."""
    tables: list[Table] = field(default_factory=list)
    conntrack: list[dict[str, str]] = field(default_factory=list)
    neighbours: list[tuple[str, str, str]] = field(default_factory=list)
    hostname: str = "router"
    kernel: str = "6.1.0-26-amd64"
    next_handle: int = 1
    hostsfile: str | None = "/etc/dnsmasq.hosts"
    arping: str = "iputils"
    """Which ARP prober is installed: "iputils", "busybox", "both", "habets" or "none"."""
    squatters: dict[str, str] = field(default_factory=dict)
    """Hosts with a static address (address → MAC): no lease, no neighbour entry, but they answer ARP."""
    other_dnsmasq: list[Dnsmasq] = field(default_factory=list)
    """More dnsmasq processes; ``pidof`` lists them before the LAN's (order: inferred, L12)."""
    extra_addresses: list[tuple[str, str]] = field(default_factory=list)
    """More LAN-side interfaces (name, address/prefix) shown by ``ip -4 -o addr show``."""
    systemd: bool = True
    """``systemd-run`` exists (L38); False for a router without systemd."""
    systemd_init: bool = True
    """systemd is the running init: ``/run/systemd/system`` exists (L43); False for a container or a network
    namespace whose host runs another init (``systemd-run`` is installed but fails)."""
    timers: dict[str, tuple[float, str]] = field(default_factory=dict)
    """Transient timers ``systemd-run --on-active`` started: unit name → (when it fires, the ``sh -c`` script)."""
    clock: float = 0.0
    """Simulated seconds (timers fire in :meth:`advance`)."""
    unloadable: set[tuple[str, str]] = field(default_factory=set)
    """Tables whose ``nft list`` text ``nft -f`` refuses (an nft release that cannot read back what it lists): the
    case the driver's ``nft -c -f`` check before replacing a forward guards against (L52)."""
    reverts: int = 0
    """How many timer scripts ran."""
    hangup: tuple[str, int] | None = None
    """Fault knob ``(text, n)``: the next line holding ``text`` hangs up after ``n`` of its commands ran (a client
    killed while the line runs: the hangup ends the shell between two commands of an AND list, L55); the rest of
    the line never runs and nothing more is answered."""
    capture: _capture.CaptureState = field(default_factory=_capture.CaptureState)
    """tcpdump and its savefiles (``routerfix diagnose --capture``, :mod:`.capture`)."""
    modes: dict[str, int] = field(default_factory=dict)
    """Permission bits of files the shell created (L49); files set up by the scenario have none recorded."""
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass: timers that come due run their script (L38)."""
        with self.lock:
            self.clock += seconds
            for unit, (when, script) in sorted(self.timers.items(), key=lambda kv: kv[1][0]):
                if when <= self.clock:
                    del self.timers[unit]
                    self.reverts += 1
                    LinuxShell("root", self).execute(script)

    def load_ruleset(self, text: str) -> str:
        """``nft -f``: nft commands, one per line, or ``nft list ruleset`` text, as one transaction (L40)."""
        for family, name in self.unloadable:
            if f"table {family} {name} {{" in text:
                raise NftError(f"Error: syntax error, unexpected junk (table {family} {name} as listed)")
        return self.nft("; ".join(_file_commands(text)))

    # --- nftables ------------------------------------------------------------------------------------

    def _handle(self) -> int:
        self.next_handle += 1
        return self.next_handle

    def table(self, family: str, name: str) -> Table | None:
        """A table by family and name."""
        return next((t for t in self.tables if (t.family, t.name) == (family, name)), None)

    def add_table(self, family: str, name: str) -> Table:
        """``add table`` (idempotent)."""
        found = self.table(family, name)
        if found is None:
            found = Table(family, name, self._handle())
            self.tables.append(found)
        return found

    def nft(self, script: str) -> str:
        """Run an nft script (commands separated by ``;`` outside braces) atomically."""
        saved = [t.copy() for t in self.tables], self.next_handle
        try:
            out = "".join(self._nft_command(c.strip()) for c in _split_top(script) if c.strip())
        except NftError:
            self.tables, self.next_handle = saved
            raise
        return out

    def _nft_command(self, command: str) -> str:
        words = command.split()
        verb, obj = words[0], words[1] if len(words) > 1 else ""
        if verb == "list" and obj == "ruleset":
            return self.render()
        if verb == "flush" and obj == "ruleset":
            self.tables = []
            return ""
        if verb in ("add", "create", "delete", "flush", "list", "insert") and obj == "table":
            family, name = words[2], words[3]
            if verb == "list":
                table = self.table(family, name)
                if table is None:
                    raise NftError("Error: No such file or directory\nlist table " + f"{family} {name}")
                return self.render([table])
            if verb == "delete":
                if self.table(family, name) is None:
                    raise NftError(f"Error: Could not process rule: No such file or directory\n{command}")
                self.tables = [t for t in self.tables if (t.family, t.name) != (family, name)]
                return ""
            self.add_table(family, name)
            return ""
        if obj in ("chain", "set", "rule", "element"):
            family, tname = words[2], words[3]
            table = self.table(family, tname)
            if table is None:
                raise NftError(f"Error: Could not process rule: No such file or directory\n{command}")
            rest = command.split(None, 4)[4] if len(words) > 4 else ""
            if obj == "chain":
                name, _, body = rest.partition(" ")
                if verb == "delete":
                    table.chains.pop(name, None)
                    return ""
                if name not in table.chains:
                    base: dict[str, Any] = {}
                    match = re.search(r"type (\w+) hook (\w+) priority (\w+)(?: ([+-]) (\d+))?;(?: policy (\w+);)?",
                                      body)
                    if match:
                        prio = _PRIO.get(match.group(3), 0) if not match.group(3).lstrip("-").isdigit() \
                            else int(match.group(3))
                        if match.group(4):
                            prio += int(match.group(5)) * (1 if match.group(4) == "+" else -1)
                        base = {"type": match.group(1), "hook": match.group(2), "prio": prio,
                                "policy": match.group(6) or "accept"}
                    table.chains[name] = Chain(name, self._handle(), base)
                return ""
            if obj == "set":
                name, _, body = rest.partition(" ")
                if verb == "delete":
                    table.sets.pop(name, None)
                else:
                    table.sets.setdefault(name, {"name": name, "type": "ipv4_addr", "elements": [],
                                                 "timeout": "1h" if "timeout" in body else None})
                return ""
            if obj == "element":
                name, _, body = rest.partition(" ")
                nset = table.sets.get(name)
                if nset is None:
                    raise NftError(f"Error: Could not process rule: No such file or directory\n{command}")
                for element in (e.strip() for e in body.strip("{} ").split(",")):
                    if element and element not in nset["elements"]:
                        nset["elements"].append(element)
                return ""
            chain_name, _, body = rest.partition(" ")
            chain = table.chains.get(chain_name)
            if chain is None:
                raise NftError(f"Error: Could not process rule: No such file or directory\n{command}")
            if verb == "delete":
                match = re.fullmatch(r"handle (\d+)", body.strip())
                if match is None or not any(r["handle"] == int(match.group(1)) for r in chain.rules):
                    raise NftError(f"Error: Could not process rule: No such file or directory\n{command}")
                chain.rules = [r for r in chain.rules if r["handle"] != int(match.group(1))]
                return ""
            exprs, comment = _parse_rule(body)
            rule = {"handle": self._handle(), "text": body, "expr": exprs, "comment": comment}
            if verb == "insert":
                chain.rules.insert(0, rule)
            else:
                chain.rules.append(rule)
            return ""
        raise NftError(f"Error: syntax error, unexpected {verb}\n{command}")

    def render(self, tables: list[Table] | None = None) -> str:
        """``nft list ruleset`` text."""
        out: list[str] = []
        for t in tables if tables is not None else self.tables:
            out.append(f"table {t.family} {t.name} {{")
            for s in t.sets.values():
                out.append(f"\tset {s['name']} {{\n\t\ttype {s['type']}\n\t\tflags timeout\n"
                           f"\t\ttimeout {s['timeout']}")
                if s["elements"]:
                    out.append("\t\telements = { " + ", ".join(f"{e} expires 59m59s" for e in s["elements"]) + " }")
                out.append("\t}")
            for c in t.chains.values():
                out.append(f"\tchain {c.name} {{")
                if c.base:
                    prio = c.base["prio"]
                    name = next((k for k, v in _PRIO.items() if v == prio), None)
                    if name is None:
                        near = min(_PRIO.items(), key=lambda kv: abs(kv[1] - prio))
                        text = f"{near[0]} {'+' if prio > near[1] else '-'} {abs(prio - near[1])}" \
                            if abs(prio - near[1]) <= 10 else str(prio)
                    else:
                        text = name
                    out.append(f"\t\ttype {c.base['type']} hook {c.base['hook']} priority {text}; "
                               f"policy {c.base['policy']};")
                for r in c.rules:
                    out.append(f"\t\t{r['text']}")
                out.append("\t}")
            out.append("}")
        return "\n".join(out) + ("\n" if out else "")

    def render_json(self, tables: list[Table] | None = None) -> str:
        """``nft -j list ruleset`` JSON."""
        items: list[dict[str, Any]] = [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5",
                                                     "json_schema_version": 1}}]
        for t in tables if tables is not None else self.tables:
            items.append({"table": {"family": t.family, "name": t.name, "handle": t.handle}})
            for c in t.chains.values():
                items.append({"chain": {"family": t.family, "table": t.name, "name": c.name, "handle": c.handle,
                                        **c.base}})
            for s in t.sets.values():
                items.append({"set": {"family": t.family, "name": s["name"], "table": t.name, "type": s["type"],
                                      "handle": 0, "flags": ["timeout"], "timeout": 3600,
                                      "elem": list(s["elements"])}})
            for c in t.chains.values():
                for r in c.rules:
                    rule: dict[str, Any] = {"family": t.family, "table": t.name, "chain": c.name,
                                            "handle": r["handle"]}
                    if r["comment"]:
                        rule["comment"] = r["comment"]
                    rule["expr"] = r["expr"]
                    items.append({"rule": rule})
        return json.dumps({"nftables": items}, separators=(",", ":"))

    def forwards_text(self) -> list[str]:
        """Rule texts of the routerfix table (tests)."""
        table = self.table("ip", "routerfix")
        return [] if table is None else [r["text"] for c in table.chains.values() for r in c.rules]

    # --- hosts on the LAN (ARP) ----------------------------------------------------------------------------

    def host_mac(self, address: str, device: str) -> str | None:
        """The MAC of a host on ``device`` that answers ARP for ``address`` (None: nobody does). On the LAN: the
        static squatters, leased addresses and neighbour entries with a link-layer address; on the WAN: its
        neighbours. The router never answers its own probe."""
        wan_side = address.startswith("203.0.113.")
        if device == LAN and not wan_side:
            if address in self.squatters:
                return self.squatters[address]
            for path, text in self.files.items():
                if path.endswith(".leases"):
                    for line in text.split("\n"):
                        parts = line.split()
                        if len(parts) >= 3 and parts[2] == address:
                            return parts[1]
        if device not in (LAN, WAN) or (device == WAN) != wan_side:
            return None
        for addr, mac, state in self.neighbours:
            if addr == address and mac and state not in ("FAILED", "INCOMPLETE"):
                return mac
        return None

    def tools(self) -> dict[str, str]:
        """Program name → path, as ``command -v`` prints it."""
        found = {"ip": "/usr/bin/ip", "nft": "/usr/sbin/nft", "conntrack": "/usr/sbin/conntrack",
                 "dnsmasq": "/usr/sbin/dnsmasq"}
        if self.arping in ("iputils", "both"):
            found["arping"] = "/usr/bin/arping"
        elif self.arping == "habets":
            found["arping"] = "/usr/sbin/arping"
        if self.arping in ("busybox", "both"):
            found["busybox"] = "/usr/bin/busybox"
        if self.systemd:
            found["systemd-run"] = "/usr/bin/systemd-run"
            found["systemctl"] = "/usr/bin/systemctl"
        if self.capture.installed:
            found.update(_capture.TOOLS)
        return found

    # --- dnsmasq, conntrack -------------------------------------------------------------------------------

    def hup(self, pid: int) -> bool:
        """``kill -HUP pid``: dnsmasq re-reads its hostsfile."""
        other = next((d for d in self.other_dnsmasq if d.pid == pid), None)
        if other is not None:
            other.reloads += 1
            other.loaded_hosts = self.files.get(other.hostsfile or "", "")
            return True
        if pid != self.dnsmasq_pid:
            return False
        self.reloads += 1
        self.loaded_hosts = self.files.get(self.hostsfile or "", "")
        return True

    def delete_conntrack(self, proto: str, orig_dst: str, port: str | None) -> list[dict[str, str]]:
        """``conntrack -D -p proto --orig-dst X [--orig-port-dst P]``: the deleted entries."""
        doomed = [e for e in self.conntrack if e["protocol"] == proto and e["dst"] == orig_dst
                  and (port is None or e["dport"] == port)]
        self.conntrack = [e for e in self.conntrack if e not in doomed]
        return doomed

    def _guarded(self, address: str) -> bool:
        table = self.table("ip", "routerfix")
        if table is None:
            return False
        return any(address in s["elements"] for s in table.sets.values()) and any(
            "masquerade to" in r["text"] for c in table.chains.values() for r in c.rules)

    def phone_answers(self, phone: str, scanner: str, proto: str = "udp") -> None:
        """The phone sends a late answer to ``scanner`` (L26, L27): a LAN flow forms; masquerade keeps
        source port 5060 unless routerfix's guard maps flows to that scanner elsewhere."""
        wan_port = "5060" if not self._guarded(scanner) else "40123"
        self.conntrack.append({"protocol": proto, "src": phone, "dst": scanner, "sport": "5060", "dport": "5060",
                               "reply_src": scanner, "reply_dst": WAN_ADDR, "reply_sport": "5060",
                               "reply_dport": wan_port})

    def scanner_reaches_phone(self, scanner: str, proto: str = "udp") -> bool:
        """Would the scanner's next packet to WAN:5060 reach a phone? True when an entry maps it to the LAN (as
        original inbound traffic not sent to the sink, or as the reply of a LAN flow)."""
        for e in self.conntrack:
            if e["protocol"] != proto:
                continue
            if e["src"] == scanner and e["dst"] == WAN_ADDR and e["dport"] == "5060":
                return True
            if e["dst"] == scanner and e.get("reply_dst") == WAN_ADDR and e.get("reply_dport") == "5060":
                return True
        return False

    def conntrack_line(self, e: dict[str, str]) -> str:
        """One entry as ``conntrack -L`` prints it."""
        num = "17" if e["protocol"] == "udp" else "6"
        reply = (f"src={e.get('reply_src', e['dst'])} dst={e.get('reply_dst', e['src'])} "
                 f"sport={e.get('reply_sport', e['dport'])} dport={e.get('reply_dport', e['sport'])}")
        return (f"{e['protocol']:<8} {num} 117 src={e['src']} dst={e['dst']} sport={e['sport']} "
                f"dport={e['dport']} {reply} mark=0 use=1")


def _split_top(script: str) -> list[str]:
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for i, ch in enumerate(script):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "{":
            depth += 1
        elif not quoted and ch == "}":
            depth -= 1
        elif not quoted and depth == 0 and ch == ";":
            parts.append(script[start:i])
            start = i + 1
    parts.append(script[start:])
    return parts


def _file_commands(text: str) -> list[str]:
    """The commands of an ``nft -f`` file: plain command lines, and ``table``/``set``/``chain`` blocks as ``nft list
    ruleset`` prints them (turned into ``add`` commands; set elements without their ``expires``)."""
    out: list[str] = []
    table = chain = nset = ""
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head = line.split()
        if line == "}":
            if nset:
                nset = ""
            elif chain:
                chain = ""
            else:
                table = ""
        elif not table and head[0] == "table" and line.endswith("{"):
            table = f"{head[1]} {head[2]}"
            out.append(f"add table {table}")
        elif not table:
            out.append(line)
        elif head[0] == "set" and line.endswith("{"):
            nset = head[1]
            out.append(f"add set {table} {nset} {{ type ipv4_addr; flags timeout; timeout 1h; }}")
        elif nset:
            if head[0] == "elements":
                elements = [e.strip().split()[0] for e in line.partition("{")[2].rstrip("} ").split(",") if e.strip()]
                out.append(f"add element {table} {nset} {{ {', '.join(elements)} }}")
        elif head[0] == "chain" and line.endswith("{"):
            chain = head[1]
            out.append(f"add chain {table} {chain}")
        elif chain and head[0] == "type":
            out[-1] += f" {{ {line} }}"
        elif chain:
            out.append(f"add rule {table} {chain} {line}")
    return out


_QUOTED_OR_SEMICOLON = re.compile(r"""'[^']*'?|"(?:[^"\\]+|\\.)*"?|\\.|;""", re.DOTALL)
"""A ``'...'`` or ``"..."`` string (unterminated: to the end; ``\\`` escapes the next character in double quotes),
a backslash-escaped character, or a ``;`` outside all of those."""


def _split_statements(line: str) -> list[str]:
    """Split a bash line on ``;`` outside quotes."""
    parts: list[str] = []
    start = 0
    for match in _QUOTED_OR_SEMICOLON.finditer(line):
        if match.group() == ";":
            parts.append(line[start:match.start()])
            start = match.end()
    parts.append(line[start:])
    return parts


def lab_router(scenario: str = "lab") -> LinuxRouter:
    """The router: phones .100/.101, a PC, a static printer at .240, an active scan of a phone."""
    r = LinuxRouter()
    leases = ("1764032400 00:04:f2:a1:b2:c3 192.168.88.100 phone1 01:00:04:f2:a1:b2:c3\n"
              "1764032410 80:5e:c0:11:22:33 192.168.88.101 SIP-T46S *\n"
              "1764032420 3c:22:fb:44:55:66 192.168.88.102 pc *\n")
    if scenario == "packaged":
        r.dnsmasq_args = ["/usr/sbin/dnsmasq", "-x", "/run/dnsmasq/dnsmasq.pid", "-u", "dnsmasq", "-7",
                          "/etc/dnsmasq.d,.dpkg-dist,.dpkg-old,.dpkg-new", "--local-service"]
        r.files["/etc/dnsmasq.conf"] = "# Configuration file for dnsmasq.\n#dhcp-range=192.168.0.50,192.168.0.150\n"
        r.files["/etc/dnsmasq.d/lan.conf"] = ("interface=br-lan\ndhcp-range=192.168.88.100,192.168.88.250,"
                                              "255.255.255.0,12h\ndhcp-hostsfile=/etc/dnsmasq.hosts\n"
                                              "dhcp-host=00:80:77:12:34:56,192.168.88.240,printer\n")
        r.files["/var/lib/misc/dnsmasq.leases"] = leases
    else:
        r.dnsmasq_args = ["dnsmasq", "--conf-file=/dev/null", "--port=0", "--interface=br-lan",
                          "--dhcp-range=192.168.88.100,192.168.88.250,12h",
                          "--dhcp-leasefile=/run/routerfix-lab/dnsmasq.leases",
                          "--dhcp-hostsfile=/etc/dnsmasq.hosts", "--pid-file=/run/routerfix-lab/dnsmasq.pid"]
        r.files["/run/routerfix-lab/dnsmasq.leases"] = leases
    if scenario == "no-hostsfile":
        r.dnsmasq_args = [a for a in r.dnsmasq_args if not a.startswith("--dhcp-hostsfile")]
        r.hostsfile = None
    else:
        r.files["/etc/dnsmasq.hosts"] = "00:11:22:33:44:55,192.168.88.120,nas\n"
    r.loaded_hosts = r.files.get("/etc/dnsmasq.hosts", "")
    if scenario in ("multi", "container"):
        # a container's dnsmasq (its own network namespace; its interface name exists on the host too)
        r.other_dnsmasq.append(Dnsmasq(2301, ["dnsmasq", "-k", "--interface=br-lan", "--dhcp-range=10.88.0.10,"
                                              "10.88.0.99,1h", "--dhcp-hostsfile=/etc/ctr.hosts"],
                                       "/etc/ctr.hosts", netns=4026532601))
        r.files["/etc/ctr.hosts"] = ""
    if scenario == "multi":
        # a guest LAN served by a second dnsmasq on this host, configured in its own file
        r.extra_addresses.append(("br-guest", "192.168.99.1/24"))
        r.other_dnsmasq.insert(0, Dnsmasq(1650, ["/usr/sbin/dnsmasq", "-C", "/etc/dnsmasq-guest.conf"],
                                          "/etc/dnsmasq-guest.hosts"))
        r.files["/etc/dnsmasq-guest.conf"] = ("interface=br-guest\nbind-interfaces\n"
                                             "dhcp-range=192.168.99.100,192.168.99.200,2h\n"
                                             "dhcp-hostsfile=/etc/dnsmasq-guest.hosts\n"
                                             "dhcp-leasefile=/var/lib/misc/dnsmasq-guest.leases\n")
        r.files["/etc/dnsmasq-guest.hosts"] = ""
        r.files["/var/lib/misc/dnsmasq-guest.leases"] = ""
    for other in r.other_dnsmasq:
        other.loaded_hosts = r.files.get(other.hostsfile or "", "")
    r.files["/etc/debian_version"] = "12.8\n"
    r.add_table("ip", "nat")
    r.nft("add chain ip nat prerouting { type nat hook prerouting priority dstnat; policy accept; }; "
          "add chain ip nat postrouting { type nat hook postrouting priority srcnat; policy accept; }; "
          'add rule ip nat postrouting oifname "wan0" masquerade')
    if scenario == "pbx":
        r.nft('add rule ip nat prerouting iifname "wan0" udp dport 5060 dnat to 192.168.88.10 comment "pbx"')
    r.add_table("inet", "filter")
    r.nft("add chain inet filter forward { type filter hook forward priority filter; policy drop; }; "
          "add rule inet filter forward ct state established,related accept; "
          'add rule inet filter forward iifname "br-lan" oifname "wan0" accept')
    r.squatters = {"192.168.88.250": "a4:14:37:5c:a7:e1"}  # an IP camera set by hand to the top of the pool
    r.neighbours = [("192.168.88.100", "00:04:f2:a1:b2:c3", "REACHABLE"),
                    ("192.168.88.240", "00:80:77:12:34:56", "STALE"),
                    ("192.168.88.249", "", "FAILED"), ("203.0.113.1", "02:42:cb:00:71:01", "REACHABLE")]
    r.conntrack = [
        {"protocol": "udp", "src": "198.51.100.166", "dst": WAN_ADDR, "sport": "5060", "dport": "5060",
         "reply_src": "192.168.88.100", "reply_dst": "198.51.100.166", "reply_sport": "5060",
         "reply_dport": "5060"},
        {"protocol": "udp", "src": "192.168.88.100", "dst": "198.51.100.10", "sport": "5060", "dport": "5060",
         "reply_src": "198.51.100.10", "reply_dst": WAN_ADDR, "reply_sport": "5060", "reply_dport": "5060"},
        {"protocol": "udp", "src": "192.168.88.101", "dst": "198.51.100.166", "sport": "5060", "dport": "5060",
         "reply_src": "198.51.100.166", "reply_dst": WAN_ADDR, "reply_sport": "5060", "reply_dport": "5061"},
    ]
    return r


class LinuxShell(Shell):
    """bash as root on the simulated router (the subset of commands routerfix and an operator use)."""

    def __init__(self, username: str, router: LinuxRouter) -> None:
        super().__init__(username)
        self.router = router
        self.ps1 = f"{username}@{router.hostname}:~# "
        self.status = 0
        self.umask = 0o022
        self._budget: int | None = None
        """Commands this line may still run before it hangs up (:attr:`LinuxRouter.hangup`)."""

    def welcome(self) -> str:
        """Debian's MOTD (own words)."""
        return ("Linux router 6.1.0-26-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.112-1 x86_64\n\n"
                "Simulated by routerfix.\nLast login: Tue Nov 25 00:40:00 2026 from 192.168.88.102\n")

    def prompt(self) -> str:
        """``root@router:~# `` until PS1 is set."""
        return self.ps1

    def execute(self, line: str) -> str:
        """Run ``;``-separated statements with ``||``, redirections and ``$?``."""
        with self.router.lock:
            hangup = self.router.hangup
            if hangup is not None and hangup[0] in line:
                self.router.hangup, self._budget = None, hangup[1]
            out: list[str] = []
            for statement in _split_statements(line):
                if not statement.strip():
                    continue
                out.append(self._statement(statement))
                if self.closed:
                    break
            self._budget = None
            return "".join(out)

    def _statement(self, statement: str) -> str:
        try:
            words = split(statement)
        except ValueError:
            self.status = 2
            return "-bash: syntax error: unexpected end of file\n"
        pipeline: list[tuple[str, list[str]]] = [("", [])]
        for word in words:
            if word in ("||", "&&"):
                pipeline.append((word, []))
            else:
                pipeline[-1][1].append(word)
        out = ""
        for op, words_i in pipeline:  # an AND-OR list, left to right (L48)
            if (op == "||" and self.status == 0) or (op == "&&" and self.status != 0):
                continue
            if self._budget is not None:
                if self._budget <= 0:  # hung up (LinuxRouter.hangup): the session ends here
                    self.closed, self._budget = True, None
                    return out
                self._budget -= 1
            # $? is the status of the command before this one, expanded as this one runs (L1)
            out += self._simple([word.replace("$?", str(self.status)) for word in words_i])
        return out

    def _simple(self, words: list[str]) -> str:
        stdin = ""
        append_to: str | None = None
        write_to: str | None = None
        quiet_err = False
        merged = False
        args: list[str] = []
        i = 0
        while i < len(words):
            w = words[i]
            if w in (">>", ">") and i + 1 < len(words):
                if w == ">>":
                    append_to = words[i + 1]
                else:
                    write_to = words[i + 1]
                i += 2
                continue
            if w == "<" and i + 1 < len(words):
                path = words[i + 1]
                stdin = self._read_proc(path) if path.startswith("/proc/") else self.router.files.get(path, "")
                i += 2
                continue
            if w == "2>/dev/null":
                quiet_err = True
            elif w == "2>&1":
                merged = True
            elif w == ">/dev/null":
                write_to = "/dev/null"
            else:
                args.extend(self._glob(w))
            i += 1
        del merged
        if not args:
            self.status = 0
            return ""
        stdout, stderr, self.status = self._program(args, stdin)
        if write_to is not None or append_to is not None:
            target = write_to or append_to or ""
            if target != "/dev/null":
                if target not in self.router.files:  # a new file: 0666 & ~umask (L49)
                    self.router.modes[target] = 0o666 & ~self.umask
                self.router.files[target] = (self.router.files.get(target, "") if append_to else "") + stdout
            stdout = ""
        return stdout + ("" if quiet_err else stderr)

    def _glob(self, word: str) -> list[str]:
        if "*" not in word:
            return [word]
        matches = sorted(p for p in self.router.files if fnmatch.fnmatch(p, word))
        return matches or [word]

    def _read_proc(self, path: str) -> str:
        match = re.fullmatch(r"/proc/(\d+)/cmdline", path)
        if match and int(match.group(1)) == self.router.dnsmasq_pid:
            return "\0".join(self.router.dnsmasq_args) + "\0"
        other = next((d for d in self.router.other_dnsmasq if match and d.pid == int(match.group(1))), None)
        return "" if other is None else "\0".join(other.args) + "\0"

    def _readlink(self, path: str) -> tuple[str, str, int]:
        """``readlink /proc/<pid>/ns/net`` (and ``/proc/self/ns/net``): ``net:[<inode>]`` (L13)."""
        match = re.fullmatch(r"/proc/(self|\d+)/ns/net", path)
        if match is None:
            return "", "", 1
        r = self.router
        key = match.group(1)
        if key == "self" or (key.isdigit() and int(key) == r.dnsmasq_pid):
            return f"net:[{NETNS}]\n", "", 0
        other = next((d for d in r.other_dnsmasq if str(d.pid) == key), None)
        return (f"net:[{other.netns}]\n", "", 0) if other is not None else ("", "", 1)

    def _program(self, args: list[str], stdin: str) -> tuple[str, str, int]:
        name, rest = args[0], args[1:]
        r = self.router
        if name in ("exit", "logout"):
            self.closed = True
            return "logout\n", "", 0
        if name in (":", "true"):
            return "", "", 0
        if name == "export":
            for item in rest:
                key, _, value = item.partition("=")
                if key == "PS1":
                    self.ps1 = value
            return "", "", 0
        if name == "echo":
            return " ".join(rest) + "\n", "", 0
        if name == "printf":
            if not rest:
                return "", "printf: usage: printf [-v var] format [arguments]\n", 2
            fmt, values = rest[0].replace("\\n", "\n"), rest[1:] or [""]
            return "".join(fmt.replace("%s", v) for v in values), "", 0
        if name == "uname":
            return f"{r.hostname} {r.kernel}\n" if rest == ["-nr"] else "Linux\n", "", 0
        if name == "hostname":
            return f"{r.hostname}\n", "", 0
        if name == "pidof":
            pids = [d.pid for d in r.other_dnsmasq] + ([r.dnsmasq_pid] if r.dnsmasq_pid else [])
            return (" ".join(map(str, pids)) + "\n", "", 0) if rest == ["dnsmasq"] and pids else ("", "", 1)
        if name == "readlink" and len(rest) == 1:
            return self._readlink(rest[0])
        if name == "tr":
            if rest == ["\\0", "\\n"]:
                return stdin.replace("\0", "\n"), "", 0
            return stdin, "", 0
        if name == "cat":
            out, err, status = "", "", 0
            for path in rest:
                if path in r.files:
                    out += r.files[path]
                elif path.startswith("/proc/"):
                    out += self._read_proc(path)
                else:
                    err += f"cat: {path}: No such file or directory\n"
                    status = 1
            return out, err, status
        if name == "kill":
            if len(rest) == 2 and rest[0] == "-HUP" and rest[1].isdigit() and r.hup(int(rest[1])):
                return "", "", 0
            return "", f"-bash: kill: ({rest[-1] if rest else ''}) - No such process\n", 1
        if name == "sed" and len(rest) == 3 and rest[0] == "-i":
            program, path = rest[1], rest[2]
            match = re.fullmatch(r"/(.*)/d", program)
            if match is None or path not in r.files:
                return "", f"sed: can't read {path}: No such file or directory\n", 2
            pattern = match.group(1).replace("\\(", "(").replace("\\)", ")").replace("\\?", "?")
            lines = r.files[path].split("\n")
            kept = [line for line in lines if not re.search(pattern, line)]
            r.files[path] = "\n".join(kept)
            return "", "", 0
        if name == "command" and rest[:1] == ["-v"]:
            builtins = {"echo", "printf", "kill", "exit", "export", "command", ":", "true"}
            found = [n if n in builtins else r.tools()[n] for n in rest[1:] if n in builtins or n in r.tools()]
            return "".join(f + "\n" for f in found), "", 0 if found else 1
        if name == "arping" and "arping" in r.tools():
            return self._arping(rest, "habets" if r.arping == "habets" else "iputils")
        if name == "busybox" and "busybox" in r.tools():
            if not rest:
                return "BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.\n", "", 0
            if rest[0] == "arping":
                return self._arping(rest[1:], "busybox")
            return "", f"{rest[0]}: applet not found\n", 127
        if name == "ip":
            return self._ip(rest)
        plain = self._plain_files(name, rest)
        if plain is not None:
            return plain
        if name == "cp" and len(rest) == 2:
            if rest[0] not in r.files:
                return "", f"cp: cannot stat '{rest[0]}': No such file or directory\n", 1
            r.files[rest[1]] = r.files[rest[0]]
            return "", "", 0
        if name == "test" and len(rest) == 2 and rest[0] == "-d":
            return "", "", 0 if rest[1].rstrip("/") == "/run/systemd/system" and r.systemd and r.systemd_init else 1
        if name == "systemd-run" and r.systemd and not r.systemd_init:
            return "", ("System has not been booted with systemd as init system (PID 1). Can't operate.\n"
                        "Failed to connect to bus: Host is down\n"), 1
        if name == "systemd-run" and r.systemd:
            return self._systemd_run(rest)
        if name == "systemctl" and r.systemd and rest[:2] == ["is-active", "--quiet"] and len(rest) == 3:
            return "", "", 0 if rest[2].endswith(".timer") and rest[2].removesuffix(".timer") in r.timers else 3
        if name == "systemctl" and r.systemd and rest[:1] == ["stop"] and len(rest) == 2:
            unit = rest[1].removesuffix(".timer")
            if unit in r.timers and rest[1].endswith(".timer"):
                del r.timers[unit]
                return "", "", 0
            return "", f"Failed to stop {rest[1]}: Unit {rest[1]} not loaded.\n", 5
        if name == "nft" and rest[:2] == ["-c", "-f"] and len(rest) == 3:  # check only, nothing applied (L52)
            with r.lock:
                saved = [t.copy() for t in r.tables], r.next_handle
                try:
                    return self._program(["nft", "-f", rest[2]], stdin)
                finally:
                    r.tables, r.next_handle = saved
        if name == "nft" and rest[:1] == ["-f"] and len(rest) == 2:
            if rest[1] not in r.files:
                return "", f"Error: Could not open file \"{rest[1]}\": No such file or directory\n", 1
            try:
                return r.load_ruleset(r.files[rest[1]]), "", 0
            except NftError as exc:
                return "", f"{exc}\n", 1
        if name == "nft":
            return self._nft(rest)
        if name == "conntrack":
            return self._conntrack(rest)
        captured = _capture.program(r, name, rest)
        if captured is not None:
            return captured
        return "", f"-bash: {name}: command not found\n", 127

    def _plain_files(self, name: str, rest: list[str]) -> tuple[str, str, int] | None:
        """``umask``, ``chmod``, ``mkdir -p``, ``head -c N``, ``mv -f``, ``rm -f`` on :attr:`LinuxRouter.files`
        (L48-L50); None for any other command."""
        r = self.router
        if name == "umask" and len(rest) == 1 and re.fullmatch(r"[0-7]{3,4}", rest[0]):
            self.umask = int(rest[0], 8)
            return "", "", 0
        if name == "chmod" and len(rest) == 2 and re.fullmatch(r"[0-7]{3,4}", rest[0]):
            if rest[1] not in r.files:
                return "", f"chmod: cannot access '{rest[1]}': No such file or directory\n", 1
            r.modes[rest[1]] = int(rest[0], 8)
            return "", "", 0
        if name == "mkdir" and rest[:1] == ["-p"]:
            return "", "", 0
        if name == "head" and len(rest) == 3 and rest[0] == "-c" and rest[1].isdigit():
            if rest[2] not in r.files:
                return "", f"head: cannot open '{rest[2]}' for reading: No such file or directory\n", 1
            return r.files[rest[2]][: int(rest[1])], "", 0
        if name == "mv" and rest[:1] == ["-f"] and len(rest) == 3:
            if rest[1] not in r.files:
                return "", f"mv: cannot stat '{rest[1]}': No such file or directory\n", 1
            r.files[rest[2]] = r.files.pop(rest[1])
            r.modes[rest[2]] = r.modes.pop(rest[1], 0o644)
            return "", "", 0
        if name == "rm" and rest[:1] == ["-f"]:
            for path in rest[1:]:
                r.files.pop(path, None)
                r.modes.pop(path, None)
            return "", "", 0
        return None

    def _systemd_run(self, rest: list[str]) -> tuple[str, str, int]:
        """``systemd-run --unit=<u> --on-active=<seconds> /bin/sh -c <script>``: a transient timer (L38)."""
        r = self.router
        opts = {k: v for k, _, v in (a.partition("=") for a in rest if a.startswith("--"))}
        command = [a for a in rest if not a.startswith("--")]
        unit, delay = opts.get("--unit", ""), opts.get("--on-active", "")
        if not unit or not delay.isdigit() or command[:2] != ["/bin/sh", "-c"] or len(command) != 3:
            return "", "systemd-run: this simulator runs only --unit= --on-active=<s> /bin/sh -c <script>\n", 1
        if unit in r.timers:
            return "", (f"Failed to start transient timer unit: Unit {unit}.timer was already loaded or has a "
                        f"fragment file.\n"), 1
        r.timers[unit] = (r.clock + int(delay), command[2])
        return "", f"Running timer as unit: {unit}.timer\nWill run service as unit: {unit}.service\n", 0

    def _arping(self, rest: list[str], flavour: str) -> tuple[str, str, int]:
        """``arping`` (iputils or Habets) or ``busybox arping``: see the module docstring."""
        flags: set[str] = set()
        values: dict[str, str] = {}
        targets: list[str] = []
        i = 0
        while i < len(rest):
            word = rest[i]
            if word.startswith("-") and len(word) > 1:
                for j, ch in enumerate(word[1:]):
                    if ch in "cwIsi":
                        value = word[j + 2:] or (rest[i + 1] if i + 1 < len(rest) else "")
                        if not word[j + 2:]:
                            i += 1
                        values[ch] = value
                        break
                    if ch not in "bfDUAqd0":
                        return "", f"arping: invalid option -- '{ch}'\n", 2 if flavour == "iputils" else 1
                    flags.add(ch)
            else:
                targets.append(word)
            i += 1
        if len(targets) != 1:
            return "", "Usage: arping [-fqbDUA] [-c CNT] [-w TIMEOUT] [-I IFACE] [-s SRC_IP] DST_IP\n", 2
        target = targets[0]
        try:
            count = int(values.get("c", "0"))
            wait = int(values.get("w", "0"))
        except ValueError:
            return "", "arping: invalid argument\n", 2
        device = values.get("I") or ("eth0" if flavour == "busybox" else
                                     WAN if target.startswith("203.0.113.") else LAN)
        if flavour == "habets":
            return self._habets(target, device, count or 1)
        dad, quiet = "D" in flags, "q" in flags
        if device not in (LAN, WAN, "lo"):
            if flavour == "busybox":
                return "", f"arping: interface {device} not found: No such device\n", 2
            return "", f"arping: Device {device} not available.\n", 2
        if device == "lo":
            if flavour == "busybox":
                return "", "arping: interface lo is not ARPable\n", 0 if dad else 2
            return ("" if quiet else 'Interface "lo" is not ARPable\n'), "", 0 if dad else 2
        if not re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", target) or any(int(p) > 255 for p in target.split(".")):
            if flavour == "busybox":
                return "", f"arping: bad address '{target}'\n", 2
            return "", f"arping: {target}: Name or service not known\n", 2
        source = "0.0.0.0" if dad else (WAN_ADDR if device == WAN else "192.168.88.1")  # noqa: S104 - DAD sender
        mac = self.router.host_mac(target, device)
        probes = count or wait or 1
        if mac is not None and (dad or "f" in flags):
            sent, received = 1, 1
        else:
            sent, received = probes, probes if mac is not None else 0
        out: list[str] = []
        if not quiet:
            out.append(f"ARPING {target} from {source} {device}")
            for n in range(received):
                if flavour == "busybox":
                    out.append(f"Unicast reply from {target} [{mac}] 0.{10 + n:03d}ms")
                else:
                    out.append(f"Unicast reply from {target} [{(mac or '').upper()}]  0.{731 + n:03d}ms")
            if flavour == "busybox":
                out.append(f"Sent {sent} probe(s) (0 broadcast(s))")
                out.append(f"Received {received} response(s) (0 request(s), 0 broadcast(s))")
            else:
                out.append(f"Sent {sent} probes ({1 if received else sent} broadcast(s))")
                out.append(f"Received {received} response(s)")
        status = (1 if received else 0) if dad else (0 if received else 1)
        return "".join(line + "\n" for line in out), "", status

    def _habets(self, target: str, device: str, count: int) -> tuple[str, str, int]:
        """Thomas Habets' arping with ``-D`` (Cisco-style dots; exit 0 when something answered)."""
        if device not in (LAN, WAN):
            return "", f"arping: libnet_init(LIBNET_LINK, {device}): {device}: SIOCGIFHWADDR: No such device\n", 1
        mac = self.router.host_mac(target, device)
        marks = ("!" if mac else ".") * count
        loss = 0 if mac else 100
        return f"{marks}\t{loss:3d}% packet loss (0 extra)\n", "", 0 if mac else 1

    def _ip(self, rest: list[str]) -> tuple[str, str, int]:
        if rest == ["-4", "-o", "addr", "show"]:
            return ("1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
                    f"2: {WAN}    inet {WAN_ADDR}/24 brd 203.0.113.255 scope global {WAN}\\       valid_lft forever "
                    "preferred_lft forever\n"
                    f"4: {LAN}    inet 192.168.88.1/24 brd 192.168.88.255 scope global {LAN}\\       valid_lft "
                    "forever preferred_lft forever\n"
                    + "".join(f"{5 + n}: {name}    inet {addr} scope global {name}\\       valid_lft forever "
                              "preferred_lft forever\n" for n, (name, addr) in enumerate(self.router.extra_addresses))
                    ), "", 0
        if rest == ["-4", "route", "show", "default"]:
            return f"default via 203.0.113.1 dev {WAN} onlink \n", "", 0
        if rest[:3] == ["-4", "neigh", "show"]:
            lines = []
            for addr, mac, state in self.router.neighbours:
                dev = WAN if addr.startswith("203.") else LAN
                lines.append(f"{addr} dev {dev} lladdr {mac} {state}" if mac else f"{addr} dev {dev} {state}")
            return "".join(line + "\n" for line in lines), "", 0
        return "", 'Object "' + (rest[0] if rest else "") + '" is unknown, try "ip help".\n', 1

    def _nft(self, rest: list[str]) -> tuple[str, str, int]:
        r = self.router
        as_json = bool(rest) and rest[0] == "-j"
        if as_json:
            rest = rest[1:]
        try:
            if rest[:2] == ["list", "ruleset"]:
                return (r.render_json() if as_json else r.render()) + ("\n" if as_json else ""), "", 0
            if rest[:2] == ["list", "table"] and len(rest) == 4:
                table = r.table(rest[2], rest[3])
                if table is None:
                    raise NftError(f"Error: No such file or directory\nlist table {rest[2]} {rest[3]}")
                return (r.render_json([table]) + "\n" if as_json else r.render([table])), "", 0
            if len(rest) == 1:
                return r.nft(rest[0]), "", 0
            return r.nft(" ".join(rest)), "", 0
        except NftError as exc:
            return "", f"{exc}\n", 1

    def _conntrack(self, rest: list[str]) -> tuple[str, str, int]:
        r = self.router
        opts: dict[str, str] = {}
        action = ""
        i = 0
        while i < len(rest):
            if rest[i] in ("-D", "-L"):
                action = rest[i]
                i += 1
            elif rest[i] in ("-p", "--orig-dst", "--orig-port-dst", "-d", "--dport") and i + 1 < len(rest):
                opts[rest[i]] = rest[i + 1]
                i += 2
            else:
                return "", f"conntrack v1.4.7 (conntrack-tools): Unknown option `{rest[i]}'\n", 2
        proto = opts.get("-p", "")
        dst = opts.get("--orig-dst") or opts.get("-d", "")
        port = opts.get("--orig-port-dst") or opts.get("--dport")
        if action == "-L":
            shown = [e for e in r.conntrack if (not proto or e["protocol"] == proto)]
            lines = "".join(r.conntrack_line(e) + "\n" for e in shown)
            return lines, f"conntrack v1.4.7 (conntrack-tools): {len(shown)} flow entries have been shown.\n", 0
        if action != "-D" or not proto or not dst:
            return "", "conntrack v1.4.7 (conntrack-tools): missing arguments\n", 2
        deleted = r.delete_conntrack(proto, dst, port)
        lines = "".join(r.conntrack_line(e) + "\n" for e in deleted)
        summary = f"conntrack v1.4.7 (conntrack-tools): {len(deleted)} flow entries have been deleted.\n"
        return lines, summary, 0 if deleted else 1


@contextmanager
def simulate(scenario: str = "lab", password: str = "lx-sim-pass",  # noqa: S107 - the simulator's account
             host: SSHSimulatorHost | None = None,
             latency: float = 0.0, router: LinuxRouter | None = None, arping: str | None = None,
             squatters: dict[str, str] | None = None, **knobs: Any) -> Iterator[SimulatedDevice]:
    """Serve the simulated Debian router on 127.0.0.1 (user ``root``). ``handle.model`` is the
    :class:`LinuxRouter`. Scenarios: ``lab`` (dnsmasq configured on its command line), ``packaged``
    (``/etc/dnsmasq.conf`` + ``/etc/dnsmasq.d``), ``pbx`` (a forward of 5060 to a PBX), ``no-hostsfile``,
    ``container`` (plus a container's dnsmasq in another network namespace), ``multi`` (plus that and a guest LAN
    ``br-guest`` with its own dnsmasq).
    ``arping`` ("iputils", "busybox", "both", "habets", "none") and ``squatters`` (address → MAC of static hosts,
    replacing the scenario's) change the LAN's ARP side."""
    state = router or lab_router(scenario)
    if arping is not None:
        if arping not in ("iputils", "busybox", "both", "habets", "none"):
            raise ValueError(f"arping={arping!r}: 'iputils', 'busybox', 'both', 'habets' or 'none'")
        state.arping = arping
    if squatters is not None:
        state.squatters = dict(squatters)
    with serve_device(host, "linux-router", lambda username: LinuxShell(username, state), username="root",
                      password=password, knobs=Knobs(latency=latency, **knobs),
                      server_version="OpenSSH_9.2p1 Debian-2", kex_algs=KEX_ALGS,
                      encryption_algs=OPENSSH_CIPHERS) as device:
        device.model = state
        yield simulated_device(device, "linux", f"Debian 12 router, nftables + dnsmasq (simulated, {scenario})")
