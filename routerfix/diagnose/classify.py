"""Learn the site from the evidence (phones, provider), classify every request, reach the verdict.

The rules, each a row of docs/facts/diagnose.md:

- a *phone* is an address that registers (a REGISTER from a LAN address or the logging host, or one answered
  2xx: a scanner's REGISTER is refused), the host that wrote a log, or a LAN address (RFC 1918, RFC 6598, IPv6
  ULA/link-local) that receives an INVITE from outside; phones may also be named by the caller;
- the *provider* is where phones send REGISTER (by address, any port), plus any address named by the caller
  (SBC pools that send from other addresses must be named);
- a request from elsewhere *reaches a phone* when it is delivered to a phone's LAN address or to the logging
  host, or when its target answered it (same Call-ID and CSeq method, from the address and port it went to);
  otherwise it *arrives and goes nowhere* (a capture on the WAN side
  after the fix). A request delivered to the mitigation's *sink* (the unused LAN address the forwards point at,
  named by the caller or read from the router) went where the fix sends it: nowhere, unless the sink answered;
- with no provider learned, a request from elsewhere counts as a scan only when it bears a scanner's marks
  (User-Agent, caller ID 100/1000 or numeric, a sweep); otherwise it is left unclassified.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from routerfix.diagnose.logs import LOCAL
from routerfix.diagnose.report import (
    EXIT_INSUFFICIENT,
    EXIT_REPLACE_ROUTER,
    EXIT_SCAN_REACHING,
    ProviderEvidence,
    RequestClass,
    ScanSource,
    Verdict,
)
from routerfix.diagnose.sip import SipEvent

__all__ = ["SCANNER_USER_AGENTS", "Classified", "classify"]

SCANNER_USER_AGENTS = ("friendly-scanner", "sipvicious", "sipcli", "sip-scan", "sipscan", "vaxsipuseragent",
                       "pplsip", "sundayddr", "iwar", "sippts")
"""Lower-case substrings of User-Agent values that scanning tools send (docs/facts/diagnose.md rows S1-S3)."""
SCAN_CALLER_IDS = frozenset({"100", "1000", "1001", "101", "200", "0", "1", "123", "1234", "admin", "anonymous"})
SWEEP = 3
"""A source that sends to this many distinct targets (address or user) is sweeping."""
MAX_LIST = 8
"""Lists in the evidence (user agents, caller IDs, targets, samples) keep this many entries."""

_LAN_V4 = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                                             "169.254.0.0/16")]
_LAN_V6 = [ipaddress.ip_network(n) for n in ("fc00::/7", "fe80::/10")]
_NUMERIC = re.compile(r"^\+?\d{1,15}$")


@functools.lru_cache(maxsize=65536)
def is_lan(address: str | None) -> bool:
    """True for an address that only exists behind a router (RFC 1918, RFC 6598, link-local, IPv6 ULA)."""
    if not address or address == LOCAL:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    nets = _LAN_V4 if ip.version == 4 else _LAN_V6
    return any(ip in net for net in nets)


def _add(items: list[str], value: str) -> None:
    if value and value not in items and len(items) < MAX_LIST:
        items.append(value)


def _span(first: float | None, last: float | None, when: float | None) -> tuple[float | None, float | None]:
    if when is None:
        return first, last
    return (when if first is None else min(first, when)), (when if last is None else max(last, when))


@dataclass
class Classified:
    """Everything :func:`classify` concluded."""

    verdict: Verdict
    summary: str
    next_step: str
    exit_code: int
    classes: dict[str, int]
    scanners: list[ScanSource]
    site: ProviderEvidence
    first: float | None = None
    last: float | None = None
    unknown_sources: list[str] = field(default_factory=list)


def learn_site(events: Sequence[SipEvent], phones: Iterable[str] = (), providers: Iterable[str] = (),
               sinks: Iterable[str] = ()) -> tuple[set[str], set[str]]:
    """(phones, providers) learned from ``events``, starting from those given; a ``sinks`` address is never a
    phone."""
    phone_set, provider_set, sink_set = set(phones), set(providers), set(sinks)
    registered = {e.call_id for e in events if e.status and 200 <= e.status < 300 and e.cseq_method == "REGISTER"}
    for event in events:
        if event.method == "REGISTER" and event.src and not event.notes and (
                event.src == LOCAL or is_lan(event.src) or event.call_id in registered):
            phone_set.add(event.src)
        if event.dst == LOCAL:
            phone_set.add(LOCAL)
        if event.method == "INVITE" and is_lan(event.dst) and not is_lan(event.src) and event.dst not in sink_set:
            phone_set.add(event.dst or "")
    phone_set.discard("")
    for event in events:
        if event.is_request and event.src in phone_set and event.dst and event.dst not in phone_set \
                and not is_lan(event.dst) and event.method in ("REGISTER", "INVITE", "SUBSCRIBE", "OPTIONS"):
            if event.method == "REGISTER" or event.dst in provider_set:
                provider_set.add(event.dst)
    return phone_set, provider_set


Answered = set[tuple[str, str, int | None, str]]
"""(Call-ID, responder address, responder port or None, CSeq method or ``*``) of every response seen."""


def _answered(events: Sequence[SipEvent]) -> Answered:
    """Every response seen, as :data:`Answered` entries; each also without its port (for evidence without ports)."""
    out: Answered = set()
    for e in events:
        if not e.is_request and e.call_id:
            key = (e.call_id, e.src or "", e.sport, e.cseq_method or "*")
            out.add(key)
            out.add((key[0], key[1], None, key[3]))
    return out


def _was_answered(event: SipEvent, answered: Answered) -> bool:
    """Whether the request's target answered it: a response with the same Call-ID and CSeq method from the same
    address *and port* the request went to (a NAT maps per port). An ACK has no answer of its own (RFC 3261 17.1.1.3):
    it counts as answered when the INVITE it acknowledges was answered from where the ACK went. A scanner's ACK to a
    phone's late answer that left through another port (a NAT after the fix maps it elsewhere) went nowhere (C8)."""
    method = "INVITE" if event.method == "ACK" else event.method or ""
    target = event.dst or ""
    return any((event.call_id, target, event.dport, m) in answered for m in (method, "*"))


