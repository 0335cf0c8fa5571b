"""A stateful MikroTik RouterOS CLI (v6 or v7 layout) served over real SSH on 127.0.0.1.

Follows docs/facts/mikrotik.md (the M rows marked "simulator" or "both"), never the driver.

Stands for a hAP-class router with the default configuration (``defconf``): bridge LAN 192.168.88.1/24,
``WAN``/``LAN`` interface lists (M27), DHCP server ``defconf`` on pool ``default-dhcp``
(192.168.88.10-192.168.88.254), masquerade for ``out-interface-list=WAN``.

* Session: ``admin+ct511w4098h`` accepted and stripped (M1), prompt ``[admin@MikroTik] > `` and ``quit`` (M2), bare
  menu paths change the prompt (M3, inferred), ``;``-separated statements and ``:put`` (M5), optional
  interleaved log lines (M6, knob ``log_lines``), error texts (M7, M8), quoted strings with their escapes, an
  unescaped ``$`` as a variable (none defined: it stands for nothing) and an unescaped ``?`` as the help key (M43).
* Prints: terse rows in the v6 or v7 layout (M10-M12: unset properties left out, so a client-id-only static lease
  prints no ``mac-address``), flags (M13), legends only without ``terse`` (M14), numbers from the session's last
  print of the menu (M15), ``/system resource``/``identity`` pages (M16), ``/export`` (M17, M18).
* Leases: static leases with ``mac-address`` or ``client-id`` (M22), a second static lease on an address refused
  (M24), statuses (M25); ARP (M26).
* NAT: ``add ... place-before=`` (M30-M32), ``endpoint-independent-nat`` only on v7 (M33), ``set``/``enable``/
  ``disable`` by number or ``[find]`` (M34), an empty comment removes the comment (M19, inferred), service ports
  (M36), v6/v7 connection layouts (M38), ``connection remove`` (M39).
* Safe Mode: Ctrl-X takes it (``[Safe Mode taken]``, ``<SAFE>`` prompt) and releases it keeping the changes (M40);
  Ctrl-D, or a session that ends without ``quit`` (dropped, client killed), undoes every change made since it was
  taken (M41) — at once, or, with ``sees_drops`` false (a silently cut link), only when
  :meth:`RouterOSState.see_dropped` says the TCP timeout ran out, the dropped session holding Safe Mode until then
  (M82); another session asking gets the hijack question (M42). Each configuration change made while Safe
  Mode is held (an ``add``, ``remove``, ``set``, ``enable`` or ``disable`` of a configuration menu, from any session)
  is one history action (M45, inferred); the change that goes past ``history_limit`` (100, M42) puts the owner out
  of Safe Mode with every change kept, printing nothing (inferred: the prompt just loses ``<SAFE>``).
* Live capture (:mod:`.sniffer`): ``/tool sniffer`` print/set/start/stop, ``:delay``, ``/file print``/``remove``
  over a files directory that the SFTP subsystem serves, the ``sniff``/``ftp`` policies (M60-M71).
* Files (M72-M79): a ``flash`` directory listed when the state says so (``flash``, M73); ``/file add name=
  contents=`` from RouterOS 7.9 (M72), ``set <item> contents=``, ``remove [find ...]`` (nothing found: no error,
  M79); ``:foreach <var> in=[/<menu> find ...] do={...}`` over internal IDs (``*1f``) and ``:put [/file get <item>
  contents]`` (M76). A file command is one Safe Mode history action, undone with the rest (M78, inferred; knob
  ``safe_mode_undoes_files`` False: kept, the other reading of M78). Files live for the simulator's life (no reboot
  is modelled). A login without the ``ftp`` policy is refused every ``/file`` command but the listing (``print``)
  (M83, inferred, wording
  ``not enough permissions (9)`` inferred too); ``:do {...} on-error={...}`` runs the handler instead of stopping
  the line at an error (M83).

Own words: the banner text.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from routerfix.simulate import SimulatedDevice

from .._hosts.capture import CaptureScene
from .._hosts.ssh import Knobs, Shell, SSHSimulatorHost, serve_device, simulated_device
from .sniffer import NO_PERMISSION, SnifferState, delay, sniffer_command

__all__ = ["RouterOSError", "RouterOSShell", "RouterOSState", "simulate"]

SUFFIX_RE = re.compile(r"\+[a-z0-9]*$")
KEX_ALGS = ("diffie-hellman-group-exchange-sha256", "diffie-hellman-group-exchange-sha1", "diffie-hellman-group14-sha1",
            "diffie-hellman-group1-sha1")
"""Key exchanges the SSH server offers with ``strong-crypto=no`` (M84, inferred: finite-field Diffie-Hellman only)."""
CIPHERS = ("aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-cbc", "aes192-cbc", "aes256-cbc")
"""Ciphers the SSH server offers (M85, inferred, fail-safe: no AES-GCM, so a client never pays less per packet than
on the router)."""


class RouterOSError(Exception):
    """A RouterOS CLI error; its text is printed as the device prints it."""


@dataclass
class Item:
    """One entry of a menu."""

    id: int
    props: dict[str, str]
    disabled: bool = False
    dynamic: bool = False
    extra_flags: str = ""

    def copy(self) -> Item:
        """An independent copy: its own ``props`` (the other fields are immutable values)."""
        return replace(self, props=dict(self.props))


@dataclass(frozen=True)
class MenuSpec:
    """What a menu accepts and how it prints."""

    keys: tuple[str, ...]
    order: tuple[str, ...]
    writable: bool = True
    name_key: str | None = None
    flags: str = "XD"


_COUNTERS = ("orig-packets", "orig-bytes", "orig-fasttrack-packets", "orig-fasttrack-bytes", "repl-packets",
             "repl-bytes", "repl-fasttrack-packets", "repl-fasttrack-bytes", "orig-rate", "repl-rate")
"""Per-connection counters printed after ``timeout`` (M38: ``orig-bytes=47 603``, thousands grouped by a space)."""
_NAT_KEYS = ("chain", "action", "to-addresses", "to-ports", "protocol", "src-address", "dst-address",
             "dst-address-type", "in-interface", "in-interface-list", "out-interface", "out-interface-list",
             "src-port", "dst-port", "ipsec-policy", "randomise-ports", "log", "log-prefix", "comment")
MENUS: dict[str, MenuSpec] = {
    "ip firewall nat": MenuSpec(_NAT_KEYS, _NAT_KEYS),
    "ip firewall service-port": MenuSpec(("ports", "sip-direct-media", "sip-timeout"),
                                         ("name", "ports", "sip-direct-media", "sip-timeout"), name_key="name"),
    "ip firewall connection": MenuSpec((), ("protocol", "src-address", "src-port", "dst-address", "dst-port",
                                            "reply-src-address", "reply-src-port", "reply-dst-address",
                                            "reply-dst-port", "tcp-state", "timeout", *_COUNTERS)),
    "ip dhcp-server": MenuSpec(("name", "interface", "address-pool", "lease-time"),
                               ("name", "interface", "lease-time", "address-pool"), name_key="name"),
    "ip dhcp-server network": MenuSpec(("address", "gateway", "dns-server", "comment"),
                                       ("address", "gateway", "dns-server", "comment")),
    "ip dhcp-server lease": MenuSpec(("address", "mac-address", "server", "comment", "client-id", "host-name"),
                                     # M11: the order real devices print (learned host-name last)
                                     ("address", "mac-address", "client-id", "address-lists", "server",
                                      "dhcp-option", "status", "expires-after", "last-seen", "active-address",
                                      "active-mac-address", "active-client-id", "active-server", "host-name")),
    "ip pool": MenuSpec(("name", "ranges"), ("name", "ranges"), name_key="name"),
    "ip arp": MenuSpec(("address", "mac-address", "interface"), ("address", "mac-address", "interface", "published"),
                       flags="XDC"),
    "ip address": MenuSpec(("address", "network", "interface", "comment"), ("address", "network", "interface")),
    "interface list": MenuSpec(("name",), ("name",), name_key="name"),
    "interface list member": MenuSpec(("list", "interface"), ("list", "interface")),
    "file": MenuSpec((), ("name", "type", "size"), writable=False, name_key="name"),
}
_VALUE_CHECKS: dict[str, re.Pattern[str]] = {
    "to-addresses": re.compile(r"\d{1,3}(\.\d{1,3}){3}(-\d{1,3}(\.\d{1,3}){3})?"),
    "address": re.compile(r"\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?"),
    "mac-address": re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}"),
    "dst-port": re.compile(r"!?\d{1,5}(-\d{1,5})?(,\d{1,5}(-\d{1,5})?)*"),
    "to-ports": re.compile(r"\d{1,5}(-\d{1,5})?"),
    "protocol": re.compile(r"tcp|udp|icmp|gre|\d{1,3}"),
    "chain": re.compile(r"srcnat|dstnat|[A-Za-z0-9_-]+"),
    "action": re.compile(r"dst-nat|src-nat|masquerade|netmap|redirect|accept|passthrough|return|"
                         r"endpoint-independent-nat|jump|log|same"),
    "disabled": re.compile(r"yes|no"),
}
_FLAG_ORDER = "XIRHDBPC"
"""Legend order of item flags (M13, M14: ``X - disabled, I - invalid, H - DHCP, D - dynamic, P - published, C -
complete``; leases add R radius and B blocked, placed here by inference)."""
_CONNECTION_FLAGS = "ESACDFHsd"
"""Legend order of connection flags (M13: E expected, S seen-reply, A assured, C confirmed, D dying, F fasttrack,
H hw-offload, s srcnat, d dstnat)."""
_TREE = {"ip", "ip firewall", "ip dhcp-server", "interface", "system", "system resource", "system identity", "tool",
         "tool sniffer", *MENUS}
_VERBS = {"print", "add", "remove", "set", "export", "find", "enable", "disable", "start", "stop"}


@dataclass
class RouterOSState:
    """The router's configuration, shared by every session (persists across logins)."""

    version: str = "7.16.2"
    identity: str = "MikroTik"
    board: str = "hAP ac^2"
    menus: dict[str, list[Item]] = field(default_factory=dict)
    next_id: int = 1
    log_lines: bool = False
    """Interleave a log line (``hh:mm:ss echo: ...``) before print outputs (M6)."""
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    safe_owner: RouterOSShell | None = field(default=None, repr=False)
    """The session holding Safe Mode (M40), if any."""
    safe_snapshot: dict[str, list[Item]] | None = field(default=None, repr=False)
    safe_files: dict[str, bytes] = field(default_factory=dict, repr=False)
    """The small files as they were when Safe Mode was taken (M78: a file change is undone with the rest)."""
    """The menus as they were when Safe Mode was taken: what an abnormal end of the owner's session puts back
    (M41: every change made since, from any session, is undone)."""
    sniffer: SnifferState = field(default_factory=SnifferState)
    """``/tool sniffer``, the router's files and the login's policies (M60-M71, :mod:`.sniffer`)."""
    history_limit: int = 100
    """How many actions the history holds (M42): more changes than that in Safe Mode and it is left, keeping them."""
    safe_actions: int = 0
    """Configuration changes made since Safe Mode was taken (M45)."""
    safe_overflows: int = 0
    """How often Safe Mode was left because the history was full (tests)."""
    flash: bool = True
    """The file list has a ``flash`` directory (M73): files outside it would not survive a reboot."""
    sees_drops: bool = True
    """A session that drops is seen gone at once (its Safe Mode changes undone then, M41). False: as on a silently
    cut link, the dropped session keeps holding Safe Mode until :meth:`see_dropped` (the TCP timeout, M41)."""
    dropped_owner: bool = False
    """The Safe Mode owner's session has dropped and the router has not seen it yet (``sees_drops`` False)."""
    see_dropped_after: int | None = None
    """With ``sees_drops`` False: the router sees the dropped session gone (:meth:`see_dropped`) once a hijack
    question has been answered ``d`` this many times since the drop (tests: the TCP timeout runs out while a
    reconnected client waits, M82)."""
    declines: int = 0
    """Hijack questions answered ``d`` since the last drop."""
    safe_mode_undoes_files: bool = True
    """M78 (inferred): an abnormal end of Safe Mode undoes file changes too; False keeps them (the other reading)."""

    @property
    def version_tuple(self) -> tuple[int, int]:
        """``(major, minor)`` of :attr:`version`."""
        parts = re.findall(r"\d+", self.version)[:2]
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0

    @property
    def v7(self) -> bool:
        """True for RouterOS 7."""
        return int(self.version.split(".")[0]) >= 7

    def add(self, menu: str, props: dict[str, str], *, disabled: bool = False, dynamic: bool = False,
            extra_flags: str = "", position: int | None = None) -> Item:
        """Add an entry (tests seed state with this)."""
        item = Item(self.next_id, dict(props), disabled, dynamic, extra_flags)
        self.next_id += 1
        items = self.menus.setdefault(menu, [])
        items.insert(len(items) if position is None else position, item)
        return item

    def see_dropped(self) -> None:
        """The router sees a dropped Safe Mode session gone (its TCP timeout ran out, M41): its changes are undone."""
        with self.lock:
            if self.dropped_owner:
                self.dropped_owner = False
                self.release_safe_mode(undo=True)

    def take_safe_mode(self, owner: RouterOSShell) -> None:
        """Start recording for an undo: snapshot the menus and the small files (M40, M78)."""
        self.safe_owner, self.safe_snapshot = owner, {
            menu: [item.copy() for item in items] for menu, items in self.menus.items()}
        self.safe_files = self._small_files()
        self.safe_actions = 0

    def _small_files(self) -> dict[str, bytes]:
        """The contents of every file the console can edit (M72: up to 60 KB)."""
        out: dict[str, bytes] = {}
        for name, (kind, size) in self.file_entries().items():
            if kind == "file" and size <= _MAX_CONTENTS:
                with open(self.file_path(name), "rb") as handle:
                    out[name] = handle.read()
        return out

    def changed(self, menu: str) -> None:
        """One configuration change landed (M45): in Safe Mode it is a history action; past the history's room
        the owner is put out of Safe Mode and nothing is undone (M42)."""
        if self.safe_owner is None or menu == "ip firewall connection":
            return
        self.safe_actions += 1
        if self.safe_actions > self.history_limit:
            self.safe_overflows += 1
            self.release_safe_mode(undo=False)

    def release_safe_mode(self, *, undo: bool) -> None:
        """Leave Safe Mode keeping the changes (Ctrl-X, ``quit``), or undoing them (Ctrl-D, a dropped session:
        M41)."""
        if undo and self.safe_snapshot is not None:
            self.menus = {**self.safe_snapshot, "file": self.items("file")}  # the file list follows the files
            if self.safe_mode_undoes_files:
                for name in set(self._small_files()) - set(self.safe_files):  # a file change is undone too (M78)
                    os.unlink(self.file_path(name))
                for name, data in self.safe_files.items():
                    with open(self.file_path(name), "wb") as handle:
                        handle.write(data)
            self.sync_files()
        self.safe_files = {}
        self.safe_owner, self.safe_snapshot = None, None
        self.dropped_owner = False

    def items(self, menu: str) -> list[Item]:
        """Entries of ``menu`` in order."""
        return self.menus.setdefault(menu, [])

    def nat_rules(self) -> list[dict[str, str]]:
        """NAT rules as property dicts (with ``disabled``), in order (tests)."""
        return [{**i.props, "disabled": "yes" if i.disabled else "no"} for i in self.items("ip firewall nat")]

    def capture_scene(self) -> CaptureScene:
        """What the sniffer sees: the scanner reaches the phone unless a dstnat rule takes SIP elsewhere."""
        def reaching() -> bool:
            return not any(r.get("chain") == "dstnat" and r.get("action") == "dst-nat" and r.get("disabled") == "no"
                           and "5060" in r.get("dst-port", "") for r in self.nat_rules())
        return CaptureScene(wan="ether1", lan="bridge", wan_address="203.0.113.2", phone="192.168.88.254",
                            reaching=reaching)

    def file_entries(self) -> dict[str, tuple[str, int]]:
        """Name → (type, size) of the router's files: the top of the files directory and, one level down, the
        ``flash`` directory's files as ``flash/<name>`` (M61, M73)."""
        root = self.sniffer.root
        if not root:
            return {}
        out: dict[str, tuple[str, int]] = {}
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            if entry.is_file():
                out[entry.name] = ("file", entry.stat().st_size)
            elif entry.is_dir() and entry.name == "flash":
                out[entry.name] = ("disk" if self.v7 else "directory", 0)
                for inner in sorted(os.scandir(entry.path), key=lambda e: e.name):
                    if inner.is_file():
                        out[f"flash/{inner.name}"] = ("file", inner.stat().st_size)
        return out

    def file_path(self, name: str) -> str:
        """The host path of the router file ``name``."""
        return os.path.join(self.sniffer.root, *name.split("/"))

    def sync_files(self) -> None:
        """``/file`` lists the files directory (M61), ``flash`` included (M73)."""
        if self.flash and self.sniffer.root:
            os.makedirs(self.file_path("flash"), exist_ok=True)
        entries = self.file_entries()
        items = [it for it in self.items("file") if it.props["name"] in entries]
        known = {it.props["name"] for it in items}
        self.menus["file"] = items
        for name, (kind, _size) in entries.items():
            if name not in known:
                self.add("file", {"name": name, "type": kind})
        for it in self.items("file"):
            kind, size = entries[it.props["name"]]
            if kind == "file":
                it.props["size"] = str(size)

    def service(self, name: str) -> Item:
        """A service-port entry by name."""
        return next(i for i in self.items("ip firewall service-port") if i.props.get("name") == name)


