"""A stateful model of an OpenWrt 23.05 root shell (no network), following the table docs/facts/openwrt.md: a
tiny BusyBox ash (``;``, ``&&``, ``||``, ``$?``; row 31) running ``uci`` with the real tool's argument rules (rows
1-15: one package per package command, one tuple per section command, usage + exit 255 otherwise, staged changes
until ``uci commit``), fw4 reloads (20), ``ifstatus`` (27), ``conntrack`` (28-29) and the files the driver reads.
Rows the table marks inferred are modelled as inferred there (staged changes live in ``/tmp`` and die at reboot;
the running firewall is the committed configuration at the last reload). The self-revert job (rows 34-37):
``mkdir -p``, ``cp`` of ``/etc/config/<package>`` to and from a directory, ``start-stop-daemon -S -b -m -p <pid>
-x /bin/sh -- -c 'sleep N && <script>'`` (the job runs in *simulated* time: ``router.advance()``,
``router.fire_revert()``; it outlives the session), ``start-stop-daemon -K -p <pid>`` and ``rm -f``. Plain files
(rows 38, 39, 43, 44: the undo marker): ``umask``, ``chmod``, ``printf '%s' … >file`` (a new file 0666 & ~umask),
``mv -f``, ``rm -f``, ``head -c N``; a reboot keeps those on flash and loses ``/tmp`` and ``/var``.
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from dataclasses import dataclass, field, replace

from routerfix.words import split, split_operators

from .._hosts.ssh import Shell
from . import capture as _capture

__all__ = ["OpenWrtRouter", "OpenWrtSession", "Section", "Flow"]

BANNER = """BusyBox v1.36.1 (2024-03-22 22:09:21 UTC) built-in shell (ash)

  _______                     ________        __
 |       |.-----.-----.-----.|  |  |  |.----.|  |_
 |   -   ||  _  |  -__|     ||  |  |  ||   _||   _|
 |_______||   __|_____|__|__||________||__|  |____|
          |__| W I R E L E S S   F R E E D O M
 -----------------------------------------------------
 OpenWrt 23.05.3, r23809-234f1a2efa
 -----------------------------------------------------
