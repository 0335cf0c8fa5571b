"""UniFi Network application, without credentials (facts: ``docs/facts/unifi.md`` U2, U24): a UniFi OS console
answers ``GET /`` with 200 and an ``x-csrf-token`` header; a classic controller redirects ``/`` and answers
``GET /status`` with its ``meta`` status record."""

from __future__ import annotations

import json

from routerfix.detect import Confidence, Fingerprint, Match, Observation, Probe, search

_STATUS = Probe("/status")


def _classic(seen: Observation) -> Match | None:
    root, status = seen.reply("/"), seen.reply("/status")
    if root is None or status is None or not 300 <= root.status < 400 or status.status != 200:
        return None
    try:
        data = json.loads(status.body)
    except ValueError:
        return None
    meta = data.get("meta") if isinstance(data, dict) else None
    if not isinstance(meta, dict) or meta.get("rc") != "ok":
        return None
    return Match("unifi", Confidence.HIGH, ("GET / redirects", "GET /status answered a UniFi controller status "
                                            "record without credentials"))


def _unifi_os(seen: Observation) -> Match | None:
    root = seen.reply("/")
    if root is None or root.status != 200 or not root.header("x-csrf-token"):
        return None
    evidence = ["GET / answered 200 with an x-csrf-token header (UniFi OS)"]
    if search(root, r"<title>\s*UniFi OS\s*</title>"):
        evidence.append("page titled 'UniFi OS'")
    return Match("unifi", Confidence.HIGH if len(evidence) == 2 else Confidence.MEDIUM, tuple(evidence))


def _match(seen: Observation) -> Match | None:
    return _unifi_os(seen) or _classic(seen)


fingerprint = Fingerprint("unifi", probes=(_STATUS,), http=_match)
