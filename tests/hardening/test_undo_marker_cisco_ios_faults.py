"""A client killed right after the undo marker reached a Cisco IOS router (docs/facts/cisco_ios.md F40-F43), on a
router without ``archive`` (so no revert timer puts it back by itself, F36): the marker, the replacement of the
customer's PBX forward and routerfix's first rule are in the running-config, the local record is gone; ``routerfix
undo`` from the marker alone brings the configuration back exactly. (With the revert timer the device rolls the
marker back with the change: tests/ssh_platforms/test_cisco_ios_held_rollback.py covers every line of the block.)"""

from __future__ import annotations

from pathlib import Path

import pytest

import routerfix
from routerfix.cli.app import main
from routerfix.errors import RouterfixError

from .faults import fresh_device, open_driver, ssh_device
from .targets import ALL_TARGETS

CISCO = next(t for t in ALL_TARGETS if t.id == "cisco_ios")
FIRST_RULE = "ip nat inside source static tcp 192.168.1.198 5060 interface GigabitEthernet0/0 5060"


def _first_rule_step() -> int:
    """The 1-based command (from the session's first) that writes routerfix's first rule on a clean run."""
    with fresh_device(CISCO, scenario="pbx", archive=False) as device, open_driver(CISCO, device) as driver:
        start = len(ssh_device(device).commands)
        routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True)
        sent = ssh_device(device).commands[start:]
    assert sent.index("ip access-list standard routerfix-undo") < sent.index(FIRST_RULE), "the marker goes first"
    return sent.index(FIRST_RULE) + 1


def test_killed_after_the_marker_undo_from_the_marker_restores_exactly(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    step = _first_rule_step()
    with fresh_device(CISCO, scenario="pbx", archive=False) as device:
        router, ssh = device.handle.router, ssh_device(device)
        before = router.render()
        driver = open_driver(CISCO, device)
        ssh.knobs.fail_auth = True                     # the client is gone: nothing logs in again
        ssh.drop_after(step - len(ssh.commands), executes=True)
        try:
            with pytest.raises(RouterfixError):
                routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True)
        finally:
            driver.close()
        assert ssh.knobs.drop_at is None, "the drop did not happen: the case tests nothing"
        running = router.render()
        assert "routerfix-undo" in running and FIRST_RULE in running and "192.168.1.10 5060" not in running
        ssh.knobs.fail_auth = False
        monkeypatch.setenv("ROUTERFIX_PASSWORD", device.password or "")
        assert main(["undo", *device.cli_args(), "--yes", "--no-prompt", "--state-dir", str(tmp_path)]) == 0
        assert router.render() == before, "not exactly as before"
        assert router.render(router.startup) == before
