"""Self-reverting apply on a Linux router (nftables + dnsmasq): before its first write the run saves the ruleset and
the hostsfile under /run and starts a ``systemd-run --on-active`` timer that loads them back; ``verify_state``
stops the timer once the read-back matches (docs/facts/linux.md L38-L40).

A client that dies at any command from the arming on (the connection drops there and no new login is possible: what
a SIGKILL leaves) leaves a router that, once the timer fires (simulated time), is exactly as before the run."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from routerfix.simulators._hosts.ssh import PlatformHandle, SSHSimulatorHost
from routerfix.simulators.linux.device import LinuxRouter, simulate

import routerfix
from routerfix.errors import DeviceError
from routerfix.simulate import SimulatedDevice

from .conftest import connect, kill_client_during_apply

ARM, VERIFY = 7, 10
"""Commands of a clean run of the lab scenario: 7 arms the timer, 8-9 write, 10 is the verifying read."""
CASES = [(i, executes) for i in range(ARM, VERIFY + 1) for executes in (False, True)]


def _config(router: LinuxRouter) -> tuple[str, str, str]:
    with router.lock:
        return router.render(), router.files.get("/etc/dnsmasq.hosts", ""), router.loaded_hosts


@pytest.fixture
def linux(ssh_host: SSHSimulatorHost) -> Iterator[SimulatedDevice]:
    with simulate(host=ssh_host) as device:
        yield dataclasses.replace(device, handle=PlatformHandle(device.handle, device.handle.model))


@pytest.mark.parametrize(("index", "executes"), CASES, ids=[f"{i}-{'ran' if e else 'lost'}" for i, e in CASES])
def test_client_killed_mid_apply_the_router_reverts_itself(index: int, executes: bool, linux: Any) -> None:
    router: LinuxRouter = linux.handle.router
    before = _config(router)
    kill_client_during_apply(linux, index, executes=executes)
    router.advance(60 * 60)
    assert _config(router) == before, "the router kept part of a run that never verified"
    assert not router.timers


def test_a_verified_run_stops_the_timer_and_nothing_reverts_later(linux: Any) -> None:
    router: LinuxRouter = linux.handle.router
    with connect(linux) as driver:
        assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
        assert not router.timers and not driver.pending_revert
    after = _config(router)
    router.advance(24 * 3600)
    assert router.reverts == 0 and _config(router) == after


def test_a_pending_timer_of_an_earlier_run_is_never_overwritten(linux: Any) -> None:
    router: LinuxRouter = linux.handle.router
    router.timers["routerfix-revert"] = (router.clock + 300, "nft -f /run/routerfix-revert.nft")
    before = _config(router)
    with connect(linux) as driver, pytest.raises(DeviceError) as caught:
        routerfix.apply_ghostcall_mitigation(driver)
    assert "systemctl stop routerfix-revert.timer" in str(caught.value)
    assert _config(router) == before and router.timers["routerfix-revert"][0] == router.clock + 300


def test_without_systemd_the_run_goes_on_with_the_engines_rollback(linux: Any, caplog: Any) -> None:
    router: LinuxRouter = linux.handle.router
    router.systemd = False
    with connect(linux) as driver:
        assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
    assert "no systemd-run" in caplog.text and not router.timers


def test_systemd_installed_but_not_the_running_init_holds_nothing(linux: Any, caplog: Any) -> None:
    """A container, or a network namespace on a host whose init is not systemd (L43): ``systemd-run`` exists but
    fails; the run must not send it (it would fail the run before its first write) and goes on with the engine's
    rollback."""
    router: LinuxRouter = linux.handle.router
    router.systemd_init = False
    with connect(linux) as driver:
        assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
    assert "systemd is not the running init" in caplog.text and not router.timers


def test_self_revert_false_never_arms_the_timer(linux: Any) -> None:
    router: LinuxRouter = linux.handle.router
    with connect(linux, self_revert="false") as driver:
        assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
    assert not router.timers and "/run/routerfix-revert.nft" not in router.files
