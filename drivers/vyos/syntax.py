"""The configuration nodes that differ between VyOS releases, chosen by the version ``show version`` reports
(docs/facts/vyos.md, rows on releases: vyos/vyos-1x interface definitions per branch)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["SYNTAX", "Train", "VyosSyntax", "train_of"]


class Train(StrEnum):
    """A VyOS release train (the vyos/vyos-1x branch its interface definitions come from)."""

    EQUULEUS = "equuleus"
    """1.3 LTS."""
    SAGITTA = "sagitta"
    """1.4 LTS."""
    CIRCINUS = "circinus"
    """1.5."""
    CURRENT = "current"
    """Rolling releases after 1.5 (versions named by date, ``2025.01.10-0020-rolling``)."""


@dataclass(frozen=True)
class VyosSyntax:
    """Where a release keeps the nodes routerfix writes."""

    inbound_interface: str
    """``nat destination rule N <this> <if>``: ``inbound-interface`` (1.3) or ``inbound-interface name`` (1.4+)."""
    static_mapping_mac: str
    """The MAC leaf of a DHCP ``static-mapping``: ``mac-address`` (1.3, 1.4) or ``mac`` (1.5+)."""


SYNTAX: dict[Train, VyosSyntax] = {
    Train.EQUULEUS: VyosSyntax("inbound-interface", "mac-address"),
    Train.SAGITTA: VyosSyntax("inbound-interface name", "mac-address"),
    Train.CIRCINUS: VyosSyntax("inbound-interface name", "mac"),
    Train.CURRENT: VyosSyntax("inbound-interface name", "mac"),
}


def train_of(version: str) -> Train | None:
    """The train of a ``show version`` ``Version:`` value (``VyOS 1.4.0``, ``1.5-rolling-202410210007``,
    ``VyOS 2025.01.10-0020-rolling``); None for releases routerfix does not know the syntax of (1.2 and older).
    """
    m = re.search(r"\b(\d+)\.(\d+)", version if isinstance(version, str) else "")
    if m is None:
        return None
    major, minor = int(m.group(1)), int(m.group(2))
    if major >= 2024:
        return Train.CURRENT
    return {(1, 3): Train.EQUULEUS, (1, 4): Train.SAGITTA, (1, 5): Train.CIRCINUS}.get((major, minor))
