"""FortiGate: the administrative web server names itself ``xxxxxxxx-xxxxx`` on every answer, the login page
included (docs/facts/fingerprints.md H11). The token-only REST API answers nothing useful without a token, and
FortiOS's SSH identification is a random-looking string (H12), so the ``Server`` header is the sign."""

from __future__ import annotations

from routerfix.detect import Confidence, Fingerprint, Match, Observation, search


def _match(seen: Observation) -> Match | None:
    page = seen.reply("/")
    if page is None or not search(page, r"^xxxxxxxx-xxxxx$", header="server"):
        return None
    return Match("fortigate", Confidence.MEDIUM, ("Server: xxxxxxxx-xxxxx (Fortinet's web server)",))


fingerprint = Fingerprint("fortigate", http=_match)
