#!/usr/bin/env python3
"""Regenerate tests/diagnose/data/: real SIP traffic from real programs (sipp, SIPVicious), captured with tcpdump.

Two sources, both run as root inside network namespaces this script makes and always removes:

- ``--lab`` (the proof): the namespace lab of tests/lab (:class:`netlab.Lab`, tag ``rfdiag``): a sipp phone behind
  an nftables router with open NAT, a sipp provider, SIPVicious and sipp as the attacker. tcpdump runs on the
  phone's interface (LAN side) and on the router's WAN interface. Files ``lab-*``.
- ``--loopback`` (no router): one namespace ``rfdiag-<pid>`` whose loopback carries the phone, provider and
  attacker addresses (IPv4 and IPv6), for what the lab does not do (TCP and IPv6 scans, an OPTIONS sweep over
  addresses, a pcapng file, sipp -trace_msg logs). Files ``lo-*``.

Usage: ``.venv/bin/python tests/diagnose/make_captures.py [--lab] [--loopback] [--out DIR]``.
Never run ``--lab`` while another lab run is going on (``ip netns list``; the script refuses if it sees one).
Needs: tcpdump, sipp, sipvicious (tests/lab/INSTALL.sh installs all but tcpdump: ``apt-get install tcpdump``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LAB_SCENARIOS = ROOT / "tests" / "lab" / "scenarios"
OWN_SCENARIOS = HERE / "scenarios"
PYTHON = sys.executable
BIN = Path(PYTHON).parent

PHONE, PROVIDER, ATTACKER, WAN = "192.168.88.100", "198.51.100.10", "198.51.100.166", "203.0.113.2"
PHONE6, PROVIDER6, ATTACKER6 = "2001:db8:88::100", "2001:db8:100::10", "2001:db8:100::166"
CAPTURE_FILTER = "port 5060 or port 5061 or port 5070"


def wait_for(what: str, check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    """SIGTERM then SIGKILL to the one PID we started."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@contextlib.contextmanager
def tcpdump(ns: str, iface: str, out: Path, work: Path, bpf: str = CAPTURE_FILTER) -> Iterator[None]:
    """tcpdump inside namespace ``ns`` on ``iface``, writing ``out``; stopped (and flushed) after the block."""
    log = work / f"tcpdump-{out.stem}.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-i", iface, "-n", "-U", "-s", "0", "-Z",
                                 "root", "-w", str(out), bpf], stdout=sink, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        wait_for(f"tcpdump on {ns}/{iface}", lambda: b"listening on" in log.read_bytes() or proc.poll() is not None,
                 10)
        if proc.poll() is not None:
            raise RuntimeError(f"tcpdump exited: {log.read_text(errors='replace')}")
        time.sleep(0.5)  # "listening on" comes a moment before the first packets are taken
        yield
        time.sleep(0.3)  # let the last answers of the block arrive before the capture ends
    finally:
        stop(proc)


def run(ns: str, argv: Sequence[str], timeout: float = 60) -> str:
    done = subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)
    return done.stdout + done.stderr


def spawn(ns: str, argv: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=sink, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=log.parent)


def sipp(*args: str) -> list[str]:
    return ["sipp", "-nostdin", "-max_socket", "10", *args]


def tool(name: str) -> str:
    exe = BIN / name
    return str(exe) if exe.exists() else name


def attacker_invite(target: str, *, source: str, transport: str = "u1", calls: int = 2) -> list[str]:
    host = f"[{target}]" if ":" in target else target
    return sipp(f"{host}:5060", "-sf", str(LAB_SCENARIOS / "attacker_invite.xml"), "-i", source, "-p", "5060",
                "-m", str(calls), "-r", "2", "-t", transport, "-timeout", "10s", "-recv_timeout", "2000")


def provider_call(target: str, *, source: str, port: str = "5070") -> list[str]:
    return sipp(f"{target}:5060", "-sf", str(OWN_SCENARIOS / "provider_call.xml"), "-i", source, "-p", port,
                "-m", "1", "-t", "u1", "-timeout", "10s", "-recv_timeout", "4000")


def to_pcapng(src: Path, dst: Path) -> None:
    """Write the packets of pcap ``src`` as pcapng ``dst`` (same link type, same timestamps)."""
    import dpkt

    with src.open("rb") as fin, dst.open("wb") as fout:
        reader = dpkt.pcap.Reader(fin)
        writer = dpkt.pcapng.Writer(fout, linktype=reader.datalink(), snaplen=65535)
        for ts, buf in reader:
            writer.writepkt(buf, ts=ts)


# --- loopback ---------------------------------------------------------------------------------------------------

LOOP_RULES = f"""
table inet rfdiag {{
    chain input {{
        type filter hook input priority filter; policy accept;
        ip saddr {ATTACKER} ip daddr {WAN} drop
    }}
}}
"""


