"""SonicWall (SonicOS): the ``Server: SonicWALL`` header of its web management (not the SMA/SSL-VPN appliances'
``SonicWALL SSL-VPN Web Server`` or ``SMA/…``), and the SonicOS API answering an unauthenticated request with its
status envelope (docs/facts/sonicwall.md S4, S28). No credentials are sent."""

from __future__ import annotations

import json

from routerfix.detect import Confidence, Fingerprint, Match, Observation, Probe, search

PROBE = Probe("/api/sonicos/version")
"""An API read without a session: SonicOS refuses it with its status envelope (S4, S25)."""


def _api_envelope(seen: Observation) -> bool:
    reply = seen.reply(PROBE.path)
    if reply is None or not 400 <= reply.status < 500:
        return False
    try:
        data = json.loads(reply.body)
    except ValueError:
        return False
    status = data.get("status") if isinstance(data, dict) else None
    return isinstance(status, dict) and status.get("success") is False and isinstance(status.get("info"), list)


def _match(seen: Observation) -> Match | None:
    evidence = []
    if any(search(reply, r"^SonicWALL$", header="server") for reply in seen.replies):
        evidence.append("Server: SonicWALL")
    if _api_envelope(seen):
        evidence.append("/api/sonicos refuses an unauthenticated read with the SonicOS status envelope")
    if not evidence:
        return None
    return Match("sonicwall", Confidence.HIGH if len(evidence) == 2 else Confidence.MEDIUM, tuple(evidence))


fingerprint = Fingerprint("sonicwall", probes=(PROBE,), http=_match)
