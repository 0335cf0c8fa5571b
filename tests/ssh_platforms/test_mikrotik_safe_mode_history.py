"""The Safe Mode history limit (docs/facts/mikrotik.md M42, M45): RouterOS keeps 100 Safe Mode actions; past that it
leaves Safe Mode and keeps every change. The simulator models it; the driver never sends a line that would go past
it (a plan too big is refused before its first write) and notices when Safe Mode was lost anyway."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost
from routerfix.simulators.mikrotik.device import RouterOSShell, RouterOSState, default_state, simulate

import routerfix
from routerfix.errors import DeviceError, UnsupportedOperation
from routerfix.simulate import SimulatedDevice

from .conftest import connect

OVERHEAD = 6
"""Safe Mode actions of the office scenario's plan besides the removals: two forwards, the reservation, two
endpoint-independent-nat rules disabled, the SIP ALG."""


def _config(state: RouterOSState) -> dict[str, list[tuple[int, dict[str, str], bool]]]:
    with state.lock:
        return {menu: [(i.id, dict(i.props), i.disabled) for i in items] for menu, items in state.menus.items()
                if menu != "ip firewall connection"}


@contextmanager
def _router(ssh_host: SSHSimulatorHost, stale: int) -> Iterator[SimulatedDevice]:
    """The office router with ``stale`` old WAN SIP forwards (each one a removal with ``replace_conflicting``), on
    RouterOS 7.8: no undo marker (M72), which could not list that many forwards anyway."""
    state = default_state("7.8", "office")
    for k in range(stale):
        state.add("ip firewall nat", {"chain": "dstnat", "action": "dst-nat", "protocol": "udp", "dst-port": "5060",
                                      "in-interface-list": "WAN", "to-addresses": f"192.168.88.{30 + k % 60}",
                                      "to-ports": "5060", "comment": f"old-pbx-{k}"})
    with simulate(host=ssh_host, state=state) as device:
        yield device


def test_the_simulator_leaves_safe_mode_past_100_changes_and_keeps_them() -> None:
    state = default_state("7.16.2", "office")
    shell = RouterOSShell("admin", state)
    shell.control("\x18")
    for k in range(100):
        shell.execute(f"/ip firewall nat add chain=srcnat action=masquerade comment=n{k}")
    assert state.safe_owner is shell, "100 changes fit in the history"
    before = _config(state)
    shell.execute("/ip firewall nat add chain=srcnat action=masquerade comment=n100")
    assert state.safe_owner is None and state.safe_overflows == 1 and not shell.prompt().endswith("<SAFE>")
    shell.ended(clean=False)
    assert len(_config(state)["ip firewall nat"]) == len(before["ip firewall nat"]) + 1, "nothing is undone (M42)"


def test_a_plan_of_exactly_100_changes_runs_under_safe_mode(ssh_host: SSHSimulatorHost) -> None:
    with _router(ssh_host, 100 - OVERHEAD) as device, connect(device) as driver:
        state: RouterOSState = device.handle.model
        result = routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True)
        assert result.status == "mitigated" and result.verified
        assert state.safe_actions == 100 and state.safe_overflows == 0 and state.safe_owner is None


def test_a_plan_past_the_limit_is_refused_before_its_first_write(ssh_host: SSHSimulatorHost) -> None:
    with _router(ssh_host, 101 - OVERHEAD) as device, connect(device) as driver:
        state: RouterOSState = device.handle.model
        before = _config(state)
        with pytest.raises(UnsupportedOperation, match="101 changes under Safe Mode"):
            routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True)
        assert _config(state) == before and state.safe_overflows == 0 and state.safe_owner is None


def test_safe_mode_lost_mid_run_is_never_silent(ssh_host: SSHSimulatorHost) -> None:
    """Other sessions' changes share the history (M42): ``history_limit=3`` stands for a history with room for only
    three more. The router leaves Safe Mode at the 4th change of the write line; the run fails saying so and its own
    rollback puts the router back."""
    with _router(ssh_host, 0) as device, connect(device) as driver:
        state: RouterOSState = device.handle.model
        state.history_limit = 3
        before = _config(state)
        with pytest.raises(DeviceError, match="left Safe Mode"):
            routerfix.apply_ghostcall_mitigation(driver)
        assert state.safe_overflows == 1 and _config(state) == before


def test_a_later_line_past_the_limit_has_the_router_undo_the_run(ssh_host: SSHSimulatorHost) -> None:
    """Writes that go in two lines (a print in between sends what was held): the first line (60) fits, the second
    would take the run to 110. It is never sent: the session leaves with Ctrl-D and the router undoes the 60 (M41)."""
    with _router(ssh_host, 0) as device, connect(device) as driver:
        state: RouterOSState = device.handle.model
        driver.read_state()
        before = _config(state)
        driver.hold_changes()
        with pytest.raises(DeviceError, match="undid this run's changes"), driver.write_batch():
            for port in range(20000, 20060):
                driver.add_port_forward(routerfix.PortForward(f"f{port}", "udp", port, "192.168.88.40"))
            driver.list_port_forwards()
            assert state.safe_owner is not None and state.safe_actions == 60
            for port in range(21000, 21050):
                driver.add_port_forward(routerfix.PortForward(f"f{port}", "udp", port, "192.168.88.40"))
        deadline = time.monotonic() + 5  # the router undoes when it reads the Ctrl-D
        while (state.safe_owner is not None or _config(state) != before) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert state.safe_owner is None and state.safe_overflows == 0 and _config(state) == before
