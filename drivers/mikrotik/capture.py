"""Live capture on RouterOS (``routerfix diagnose --capture``): the router's one packet sniffer takes the WAN and
LAN interfaces at once into one file, which comes back over SFTP on the driver's own SSH connection.

Facts: docs/facts/mikrotik.md rows M60-M71. One run, on the one SSH session (SFTP is a second channel of the same
connection: no second login):

1. one round trip of reads: the sniffer's settings (refused when it is running: someone else's capture), the WAN
   interface list's members, the LAN's DHCP server, and the files (leftovers of an interrupted run are removed);
2. SFTP opened before anything is written (a user without the ``ftp`` policy is refused here, nothing changed);
3. ``/tool sniffer set`` of the capture's settings (file name, file limit, interfaces, SIP ports, and any other
   narrowing filter cleared), read back (a user without the ``sniff`` policy is refused here);
4. ``/tool sniffer start; :delay Ns; /tool sniffer stop`` on one line: the router itself times the capture;
5. the file is read over SFTP (at most the file limit), removed with ``/file remove``, the settings put back exactly
   as read, and both checked by reading again.

The one file holds both sides (:attr:`~routerfix.diagnose.live.Side.BOTH`): the diagnosis classifies by address (a
request delivered to a LAN address reaches a phone), not by file.
"""

from __future__ import annotations

import math
import secrets
import struct
from typing import TYPE_CHECKING, Any

from routerfix.diagnose.live import SNAPLEN, CaptureSide, LiveCapture, Side
from routerfix.errors import DeviceError, RouterfixError, UnsupportedOperation

from .parser import parse_key_value_page, parse_terse
from .strings import ros_quote

if TYPE_CHECKING:
    from .driver import MikrotikDriver

__all__ = ["FILE_PREFIX", "PORTS", "capture", "file_limit_kib", "keep_packets"]

SNIFFER = "/tool sniffer"
FILE_PREFIX = "routerfix-capture-"
"""Every file a capture makes is named so (and removed afterwards; an interrupted run's file by the next run)."""
PORTS = "5060,5061"
_PRINT = "print terse without-paging"
_NARROWING = ("filter-mac-address", "filter-mac-protocol", "filter-ip-address", "filter-ipv6-address",
              "filter-ip-protocol", "filter-src-ip-address", "filter-dst-ip-address", "filter-src-port",
              "filter-dst-port", "filter-src-mac-address", "filter-dst-mac-address", "filter-vlan", "filter-cpu",
              "filter-size")
"""Filters that would narrow the capture (M63): cleared for the run when set, put back afterwards."""
_MAGIC = (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a")
"""pcap (microsecond and nanosecond, either byte order) and pcapng (M67, docs/facts/diagnose.md K9)."""
POLICIES = ("the user's group needs the 'sniff' policy (to run the sniffer) and the 'ftp' policy (to read its file "
            "over SFTP): /user group set <group> policy=...,sniff,ftp")


def file_limit_kib(max_packets: int) -> int:
    """The sniffer's file limit for a run: both sides' packets at the full snap length, in KiB (at least 10, M63)."""
    return max(10, math.ceil((24 + 2 * max_packets * (16 + SNAPLEN)) / 1024))


def keep_packets(data: bytes, most: int) -> tuple[bytes, int]:
    """A classic pcap savefile cut after ``most`` records, each cut to :data:`SNAPLEN` bytes (M66), and the number
    of records kept; pcapng is kept whole (bounded by the file limit only): ``(data, -1)``."""
    order = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",
             b"\xa1\xb2\x3c\x4d": ">"}.get(data[:4])
    if order is None or len(data) < 24:
        return data, -1
    header = bytearray(data[:24])
    struct.pack_into(f"{order}I", header, 16, min(SNAPLEN, struct.unpack_from(f"{order}I", data, 16)[0]))
    out, end, count = [bytes(header)], 24, 0
    while end + 16 <= len(data) and count < most:
        seconds, fraction, size, original = struct.unpack_from(f"{order}IIII", data, end)
        if end + 16 + size > len(data):
            break
        kept = data[end + 16:end + 16 + min(size, SNAPLEN)]
        out.append(struct.pack(f"{order}IIII", seconds, fraction, len(kept), original) + kept)
        end += 16 + size
        count += 1
    return b"".join(out), count


def _refuse(driver: MikrotikDriver, why: str) -> UnsupportedOperation:
    return UnsupportedOperation(f"live capture on RouterOS: {why}; or capture on the phone's switch port (SPAN/"
                                "mirror, or a laptop running tcpdump) and pass the file to routerfix diagnose",
                                host=driver.host, driver=driver.name)


def _interfaces(driver: MikrotikDriver, members: str, servers: str) -> tuple[list[str], str]:
    wan = [m.get("interface") for m in parse_terse(members, "/interface list member print")
           if m.get("list") == driver.wan_list and not m.disabled and m.get("interface")]
    lan = [s.get("interface") for s in parse_terse(servers, "/ip dhcp-server print")
           if not s.disabled and (driver.dhcp_server is None or s.get("name") == driver.dhcp_server)]
    if not wan:
        raise _refuse(driver, f"the interface list {driver.wan_list!r} has no member (pass -o wan_list=<list>)")
    if not lan or not lan[0]:
        raise _refuse(driver, "no enabled DHCP server names the LAN interface (pass -o dhcp_server=<name>)")
    return wan, lan[0]


def _open_sftp(driver: MikrotikDriver) -> Any:
    """An SFTP client on the session's own SSH connection (M69, M70); refused without the ``ftp`` policy."""
    import paramiko

    transport = driver.session.channel.get_transport()
    try:
        return paramiko.SFTPClient.from_transport(transport)
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise _refuse(driver, f"the router refused SFTP ({type(exc).__name__}); {POLICIES}") from None


