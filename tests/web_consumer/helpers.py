"""Helpers shared by the consumer-router tests."""

from __future__ import annotations

import json
from typing import Any

import routerfix
from routerfix.driver import Driver, Timeouts
from routerfix.simulate import SimulatedDevice

FAST = Timeouts(connect=3, read=3, apply=3)
"""Short timeouts: the simulators answer at once unless a test slows them down."""


def connect(device: SimulatedDevice, **extra: Any) -> Driver:
    """Open ``device``'s driver with short timeouts."""
    options = {**device.connect_options(), "timeouts": FAST, **extra}
    return routerfix.connect(device.driver, device.host, **options)


def writes_seen(device: SimulatedDevice) -> list[str]:
    """Requests that reached the simulator and could change something (for "no write" proofs)."""
    out = []
    for r in device.handle.http.requests:
        target = r.target
        if r.method == "POST" and not any(x in target for x in ("/login.cgi", "/appGet.cgi", "login?form=keys",
                                                                  "/JNAP/", "/ctl/")):
            out.append(f"{r.method} {target}")
        if any(x in target for x in ("Save=Save", "Del=", "applyapp", "apply.cgi", "start_apply")) and \
                "LoginRpm" not in target:
            out.append(f"{r.method} {target}")
        if "/ctl/" in target and any(x in r.headers.get("soapaction", "") for x in ("AddPort", "DeletePort")):
            out.append(f"SOAP {r.headers['soapaction']}")
        if "/JNAP/" in target and "/Set" in r.headers.get("x-jnap-action", ""):
            out.append(f"JNAP {r.headers['x-jnap-action']}")
        if "/JNAP/" in target and r.headers.get("x-jnap-action", "").endswith("/core/Transaction"):
            try:  # the Set actions a transaction carries
                inner = [str(item.get("action", "")) for item in json.loads(r.body or b"[]")]
            except (ValueError, AttributeError):
                inner = ["<unreadable transaction>"]
            out += [f"JNAP {action}" for action in inner if "/Set" in action]
    return out
