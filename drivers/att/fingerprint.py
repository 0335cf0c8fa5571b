"""AT&T gateways (BGW210/BGW320): pages under ``/cgi-bin/*.ha``; ``sysinfo.ha`` shows the model and software
version without the access code (docs/facts/fingerprints.md H7)."""

from __future__ import annotations

from routerfix.detect import Confidence, Fingerprint, HttpReply, Match, Observation, Probe, search


def _cell(reply: HttpReply, name: str) -> str | None:
    found = search(reply, rf"<th>\s*{name}\s*</th>\s*<td>\s*([^<]+?)\s*</td>")
    return found.group(1) if found else None


def _match(seen: Observation) -> Match | None:
    info = seen.reply("/cgi-bin/sysinfo.ha")
    if info is not None and info.status == 200 and _cell(info, "Model Number"):
        return Match("att", Confidence.HIGH, ("/cgi-bin/sysinfo.ha shows Model Number without login",),
                     model=_cell(info, "Model Number"), firmware=_cell(info, "Software Version"))
    root = seen.reply("/")
    if root is not None and search(root, r"^/cgi-bin/\w+\.ha$", header="location"):
        return Match("att", Confidence.MEDIUM, (f"/ redirects to {root.header('location')}",))
    return None


fingerprint = Fingerprint("att", probes=(Probe("/cgi-bin/sysinfo.ha"),), http=_match)
