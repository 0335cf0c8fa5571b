"""Belkin (Arcadyan firmware): the login page titled ``Belkin Router Setup Utility`` carries ``var modelName`` and
``var firmwareVersion`` (docs/facts/fingerprints.md H8)."""

from __future__ import annotations

from routerfix.detect import Confidence, Fingerprint, Match, Observation, search


def _match(seen: Observation) -> Match | None:
    page = seen.reply("/")
    if page is None or not search(page, r"<title>[^<]*Belkin[^<]*</title>"):
        return None
    model = search(page, r"var\s+modelName\s*=\s*\"([\w.-]+)\"")
    firmware = search(page, r"var\s+firmwareVersion\s*=\s*\"([\w.-]+)\"")
    return Match("belkin", Confidence.HIGH if model else Confidence.MEDIUM, ("Belkin login page",),
                 model=model.group(1) if model else None, firmware=firmware.group(1) if firmware else None)


fingerprint = Fingerprint("belkin", http=_match)
