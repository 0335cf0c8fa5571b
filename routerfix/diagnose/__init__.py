"""Tell from evidence whether a site's ghost calls are SIP scans, where they come in, and whether the fix holds.

    from routerfix.diagnose import diagnose

    result = diagnose(["phone-side.pcapng", "/var/log/asterisk/full"], mitigated=False)
    print(result.verdict, result.next_step)

Reads packet captures (pcap, pcapng; dpkt, loaded on first use) and SIP logs (sipp ``-trace_msg``, Asterisk,
Kamailio sipdump). See docs/diagnose.md.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from os import PathLike
from pathlib import Path

from routerfix.diagnose.classify import classify
from routerfix.diagnose.limits import Budget, Limits
from routerfix.diagnose.report import (
    EXIT_INSUFFICIENT,
    EXIT_SCAN_REACHING,
    Diagnosis,
    FileReport,
    RequestClass,
    ScanSource,
    Verdict,
)
from routerfix.diagnose.sip import SipEvent
from routerfix.errors import InvalidValue, ParseError

__all__ = ["EXIT_INSUFFICIENT", "EXIT_SCAN_REACHING", "SCHEMA_PATH", "Diagnosis", "Limits", "RequestClass",
           "ScanSource", "SipEvent", "Verdict", "diagnose", "read_evidence"]

SCHEMA_PATH = Path(__file__).with_name("diagnosis.schema.json")
"""The JSON Schema that :meth:`Diagnosis.to_dict` follows."""


def _read_one(path: Path, budget: Budget, report: FileReport) -> Iterator[SipEvent]:
    from routerfix.diagnose.logs import LogStats, read_log
    from routerfix.diagnose.pcap import CaptureStats, is_capture, read_capture

    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise ParseError(str(path), f"cannot read: {exc.strerror}") from None
    if is_capture(head):
        report.kind = "capture"
        stats = CaptureStats()
        try:
            yield from read_capture(path, budget, stats)
        finally:
            report.packets, report.sip_messages, report.skipped = stats.packets, stats.sip_messages, stats.skipped
            report.cut_at_byte_limit = stats.bytes_cut
        return
    log = LogStats()
    try:
        yield from read_log(path, budget, log)
    finally:
        report.kind = str(log.format or "unknown")
        report.packets, report.sip_messages, report.skipped = log.records, log.sip_messages, log.skipped
        report.cut_at_byte_limit = log.bytes_cut


def read_evidence(paths: Iterable[str | PathLike[str]], limits: Limits | None = None
                  ) -> tuple[list[SipEvent], list[FileReport], Budget]:
    """Every SIP message in the evidence files, with a report per file. A file that cannot be read is reported
    (``error``) and the others are still read; raises :class:`~routerfix.errors.ParseError` only when no file
    could be read."""
    budget = Budget(limits or Limits())
    events: list[SipEvent] = []
    reports: list[FileReport] = []
    for item in paths:
        path = Path(item)
        if not path.is_file():
            raise InvalidValue("evidence", str(path), "an existing capture or log file")
        report = FileReport(path=str(path), kind="unknown")
        reports.append(report)
        try:
            events.extend(_read_one(path, budget, report))
        except ParseError as exc:
            report.error = exc.detail
    if reports and all(r.error for r in reports):
        raise ParseError(", ".join(r.path for r in reports), "; ".join(str(r.error) for r in reports))
    events.sort(key=lambda e: (e.time is None, e.time or 0.0))
    return events, reports, budget


def _addresses(field: str, values: Iterable[str]) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_address(str(value).strip("[]"))))
        except ValueError:
            raise InvalidValue(field, value, "an IPv4 or IPv6 address") from None
    return out


def diagnose(paths: Iterable[str | PathLike[str]], *, mitigated: bool = False, phones: Iterable[str] = (),
             providers: Iterable[str] = (), sinks: Iterable[str] = (), limits: Limits | None = None) -> Diagnosis:
    """Read the evidence at ``paths`` and reach a :class:`Verdict`.

    :param mitigated: the site's router already carries routerfix's mitigation (scans reaching a phone then mean
        the router's NAT is failing: replace it).
    :param phones: addresses of the site's phones, where the evidence may not show them registering.
    :param providers: addresses of the provider's registrar/SBCs, where the evidence may not show them.
    :param sinks: the mitigation's sink addresses: a scan delivered there went where the fix sends it (nowhere),
        unless the sink answered it.
    :param limits: bounds on what is read (see :class:`Limits`); the result states them and which were reached.
    """
    paths = list(paths)
    if not paths:
        raise InvalidValue("evidence", [], "at least one capture or log file")
    phones, providers = _addresses("phone", phones), _addresses("provider", providers)
    sinks = _addresses("sink", sinks)
    events, reports, budget = read_evidence(paths, limits)
    found = classify(events, mitigated=mitigated, phones=phones, providers=providers, sinks=sinks)
    return Diagnosis(verdict=found.verdict, summary=found.summary, next_step=found.next_step, mitigated=mitigated,
                     exit_code=found.exit_code, classes=found.classes, scanners=found.scanners, site=found.site,
                     files=reports, limits=budget.limits.to_dict(), limits_reached=list(budget.reached),
                     first=found.first, last=found.last)
