"""Netgear: ``/currentsetting.htm`` answers without login with ``Model=``/``Firmware=`` lines; the web UI's Basic
realm is ``NETGEAR <model>`` (docs/facts/fingerprints.md H1, H2)."""

from __future__ import annotations

from routerfix.detect import Confidence, Fingerprint, Match, Observation, Probe, search


def _match(seen: Observation) -> Match | None:
    page = seen.reply("/currentsetting.htm")
    model = search(page, r"(?m)^Model=([\w.-]+)\s*$")
    if page is not None and page.status == 200 and model:
        firmware = search(page, r"(?m)^Firmware=([\w.-]+)\s*$")
        return Match("netgear", Confidence.HIGH, ("/currentsetting.htm lists Model= and Firmware=",),
                     model=model.group(1), firmware=firmware.group(1) if firmware else None)
    for reply in seen.replies:
        realm = search(reply, r'realm="NETGEAR ([\w-]+)"', header="www-authenticate")
        if realm:
            return Match("netgear", Confidence.MEDIUM, (f"Basic realm {realm.group(0)[6:]}",), model=realm.group(1))
    return None


fingerprint = Fingerprint("netgear", probes=(Probe("/currentsetting.htm"),), http=_match)