def loopback(out: Path, work: Path) -> list[Path]:
    """The loopback captures (see the module docstring)."""
    ns = f"rfdiag-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True, timeout=10)
    procs: list[subprocess.Popen[bytes]] = []
    made: list[Path] = []
    try:
        run(ns, ["ip", "link", "set", "lo", "up"])
        run(ns, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.lo.disable_ipv6=0"])
        for addr in (PHONE, PROVIDER, ATTACKER, WAN):
            run(ns, ["ip", "addr", "add", f"{addr}/32", "dev", "lo"])
        for addr in (PHONE6, PROVIDER6, ATTACKER6):
            run(ns, ["ip", "addr", "add", f"{addr}/128", "dev", "lo", "nodad"])
        subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=LOOP_RULES, text=True, check=True,
                       timeout=10)
        common = ["-trace_logs", "-timeout", "120s"]
        procs.append(spawn(ns, sipp("-sf", str(LAB_SCENARIOS / "provider.xml"), "-i", PROVIDER, "-p", "5060",
                                    "-t", "u1", *common), work / "provider.log"))
        wait_for("the provider", lambda: "5060" in run(ns, ["ss", "-Hluna", "sport", "= :5060"]), 10)

        def phone(trace: Path) -> subprocess.Popen[bytes]:
            return spawn(ns, sipp(f"{PROVIDER}:5060", "-sf", str(LAB_SCENARIOS / "phone_register.xml"), "-oocsf",
                                  str(LAB_SCENARIOS / "phone_ooc.xml"), "-i", PHONE, "-p", "5060", "-t", "u1",
                                  "-r", "1", "-rp", "2000", "-m", "100000", "-trace_msg", "-message_file",
                                  str(trace), *common), work / f"phone-{trace.stem}.log")

        # TCP and IPv6 listeners of the phone (answer INVITE/OPTIONS like the UDP phone)
        procs.append(spawn(ns, sipp("-sf", str(LAB_SCENARIOS / "phone_ooc.xml"), "-i", PHONE, "-p", "5060", "-t",
                                    "t1", *common), work / "phone-tcp.log"))
        procs.append(spawn(ns, sipp("-sf", str(LAB_SCENARIOS / "phone_ooc.xml"), "-i", PHONE6, "-p", "5060",
                                    "-t", "u1", *common), work / "phone-v6.log"))

        # 1. legitimate only: registrations, qualify OPTIONS, a real call from the provider
        trace = out / "lo-legit.sipp-trace.log"
        ph = phone(work / "legit-trace.log")
        procs.append(ph)
        with tcpdump(ns, "lo", out / "lo-legit.pcap", work):
            time.sleep(2.5)
            run(ns, provider_call(PHONE, source=PROVIDER), timeout=20)
            time.sleep(2.5)
        stop(ph)
        shutil.copy(work / "legit-trace.log", trace)
        made += [out / "lo-legit.pcap", trace]

        # 2. scans reaching the phone: OPTIONS sweep, svwar INVITE 100/1000, sipp INVITE from 1000 over UDP, TCP
        #    and IPv6, with the phone registering all along
        ph = phone(work / "scan-trace.log")
        procs.append(ph)
        raw = work / "scan.pcap"
        with tcpdump(ns, "lo", raw, work):
            time.sleep(1.0)
            bind = ["-b", ATTACKER, "-x", ATTACKER]
            run(ns, [tool("sipvicious_svmap"), *bind, "192.168.88.99-101", "-p", "5060"], timeout=30)
            run(ns, [tool("sipvicious_svwar"), *bind, "-m", "INVITE", "-e", "100,1000", PHONE], timeout=30)
            run(ns, attacker_invite(PHONE, source=ATTACKER), timeout=20)
            run(ns, attacker_invite(PHONE, source=ATTACKER, transport="t1", calls=1), timeout=20)
            run(ns, attacker_invite(PHONE6, source=ATTACKER6, calls=1), timeout=20)
            time.sleep(1.0)
        stop(ph)
        to_pcapng(raw, out / "lo-scan-reaching.pcapng")
        shutil.copy(work / "scan-trace.log", out / "lo-scan-reaching.sipp-trace.log")
        made += [out / "lo-scan-reaching.pcapng", out / "lo-scan-reaching.sipp-trace.log"]

        # 3. the same scan at an address that drops it (the WAN side after the fix), the phone registering
        ph = phone(work / "blocked-trace.log")
        procs.append(ph)
        with tcpdump(ns, "lo", out / "lo-scan-blocked.pcap", work):
            time.sleep(1.0)
            bind = ["-b", ATTACKER, "-x", ATTACKER]
            run(ns, [tool("sipvicious_svmap"), *bind, WAN, "-p", "5060"], timeout=30)
            run(ns, [tool("sipvicious_svwar"), *bind, "-m", "INVITE", "-e", "100,1000", WAN], timeout=30)
            run(ns, attacker_invite(WAN, source=ATTACKER), timeout=20)
            time.sleep(1.0)
        stop(ph)
        made.append(out / "lo-scan-blocked.pcap")

        # 4. no SIP at all on the SIP ports: TCP connects that send nothing, one non-SIP datagram
        probe = ("import socket\n"
                 f"for port in (5060, 5061):\n    s = socket.socket(); s.settimeout(1)\n"
                 f"    try:\n        s.bind(('{ATTACKER}', 0)); s.connect(('{PHONE}', port))\n"
                 "    except OSError:\n        pass\n    s.close()\n"
                 f"u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('{ATTACKER}', 0))\n"
                 f"u.sendto(b'\\x00\\x01hello', ('{PHONE}', 5060))\n")
        with tcpdump(ns, "lo", out / "lo-no-sip.pcap", work):
            time.sleep(0.5)
            run(ns, [PYTHON, "-c", probe], timeout=20)
            time.sleep(0.5)
        made.append(out / "lo-no-sip.pcap")
    finally:
        for proc in reversed(procs):
            stop(proc)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=15)
    return made


