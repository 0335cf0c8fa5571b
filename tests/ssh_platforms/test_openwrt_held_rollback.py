"""Self-reverting apply on OpenWrt (no native confirmed commit): the run's one ``uci`` chain first copies
``/etc/config/{firewall,dhcp}`` to tmpfs and starts a detached ``start-stop-daemon`` job that copies them back and
reloads after the window; ``verify_state`` stops the job once the read-back matches (docs/facts/openwrt.md rows
34-37).

A client that dies at any command from the chain on (the connection drops there and no new login is possible:
what a SIGKILL leaves) leaves a device that, once the job's sleep ends (simulated time), holds and enforces the
configuration from before — or, when it died after the job was stopped, the mitigated one."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import routerfix

from .conftest import config_text, connect, kill_client_during_apply, persisted
from .test_platform_commands import EXPECTED

SENT = EXPECTED["openwrt"]
_FIRST = next(i for i, c in enumerate(SENT) if c.startswith("mkdir -p /tmp/routerfix-keep")) + 1
_LAST = next(i for i, c in enumerate(SENT) if c.startswith("start-stop-daemon -K")) + 1
CASES = [(i, executes) for i in range(_FIRST, _LAST + 1) for executes in (False, True)]


def _mitigated(sim: Any) -> str:
    with sim("openwrt") as device, connect(device) as driver:
        assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
        return config_text("openwrt", device.handle)


@pytest.mark.parametrize(("index", "executes"), CASES, ids=[f"{i}-{'ran' if e else 'lost'}" for i, e in CASES])
def test_client_killed_at_each_write_the_device_reverts_itself(index: int, executes: bool, sim: Any) -> None:
    after = _mitigated(sim)
    with sim("openwrt") as device:
        router = device.handle.router
        before = config_text("openwrt", device.handle)
        kill_client_during_apply(device, index, executes=executes)
        kept = router.job is None and config_text("openwrt", device.handle) == after
        router.advance(60 * 60)
        assert config_text("openwrt", device.handle) == (after if kept else before), "the device did not revert"
        assert persisted("openwrt", device.handle)
        assert router.active_firewall == router.committed["firewall"], "the firewall enforces something else"


def test_normal_run_stops_the_job_and_nothing_reverts_later(sim: Any) -> None:
    with sim("openwrt") as device, connect(device) as driver:
        router = device.handle.router
        assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
        after = config_text("openwrt", device.handle)
        assert router.job is None
        router.advance(24 * 3600)
        assert router.reverts == 0 and config_text("openwrt", device.handle) == after


@pytest.mark.parametrize("single", [False, True], ids=["whole-plan", "one-action"])
def test_changes_staged_after_planning_are_never_committed_without_a_backup(sim: Any, single: bool) -> None:
    """``--no-backup``: another admin stages a UCI change while the run waits for its confirmation (after the plan
    was read). The run must see it just before writing and refuse, not commit it with its own (rows 12, 15) —
    whether the plan is the whole mitigation or one action (a rerun after routerfix's redirect was deleted by hand:
    one action is written outside a write batch)."""
    from routerfix.simulators.openwrt.shell import OpenWrtSession

    from routerfix.engine import execute_plan
    from routerfix.errors import DeviceError

    with sim("openwrt") as device, connect(device) as driver:
        router = device.handle.router
        admin = OpenWrtSession(router)
        if single:
            assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
            ours = [line.split("=")[0].split(".")[1] for line in admin.execute("uci -X show firewall").splitlines()
                    if ".name='routerfix" in line][:1]
            admin.execute(f"uci delete firewall.{ours[0]} && uci commit firewall")
        before = copy.deepcopy(router.committed)
        plan = routerfix.plan_ghostcall_mitigation(driver)
        assert (len(plan.actions) == 1) == single, [a.describe() for a in plan.actions]
        admin.execute("uci set firewall.@defaults[0].input='ACCEPT'")
        assert router.changes.get("firewall"), "nothing was staged: the case tests nothing"
        with pytest.raises(DeviceError, match="uncommitted UCI changes"):
            execute_plan(driver, plan, backup=False)
        assert router.committed == before and router.changes.get("firewall"), "the admin's change was committed"
