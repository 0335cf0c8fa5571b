"""Device-held rollback on Cisco IOS: ``configure terminal revert timer N`` (with ``archive`` + ``path``) →
verified ``configure confirm`` → ``write memory`` (docs/facts/cisco_ios.md F35-F39).

A client that dies at any command of the apply (the connection drops there and no new login is possible: what a
SIGKILL leaves) leaves a device that, once its timer runs out (simulated time), runs exactly the configuration
from before — or, when it died after the confirm, the mitigated one. Nothing reaches the startup-config before the
confirm. Without ``archive path`` the driver falls back to a plain ``configure terminal`` and says so."""

from __future__ import annotations

from typing import Any

import pytest

import routerfix
from routerfix.errors import RouterfixError

from .conftest import connect, kill_client_during_apply
from .test_platform_commands import EXPECTED

SENT = EXPECTED["cisco_ios"]
POINTS = list(range(SENT.index("configure terminal revert timer 10") + 1, SENT.index("write memory") + 2))
CASES = [(i, executes) for i in POINTS for executes in (False, True)]


def _mitigated(sim: Any) -> str:
    with sim("cisco_ios") as device, connect(device) as driver:
        assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
        return str(device.handle.router.render())


@pytest.mark.parametrize(("index", "executes"), CASES, ids=[f"{i}-{'ran' if e else 'lost'}" for i, e in CASES])
def test_client_killed_at_each_write_the_device_reverts_itself(index: int, executes: bool, sim: Any) -> None:
    after = _mitigated(sim)
    with sim("cisco_ios") as device:
        router = device.handle.router
        before = router.render()
        kill_client_during_apply(device, index, executes=executes)
        confirmed = router.revert_deadline is None and router.render() == after
        if not confirmed:
            assert router.render(router.startup) == before, "something was saved before the confirm"
        router.advance(60 * 60)
        assert router.render() == (after if confirmed else before), "the device did not put itself back"
        assert router.render(router.startup) in (before, after)


def test_normal_run_confirms_and_nothing_reverts_later(sim: Any) -> None:
    with sim("cisco_ios") as device, connect(device) as driver:
        router = device.handle.router
        assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
        after = router.render()
        assert router.revert_deadline is None
        router.advance(24 * 3600)
        assert router.reverts == 0 and router.render() == after == router.render(router.startup)


def test_without_archive_path_the_run_falls_back_and_says_so(sim: Any) -> None:
    with sim("cisco_ios", archive=False) as device, connect(device) as driver:
        result = routerfix.apply_ghostcall_mitigation(driver)
        assert result.status == "mitigated"
        assert any(n.startswith("no device-held rollback") for n in result.plan.before.capabilities.notes)
        sent = device.handle.device.commands
        assert "configure terminal" in sent and "configure confirm" not in sent
        assert not any(c.startswith("configure terminal revert") for c in sent)


def test_someone_elses_revert_timer_is_never_confirmed(sim: Any) -> None:
    with sim("cisco_ios") as device, connect(device) as driver:
        router = device.handle.router
        router.revert_archive, router.revert_deadline = list(router.running), 300.0
        before = router.render()
        with pytest.raises(RouterfixError):
            routerfix.apply_ghostcall_mitigation(driver)
        assert router.revert_deadline == 300.0 and router.render() == before