def counters(packets: int, octets: int) -> dict[str, str]:
    """Connection counters as RouterOS prints them (M38: thousands separated by a space, rates in bps)."""
    def grouped(n: int) -> str:
        return f"{n:,}".replace(",", " ")
    return {"orig-packets": grouped(packets), "orig-bytes": grouped(octets), "orig-fasttrack-packets": "0",
            "orig-fasttrack-bytes": "0", "repl-packets": grouped(packets), "repl-bytes": grouped(octets),
            "repl-fasttrack-packets": "0", "repl-fasttrack-bytes": "0", "orig-rate": "0bps", "repl-rate": "0bps"}


def default_state(version: str = "7.16.2", scenario: str = "office") -> RouterOSState:
    """``defconf`` plus a small office: two phones, a PC, a printer seen only in ARP, an inbound scan."""
    s = RouterOSState(version=version)
    s.add("interface list", {"name": "WAN", "comment": "defconf"})
    s.add("interface list", {"name": "LAN", "comment": "defconf"})
    s.add("interface list member", {"list": "LAN", "interface": "bridge"})
    s.add("interface list member", {"list": "WAN", "interface": "ether1"})
    s.add("ip address", {"address": "192.168.88.1/24", "network": "192.168.88.0", "interface": "bridge",
                         "comment": "defconf"})
    s.add("ip address", {"address": "203.0.113.2/24", "network": "203.0.113.0", "interface": "ether1"},
          dynamic=True)
    s.add("ip pool", {"name": "default-dhcp", "ranges": "192.168.88.10-192.168.88.254"})
    s.add("ip dhcp-server", {"name": "defconf", "interface": "bridge", "lease-time": "10m",
                             "address-pool": "default-dhcp"})
    s.add("ip dhcp-server network", {"address": "192.168.88.0/24", "gateway": "192.168.88.1",
                                     "dns-server": "192.168.88.1", "comment": "defconf"})
    for addr, mac, host in (("192.168.88.254", "00:04:F2:A1:B2:C3", "Polycom-VVX450"),
                            ("192.168.88.253", "80:5E:C0:11:22:33", "SIP-T46S"),
                            ("192.168.88.20", "3C:22:FB:44:55:66", "reception-pc")):
        client = "1:" + ":".join(f"{int(b, 16):x}" for b in mac.split(":"))  # M11: leading zeros dropped
        s.add("ip dhcp-server lease", {"address": addr, "mac-address": mac, "client-id": client,
                                       "address-lists": "", "server": "defconf", "dhcp-option": "",
                                       "status": "bound", "expires-after": "8m55s", "last-seen": "1m5s",
                                       "active-address": addr, "active-mac-address": mac, "active-client-id": client,
                                       "active-server": "defconf", "host-name": host}, dynamic=True)
        s.add("ip arp", {"address": addr, "mac-address": mac, "interface": "bridge", "published": "no"},
              dynamic=True, extra_flags="C")
    s.add("ip arp", {"address": "192.168.88.250", "mac-address": "00:80:77:12:34:56", "interface": "bridge",
                     "published": "no"}, dynamic=True, extra_flags="C")
    s.add("ip firewall nat", {"chain": "srcnat", "action": "masquerade", "out-interface-list": "WAN",
                              "ipsec-policy": "out,none", "comment": "defconf: masquerade"})
    if s.v7 and scenario in ("office", "open"):
        s.add("ip firewall nat", {"chain": "srcnat", "action": "endpoint-independent-nat", "protocol": "udp",
                                  "out-interface-list": "WAN", "randomise-ports": "no"})
        s.add("ip firewall nat", {"chain": "dstnat", "action": "endpoint-independent-nat", "protocol": "udp",
                                  "in-interface-list": "WAN", "randomise-ports": "no"})
    if scenario == "pbx":
        s.add("ip firewall nat", {"chain": "dstnat", "action": "dst-nat", "to-addresses": "192.168.88.10",
                                  "to-ports": "5060", "protocol": "udp", "in-interface-list": "WAN",
                                  "dst-port": "5060", "comment": "PBX SIP"})
    for name, ports, disabled in (("ftp", "21", False), ("tftp", "69", False), ("irc", "6667", True),
                                  ("h323", "", False), ("sip", "5060,5061", False), ("pptp", "", False)):
        props = {"name": name, "ports": ports}
        if name == "sip":
            props.update({"sip-direct-media": "yes", "sip-timeout": "1h"})
        s.add("ip firewall service-port", props, disabled=disabled)
    # flags per M13: S seen-reply, A assured, C confirmed, d dstnat, s srcnat (connections carry no D flag)
    s.add("ip firewall connection", {"protocol": "udp", "src-address": "198.51.100.166", "src-port": "5060",
                                     "dst-address": "203.0.113.2", "dst-port": "5060",
                                     "reply-src-address": "192.168.88.254", "reply-src-port": "5060",
                                     "reply-dst-address": "198.51.100.166", "reply-dst-port": "5060",
                                     "timeout": "1m58s", **counters(3, 1311)}, dynamic=True, extra_flags="SACd")
    s.add("ip firewall connection", {"protocol": "udp", "src-address": "192.168.88.254", "src-port": "5060",
                                     "dst-address": "198.51.100.10", "dst-port": "5060",
                                     "reply-src-address": "198.51.100.10", "reply-src-port": "5060",
                                     "reply-dst-address": "203.0.113.2", "reply-dst-port": "5060",
                                     "timeout": "2m", **counters(2 * 60, 48_210)}, dynamic=True, extra_flags="SACs")
    return s