def _marks(source: ScanSource, targets_by_user: set[str]) -> list[str]:
    marks: list[str] = []
    for agent in source.user_agents:
        if any(tool in agent.lower() for tool in SCANNER_USER_AGENTS):
            marks.append(f"scanner User-Agent {agent!r}")
            break
    odd = [c for c in source.caller_ids if c.lower() in SCAN_CALLER_IDS]
    if odd:
        marks.append(f"caller ID {', '.join(odd)}")
    elif source.caller_ids and all(_NUMERIC.match(c) for c in source.caller_ids) and len(source.caller_ids) >= SWEEP:
        marks.append("random numeric caller IDs")
    if len(source.targets) >= SWEEP or len(targets_by_user) >= SWEEP:
        marks.append(f"sweep over {max(len(source.targets), len(targets_by_user))} targets")
    if source.methods.get("INVITE"):
        marks.append("INVITE from a non-provider source")
    return marks


def classify(events: Sequence[SipEvent], *, mitigated: bool = False, phones: Iterable[str] = (),
             providers: Iterable[str] = (), sinks: Iterable[str] = ()) -> Classified:
    """Classify every request in ``events`` and reach the verdict. ``sinks``: the mitigation's sink addresses
    (a request delivered there went nowhere unless the sink answered it)."""
    sink_set = frozenset(sinks)
    phone_set, provider_set = learn_site(events, phones, providers, sink_set)
    answered = _answered(events)
    classes: dict[str, int] = defaultdict(int)
    site = ProviderEvidence(providers=sorted(provider_set)[:MAX_LIST * 4], phones=sorted(phone_set)[:MAX_LIST * 4],
                            sinks=sorted(sink_set)[:MAX_LIST])
    sources: dict[str, ScanSource] = {}
    users: dict[str, set[str]] = defaultdict(set)
    pending: list[tuple[SipEvent, bool]] = []
    first = last = None
    for event in events:
        first, last = _span(first, last, event.time)
        if not event.is_request:
            continue
        method = event.method or "?"
        if event.src in phone_set:
            classes[RequestClass.FROM_PHONE] += 1
            site.phone_requests += 1
            site.phone_methods[method] = site.phone_methods.get(method, 0) + 1
            continue
        if event.src in provider_set:
            classes[RequestClass.FROM_PROVIDER] += 1
            site.provider_requests += 1
            site.provider_methods[method] = site.provider_methods.get(method, 0) + 1
            site.first, site.last = _span(site.first, site.last, event.time)
            if method == "INVITE":
                _add(site.provider_caller_ids, event.from_display or event.from_user)
            _add(site.samples, event.line)
            continue
        if event.src is None or event.src == event.dst or (is_lan(event.src) and (is_lan(event.dst)
                                                                                   or event.dst is None)):
            classes[RequestClass.LOCAL] += 1
            continue
        delivered = is_lan(event.dst) and (event.dst not in sink_set or event.dst in phone_set)
        reached = event.dst == LOCAL or delivered or _was_answered(event, answered)
        source = sources.setdefault(event.src, ScanSource(address=event.src))
        source.requests += 1
        source.methods[method or "?"] = source.methods.get(method or "?", 0) + 1
        _add(source.user_agents, event.user_agent)
        _add(source.caller_ids, event.from_user)
        if event.from_display != event.from_user:
            _add(source.caller_ids, event.from_display)
        _add(source.targets, event.dst or "")
        _add(source.transports, event.transport)
        _add(source.samples, event.line)
        if event.request_user:
            users[event.src].add(event.request_user)
        source.first, source.last = _span(source.first, source.last, event.time)
        pending.append((event, reached))
    scanners: list[ScanSource] = []
    unknown: list[str] = []
    for address, source in sources.items():
        source.indicators = _marks(source, users[address])
        is_scan = bool(provider_set) or any(not m.startswith("INVITE from") for m in source.indicators)
        if is_scan:
            scanners.append(source)
        else:
            _add(unknown, address)
    scanning = {s.address for s in scanners}
    for event, reached in pending:
        if event.src not in scanning:
            classes[RequestClass.UNSOLICITED_UNKNOWN] += 1
            continue
        source = sources[event.src or ""]
        if reached:
            source.reached += 1
            classes[RequestClass.SCAN_REACHING_PHONE] += 1
        else:
            source.blocked += 1
            classes[RequestClass.SCAN_ARRIVING_BLOCKED] += 1
    scanners.sort(key=lambda s: (-s.reached, -s.requests, s.address))
    verdict, summary, step, code = _verdict(classes, scanners, site, unknown, mitigated)
    return Classified(verdict=verdict, summary=summary, next_step=step, exit_code=code,
                      classes={str(k): v for k, v in sorted(classes.items())}, scanners=scanners, site=site,
                      first=first, last=last, unknown_sources=unknown)


