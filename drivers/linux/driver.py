"""The Linux router driver: nftables for the forward, dnsmasq for DHCP, conntrack for the flush, over SSH.

Facts relied on: docs/facts/linux.md (rows L#). What it does:

* manages its **own** nftables table ``ip routerfix`` whose ``dstnat`` chain hooks prerouting at priority
  ``dstnat - 10``, so it runs before every other destination-NAT chain (L22, L24: the earliest dnat wins), and
  whose rules match ``iifname <wan>`` only; one rule carries tcp and udp (``meta l4proto { tcp, udp } th dport``,
  L23); every change is one ``nft`` transaction (L21); the ruleset is read as JSON (L20);
* discovers dnsmasq from the running process (``pidof dnsmasq``, ``/proc/<pid>/cmdline``, its ``--conf-file``
  (default ``/etc/dnsmasq.conf``) and ``--conf-dir`` files: L3, L5, L11): DHCP range, lease file (default
  ``/var/lib/misc/dnsmasq.leases``) and ``--dhcp-hostsfile``; every one can be given as an option. With several
  dnsmasq processes it takes the one in its own network namespace that serves the LAN interface, or refuses naming
  ``dnsmasq_pid=<pid>`` for each candidate (L4, L6, L12);
* reserves the sink by appending ``mac,ip,name`` to that instance's hostsfile and sending it SIGHUP (L13, L14, L17).
  Without a hostsfile there is no reservation (a restart would be needed);
* flushes only inbound conntrack entries (original destination = the WAN address, ports 5060/5061:
  ``conntrack -D -p udp --orig-dst <wan> --orig-port-dst 5060``, L30-L32), then keeps late LAN answers to those
  scanners from re-opening the path (see :meth:`LinuxDriver._flush_connections`, L26, L27);
* backup/restore covers what it owns: its table and the hostsfile;
* holds a run's changes with a self-revert timer when the engine arms it (:meth:`LinuxDriver.hold_changes`) and
  ``systemd-run`` exists: before the first write it saves what the run may change, and only that: routerfix's own
  table (``nft list table ip routerfix``, or "absent") and the hostsfile, under ``/run``, and starts a transient
  timer that, after ``confirm_minutes`` (default 10), loads the table back in one ``nft -f`` transaction (``add
  table``, ``delete table``, the saved listing: L40, L44) and the hostsfile, and reloads dnsmasq. A forward in
  another table removed on request (``replace_conflicting``) has that table saved the same way just before, into a
  second file the timer loads with an ``nft -f`` of its own (a listing that no longer loads cannot stop routerfix's
  table and the hostsfile from coming back); the arming removes any such file left by an earlier run.
  Tables other admins change in the window are left alone (a change to the hostsfile or to a table saved for a
  replaced forward is put back with it). The conntrack flush cannot be undone (deleted entries are gone; the
  connections re-form). :meth:`LinuxDriver.verify_state` stops the timer once the read-back matches (L38-L40). A
  client killed before that leaves a router that puts itself back; a timer left by an earlier interrupted run is
  never overwritten (the run refuses and says what to do);
* probes a candidate sink with ARP duplicate-address detection on the LAN interface before choosing it (a static-IP
  host inside the pool has no lease and may be missing from the neighbour table, L10):
  ``arping -D -c 2 -w 2 -I <lan> <addr>`` (iputils) or ``busybox arping -D ...``, whichever ``command -v``
  found in the first read batch (L2, ``arping`` first). ``Feature.PROBE`` is declared only when one exists and the
  LAN interface is known; the reply count on ``Received N response(s)`` decides, checked against the ``-D`` exit
  status (L34-L37, :func:`~.parser.parse_arping`: an unknown arping is refused, never trusted).

* keeps its undo marker (``Feature.UNDO_MARKER``) in ``/var/lib/routerfix/undo.json`` (option ``undo_marker_file``):
  a temporary file made 0600 with ``chmod`` and renamed over it in one ``&&`` list, read with ``head -c`` in the
  first read batch (L48-L51).

NAT filtering mode and SIP ALG are not managed: conntrack NAT is endpoint-dependent, and the kernel attaches the SIP
helper only through explicit rules since 4.7 (L33).

The SSH user must be root or hold CAP_NET_ADMIN plus write access to the hostsfile and permission to signal dnsmasq;
commands are sent without sudo. Commands are batched: ``cmd; echo <marker> $?`` on one line, one round trip per
batch (L1). A run's writes (the undo marker, the arming of the self-revert timer, the forward, the reservation) go
in one AND list, ``cmd && echo <marker> $? && cmd …`` (L48): nothing after a failed command runs, and the failed one
is the one whose marker did not come back; the timer is armed before the first change, so any prefix of the list
(a client killed while it runs, L55) is put back.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import posixpath
import re
import shlex
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from routerfix.base.ssh import SSH_OPTION_NAMES, SSHDriver
from routerfix.enums import ActionKind
from routerfix.errors import DeviceError, InvalidValue, ParseError, UnsupportedOperation
from routerfix.held import HeldWrites
from routerfix.markers import MAX_MARKER_BYTES, parse_marker
from routerfix.model import (
    AddressRange,
    Backup,
    Capabilities,
    DeviceFacts,
    DeviceState,
    DhcpScope,
    Feature,
    Lease,
    Neighbour,
    PortForward,
    Protocol,
    Reservation,
    check_device_name,
)
from routerfix.planner import managed_view
from routerfix.transport.ssh_trust import parse_bool

if TYPE_CHECKING:
    from routerfix.diagnose.live import LiveCapture

from .parser import (
    ARPING_EXIT,
    DnsmasqConfig,
    NftRuleset,
    parse_addresses,
    parse_arping,
    parse_conntrack,
    parse_default_route,
    parse_dnsmasq_args,
    parse_dnsmasq_conf,
    parse_hostsfile,
    parse_leases,
    parse_neighbours,
    parse_netns,
    parse_nft_json,
    parse_tools,
)

__all__ = ["LinuxDriver", "TABLE"]

log = logging.getLogger("routerfix.drivers.linux")

TABLE = "routerfix"
FAMILY = "ip"
CHAIN = "dstnat"
GUARD_CHAIN = "srcnat"
GUARD_SET = "sip_scanners"
PROMPT = "[routerfix]# "
DEFAULT_LEASES = "/var/lib/misc/dnsmasq.leases"
_IFNAME = re.compile(r"[A-Za-z0-9_.:@-]{1,15}")
NO_SYSTEMD_INIT = "rfx-no-systemd-init"
"""Printed by :data:`TOOLS_COMMAND` when systemd is not the running init (L43)."""
REVERT_PENDING = "rfx-revert-pending"
"""Printed by :data:`TOOLS_COMMAND` when an earlier run's self-revert timer is still pending (L39)."""
TOOLS_COMMAND = (f"command -v arping busybox systemd-run || true; test -d /run/systemd/system || echo "
                 f"{NO_SYSTEMD_INIT}; systemctl is-active --quiet routerfix-revert.timer 2>/dev/null && echo "
                 f"{REVERT_PENDING} || true")