# --- tokenizing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """A word of a command line and its 1-based column."""

    text: str
    column: int
    quoted: bool = False


_SYNTAX = re.compile(r'"(?:[^"\\]+|\\.)*"?|[;\[\]{}]', re.DOTALL)
"""A ``"..."`` string (backslash escapes skipped; unterminated: to the end) or one of ``;[]{}`` outside one."""


def _unquoted(text: str, start: int) -> Iterator[tuple[int, str]]:
    """``(index, character)`` of each of ``;[]{}`` from ``start`` that is outside a ``"..."`` string (backslash
    escapes inside one skipped); the quotes themselves and every other character are not yielded."""
    for match in _SYNTAX.finditer(text, start):
        ch = match.group()
        if ch[0] != '"':
            yield match.start(), ch


def _split_statements(line: str) -> list[tuple[str, int]]:
    """Split on ``;`` outside quotes and brackets; keep each statement's start offset."""
    out: list[tuple[str, int]] = []
    depth, start = 0, 0
    for i, ch in _unquoted(line, 0):
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth = max(0, depth - 1)
        elif ch == ";" and depth == 0:
            out.append((line[start:i], start))
            start = i + 1
    out.append((line[start:], start))
    return out


_SPACES = re.compile(r"\s+")
_RUN = re.compile(r'[^\s"\[\]]+')
"""Characters a token takes as they are, outside ``[...]``."""
_RUN_NESTED = re.compile(r'[^"\[\]]+')
"""The same inside ``[...]`` (spaces included)."""
_PLAIN_TOKEN = re.compile(r'[^\s"\[\]]+(?=\s|\Z)')
"""A whole token of such characters (most are)."""


