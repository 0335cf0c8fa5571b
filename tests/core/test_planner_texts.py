"""Plan and refusal texts say what happened: probing switched off is not "the device cannot probe", and a
conflicting forward's target is described by what uses it on the LAN, not by the forward itself."""

from __future__ import annotations

import pytest
from helpers import PortForward, connect, router

import routerfix


def test_sink_reason_when_probing_is_switched_off() -> None:
    with connect(router()) as d:
        plan = routerfix.plan_ghostcall_mitigation(d, probe=False)
    assert "probing switched off" in plan.sink_reason
    assert "cannot probe" not in plan.sink_reason


def test_conflict_names_the_target_once() -> None:
    r = router(forwards=[PortForward("PBX SIP", "udp", 5060, "192.168.1.10")])
    with connect(r) as d, pytest.raises(routerfix.ForwardConflict) as info:
        routerfix.apply_ghostcall_mitigation(d)
    text = str(info.value)
    assert "target target" not in text and "target of forward" not in text
    assert "(target: not seen on the LAN now)" in text