def capture(driver: MikrotikDriver, seconds: float, max_packets: int) -> LiveCapture:
    """Capture ``seconds`` on the WAN list's interfaces and the LAN's DHCP interface at once (see the module
    docstring); leaves the sniffer as it was and no file behind (both checked)."""
    settings_text, members, servers, files = driver.send_many(
        [f"{SNIFFER} print", f"/interface list member {_PRINT}", f"/ip dhcp-server {_PRINT}", f"/file {_PRINT}"])
    before = parse_key_value_page(settings_text, f"{SNIFFER} print")
    if "file-name" not in before:
        raise _refuse(driver, f"no packet sniffer settings in '{SNIFFER} print'; {POLICIES}")
    if before.get("running") == "yes":
        raise _refuse(driver, "the router's sniffer is running (another capture): it was left alone")
    wan, lan = _interfaces(driver, members, servers)
    stale = [f.get("name") for f in parse_terse(files, "/file print") if f.get("name").startswith(FILE_PREFIX)]
    if stale:
        driver.send(f"/file remove {','.join(ros_quote(n) for n in stale)}")
    sftp = _open_sftp(driver)
    name = f"{FILE_PREFIX}{secrets.token_hex(6)}.pcap"
    limit = file_limit_kib(max_packets)
    interfaces = ",".join([*wan, lan])
    wanted = {"file-name": name, "file-limit": f"{limit}KiB", "filter-interface": interfaces, "filter-port": PORTS,
              "filter-stream": "yes", **{k: "" for k in _NARROWING if before.get(k)}}
    if before.get("filter-direction", "any") != "any":
        wanted["filter-direction"] = "any"
    changed = {k: before.get(k, "") for k in wanted}
    data, note, removed, restored = b"", "", False, False
    failed: RouterfixError | None = None
    try:
        try:
            out = driver.send(f"{SNIFFER} set " + " ".join(f"{k}={ros_quote(v)}" for k, v in wanted.items()))
            now = parse_key_value_page(driver.send(f"{SNIFFER} print"), f"{SNIFFER} print")
        except DeviceError as exc:
            raise _refuse(driver, f"the router refused the sniffer settings ({exc.device_message}); {POLICIES}") \
                from None
        if now.get("file-name") != name or now.get("filter-interface", "").split(",") != interfaces.split(","):
            raise _refuse(driver, f"the sniffer settings did not take ({out.strip()[:120] or 'no answer'}); "
                                  f"{POLICIES}")
        driver.send(f"{SNIFFER} start; :delay {math.ceil(seconds)}s; {SNIFFER} stop",
                    timeout=seconds + driver.timeouts.read + 5.0)
        data = _download(driver, sftp, name, limit * 1024)
        data, kept = keep_packets(data, 2 * max_packets)
        note = f"{kept} packets captured" if kept >= 0 else f"{len(data)} bytes (pcapng)"
    except RouterfixError as exc:
        failed = exc
        raise
    finally:
        sftp.close()
        removed, restored = _clean_up(driver, name, changed)
        notes = _left_behind(name, removed, restored)
        if failed is not None and notes:  # the failure says what it left on the router, not only why it failed
            failed.message = f"{failed.message}; {'; '.join(notes)}"
    method = (f"{SNIFFER} filter-interface={interfaces} filter-port={PORTS} file-limit={limit}KiB, "
              f"start; :delay {math.ceil(seconds)}s; stop (at most {2 * max_packets} packets kept), file over SFTP")
    return LiveCapture((CaptureSide(Side.BOTH, interfaces, data, note),), seconds, max_packets, method,
                       removed and restored, tuple(notes))


def _left_behind(name: str, removed: bool, restored: bool) -> list[str]:
    """What the clean-up could not confirm, each with what to do about it."""
    notes = []
    if not removed:
        notes.append(f"could not confirm that {name} was removed from the router: the next capture removes it first "
                     f"(or: /file remove {name})")
    if not restored:
        notes.append("could not confirm that the sniffer settings were put back: check /tool sniffer print")
    return notes


def _download(driver: MikrotikDriver, sftp: Any, name: str, most: int) -> bytes:
    """The capture file over SFTP, at most ``most`` bytes; a file that is not a pcap is refused."""
    try:
        with sftp.open(name, "rb") as handle:
            data = bytes(handle.read(most))
    except OSError as exc:
        raise DeviceError(f"the sniffer left no file {name} to read over SFTP", device_message=str(exc)[:200],
                          host=driver.host, driver=driver.name) from None
    if data[:4] not in _MAGIC:
        raise DeviceError(f"{name} is not a pcap file ({len(data)} bytes)", device_message="", host=driver.host,
                          driver=driver.name)
    return data


def _clean_up(driver: MikrotikDriver, name: str, changed: dict[str, str]) -> tuple[bool, bool]:
    """Stop the sniffer, remove the file, put the settings back; (file gone, settings as before), both read back."""
    try:
        driver.send(f"{SNIFFER} stop; /file remove [find where name={ros_quote(name)}]", check=False)
        driver.send(f"{SNIFFER} set " + " ".join(f"{k}={ros_quote(v)}" for k, v in changed.items()), check=False)
        settings, files = driver.send_many([f"{SNIFFER} print", f"/file {_PRINT}"], check=False)
    except RouterfixError:
        return False, False
    now = parse_key_value_page(settings, f"{SNIFFER} print")
    gone = not any(f.get("name") == name for f in parse_terse(files, "/file print"))
    return gone, all(now.get(k, "") == v for k, v in changed.items())