def _tokens(text: str, offset: int) -> list[Token]:
    """Words; ``key="quoted value"`` and ``[find ...]`` stay one token each."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i = _SPACES.match(text, i).end()  # type: ignore[union-attr]  # text[i] is a space
            continue
        plain = _PLAIN_TOKEN.match(text, i)
        if plain is not None:
            tokens.append(Token(plain.group(), offset + i + 1))
            i = plain.end()
            continue
        start = i
        buf: list[str] = []
        quoted = False
        depth = 0
        while i < n:
            ch = text[i]
            if ch == '"':
                quoted = True
                value, end = _string(text, i, offset)
                buf.append(value if not depth else text[i:end])  # inside [...]: decoded when that is run
                i = end
                continue
            if ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
            elif depth or not ch.isspace():
                run = (_RUN_NESTED if depth else _RUN).match(text, i)
                assert run is not None  # ch is none of the characters a run stops at
                buf.append(run.group())
                i = run.end()
                continue
            else:
                break
            buf.append(ch)
            i += 1
        tokens.append(Token("".join(buf), offset + start + 1, quoted))
    return tokens


_ESCAPED = {'"': '"', "\\": "\\", "$": "$", "?": "?", "n": "\n", "r": "\r", "t": "\t", "_": " ", "a": "\a",
            "b": "\b", "f": "\f", "v": "\v"}
"""Escapes inside a quoted string (M43); ``\\XX`` (two capital hex digits) is a byte."""
_HEX = re.compile(r"[0-9A-F]{2}")
_VARIABLE = re.compile(r"\$(?:[A-Za-z0-9_-]+)?")
_PLAIN = re.compile(r'[^"\\$?]+')
"""Characters a quoted string holds as they are (no quote, escape, variable or help key)."""


def _string(text: str, start: int, offset: int) -> tuple[str, int]:
    """The value of the quoted string opening at ``text[start]`` and the index after its closing quote (M43): escapes
    decoded; an unescaped ``$name`` is a variable (none is defined here: it stands for nothing); an unescaped ``?``
    is the console's help key, not text."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        plain = _PLAIN.match(text, i)
        if plain is not None:
            out.append(plain.group())
            i = plain.end()
            continue
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\\":
            pair = text[i + 1:i + 3]
            if _HEX.fullmatch(pair):
                out.append(chr(int(pair, 16)))
                i += 3
                continue
            if i + 1 >= len(text) or text[i + 1] not in _ESCAPED:
                raise RouterOSError(f"syntax error (line 1 column {offset + i + 1})")
            out.append(_ESCAPED[text[i + 1]])
            i += 2
            continue
        variable = _VARIABLE.match(text, i)
        if variable is not None:
            i = variable.end()
            continue
        if ch != "?":
            out.append(ch)
        i += 1
    raise RouterOSError(f"syntax error (line 1 column {offset + start + 1})")


