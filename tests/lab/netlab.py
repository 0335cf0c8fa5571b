"""A ghost-call lab built from real programs inside network namespaces (see docs/lab.md).

Topology (only TEST-NET and a private LAN, all inside namespaces this module creates)::

    attacker 198.51.100.166 ─┐
    provider 198.51.100.10  ─┼─ br0 in "inet" (forwards) ── 203.0.113.1 ─── wan0 203.0.113.2  router
                                                                              br-lan 192.168.88.1
                                                                              ├─ phone (DHCP)
                                                                              ├─ pc    (DHCP, runs routerfix)
                                                                              └─ newN  (DHCP clients made later)

The router runs nftables (input/forward policy drop, masquerade; "open" NAT adds an endpoint-independent
UDP mapping table: any new inbound UDP flow to a WAN port is sent to the LAN endpoint that last sent from it),
dnsmasq (``--conf-file=/dev/null --port=0``, leases file,
``--dhcp-hostsfile``) and sshd on :22, both inside the router's own PID namespace so that the router sees
only its own processes. Each veth is created directly inside its two namespaces, so no interface ever exists in
the root namespace. Every command has a timeout, every wait a deadline, every process is ended by its PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
ROOT = HERE.parent.parent
PYTHON = sys.executable

WAN_ADDR = "203.0.113.2"
INET_WAN_ADDR = "203.0.113.1"
INET_ADDR = "198.51.100.1"
ATTACKER_ADDR = "198.51.100.166"
PROVIDER_ADDR = "198.51.100.10"
LAN_NET = "192.168.88.0/24"
LAN_GW = "192.168.88.1"
POOL_FIRST = "192.168.88.100"
POOL_LAST = "192.168.88.250"
PHONE_MAC = "80:5e:c0:12:34:56"
LAN_MAC = "02:00:00:00:0a:fe"
"""The router's LAN bridge address, set explicitly. A Linux bridge whose address was never set takes the lowest
address of its ports and recomputes it whenever a port comes or goes (torvalds/linux: net/bridge/br_stp_if.c,
``br_stp_recalculate_bridge_id``: "user has chosen a value so keep it" only once it was set). The router-side
veth of a throwaway LAN device has a random address; when it was the lowest, the gateway's MAC changed while the
device was plugged in, the phone learnt it (from the router's next ARP), and once the device was removed the phone
sent to a MAC that no longer existed until its neighbour entry timed out (24 s measured): no registration, so
``reset_router`` timed out. A real router's LAN MAC does not change when a device is plugged in."""
LOW_PORT_MAC = "02:00:00:00:00:01"
"""A router-side port address lower than :data:`LAN_MAC` and than any random veth address (for the test that the
LAN MAC stays put)."""
PC_MAC = "02:00:00:00:0a:01"
PRINTER_RESERVATION = "02:11:22:33:44:55,192.168.88.20,printer"
"""A customer's own DHCP reservation that must survive apply and undo."""

PHONE_CYCLE_PERIOD = 2.0
"""Seconds between two registration cycles of the phone: sipp ``-r 1 -rp 2000`` starts one call every 2 s."""
PHONE_ANSWER_TIMEOUT = 4.0
"""Seconds the phone waits for the registrar's 200 and then for its qualify OPTIONS (the ``timeout="4000"`` of the
two ``recv`` of ``scenarios/phone_register.xml``): a cycle has completed or failed this long after each step."""
RING_ANSWER_DELAY = 0.8
"""Seconds from the phone's 180 Ringing to its 486 Busy Here (the CANCEL ``recv`` timeout of
``scenarios/phone_ooc.xml``)."""
CYCLE_DEADLINE_SLACK = 2.0
"""Scheduling slack per wait on a busy 2-core machine (sipp's timers and this process both run late)."""

REQUIRED_TOOLS = ("ip", "nft", "dnsmasq", "sipp", "sshd", "ssh-keygen", "conntrack", "busybox", "unshare",
                  "nsenter", "tcpdump")

T = TypeVar("T")

REPORT: list[str] = []
"""Lines of the lab report, added by the tests, printed at the end of the run (see conftest.py)."""


def report(line: str) -> None:
    """Add a line to the lab report printed at the end of the test run."""
    REPORT.append(line)


class LabError(RuntimeError):
    """The lab could not be built or a lab step failed."""


def root_links() -> list[str]:
    """Interface names of the root network namespace (the lab must never add one)."""
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, timeout=10).stdout
    return sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line)


def missing_prerequisites() -> str | None:
    """Why the lab cannot run here (None when it can): root, tools, namespaces."""
    if os.geteuid() != 0:
        return "the ghost-call lab needs root to create network namespaces (run as root, as CI does)"
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t, path=path) is None]
    for script in ("sipvicious_svmap", "sipvicious_svwar"):
        if not (Path(PYTHON).parent / script).exists() and shutil.which(script) is None:
            missing.append(script)
    if missing:
        return f"lab tools missing: {', '.join(missing)} (run tests/lab/INSTALL.sh as root)"
    probe = f"rfxprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=10)
    if made.returncode != 0:
        return f"cannot create a network namespace here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10)
    return None


