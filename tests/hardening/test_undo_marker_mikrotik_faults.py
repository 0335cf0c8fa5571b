"""The client dies right after the write line that carried the MikroTik undo marker (docs/facts/mikrotik.md M41,
M78, M80): the local records are lost too, and ``undo`` must still leave the router exactly as before the run.

* Dropped before Safe Mode was released: the router undoes the run itself (M41), the marker file with it (M78);
  the undo finds nothing to undo.
* Dropped after the release (at the connection flush): the changes and the marker stay; the undo restores from the
  marker alone."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost
from routerfix.simulators.mikrotik.device import RouterOSState, default_state, simulate

import routerfix
from routerfix.errors import RouterfixError

from .faults import FAST, ssh_device

MARKER = "flash/routerfix-undo.txt"


def _config(state: RouterOSState) -> dict[str, Any]:
    with state.lock:
        state.sync_files()
        return {menu: sorted(json.dumps([dict(i.props), i.disabled], sort_keys=True) for i in items)
                for menu, items in state.menus.items() if menu != "ip firewall connection"}


def _router() -> RouterOSState:
    state = default_state("7.16.2", "office")
    state.add("ip firewall nat", {"chain": "dstnat", "action": "dst-nat", "to-addresses": "192.168.88.10",
                                  "to-ports": "5060", "protocol": "udp", "in-interface-list": "WAN",
                                  "dst-port": "5060", "comment": "PBX SIP"})
    return state


def _line(ssh_host: SSHSimulatorHost, undone_by: str) -> int:
    """The 1-based command line of a clean run that carries the marker (``router``: Safe Mode still held) or the
    connection flush (``marker``: the first line after the release)."""
    with simulate(host=ssh_host, state=_router()) as device:
        sim = ssh_device(device)
        with routerfix.connect(device.driver, device.host, **device.connect_options(), timeouts=FAST) as driver:
            start = len(sim.commands)
            routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True)
            sent = sim.commands[start:]
    wanted = f'{MARKER}" contents=' if undone_by == "router" else "/ip firewall connection remove "
    return next(i for i, line in enumerate(sent, 1) if wanted in line)


@pytest.mark.parametrize("undone_by", ["router", "marker"], ids=["marker-line", "flush-after-release"])
def test_killed_after_the_marker_write_the_undo_restores_exactly(ssh_host: SSHSimulatorHost, tmp_path: Path,
                                                                 undone_by: str) -> None:
    line = _line(ssh_host, undone_by)
    state = _router()
    with simulate(host=ssh_host, state=state) as device:
        before = _config(state)
        options = {**device.connect_options(), "timeouts": FAST}
        sim = ssh_device(device)
        driver = routerfix.connect(device.driver, device.host, **options)
        sim.knobs.fail_auth = True                 # the client is gone (kill -9): nothing of it logs in again
        sim.drop_after(line, executes=True)        # that line runs; its answer and the client are lost
        try:
            with contextlib.suppress(RouterfixError):  # a lost flush is reported, not raised
                routerfix.apply_ghostcall_mitigation(driver, state_dir=tmp_path, replace_conflicting=True)
        finally:
            driver.close()
        assert sim.knobs.drop_at is None, "the drop did not happen: the case tests nothing"
        deadline = time.monotonic() + 5
        while state.safe_owner is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert Path(state.file_path(MARKER)).is_file() is (undone_by == "marker"), "M78: undone with the run"
        sim.knobs.fail_auth = False
        with routerfix.connect(device.driver, device.host, **options) as fresh:
            undone = routerfix.remove_ghostcall_mitigation(fresh)      # no records: the state directory is gone
        assert _config(state) == before, f"undone by the {undone_by}: exactly as before, marker cleared"
        assert undone.complete and undone.plan.extra["undo_from"] == ("marker" if undone_by == "marker" else "none")