_V6_STRINGS = frozenset({"client-id", "host-name", "address-lists", "dhcp-option", "comment", "log-prefix"})
"""Text properties RouterOS 6 prints quoted even without spaces (M11: ``client-id="1:30:7:4d:f5:7:49"``,
``host-name="Galaxy-S8"``)."""


def _quote(value: str, v7_terse: bool = False, *, always: bool = False) -> str:
    """A value as v6 prints and exports it: quoted when needed (M11), with the escapes of M43 (M44)."""
    if v7_terse:
        return value
    if always or value == "" or re.search(r"[\s\"\\;$?\[\]{}=]", value):
        escaped = "".join("\\" + c if c in '"\\$?' else c for c in value)
        return f'"{escaped}"'
    return value


# --- the shell ---------------------------------------------------------------------------------------------


class RouterOSShell(Shell):
    """One RouterOS CLI session."""

    def __init__(self, username: str, state: RouterOSState) -> None:
        super().__init__(username)
        self.state = state
        self.account = SUFFIX_RE.sub("", username)
        self.menu = ""
        self.numbers: dict[str, list[int]] = {}
        self.pending_remove: str | None = None
        self.pending_hijack = False

    def welcome(self) -> str:
        """A short banner (own text) before the first prompt."""
        return f"\n  RouterOS {self.state.version} simulated by routerfix\n\n"

    def prompt(self) -> str:
        """``[admin@MikroTik] > `` or ``[admin@MikroTik] /ip firewall nat> ``; ``numbers: `` while asking; in Safe
        Mode ``<SAFE>`` stands for ``>`` (M40); the hijack question while another session holds it (M42)."""
        if self.pending_remove is not None:
            return "numbers: "
        if self.pending_hijack:
            return "Hijacking Safe Mode from someone - unroll/release/don't take it [u/r/d]: "
        where = f" /{self.menu}" if self.menu else ""
        end = "<SAFE>" if self.state.safe_owner is self else ">"
        return f"[{self.account}@{self.state.identity}]{where}{end} " if where else \
            f"[{self.account}@{self.state.identity}] {end} "

    def control(self, key: str) -> str | None:
        """Ctrl-X takes Safe Mode, or releases it keeping the changes (M40); Ctrl-D ends the session, undoing the
        Safe Mode changes (M41). Other keys are ignored."""
        with self.state.lock:
            state = self.state
            if key == "\x18":
                if state.safe_owner is None:
                    state.take_safe_mode(self)
                    return "\n[Safe Mode taken]\n"
                if state.safe_owner is self:
                    state.release_safe_mode(undo=False)
                    return "\n[Safe Mode released]\n"
                self.pending_hijack = True
                return "\n"
            if key == "\x04":
                if state.safe_owner is self:
                    state.release_safe_mode(undo=True)
                self.closed = True
                return "\n"
            return ""

    def ended(self, clean: bool) -> None:
        """``quit`` keeps Safe Mode changes; a session that drops undoes them (M41)."""
        with self.state.lock:
            if self.state.safe_owner is self:
                if not clean and not self.state.sees_drops:
                    self.state.dropped_owner = True  # still holds Safe Mode until the router sees it gone (M41)
                    self.state.declines = 0
                    return
                self.state.release_safe_mode(undo=not clean)

    def _hijack(self, answer: str) -> str:
        """The answer to the hijack question (M42): ``u`` undoes and takes, ``r`` keeps and takes, ``d`` leaves it."""
        self.pending_hijack = False
        if answer in ("u", "r"):
            self.state.release_safe_mode(undo=answer == "u")
            self.state.take_safe_mode(self)
            return "[Safe Mode taken]\n"
        state = self.state
        state.declines += 1
        if state.dropped_owner and state.see_dropped_after is not None and state.declines >= state.see_dropped_after:
            state.see_dropped()
        return ""

    def execute(self, line: str) -> str:
        """Run a line (statements separated by ``;``); the first error stops it."""
        with self.state.lock:
            if self.pending_hijack:
                return self._hijack(line.strip())
            if self.pending_remove is not None:
                menu, self.pending_remove = self.pending_remove, None
                try:
                    self._remove(menu, [Token(line.strip(), 1)])
                    self.state.changed(menu)
                    return ""
                except RouterOSError as exc:
                    return f"{exc}\n"
            out: list[str] = []
            for text, offset in _split_statements(line):
                if not text.strip():
                    continue
                try:
                    out.append(self._statement(text, offset))
                except RouterOSError as exc:
                    out.append(f"{exc}\n")
                    break
                if self.closed or self.pending_remove is not None:
                    break
            return "".join(out)

    # --- dispatch ------------------------------------------------------------------------------------------

    def _statement(self, text: str, offset: int) -> str:
        tokens = _tokens(text, offset)
        if not tokens:
            return ""
        first = tokens[0].text
        if first in ("quit", "/quit"):
            self.closed = True
            return "interrupted\n"
        if first == ":foreach":
            return self._foreach(text, offset)
        if first == ":do":
            return self._do(text, offset)
        if first == ":put":
            return (" ".join(self._substitute(t) for t in tokens[1:])) + "\n"
        if first == ":delay":
            return delay(self.state.sniffer, tokens[1].text if len(tokens) == 2 else "")
        if first == "/" and len(tokens) == 1:
            self.menu = ""
            return ""
        words = list(tokens)
        path = [] if first.startswith("/") else (self.menu.split() if self.menu else [])
        if first.startswith("/"):
            words[0] = Token(first[1:], tokens[0].column + 1)
            if not words[0].text:
                words.pop(0)
        verb: Token | None = None
        while words:
            word = words[0]
            candidate = " ".join([*path, word.text])
            if candidate in _TREE:
                path.append(word.text)
                words.pop(0)
                continue
            if word.text in _VERBS:
                verb = words.pop(0)
                break
            raise RouterOSError(f"bad command name {word.text} (line 1 column {word.column})")
        menu = " ".join(path)
        if verb is None:
            self.menu = menu
            return ""
        if verb.text == "export":
            return self._export(menu, words)
        if menu == "tool sniffer":
            return sniffer_command(self.state.sniffer, self.state.capture_scene, verb.text, [w.text for w in words])
        if menu == "file":
            return self._file(verb, words)
        if menu == "system resource" and verb.text == "print":
            return self._resource()
        if menu == "system identity" and verb.text == "print":
            return f"  name: {self.state.identity}\n"
        if menu not in MENUS:
            raise RouterOSError(f"bad command name {verb.text} (line 1 column {verb.column})")
        if verb.text == "print":
            return self._print(menu, words)
        if verb.text == "add":
            out = self._add(menu, words)
            self.state.changed(menu)
            return out
        if verb.text == "remove":
            if not words:
                self.pending_remove = menu
                return ""
            self._remove(menu, words)
            self.state.changed(menu)
            return ""
        if verb.text in ("set", "enable", "disable"):
            self._set(menu, words, verb.text)
            self.state.changed(menu)
            return ""
        raise RouterOSError(f"bad command name {verb.text} (line 1 column {verb.column})")

    _FOREACH = re.compile(r"\s*:foreach\s+([A-Za-z][A-Za-z0-9]*)\s+in=\[\s*/([a-z /-]+?)\s+(find\b[^\]]*)\]"
                          r"\s+do=\{(.*)\}\s*", re.S)

    def _foreach(self, text: str, offset: int) -> str:
        """``:foreach <var> in=[/<menu> find ...] do={...}`` (M76): the body once per item found, ``$<var>`` its
        internal ID; nothing found runs nothing."""
        match = self._FOREACH.fullmatch(text)
        if match is None:
            raise RouterOSError(f"syntax error (line 1 column {offset + 1})")
        var, menu, find, body = match.groups()
        menu = menu.strip()
        if menu == "file":
            self._file_access()
            self.state.sync_files()
        if menu not in MENUS:
            raise RouterOSError(f"bad command name {menu.split()[-1]} (line 1 column {offset + 1})")
        out: list[str] = []
        for item in self._select(menu, Token(f"[{find}]", offset + 1)):
            for statement, start in _split_statements(re.sub(rf"\${var}\b", f"*{item.id:X}", body)):
                if statement.strip():
                    out.append(self._statement(statement, offset + start))
        return "".join(out)

    def _do(self, text: str, offset: int) -> str:
        """``:do {<commands>} on-error={<commands>}`` (M83): the handler runs instead of stopping the line when a
        command of the body fails (its error text is not printed)."""
        start = text.index(":do") + 3
        body, end = _block(text, start, offset)
        rest = text[end:].strip()
        if not rest.startswith("on-error="):
            raise RouterOSError(f"syntax error (line 1 column {offset + end + 1})")
        at = text.index("on-error=", end) + len("on-error=")
        handler, after = _block(text, at, offset)
        if text[after:].strip():
            raise RouterOSError(f"syntax error (line 1 column {offset + after + 1})")
        out: list[str] = []
        try:
            for statement, begin in _split_statements(body):
                if statement.strip():
                    out.append(self._statement(statement, offset + begin))
        except RouterOSError:
            out += [self._statement(statement, offset + begin) for statement, begin in _split_statements(handler)
                    if statement.strip()]
        return "".join(out)

    def _file_access(self) -> None:
        """``/file`` ``find``, ``get``, ``add``, ``set``, ``remove`` need the ``ftp`` policy (M83, inferred: the User
        page gives ``ftp`` the right to read, write and erase files and ``read`` every command that changes nothing;
        the listing is left to ``read``; the refusal's wording is inferred)."""
        if "ftp" not in self.state.sniffer.policies:
            raise RouterOSError(NO_PERMISSION)

    def _substitute(self, token: Token) -> str:
        """A ``:put`` argument: ``[/file get <item> contents]`` is replaced by its value (M76); other words as
        written."""
        text = token.text
        if token.quoted or not (text.startswith("[") and text.endswith("]")):
            return text
        inner = _tokens(text[1:-1], token.column + 1)
        words = [t.text for t in inner]
        if words[:2] != ["/file", "get"] or len(inner) != 4:
            raise RouterOSError(f"syntax error (line 1 column {token.column})")
        self._file_access()
        self.state.sync_files()
        chosen = self._select("file", inner[2])
        if len(chosen) != 1:
            raise RouterOSError("no such item")
        item, prop = chosen[0], words[3]
        if prop == "contents":
            if item.props.get("type") != "file":
                return ""
            with open(self.state.file_path(item.props["name"]), "rb") as handle:
                return handle.read(_MAX_CONTENTS).decode("latin-1")
        return item.props.get(prop, "")

    def _file(self, verb: Token, words: list[Token]) -> str:
        """``/file print``, ``add`` (RouterOS 7.9 and later), ``set ... contents=`` and ``remove`` over the files
        directory (M61, M72, M79); each change is one Safe Mode history action (M78)."""
        state = self.state
        state.sync_files()
        if verb.text == "print":
            return self._print("file", words)
        self._file_access()
        if verb.text == "add" and state.version_tuple >= (7, 9):
            self._file_add(words)
        elif verb.text == "set":
            if not words:
                raise RouterOSError("numbers: missing value")
            chosen = self._select("file", words[0])
            contents = self._file_props(words[1:], ("contents",)).get("contents")
            for item in chosen:
                if contents is not None and item.props.get("type") == "file":
                    self._write_file(item.props["name"], contents)
        elif verb.text == "remove":
            if not words:
                raise RouterOSError("numbers: missing value")
            before = state.file_entries()
            self._remove("file", words)
            kept = {it.props["name"] for it in state.items("file")}
            for name, (kind, _size) in before.items():
                if name not in kept and kind == "file":
                    os.unlink(state.file_path(name))
        else:
            raise RouterOSError(f"bad command name {verb.text} (line 1 column {verb.column})")
        state.sync_files()
        state.changed("file")
        return ""

    @staticmethod
    def _file_props(words: list[Token], allowed: tuple[str, ...]) -> dict[str, str]:
        props: dict[str, str] = {}
        for word in words:
            key, eq, value = word.text.partition("=")
            if not eq or key not in allowed:
                raise RouterOSError(f"expected end of command (line 1 column {word.column})")
            props[key] = value
        return props

    def _file_add(self, words: list[Token]) -> None:
        props = self._file_props(words, ("name", "contents", "type"))
        name = props.get("name", "").lstrip("/")
        if not name or props.get("type", "file") != "file":
            raise RouterOSError("failure: name not specified")
        entries = self.state.file_entries()
        if name in entries:
            raise RouterOSError("failure: file already exists")
        parent = name.rpartition("/")[0]
        if parent and entries.get(parent, ("", 0))[0] not in ("disk", "directory"):
            raise RouterOSError("failure: no such directory")
        self._write_file(name, props.get("contents", ""))

    def _write_file(self, name: str, contents: str) -> None:
        """The whole contents at once (M72: at most 60 KB edited from the console)."""
        data = contents.encode("latin-1", "replace")
        if len(data) > _MAX_CONTENTS:
            raise RouterOSError("failure: file too big")
        with open(self.state.file_path(name), "wb") as handle:
            handle.write(data)

    # --- print ----------------------------------------------------------------------------------------------

    def _resource(self) -> str:
        """The key: value page of M16, field order and date format as recorded (``build-time: Dec/20/2023 ...``
        on 6.48 and 7.12 alike)."""
        channel = "stable" if self.state.v7 else "long-term"
        fields = (("uptime", "3d4h12m9s"), ("version", f"{self.state.version} ({channel})"),
                  ("build-time", "Nov/20/2024 10:00:00"), ("factory-software", "6.44.6"),
                  ("free-memory", "201.2MiB"), ("total-memory", "256.0MiB"), ("cpu", "ARMv7"), ("cpu-count", "4"),
                  ("cpu-frequency", "716MHz"), ("cpu-load", "1%"), ("free-hdd-space", "1196.0KiB"),
                  ("total-hdd-space", "16.0MiB"), ("architecture-name", "arm"), ("board-name", self.state.board),
                  ("platform", "MikroTik"))
        return "".join(f"{key:>25}: {value}\n" for key, value in fields)

    def _view(self, menu: str, item: Item) -> dict[str, str]:
        props = dict(item.props)
        if menu == "ip firewall connection" and not self.state.v7:  # M38: v6 prints address:port
            for side in ("src", "dst", "reply-src", "reply-dst"):
                port = props.pop(f"{side}-port", "")
                if port:
                    props[f"{side}-address"] = f"{props.get(f'{side}-address', '')}:{port}"
        return props

    def _flags(self, menu: str, item: Item) -> str:
        if menu == "ip firewall connection":
            return item.extra_flags  # M13: connection flags are their own letters
        letters = ""
        if item.disabled:
            letters += "X"
        if item.dynamic:
            letters += "D"
        return letters + item.extra_flags

    def _print(self, menu: str, words: list[Token]) -> str:
        spec = MENUS[menu]
        terse = False
        i = 0
        conditions: list[Token] = []
        while i < len(words):
            word = words[i]
            if word.text in ("terse", "without-paging", "detail"):
                terse = terse or word.text == "terse"
                i += 1
                continue
            if word.text == "where":
                conditions = words[i + 1:]
                break
            raise RouterOSError(f"expected end of command (line 1 column {word.column})")
        items = [it for it in self.state.items(menu) if self._matches(menu, it, conditions)]
        self.numbers[menu] = [it.id for it in self.state.items(menu)]
        numbering = {it.id: n for n, it in enumerate(self.state.items(menu))}
        lines: list[str] = []
        if self.state.log_lines:
            lines.append("12:00:01 echo: system,info,account user admin logged in from 127.0.0.1 via ssh")
        v7 = self.state.v7
        legend = _CONNECTION_FLAGS if menu == "ip firewall connection" else _FLAG_ORDER
        used = {c for it in items for c in self._flags(menu, it)}
        flag_letters = [c for c in legend if c in used]
        width = max([len(str(numbering[it.id])) for it in items] or [1]) + 1
        for it in items:
            props = self._view(menu, it)
            order = [k for k in dict.fromkeys(("comment", *spec.order)) if k in props]
            order += [k for k in props if k not in order]
            flags = self._flags(menu, it)
            if v7:
                index = f"{numbering[it.id]:>{width - 1}}"
                cols = "".join(c if c in flags else " " for c in flag_letters)  # M13: one column per letter
                pairs = " ".join(f"{k}={props[k]}" for k in order)  # M11: v7 quotes nothing
                lines.append(f"{index} {cols} {pairs}" if cols else f"{index} {pairs}")
            else:
                fw = max([len(self._flags(menu, x)) for x in items] + [1])
                pairs = " ".join(f"{k}={_quote(props[k], always=k in _V6_STRINGS)}" for k in order)
                lines.append(f"{numbering[it.id]:>{max(width, 2)}} {flags:<{fw}} {pairs}")
        if not terse:
            header = "Flags: X - disabled, D - dynamic" if not v7 else "Flags: X - DISABLED, D - DYNAMIC"
            lines.insert(0, header)
        return "".join(line + "\n" for line in lines)

    def _matches(self, menu: str, item: Item, conditions: list[Token]) -> bool:
        if not conditions:
            return True
        props = self._view(menu, item)
        for token in conditions:
            text = token.text
            if text == "and":
                continue
            negate = text.startswith("!")
            text = text.lstrip("!")
            match = re.fullmatch(r"([a-z][a-z0-9.\-]*)(=|~|!=)(.*)", text, re.S)
            if match is None:
                if text == "disabled":
                    ok = item.disabled
                elif text == "dynamic":
                    ok = item.dynamic
                else:
                    raise RouterOSError(f"syntax error (line 1 column {token.column})")
            else:
                key, op, value = match.groups()
                have = "yes" if key == "disabled" and item.disabled else props.get(key, "")
                if key == "disabled" and not item.disabled:
                    have = "no"
                if op == "~":
                    try:
                        ok = re.search(value.replace("\\$", "$"), have) is not None
                    except re.error:
                        raise RouterOSError(f"syntax error (line 1 column {token.column})") from None
                elif op == "=":
                    ok = have == value
                else:
                    ok = have != value
            if ok == negate:
                return False
        return True

    # --- writes ---------------------------------------------------------------------------------------------

    def _props(self, menu: str, words: list[Token], allowed: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
        props: dict[str, str] = {}
        meta: dict[str, str] = {}
        for word in words:
            key, eq, value = word.text.partition("=")
            if not eq:
                raise RouterOSError(f"expected end of command (line 1 column {word.column})")
            if key in ("place-before", "disabled"):
                meta[key] = value
                if key == "disabled" and value not in ("yes", "no"):
                    raise RouterOSError("input does not match any value of disabled")
                continue
            if key not in allowed:
                raise RouterOSError(f"expected end of command (line 1 column {word.column})")
            check = _VALUE_CHECKS.get(key)
            if check is not None and value and not check.fullmatch(value):
                raise RouterOSError(f"invalid value for argument {key}")
            props[key] = value
        return props, meta

    def _add(self, menu: str, words: list[Token]) -> str:
        spec = MENUS[menu]
        if not spec.writable or not spec.keys:
            raise RouterOSError("bad command name add")
        props, meta = self._props(menu, words, spec.keys)
        if menu == "ip firewall nat":
            if "chain" not in props:
                raise RouterOSError("failure: chain not specified")
            if props.get("action") in ("dst-nat", "netmap") and "to-addresses" not in props:
                raise RouterOSError("failure: to-addresses not specified")
            if "dst-port" in props and props.get("protocol") not in ("tcp", "udp"):
                raise RouterOSError("failure: dst-port can be set only for tcp/udp protocols")
            if props.get("action") == "endpoint-independent-nat" and not self.state.v7:
                raise RouterOSError("input does not match any value of action")
        if menu == "ip dhcp-server lease":
            if "address" not in props or not (props.get("mac-address") or props.get("client-id")):
                raise RouterOSError("failure: address and mac-address or client-id must be set")
            for other in self.state.items(menu):
                if other.props.get("address") == props["address"] and not other.dynamic:
                    raise RouterOSError("failure: already have static lease with this IP address")
            props.setdefault("server", "defconf")
            props["status"] = "waiting"
        position: int | None = None
        if "place-before" in meta:
            position = self._resolve_number(menu, meta["place-before"])
        self.state.add(menu, props, disabled=meta.get("disabled") == "yes", position=position)
        return ""

    def _resolve_number(self, menu: str, text: str) -> int:
        items = self.state.items(menu)
        ids = self.numbers.get(menu, [it.id for it in items])
        if not text.isdigit() or int(text) >= len(ids):
            raise RouterOSError("no such item")
        wanted = ids[int(text)]
        for pos, it in enumerate(items):
            if it.id == wanted:
                return pos
        raise RouterOSError("no such item")

    def _select(self, menu: str, token: Token) -> list[Item]:
        items = self.state.items(menu)
        text = token.text.strip()
        if text.startswith("*"):  # an internal ID, as find returns them (M76)
            return [it for it in items if f"*{it.id:X}" == text.upper()] or _no_such_item()
        if text.startswith("[") and text.endswith("]"):
            inner = _tokens(text[1:-1], token.column)
            if not inner or inner[0].text != "find":
                raise RouterOSError(f"syntax error (line 1 column {token.column})")
            conditions = [t for t in inner[1:] if t.text != "where"]
            return [it for it in items if self._matches(menu, it, conditions)]
        spec = MENUS[menu]
        chosen: list[Item] = []
        for part in text.split(","):
            part = part.strip()
            if part.isdigit():
                pos = self._resolve_number(menu, part)
                chosen.append(items[pos])
            elif spec.name_key and any(it.props.get(spec.name_key) == part for it in items):
                chosen += [it for it in items if it.props.get(spec.name_key) == part]
            else:
                raise RouterOSError("no such item")
        return chosen

    def _remove(self, menu: str, words: list[Token]) -> None:
        if len(words) != 1:
            raise RouterOSError(f"expected end of command (line 1 column {words[-1].column})")
        if menu in ("ip firewall service-port",):
            raise RouterOSError("failure: can not remove builtin entry")
        chosen = self._select(menu, words[0])
        for it in chosen:
            if it.dynamic and menu != "ip firewall connection":
                raise RouterOSError("failure: can not remove dynamic entry")
        ids = {it.id for it in chosen}
        self.state.menus[menu] = [it for it in self.state.items(menu) if it.id not in ids]

    def _set(self, menu: str, words: list[Token], verb: str) -> None:
        if not words:
            raise RouterOSError("numbers: missing value")
        chosen = self._select(menu, words[0])
        props, meta = self._props(menu, words[1:], MENUS[menu].keys)
        for it in chosen:
            it.props.update(props)
            if it.props.get("comment") == "":
                del it.props["comment"]  # an empty comment is no comment (M14)
            if "disabled" in meta:
                it.disabled = meta["disabled"] == "yes"
            if verb in ("enable", "disable"):
                it.disabled = verb == "disable"

    # --- export ---------------------------------------------------------------------------------------------

    def _export(self, menu: str, words: list[Token]) -> str:
        for word in words:
            if word.text not in ("terse", "verbose", "compact", "show-sensitive", "hide-sensitive"):
                raise RouterOSError(f"expected end of command (line 1 column {word.column})")
        out = [f"# nov/25/2026 12:00:00 by RouterOS {self.state.version}", "# software id = RFX0-SIM1", "#"]
        menus = [m for m in MENUS if m.startswith(menu) and m not in ("ip firewall connection", "file")]
        for name in sorted(menus):
            items = [it for it in self.state.items(name) if not it.dynamic]
            if name == "ip firewall service-port":
                items = [it for it in self.state.items(name) if it.disabled]
                if items:
                    out.append("/ip firewall service-port")
                    out += [f"set {it.props['name']} disabled=yes" for it in items]
                continue
            if not items:
                continue
            out.append("/" + name)
            for it in items:
                pairs = [f"{k}={_quote(v)}" for k, v in sorted(it.props.items()) if k not in ("status",)]
                if it.disabled:
                    pairs.insert(0, "disabled=yes")
                out += _wrap("add " + " ".join(pairs))
        return "\n".join(out) + "\n"


_MAX_CONTENTS = 60 * 1024
"""Largest file contents the console reads or writes (M72: 60 KB)."""


def _block(text: str, start: int, offset: int) -> tuple[str, int]:
    """The text inside the ``{...}`` opening at or after ``text[start]`` (spaces skipped) and the index after its
    closing brace; quoted strings may hold braces."""
    i = start
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text) or text[i] != "{":
        raise RouterOSError(f"syntax error (line 1 column {offset + i + 1})")
    depth = 0
    for j, ch in _unquoted(text, i):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j], j + 1
    raise RouterOSError(f"syntax error (line 1 column {offset + i + 1})")