"""


@dataclass
class Section:
    """One UCI section."""

    id: str
    type: str
    anonymous: bool
    options: dict[str, str | list[str]] = field(default_factory=dict)


@dataclass
class Flow:
    """A connection-tracking entry (original direction)."""

    protocol: str
    src: str
    dst: str
    dport: int


def _copy_package(sections: list[Section]) -> list[Section]:
    """An independent copy of a package: its own sections, option dicts and list values (the rest are strings)."""
    return [replace(s, options={k: list(v) if isinstance(v, list) else v for k, v in s.options.items()})
            for s in sections]


_REDIRECT = re.compile(r">[^>&].*")
"""A word sending standard output to a file (``>file``)."""
_ANY_REDIRECT = re.compile(r"\d?>.*")
"""Any redirection word (``>file``, ``2>/dev/null``, ``>&2``)."""


def _anon_id(kind: str, index: int) -> str:
    return f"cfg{index & 0xff:02x}{zlib.crc32(f'{kind}{index}'.encode()) & 0xffff:04x}"


def _build(text: str) -> list[Section]:
    sections: list[Section] = []
    counter = 0
    for line in text.strip().split("\n"):
        words = split(line)
        if words[0] == "config":
            counter += 1
            named = len(words) == 3
            sections.append(Section(words[2] if named else _anon_id(words[1], counter), words[1], not named))
        elif words[0] == "option":
            sections[-1].options[words[1]] = words[2]
        elif words[0] == "list":
            value = sections[-1].options.setdefault(words[1], [])
            assert isinstance(value, list)
            value.append(words[2])
    return sections


_NETWORK = """
config interface 'loopback'
option device 'lo'
option proto 'static'
option ipaddr '127.0.0.1'
option netmask '255.0.0.0'
config globals 'globals'
option ula_prefix 'fd3c:5a1b:9e2f::/48'
config device
option name 'br-lan'
option type 'bridge'
list ports 'lan1'
list ports 'lan2'
config interface 'lan'
option device 'br-lan'
option proto 'static'
option ipaddr '192.168.1.1'
option netmask '255.255.255.0'
config interface 'wan'
option device 'wan'
option proto 'dhcp'
"""

_DHCP = """
config dnsmasq
option domainneeded '1'
option localise_queries '1'
option local '/lan/'
option domain 'lan'
option authoritative '1'
option leasefile '/tmp/dhcp.leases'
config dhcp 'lan'
option interface 'lan'
option start '100'
option limit '150'
option leasetime '12h'
config dhcp 'wan'
option interface 'wan'
option ignore '1'
config host
option name 'printer'
option mac '00:80:77:12:34:56'
option ip '192.168.1.150'
"""

_FIREWALL = """
config defaults
option input 'REJECT'
option output 'ACCEPT'
option forward 'REJECT'
option synflood_protect '1'
config zone
option name 'lan'
list network 'lan'
option input 'ACCEPT'
option output 'ACCEPT'
option forward 'ACCEPT'
config zone
option name 'wan'
list network 'wan'
option input 'REJECT'
option output 'ACCEPT'
option forward 'REJECT'
option masq '1'
option mtu_fix '1'
config forwarding
option src 'lan'
option dest 'wan'
config rule
option name 'Allow-DHCP-Renew'
option src 'wan'
option proto 'udp'
option dest_port '68'
option target 'ACCEPT'
config redirect
option name 'NAS https'
option target 'DNAT'
option src 'wan'
option src_dport '8443'
option dest 'lan'
option dest_ip '192.168.1.20'
option dest_port '443'
option proto 'tcp'
"""


_TOOLS = {"uci": "/sbin/uci", "ip": "/sbin/ip", "ping": "/bin/ping", "fw4": "/sbin/fw4"}


@dataclass
class OpenWrtRouter:
    """One simulated OpenWrt device: committed and staged UCI packages, leases, neighbours, conntrack."""

    committed: dict[str, list[Section]] = field(default_factory=lambda: {
        "network": _build(_NETWORK), "dhcp": _build(_DHCP), "firewall": _build(_FIREWALL)})
    staged: dict[str, list[Section]] = field(default_factory=dict)
    changes: dict[str, list[str]] = field(default_factory=dict)
    hostname: str = "OpenWrt"
    model: str = "Xiaomi Mi Router 4A Gigabit Edition"
    leases: list[tuple[int, str, str, str]] = field(default_factory=lambda: [
        (1764000000, "00:04:f2:a1:b2:c3", "192.168.1.100", "Polycom-VVX450"),
        (1764000100, "80:5e:c0:11:22:33", "192.168.1.101", "SIP-T46S"),
        (1764000200, "3c:22:fb:44:55:66", "192.168.1.102", "*")])
    neigh: dict[str, str] = field(default_factory=lambda: {
        "192.168.1.100": "00:04:f2:a1:b2:c3", "192.168.1.150": "00:80:77:12:34:56",
        "192.168.1.20": "00:11:32:00:aa:01"})
    answering: set[str] = field(default_factory=lambda: {"192.168.1.249"})
    """Addresses that answer ``ping`` although no table lists them (a static host)."""
    wan_ip: str = "203.0.113.11"
    sip_module: bool = True
    """kmod-nf-nathelper-extra installed (``nf_conntrack_sip`` in ``/proc/modules``)."""
    has_conntrack: bool = True
    """The ``conntrack`` tool is installed."""
    conntrack: list[Flow] = field(default_factory=list)
    active_firewall: list[Section] = field(default_factory=list)
    """The firewall configuration loaded at the last reload (what fw4 enforces)."""
    reloads: dict[str, int] = field(default_factory=dict)
    usage_errors: list[str] = field(default_factory=list)
    """``uci`` command lines answered with the usage text (a wrong argument count): a real router refuses them."""
    counter: int = 100
    clock: float = 0.0
    """Simulated seconds (advanced by tests, never by the wall clock)."""
    copies: dict[str, list[Section]] = field(default_factory=dict)
    """Files ``cp`` made of ``/etc/config/<package>`` (path → the package as committed then)."""
    capture: _capture.CaptureState = field(default_factory=lambda: _capture.CaptureState(installed=False))
    """tcpdump and its savefiles (``routerfix diagnose --capture``, :mod:`.capture`): not installed on stock."""
    job: tuple[float, str, str] | None = None
    """The background job ``start-stop-daemon -S`` started: (when its ``sleep`` ends, the rest, pid file)."""
    reverts: int = 0
    """How many times a background job's sleep ended and its script ran."""
    disk: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Plain files the shell wrote (path → (text, mode)): ``printf … >file``, ``mv``, ``rm -f``, ``head -c``
    (rows 38, 39, 43, 44). Those under ``/tmp`` and ``/var`` (RAM) are lost at :meth:`reboot`; the rest is on flash."""
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        if not self.active_firewall:
            self.active_firewall = _copy_package(self.committed["firewall"])
        if not self.conntrack:
            self.conntrack = [Flow("udp", "198.51.100.23", self.wan_ip, 5060),
                              Flow("udp", "198.51.100.24", self.wan_ip, 5060),
                              Flow("udp", "192.168.1.100", "192.0.2.80", 5060)]

    def view(self, package: str) -> list[Section] | None:
        """The package as ``uci`` shows it (staged changes applied)."""
        return self.staged.get(package, self.committed.get(package))

    def writable(self, package: str) -> list[Section]:
        """The staged copy of a package, created on first change."""
        if package not in self.staged:
            self.staged[package] = _copy_package(self.committed[package])
        return self.staged[package]

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass; a job whose ``sleep`` ends runs the rest of its script."""
        with self.lock:
            self.clock += seconds
            if self.job is not None and self.clock >= self.job[0]:
                self.fire_revert()

    def fire_revert(self) -> None:
        """The background job's ``sleep`` ends now (if one runs): the rest of its script runs."""
        with self.lock:
            if self.job is None:
                return
            _, script, _ = self.job
            self.job = None
            self.reverts += 1
            OpenWrtSession(self).execute(script)

    def reboot(self) -> None:
        """Power-cycle: staged (``/tmp``) changes are lost; the firewall loads the committed configuration."""
        with self.lock:
            self.staged.clear()
            self.changes.clear()
            self.disk = {k: v for k, v in self.disk.items() if not k.startswith(("/tmp/", "/var/"))}  # noqa: S108
            self.active_firewall = _copy_package(self.committed["firewall"])

    def files(self) -> dict[str, str]:
        """The files ``cat``/``grep`` can read."""
        modules = "nf_conntrack 135168 12 nf_nat, Live 0x0000000000000000\n"
        if self.sip_module:
            modules += ("nf_conntrack_sip 28672 1 nf_nat_sip, Live 0x0000000000000000\n"
                        "nf_nat_sip 12288 0 - Live 0x0000000000000000\n")
        release = ("DISTRIB_ID='OpenWrt'\nDISTRIB_RELEASE='23.05.3'\nDISTRIB_REVISION='r23809-234f1a2efa'\n"
                   "DISTRIB_TARGET='ramips/mt7621'\nDISTRIB_ARCH='mipsel_24kc'\n"
                   "DISTRIB_DESCRIPTION='OpenWrt 23.05.3 r23809-234f1a2efa'\nDISTRIB_TAINTS=''\n")
        return {
            "/etc/openwrt_release": release,
            "/tmp/sysinfo/model": self.model + "\n",  # noqa: S108 - a simulated file name
            "/tmp/dhcp.leases": "".join(f"{e} {m} {ip} {h} 01:{m}\n" for e, m, ip, h in self.leases),  # noqa: S108
            "/proc/modules": modules,
        }