def _verdict(classes: dict[str, int], scanners: list[ScanSource], site: ProviderEvidence, unknown: list[str],
             mitigated: bool) -> tuple[Verdict, str, str, int]:
    reached = classes.get(RequestClass.SCAN_REACHING_PHONE, 0)
    blocked = classes.get(RequestClass.SCAN_ARRIVING_BLOCKED, 0)
    who = ", ".join(s.address for s in scanners[:3]) + (" and others" if len(scanners) > 3 else "")
    if reached:
        summary = (f"{reached} request(s) from {len(scanners)} non-provider source(s) ({who}) reached a phone: "
                   "SIP scans from the internet get through the router")
        if mitigated:
            return (Verdict.SCAN_REACHING_PHONE, summary,
                    "the router already carries routerfix's mitigation and scans still reach the phone: its NAT "
                    "is failing. Replace the router (or put it in bridge mode behind one that filters).",
                    EXIT_REPLACE_ROUTER)
        return (Verdict.SCAN_REACHING_PHONE, summary,
                "run `routerfix mitigate` on this site's router (then capture again: the scans should arrive and "
                "go nowhere)", EXIT_SCAN_REACHING)
    if blocked:
        return (Verdict.SCAN_ARRIVING_BLOCKED,
                f"{blocked} request(s) from {len(scanners)} non-provider source(s) ({who}) arrived and were not "
                "answered by any phone",
                "nothing on the router: scans arrive and go nowhere (the fix, or the router's NAT filtering, holds)",
                0)
    if site.provider_requests or site.phone_requests:
        seen = ", ".join(f"{m} x{n}" for m, n in sorted(site.provider_methods.items())) or "no requests"
        callers = f"; incoming calls from caller ID(s) {', '.join(site.provider_caller_ids)}" \
            if site.provider_caller_ids else ""
        return (Verdict.NO_SCAN,
                f"every inbound request came from the provider ({', '.join(site.providers) or 'unknown'}): {seen}"
                f"{callers}",
                "not a router problem: if the phone rang with odd caller IDs, those calls came through the "
                "provider; ask the provider (or check the PBX's routing) with the times and caller IDs above", 0)
    why = "no SIP requests in the evidence" if not unknown else (
        f"requests from {', '.join(unknown)} without a scanner's marks, and no provider learned (no REGISTER seen)")
    return (Verdict.INSUFFICIENT_EVIDENCE, why,
            "capture longer, on the phone's port of the switch or the router's LAN side, across a registration "
            "(or name the provider with --provider) and while the phone rings", EXIT_INSUFFICIENT)
