"""A stateful model of the Cisco IOS / IOS-XE command line (no network): a router holding its running and
startup configuration, and sessions that turn one input line into output and a new prompt.

Follows the fact table ``docs/facts/cisco_ios.md`` (rows cited as F<n>): prompts and modes (F1-F4), paging
(F5), the enable dialogue with its re-prompt, ``% Bad secrets`` and ``% No password set`` (F6-F9), refusal texts
(F10), typed-ahead lines running on after a refusal in whatever mode it left (F11), an unknown EXEC word looked
up as a host name (F12), ``write memory`` (F13), running/startup layout (F14-F15), NVGEN order (F18), static NAT,
its clash refusal, SIP service lines and the marker ACL (F21-F25), DHCP pools and bindings (F26-F30), ARP, ping
and show version (F31-F34), the confirmed-change revert timer (F35-F39: ``configure terminal revert timer N``
needs ``archive`` + ``path``, ``configure confirm`` stops it; it runs in simulated time: ``router.advance()``,
``router.fire_revert()``), and for the undo marker's ACL (F40-F43): a remark cut at 100 characters, the saved
configuration as what a reload (``router.reload()``) brings back; with ``acl_sequence``, named ACL lines printed
with sequence numbers (F44). The inferred rows are marked there.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from .._hosts.ssh import Shell

__all__ = ["IosRouter", "IosSession", "Binding"]

_IP = r"\d{1,3}(?:\.\d{1,3}){3}"
_MAC_DOTTED = r"[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}"


@dataclass
class Binding:
    """A dynamic DHCP binding (``Automatic``)."""

    address: str
    client_id: str
    expires: str = "Mar 02 2031 10:21 AM"


Entry = list[Any]  # [line: str, children: list[str]]

_RANKS: tuple[tuple[str, float], ...] = (
    (r"version |service |no service ", 0), (r"hostname ", 1), (r"boot-|enable ", 2), (r"(no )?aaa ", 3),
    (r"ip dhcp excluded-address ", 4), (r"ip dhcp pool ", 5), (r"ip domain|ip name-server|no ip domain", 6),
    (r"username ", 7), (r"interface ", 8), (r"ip forward-protocol|ip http|no ip http", 9),
    (r"ip nat translation ", 10.0), (r"(no )?ip nat service ", 10.1), (r"ip nat inside source list ", 10.2),
    (r"ip nat |no ip nat ", 10.3), (r"ip route ", 11), (r"ip access-list ", 12), (r"access-list ", 13),
    (r"control-plane", 14), (r"line ", 15),
)


_SORTED = re.compile(r"no ip nat service sip (tcp|udp) port 5060|ip nat inside source static .+")
"""The running-config is generated (NVGEN), not a log of what was typed (F18, inferred order): the SIP service
lines and the static NAT lines each show in one order (here: sorted), whichever was configured first."""


_RANK_PATTERNS = tuple((re.compile(pattern), rank) for pattern, rank in _RANKS)


@functools.lru_cache(maxsize=4096)
def _rank(line: str) -> float:
    for pattern, rank in _RANK_PATTERNS:
        if pattern.match(line):
            return rank
    return 9


def _copy_config(config: list[Entry]) -> list[Entry]:
    """An independent copy of a configuration: its own entries and child lists (lines are strings)."""
    return [[line, list(children)] for line, children in config]


def _default_config() -> list[Entry]:
    lines = """version 15.7
service timestamps debug datetime msec
service timestamps log datetime msec
no service password-encryption
hostname R1
boot-start-marker
boot-end-marker
enable secret 9 $9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM
no aaa new-model
ip dhcp excluded-address 192.168.1.1 192.168.1.99
ip dhcp excluded-address 192.168.1.200 192.168.1.254
ip dhcp pool LAN
 network 192.168.1.0 255.255.255.0
 default-router 192.168.1.1
 dns-server 192.168.1.1
ip dhcp pool printer
 host 192.168.1.150 255.255.255.0
 hardware-address 0080.7712.3456
