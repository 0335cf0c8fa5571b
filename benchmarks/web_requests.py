"""Per web device: HTTP requests and logins per mitigation beside the GUI's minimum (goal: ≤ minimum + 2, one login).

Each device runs ``routerfix.connect`` + ``apply_ghostcall_mitigation`` + close against its simulator (no latency:
requests are counted, not timed). ``requests`` counts what the router's web server received from start to finish,
log-in and log-out included (the simulator's own recorder), ``logins`` the session's log-ins
(``HttpSession.stats``). ``minimum`` is what an operator clicking through the GUI needs for the same change (listed
in :data:`MINIMUM` with the pages counted); answers of a router that is restarting (HTTP 503 while it applies) are
counted apart, as waiting.

Run: .venv/bin/python benchmarks/web_requests.py [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import WEB_DEVICES, private_lock_dir

MINIMUM: dict[str, tuple[int, str]] = {
    "netgear R7000": (10, "401 challenge + start page, WAN, port forwarding list, LAN, attached devices, add-service "
                          "form, add apply, one WAN apply (NAT filtering and SIP ALG are on the same form), log out"),
    "netgear R7800": (10, "401 challenge + start page, WAN, port forwarding list, LAN, attached devices, add form, "
                          "add apply, one WAN apply (NAT filtering and SIP ALG on one form), log out"),
    "asuswrt": (5, "login.cgi, one appGet.cgi for every nvram value, applyapp.cgi (forward), applyapp.cgi (DHCP "
                   "static list), Logout.asp"),
    "linksys": (3, "JNAP: one core/Transaction reading everything, one Transaction writing forward + reservation + "
                   "SIP ALG, one read once the router is back (no log-in request: credentials ride every request)"),
    "tplink": (8, "Basic-auth challenge, virtual servers, address reservation, LAN, DHCP server, DHCP clients "
                  "(sink choice), add virtual server, add reservation"),
    "upnp": (2, "rootDesc.xml, one AddPortMapping (refused: read-only verdict)"),
    "belkin": (1, "one page to identify the model (verdict: replace the router)"),
    "att": (1, "one page to identify the gateway (verdict: bridge mode / IP Passthrough)"),
}
"""GUI minimum per device (total requests, log-in and log-out included) and the pages counted."""


def _label(driver: str, knobs: dict[str, Any]) -> str:
    return f"{driver} {knobs['model']}" if "model" in knobs else driver


def measure_one(driver: str, knobs: dict[str, Any]) -> dict[str, Any]:
    """Requests, logins and outcome of one mitigation."""
    from routerfix.simulators._hosts.http import HttpSimulator

    import routerfix
    from routerfix.simulate import simulate

    with simulate(driver, **knobs) as dev:
        handle = dev.handle
        server = next(o for o in (handle, getattr(handle, "server", None), getattr(handle, "http", None))
                      if isinstance(o, HttpSimulator))
        server.clear_requests()
        with routerfix.connect(driver, dev.host, **dev.connect_options()) as router:
            result = routerfix.apply_ghostcall_mitigation(router)
            http = getattr(router, "http", None) or getattr(router, "_http", None)
            logins = http.stats.logins if http is not None else -1
        recorded = server.recorded()
    label = _label(driver, knobs)
    busy = sum(1 for r in recorded if r.status == 503)
    minimum, pages = MINIMUM.get(label, (0, "?"))
    total = len(recorded) - busy
    answered = [r for r in recorded if r.status != 503]
    return {"device": label, "status": result.status, "requests": total, "restart_polls": busy,
            "gets": sum(1 for r in answered if r.method == "GET"),
            "posts": sum(1 for r in answered if r.method == "POST"),
            "logins": logins, "minimum": minimum, "over_minimum": total - minimum,
            "goal_met": total <= minimum + 2 and logins <= 1, "minimum_pages": pages}


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the rows."""
    out = ["| device | outcome | requests (GET/POST) | logins | GUI minimum | goal ≤ min + 2, 1 login |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        polls = f" + {r['restart_polls']} × 503 while restarting" if r["restart_polls"] else ""
        out.append(f"| {r['device']} | {r['status']} | {r['requests']} ({r['gets']}/{r['posts']}){polls} | "
                   f"{r['logins']} | {r['minimum']} | {'met' if r['goal_met'] else 'missed'} |")
    return "\n".join(out)


def main() -> None:
    """Measure every web device once (request counts do not vary from run to run)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    private_lock_dir()  # inherited by the measured children and worker processes
    logging.basicConfig(level=logging.ERROR)
    rows = []
    for driver, knobs in WEB_DEVICES:
        try:
            rows.append(measure_one(driver, knobs))
        except Exception as exc:  # noqa: BLE001 - a driver still being written is reported, not fatal
            rows.append({"device": _label(driver, knobs), "status": f"error {type(exc).__name__}: {exc}"[:120],
                         "requests": 0, "restart_polls": 0, "gets": 0, "posts": 0, "logins": 0,
                         "minimum": MINIMUM.get(_label(driver, knobs), (0, ""))[0], "over_minimum": 0,
                         "goal_met": False, "minimum_pages": ""})
    print(json.dumps(rows, indent=1) if args.json else table(rows))


if __name__ == "__main__":
    main()
