"""The capture commands of simulated routers whose shell runs tcpdump: ``sh -c 'timeout N tcpdump … & … & wait'``,
``base64``, ``mkdir -m``, ``rm -rf``, ``test -e`` and ``cat`` of the capture's own files — what ``routerfix
diagnose --capture`` and an operator use.

Follows docs/facts/diagnose.md rows K1-K11, never the driver: tcpdump prints ``listening on IF, link-type EN10MB
(Ethernet), snapshot length N bytes`` and ``N packets captured`` on stderr, and ``tcpdump: IF: No such device
exists`` (exit 1) for an unknown interface; ``-w -`` writes the savefile to standard output; coreutils ``base64``
wraps at 76 columns. The scene: the provider registers the phone every 2 s; a scanner sends an INVITE every
second to the WAN address. While ``reaching()`` says the router delivers the scanner to the phone, each INVITE
also shows on the LAN interface and the phone rings; once it does not (mitigated), the INVITEs show only on the
WAN side. No time passes: the capture is what ``timeout N`` would have seen in N seconds.
"""

from __future__ import annotations

import base64
import fnmatch
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field

from routerfix.words import split

from .pcap import Datagram, pcap_file, registration, scan_exchange

__all__ = ["CAPTURE_TOOLS", "CaptureScene", "CaptureState", "run_capture_program", "scene_traffic"]

CAPTURE_TOOLS = {"tcpdump": "/usr/bin/tcpdump", "timeout": "/usr/bin/timeout", "base64": "/usr/bin/base64"}
PROVIDER, SCANNER = "198.51.100.10", "198.51.100.166"


@dataclass
class CaptureScene:
    """Where the capture runs: interface names, addresses, and whether the scanner reaches the phone now."""

    wan: str
    lan: str
    wan_address: str
    phone: str
    reaching: Callable[[], bool]


@dataclass
class CaptureState:
    """The capture side of a router: whether tcpdump is installed, and the savefiles in /tmp."""

    installed: bool = True
    directories: set[str] = field(default_factory=set)
    savefiles: dict[str, bytes] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    captures: int = 0
    """tcpdump runs so far (tests)."""


def _datagrams(scene: CaptureScene, interface: str, seconds: int, reaching: bool) -> list[Datagram]:
    out: list[Datagram] = []
    for second in range(seconds):
        if second % 2 == 0:
            phone = scene.phone if interface == scene.lan else scene.wan_address
            out += registration(second + 0.1, phone, PROVIDER, f"reg{second}@{scene.phone}")
        if interface == scene.wan:
            out += scan_exchange(second + 0.5, SCANNER, scene.wan_address, f"scan{second}", answered=reaching)
        elif reaching:
            out += scan_exchange(second + 0.5, SCANNER, scene.phone, f"scan{second}", answered=True)
    return out


def _tcpdump(state: CaptureState, scene: CaptureScene, words: list[str]) -> tuple[bytes, str]:
    """``[timeout N] tcpdump -i IF ... -c N -w - FILTER``: (savefile, stderr)."""
    interface, count = "", 0
    for i, word in enumerate(words[:-1]):
        if word == "-i":
            interface = words[i + 1]
        elif word == "-c" and words[i + 1].isdigit():
            count = int(words[i + 1])
    if interface not in (scene.wan, scene.lan):
        return b"", f"tcpdump: {interface}: No such device exists\n(SIOCGIFHWADDR: No such device)\n"
    state.captures += 1
    seconds = int(words[1]) if words[:1] == ["timeout"] and words[1].isdigit() else 60
    datagrams = _datagrams(scene, interface, seconds, scene.reaching())[: count or None]
    return pcap_file(datagrams), (
        f"tcpdump: listening on {interface}, link-type EN10MB (Ethernet), snapshot length 2048 bytes\n"
        f"{len(datagrams)} packets captured\n{len(datagrams)} packets received by filter\n"
        "0 packets dropped by kernel\n")


def _sh(state: CaptureState, scene: CaptureScene, files: MutableMapping[str, str], script: str) -> tuple[str, int]:
    """``sh -c 'A & B & wait'`` where each job is ``timeout N tcpdump ... >FILE 2>FILE``."""
    for job in script.split("&"):
        words = split(job)
        if not words or words == ["wait"]:
            continue
        out_file = next((w[1:] for w in words if w.startswith(">")), None)
        err_file = next((w[2:] for w in words if w.startswith("2>")), None)
        argv = [w for w in words if not w.startswith((">", "2>"))]
        if "tcpdump" not in argv[:3]:
            return f"sh: {argv[0] if argv else job}: not found\n", 127
        for path in (out_file, err_file):
            if path and path.rsplit("/", 1)[0] not in state.directories:
                return f"sh: can't create {path}: nonexistent directory\n", 2
        data, err = _tcpdump(state, scene, argv)
        if out_file:
            state.savefiles[out_file] = data
        if err_file:
            files[err_file] = err
    return "", 0


def _inside(directory: str, path: str) -> bool:
    return path == directory or path.startswith(directory + "/")


def run_capture_program(state: CaptureState, scene: CaptureScene, files: MutableMapping[str, str], name: str,
                        args: list[str]) -> tuple[str, int] | None:
    """Run ``name args`` when it is one of the capture's commands: (output, exit status); None otherwise.
    ``files`` is where the shell keeps text files (tcpdump's stderr goes there)."""
    if name == "sh" and args[:1] == ["-c"] and len(args) == 2 and state.installed and "tcpdump" in args[1]:
        return _sh(state, scene, files, args[1])
    if name == "mkdir" and args[:2] == ["-m", "700"] and len(args) == 3:
        if args[2] in state.directories:
            return f"mkdir: cannot create directory '{args[2]}': File exists\n", 1
        state.directories.add(args[2])
        return "", 0
    if name == "rm" and args[:1] == ["-rf"]:
        for pattern in args[1:]:
            for directory in [d for d in state.directories if fnmatch.fnmatch(d, pattern) or _inside(d, pattern)]:
                state.directories.discard(directory)
                for table in (state.savefiles, files):
                    for path in [p for p in table if _inside(directory, p)]:
                        del table[path]
        return "", 0
    if name == "test" and args[:1] == ["-e"] and len(args) == 2:
        path = args[1]
        return "", 0 if path in state.directories or path in state.savefiles or path in files else 1
    if name == "base64" and len(args) == 1 and state.installed:
        if args[0] not in state.savefiles:
            return f"base64: {args[0]}: No such file or directory\n", 1
        text = base64.b64encode(state.savefiles[args[0]]).decode()
        return "".join(text[i:i + 76] + "\n" for i in range(0, len(text), 76)), 0
    if name == "cat" and args and all(any(_inside(d, a) for d in state.directories) for a in args):
        missing = [a for a in args if a not in files]
        if missing:
            return f"cat: can't open '{missing[0]}': No such file or directory\n", 1
        return "".join(files[a] for a in args), 0
    if name == "command" and args[:1] == ["-v"] and any(a in CAPTURE_TOOLS for a in args[1:]):
        return None  # the shell's own `command -v` answers, with CAPTURE_TOOLS added when installed
    return None


def scene_traffic(scene: CaptureScene, interfaces: list[str], seconds: int) -> list[Datagram]:
    """What a capture on ``interfaces`` at once sees in ``seconds`` (one savefile, in time order): each interface's
    datagrams as :func:`_datagrams` gives them, merged."""
    reaching = scene.reaching()
    merged = [d for name in interfaces if name in (scene.wan, scene.lan)
              for d in _datagrams(scene, name, seconds, reaching)]
    return sorted(merged, key=lambda d: d.time)