ip domain name office.example
username admin privilege 15 secret 9 $9$4k3ad0uBdUd6lE$RC.jqHXfCb0ua1X/0F2Jl8S8h0T.ZXYrJ3QKPvQvG2A
interface GigabitEthernet0/0
 description WAN
 ip address dhcp
 ip nat outside
 duplex auto
 speed auto
interface GigabitEthernet0/1
 description LAN
 ip address 192.168.1.1 255.255.255.0
 ip nat inside
 duplex auto
 speed auto
ip forward-protocol nd
no ip http server
ip nat inside source list 1 interface GigabitEthernet0/0 overload
ip nat inside source static tcp 192.168.1.20 443 interface GigabitEthernet0/0 8443
access-list 1 permit 192.168.1.0 0.0.0.255
archive
 path flash:archive
 maximum 5
line con 0
line vty 0 4
 login local
 transport input ssh"""
    entries: list[Entry] = []
    for raw in lines.split("\n"):
        if raw.startswith(" "):
            entries[-1][1].append(raw.strip())
        else:
            entries.append([raw, []])
    return entries


@dataclass
class IosRouter:
    """One simulated IOS router: configuration (running + startup), DHCP bindings, ARP, reachable hosts.

    :param xe: behave as IOS-XE (``show version`` and the 6-column ``show ip dhcp binding``).
    :param privilege: privilege level sessions start at (15: ``R1#``; 1: ``R1>``, ``enable`` needed).
    :param enable_secret: the ``enable`` password when ``privilege`` is 1.
    :param acl_sequence: print named ACL lines with sequence numbers, as IOS-XE releases that do (F44).
    """

    xe: bool = False
    acl_sequence: bool = False
    privilege: int = 15
    enable_secret: str | None = "enable-pw"  # noqa: S105 - a simulator default
    """None: no ``enable secret``/``enable password`` configured."""
    running: list[Entry] = field(default_factory=_default_config)
    startup: list[Entry] = field(default_factory=list)
    bindings: list[Binding] = field(default_factory=lambda: [
        Binding("192.168.1.100", "0100.04f2.a1b2.c3"), Binding("192.168.1.101", "0180.5ec0.1122.33"),
        Binding("192.168.1.102", "013c.22fb.4455.66", "Mar 03 2031 09:05 PM")])
    arp: dict[str, str] = field(default_factory=lambda: {
        "192.168.1.100": "0004.f2a1.b2c3", "192.168.1.150": "0080.7712.3456", "192.168.1.20": "0011.3200.aa01"})
    answering: set[str] = field(default_factory=lambda: {"192.168.1.199"})
    """Addresses that answer ``ping`` although no table lists them (a static host)."""
    refuse: dict[str, str] = field(default_factory=dict)
    """Test knob: configuration lines the device refuses (line → the error it prints instead of running it)."""
    history: list[tuple[str, str]] = field(default_factory=list, repr=False)
    """Every line run, with the mode it ran in (``exec``, ``config``, ``dhcp-config``...)."""
    clock: float = 0.0
    """Simulated seconds (advanced by tests, never by the wall clock)."""
    revert_deadline: float | None = None
    """When the armed revert timer rolls the running configuration back (None: none armed)."""
    revert_archive: list[Entry] | None = None
    """The running configuration archived when the timer was armed (what the rollback replaces it with)."""
    reverts: int = 0
    """How many times a revert timer ran out."""
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        if not self.startup:
            self.startup = _copy_config(self.running)

    # --- configuration helpers (also used by tests to inspect or seed state) -------------------------

    @property
    def hostname(self) -> str:
        """The configured host name."""
        for line, _ in self.running:
            if line.startswith("hostname "):
                return str(line.split()[1])
        return "Router"

    def find(self, line: str) -> Entry | None:
        """The top-level entry whose line is ``line``."""
        return next((e for e in self.running if e[0] == line), None)

    def add(self, line: str) -> Entry:
        """Add a top-level line (or return the existing one) at its place in IOS order."""
        found = self.find(line)
        if found is not None:
            return found
        entry: Entry = [line, []]
        rank = _rank(line)
        index = len(self.running)
        for i, (other, _) in enumerate(self.running):
            if _rank(other) > rank or (_rank(other) == rank and _SORTED.fullmatch(line) and _SORTED.fullmatch(other)
                                       and other > line):
                index = i
                break
        self.running.insert(index, entry)
        return entry

    def remove(self, line: str) -> bool:
        """Remove a top-level entry; False when absent."""
        found = self.find(line)
        if found is None:
            return False
        self.running.remove(found)
        return True

    def lines(self) -> list[str]:
        """Top-level lines (no children)."""
        return [str(e[0]) for e in self.running]

    def render(self, config: list[Entry] | None = None) -> str:
        """``show running-config`` text."""
        config = self.running if config is None else config
        body: list[str] = ["!"]
        previous = -1
        for line, children in config:
            rank = int(_rank(line))  # no "!" between the ip nat lines (their sub-ranks order them)
            if children or rank != previous or line.startswith(("interface ", "line ")):
                if body[-1] != "!":
                    body.append("!")
            body.append(line)
            shown = _numbered(children) if self.acl_sequence and line.startswith("ip access-list ") else children
            body += [" " + c for c in shown]
            previous = rank if not children else -1
        body += ["!", "end"]
        text = "\n".join(body)
        return f"Building configuration...\n\nCurrent configuration : {len(text) + 1} bytes\n{text}\n"

    def has_archive_path(self) -> bool:
        """``archive`` with a ``path`` line: what ``configure terminal revert`` needs (F36)."""
        return any(line == "archive" and any(c.startswith("path ") for c in children)
                   for line, children in self.running)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass; an armed revert timer that runs out rolls back."""
        with self.lock:
            self.clock += seconds
            if self.revert_deadline is not None and self.clock >= self.revert_deadline:
                self.fire_revert()

    def fire_revert(self) -> None:
        """The revert timer ends now (if armed): the running configuration is replaced by the archived one (F37)."""
        with self.lock:
            if self.revert_deadline is None or self.revert_archive is None:
                return
            self.running = _copy_config(self.revert_archive)
            self.revert_deadline, self.revert_archive = None, None
            self.reverts += 1

    def reload(self) -> None:
        """Power-cycle: the running configuration becomes the startup configuration."""
        with self.lock:
            self.running = _copy_config(self.startup)

    def pool_bindings(self) -> list[tuple[str, str, str, str]]:
        """(address, client id/hardware address, expiry, type) rows for ``show ip dhcp binding``."""
        rows = [(b.address, b.client_id, b.expires, "Automatic") for b in self.bindings]
        for line, children in self.running:
            if not line.startswith("ip dhcp pool "):
                continue
            host = next((c.split()[1] for c in children if c.startswith("host ")), None)
            hw = next((c.split()[1] for c in children if c.startswith(("hardware-address ", "client-identifier "))),
                      None)
            if host and hw:
                rows.append((host, hw, "Infinite", "Manual"))
        return sorted(rows, key=lambda r: ipaddress.IPv4Address(r[0]))


_GLOBAL_WORDS = ("hostname", "ip", "interface", "access-list", "username", "enable", "service", "line", "no",
                 "end", "exit", "do", "router", "boot-start-marker", "boot-end-marker", "version", "control-plane")
_EXEC_WORDS = ("show", "configure", "terminal", "write", "copy", "ping", "enable", "disable", "exit", "logout",
               "clear", "reload")


class IosSession(Shell):
    """One login on an :class:`IosRouter`: mode, paging, and the line → output function."""

    def __init__(self, router: IosRouter, username: str = "admin") -> None:
        super().__init__(username)
        self.router = router
        self.mode = "exec"
        self.privilege = router.privilege
        self.block: Entry | None = None
        self.block_line = ""
        self.length = 24
        self.width = 80
        self.closed = False
        self.awaiting_password = False
        self.enable_tries = 0
        self._more: list[str] = []

    # --- prompt -----------------------------------------------------------------------------

    def prompt(self) -> str:
        """The prompt the device shows now."""
        if self.awaiting_password:
            return "Password: "
        if self._more:
            return " --More-- "
        host = self.router.hostname
        suffix = {"exec": "#" if self.privilege == 15 else ">", "config": "(config)#", "config-if": "(config-if)#",
                  "dhcp-config": "(dhcp-config)#", "config-std-nacl": "(config-std-nacl)#",
                  "config-line": "(config-line)#"}[self.mode]
        return host + suffix

    # --- errors -------------------------------------------------------------------------------

    def _invalid(self, line: str, position: int) -> str:
        caret = " " * (len(self.prompt()) + position) + "^"
        return f"{caret}\n% Invalid input detected at '^' marker.\n"

    def _bad_word(self, line: str, known: tuple[str, ...]) -> str:
        word = line.split()[0]
        if word not in known:
            return self._invalid(line, line.index(word))
        parts = line.split()
        if len(parts) > 1:
            return self._invalid(line, line.index(parts[1], len(word)))
        return "% Incomplete command.\n\n"

    # --- paging ---------------------------------------------------------------------------------

    def _page(self, text: str) -> str:
        lines = text.split("\n")
        if text.endswith("\n"):
            lines = lines[:-1]
        if self.length == 0 or len(lines) < self.length:
            return text
        self._more = lines[self.length - 1:]
        return "\n".join(lines[: self.length - 1]) + "\n"

    def _continue(self, line: str) -> str:
        if line.strip().lower().startswith("q"):
            self._more = []
            return "\n"
        step = 1 if line == "" else self.length - 1
        shown, self._more = self._more[:step], self._more[step:]
        return "\n".join(shown) + "\n"

    # --- dispatcher -------------------------------------------------------------------------------

    def execute(self, line: str) -> str:
        """Run one input line and return what the device prints before its next prompt."""
        out = self._handle(line)
        self.echo = not self.awaiting_password  # the enable password is not echoed
        return out

    def _handle(self, raw: str) -> str:
        if self._more:
            return self._continue(raw)
        if self.awaiting_password:  # the secret is not echoed; Enter still moves to a new line (F6)
            if raw == self.router.enable_secret:
                self.awaiting_password = False
                self.privilege = 15
                return "\n"
            self.enable_tries += 1
            if self.enable_tries < 3:  # a wrong secret is answered with the Password: prompt again (F7)
                return "\n"
            self.awaiting_password = False  # the third wrong one: % Bad secrets, back at the > prompt (F7)
            return "\n% Bad secrets\n\n"
        line = " ".join(raw.split())
        if not line or line.startswith("!"):
            return ""
        with self.router.lock:
            self.router.history.append((self.mode, line))
            if self.mode != "exec" and line in self.router.refuse:
                return self.router.refuse[line]
            if self.mode == "exec":
                return self._exec(line)
            if line.startswith("do "):
                return self._exec(line[3:]) if self.privilege == 15 else self._invalid(line, 0)
            if line == "end":
                self.mode, self.block = "exec", None
                return ""
            if self.mode == "config":
                return self._global(line)
            return self._submode(line)

    # --- exec mode ------------------------------------------------------------------------------

    def _exec(self, line: str) -> str:
        words = line.split()
        r = self.router
        if words[0] in ("exit", "logout", "quit"):
            self.closed = True
            return ""
        if m := re.fullmatch(r"terminal (length|width) (\d+)", line):
            setattr(self, m.group(1), int(m.group(2)))
            return ""
        if line in ("terminal no monitor", "terminal monitor"):
            return ""
        if line == "enable":
            if self.privilege < 15:
                if self.router.enable_secret is None:  # no enable password configured: refused on a vty (F9)
                    return "% No password set\n"
                self.awaiting_password = True
                self.enable_tries = 0
            return ""
        if line == "disable":
            self.privilege = 1
            return ""
        if words[0] not in _EXEC_WORDS:
            if words[0].startswith("sh") or words[0].startswith("conf"):
                return self._invalid(line, 0)
            # an unknown word at the exec prompt is taken for a host name to connect to: a DNS lookup (F12)
            return (f'Translating "{words[0]}"...domain server (255.255.255.255)\n'
                    "% Unknown command or computer name, or unable to find computer address\n")
        if self.privilege < 15 and words[0] not in ("show", "ping", "terminal", "enable", "exit"):
            return self._invalid(line, 0)
        if line in ("configure terminal", "conf t", "configure"):
            if self.privilege < 15:
                return self._invalid(line, 0)
            self.mode = "config"
            return "Enter configuration commands, one per line.  End with CNTL/Z.\n"
        if m := re.fullmatch(r"configure terminal revert timer (\d+)", line):
            if not r.has_archive_path():  # F36 (text inferred)
                return "% Archive path not configured. Use 'path' command in archive config mode\n"
            if r.revert_deadline is not None:  # F38 (text inferred)
                return "% Rollback confirmed change is already in progress\n"
            r.revert_archive = _copy_config(r.running)
            r.revert_deadline = r.clock + 60 * int(m.group(1))
            self.mode = "config"
            return ("Rollback Confirmed Change: Backing up current running config to flash:rollback-1\n"
                    "Enter configuration commands, one per line.  End with CNTL/Z.\n")
        if line == "configure confirm":
            if r.revert_deadline is None:  # F38 (text inferred)
                return "% No Rollback Confirmed Change pending\n"
            r.revert_deadline, r.revert_archive = None, None
            return ""
        if line in ("write memory", "write", "wr", "copy running-config startup-config"):
            r.startup = _copy_config(r.running)
            return "Building configuration...\n[OK]\n"
        if m := re.fullmatch(rf"ping ({_IP})(?: repeat (\d+))?(?: timeout (\d+))?", line):
            count = int(m.group(2) or 5)
            target = m.group(1)
            ok = target in r.answering or target in r.arp or any(
                b.address == target for b in r.bindings)
            marks = ("!" if ok else ".") * count
            rate = 100 if ok else 0
            tail = ", round-trip min/avg/max = 1/1/2 ms" if ok else ""
            return (f"Type escape sequence to abort.\nSending {count}, 100-byte ICMP Echos to {target}, timeout is "
                    f"{m.group(3) or 2} seconds:\n{marks}\nSuccess rate is {rate} percent ({count if ok else 0}/"
                    f"{count}){tail}\n")
        if words[0] == "show":
            return self._show(line)
        return self._bad_word(line, _EXEC_WORDS)

    def _show(self, line: str) -> str:
        r = self.router
        command, _, filt = line.partition(" | ")
        if command in ("show running-config", "show run", "show running"):
            if self.privilege < 15:
                return self._invalid(line, 5)
            text = r.render()
        elif command == "show startup-config":
            text = r.render(r.startup).replace("Building configuration...\n\nCurrent", "Using 1834 out of "
                                                                                  "262136 bytes\n\nCurrent")
        elif command == "show ip dhcp binding":
            text = self._bindings()
        elif command == "show ip arp":
            text = self._arp()
        elif command == "show version":
            text = self._version()
        elif command == "show":
            return "% Incomplete command.\n\n"
        else:
            words = command.split()
            known = ("running-config", "startup-config", "ip", "version", "clock", "users", "nat", "translations",
                     "interface", "brief", "dhcp", "pool", "binding", "arp")
            bad = next((w for w in words[1:] if w not in known), words[-1])
            return self._invalid(line, line.index(bad, 5))
        if filt:
            m = re.fullmatch(r"(include|section|exclude) (.+)", filt)
            if not m:
                return self._invalid(line, len(command) + 3)
            kind, pattern = m.groups()
            try:
                regex = re.compile(pattern)
            except re.error:
                return "% Invalid regular expression\n"
            out: list[str] = []
            if kind == "section":
                keep = False
                for text_line in text.split("\n"):
                    if not text_line.startswith(" "):
                        keep = bool(regex.search(text_line))
                    if keep:
                        out.append(text_line)
            else:
                out = [t for t in text.split("\n") if bool(regex.search(t)) == (kind == "include")]
            text = "\n".join(t for t in out if t) + "\n"
        return self._page(text)

    def _bindings(self) -> str:
        r = self.router
        if r.xe:
            head = ("Bindings from all pools not associated with VRF:\n"
                    "IP address      Client-ID/              Lease expiration        Type       State      "
                    "Interface\n                Hardware address/\n                User name\n")
            rows = [f"{a:<16}{c:<24}{e:<24}{t:<11}{'Active':<11}{'GigabitEthernet0/1' if t != 'Manual' else 'Unknown'}"
                    for a, c, e, t in r.pool_bindings()]
        else:
            head = ("Bindings from all pools not associated with VRF:\n"
                    "IP address          Client-ID/              Lease expiration        Type\n"
                    "                    Hardware address/\n                    User name\n")
            rows = [f"{a:<20}{c:<24}{e:<24}{t}" for a, c, e, t in r.pool_bindings()]
        return head + "".join(row.rstrip() + "\n" for row in rows)

    def _arp(self) -> str:
        r = self.router
        rows = ["Protocol  Address          Age (min)  Hardware Addr   Type   Interface"]
        own: dict[str, str] = {}
        for line, children in r.running:
            if line.startswith("interface "):
                for c in children:
                    if m := re.fullmatch(rf"ip address ({_IP}) {_IP}", c):
                        own[m.group(1)] = line.split()[1]
        entries = [(a, "-", "0011.2233.44" + f"{i:02x}", iface) for i, (a, iface) in enumerate(own.items())]
        entries += [(a, str(3 + i), mac, "GigabitEthernet0/1") for i, (a, mac) in enumerate(r.arp.items())]
        for address, age, mac, iface in sorted(entries, key=lambda e: ipaddress.IPv4Address(e[0])):
            rows.append(f"Internet  {address:<17}{age:>8}   {mac}  ARPA   {iface}")
        return "\n".join(rows) + "\n"

    def _version(self) -> str:
        r = self.router
        host = r.hostname
        if r.xe:
            return ("Cisco IOS XE Software, Version 17.03.04a\n"
                    "Cisco IOS Software [Amsterdam], ISR Software (X86_64_LINUX_IOSD-UNIVERSALK9-M), Version 17.3.4a, "
                    "RELEASE SOFTWARE (fc3)\nTechnical Support: http://www.cisco.com/techsupport\n"
                    "Copyright (c) 1986-2021 by Cisco Systems, Inc.\n\n"
                    f"{host} uptime is 3 weeks, 2 days, 5 hours, 11 minutes\n"
                    "System image file is \"bootflash:isr4300-universalk9.17.03.04a.SPA.bin\"\n\n"
                    "cisco ISR4331/K9 (1RU) processor with 1795979K/6147K bytes of memory.\n"
                    "Processor board ID FDO21520TGH\n3 Gigabit Ethernet interfaces\n"
                    "Configuration register is 0x2102\n")
        return ("Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.7(3)M4, RELEASE SOFTWARE (fc1)\n"
                "Technical Support: http://www.cisco.com/techsupport\nCopyright (c) 1986-2018 by Cisco Systems, Inc.\n"
                "Compiled Thu 26-Jul-18 04:56 by prod_rel_team\n\n"
                "ROM: System Bootstrap, Version 15.0(1r)M16, RELEASE SOFTWARE (fc1)\n\n"
                f"{host} uptime is 2 weeks, 3 days, 4 hours, 5 minutes\nSystem returned to ROM by power-on\n"
                "System image file is \"flash0:c2900-universalk9-mz.SPA.157-3.M4.bin\"\n\n"
                "cisco CISCO2911/K9 (revision 1.0) with 491520K/32768K bytes of memory.\n"
                "Processor board ID FTX1234A0BC\n3 Gigabit Ethernet interfaces\nConfiguration register is 0x2102\n")

    # --- global configuration -------------------------------------------------------------------

    def _global(self, line: str) -> str:
        r = self.router
        negate = line.startswith("no ")
        body = line[3:] if negate else line
        offset = 3 if negate else 0
        if line == "exit":
            self.mode = "exec"
            return ""
        if m := re.fullmatch(r"hostname ([A-Za-z][A-Za-z0-9-]*)", body):
            for entry in list(r.running):
                if entry[0].startswith("hostname "):
                    r.running.remove(entry)
            if not negate:
                r.add(f"hostname {m.group(1)}")
            return ""
        if m := re.fullmatch(r"(ip dhcp pool|ip access-list standard|interface) (\S+)", body):
            kind = m.group(1)
            if kind == "interface" and r.find(body) is None:
                return self._invalid(line, offset + len("interface "))
            if negate:
                if kind == "interface":
                    return self._invalid(line, 0)
                if not r.remove(body):
                    return "%Pool " + m.group(2) + " not found\n" if kind == "ip dhcp pool" else ""
                return ""
            self.block = r.add(body)
            self.block_line = body
            self.mode = {"ip dhcp pool": "dhcp-config", "ip access-list standard": "config-std-nacl",
                         "interface": "config-if"}[kind]
            return ""
        if re.fullmatch(rf"ip dhcp excluded-address {_IP}(?: {_IP})?", body):
            if not all(_valid_ip(x) for x in body.split()[3:]):
                return self._invalid(line, offset + len("ip dhcp excluded-address "))
            if negate:
                r.remove(body)
            else:
                r.add(body)
            return ""
        if m := re.fullmatch(rf"ip nat inside source static (tcp|udp) ({_IP}) (\d+) (interface \S+|{_IP}) (\d+)"
                             r"( extendable)?", body):
            return self._static(line, body, negate, m)
        if m := re.fullmatch(rf"ip nat inside source static ({_IP}) ({_IP})", body):
            if negate:
                return "" if r.remove(body) else "% Translation not found\n"
            r.add(body)
            return ""
        if re.fullmatch(r"ip nat inside source list \S+ interface \S+ overload", body):
            if negate:
                r.remove(body)
            else:
                r.add(body)
            return ""
        if m := re.fullmatch(r"ip nat service sip (udp|tcp) port 5060", body):
            off = f"no {body}"
            if negate:
                r.add(off)
            else:
                r.remove(off)
            return ""
        if re.fullmatch(r"access-list \d+ (permit|deny) .+", body):
            if negate:
                number = body.split()[1]
                r.running = [e for e in r.running if not e[0].startswith(f"access-list {number} ")]
            else:
                r.add(body)
            return ""
        if re.fullmatch(r"ip nat .*", body):
            words = body.split()
            known = ("ip", "nat", "inside", "source", "static", "tcp", "udp", "list", "service", "sip", "port")
            bad = next((i for i, w in enumerate(words) if w not in known and not re.fullmatch(_IP, w)), len(words))
            if bad >= len(words):
                return "% Incomplete command.\n\n"
            position = offset + len(" ".join(words[:bad])) + (1 if bad else 0)
            return self._invalid(line, position)
        return self._bad_word(body, _GLOBAL_WORDS) if not negate else self._invalid(line, 3)

    def _static(self, line: str, body: str, negate: bool, m: re.Match[str]) -> str:
        r = self.router
        proto, local, lport, where, gport = m.group(1), m.group(2), int(m.group(3)), m.group(4), int(m.group(5))
        if not _valid_ip(local) or not 1 <= lport <= 65535 or not 1 <= gport <= 65535:
            return self._invalid(line, line.index(local))
        if where.startswith("interface ") and r.find(where) is None:
            return self._invalid(line, line.index(where) + len("interface "))
        plain = body.removesuffix(" extendable")
        existing = [e for e in r.running if e[0].removesuffix(" extendable") == plain]
        if negate:
            if not existing:
                return "% Translation not found\n"
            for e in existing:
                r.running.remove(e)
            return ""
        if existing:
            return ""
        for other in r.lines():
            o = re.fullmatch(rf"ip nat inside source static (tcp|udp) ({_IP}) (\d+) (interface \S+|{_IP}) (\d+).*",
                             other)
            if o and o.group(1) == proto and o.group(4) == where and int(o.group(5)) == gport:
                return (f"% similar static entry ({o.group(2)}:{o.group(3)} -> {where.split()[-1]}:{gport}) "
                        f"already exists\n")
        r.add(plain)
        return ""

    # --- sub-modes ------------------------------------------------------------------------------

    def _submode(self, line: str) -> str:
        if line == "exit":
            self.mode, self.block = "config", None
            return ""
        block = self.block
        assert block is not None
        children: list[str] = block[1]
        negate = line.startswith("no ")
        body = line[3:] if negate else line
        grammar = {
            "dhcp-config": (rf"network {_IP} (?:{_IP}|/\d+)", rf"default-router {_IP}(?: {_IP})*",
                            rf"dns-server {_IP}(?: {_IP})*", rf"host {_IP}(?: {_IP}|/\d+)?",
                            rf"hardware-address {_MAC_DOTTED}(?: ethernet)?", r"client-identifier [0-9a-f.]+",
                            r"lease .+", r"domain-name \S+"),
            "config-std-nacl": (r"remark .+", r"(?:\d+ )?(?:permit|deny) .+"),
            "config-if": (r"description .+", rf"ip address (?:dhcp|{_IP} {_IP})", r"ip nat (?:inside|outside)",
                          r"shutdown", r"duplex \S+", r"speed \S+", r"negotiation auto"),
        }[self.mode]
        if not any(re.fullmatch(p, body) for p in grammar):
            if negate and body.split()[0] in {p.split()[0] for p in grammar}:
                pass
            else:
                return self._invalid(line, (3 if negate else 0) + (len(body.split()[0]) + 1
                                                                    if len(body.split()) > 1 else 0))
        keyword = body.split()[0]
        if self.mode == "config-std-nacl":
            if keyword == "remark":
                body = "remark " + body[len("remark "):][:100]  # a longer remark is cut to 100 characters (F41)
            if negate:
                if body in children:
                    children.remove(body)
                return ""
            if body not in children:
                children.append(body)
            return ""
        if self.mode == "dhcp-config" and keyword == "host" and not negate:
            host = body.split()[1]
            if not _valid_ip(host):
                return self._invalid(line, line.index(host))
        if negate:
            block[1] = [c for c in children if c.split()[0] != keyword or
                        (keyword == "ip" and " ".join(c.split()[:2]) != " ".join(body.split()[:2]))]
            return ""
        if keyword == "ip":
            key = " ".join(body.split()[:2])
            block[1] = [c for c in children if " ".join(c.split()[:2]) != key or (key == "ip nat" and c == body)]
        else:
            block[1] = [c for c in children if c.split()[0] != keyword]
        block[1].append(body)
        return ""


def _numbered(lines: list[str]) -> list[str]:
    """An ACL's lines as releases that print sequence numbers show them (F44): each entry its number (the one typed,
    else 10 more than the last), each remark the number of the entry after it, remarks after the last entry the
    next number (one of the two recorded forms; the other prints them unnumbered, as without this knob)."""
    numbers: list[int | None] = []
    last = 0
    for line in lines:
        if line.startswith("remark "):
            numbers.append(None)
            continue
        typed = re.match(r"(\d+) ", line)
        last = int(typed.group(1)) if typed else last + 10
        numbers.append(last)
    out: list[str] = []
    following = last + 10
    for line, number in reversed(list(zip(lines, numbers, strict=True))):
        following = number if number is not None else following
        out.append(f"{following} " + re.sub(r"^\d+ ", "", line))
    return out[::-1]


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True
