"""UPnP IGD: ``/rootDesc.xml`` (miniupnpd's path) describes an InternetGatewayDevice with manufacturer and model
(docs/facts/fingerprints.md H9). Medium: the upnp driver is the fallback for any IGD."""

from __future__ import annotations

from routerfix.detect import Confidence, Fingerprint, Match, Observation, Probe, search


def _match(seen: Observation) -> Match | None:
    desc = seen.reply("/rootDesc.xml")
    if desc is None or desc.status != 200 or not search(desc, r"urn:schemas-upnp-org:device:InternetGatewayDevice:"):
        return None
    maker = search(desc, r"<manufacturer>([^<]{1,64})</manufacturer>")
    model = search(desc, r"<modelName>([^<]{1,64})</modelName>")
    name = " ".join(m.group(1).strip() for m in (maker, model) if m) or None
    return Match("upnp", Confidence.MEDIUM, ("/rootDesc.xml describes an InternetGatewayDevice",), model=name)


fingerprint = Fingerprint("upnp", probes=(Probe("/rootDesc.xml"),), http=_match)
