"""Device-held rollback on VyOS and EdgeOS (``commit-confirm`` → verified ``confirm`` → ``save``;
docs/facts/vyos.md rows 28-32, edgeos.md rows 17-19).

A client that dies at any command of the apply (the connection drops there and no new login is possible, so
nothing more is sent: what a SIGKILL leaves) leaves a device that, once its timer runs out (simulated time),
is exactly as before — or, when it died after the confirm, mitigated (and saved, unless it died between
``confirm`` and ``save``: then it boots as before, the vendor's own order gives no tighter bound). Nothing is
saved before the confirm. A normal run confirms, and nothing reverts later."""

from __future__ import annotations

from typing import Any

import pytest

import routerfix
from routerfix.errors import RouterfixError

from .conftest import config_text, connect, kill_client_during_apply, persisted
from .test_platform_commands import EXPECTED

PLATFORMS = ("vyos", "edgeos")


def _write_points(platform: str) -> list[int]:
    """1-based positions in the run's commands from the first ``configure`` to the ``exit`` after ``save``."""
    sent = EXPECTED[platform]
    first = sent.index("configure") + 1
    last = sent.index("save") + 2
    return list(range(first, last + 1))


CASES = [(p, i, executes) for p in PLATFORMS for i in _write_points(p) for executes in (False, True)]


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    from routerfix import engine
    from routerfix.retry import retry_transient
    from routerfix.transport import ssh

    def quick(func: Any, **kwargs: Any) -> Any:
        return retry_transient(func, **{**kwargs, "wait": 0.01, "max_wait": 0.02})

    monkeypatch.setattr(engine, "retry_transient", quick)
    monkeypatch.setattr(ssh, "retry_transient", quick)


def _mitigated(platform: str, sim: Any) -> str:
    with sim(platform) as device, connect(device) as driver:
        assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
        return config_text(platform, device.handle)


@pytest.mark.parametrize(("platform", "index", "executes"), CASES,
                         ids=[f"{p}-{i}-{'ran' if e else 'lost'}" for p, i, e in CASES])
def test_client_killed_at_each_write_the_device_reverts_itself(platform: str, index: int, executes: bool,
                                                               sim: Any) -> None:
    after = _mitigated(platform, sim)
    with sim(platform) as device:
        router = device.handle.router
        before = config_text(platform, device.handle)
        kill_client_during_apply(device, index, executes=executes)
        confirmed = router.confirm_deadline is None and config_text(platform, device.handle) == after
        if not confirmed:
            assert router.saved == router.dialect.schema.canonical(router.saved)
            assert config_text(platform, device.handle) in (before, after)
            assert router.dialect.schema.render(router.saved) == before, "something was saved before the confirm"
        router.advance(60 * 60)  # the timer's hour passes
        text = config_text(platform, device.handle)
        assert text == (after if confirmed else before), "the device did not put itself back"
        if not confirmed:
            assert persisted(platform, device.handle)
        else:  # killed between 'confirm' and 'save': runs mitigated, boots as before; never half of either
            assert router.dialect.schema.render(router.saved) in (before, after)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_normal_run_confirms_and_nothing_reverts_later(platform: str, sim: Any) -> None:
    with sim(platform) as device, connect(device) as driver:
        router = device.handle.router
        assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
        after = config_text(platform, device.handle)
        assert router.confirm_deadline is None
        router.advance(24 * 3600)
        assert router.reverts == 0
        assert config_text(platform, device.handle) == after
        assert persisted(platform, device.handle)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_someone_elses_pending_confirm_is_never_confirmed(platform: str, sim: Any) -> None:
    with sim(platform) as device, connect(device) as driver:
        router = device.handle.router
        router.confirm_deadline = router.clock + 300  # another admin's commit-confirm waits for its 'confirm'
        before = config_text(platform, device.handle)
        with pytest.raises(RouterfixError):
            routerfix.apply_ghostcall_mitigation(driver)
        assert router.confirm_deadline == router.clock + 300
        assert config_text(platform, device.handle) == before
