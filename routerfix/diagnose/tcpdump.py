"""Live capture with tcpdump over a driver's SSH shell, for routers whose shell has ``tcpdump``, ``timeout`` and
``base64`` (docs/facts/diagnose.md rows K1-K8).

One run, in four round trips of the driver's one SSH session:

1. ``rm -rf /tmp/routerfix-capture-*`` (whatever an interrupted earlier run left), ``command -v tcpdump timeout
   base64``, ``mkdir -m 700 /tmp/routerfix-capture-<random>``;
2. ``sh -c 'timeout N tcpdump -i WAN -n -U -s 2048 -c MAX -w - port 5060 or port 5061 >DIR/wan.pcap
   2>DIR/wan.err & <the same for the LAN> & wait'``: both sides at once, each ended by ``timeout`` after N
   seconds or by tcpdump itself after MAX packets; ``-w -`` writes to the shell's redirection, opened by the
   login user before tcpdump drops privileges; ``sh -c`` keeps the shell's job-control messages out of the
   output;
3. per side ``cat DIR/side.err; base64 DIR/side.pcap``: the pcap travels as base64 text, so the interactive
   session (a PTY, text only) carries it unchanged;
4. ``rm -rf DIR`` and a check that it is gone.

Why base64 over the shell and not a second SSH channel: routerfix keeps one session per device and the shell
already open works on every router with a POSIX shell (coreutils and BusyBox both have ``base64``); the
capture is bounded (packets x snap length), so the text costs at most a few MB. The router never runs anything
from the capture: the bytes are decoded and parsed here.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import secrets
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

from routerfix.diagnose.live import SNAPLEN, CaptureSide, LiveCapture, Side
from routerfix.errors import DeviceError, RouterfixError, UnsupportedOperation

if TYPE_CHECKING:
    from routerfix.base.ssh import SSHDriver

__all__ = ["FILTER", "PREFIX", "TOOLS", "capture_with_tcpdump", "capture_command", "decode_pcap"]

PREFIX = "/tmp/routerfix-capture-"  # noqa: S108 - on the router; mkdir -m 700 of a random name, never -p
"""Every file a capture makes lives in a directory with this prefix (and is removed afterwards)."""
TOOLS = ("tcpdump", "timeout", "base64")
FILTER = "port 5060 or port 5061"
"""The capture filter (pcap-filter syntax): SIP over UDP and TCP, TLS on 5061."""
_PCAP_MAGIC = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
_IFNAME = re.compile(r"[A-Za-z0-9_.:@-]{1,15}")
_COUNT = re.compile(r"(\d+) packets? captured")


def capture_command(directory: str, sides: Sequence[tuple[Side, str]], seconds: float, max_packets: int) -> str:
    """The one shell line that captures every side at once into ``directory`` (see the module docstring)."""
    parts = []
    for side, interface in sides:
        if not _IFNAME.fullmatch(interface):
            raise ValueError(f"not an interface name: {interface!r}")
        parts.append(f"timeout {math.ceil(seconds)} tcpdump -i {interface} -n -U -s {SNAPLEN} -c {max_packets} "
                     f"-w - {FILTER} >{directory}/{side}.pcap 2>{directory}/{side}.err")
    return "sh -c " + shlex.quote(" & ".join(parts) + " & wait")


def decode_pcap(text: str, what: str) -> bytes:
    """The pcap bytes of ``base64 FILE`` output; :class:`ValueError` when it is not base64 of a pcap file."""
    compact = "".join(text.split())
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what}: the router's base64 output is not base64") from None
    if data[:4] not in _PCAP_MAGIC:
        raise ValueError(f"{what}: not a pcap file ({len(data)} bytes)")
    return data


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    counted = [line for line in lines if _COUNT.search(line)]
    return (counted or lines or [""])[-1][:200]


def capture_with_tcpdump(driver: SSHDriver, sides: Sequence[tuple[Side, str]], seconds: float, max_packets: int,
                         *, install: str) -> LiveCapture:
    """Capture ``sides`` (side, interface) on ``driver``'s router at once; ``install``: how to get the missing tools
    on this platform (said in the refusal). Leaves nothing on the router (checked)."""
    directory = PREFIX + secrets.token_hex(6)
    found = driver.send_many([f"rm -rf {PREFIX}*", f"command -v {' '.join(TOOLS)} || true"], check=False)
    present = {line.strip().rsplit("/", 1)[-1] for line in found[1].split("\n") if line.strip()}
    missing = [tool for tool in TOOLS if tool not in present]
    if missing:
        raise UnsupportedOperation(
            f"live capture needs {', '.join(missing)} on the router, which it lacks: {install}; or capture on the "
            "phone's switch port (SPAN/mirror, or a laptop running tcpdump) and pass the file to routerfix diagnose",
            host=driver.host, driver=driver.name)
    command = capture_command(directory, sides, seconds, max_packets)
    removed = False
    taken: list[CaptureSide] = []
    try:
        driver.send(f"mkdir -m 700 {directory}")
        driver.send(command, check=False, timeout=seconds + driver.timeouts.read + 5.0)
        for side, interface in sides:
            err = driver.send(f"cat {directory}/{side}.err", check=False)
            text = driver.send(f"base64 {directory}/{side}.pcap", check=False)
            try:
                data = decode_pcap(text, f"{side} capture on {interface}")
            except ValueError as exc:
                raise DeviceError(f"tcpdump captured nothing on {interface} ({exc})",
                                  device_message=_last_line(err) or _last_line(text),
                                  host=driver.host, driver=driver.name) from None
            taken.append(CaptureSide(side, interface, data, _last_line(err)))
    finally:
        try:
            gone = driver.send(f"rm -rf {directory}; test -e {directory} || echo rfx-capture-removed", check=False)
            removed = "rfx-capture-removed" in gone
        except RouterfixError:
            removed = False   # the next capture removes it first (step 1)
    method = " & ".join(f"tcpdump -i {interface} -c {max_packets} ({side})" for side, interface in sides)
    notes = () if removed else (f"could not confirm that {directory} was removed from the router: the next "
                                "capture removes it first",)
    return LiveCapture(tuple(taken), seconds, max_packets, f"timeout {math.ceil(seconds)} {method}, "
                       f"filter '{FILTER}', base64 over the SSH session", removed, notes)
