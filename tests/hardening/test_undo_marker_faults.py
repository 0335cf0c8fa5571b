"""A fault right after the undo marker reached the router (docs/facts/linux.md L48-L51): the run rolls back, and the
rollback takes the marker away too, so the router holds no marker describing a change it does not carry."""

from __future__ import annotations

import pytest

import routerfix

from .faults import count_steps, fresh_device, open_driver, run_with_fault, ssh_device
from .targets import ALL_TARGETS

LINUX = next(t for t in ALL_TARGETS if t.id == "linux")
MARKER = "/var/lib/routerfix/undo.json"


def _marker_step() -> int:
    """The 1-based step (command line after the session opened) that saves the marker on a clean run."""
    with fresh_device(LINUX) as device, open_driver(LINUX, device) as driver:
        dev = ssh_device(device)
        start = len(dev.commands)
        routerfix.apply_ghostcall_mitigation(driver)
        sent = dev.commands[start:]
    return next(i for i, line in enumerate(sent, 1) if MARKER in line and "mv -f" in line)


@pytest.mark.parametrize("after", [0, 1], ids=["on-the-marker", "next-write"])
def test_a_refused_step_around_the_marker_leaves_no_marker(after: int) -> None:
    ref = count_steps(LINUX, "apply")
    assert any(line == "undo marker: saved" for line in ref.after.view)
    outcome = run_with_fault(LINUX, "apply", "device-error", _marker_step() + after, ref)
    assert outcome is not None and outcome.state == "before", outcome   # the view has no "undo marker" line
