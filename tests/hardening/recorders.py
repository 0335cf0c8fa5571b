"""What reached a simulator: SSH command lines and HTTP requests, normalised so that two sessions doing the
same reads compare equal (batch markers, page tokens and timestamps removed)."""

from __future__ import annotations

import re
from typing import Any

from routerfix.simulate import SimulatedDevice

from .faults import _http, ssh_device
from .targets import Target

__all__ = ["Mark", "operations_since"]

_MARKER = re.compile(r"RFX[0-9a-f]+")
_HEX_ID = re.compile(r"[0-9a-f]{16,}|\d{6,}")


class Mark:
    """A position in a simulator's recorder."""

    def __init__(self, target: Target, device: SimulatedDevice) -> None:
        self.target, self.device = target, device
        self.at = _count(target, device)


def _count(target: Target, device: SimulatedDevice) -> int:
    if target.kind == "ssh":
        return len(ssh_device(device).commands)
    if target.kind == "http":
        return len(_http(device).requests)
    return 0


def _request_key(req: Any) -> str:
    query_names = sorted({part.split("=", 1)[0] for part in re.split(r"[&\s]", req.query) if part})
    action = req.headers.get("soapaction", "") + req.headers.get("x-jnap-action", "")
    form_names = ",".join(sorted(req.form))
    body = req.body.decode("utf-8", "replace") if not req.form else ""
    hook = _HEX_ID.sub("#", body)[:200] if "hook" in body or body.startswith("[") else ""
    return _HEX_ID.sub("#", f"{req.method} {req.path} ?{','.join(query_names)} {action} {form_names} {hook}")


def operations_since(mark: Mark) -> list[str]:
    """Normalised operations recorded since ``mark``."""
    target, device = mark.target, mark.device
    if target.kind == "ssh":
        return [_MARKER.sub("RFX", line) for line in ssh_device(device).commands[mark.at:]]
    if target.kind == "http":
        return [_request_key(r) for r in _http(device).requests[mark.at:]]
    return []