def wait_for(what: str, check: Callable[[], T | None], timeout: float, interval: float = 0.1) -> T:
    """Poll ``check`` until it returns something truthy, or raise LabError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise LabError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def cycle_deadline(count: int) -> float:
    """Seconds within which ``count`` registration cycles started from now have completed on a working lab: the
    phone starts the first within one period and the ``count``-th ``count - 1`` periods later; each completes, or is
    given up by the phone itself, within its two answer timeouts; plus scheduling slack."""
    return count * PHONE_CYCLE_PERIOD + 2 * PHONE_ANSWER_TIMEOUT + CYCLE_DEADLINE_SLACK


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@dataclass
class Proc:
    """A long-running lab process, started by :meth:`Lab.spawn`, ended by its PID."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        """The PID of the process we started (``ip netns exec`` execs into the program)."""
        return self.popen.pid

    def running(self) -> bool:
        """True while the process has not exited."""
        return self.popen.poll() is None and pid_alive(self.pid)

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; reaps it. Never signals any other PID."""
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=5)

    def wait(self, timeout: float) -> int:
        """Wait for exit (bounded); on timeout stop it. Returns the exit code."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise LabError(f"{self.name} did not finish within {timeout:.0f} s") from None

    def output(self) -> str:
        """What the process wrote to its log so far."""
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


@dataclass
class Counters:
    """Packets seen entering the phone's namespace, by source (nft counters inside the phone)."""

    attacker_udp: int = 0
    attacker_tcp: int = 0
    provider_udp: int = 0

    @property
    def attacker(self) -> int:
        """Attacker packets, UDP and TCP."""
        return self.attacker_udp + self.attacker_tcp

    def __sub__(self, other: Counters) -> Counters:
        return Counters(self.attacker_udp - other.attacker_udp, self.attacker_tcp - other.attacker_tcp,
                        self.provider_udp - other.provider_udp)


@dataclass
class PhoneLog:
    """What the phone and the provider logged: rings, registrations, qualify OPTIONS answered, and the Call-IDs of
    the registration cycles the phone started and of those that went all the way round."""

    rings: list[str] = field(default_factory=list)
    registered: int = 0
    qualified: int = 0
    provider_qualify_ok: int = 0
    started: list[str] = field(default_factory=list)
    """Call-IDs of the phone's registration cycles, in the order it started them."""
    completed: frozenset[str] = frozenset()
    """Call-IDs of the cycles that were registered, then qualified by the provider, answered and seen answered."""
    unanswered: frozenset[str] = frozenset()
    """Call-IDs of INVITEs the phone rang for and has not yet sent its final answer to (486, or 487 after a
    CANCEL): a reply it still owes, which leaves the phone up to 0.8 s later."""

    def __sub__(self, other: PhoneLog) -> PhoneLog:
        started = self.started[len(other.started):]
        return PhoneLog(self.rings[len(other.rings):], self.registered - other.registered,
                        self.qualified - other.qualified, self.provider_qualify_ok - other.provider_qualify_ok,
                        started, self.completed.intersection(started), self.unanswered)

    @property
    def cycles(self) -> int:
        """Cycles started (in a difference: after the earlier log) that completed."""
        return len(self.completed.intersection(self.started))


def router_ruleset(mode: str) -> str:
    """The router's baseline nftables ruleset; ``mode`` "open" adds endpoint-independent UDP filtering."""
    base = """
table inet filter {
    chain input {
        type filter hook input priority filter; policy drop;
        ct state established,related accept
        iifname "lo" accept
        iifname "br-lan" accept
        icmp type { echo-request, destination-unreachable, time-exceeded } accept
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "br-lan" oifname "wan0" accept
        iifname "wan0" ct status dnat accept
    }
}
table ip nat {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan0" masquerade
    }
}
"""
    if mode == "secure":
        return base
    if mode != "open":
        raise ValueError(f"NAT mode {mode!r}: 'open' or 'secure'")
    return base + f"""
table ip opennat {{
    map udp_eim {{
        type inet_service : ipv4_addr . inet_service
        flags dynamic,timeout
        timeout 180s
    }}
    chain learn {{
        type filter hook postrouting priority srcnat + 10; policy accept;
        oifname "wan0" meta l4proto udp ct direction original ct original ip saddr {LAN_NET} \\
            update @udp_eim {{ ct reply proto-dst : ct original ip saddr . ct original proto-src }}
    }}
    chain inbound {{
        type nat hook prerouting priority dstnat; policy accept;
        iifname "wan0" ip daddr {WAN_ADDR} ct state new dnat to udp dport map @udp_eim
    }}
}}
"""


REFERENCE_SINK = POOL_LAST


def reference_fix(*, guard: bool) -> str:
    """The mitigation written by hand, as an nftables table (what the lab expects a Linux driver to install).

    - ``prerouting`` at priority dstnat - 10, before the open-NAT mapping (whose dnat at priority dstnat would
      otherwise decide first; nftables runs base chains of one hook in priority order): WAN 5060-5061,
      TCP and UDP, to the unused sink address;
    - with ``guard``, a ``forward`` chain that drops a *new* LAN-to-WAN UDP flow from SIP port 5060-5061 whose
      first packet is a SIP response ("SIP/2.0 " at the start of the payload). Such a flow only forms when a
      phone answers a request whose inbound flow was just deleted (the conntrack flush): if it were let out,
      masquerade would map it back to WAN:5060 and the scanner's next packets, being *replies* of that flow,
      would never meet the forward and would ring the phone again (the "flush-only" case of
      ``test_reference_fix_during_a_scan_needs_the_reply_guard`` shows it). A phone's own flows
      start with a request (REGISTER, OPTIONS keepalive, INVITE), so they are never touched; TCP gets the usual
      "new flow must start with SYN" rule for the same reason.
    """
    guard_chain = """
    chain guard {
        type filter hook forward priority filter - 10; policy accept;
        iifname != "wan0" oifname "wan0" ct state new udp sport 5060-5061 @th,64,64 0x5349502f322e3020 drop
        iifname != "wan0" oifname "wan0" ct state new tcp sport 5060-5061 tcp flags & (syn | ack) != syn drop
    }""" if guard else ""
    return f"""
table ip labfix {{
    chain prerouting {{
        type nat hook prerouting priority dstnat - 10; policy accept;
        iifname "wan0" meta l4proto {{ tcp, udp }} th dport 5060-5061 dnat to {REFERENCE_SINK}
    }}{guard_chain}
}}
"""


