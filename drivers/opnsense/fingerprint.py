"""OPNsense: the web GUI's lighttpd is configured with ``server.tag = "OPNsense"``, so every answer, the login page
and the API's refusal without a key included, carries ``Server: OPNsense`` (docs/facts/fingerprints.md H13)."""

from __future__ import annotations

from routerfix.detect import Confidence, Fingerprint, Match, Observation, search


def _match(seen: Observation) -> Match | None:
    page = seen.reply("/")
    if page is None or not search(page, r"^OPNsense$", header="server"):
        return None
    return Match("opnsense", Confidence.MEDIUM, ("Server: OPNsense (the web GUI's lighttpd server tag)",))


fingerprint = Fingerprint("opnsense", http=_match)
