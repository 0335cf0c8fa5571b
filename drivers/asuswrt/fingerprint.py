"""ASUSWRT: the login page (title ``ASUS Login``, form posting to ``login.cgi``) and the ``httpd/2.0`` server name
(docs/facts/fingerprints.md H3, H4)."""

from __future__ import annotations

from routerfix.detect import Confidence, Fingerprint, Match, Observation, search


def _match(seen: Observation) -> Match | None:
    page = seen.reply("/")
    if page is None or not search(page, r"<title>\s*ASUS Login\s*</title>"):
        return None
    evidence = ["login page titled 'ASUS Login'"]
    if search(page, r"action=['\"]login\.cgi"):
        evidence.append("login form posts to login.cgi")
    if search(page, r"httpd/2\.0", header="server"):
        evidence.append("Server: httpd/2.0")
    return Match("asuswrt", Confidence.HIGH if len(evidence) == 3 else Confidence.MEDIUM, tuple(evidence))


fingerprint = Fingerprint("asuswrt", http=_match)