"""Sent once, in the first read batch: which duplicate-address prober the router has, and whether it has
``systemd-run`` (the self-revert timer, L38) with systemd running as init, as ``sd_booted`` tests it (L43): a
container or a network namespace on a host whose init is not systemd has the program but cannot run it."""
REVERT_UNIT = "routerfix-revert"
REVERT_RULESET = "/run/routerfix-revert.nft"
REVERT_HOSTS = "/run/routerfix-revert.hosts"
REVERT_OTHER = "/run/routerfix-revert-other.nft"
"""Tables other than routerfix's own saved for the revert (a forward replaced there): loaded by a second ``nft -f``,
so a listing that will not load again cannot stop routerfix's own table from being put back (L40, L44)."""
MARKER_DIR = "/var/lib/routerfix"
"""The undo marker's directory: state kept across reboots (L51)."""
MARKER_FILE = f"{MARKER_DIR}/undo.json"
"""The undo marker's default path (option ``undo_marker_file``)."""
PROBE_COUNT = 2
PROBE_WAIT = 2
"""``arping -D -c 2 -w 2``: two probes a second apart, at most 2 s (a reply ends it at once)."""
_BASE = Capabilities(
    features=frozenset({Feature.PORT_FORWARD, Feature.FORWARD_TO_UNUSED, Feature.DHCP_SCOPE, Feature.LEASES,
                        Feature.NEIGHBOURS, Feature.DHCP_RESERVATION, Feature.FLUSH_CONNECTIONS, Feature.BACKUP,
                        Feature.CAPTURE, Feature.UNDO_MARKER}),
    forward_ranges=True, forward_both=True, orders_rules=True,
    notes=("forwards live in nftables table 'ip routerfix' (prerouting priority dstnat - 10, iifname <wan>)",))