UCI_OPTIONS = frozenset("LmnNqsSX")
"""``uci`` getopt flags without an argument (openwrt.md)."""
UCI_OPTIONS_WITH_ARG = frozenset("cCdfpPt")
"""``uci`` getopt flags taking an argument (openwrt.md)."""
USAGE = ("Usage: uci [<options>] <command> [<arguments>]\n\nCommands:\n"
         "\tbatch\n\texport     [<config>]\n\timport     [<config>]\n\tchanges    [<config>]\n"
         "\tcommit     [<config>]\n\tadd        <config> <section-type>\n"
         "\tadd_list   <config>.<section>.<option>=<string>\n\tdel_list   <config>.<section>.<option>=<string>\n"
         "\tshow       [<config>[.<section>[.<option>]]]\n\tget        <config>.<section>[.<option>]\n"
         "\tset        <config>.<section>[.<option>]=<value>\n"
         "\tdelete     <config>[.<section>[[.<option>][=<id>]]]\n"
         "\trename     <config>.<section>[.<option>]=<name>\n\trevert     <config>[.<section>[.<option>]]\n"
         "\treorder    <config>.<section>=<position>\n\n")
"""The head of ``uci``'s usage text: one line per command with the arguments it takes (openwrt.md)."""


def _q(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


class OpenWrtSession(Shell):
    """One root login: a tiny ash running ``uci`` and friends."""

    def __init__(self, router: OpenWrtRouter, username: str = "root") -> None:
        super().__init__(username)
        self.router = router
        self.status = 0
        self.umask = 0o022

    def welcome(self) -> str:
        """The Dropbear banner (``/etc/banner``)."""
        return BANNER

    def prompt(self) -> str:
        """``root@OpenWrt:~# ``."""
        return f"root@{self.router.hostname}:~# "

    # --- the shell ----------------------------------------------------------------------------------

    def execute(self, line: str) -> str:
        """Run one command line (``;``, ``&&``, ``||`` lists)."""
        try:
            tokens = split_operators(line)
        except ValueError:
            self.status = 2
            return "-ash: syntax error: unterminated quoted string\n"
        out: list[str] = []
        command: list[str] = []
        op = ";"
        with self.router.lock:
            for token in [*tokens, ";"]:
                if token in (";", "&&", "||", "&", "|"):
                    if command:
                        if (op == "&&" and self.status != 0) or (op == "||" and self.status == 0):
                            pass
                        else:
                            out.append(self._run(command))
                    command = []
                    op = token
                    continue
                status = str(self.status)
                command.append(status if token == "$?" else token.replace("$?", status))  # noqa: S105
        return "".join(out)

    def _run(self, words: list[str]) -> str:
        target = next((w[1:] for w in words if _REDIRECT.fullmatch(w)), None)
        quiet = "2>/dev/null" in words
        words = [w for w in words if not _ANY_REDIRECT.fullmatch(w)]
        if not words:
            return ""
        out = self._program(words)
        if target is not None and self.status == 0:  # a new file 0666 & ~umask; truncating keeps the mode (row 43)
            kept = self.router.disk.get(target)
            self.router.disk[target] = (out, kept[1] if kept is not None else 0o666 & ~self.umask)
            return ""
        return "" if quiet and self.status != 0 else out

    def _files(self, words: list[str]) -> str | None:
        """``umask``, ``head -c``, ``mv -f``, ``rm -f`` on the plain files of :attr:`OpenWrtRouter.disk` (rows
        38, 39, 43, 44); None for any other command."""
        name, args = words[0], words[1:]
        disk = self.router.disk
        if name == "umask" and len(args) == 1 and re.fullmatch(r"[0-7]{3,4}", args[0]):
            self.umask = int(args[0], 8)
            return ""
        if name == "chmod" and len(args) == 2 and re.fullmatch(r"[0-7]{3,4}", args[0]):
            if args[1] not in disk:
                self.status = 1
                return f"chmod: {args[1]}: No such file or directory\n"
            disk[args[1]] = (disk[args[1]][0], int(args[0], 8))
            return ""
        if name == "head" and len(args) == 3 and args[0] == "-c" and args[1].isdigit():
            if args[2] not in disk:
                self.status = 1
                return f"head: {args[2]}: No such file or directory\n"
            return disk[args[2]][0][: int(args[1])]
        if name == "mv" and args[:1] == ["-f"] and len(args) == 3:
            if args[1] not in disk:
                self.status = 1
                return f"mv: can't rename '{args[1]}': No such file or directory\n"
            disk[args[2]] = disk.pop(args[1])
            return ""
        if name == "rm" and args[:1] == ["-f"]:
            for path in args[1:]:
                disk.pop(path, None)
            return ""
        return None

    def _program(self, words: list[str]) -> str:
        name, args = words[0], words[1:]
        self.status = 0
        r = self.router
        handled = self._files(words)
        if handled is not None:
            return handled
        if name == "printf" and args:
            return "".join(args[0].replace("\\n", "\n").replace("%s", v) for v in args[1:] or [""])
        if name == "echo":
            return " ".join(args) + "\n"
        if name == "exit":
            self.closed = True
            return ""
        if name in ("true", ":"):
            return ""
        if name == "false":
            self.status = 1
            return ""
        captured = _capture.program(r, name, args)
        if captured is not None:
            self.status = captured[1]
            return captured[0]
        if name == "cat":
            files = r.files()
            missing = [a for a in args if a not in files]
            if missing:
                self.status = 1
                return f"cat: can't open '{missing[0]}': No such file or directory\n"
            return "".join(files[a] for a in args)
        if name == "grep" and len(args) == 2:
            text = r.files().get(args[1])
            if text is None:
                self.status = 2
                return f"grep: {args[1]}: No such file or directory\n"
            hits = [x for x in text.split("\n") if re.search(args[0], x)]
            self.status = 0 if hits else 1
            return "".join(h + "\n" for h in hits)
        if name == "command" and args[:1] == ["-v"] and len(args) > 2:
            text, self.status = _capture.command_v(r, args[1:], _TOOLS)
            return text
        if name == "command" and args[:1] == ["-v"] and len(args) == 2:
            tools = dict(_TOOLS)
            if r.has_conntrack:
                tools["conntrack"] = "/usr/sbin/conntrack"
            if args[1] in tools:
                return tools[args[1]] + "\n"
            self.status = 1
            return ""
        if name == "uci":
            out = self._uci(args)
            if out is USAGE:
                r.usage_errors.append(" ".join(words))
            return out
        if name == "ip" and args[:1] == ["neigh"]:
            rows = [f"{ip} dev br-lan lladdr {mac} REACHABLE" for ip, mac in r.neigh.items()]
            rows.append("192.168.1.240 dev br-lan  FAILED")
            rows.append(f"{r.wan_ip.rsplit('.', 1)[0]}.1 dev wan lladdr 00:00:5e:00:01:01 REACHABLE")
            return "\n".join(rows) + "\n"
        if name == "ifstatus":
            if not args:
                self.status = 1
                return "Usage: /sbin/ifstatus <interface>\n"
            if args[0] not in ("lan", "wan", "loopback"):
                self.status = 1
                return f"Interface {args[0]} not found\n"
            if args[0] != "wan":
                return json.dumps({"up": True, "l3_device": "br-lan" if args[0] == "lan" else "lo"}) + "\n"
            return json.dumps({"up": True, "l3_device": "wan", "proto": "dhcp",
                               "ipv4-address": [{"address": r.wan_ip, "mask": 24}]}, indent="\t") + "\n"
        if name in ("/etc/init.d/firewall", "fw4") and args[:1] in (["reload"], ["restart"]):
            r.active_firewall = _copy_package(r.committed["firewall"])
            r.reloads["firewall"] = r.reloads.get("firewall", 0) + 1
            return ""
        if name == "/etc/init.d/dnsmasq" and args[:1] in (["reload"], ["restart"]):
            r.reloads["dnsmasq"] = r.reloads.get("dnsmasq", 0) + 1
            return ""
        if name == "mkdir" and args[:1] == ["-p"]:
            return ""
        if name == "rm" and args[:1] == ["-f"]:
            return ""
        if name == "cp" and len(args) >= 2:
            return self._cp(args[:-1], args[-1])
        if name == "start-stop-daemon":
            return self._daemon(args)
        if name == "conntrack" and r.has_conntrack:
            return self._conntrack(args)
        if name == "ping" and args:
            target = args[-1]
            ok = target in r.answering or target in r.neigh or any(x[2] == target for x in r.leases)
            self.status = 0 if ok else 1
            reply = f"64 bytes from {target}: seq=0 ttl=64 time=0.612 ms\n" if ok else ""
            return (f"PING {target} ({target}): 56 data bytes\n{reply}\n--- {target} ping statistics ---\n"
                    f"1 packets transmitted, {1 if ok else 0} packets received, {0 if ok else 100}% packet loss\n")
        self.status = 127
        return f"-ash: {name}: not found\n"

    def _cp(self, sources: list[str], dest: str) -> str:
        r = self.router
        for source in sources:
            package = source.rsplit("/", 1)[-1]
            if source.startswith("/etc/config/") and package in r.committed and dest.endswith("/"):
                r.copies[dest + package] = _copy_package(r.committed[package])
            elif source in r.copies and dest in ("/etc/config/", "/etc/config"):
                r.committed[package] = _copy_package(r.copies[source])
            else:
                self.status = 1
                return f"cp: can't stat '{source}': No such file or directory\n"
        return ""

    def _daemon(self, args: list[str]) -> str:
        """``-S -b -m -p <pid> -x /bin/sh -- -c 'sleep N && …'`` starts the job; ``-K -p <pid>`` stops it."""
        r = self.router
        pidfile = args[args.index("-p") + 1] if "-p" in args and args.index("-p") + 1 < len(args) else ""
        if "-K" in args:
            if r.job is not None and r.job[2] == pidfile:
                r.job = None
                return ""
            self.status = 1
            return "no /bin/sh found; none killed\n"
        if "-S" in args and "-b" in args and "--" in args:
            rest = args[args.index("--") + 1:]
            m = re.fullmatch(r"sleep (\d+) && (.+)", rest[1], re.DOTALL) if rest[:1] == ["-c"] and len(rest) == 2 \
                else None
            if m is None:
                self.status = 1
                return "start-stop-daemon: unsupported job in this simulator\n"
            if r.job is not None and r.job[2] == pidfile:
                self.status = 1
                return "/bin/sh is already running\n"
            r.job = (r.clock + int(m.group(1)), m.group(2), pidfile)
            return ""
        self.status = 1
        return "start-stop-daemon: need at least one of -S or -K\n"

    def _conntrack(self, args: list[str]) -> str:
        r = self.router
        opts = {args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("-")}
        if "--dport" in args and ("-p" not in args or args.index("-p") > args.index("--dport")):
            self.status = 2  # a protocol option needs its protocol first (docs/facts/openwrt.md row 28)
            return "conntrack v1.4.8 (conntrack-tools): unknown option `--dport'\n"
        if "-D" not in args:
            self.status = 1
            return "conntrack v1.4.8 (conntrack-tools): unsupported in this simulator\n"
        keep, gone = [], 0
        for flow in r.conntrack:
            if (opts.get("-p") in (None, flow.protocol)) and (opts.get("--orig-dst") in (None, flow.dst)) and \
                    (opts.get("--dport") in (None, str(flow.dport))):
                gone += 1
            else:
                keep.append(flow)
        r.conntrack = keep
        self.status = 0 if gone else 1
        return f"conntrack v1.4.8 (conntrack-tools): {gone} flow entries have been deleted.\n"

    # --- uci -------------------------------------------------------------------------------------------

    def _fail(self, message: str = "Entry not found") -> str:
        self.status = 1
        return f"uci: {message}\n"

    def _resolve(self, package: str, ref: str, sections: list[Section]) -> Section | None:
        m = re.fullmatch(r"@(\w+)\[(-?\d+)\]", ref)
        if m:
            typed = [s for s in sections if s.type == m.group(1)]
            index = int(m.group(2))
            return typed[index] if -len(typed) <= index < len(typed) else None
        return next((s for s in sections if s.id == ref), None)

    def _usage(self, status: int) -> str:
        """``uci``'s usage text (stderr, merged on the terminal) with ``status`` (openwrt.md: uci argument rules)."""
        self.status = status
        return USAGE

    def _uci(self, argv: list[str]) -> str:
        """``uci`` with cli.c's argument rules (openwrt.md): getopt options, then one command whose argument
        count is checked before anything is looked up; a wrong count prints the usage and exits 255."""
        show_ids = False
        args = list(argv)
        while args and args[0].startswith("-") and len(args[0]) > 1:
            flag, args = args[0], args[1:]
            letter = flag[1]
            if letter in UCI_OPTIONS_WITH_ARG:
                if len(flag) == 2:
                    if not args:
                        return self._usage(0)
                    args = args[1:]
            elif letter in UCI_OPTIONS:
                show_ids = show_ids or "X" in flag
            else:
                return self._usage(0)  # getopt's default branch: usage, exit 0
        if not args:
            return self._usage(0)
        verb, rest = args[0].lower(), args[1:]
        if verb in ("show", "export", "changes", "commit"):
            if len(rest) > 1:
                return self._usage(255)
            return self._package_command(verb, rest[0] if rest else None, show_ids)
        if verb == "add":
            if len(rest) != 2:
                return self._usage(255)
            return self._add(*rest)
        if verb in ("get", "set", "delete", "del", "rename", "ren", "revert", "reorder", "add_list", "del_list"):
            if len(rest) != 1:
                return self._usage(255)
            return self._section_command({"del": "delete", "ren": "rename"}.get(verb, verb), rest[0])
        if verb == "help":
            return self._usage(0)
        if verb in ("batch", "import"):
            return self._fail("not modelled by this simulator")
        return self._usage(255)

    def _package_command(self, verb: str, package: str | None, show_ids: bool) -> str:
        r = self.router
        if package is not None and not re.fullmatch(r"[\w-]+", package):
            return self._fail("not modelled by this simulator (package-level only)")
        packages = [package] if package is not None else sorted(r.committed)
        if any(p not in r.committed for p in packages):
            return self._fail()
        if verb == "show":
            return "".join(self._show(p, show_ids) for p in packages)
        if verb == "export":
            return "".join(self._export(p) for p in packages)
        if verb == "changes":
            return "".join(c + "\n" for p in packages for c in r.changes.get(p, []))
        for p in packages:  # commit
            if p in r.staged:
                r.committed[p] = r.staged[p]
            r.staged.pop(p, None)
            r.changes.pop(p, None)
        return ""

    def _add(self, package: str, kind: str) -> str:
        r = self.router
        if package not in r.committed:
            return self._fail()
        r.counter += 1
        sid = _anon_id(kind, r.counter)
        r.writable(package).append(Section(sid, kind, True))
        r.changes.setdefault(package, []).append(f"{package}.{sid}={_q(kind)}")
        return sid + "\n"

    def _section_command(self, verb: str, tuple_: str) -> str:
        r = self.router
        m = re.fullmatch(r"([\w-]+)(?:\.([\w@\[\]-]+)(?:\.([\w-]+))?)?(?:=(.*))?", tuple_, re.S)
        if m is None:
            return self._fail("Invalid argument")
        package, ref, option, value = m.groups()
        if package not in r.committed:
            return self._fail()
        if value is not None and verb in ("get", "revert"):
            self.status = 1  # cli.c: a value where none is taken ends the command silently with 1
            return ""
        if verb == "revert":
            if ref is not None:
                return self._fail("not modelled by this simulator (package-level revert only)")
            r.staged.pop(package, None)
            r.changes.pop(package, None)
            return ""
        if ref is None:
            return self._fail("Invalid argument")
        sections = r.view(package) or []
        section = self._resolve(package, ref, sections)
        if verb == "get":
            if section is None or (option and option not in section.options):
                return self._fail()
            if not option:
                return section.type + "\n"
            got = section.options[option]
            return (" ".join(got) if isinstance(got, list) else got) + "\n"
        if verb not in ("set", "add_list", "delete", "reorder"):
            return self._fail("not modelled by this simulator")
        sections = r.writable(package)
        section = self._resolve(package, ref, sections)
        log = r.changes.setdefault(package, [])
        if verb == "set" and option is None:
            if value is None or not re.fullmatch(r"\w+", value):
                return self._fail("Invalid argument")
            if section is None:
                if ref.startswith("@"):
                    return self._fail()
                sections.append(Section(ref, value, False))
            else:
                section.type = value
            log.append(f"{package}.{ref}={_q(value)}")
            return ""
        if section is None:
            return self._fail()
        if verb == "reorder":
            if option is not None or value is None or not value.lstrip("-").isdigit():
                return self._fail("Invalid argument")
            sections.remove(section)
            sections.insert(max(0, int(value)), section)
            log.append(f"{package}.{section.id}={value}")
            return ""
        if verb == "delete":
            if option is None:
                sections.remove(section)
            elif option in section.options:
                del section.options[option]
            else:
                return self._fail()
            log.append(f"-{package}.{ref}" + (f".{option}" if option else ""))
            return ""
        if option is None or value is None:
            return self._fail("Invalid argument")
        if verb == "add_list":
            current = section.options.get(option)
            section.options[option] = [*(current if isinstance(current, list) else
                                         [current] if current else []), value]
            log.append(f"{package}.{ref}.{option}+={_q(value)}")
        else:
            section.options[option] = value
            log.append(f"{package}.{ref}.{option}={_q(value)}")
        return ""

    def _name(self, package: str, section: Section, sections: list[Section], show_ids: bool) -> str:
        if show_ids or not section.anonymous:
            return section.id
        index = [s for s in sections if s.type == section.type].index(section)
        return f"@{section.type}[{index}]"

    def _show(self, package: str, show_ids: bool) -> str:
        sections = self.router.view(package) or []
        out = []
        for s in sections:
            name = self._name(package, s, sections, show_ids)
            out.append(f"{package}.{name}={s.type}")
            for key, value in s.options.items():
                shown = " ".join(_q(v) for v in value) if isinstance(value, list) else _q(value)
                out.append(f"{package}.{name}.{key}={shown}")
        return "".join(line + "\n" for line in out)

    def _export(self, package: str) -> str:
        out = [f"package {package}", ""]
        for s in self.router.view(package) or []:
            out.append(f"config {s.type}" + ("" if s.anonymous else f" {_q(s.id)}"))
            for key, value in s.options.items():
                for v in value if isinstance(value, list) else [value]:
                    out.append(f"\t{'list' if isinstance(value, list) else 'option'} {key} {_q(v)}")
            out.append("")
        return "\n".join(out) + "\n"
