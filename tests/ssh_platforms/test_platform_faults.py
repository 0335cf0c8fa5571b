"""A connection drop at every command of the apply leaves the device *exactly* mitigated (after the engine's
reconnect and re-read) or *exactly* as before — and, either way, saved (startup/saved config, no staged UCI).

Drops alternate between "the command is lost" and "the command runs, its answer is lost" (the worse case: the
change lands but the driver never hears so)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost

import routerfix
from routerfix.errors import AuthenticationError, RouterfixError

from .conftest import PLATFORMS, config_text, connect, persisted
from .test_platform_commands import EXPECTED


@pytest.fixture(autouse=True)
def _quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine waits 0.5 s before reconnecting; the simulator is back at once, so wait 10 ms here."""
    from routerfix import engine
    from routerfix.retry import retry_transient
    from routerfix.transport import ssh

    def quick(func: Any, **kwargs: Any) -> Any:
        return retry_transient(func, **{**kwargs, "wait": 0.01, "max_wait": 0.02})

    monkeypatch.setattr(engine, "retry_transient", quick)
    monkeypatch.setattr(ssh, "retry_transient", quick)

CASES = [(p, i) for p in PLATFORMS for i in range(1, len(EXPECTED[p]) + 1)]
_AFTER: dict[str, str] = {}


def mitigated_text(platform: str, host: SSHSimulatorHost) -> str:
    """The configuration text of a clean mitigation (computed once per platform)."""
    if platform not in _AFTER:
        module = importlib.import_module(f"routerfix.simulators.{platform}.device")
        with module.simulate(host=host) as device:
            with connect(device) as driver:
                assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
            _AFTER[platform] = config_text(platform, device.handle)
    return _AFTER[platform]


@pytest.mark.parametrize(("platform", "index"), CASES, ids=[f"{p}-{i}" for p, i in CASES])
def test_drop_at_each_command(platform: str, index: int, sim: Any, ssh_host: SSHSimulatorHost) -> None:
    after = mitigated_text(platform, ssh_host)
    with sim(platform) as device:
        before = config_text(platform, device.handle)
        assert before != after
        driver = connect(device)
        try:
            device.handle.device.drop_after(index, executes=index % 2 == 0)
            try:
                result = routerfix.apply_ghostcall_mitigation(driver)
            except RouterfixError as exc:
                assert not isinstance(exc, AuthenticationError)
                outcome = "failed"
            else:
                assert result.status == "mitigated"
                outcome = "mitigated"
        finally:
            driver.close()
        assert device.handle.device.knobs.drop_at is None, "the drop did not happen: the case tests nothing"
        text = config_text(platform, device.handle)
        if outcome == "mitigated":
            assert text == after
        else:
            assert text in (before, after), "a dropped connection left a half-made change"
        assert persisted(platform, device.handle), "the change would be lost at reboot"
        with connect(device) as check:  # and a fresh run finishes (or confirms) the job
            assert routerfix.apply_ghostcall_mitigation(check).status in ("mitigated", "unchanged")
        assert config_text(platform, device.handle) == after


@pytest.mark.parametrize("platform", PLATFORMS)
def test_authentication_failure_is_not_retried(platform: str, sim: Any) -> None:
    with sim(platform) as device:
        device.handle.device.knobs.fail_auth = True
        with pytest.raises(AuthenticationError):
            connect(device)
        assert device.handle.device.auth_attempts == 1