COUNTER_TABLE = f"""
table inet rfxcount {{
    counter attacker_udp {{ }}
    counter attacker_tcp {{ }}
    counter provider_udp {{ }}
    chain prerouting {{
        type filter hook prerouting priority raw - 10; policy accept;
        ip saddr {ATTACKER_ADDR} meta l4proto udp counter name "attacker_udp"
        ip saddr {ATTACKER_ADDR} meta l4proto tcp counter name "attacker_tcp"
        ip saddr {PROVIDER_ADDR} meta l4proto udp counter name "provider_udp"
    }}
}}
"""

SQUATTER_MAC = "02:00:00:00:0c:01"
SQUATTER_COUNTERS = f"""
table inet rfxsquat {{
    counter attacker {{ }}
    counter sip {{ }}
    chain prerouting {{
        type filter hook prerouting priority raw - 10; policy accept;
        ip saddr {ATTACKER_ADDR} counter name "attacker"
        meta l4proto {{ tcp, udp }} th dport 5060-5061 counter name "sip"
    }}
}}
"""

UDHCPC_HOOK = """#!/bin/sh
# udhcpc hook for the lab: configures only the namespace's own interface and writes the lease to a state file.
# It never touches /etc/resolv.conf (namespaces share the host's filesystem).
state="$1"
case "$1" in
    deconfig)
        ip -4 addr flush dev "$interface" ;;
    bound|renew)
        ip -4 addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" dev "$interface"
        if [ -n "$router" ]; then ip route replace default via "${router%% *}" dev "$interface"; fi
        echo "$ip" > "$RFX_LEASE_FILE" ;;
esac
exit 0
"""


