"""Live capture on the router (``routerfix diagnose --capture SECONDS``): what a driver returns, its bounds, and
the diagnosis of both sides together.

The WAN-side capture shows scans *arriving*; the LAN-side capture shows them *reaching the phone*. A driver with
:attr:`~routerfix.model.Feature.CAPTURE` captures both at once, bounded in time and packets, and leaves nothing
on the device (:meth:`routerfix.driver.Driver.capture`). See docs/diagnose.md, "Live capture".
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from routerfix.errors import InvalidValue
from routerfix.model import Feature

if TYPE_CHECKING:
    from routerfix.diagnose.limits import Limits
    from routerfix.diagnose.report import Diagnosis
    from routerfix.driver import Driver

__all__ = ["DEFAULT_PACKETS", "MAX_PACKETS", "MAX_SECONDS", "CaptureSide", "LiveCapture", "Side", "check_bounds",
           "diagnose_live", "mitigation_found", "mitigation_sinks"]

MAX_SECONDS = 600
"""Longest live capture (seconds)."""
DEFAULT_PACKETS = 500
"""Packets captured per side unless told otherwise."""
MAX_PACKETS = 2000
"""Most packets captured per side (each at most :data:`SNAPLEN` bytes: the capture stays a few MB at most)."""
SCRATCH_PREFIX = "routerfix-diagnose-"
"""Prefix of the local scratch directory holding the pcaps while they are diagnosed: never the routers' own
capture prefix (``/tmp/routerfix-capture-*``, which a Linux capture clears first), so a capture on a router that
shares this machine's /tmp (the namespace lab, or routerfix run on the router itself) cannot delete it."""
SNAPLEN = 2048
"""Bytes kept of each packet (a SIP request over UDP fits; longer ones are cut, and their SIP read as far as kept)."""


class Side(StrEnum):
    """Where on the router a capture was taken."""

    WAN = "wan"
    """The internet side: scans arrive here."""
    LAN = "lan"
    """The phones' side: what reaches a phone shows here."""
    BOTH = "wan+lan"
    """Both sides in one file (one capture taking the WAN and LAN interfaces at once, e.g. a router with a single
    sniffer): the diagnosis tells them apart by address, as it does for any file."""


def check_bounds(seconds: object, max_packets: object) -> tuple[float, int]:
    """Validated ``(seconds, max_packets)``: 1..:data:`MAX_SECONDS` seconds, 1..:data:`MAX_PACKETS` packets."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
            or not 1 <= seconds <= MAX_SECONDS:
        raise InvalidValue("capture seconds", seconds, f"a number of seconds from 1 to {MAX_SECONDS}")
    if isinstance(max_packets, bool) or not isinstance(max_packets, int) or not 1 <= max_packets <= MAX_PACKETS:
        raise InvalidValue("capture packets", max_packets, f"a packet count from 1 to {MAX_PACKETS}")
    return float(seconds), max_packets


@dataclass(frozen=True)
class CaptureSide:
    """One side's capture: the interface and the pcap bytes."""

    side: Side
    interface: str
    data: bytes = field(repr=False)
    note: str = ""
    """What the capture tool said (its last line on stderr, e.g. ``12 packets captured``)."""


@dataclass(frozen=True)
class LiveCapture:
    """What :meth:`routerfix.driver.Driver.capture` returns."""

    sides: tuple[CaptureSide, ...]
    seconds: float
    max_packets: int
    method: str
    """How it was taken (the device command, with the interface names)."""
    removed: bool
    """True when the device was checked to keep nothing of the capture afterwards."""
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data without the packets (sizes instead)."""
        return {"seconds": self.seconds, "max_packets": self.max_packets, "method": self.method,
                "removed_from_device": self.removed, "notes": list(self.notes),
                "sides": [{"side": str(s.side), "interface": s.interface, "bytes": len(s.data), "note": s.note}
                          for s in self.sides]}


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in ".-" else "_" for c in text)[:64]


def _save(capture: LiveCapture, directory: Path, host: str) -> list[Path]:
    paths = []
    for side in capture.sides:
        path = directory / f"{_safe(host) or 'router'}-{_safe(side.side)}-{_safe(side.interface)}.pcap"
        path.write_bytes(side.data)
        paths.append(path)
    return paths


def mitigation_found(driver: Driver) -> bool | None:
    """Whether the router carries routerfix's forward (read from the device); None when it cannot be read."""
    return mitigation_sinks(driver)[0]


def mitigation_sinks(driver: Driver) -> tuple[bool | None, list[str]]:
    """(whether the router carries routerfix's forward, the addresses those forwards point at) read from the
    device; (None, []) when it cannot be read."""
    from routerfix.errors import RouterfixError
    from routerfix.planner import RULE_PREFIX

    try:
        state = driver.read_state()
    except RouterfixError:
        return None, []
    ours = [f for f in state.forwards if f.name.startswith(RULE_PREFIX)]
    return bool(ours), sorted({str(f.internal_address) for f in ours})


def diagnose_live(driver: Driver, seconds: float, *, max_packets: int = DEFAULT_PACKETS,
                  evidence: Iterable[str | PathLike[str]] = (), mitigated: bool | None = None,
                  phones: Iterable[str] = (), providers: Iterable[str] = (), sinks: Iterable[str] = (),
                  limits: Limits | None = None, save_to: str | PathLike[str] | None = None) -> Diagnosis:
    """Capture on ``driver``'s router (open) for ``seconds`` and diagnose both sides together, with any other
    ``evidence`` files. ``mitigated``: None (default) reads it from the router (routerfix's forward present: scans
    still reaching a phone then mean its NAT is failing); the addresses routerfix's forwards point at are read too
    and join ``sinks`` (a scan delivered to the sink went where the fix sends it). ``save_to``: a directory to keep
    the pcap files in (else they are deleted afterwards). The result's ``capture`` says what was captured where."""
    from routerfix.diagnose import diagnose

    seconds, max_packets = check_bounds(seconds, max_packets)
    found, read_sinks = mitigation_sinks(driver) if Feature.CAPTURE in driver.capabilities else (None, [])
    taken = driver.capture(seconds, max_packets=max_packets)
    if mitigated is None:
        mitigated = bool(found)
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX) as scratch:
        directory = Path(save_to) if save_to is not None else Path(scratch)
        if save_to is not None:
            directory.mkdir(parents=True, exist_ok=True)
        paths = _save(taken, directory, driver.host)
        result = diagnose([*paths, *evidence], mitigated=mitigated, phones=phones, providers=providers,
                          sinks=[*sinks, *read_sinks], limits=limits)
    info = taken.to_dict()
    info.update(driver=driver.name, host=driver.host, saved=None if save_to is None else [str(p) for p in paths],
                mitigation_found=found)
    return dataclasses.replace(result, capture=info)
