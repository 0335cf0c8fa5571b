"""Item 2: on every driver, a second run sends no write and reports ``changed=False``.

"No write" is proven twice: the driver's own write counter does not move, and every command line or HTTP
request the simulator recorded during the second run is one a read-only session (a plan) also sends.
"""

from __future__ import annotations

import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost

import routerfix
from routerfix.simulate import simulate

from .faults import FAST, fresh_device, open_driver
from .recorders import Mark, operations_since
from .targets import ALL_TARGETS, Target

VERDICT_ONLY = (Target("att", "att", "http"), Target("belkin", "belkin", "http"), Target("upnp", "upnp", "http"))


@pytest.mark.parametrize("target", ALL_TARGETS, ids=str)
def test_second_run_sends_no_write(target: Target, ssh_host: SSHSimulatorHost) -> None:
    with fresh_device(target, ssh_host) as device:
        with open_driver(target, device) as d:
            mark = Mark(target, device)
            first = routerfix.apply_ghostcall_mitigation(d)
            first_ops = operations_since(mark)
        assert first.status == "mitigated" and first.changed
        with open_driver(target, device) as d:
            mark = Mark(target, device)
            second = routerfix.apply_ghostcall_mitigation(d)
            seen = operations_since(mark)
            assert d.writes == 0, f"{d.writes} write verb(s) on the second run"
        assert second.status == "unchanged" and second.changed is False and not second.applied
        with open_driver(target, device) as d:
            mark = Mark(target, device)
            routerfix.plan_ghostcall_mitigation(d)
            reads = set(operations_since(mark))
        writes = [op for op in seen if op not in reads]
        assert not writes, f"the second run sent operations a read-only plan does not: {writes}"
        if target.kind != "memory":
            assert seen, "the recorder saw nothing: the comparison would prove nothing"
            assert [op for op in first_ops if op not in reads], "the first run's writes look like reads: the " \
                "comparison could not tell a write"


@pytest.mark.parametrize("target", VERDICT_ONLY, ids=str)
def test_verdict_drivers_never_write(target: Target) -> None:
    with simulate(target.driver) as device:
        for _ in range(2):
            with routerfix.connect(target.driver, device.host, timeouts=FAST, **device.connect_options()) as d:
                result = routerfix.apply_ghostcall_mitigation(d)
                assert d.writes == 0
            assert result.changed is False and result.plan.verdicts
        server = device.handle.http
        methods = {(r.method, r.path) for r in server.requests}
        posts = [m for m in methods if m[0] == "POST" and "login" not in m[1].lower()
                 and not (target.driver == "upnp" and m[1].startswith("/ctl"))]
        assert not posts, posts
        if target.driver == "upnp":
            assert device.handle.attempts == []
        if target.driver == "belkin":
            assert device.handle.applies == []
