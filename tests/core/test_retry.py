"""The retry policy: transient transport faults only, never credentials or trust, back-off between attempts, and
tenacity imported only when a retry is needed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from routerfix.errors import AuthenticationError, ConnectionDropped, DeviceError, TrustError
from routerfix.retry import retry_transient


def _failing(errors: list[Exception], result: str = "ok") -> tuple[Callable[[], str], list[int]]:
    calls: list[int] = []

    def func() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return result

    return func, calls


def test_success_is_one_call() -> None:
    func, calls = _failing([])
    assert retry_transient(func, wait=0) == "ok" and len(calls) == 1


def test_transient_faults_are_retried_up_to_the_attempts() -> None:
    func, calls = _failing([ConnectionDropped("lost"), ConnectionDropped("lost again")])
    assert retry_transient(func, attempts=3, wait=0) == "ok" and len(calls) == 3
    func, calls = _failing([ConnectionDropped("1"), ConnectionDropped("2"), ConnectionDropped("3")])
    with pytest.raises(ConnectionDropped, match="3"):
        retry_transient(func, attempts=3, wait=0)
    assert len(calls) == 3


@pytest.mark.parametrize("error", [AuthenticationError("wrong password"), TrustError("unknown host key"),
                                   DeviceError("refused"), ValueError("bug")])
def test_credentials_trust_and_device_errors_are_never_retried(error: Exception) -> None:
    func, calls = _failing([error])
    with pytest.raises(type(error)):
        retry_transient(func, attempts=5, wait=0)
    assert len(calls) == 1


def test_back_off_grows_between_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import tenacity

    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    monkeypatch.setattr(tenacity.nap.time, "sleep", slept.append)
    func, _ = _failing([ConnectionDropped("1"), ConnectionDropped("2"), ConnectionDropped("3")])
    assert retry_transient(func, attempts=4, wait=0.5, max_wait=1.5) == "ok"
    assert slept == [0.5, 1.0, 1.5]


def test_tenacity_is_imported_only_for_a_retry() -> None:
    code = ("import sys\nfrom routerfix.retry import retry_transient\nretry_transient(lambda: 1)\n"
            "print('tenacity' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