class Lab:
    """One lab: namespaces, the router's services, the phone and the provider. Use as a context manager;
    :meth:`close` always removes everything it made, also after a failure."""

    def __init__(self, workdir: Path, tag: str | None = None) -> None:
        self.dir = workdir
        self.tag = tag or f"rfx{os.getpid()}"
        self.ns = {role: f"{self.tag}-{role}" for role in ("inet", "router", "phone", "pc", "atk", "prov")}
        self.made_ns: list[str] = []
        self.procs: list[Proc] = []
        self.router_init: Proc | None = None
        self.phone_sipp: Proc | None = None
        self.provider_sipp: Proc | None = None
        self.phone_addr = ""
        self.pc_addr = ""
        self.mode = "open"
        self.timings: dict[str, float] = {}
        self.clients = 0
        self.stale: list[str] = []
        self.root_links_before: list[str] = []
        self.key = self.dir / "id_ed25519"
        self.known_hosts = self.dir / "known_hosts"
        self.hostsfile = self.dir / "dhcp-hosts"
        self.leasefile = self.dir / "dnsmasq.leases"
        self.baseline_hosts = PRINTER_RESERVATION + "\n"

    # --- commands ---------------------------------------------------------------------------------------

    def run(self, role: str | None, argv: Sequence[str], *, timeout: float = 15, check: bool = True,
            input_text: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the namespace of ``role`` (or in the root namespace when None), bounded."""
        full = list(argv) if role is None else ["ip", "netns", "exec", self.ns[role], *argv]
        try:
            done = subprocess.run(full, capture_output=True, text=True, timeout=timeout, input=input_text,
                                  env=env, stdin=None if input_text is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"{' '.join(full)} took longer than {timeout:.0f} s") from exc
        if check and done.returncode != 0:
            raise LabError(f"{' '.join(full)} exited {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
        return done

    def spawn(self, name: str, role: str, argv: Sequence[str], *, env: dict[str, str] | None = None) -> Proc:
        """Start a long-running program inside ``role``'s namespace; its output goes to a log file."""
        log = self.dir / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(["ip", "netns", "exec", self.ns[role], *argv], stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                     cwd=self.dir)
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def nft(self, role: str, script: str) -> None:
        """Load an nftables script in ``role``'s namespace."""
        self.run(role, ["nft", "-f", "-"], input_text=script)

    # --- building -----------------------------------------------------------------------------------------

    def __enter__(self) -> Lab:
        try:
            self.build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def remove_stale() -> list[str]:
        """Delete namespaces left by a lab whose test process is gone (killed hard); returns their names.
        Only names of this module's form ``rfx<PID>-<role>`` whose PID no longer runs are touched."""
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout
        removed = []
        for line in out.splitlines():
            name = line.split()[0] if line.split() else ""
            found = re.fullmatch(r"rfx(\d+)-[a-z0-9]+", name)
            if found and int(found.group(1)) != os.getpid() and not pid_alive(int(found.group(1))):
                subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=15)
                removed.append(name)
        return removed

    def build(self) -> None:
        """Create the whole lab (about 10 s, most of it DHCP)."""
        start = time.monotonic()
        self.stale = self.remove_stale()
        self.dir.mkdir(parents=True, exist_ok=True)
        for role, name in self.ns.items():
            self.run(None, ["ip", "netns", "add", name])
            self.made_ns.append(name)
            self.run(role, ["ip", "link", "set", "lo", "up"])
            self.run(role, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                            "net.ipv6.conf.default.disable_ipv6=1"])
        self._wire()
        self.timings["namespaces"] = time.monotonic() - start
        self._start_router()
        self.timings["router"] = time.monotonic() - start
        self.nft("phone", COUNTER_TABLE)
        self.phone_addr = self.dhcp("phone", "eth0", hostname="labphone")
        self.pc_addr = self.dhcp("pc", "eth0", hostname="labpc")
        self.timings["dhcp"] = time.monotonic() - start
        self._start_sip()
        self.timings["setup"] = time.monotonic() - start

    def _veth(self, role_a: str, name_a: str, role_b: str, name_b: str, mac_b: str | None = None) -> None:
        argv = ["ip", "-n", self.ns[role_a], "link", "add", "name", name_a, "type", "veth", "peer", "name", name_b,
                "netns", self.ns[role_b]]
        if mac_b:
            argv[argv.index("netns"):argv.index("netns")] = ["address", mac_b]
        self.run(None, argv)
        self.run(role_a, ["ip", "link", "set", name_a, "up"])
        self.run(role_b, ["ip", "link", "set", name_b, "up"])

    def _wire(self) -> None:
        # Internet side: a bridge in "inet" with the attacker and the provider; a link to the router's WAN.
        self.run("inet", ["ip", "link", "add", "name", "br0", "type", "bridge"])
        self.run("inet", ["ip", "addr", "add", f"{INET_ADDR}/24", "dev", "br0"])
        self.run("inet", ["ip", "link", "set", "br0", "up"])
        for role, addr, port in (("atk", ATTACKER_ADDR, "i-atk"), ("prov", PROVIDER_ADDR, "i-prov")):
            self._veth("inet", port, role, "eth0")
            self.run("inet", ["ip", "link", "set", port, "master", "br0"])
            self.run(role, ["ip", "addr", "add", f"{addr}/24", "dev", "eth0"])
            self.run(role, ["ip", "route", "add", "default", "via", INET_ADDR])
        self._veth("inet", "i-wan", "router", "wan0")
        self.run("inet", ["ip", "addr", "add", f"{INET_WAN_ADDR}/24", "dev", "i-wan"])
        self.run("inet", ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        # Router: WAN, LAN bridge, forwarding.
        self.run("router", ["ip", "addr", "add", f"{WAN_ADDR}/24", "dev", "wan0"])
        self.run("router", ["ip", "route", "add", "default", "via", INET_WAN_ADDR])
        self.run("router", ["ip", "link", "add", "name", "br-lan", "address", LAN_MAC, "type", "bridge"])
        self.run("router", ["ip", "addr", "add", f"{LAN_GW}/24", "dev", "br-lan"])
        self.run("router", ["ip", "link", "set", "br-lan", "up"])
        self.run("router", ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        self.lan_port("phone", "r-phone", PHONE_MAC)
        self.lan_port("pc", "r-pc", PC_MAC)

    def lan_port(self, role: str, port: str, mac: str, port_mac: str | None = None) -> None:
        """Plug ``role``'s eth0 (with ``mac``) into the router's LAN bridge; ``port_mac`` sets the address of the
        router's side of the cable (random otherwise, as any veth)."""
        self._veth("router", port, role, "eth0", mac_b=mac)
        if port_mac:
            self.run("router", ["ip", "link", "set", "dev", port, "address", port_mac])
        self.run("router", ["ip", "link", "set", port, "master", "br-lan"])

    def lan_mac(self) -> str:
        """The router's LAN (br-lan) MAC address as the kernel reports it now."""
        return self.run("router", ["cat", "/sys/class/net/br-lan/address"]).stdout.strip()

    def phone_gateway_mac(self) -> str:
        """The MAC the phone's neighbour table holds for its gateway ('' when it has none)."""
        out = self.run("phone", ["ip", "-4", "neigh", "show", LAN_GW, "dev", "eth0"]).stdout.split()
        return out[out.index("lladdr") + 1] if "lladdr" in out else ""

    def _start_router(self) -> None:
        self.set_nat_mode("open")
        self.hostsfile.write_text(self.baseline_hosts)
        self.leasefile.write_text("")
        self.run(None, ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "routerfix-lab", "-f", str(self.key)])
        host_key = self.dir / "ssh_host_ed25519_key"
        self.run(None, ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lab-router", "-f", str(host_key)])
        (self.dir / "authorized_keys").write_text(self.key.with_suffix(".pub").read_text())
        pub = host_key.with_suffix(".pub").read_text().split()
        self.known_hosts.write_text(f"{LAN_GW} {pub[0]} {pub[1]}\n")
        sshd_config = self.dir / "sshd_config"
        sshd_config.write_text(
            f"Port 22\nListenAddress {LAN_GW}\nHostKey {host_key}\nPidFile {self.dir / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
            f"PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            f"AllowUsers root\nLogLevel VERBOSE\nMaxStartups 20\n")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        dnsmasq = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--interface=br-lan",
                   "--bind-interfaces", f"--dhcp-range={POOL_FIRST},{POOL_LAST},255.255.255.0,12h",
                   f"--dhcp-leasefile={self.leasefile}", f"--dhcp-hostsfile={self.hostsfile}",
                   f"--dhcp-option=option:router,{LAN_GW}", "--dhcp-authoritative", "--log-dhcp",
                   f"--log-facility={self.dir / 'dnsmasq.log'}", f"--pid-file={self.dir / 'dnsmasq.pid'}",
                   "--user=root"]
        sshd = ["/usr/sbin/sshd", "-D", "-e", "-f", str(sshd_config)]
        init = self.dir / "router-init.sh"
        init.write_text("#!/bin/sh\n# PID 1 of the lab router's PID namespace: its services, nothing else.\n"
                        f"{' '.join(dnsmasq)} &\n{' '.join(sshd)} &\nwhile :; do wait; sleep 1; done\n")
        self.router_init = self.spawn("router", "router", ["unshare", "--pid", "--fork", "--kill-child",
                                                           "--mount-proc", "/bin/sh", str(init)])
        wait_for("sshd on the router", lambda: self.run("router", ["ss", "-Htln", "sport", "= :22"],
                                                         check=False).stdout.strip(), 10)
        wait_for("dnsmasq on the router", lambda: (self.dir / "dnsmasq.pid").exists()
                 and self.run("router", ["ss", "-Hluna", "sport", "= :67"], check=False).stdout.strip(), 10)

    def _start_sip(self) -> None:
        sipp_common = ["-nostdin", "-trace_logs", "-timeout", "900s", "-t", "u1", "-max_socket", "10"]
        prov_log = self.dir / "provider-sipp.log"
        self.provider_sipp = self.spawn("provider", "prov", [
            "sipp", "-sf", str(SCENARIOS / "provider.xml"), "-i", PROVIDER_ADDR, "-p", "5060",
            "-log_file", str(prov_log), *sipp_common])
        wait_for("the provider's sipp", lambda: self.run("prov", ["ss", "-Hluna", "sport", "= :5060"],
                                                          check=False).stdout.strip(), 10)
        phone_log = self.dir / "phone-sipp.log"
        self.phone_sipp = self.spawn("phone", "phone", [
            "sipp", f"{PROVIDER_ADDR}:5060", "-sf", str(SCENARIOS / "phone_register.xml"),
            "-oocsf", str(SCENARIOS / "phone_ooc.xml"), "-i", self.phone_addr, "-p", "5060",
            "-r", "1", "-rp", "2000", "-l", "4", "-m", "100000", "-log_file", str(phone_log),
            "-deadcall_wait", "2000", *sipp_common])
        wait_for("the phone to register and be qualified", lambda: self.phone_log().cycles >= 1,
                 cycle_deadline(1))

    def dhcp(self, role: str, iface: str, *, hostname: str, request: str | None = None, timeout: float = 20) -> str:
        """Get an address for ``role`` by DHCP with busybox udhcpc and the lab's own hook; returns it."""
        hook = self.dir / "udhcpc-hook.sh"
        if not hook.exists():
            hook.write_text(UDHCPC_HOOK)
            hook.chmod(0o755)
        lease = self.dir / f"lease-{role}"
        lease.unlink(missing_ok=True)
        argv = ["busybox", "udhcpc", "-f", "-q", "-n", "-t", "6", "-T", "2", "-A", "1", "-i", iface,
                "-s", str(hook), "-x", f"hostname:{hostname}"]
        if request:
            argv += ["-r", request]
        env = {**os.environ, "RFX_LEASE_FILE": str(lease)}
        self.run(role, argv, timeout=timeout, env=env)
        return lease.read_text().strip()

    def new_dhcp_client(self, request: str | None = None) -> str:
        """Plug a brand-new device into the LAN, let it ask for an address (``request`` = the one it wants)
        and return what it was given. Its namespace is removed again afterwards."""
        with self._lan_device("new") as role:
            mac = f"02:00:00:00:0b:{self.clients:02x}"
            self.lan_port(role, f"r-{role}", mac)
            return self._dhcp_and_release(role, mac, request)

    @contextlib.contextmanager
    def _lan_device(self, prefix: str) -> Iterator[str]:
        """A throwaway namespace (loopback up, IPv6 off) for one more LAN device; yields its role and removes the
        namespace (and with it its veth pair) afterwards."""
        self.clients += 1
        role = f"{prefix}{self.clients}"
        self.ns[role] = f"{self.tag}-{role}"
        self.run(None, ["ip", "netns", "add", self.ns[role]])
        self.made_ns.append(self.ns[role])
        try:
            self.run(role, ["ip", "link", "set", "lo", "up"])
            self.run(role, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                            "net.ipv6.conf.default.disable_ipv6=1"])
            yield role
        finally:
            self.run(None, ["ip", "netns", "del", self.ns[role]], check=False)
            self.made_ns.remove(self.ns[role])
            del self.ns[role]

    @contextlib.contextmanager
    def plugged_device(self, port_mac: str | None = None) -> Iterator[str]:
        """A device without an address plugged into the LAN for the duration of a block (``port_mac``: the address
        of the router's side of its cable). Yields its role; unplugged (namespace and veth pair removed) after."""
        with self._lan_device("dev") as role:
            self.lan_port(role, f"r-{role}", f"02:00:00:00:0d:{self.clients:02x}", port_mac=port_mac)
            yield role

    @contextlib.contextmanager
    def static_squatter(self, address: str, mac: str = SQUATTER_MAC) -> Iterator[str]:
        """A device set by hand to ``address`` (no DHCP, so no lease) plugged into the LAN, with the counter table
        :data:`SQUATTER_COUNTERS`. It sends nothing (IPv6 off, no route, no gratuitous ARP: Linux sends none for an
        added IPv4 address) and the router's neighbour entry for ``address`` is deleted, so only an active probe can
        find it. Yields its role; its namespace (and with it the veth pair) is removed afterwards."""
        try:
            with self._lan_device("sq") as role:
                self.nft(role, SQUATTER_COUNTERS)
                self.lan_port(role, f"r-{role}", mac)
                self.run(role, ["ip", "addr", "add", f"{address}/24", "dev", "eth0"])
                self.run("router", ["ip", "neigh", "del", address, "dev", "br-lan"], check=False)
                yield role
        finally:
            self.run("router", ["ip", "neigh", "del", address, "dev", "br-lan"], check=False)

    def squatter_counters(self, role: str) -> dict[str, int]:
        """Packets that entered the squatter ``role`` so far: ``attacker`` (any IP packet from the attacker) and
        ``sip`` (TCP/UDP to port 5060-5061 from anyone)."""
        out = self.run(role, ["nft", "-j", "list", "counters", "table", "inet", "rfxsquat"]).stdout
        return {item["counter"]["name"]: int(item["counter"]["packets"])
                for item in json.loads(out)["nftables"] if item.get("counter")}

    def _dhcp_and_release(self, role: str, mac: str, request: str | None) -> str:
        """udhcpc in the foreground until bound, then SIGUSR2 (DHCPRELEASE) so that dnsmasq forgets the lease
        (busybox ignores -R together with -q); ended by its PID."""
        hook = self.dir / "udhcpc-hook.sh"
        lease = self.dir / f"lease-{role}"
        lease.unlink(missing_ok=True)
        argv = ["busybox", "udhcpc", "-f", "-n", "-t", "6", "-T", "2", "-A", "1", "-i", "eth0", "-s", str(hook),
                "-x", f"hostname:{role}"]
        if request:
            argv += ["-r", request]
        proc = self.spawn(f"udhcpc-{role}", role, argv, env={**os.environ, "RFX_LEASE_FILE": str(lease)})
        try:
            given = wait_for(f"a DHCP lease for {role}",
                             lambda: lease.read_text().strip() if lease.exists() else None, 20)
            os.kill(proc.pid, signal.SIGUSR2)
            wait_for(f"dnsmasq to forget {role}'s lease", lambda: mac not in self.leasefile.read_text(), 10)
            return given
        finally:
            proc.stop()
            self.procs.remove(proc)

    # --- router state the tests compare ---------------------------------------------------------------

    def set_nat_mode(self, mode: str) -> None:
        """Reset the router's firewall to its baseline in ``mode`` ("open" or "secure"); flush conntrack."""
        self.nft("router", "flush ruleset\n" + router_ruleset(mode))
        self.run("router", ["conntrack", "-F"], check=False)
        self.mode = mode

    def reset_router(self, mode: str = "open") -> None:
        """Put the router back to the lab's baseline (ruleset in ``mode``, the customer's reservation only,
        no saved routerfix result) and wait until the phone has registered through it again.

        A reply the phone still owes to a scan (its 486 follows the INVITE by 0.8 s) would, after the conntrack
        flush, leave as a new flow phone:5060 -> attacker that masquerade maps to WAN:5060; the attacker's next
        packets would then be replies of that flow and reach the phone past any later fix (see
        :func:`reference_fix`). So the reset waits for the phone to owe nothing before the flush, and once more
        before it removes whatever flow to or from the attacker is left."""
        self.wait_phone_quiet()
        self.set_nat_mode(mode)
        self.run("router", ["ip", "neigh", "flush", "dev", "br-lan"], check=False)
        if self.hostsfile.read_text() != self.baseline_hosts:
            self.hostsfile.write_text(self.baseline_hosts)
            self.hup_dnsmasq()
        (self.dir / "routerfix-result.json").unlink(missing_ok=True)
        (self.dir / "undo-marker.json").unlink(missing_ok=True)
        # only a cycle the phone started after all of the above proves the reset router carries it
        self.wait_registration_progress(self.phone_log(), count=1)
        self.wait_phone_quiet()
        self.forget_attacker()

    def wait_phone_quiet(self) -> None:
        """Wait until the phone has sent its final answer to every INVITE it rang for (deadline: the 0.8 s of
        ``scenarios/phone_ooc.xml`` plus scheduling slack)."""
        wait_for("the phone to answer every INVITE it rang for", lambda: not self.phone_log().unanswered,
                 RING_ANSWER_DELAY + CYCLE_DEADLINE_SLACK)

    def forget_attacker(self) -> None:
        """Delete every connection-tracking entry to or from the attacker on the router."""
        for flag in ("-s", "-d", "--reply-src", "--reply-dst"):
            self.run("router", ["conntrack", "-D", flag, ATTACKER_ADDR], check=False)

    def lab_pids(self, program: str) -> list[int]:
        """Host PIDs of this lab's running ``program`` processes (found by the work directory in their command
        line; the PID files hold PIDs inside the router's PID namespace)."""
        marker = str(self.dir).encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and Path(argv[0].decode(errors="replace")).name == program and marker in b" ".join(argv) \
                    and pid_alive(int(entry.name)):
                found.append(int(entry.name))
        return found

    def hup_dnsmasq(self) -> None:
        """Make the lab's dnsmasq re-read its hosts file (SIGHUP to its PID, and to nothing else)."""
        for pid in self.lab_pids("dnsmasq"):
            os.kill(pid, signal.SIGHUP)

    def apply_reference_fix(self, *, guard: bool) -> None:
        """Install :func:`reference_fix` on the router and flush inbound SIP connection tracking
        (``conntrack -D -p PROTO --orig-dst WAN --orig-port-dst PORT`` for UDP and TCP 5060 and 5061)."""
        self.nft("router", reference_fix(guard=guard))
        for proto in ("udp", "tcp"):
            for port in ("5060", "5061"):
                self.run("router", ["conntrack", "-D", "-p", proto, "--orig-dst", WAN_ADDR, "--orig-port-dst", port],
                         check=False)  # exits 1 when nothing matched

    def ruleset(self) -> str:
        """The router's ruleset without set contents (the open-NAT map's entries change all the time)."""
        return self.run("router", ["nft", "-t", "list", "ruleset"]).stdout

    def reservations(self) -> list[str]:
        """The non-empty lines of dnsmasq's hosts file."""
        return [line.strip() for line in self.hostsfile.read_text().splitlines() if line.strip()]

    # --- measuring ---------------------------------------------------------------------------------------------

    def counters(self) -> Counters:
        """Packets that entered the phone's namespace so far, by source."""
        out = self.run("phone", ["nft", "-j", "list", "counters", "table", "inet", "rfxcount"]).stdout
        values: dict[str, int] = {}
        for item in json.loads(out)["nftables"]:
            counter = item.get("counter")
            if counter:
                values[counter["name"]] = int(counter["packets"])
        return Counters(values.get("attacker_udp", 0), values.get("attacker_tcp", 0), values.get("provider_udp", 0))

    def phone_log(self) -> PhoneLog:
        """Rings, registrations and qualifies logged so far by the phone and the provider."""
        def read(name: str) -> str:
            path = self.dir / name
            return path.read_text(errors="replace") if path.exists() else ""
        # the provider first: a cycle it saw answered is then surely complete in the phone's log read next
        provider = read("provider-sipp.log")
        phone = read("phone-sipp.log")
        registered = re.findall(r"^REGISTERED (\S+)", phone, re.M)
        qualified = re.findall(r"^QUALIFIED (\S+)", phone, re.M)
        answered = re.findall(r"^QUALIFY_OK (\S+)", provider, re.M)
        return PhoneLog(rings=re.findall(r"RING from=(.*)", phone), registered=len(registered),
                        qualified=len(qualified), provider_qualify_ok=len(answered),
                        started=re.findall(r"^STARTED (\S+)", phone, re.M),
                        completed=frozenset(registered).intersection(qualified, answered),
                        unanswered=frozenset(re.findall(r"^RANG (\S+)", phone, re.M))
                        - frozenset(re.findall(r"^ANSWERED (\S+)", phone, re.M)))

    def wait_registration_progress(self, since: PhoneLog, count: int = 2) -> PhoneLog:
        """Wait until ``count`` registration cycles that the phone started after ``since`` have completed
        (registered, qualified by the provider, the answer seen by the provider). The deadline follows the phone's
        own schedule (:func:`cycle_deadline`)."""
        def check() -> PhoneLog | None:
            delta = self.phone_log() - since
            return delta if delta.cycles >= count else None
        return wait_for(f"{count} registration cycle(s) started after the reset to complete", check,
                        cycle_deadline(count))

    def conntrack(self) -> str:
        """The router's connection-tracking table (for failure messages)."""
        return self.run("router", ["conntrack", "-L"], check=False).stdout

    # --- the attacker ------------------------------------------------------------------------------------

    def attacker_tool(self, tool: str, args: Sequence[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run a SIPVicious tool (from the project's venv) in the attacker's namespace, bounded."""
        exe = Path(PYTHON).parent / tool
        return self.run("atk", [str(exe) if exe.exists() else tool, *args], timeout=timeout, check=False)

    def attacker_invite(self, *, calls: int = 1, rate: float = 1.0, timeout: float = 15,
                        background: bool = False) -> Proc | subprocess.CompletedProcess[str]:
        """A sipp INVITE to 100 with caller ID 1000 from the attacker's UDP 5060 (``calls`` of them at
        ``rate`` per second); bounded by sipp's own -timeout."""
        argv = ["sipp", f"{WAN_ADDR}:5060", "-sf", str(SCENARIOS / "attacker_invite.xml"), "-i", ATTACKER_ADDR,
                "-p", "5060", "-m", str(calls), "-r", str(int(rate * 1000)), "-rp", "1000ms" if rate >= 1 else "1s",
                "-nostdin", "-timeout", f"{int(timeout)}s", "-t", "u1", "-recv_timeout", "2000", "-max_socket", "10"]
        if rate < 1:
            argv[argv.index("-r") + 1] = "1"
            argv[argv.index("-rp") + 1] = f"{int(1000 / rate)}ms"
        else:
            argv[argv.index("-r") + 1] = str(int(rate))
        if background:
            return self.spawn(f"attacker-invite-{time.monotonic_ns()}", "atk", argv)
        return self.run("atk", argv, timeout=timeout + 10, check=False)

    def attacker_tcp_connects(self, ports: Sequence[int] = (5060, 5061), timeout: float = 2.0) -> dict[int, str]:
        """TCP connects from the attacker to the router's WAN ports; what each got."""
        code = ("import socket,sys,json,threading\nres={}\n"
                "def one(p):\n"
                "    s=socket.socket(); s.settimeout(float(sys.argv[1]))\n"
                "    try:\n        s.connect(('" + WAN_ADDR + "',p)); res[p]='connected'\n"
                "    except OSError as e:\n        res[p]=type(e).__name__+': '+str(e)\n"
                "    finally:\n        s.close()\n"
                "ts=[threading.Thread(target=one,args=(int(p),)) for p in sys.argv[2:]]\n"
                "[t.start() for t in ts]; [t.join() for t in ts]\n"
                "print(json.dumps(res))\n")
        out = self.run("atk", [PYTHON, "-c", code, str(timeout), *map(str, ports)], timeout=timeout + 10)
        return {int(k): v for k, v in json.loads(out.stdout).items()}

    def full_scan(self) -> dict[str, str]:
        """The ghost-call scan: svmap (OPTIONS), svmap -m INVITE, svwar -m INVITE -e 100,1000, a sipp
        INVITE from 1000, TCP connects to 5060/5061. Returns each tool's output (for the report)."""
        out: dict[str, str] = {}
        tcp: dict[int, str] = {}
        # the TCP connects run alongside the UDP tools (they use other ports); the UDP tools one after another,
        # each from the attacker's UDP 5060 like a single scanner
        connects = threading.Thread(target=lambda: tcp.update(self.attacker_tcp_connects()), daemon=True)
        connects.start()
        out["svmap"] = self.attacker_tool("sipvicious_svmap", [WAN_ADDR, "-p", "5060-5061"]).stdout
        out["svmap-invite"] = self.attacker_tool("sipvicious_svmap", [WAN_ADDR, "-m", "INVITE"]).stdout
        out["svwar"] = self.attacker_tool("sipvicious_svwar", ["-m", "INVITE", "-e", "100,1000", WAN_ADDR]).stdout
        done = self.attacker_invite(calls=1)
        assert isinstance(done, subprocess.CompletedProcess)
        out["sipp-invite"] = done.stdout[-400:]
        connects.join(timeout=15)
        out["tcp"] = json.dumps(tcp)
        return out

    # --- routerfix on the LAN host ---------------------------------------------------------------------------

    def routerfix(self, command: str, *extra: str, timeout: float = 60) -> dict[str, Any]:
        """Run ``tests/lab/lanhost.py <command>`` in the LAN host ("pc") namespace: routerfix with the
        ``linux`` driver over real SSH to the router. Returns its JSON output."""
        argv = [PYTHON, str(HERE / "lanhost.py"), command, "--router", LAN_GW, "--key", str(self.key),
                "--known-hosts", str(self.known_hosts), "--state", str(self.dir / "routerfix-result.json"), *extra]
        done = self.run("pc", argv, timeout=timeout, check=False)
        try:
            data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
        except json.JSONDecodeError:
            data = {}
        if done.returncode != 0 or not data:
            raise LabError(f"routerfix {command} from the LAN host exited {done.returncode}:\n{done.stdout}\n"
                           f"{done.stderr}")
        data["_seconds"] = data.get("_seconds", 0.0)
        return data

    def diagnose_capture(self, seconds: int, *extra: str) -> tuple[int, dict[str, Any]]:
        """``routerfix diagnose --driver linux --host <router> --capture SECONDS --json`` from the LAN host (the
        installed command, else ``python -m routerfix.cli``): the router's own tcpdump over real SSH. Returns
        (exit code, parsed JSON)."""
        command = Path(PYTHON).parent / "routerfix"
        argv = [str(command)] if command.exists() else [PYTHON, "-m", "routerfix.cli"]
        argv += ["diagnose", "--driver", "linux", "--host", LAN_GW, "-u", "root", "--no-prompt",
                 "-o", f"key_file={self.key}", "-o", f"known_hosts={self.known_hosts}",
                 "-o", f"undo_marker_file={self.dir / 'undo-marker.json'}",
                 "--capture", str(seconds), "--json", *extra]
        done = self.run("pc", argv, timeout=seconds + 30, check=False)
        try:
            data: dict[str, Any] = json.loads(done.stdout)
        except json.JSONDecodeError:
            raise LabError(f"routerfix diagnose --capture exited {done.returncode}:\n{done.stdout}\n"
                           f"{done.stderr}") from None
        return done.returncode, data

    # --- teardown ----------------------------------------------------------------------------------------

    def close(self) -> None:
        """End every process by PID, delete every namespace this lab made. Safe to call twice."""
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        for name in reversed(self.made_ns):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=15)
        self.made_ns.clear()

    def stray_processes(self) -> list[str]:
        """Processes (not zombies) still running a program of this lab: none once :meth:`close` has run."""
        marker = str(self.dir).encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker in cmdline and pid_alive(int(entry.name)):
                text = cmdline.replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name}: {text[:120]}")
        return found

    def addresses(self) -> dict[str, list[str]]:
        """Every IPv4 address configured in each of the lab's namespaces (``ip -4 -o addr``)."""
        found: dict[str, list[str]] = {}
        for role in list(self.ns):
            if self.ns[role] not in self.made_ns:
                continue
            out = self.run(role, ["ip", "-4", "-o", "addr", "show"]).stdout
            found[role] = [line.split()[3] for line in out.splitlines() if len(line.split()) > 3]
        return found

    def leftovers(self) -> list[str]:
        """Namespaces of this lab that still exist (should be none after close)."""
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout
        return [line.split()[0] for line in out.splitlines() if line.startswith(self.tag + "-")]


@contextlib.contextmanager
def background(proc: Proc, timeout: float) -> Iterator[Proc]:
    """Run ``proc`` for the duration of a block; afterwards wait for it (bounded) and stop it."""
    try:
        yield proc
    finally:
        try:
            proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.stop()