def _path(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.startswith("/") or any(c in value for c in "\n\r\0"):
        raise InvalidValue(name, value, "an absolute path")
    return value


@dataclass
class Discovery:
    """What was found out about the router once per run (dnsmasq, interfaces)."""

    pid: int | None = None
    config: DnsmasqConfig = field(default_factory=DnsmasqConfig)
    leasefile: str = DEFAULT_LEASES
    hostsfile: str | None = None
    arping: tuple[str, ...] | None = None
    """The duplicate-address prober: ``("arping",)`` or ``("busybox", "arping")``; None when neither exists."""
    systemd_run: bool = False
    revert_pending: bool = False
    """An earlier, interrupted run's self-revert timer is still pending (its files must not be touched)."""
    """``systemd-run`` exists: changes can be held by a self-revert timer (L38)."""


class LinuxDriver(SSHDriver):
    """A Linux router (nftables + dnsmasq, e.g. Debian 12) over SSH as root.

    Options: ``wan_interface`` (default: the default route's device), ``lan_interface`` (default: the interface
    whose network holds the DHCP range), ``dnsmasq_pid``, ``dnsmasq_leases``, ``dnsmasq_hostsfile``,
    ``dnsmasq_range`` (``first,last``: skip discovery of the range), ``confirm_minutes`` (the self-revert timer's
    window, 1-60, default 10), ``self_revert`` (default true; false: never arm the timer, e.g. for a router in a
    network namespace, whose ``systemd-run`` would start the timer in the host's namespace), plus the SSH trust
    options.
    """

    name: ClassVar[str] = "linux"
    capabilities = _BASE
    option_names: ClassVar[frozenset[str]] = SSH_OPTION_NAMES | {
        "wan_interface", "lan_interface", "dnsmasq_pid", "dnsmasq_leases", "dnsmasq_hostsfile", "dnsmasq_range",
        "confirm_minutes", "self_revert", "undo_marker_file"}
    option_help: ClassVar[Mapping[str, str]] = {
        **SSHDriver.option_help,
        "wan_interface": "interface the forward matches (iifname) (default: the default route's device)",
        "lan_interface": "LAN interface (default: the one whose network holds the DHCP range)",
        "dnsmasq_pid": "pid of the LAN's dnsmasq (default: the only one running, else the one in the router's "
                       "namespace serving the LAN interface)",
        "dnsmasq_leases": "absolute path of dnsmasq's lease file (default: its --dhcp-leasefile, else "
                          "/var/lib/misc/dnsmasq.leases)",
        "dnsmasq_hostsfile": "absolute path of the --dhcp-hostsfile the sink is reserved in (default: dnsmasq's "
                             "first; without one nothing is reserved)",
        "dnsmasq_range": "the DHCP pool as first,last (default: dnsmasq's first dhcp-range)",
        "confirm_minutes": "self-revert timer window, 1-60 (default 10): unconfirmed, the ruleset and hostsfile "
                           "are put back (needs systemd-run with systemd as the running init)",
        "undo_marker_file": f"absolute path of the undo marker kept on the router, 0600 (default {MARKER_FILE}; "
                            "its directory is created when missing)",
        "self_revert": "false: never arm the self-revert timer (e.g. a router in a network namespace, whose "
                       "systemd-run would start it in the host's namespace) (default true)",
    }
    device_type: ClassVar[str] = "linux"
    prompt_pattern: ClassVar[str | None] = r"(?:\[routerfix\]#|[^\n]*[#$])"
    error_patterns: ClassVar[tuple[str, ...]] = (
        r"^Error: ", r"^-?bash: .*(?:command not found|No such file or directory|Permission denied)",
        r"^\S+: (?:cannot|can't) ", r"Operation not permitted",
    )
    session_commands: ClassVar[tuple[str, ...]] = ()
    logout_command: ClassVar[str | None] = "exit"
    batch_separator: ClassVar[str | None] = "; "
    chain_separator: ClassVar[str | None] = " && "
    batch_max_line: ClassVar[int] = 3000
    batch_kinds = frozenset({ActionKind.SAVE_UNDO_MARKER, ActionKind.ADD_FORWARD, ActionKind.RESERVE_ADDRESS})
    """The writes of a mitigation (undo marker, forward, reservation) and the arming of the self-revert timer before
    them go in one AND list (:meth:`write_batch`)."""

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        opts = self.options
        self.wan_option = self._ifname(opts.get("wan_interface"), "wan_interface")
        self.lan_option = self._ifname(opts.get("lan_interface"), "lan_interface")
        pid = opts.get("dnsmasq_pid")
        if pid is not None and (isinstance(pid, bool) or not (str(pid).isascii() and str(pid).isdecimal())):
            raise InvalidValue("dnsmasq_pid", pid, "a process id")
        self.pid_option = None if pid is None else int(pid)
        self.leases_option = None if opts.get("dnsmasq_leases") is None else _path(opts["dnsmasq_leases"],
                                                                                   "dnsmasq_leases")
        self.hosts_option = None if opts.get("dnsmasq_hostsfile") is None else _path(opts["dnsmasq_hostsfile"],
                                                                                     "dnsmasq_hostsfile")
        self.marker_file = MARKER_FILE if opts.get("undo_marker_file") is None else _path(
            opts["undo_marker_file"], "undo_marker_file")
        self.range_option: AddressRange | None = None
        if opts.get("dnsmasq_range"):
            text = str(opts["dnsmasq_range"]).replace("-", ",")
            first, _, last = text.partition(",")
            self.range_option = AddressRange(first.strip(), last.strip())
        self._discovery: Discovery | None = None
        self._ruleset = NftRuleset()
        self._wan: str | None = None
        self._wan_address: ipaddress.IPv4Address | None = None
        self._addresses: dict[str, list[ipaddress.IPv4Interface]] = {}
        self._facts: DeviceFacts | None = None
        self._lan: str | None = None
        self._network: ipaddress.IPv4Network | None = None
        minutes = opts.get("confirm_minutes", 10)
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 60:
            raise InvalidValue("confirm_minutes", minutes, "whole minutes from 1 to 60")
        self.confirm_minutes: int = minutes
        self.self_revert: bool = parse_bool(opts.get("self_revert", True), "self_revert")
        self._hold = False
        """The engine armed the self-revert (:meth:`hold_changes`) and the read-back has not confirmed yet."""
        self.pending_revert = False
        """This run's revert timer is (or may be: its answer was lost) running on the router."""
        self._revert_tables: set[tuple[str, str]] = set()
        """Tables saved for this run's revert timer (each once: its state before the run's first write to it)."""
        self._held: HeldWrites[list[str]] = HeldWrites()
        """Inside :meth:`write_batch`: each write's commands, held for the block's one AND list."""
        self._arm_held = False
        """The arming of the self-revert timer is held in the current batch, not sent yet."""

    @staticmethod
    def _ifname(value: object, name: str) -> str | None:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not _IFNAME.fullmatch(value):
            raise InvalidValue(name, value, "a network interface name")
        return value

    # --- session --------------------------------------------------------------------------------------

    def open(self) -> None:
        """Log in and set a fixed prompt and the C locale (stable output)."""
        super().open()
        session = self.session
        session.command(f"export LC_ALL=C PS1={shlex.quote(PROMPT)} PS2= PROMPT_COMMAND=",
                        timeout=self.timeouts.read, expect=re.compile(r"\[routerfix\]#"))
        session.prompt = re.compile(r"\[routerfix\]#")

    def _batch_marker(self, token: str) -> str:
        return f"echo {token} $?"

    def _run(self, commands: list[str]) -> list[str]:
        return self.send_many(commands)

    # --- discovery and reads ----------------------------------------------------------------------------

    def _discover(self, pids: str, tools: str) -> Discovery:
        found = Discovery()
        present = parse_tools(tools, ("arping", "busybox", "systemd-run"))
        found.arping = ("arping",) if "arping" in present else ("busybox", "arping") if "busybox" in present else None
        found.systemd_run = "systemd-run" in present and NO_SYSTEMD_INIT not in tools.split()
        found.revert_pending = REVERT_PENDING in tools.split()
        running = [int(p) for p in pids.split() if p.isascii() and p.isdecimal()]
        cfg = DnsmasqConfig()
        if self.pid_option is not None or len(running) <= 1:
            pid = self.pid_option if self.pid_option is not None else (running[0] if running else None)
            if pid is not None:
                argv = self.send(f"tr '\\0' '\\n' < /proc/{pid}/cmdline").split("\n")
                cfg = self._read_config(argv)
        else:
            pid, cfg = self._choose_dnsmasq(running)
        found.pid = pid
        found.config = cfg
        found.leasefile = self.leases_option or cfg.leasefile or DEFAULT_LEASES
        found.hostsfile = self.hosts_option or (cfg.hostsfiles[0] if cfg.hostsfiles else None)
        return found

    def _read_config(self, argv: list[str]) -> DnsmasqConfig:
        """dnsmasq's options: its command line, then its ``--conf-file`` (default /etc/dnsmasq.conf) and
        ``--conf-dir`` files, read in one batch."""
        cfg = parse_dnsmasq_args([a for a in argv if a != ""])
        reads = [f"cat {shlex.quote(f)} 2>/dev/null || true" for f in cfg.conf_files if f != "/dev/null"]
        reads += [f"cat {shlex.quote(d.rstrip('/'))}/* 2>/dev/null || true" for d in cfg.conf_dirs]
        if reads:
            for text in self.send_many(reads):
                parse_dnsmasq_conf(text, cfg, "dnsmasq configuration")
        return cfg

    def _choose_dnsmasq(self, running: list[int]) -> tuple[int, DnsmasqConfig]:
        """Several dnsmasq processes (containers, a second LAN): the one that serves the LAN, or a refusal that says
        which ``dnsmasq_pid=`` to pass. A process in another network namespace (``/proc/<pid>/ns/net``) serves
        another network stack; of the rest, a candidate must be able to serve a LAN interface of this host (its
        ``--interface``/``--except-interface`` and a ``dhcp-range`` inside that interface's network): the
        ``lan_interface`` option when given, else any interface but the WAN."""
        commands = [f"tr '\\0' '\\n' < /proc/{pid}/cmdline" for pid in running]
        commands += [f"readlink /proc/{pid}/ns/net 2>/dev/null || true" for pid in (*running, "self")]
        out = self._run(commands)
        own_ns = parse_netns(out[-1])
        namespaces = [parse_netns(text) for text in out[len(running):-1]]
        wan = self.wan_option or self._wan
        candidates: list[tuple[int, DnsmasqConfig, list[str]]] = []
        for pid, cmdline, netns in zip(running, out[: len(running)], namespaces, strict=True):
            if own_ns is not None and netns is not None and netns != own_ns:
                continue
            cfg = self._read_config(cmdline.split("\n"))
            served = [ifname for ifname, addrs in self._addresses.items()
                      if ifname != wan and ifname != "lo" and (self.lan_option in (None, ifname))
                      and any(cfg.may_serve(ifname, a.network) for a in addrs)]
            if served:
                candidates.append((pid, cfg, served))
        if len(candidates) == 1:
            return candidates[0][0], candidates[0][1]
        where = f"the LAN interface {self.lan_option}" if self.lan_option else "a LAN interface"
        if not candidates:
            raise UnsupportedOperation(
                f"none of the dnsmasq processes {', '.join(map(str, running))} serves {where} of this host: pass "
                f"dnsmasq_pid=<pid of the LAN's dnsmasq>", host=self.host, driver=self.name)
        listed = "; ".join(f"dnsmasq_pid={pid} (serves {', '.join(served)}; hostsfile "
                           f"{cfg.hostsfiles[0] if cfg.hostsfiles else 'none'})" for pid, cfg, served in candidates)
        raise UnsupportedOperation(
            f"several dnsmasq processes can serve {where}: pass the LAN's one as {listed}"
            + ("" if self.lan_option else ", or name the LAN as one of " + ", ".join(
                f"lan_interface={ifname}" for _, _, served in candidates for ifname in served)),
            host=self.host, driver=self.name)

    def _capabilities(self, discovery: Discovery) -> Capabilities:
        """:data:`_BASE` narrowed to this router: no reservation without a hostsfile, probing only with an arping
        and a known LAN interface."""
        features = set(_BASE.features)
        notes = list(_BASE.notes)
        if discovery.hostsfile is None:
            features.discard(Feature.DHCP_RESERVATION)
            notes.append("dnsmasq runs without --dhcp-hostsfile: the sink cannot be reserved without a restart; pass "
                         "dnsmasq_hostsfile= after adding one")
        if discovery.arping is not None and self._lan is not None:
            features.add(Feature.PROBE)
            notes.append(f"candidate sinks are probed with '{' '.join(discovery.arping)} -D' on {self._lan}")
        elif discovery.arping is None:
            notes.append("no arping on the router (iputils-arping or busybox): candidate sinks cannot be probed")
        else:
            notes.append("the LAN interface is unknown (pass lan_interface=): candidate sinks cannot be probed")
        return _BASE.replace(features=frozenset(features), notes=tuple(notes))

    def read_state(self) -> DeviceState:
        """One batch for the tables and addresses (plus one or two for dnsmasq discovery on the first read, whose
        first batch also asks which arping exists)."""
        first = self._discovery is None
        commands = ["uname -nr", "nft -j list ruleset 2>/dev/null", "ip -4 -o addr show", "ip -4 route show default",
                    "ip -4 neigh show",
                    # at most one byte more than a marker may hold, ended by a newline of its own (L50)
                    f"head -c {MAX_MARKER_BYTES + 1} {shlex.quote(self.marker_file)} 2>/dev/null; echo"]
        if first:
            commands += ["pidof dnsmasq || true", TOOLS_COMMAND]
        else:
            assert self._discovery is not None
            commands += self._file_reads(self._discovery)
        out = self._run(commands)
        self._addresses = parse_addresses(out[2])
        self._wan = self.wan_option or parse_default_route(out[3])
        marker, marker_warning = parse_marker(out[5], self.marker_file)
        if first:
            self._discovery = self._discover(out[6], out[7])
            extra = self._run(self._file_reads(self._discovery))
            files = extra
        else:
            files = out[6:]
        discovery = self._discovery
        assert discovery is not None
        self._parse_facts(out[0])
        self._ruleset = parse_nft_json(out[1])
        wan_addrs = self._addresses.get(self._wan or "", [])
        self._wan_address = wan_addrs[0].ip if wan_addrs else None
        scope = self._scope(discovery, files[1] if discovery.hostsfile else "")
        self.capabilities = self._capabilities(discovery)
        return DeviceState(
            facts=self._facts or DeviceFacts("Linux", "nftables + dnsmasq router"), capabilities=self.capabilities,
            forwards=self._forwards(), scope=scope, leases=tuple(parse_leases(files[0])),
            neighbours=tuple(parse_neighbours(out[4])), undo_marker=marker, marker_warning=marker_warning)

    @staticmethod
    def _file_reads(discovery: Discovery) -> list[str]:
        reads = [f"cat {shlex.quote(discovery.leasefile)} 2>/dev/null || true"]
        if discovery.hostsfile:
            reads.append(f"cat {shlex.quote(discovery.hostsfile)} 2>/dev/null || true")
        return reads

    def _parse_facts(self, uname: str) -> None:
        parts = uname.split()
        self._facts = DeviceFacts("Linux", "nftables + dnsmasq router", parts[1] if len(parts) > 1 else "",
                                  parts[0] if parts else "")

    def facts(self) -> DeviceFacts:
        """Kernel release and host name."""
        self._parse_facts(self.send("uname -nr"))
        assert self._facts is not None
        return self._facts

    def _scope(self, discovery: Discovery, hosts_text: str) -> DhcpScope:
        cfg = discovery.config
        if self.range_option is not None:
            pool = self.range_option
            mask = ""
        elif cfg.ranges:
            start, end, mask = cfg.ranges[0]
            pool = AddressRange(start, end)
        else:
            raise ParseError("dnsmasq configuration", "no dhcp-range found (pass dnsmasq_range=first,last)",
                             host=self.host, driver=self.name)
        network: ipaddress.IPv4Network | None = None
        gateway: ipaddress.IPv4Address | None = None
        lan: str | None = None
        for ifname, addrs in self._addresses.items():
            if self.lan_option and ifname != self.lan_option:
                continue
            for addr in addrs:
                if pool.first in addr.network:
                    network, gateway, lan = addr.network, addr.ip, ifname
                    break
            if network is not None:
                break
        if lan is None:
            lan = self.lan_option or (cfg.interfaces[0] if len(cfg.interfaces) == 1 else None)
        self._lan = lan if lan and _IFNAME.fullmatch(lan) else None
        self._network = network
        if network is None and mask:
            network = ipaddress.IPv4Network(f"{pool.first}/{mask}", strict=False)
        if gateway is None and cfg.router:
            gateway = ipaddress.IPv4Address(cfg.router)
        if network is None or gateway is None:
            raise ParseError("ip -4 -o addr show", f"no LAN interface holds the DHCP range {pool}",
                             host=self.host, driver=self.name)
        reservations = [*cfg.hosts, *parse_hostsfile(hosts_text)]
        return DhcpScope(network, gateway, (pool,), tuple(reservations))

    def _forwards(self) -> tuple[PortForward, ...]:
        return tuple(r.forward for r in self._ruleset.rules if r.forward is not None)

    def _refresh_ruleset(self) -> None:
        self._ruleset = parse_nft_json(self.send("nft -j list ruleset 2>/dev/null"))

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """Every dnat rule of every prerouting nat chain that matches tcp/udp ports (ours and the others)."""
        self._refresh_ruleset()
        return self._forwards()

    def get_dhcp_scope(self) -> DhcpScope:
        """dnsmasq's range, the LAN network and reservations (dhcp-host lines and the hostsfile)."""
        return self.read_state().scope or self._scope(Discovery(), "")

    def list_leases(self) -> tuple[Lease, ...]:
        """dnsmasq's lease file."""
        return self.read_state().leases

    def list_neighbours(self) -> tuple[Neighbour, ...]:
        """``ip -4 neigh``."""
        return tuple(parse_neighbours(self.send("ip -4 neigh show")))

    def _capture(self, seconds: float, max_packets: int) -> LiveCapture:
        """tcpdump on the WAN and LAN interfaces at once (:mod:`.capture`)."""
        from .capture import capture

        if self._wan is None or self._lan is None:
            self.read_state()
        return capture(self, self._wan, self._lan, seconds, max_packets)

    def probe_address(self, address: ipaddress.IPv4Address) -> bool:
        """ARP duplicate-address detection from the router's LAN interface: True when any host answered for
        ``address`` (in use), False when none did within 2 s. One round trip:
        ``arping -D -c 2 -w 2 -I <lan> <address> 2>&1; echo rfx-arping-exit $?`` (or ``busybox arping``).
        ``address`` must be an IPv4 host address of the LAN; anything else is refused before the device is asked."""
        if isinstance(address, bool) or not isinstance(address, (str, ipaddress.IPv4Address)):
            raise InvalidValue("address", address, "an IPv4 address")
        try:
            target = ipaddress.IPv4Address(address)
        except ValueError:
            raise InvalidValue("address", address, "an IPv4 address") from None
        if self._discovery is None:
            self.read_state()
        discovery = self._discovery
        assert discovery is not None
        if Feature.PROBE not in self.capabilities or discovery.arping is None or self._lan is None:
            raise self._unsupported("probing addresses (no arping on the router, or no known LAN interface)")
        network = self._network
        if network is None or target not in network or target in (network.network_address,
                                                                  network.broadcast_address):
            raise InvalidValue("address", str(target), f"a host address of the LAN {network}")
        argv = [*discovery.arping, "-D", "-c", str(PROBE_COUNT), "-w", str(PROBE_WAIT), "-I", self._lan, str(target)]
        command = " ".join(shlex.quote(a) for a in argv) + f" 2>&1; echo {ARPING_EXIT} $?"
        output = self.send(command, timeout=max(self.timeouts.read, PROBE_WAIT + 2.0))
        tool = " ".join(discovery.arping)
        result = parse_arping(output, f"{tool} -D")
        if result.status not in (0, 1):
            raise DeviceError(f"{tool} failed (exit status {result.status})",
                              device_message=result.message[-300:] or f"exit status {result.status}",
                              host=self.host, driver=self.name)
        if result.received is None:
            raise ParseError(f"{tool} -D", "no 'Received N response(s)' line (is it iputils or busybox arping, and "
                             f"can it send on {self._lan}?): {result.message[-200:]!r}", host=self.host,
                             driver=self.name)
        return result.received > 0

    def _need_wan(self) -> str:
        if self._wan is None:
            self.read_state()
        if self._wan is None:
            raise UnsupportedOperation("no WAN interface found (no default route): pass wan_interface=",
                                       host=self.host, driver=self.name)
        return self._wan

    # --- held changes: the self-revert timer (L38-L40) ----------------------------------------------------

    def hold_changes(self) -> None:
        """Arm the self-revert timer for the coming writes (started before the first of them), unless the
        ``self_revert`` option is false."""
        self._hold = self.self_revert

    def _arm_revert(self) -> None:
        """Before a write of an armed run: save the ruleset and the hostsfile under /run and start the timer that
        loads them back after ``confirm_minutes`` unless :meth:`verify_state` stops it."""
        self._write([], arm=True)

    def _arm_commands(self) -> list[str]:
        """The commands that arm the self-revert timer (:meth:`_arm_revert`), the last one ``systemd-run``; none
        when the run is not armed or already is. From here the timer counts as started (a lost answer may still
        have started it)."""
        if not self._hold or self.pending_revert:
            return []
        if self._discovery is None:
            self.read_state()
        discovery = self._discovery
        assert discovery is not None
        if not discovery.systemd_run:
            log.warning("%s: no systemd-run, or systemd is not the running init: changes are not held by a "
                        "self-revert timer; relying on "
                        "the engine's rollback only", self.host)
            self._hold = False
            return []
        if discovery.revert_pending:  # refuse before the revert files are written: they are that timer's (L39)
            raise self._pending_error("")
        script = f"nft -f {REVERT_RULESET}; test -e {REVERT_OTHER} && nft -f {REVERT_OTHER}"
        present = (FAMILY, TABLE) in self._ruleset.tables
        commands = [f"rm -f {REVERT_OTHER}", *self._save_table(FAMILY, TABLE, present=present, first=True)]
        if discovery.hostsfile and discovery.pid is not None:
            hosts = shlex.quote(discovery.hostsfile)
            commands.append(f"cp {hosts} {REVERT_HOSTS}")
            script += f"; cp {REVERT_HOSTS} {hosts}; kill -HUP {discovery.pid}"
        commands.append(f"systemd-run --unit={REVERT_UNIT} --on-active={60 * self.confirm_minutes} /bin/sh -c "
                        f"{shlex.quote(script)}")
        self.pending_revert = True  # set before sending: a lost answer may still have started the timer
        return commands

    @contextlib.contextmanager
    def write_batch(self) -> Iterator[None]:
        """Hold the block's writes and send them, after the arming of the self-revert timer when this run has not
        armed it yet, as one AND list at its end: nothing after a failed command runs (L48). An exception inside
        sends nothing."""
        with self._held.block(self._send_held, on_drop=self._drop_held):
            yield

    def _drop_held(self) -> None:
        if self._arm_held:  # the arming was never sent: no timer was started
            self.pending_revert = self._arm_held = False

    def _send_held(self, held: list[list[str]]) -> None:
        self._arm_held = False
        self._send_writes([c for commands in held for c in commands])

    def _write(self, commands: list[str], *, arm: bool = True) -> None:
        """Send ``commands`` as one AND list, after the arming of the self-revert timer when ``arm`` and the run
        has not armed it yet; inside :meth:`write_batch`, hold them for the block's list."""
        head = self._arm_commands() if arm else []
        if self._held.hold([[*head, *commands]]):
            self._arm_held = self._arm_held or bool(head)
        else:
            self._send_writes([*head, *commands])

    def _send_writes(self, commands: list[str]) -> None:
        """``commands`` as one AND list (L48). Where it arms the self-revert timer, its ``systemd-run`` starts it:
        a failure before it leaves no timer; a unit already there is an earlier run's pending timer (L39)."""
        if not commands:
            return
        outputs, done = self.run_chain(commands)
        timer = next((i for i, c in enumerate(commands) if c.startswith("systemd-run ")), None)
        if done < len(commands) and timer is not None:
            if done < timer:
                self.pending_revert = False
            elif done == timer and "already" in outputs[done]:
                self.pending_revert = False
                raise self._pending_error(" ".join(outputs[done].split())[-300:])
        self.check_chain(commands, outputs, done)

    def _pending_error(self, device_message: str) -> DeviceError:
        return DeviceError(
            f"a self-revert timer of an earlier, interrupted routerfix run is still pending ({REVERT_UNIT}.timer): "
            f"it puts back the configuration from before that run when it fires; wait for it, or stop it "
            f"(systemctl stop {REVERT_UNIT}.timer) and run `routerfix undo`, then run again",
            device_message=device_message, host=self.host, driver=self.name)

    def _save_table(self, family: str, table: str, *, present: bool, first: bool = False) -> list[str]:
        """Commands that add one table's restore to a revert file: ``add table`` + ``delete table`` (so the
        delete never fails on a missing table, L44), then its listing as it is now, if it exists (L40). routerfix's
        own table has :data:`REVERT_RULESET` to itself; any other goes to :data:`REVERT_OTHER`, its own ``nft -f``."""
        if first:
            self._revert_tables = set()
        own = (family, table) == (FAMILY, TABLE)
        path = REVERT_RULESET if own else REVERT_OTHER
        new_file = first if own else not any(t != (FAMILY, TABLE) for t in self._revert_tables)
        self._revert_tables.add((family, table))
        start = f"printf 'add table {family} {table}\\ndelete table {family} {table}\\n' {'>' if new_file else '>>'} " \
                f"{path}"
        return [start] + ([f"nft list table {family} {table} >> {path}"] if present else [])

    def _save_other_table(self, family: str, table: str) -> None:
        """Save another table for the revert before a forward is deleted from it, and check (``nft -c -f``, nothing
        applied: L52) that the saved text would load back: if it would not, the timer could not put the forward back,
        so it is not deleted."""
        try:
            self._run([*self._save_table(family, table, present=True), f"nft -c -f {REVERT_OTHER}"])
        except DeviceError as exc:
            raise DeviceError(
                f"table {family} {table}, saved for the self-revert before replacing a forward in it, would not load "
                f"back (nft -c -f {REVERT_OTHER}): the forward was left in place; remove it by hand, or run with "
                f"self_revert=false", device_message=exc.device_message, host=self.host, driver=self.name) from None

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """Read back; when it matches ``expected`` and this run's revert timer is pending, stop it: the change is
        kept (L39)."""
        state = self.read_state()
        if self.pending_revert and managed_view(state) == managed_view(expected):
            self.send(f"systemctl stop {REVERT_UNIT}.timer 2>&1 || true")
            self.pending_revert = False
            self._hold = False
        return state

    # --- writes -----------------------------------------------------------------------------------------

    @staticmethod
    def _table_setup() -> str:
        return (f"add table {FAMILY} {TABLE}; add chain {FAMILY} {TABLE} {CHAIN} "
                f"{{ type nat hook prerouting priority dstnat - 10; policy accept; }}")

    @staticmethod
    def _rule_text(wan: str, forward: PortForward) -> str:
        if forward.protocol is Protocol.BOTH:
            match = f"meta l4proto {{ tcp, udp }} th dport {forward.external_ports}"
        else:
            match = f"{forward.protocol.value} dport {forward.external_ports}"
        target = str(forward.internal_address)
        if forward.internal_ports != forward.external_ports:
            target += f":{forward.internal_ports}"
        return f'iifname "{wan}" {match} dnat to {target} comment "{forward.name}"'

    def _add_port_forward(self, forward: PortForward) -> None:
        check_device_name(forward.name, "forward name")
        if not forward.enabled:
            raise InvalidValue("enabled", False, "True: nftables rules have no disabled state")
        wan = self._need_wan()
        script = f"{self._table_setup()}; add rule {FAMILY} {TABLE} {CHAIN} {self._rule_text(wan, forward)}"
        self._write([f"nft {shlex.quote(script)}"])

    def _remove_port_forward(self, forward: PortForward) -> None:
        self._arm_revert()
        self._refresh_ruleset()
        for rule in self._ruleset.rules:
            if rule.forward is None or rule.forward.key() != forward.key():
                continue
            for part, what in ((rule.family, "family"), (rule.table, "table"), (rule.chain, "chain")):
                if not re.fullmatch(r"[A-Za-z0-9_.-]+", part):
                    raise UnsupportedOperation(f"the rule is in a {what} routerfix cannot name safely ({part!r}); "
                                               f"remove it by hand", host=self.host, driver=self.name)
            ours = (rule.family, rule.table) == (FAMILY, TABLE)
            if self.pending_revert and (rule.family, rule.table) not in self._revert_tables:
                self._save_other_table(rule.family, rule.table)
            left = [r for r in self._ruleset.raw_rules if (r.get("family"), r.get("table"), r.get("chain")) ==
                    (FAMILY, TABLE, CHAIN) and r.get("handle") != rule.handle]
            if ours and not left:
                script = f"delete table {FAMILY} {TABLE}"
            else:
                script = f"delete rule {rule.family} {rule.table} {rule.chain} handle {rule.handle}"
            self.send(f"nft {shlex.quote(script)}")
            return

    def _save_undo_marker(self, text: str) -> None:
        """One ``&&`` list: a temporary file in the same directory, ``chmod 600`` before it is renamed over the
        marker (L48-L51). No ``umask``: it would stay set for the rest of the session (L49)."""
        path = shlex.quote(self.marker_file)
        tmp = shlex.quote(f"{self.marker_file}.tmp")
        directory = shlex.quote(posixpath.dirname(self.marker_file) or "/")
        self._write([f"mkdir -p {directory}", f"printf '%s\\n' {shlex.quote(text)} > {tmp}", f"chmod 600 {tmp}",
                     f"mv -f {tmp} {path}"], arm=False)

    def _clear_undo_marker(self) -> None:
        self.send(f"rm -f {shlex.quote(self.marker_file)}")

    def _hosts_line(self, reservation: Reservation) -> str:
        return f"{reservation.mac},{reservation.address},{reservation.name}".rstrip(",")

    def _reload(self, discovery: Discovery) -> str:
        if discovery.pid is None:
            raise UnsupportedOperation("dnsmasq is not running: cannot reload its hostsfile", host=self.host,
                                       driver=self.name)
        return f"kill -HUP {discovery.pid}"

    def _hostsfile(self) -> tuple[Discovery, str]:
        if self._discovery is None:
            self.read_state()
        discovery = self._discovery
        assert discovery is not None
        if discovery.hostsfile is None:
            raise UnsupportedOperation("dnsmasq has no --dhcp-hostsfile", host=self.host, driver=self.name)
        return discovery, discovery.hostsfile

    def _reserve_address(self, reservation: Reservation) -> None:
        check_device_name(reservation.name, "reservation name")
        discovery, path = self._hostsfile()
        self._write([f"printf '%s\\n' {shlex.quote(self._hosts_line(reservation))} >> {shlex.quote(path)}",
                     self._reload(discovery)])

    def _release_address(self, reservation: Reservation) -> None:
        self._arm_revert()
        discovery, path = self._hostsfile()
        pattern = re.escape(f"{reservation.mac},{reservation.address}")
        program = "/^" + pattern + "\\(,.*\\)\\?$/d"
        self.send_many([f"sed -i {shlex.quote(program)} {shlex.quote(path)}", self._reload(discovery)])

    def _flush_connections(self, ports: tuple[int, ...]) -> int:
        """Delete inbound conntrack entries to the WAN address on ``ports`` (udp and tcp), then guard late answers.

        A phone still answering a scanner after the flush opens a LAN-initiated flow
        ``phone:5060 → scanner`` that masquerade maps to WAN:5060, and the scanner's packets then arrive as
        replies, never meeting the forward. So: (1) the scanners are the sources of the deleted inbound entries;
        (2) flows from the LAN to those addresses are deleted too (never the phone's flow to its registrar, which
        did not come in from outside); (3) so that such a flow cannot form again, routerfix's table gets a set of
        those scanner addresses (1 h timeout) and a ``srcnat - 10`` chain that masquerades flows *to them* onto
        random high ports instead of WAN:5060/5061 (L26, L27). That only changes the public source port of traffic
        towards scanners; everything else keeps its mapping.
        """
        if self._wan_address is None:
            self.read_state()
        wan = self._wan_address
        if wan is None or self._wan is None:
            raise UnsupportedOperation("no WAN address known: pass wan_interface=", host=self.host, driver=self.name)
        commands = [f"conntrack -D -p {proto} --orig-dst {wan} --orig-port-dst {port} 2>&1 || true"
                    for proto in ("udp", "tcp") for port in ports]
        outputs = self._run(commands)
        deleted = [e for out in outputs for e in parse_conntrack(out)]
        scanners = sorted({e["src"] for e in deleted if _is_ipv4(e["src"]) and e["src"] != str(wan)},
                          key=lambda a: ipaddress.IPv4Address(a))
        if scanners:
            elements = ", ".join(scanners)
            script = (f"{self._table_setup()}; add set {FAMILY} {TABLE} {GUARD_SET} "
                      f"{{ type ipv4_addr; flags timeout; timeout 1h; }}; "
                      f"add chain {FAMILY} {TABLE} {GUARD_CHAIN} "
                      f"{{ type nat hook postrouting priority srcnat - 10; policy accept; }}; "
                      f"add element {FAMILY} {TABLE} {GUARD_SET} {{ {elements} }}")
            if not any(r.get("chain") == GUARD_CHAIN and r.get("table") == TABLE for r in self._ruleset.raw_rules):
                script += (f'; add rule {FAMILY} {TABLE} {GUARD_CHAIN} oifname "{self._wan}" ip daddr @{GUARD_SET} '
                           f'meta l4proto {{ tcp, udp }} masquerade to :20000-60999 random '
                           f'comment "routerfix-scanner-guard"')
            follow = [f"nft {shlex.quote(script)}"]
            follow += [f"conntrack -D -p {proto} --orig-dst {s} 2>&1 || true" for s in scanners
                       for proto in ("udp", "tcp")]
            outputs = self._run(follow)
            deleted += [e for out in outputs[1:] for e in parse_conntrack(out)]
            self._refresh_ruleset()
        return len(deleted)

    def backup(self) -> Backup:
        """Our nftables table (as replayable nft commands and as ``nft list table`` text) and the hostsfile."""
        if self._discovery is None:
            self.read_state()
        discovery = self._discovery
        assert discovery is not None
        commands = [f"nft list table {FAMILY} {TABLE} 2>/dev/null || true", f"nft -j list table {FAMILY} {TABLE} "
                    f"2>/dev/null || true"]
        if discovery.hostsfile:
            commands.append(f"cat {shlex.quote(discovery.hostsfile)} 2>/dev/null || true")
        out = self._run(commands)
        data = {"table_text": out[0], "commands": _replay(parse_nft_json(out[1]).raw_rules, out[1]),
                "hostsfile": discovery.hostsfile, "hosts": out[2] if discovery.hostsfile else None}
        return Backup(self.name, "routerfix-linux-v1", json.dumps(data), time.time())

    def _restore(self, backup: Backup) -> None:
        try:
            data = json.loads(backup.text)
            commands = list(data["commands"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidValue("backup", backup.format, f"a routerfix linux backup ({exc})") from None
        script = f"add table {FAMILY} {TABLE}; delete table {FAMILY} {TABLE}"
        if commands:
            script += "; " + "; ".join(commands)
        steps = [f"nft {shlex.quote(script)}"]
        discovery = self._discovery
        if data.get("hostsfile") and data.get("hosts") is not None and discovery is not None:
            lines = [line for line in str(data["hosts"]).split("\n") if line.strip()]
            quoted = " ".join(shlex.quote(line) for line in lines)
            steps.append(f"printf '%s\\n' {quoted} > {shlex.quote(data['hostsfile'])}" if lines
                         else f": > {shlex.quote(data['hostsfile'])}")
            steps.append(self._reload(discovery))
        self._run(steps)


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _replay(rules: list[dict[str, Any]], text: str) -> list[str]:
    """nft commands that rebuild our table from its JSON listing (chains, sets, rules we wrote)."""
    if not text.strip():
        return []
    try:
        items = json.loads(text).get("nftables", [])
    except ValueError:
        raise ParseError("nft -j list table", "not JSON") from None
    out: list[str] = [f"add table {FAMILY} {TABLE}"]
    for item in items:
        chain = item.get("chain") if isinstance(item, dict) else None
        if isinstance(chain, dict) and chain.get("table") == TABLE:
            hook = chain.get("hook")
            if hook == "prerouting":
                out.append(f"add chain {FAMILY} {TABLE} {CHAIN} {{ type nat hook prerouting priority dstnat - 10; "
                           f"policy accept; }}")
            elif hook == "postrouting":
                out.append(f"add chain {FAMILY} {TABLE} {GUARD_CHAIN} {{ type nat hook postrouting priority "
                           f"srcnat - 10; policy accept; }}")
        nset = item.get("set") if isinstance(item, dict) else None
        if isinstance(nset, dict) and nset.get("table") == TABLE:
            out.append(f"add set {FAMILY} {TABLE} {GUARD_SET} {{ type ipv4_addr; flags timeout; timeout 1h; }}")
            elements = []
            for elem in nset.get("elem") or []:
                value = elem.get("elem", {}).get("val") if isinstance(elem, dict) else elem
                if isinstance(value, str) and _is_ipv4(value):
                    elements.append(value)
            if elements:
                out.append(f"add element {FAMILY} {TABLE} {GUARD_SET} {{ {', '.join(elements)} }}")
    for rule in rules:
        if rule.get("table") != TABLE:
            continue
        parsed = parse_nft_json(json.dumps({"nftables": [{"chain": {"family": FAMILY, "table": TABLE,
                                                                      "name": CHAIN, "type": "nat",
                                                                      "hook": "prerouting"}},
                                                          {"rule": rule}]}))
        for found in parsed.rules:
            if found.forward is not None:
                wan = _iifname(rule)
                if wan is None:
                    raise DeviceError("cannot back up a routerfix rule without iifname",
                                      device_message=json.dumps(rule)[:200])
                out.append(f"add rule {FAMILY} {TABLE} {CHAIN} {LinuxDriver._rule_text(wan, found.forward)}")
        if rule.get("chain") == GUARD_CHAIN:
            wan = _iifname(rule, "oifname")
            if wan is not None:
                out.append(f'add rule {FAMILY} {TABLE} {GUARD_CHAIN} oifname "{wan}" ip daddr @{GUARD_SET} '
                           f'meta l4proto {{ tcp, udp }} masquerade to :20000-60999 random '
                           f'comment "routerfix-scanner-guard"')
    return out


def _iifname(rule: dict[str, Any], key: str = "iifname") -> str | None:
    for expr in rule.get("expr", []):
        match = expr.get("match") if isinstance(expr, dict) else None
        if isinstance(match, dict) and isinstance(match.get("left"), dict) and \
                match["left"].get("meta", {}).get("key") == key and isinstance(match.get("right"), str) and \
                _IFNAME.fullmatch(match["right"]):
            return str(match["right"])
    return None