def _no_such_item() -> list[Item]:
    raise RouterOSError("no such item")


def _wrap(line: str, width: int = 80) -> list[str]:
    """RouterOS export wrapping: break before a word at 80 columns with `` \\``; continuation indented 4."""
    words = line.split(" ")
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if len(candidate) > width - 2 and current:
            lines.append(current + " \\")
            current = "    " + word
        else:
            current = candidate
    lines.append(current)
    return lines


@contextmanager
def simulate(version: str = "7.16.2", scenario: str = "office",
             password: str = "mt-sim-pass",  # noqa: S107 - the simulator's account
             host: SSHSimulatorHost | None = None, latency: float = 0.0, state: RouterOSState | None = None,
             **knobs: Any) -> Iterator[SimulatedDevice]:
    """Serve a simulated RouterOS router on 127.0.0.1; yields a :class:`SimulatedDevice` whose ``handle`` is the
    :class:`~routerfix.simulators._hosts.ssh.SimulatedSSHDevice` (``handle.state`` is the :class:`RouterOSState`).

    :param version: ``"6.49.10"`` for the v6 layout, ``"7.x"`` for v7.
    :param scenario: ``office`` (v7: endpoint-independent NAT on, i.e. open), ``secure`` (no EIM rules), ``pbx``
        (an existing WAN SIP forward).
    :param host: a running :class:`SSHSimulatorHost` to share (fleets); a private one otherwise.
    :param knobs: :class:`~.._hosts.ssh.Knobs` fields (``drop_at``, ``chunk_size``, ``fail_auth``...).
    """
    router = state or default_state(version, scenario)
    files = tempfile.mkdtemp(prefix="routerfix-sim-routeros-files-")
    router.sniffer.root = router.sniffer.root or files
    router.sync_files()
    try:
        with serve_device(host, f"mikrotik-{router.identity}", lambda username: RouterOSShell(username, router),
                          username="admin", password=password, login_name=lambda name: SUFFIX_RE.sub("", name),
                          knobs=Knobs(latency=latency, **knobs), server_version="ROSSSH", kex_algs=KEX_ALGS,
                          encryption_algs=CIPHERS,
                          sftp_root=router.sniffer.sftp_root) as device:
            device.model = router
            yield simulated_device(device, "mikrotik", f"MikroTik RouterOS {router.version} (simulated, {scenario})")
    finally:
        shutil.rmtree(files, ignore_errors=True)
