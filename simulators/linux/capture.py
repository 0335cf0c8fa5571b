"""The simulated Debian router's capture commands: ``tcpdump`` (under ``timeout`` in ``sh -c``), ``base64``,
``mkdir``, ``rm -rf``, ``test -e`` — what ``routerfix diagnose --capture`` and an operator use.

Follows docs/facts/linux.md rows L40-L42 and docs/facts/diagnose.md rows C1-C10, never the driver: tcpdump
prints ``listening on IF, link-type EN10MB (Ethernet), snapshot length N bytes`` and ``N packets captured`` on
stderr, ``tcpdump: IF: No such device exists`` (exit 1) for an unknown interface; ``-w -`` writes the savefile to
standard output; coreutils ``base64`` wraps at 76 columns. The scene: the provider at 198.51.100.10 registers
the phone 192.168.88.100 every 2 s; a scanner at 198.51.100.166 sends an INVITE every second to the WAN address.
While the router's connection tracking maps the scanner to the phone
(:meth:`~simulators.linux.device.LinuxRouter.scanner_reaches_phone`), each INVITE also shows on ``br-lan`` and
the phone rings; once it does not (mitigated), the INVITEs show only on ``wan0``. No time passes: the capture
is what ``timeout N`` would have seen in N seconds.
"""

from __future__ import annotations

import base64
import fnmatch
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._hosts.pcap import Datagram, pcap_file, registration, scan_exchange

if TYPE_CHECKING:
    from .device import LinuxRouter

__all__ = ["CaptureState", "TOOLS", "program"]

TOOLS = {"tcpdump": "/usr/bin/tcpdump", "timeout": "/usr/bin/timeout", "base64": "/usr/bin/base64"}
WAN, LAN, WAN_ADDR = "wan0", "br-lan", "203.0.113.2"
PHONE, PROVIDER, SCANNER = "192.168.88.100", "198.51.100.10", "198.51.100.166"
PROGRAMS = frozenset({"sh", "base64", "mkdir", "rm", "test"})


@dataclass
class CaptureState:
    """The capture side of the router: whether tcpdump is installed, and the savefiles in /tmp."""

    installed: bool = True
    directories: set[str] = field(default_factory=set)
    savefiles: dict[str, bytes] = field(default_factory=dict)
    captures: int = 0
    """tcpdump runs so far (tests)."""


def _scene(interface: str, seconds: int, reaching: bool) -> list[Datagram]:
    out: list[Datagram] = []
    for second in range(seconds):
        if second % 2 == 0:
            phone = PHONE if interface == LAN else WAN_ADDR
            out += registration(second + 0.1, phone, PROVIDER, f"reg{second}@{PHONE}")
        if interface == WAN:
            out += scan_exchange(second + 0.5, SCANNER, WAN_ADDR, f"scan{second}", answered=reaching)
        elif reaching:
            out += scan_exchange(second + 0.5, SCANNER, PHONE, f"scan{second}", answered=True)
    return out


def _tcpdump(router: LinuxRouter, words: list[str]) -> tuple[bytes, str, int]:
    """``tcpdump -i IF ... -c N -w - FILTER``: (savefile, stderr, status)."""
    interface, count = "", 0
    for i, word in enumerate(words):
        if word == "-i" and i + 1 < len(words):
            interface = words[i + 1]
        elif word == "-c" and i + 1 < len(words) and words[i + 1].isdigit():
            count = int(words[i + 1])
    if interface not in (WAN, LAN):
        return b"", f"tcpdump: {interface}: No such device exists\n(SIOCGIFHWADDR: No such device)\n", 1
    router.capture.captures += 1
    seconds = int(words[1]) if words[:1] == ["timeout"] and words[1].isdigit() else 60
    datagrams = _scene(interface, seconds, router.scanner_reaches_phone(SCANNER))[: count or None]
    err = (f"tcpdump: listening on {interface}, link-type EN10MB (Ethernet), snapshot length 2048 bytes\n"
           f"{len(datagrams)} packets captured\n{len(datagrams)} packets received by filter\n"
           "0 packets dropped by kernel\n")
    return pcap_file(datagrams), err, 124 if count and len(datagrams) < count else 0


def _sh(router: LinuxRouter, script: str) -> tuple[str, str, int]:
    """``sh -c 'A & B & wait'`` where each job is ``timeout N tcpdump ... >FILE 2>FILE``."""
    for job in script.split("&"):
        words = shlex.split(job)
        if not words or words == ["wait"]:
            continue
        out_file = next((w[1:] for w in words if w.startswith(">")), None)
        err_file = next((w[2:] for w in words if w.startswith("2>")), None)
        argv = [w for w in words if not w.startswith((">", "2>"))]
        if "tcpdump" not in argv[:3]:
            return "", f"sh: 1: {argv[0] if argv else job}: not found\n", 127
        for path in (out_file, err_file):
            if path and path.rsplit("/", 1)[0] not in router.capture.directories:
                return "", f"sh: 1: cannot create {path}: Directory nonexistent\n", 2
        data, err, _ = _tcpdump(router, argv)
        if out_file:
            router.capture.savefiles[out_file] = data
        if err_file:
            router.files[err_file] = err
    return "", "", 0


def _in(directory: str, path: str) -> bool:
    return path == directory or path.startswith(directory + "/")


def program(router: LinuxRouter, name: str, rest: list[str]) -> tuple[str, str, int] | None:
    """Run one of :data:`PROGRAMS`, or None when the simulator does not model it (or tcpdump is not installed)."""
    state = router.capture
    if name not in PROGRAMS or (name in TOOLS and not state.installed):
        return None
    if name == "sh" and rest[:1] == ["-c"] and len(rest) == 2 and state.installed:
        return _sh(router, rest[1])
    if name == "mkdir":
        path = rest[-1] if rest else ""
        if path in state.directories:
            return "", f"mkdir: cannot create directory '{path}': File exists\n", 1
        state.directories.add(path)
        return "", "", 0
    if name == "rm" and rest[:1] == ["-rf"]:
        for pattern in rest[1:]:
            for directory in [d for d in state.directories if fnmatch.fnmatch(d, pattern)]:
                state.directories.discard(directory)
                for table in (state.savefiles, router.files):
                    for path in [p for p in table if _in(directory, p)]:
                        del table[path]
        return "", "", 0
    if name == "test" and rest[:1] == ["-e"] and len(rest) == 2:
        path = rest[1]
        exists = path in state.directories or path in state.savefiles or path in router.files
        return "", "", 0 if exists else 1
    if name == "base64" and len(rest) == 1:
        if rest[0] not in state.savefiles:
            return "", f"base64: {rest[0]}: No such file or directory\n", 1
        text = base64.b64encode(state.savefiles[rest[0]]).decode()
        return "".join(text[i:i + 76] + "\n" for i in range(0, len(text), 76)), "", 0
    return None
