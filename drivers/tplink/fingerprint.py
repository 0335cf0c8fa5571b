"""TP-Link (header-authentication builds): ``WWW-Authenticate: Basic realm="TP-LINK … <model>"``, server
``Router Webserver`` (docs/facts/fingerprints.md H5; docs/facts/tplink.md T2)."""

from __future__ import annotations

from routerfix.detect import Confidence, Fingerprint, Match, Observation, search


def _match(seen: Observation) -> Match | None:
    for reply in seen.replies:
        realm = search(reply, r'realm="(TP-LINK[^"]*?)(?: ([\w-]+))?"', header="www-authenticate")
        if realm:
            return Match("tplink", Confidence.HIGH, (f"Basic realm {realm.group(1)!r}",), model=realm.group(2))
    return None


fingerprint = Fingerprint("tplink", http=_match)
