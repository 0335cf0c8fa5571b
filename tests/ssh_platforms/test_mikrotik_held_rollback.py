"""Device-held rollback on MikroTik: the run takes Safe Mode (Ctrl-X) before its first configuration write and
releases it (Ctrl-X) only once the read-back verified; a session that ends before that has the router undo every
change made since (docs/facts/mikrotik.md M40-M42).

A client that dies at any write, or at the verifying read (the connection drops there and no new login is possible:
what a SIGKILL leaves), leaves the router exactly as before the run."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest
from routerfix.drivers.mikrotik import driver as mikrotik_driver
from routerfix.simulators._hosts.ssh import PlatformHandle, SSHSimulatorHost
from routerfix.simulators.mikrotik.device import RouterOSState, simulate

import routerfix
from routerfix.errors import RouterfixError
from routerfix.simulate import SimulatedDevice

from .conftest import connect, kill_client_during_apply

WRITES = (2,)
"""Commands of a clean run: 1 the read line, 2 the write line (every write, then the verifying read on the same
line, M5), 3 the flush after the release."""
CASES = [(i, executes) for i in WRITES for executes in (False, True)]


def _config(state: RouterOSState) -> dict[str, list[tuple[int, dict[str, str], bool]]]:
    with state.lock:
        return {menu: [(i.id, dict(i.props), i.disabled) for i in items] for menu, items in state.menus.items()
                if menu != "ip firewall connection"}


@pytest.fixture
def mikrotik(ssh_host: SSHSimulatorHost) -> Iterator[SimulatedDevice]:
    with simulate(host=ssh_host) as device:
        yield dataclasses.replace(device, handle=PlatformHandle(device.handle, device.handle.model))


@pytest.mark.parametrize(("index", "executes"), CASES, ids=[f"{i}-{'ran' if e else 'lost'}" for i, e in CASES])
def test_client_killed_mid_apply_the_router_undoes_it(index: int, executes: bool, mikrotik: Any) -> None:
    state: RouterOSState = mikrotik.handle.router
    before = _config(state)
    kill_client_during_apply(mikrotik, index, executes=executes)
    deadline = time.monotonic() + 5
    while (state.safe_owner is not None or _config(state) != before) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _config(state) == before, "the router kept part of a run that never verified"
    assert state.safe_owner is None


def test_a_verified_run_releases_safe_mode_and_keeps_its_change(mikrotik: Any) -> None:
    state: RouterOSState = mikrotik.handle.router
    with connect(mikrotik) as driver:
        assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
        assert state.safe_owner is None and not driver.safe_mode   # released before the flush
    after = _config(state)
    assert any(r.get("comment", "").startswith("routerfix-sip") for r in state.nat_rules())
    with connect(mikrotik) as driver:
        assert routerfix.apply_ghostcall_mitigation(driver).status == "unchanged"
    assert _config(state) == after
    sent = bytes(mikrotik.handle.device.received)
    assert sent.count(b"\x18") == 2 and b"\x04" not in sent                      # taken once, released once


def test_another_sessions_safe_mode_is_left_alone_and_nothing_is_changed(mikrotik: Any) -> None:
    """Someone at the console holds Safe Mode: whatever is changed now is undone with their changes if their session
    ends abnormally (M41), so the run changes nothing and says why; their Safe Mode is left as it was."""
    state: RouterOSState = mikrotik.handle.router
    state.take_safe_mode(owner=object())  # type: ignore[arg-type]  # someone at the console holds it
    before = _config(state)
    with connect(mikrotik) as driver, pytest.raises(RouterfixError, match="another session holds Safe Mode"):
        routerfix.apply_ghostcall_mitigation(driver)
    assert b"\x18d\r\n" in bytes(mikrotik.handle.device.received)                  # answered "don't take it"
    assert state.safe_owner is not None and state.safe_snapshot is not None          # theirs, untouched
    assert _config(state) == before


def test_a_read_after_a_drop_is_not_trusted_while_the_dropped_session_still_holds_safe_mode(
        mikrotik: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection drops right after the write line ran, on a link cut silently: the router keeps the dropped
    session's Safe Mode (and will undo its changes) until its TCP timeout (M41). The engine reconnects and re-reads a
    router that shows the change: the run must not report it mitigated (the router is about to undo it)."""
    state: RouterOSState = mikrotik.handle.router
    state.sees_drops = False
    monkeypatch.setattr(mikrotik_driver, "DROPPED_SAFE_MODE_WAIT", 0.5)
    before = _config(state)
    driver = connect(mikrotik)
    mikrotik.handle.device.drop_after(WRITES[0], executes=True)
    try:
        with pytest.raises(RouterfixError, match="still holds Safe Mode"):
            routerfix.apply_ghostcall_mitigation(driver)
    finally:
        driver.close()
    assert mikrotik.handle.device.knobs.drop_at is None, "the drop did not happen: the case tests nothing"
    assert state.dropped_owner and _config(state) != before, "nothing was held: the case tests nothing"
    state.see_dropped()
    assert _config(state) == before


def test_a_dropped_session_seen_gone_during_the_wait_lets_the_run_go_on(
        mikrotik: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same drop; the router sees the session gone (and undoes its changes) while the reconnected run waits, right
    after the run's first ``d`` to the hijack question: the run goes on from what the router then shows, and ends
    mitigated and verified."""
    state: RouterOSState = mikrotik.handle.router
    state.sees_drops = False
    state.see_dropped_after = 1
    monkeypatch.setattr(mikrotik_driver, "DROPPED_SAFE_MODE_WAIT", 5.0)  # a hook that never fires fails in 5 s
    driver = connect(mikrotik)
    mikrotik.handle.device.drop_after(WRITES[0], executes=True)
    try:
        result = routerfix.apply_ghostcall_mitigation(driver)
    finally:
        driver.close()
    assert mikrotik.handle.device.knobs.drop_at is None, "the drop did not happen: the case tests nothing"
    assert state.declines == 1, "the run did not wait: the case tests nothing"
    assert result.status == "mitigated" and result.verified and state.safe_owner is None
    assert any(r.get("comment", "").startswith("routerfix-sip") for r in state.nat_rules())
