"""What diagnose concludes: the :class:`Verdict`, its evidence, the next step, and how it is shown."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["EXIT_INSUFFICIENT", "EXIT_REPLACE_ROUTER", "EXIT_SCAN_REACHING", "Diagnosis", "FileReport",
           "ProviderEvidence", "RequestClass", "ScanSource", "Verdict"]

EXIT_SCAN_REACHING = 7
"""Exit code of ``routerfix diagnose``: scans reach a phone and the router is not mitigated yet (run mitigate)."""
EXIT_INSUFFICIENT = 8
"""Exit code of ``routerfix diagnose``: the evidence is not enough for a verdict."""
EXIT_REPLACE_ROUTER = 5
"""Scans reach a phone although the router carries the mitigation: the same code as every replace-the-router
verdict of routerfix."""


class Verdict(StrEnum):
    """What the evidence shows."""

    SCAN_REACHING_PHONE = "scan-reaching-phone"
    SCAN_ARRIVING_BLOCKED = "scan-arriving-blocked"
    NO_SCAN = "no-scan"
    INSUFFICIENT_EVIDENCE = "insufficient-evidence"


class RequestClass(StrEnum):
    """Where one SIP request came from and went."""

    FROM_PROVIDER = "from-provider"
    FROM_PHONE = "from-phone"
    SCAN_REACHING_PHONE = "scan-reaching-phone"
    SCAN_ARRIVING_BLOCKED = "scan-arriving-blocked"
    UNSOLICITED_UNKNOWN = "unsolicited-unknown"
    LOCAL = "local"


@dataclass
class ScanSource:
    """One address that sent requests from elsewhere (a scanner, by the evidence)."""

    address: str
    requests: int = 0
    reached: int = 0
    blocked: int = 0
    methods: dict[str, int] = field(default_factory=dict)
    user_agents: list[str] = field(default_factory=list)
    caller_ids: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    transports: list[str] = field(default_factory=list)
    indicators: list[str] = field(default_factory=list)
    first: float | None = None
    last: float | None = None
    samples: list[str] = field(default_factory=list)


@dataclass
class ProviderEvidence:
    """Requests the provider sent to the phones, and what the phones sent."""

    providers: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    sinks: list[str] = field(default_factory=list)
    """The mitigation's sink addresses the classification took as "goes nowhere" (named or read from the router)."""
    provider_requests: int = 0
    provider_methods: dict[str, int] = field(default_factory=dict)
    provider_caller_ids: list[str] = field(default_factory=list)
    phone_requests: int = 0
    phone_methods: dict[str, int] = field(default_factory=dict)
    first: float | None = None
    last: float | None = None
    samples: list[str] = field(default_factory=list)


@dataclass
class FileReport:
    """One evidence file: what it was and how much of it was read."""

    path: str
    kind: str
    packets: int = 0
    sip_messages: int = 0
    skipped: int = 0
    cut_at_byte_limit: bool = False
    error: str | None = None


@dataclass
class Diagnosis:
    """The result of :func:`routerfix.diagnose.diagnose`. ``to_dict()`` follows ``diagnosis.schema.json``."""

    verdict: Verdict
    summary: str
    next_step: str
    mitigated: bool
    exit_code: int
    classes: dict[str, int]
    scanners: list[ScanSource]
    site: ProviderEvidence
    files: list[FileReport]
    limits: dict[str, int]
    limits_reached: list[str]
    first: float | None = None
    last: float | None = None
    capture: dict[str, Any] | None = None
    """Set by a live capture (:func:`routerfix.diagnose.live.diagnose_live`): where, how long, how much."""

    schema_version = 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (see docs/diagnose.md and ``routerfix/diagnose/diagnosis.schema.json``)."""
        data = asdict(self)
        data["verdict"] = str(self.verdict)
        data["schema_version"] = self.schema_version
        return data

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2)

    def __rich__(self) -> Any:
        from routerfix.diagnose.render import renderable

        return renderable(self)

    def _repr_html_(self) -> str:
        from routerfix.diagnose.render import html

        return html(self)
