"""Fixtures for the SSH platform drivers (Cisco IOS, VyOS, EdgeOS, OpenWrt): one simulator host for the folder,
fresh simulated devices per test, short timeouts, and helpers that read each simulator's own state."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost

import routerfix
from routerfix.driver import Driver, Timeouts
from routerfix.errors import RouterfixError
from routerfix.simulate import SimulatedDevice

FAST = Timeouts(connect=5, read=5, apply=5)
PLATFORMS = ("cisco_ios", "vyos", "edgeos", "openwrt")


def config_text(platform: str, handle: Any) -> str:
    """The device's whole persistent configuration as text, read from the simulator (not through the driver)."""
    if platform == "cisco_ios":
        return str(handle.router.render())
    if platform in ("vyos", "edgeos"):
        return str(handle.router.config_text())
    from routerfix.simulators.openwrt.shell import OpenWrtSession

    shell = OpenWrtSession(handle.router)
    return shell.execute("uci export firewall; uci export dhcp")


def persisted(platform: str, handle: Any) -> bool:
    """True when what runs is also what survives a reboot (startup/saved config, no staged UCI changes)."""
    r = handle.router
    if platform == "cisco_ios":
        return bool(r.render() == r.render(r.startup))
    if platform in ("vyos", "edgeos"):
        return sorted(r.running) == sorted(r.saved)
    return not r.staged and not r.changes


@pytest.fixture(scope="session")
def ssh_host() -> Iterator[SSHSimulatorHost]:
    """One asyncssh event loop for the whole folder."""
    with SSHSimulatorHost() as host:
        yield host


@pytest.fixture
def sim(ssh_host: SSHSimulatorHost) -> Callable[..., Any]:
    """``with sim("vyos", scenario="pbx") as device:`` — a fresh simulated device on the shared host."""
    @contextmanager
    def start(platform: str, scenario: str = "office", **knobs: Any) -> Iterator[SimulatedDevice]:
        module = importlib.import_module(f"routerfix.simulators.{platform}.device")
        with module.simulate(scenario, host=ssh_host, **knobs) as device:
            yield device
    return start


def connect(device: SimulatedDevice, **options: Any) -> Driver:
    """Open the device's driver with short timeouts."""
    return routerfix.connect(device.driver, device.host, timeouts=FAST, **device.connect_options(), **options)


def cli_args(verb: str, dev: SimulatedDevice, state_dir: Any, *extra: str) -> list[str]:
    """``routerfix VERB`` against the simulator, non-interactive, with its records in ``state_dir``."""
    return [verb, *dev.cli_args(), "--yes", "--no-prompt", "--state-dir", str(state_dir), *extra]


def kill_client_during_apply(device: SimulatedDevice, index: int, *, executes: bool) -> None:
    """Run a mitigation whose client dies at write command ``index`` (the command is lost, or ``executes`` and its
    answer is lost) and can never log in again; assert the drop happened."""
    driver = connect(device)
    device.handle.device.knobs.fail_auth = True  # the client is gone: nothing logs in again
    device.handle.device.drop_after(index, executes=executes)
    try:
        with pytest.raises(RouterfixError):
            routerfix.apply_ghostcall_mitigation(driver)
    finally:
        driver.close()
    assert device.handle.device.knobs.drop_at is None, "the drop did not happen: the case tests nothing"