# --- the namespace lab ------------------------------------------------------------------------------------------

def lab(out: Path, work: Path) -> list[Path]:
    """The lab captures (see the module docstring)."""
    sys.path.insert(0, str(ROOT / "tests" / "lab"))
    import netlab

    made: list[Path] = []
    with netlab.Lab(work / "lab", tag=f"rfdiag{os.getpid()}") as built:
        ns = built.ns
        phone_if, wan_if = "eth0", "wan0"

        def both(name: str) -> contextlib.ExitStack:
            stack = contextlib.ExitStack()
            stack.enter_context(tcpdump(ns["phone"], phone_if, out / f"lab-{name}-phone.pcap", work))
            stack.enter_context(tcpdump(ns["router"], wan_if, out / f"lab-{name}-wan.pcap", work))
            made.extend([out / f"lab-{name}-phone.pcap", out / f"lab-{name}-wan.pcap"])
            return stack

        # 1. legitimate traffic only: registrations, qualify OPTIONS, a real call from the provider (open NAT)
        built.reset_router("open")
        with both("legit"):
            built.wait_registration_progress(built.phone_log(), count=1)
            built.run("prov", provider_call(netlab.WAN_ADDR, source=netlab.PROVIDER_ADDR), timeout=20, check=False)
            built.wait_registration_progress(built.phone_log(), count=1)

        # 2. open NAT, no fix: the full scan of the lab (svmap, svmap INVITE, svwar 100/1000, sipp from 1000, TCP
        #    connects) mixed with a real call from the provider
        built.reset_router("open")
        with both("scan-open"):
            built.run("prov", provider_call(netlab.WAN_ADDR, source=netlab.PROVIDER_ADDR), timeout=20, check=False)
            built.full_scan()
            time.sleep(1.0)

        # 3. after the fix (the lab's reference fix with the reply guard): the same scan arrives and goes nowhere
        built.reset_router("open")
        built.apply_reference_fix(guard=True)
        built.forget_attacker()
        with both("scan-fixed"):
            built.wait_registration_progress(built.phone_log(), count=1)
            built.full_scan()
            time.sleep(1.0)

        # 4. a capture filtered to the attacker's address while it only opens TCP connections: no SIP at all
        wan_only = out / "lab-tcp-connects-wan.pcap"
        with tcpdump(ns["router"], wan_if, wan_only, work, bpf=f"host {netlab.ATTACKER_ADDR}"):
            built.attacker_tcp_connects()
        made.append(wan_only)
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lab", action="store_true", help="capture in the namespace lab (tests/lab)")
    parser.add_argument("--loopback", action="store_true", help="capture on a namespace's loopback")
    parser.add_argument("--out", type=Path, default=HERE / "data")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces, tcpdump)")
    for needed in ("tcpdump", "sipp", "nft"):
        if shutil.which(needed, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            parser.error(f"{needed} is missing (apt-get install tcpdump; tests/lab/INSTALL.sh for the rest)")
    if args.lab:
        busy = [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                          timeout=10).stdout.split() if n.startswith("rfx")]
        if busy:
            parser.error(f"another lab is running (namespaces {', '.join(busy[:3])}...): wait until it is done")
    args.out.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="rfdiag-") as tmp:
        work = Path(tmp)
        if args.loopback or not args.lab:
            made += loopback(args.out, work)
        if args.lab:
            made += lab(args.out, work)
    for path in made:
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
