"""Linksys Smart Wi-Fi: JNAP ``core/GetDeviceInfo`` answers without authorization with the model and firmware
(docs/facts/fingerprints.md H6)."""

from __future__ import annotations

import json

from routerfix.detect import Confidence, Fingerprint, Match, Observation, Probe

_INFO = Probe("/JNAP/", "POST", (("X-JNAP-Action", "http://linksys.com/jnap/core/GetDeviceInfo"),
                                 ("Content-Type", "application/json")), "{}")


def _match(seen: Observation) -> Match | None:
    reply = seen.reply("/JNAP/", "POST")
    if reply is None or reply.status != 200:
        return None
    try:
        data = json.loads(reply.body)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("result") != "OK" or not isinstance(data.get("output"), dict):
        return None
    out = data["output"]
    model = out.get("modelNumber")
    firmware = out.get("firmwareVersion")
    return Match("linksys", Confidence.HIGH, ("JNAP core/GetDeviceInfo answered without authorization",),
                 model=model if isinstance(model, str) else None,
                 firmware=firmware if isinstance(firmware, str) else None)


fingerprint = Fingerprint("linksys", probes=(_INFO,), http=_match)
