"""The RouterOS packet sniffer and file store of the simulated router: ``/tool sniffer`` (``print``, ``set``,
``start``, ``stop``), ``:delay``, the files it writes (listed by ``/file print``, removed by ``/file remove``) and the
SFTP access to them.

Follows docs/facts/mikrotik.md rows M60-M71, never the driver: the sniffer's settings print as a ``key: value``
page and change with ``set``; one sniffer per router, taking one or several interfaces (``filter-interface``,
empty = all); ``start`` runs it in the background, ``stop`` ends it and, with ``file-name`` set, leaves a pcap
file of at most ``file-limit`` KiB among the router's files; ``:delay`` waits (no time passes here: the capture is
what the sniffer would have seen in that time, the scene of :mod:`simulators._hosts.capture`); a user whose group
lacks the ``sniff`` policy cannot change or run the sniffer, one lacking ``ftp`` gets no SFTP. The files live in a
directory of their own, which the SFTP subsystem serves as its root.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .._hosts.capture import CaptureScene, scene_traffic
from .._hosts.pcap import pcap_file

__all__ = ["DEFAULT_SETTINGS", "SnifferState", "sniffer_command"]

DEFAULT_SETTINGS = {
    "only-headers": "no", "memory-limit": "100KiB", "memory-scroll": "yes", "file-name": "", "file-limit": "1000KiB",
    "streaming-enabled": "no", "streaming-server": "0.0.0.0:37008", "filter-stream": "no", "filter-interface": "",
    "filter-mac-address": "", "filter-mac-protocol": "", "filter-ip-address": "", "filter-ipv6-address": "",
    "filter-ip-protocol": "", "filter-port": "", "filter-cpu": "", "filter-size": "", "filter-direction": "any",
    "filter-operator-between-entries": "or", "running": "no",
}
"""The v7 settings page (M63: the property names and defaults of a real router's ``/tool/sniffer``)."""
NO_PERMISSION = "not enough permissions (9)"
"""What a user without the ``sniff`` policy is told (M68; wording **inferred**)."""
_LIMIT = re.compile(r"(\d+)(KiB)?")


@dataclass
class SnifferState:
    """The one sniffer of the router, its files directory, and the login's policies (M68)."""

    root: str = ""
    """The directory holding the router's files (``/file``; the SFTP root)."""
    settings: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SETTINGS))
    elapsed: int = 0
    policies: set[str] = field(default_factory=lambda: {"ssh", "read", "write", "sniff", "ftp", "test"})
    starts: int = 0
    """Sniffer runs so far (tests)."""

    def files(self) -> dict[str, int]:
        """File name → size, as ``/file print`` shows them."""
        if not self.root:
            return {}
        return {entry.name: entry.stat().st_size for entry in sorted(os.scandir(self.root), key=lambda e: e.name)
                if entry.is_file()}

    def sftp_root(self, account: str) -> str | None:
        """The SFTP root for a login: the files directory, or None without the ``ftp`` policy (M68)."""
        return self.root if "ftp" in self.policies and self.root else None


def _page(settings: dict[str, str]) -> str:
    width = max(len(k) for k in settings)
    return "".join(f"{key:>{width + 2}}: {value}\n" for key, value in settings.items())


def _limit_bytes(text: str) -> int:
    match = _LIMIT.fullmatch(text)
    return int(match.group(1)) * 1024 if match else 1000 * 1024


def _cut(data: bytes, limit: int) -> bytes:
    """The savefile cut at the last whole record within ``limit`` bytes (the sniffer stops at its file limit)."""
    end = 24
    while end + 16 <= len(data):
        size = struct.unpack_from("<I", data, end + 8)[0]
        if end + 16 + size > limit:
            break
        end += 16 + size
    return data[:end]


def sniffer_command(state: SnifferState, scene: Callable[[], CaptureScene], verb: str, args: list[str]) -> str:
    """Run ``/tool sniffer VERB ARGS`` and return its output (errors as the device prints them)."""
    settings = state.settings
    if verb == "print":
        return _page(settings)
    if "sniff" not in state.policies:
        return NO_PERMISSION + "\n"
    if verb == "set":
        changes: dict[str, str] = {}
        for arg in args:
            key, eq, value = arg.partition("=")
            if not eq or key not in settings or key == "running":
                return f"expected end of command (line 1 column {len(key) + 1})\n"
            if key in ("file-limit", "memory-limit"):
                if not _LIMIT.fullmatch(value) or int(_LIMIT.fullmatch(value).group(1)) < 10:  # type: ignore[union-attr]
                    return f"value of {key} out of range (10KiB..4294967295KiB)\n"
                value = value if value.endswith("KiB") else value + "KiB"
            changes[key] = value
        settings.update(changes)
        return ""
    if verb == "start":
        if settings["running"] == "no":
            settings["running"] = "yes"
            state.elapsed = 0
            state.starts += 1
        return ""
    if verb == "stop":
        if settings["running"] == "yes":
            settings["running"] = "no"
            name = settings["file-name"]
            if name and state.root:
                taken = scene()
                wanted = [n for n in settings["filter-interface"].split(",") if n] or [taken.wan, taken.lan]
                data = pcap_file(scene_traffic(taken, wanted, state.elapsed))
                Path(state.root, name).write_bytes(_cut(data, _limit_bytes(settings["file-limit"])))
        return ""
    return f"bad command name {verb} (line 1 column 14)\n"


def delay(state: SnifferState, argument: str) -> str:
    """``:delay Ns``: no time passes here; a running sniffer sees that many seconds of the scene."""
    match = re.fullmatch(r"(\d+)s?", argument)
    if match is None:
        return "syntax error (line 1 column 8)\n"
    if state.settings["running"] == "yes":
        state.elapsed += int(match.group(1))
    return ""
