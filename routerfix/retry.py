"""Retry policy for transient transport faults (tenacity).

Only :class:`~routerfix.errors.TransportError` is retried, and only around
operations that are safe to repeat: opening a session, and reads. Never an
:class:`~routerfix.errors.AuthenticationError` (it locks accounts), never a
:class:`~routerfix.errors.TrustError`, never a write: after a failed write the
engine re-reads the device and decides.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from routerfix.errors import AuthenticationError, IncompatibleDevice, TransportError, TrustError

__all__ = ["is_transient", "retry_transient"]

T = TypeVar("T")
log = logging.getLogger("routerfix.retry")


def is_transient(exc: BaseException) -> bool:
    """True for faults worth another try: transport errors that are not about credentials or trust."""
    return isinstance(exc, TransportError) and not isinstance(exc, (AuthenticationError, TrustError,
                                                                    IncompatibleDevice))


def retry_transient(func: Callable[[], T], *, attempts: int = 3, wait: float = 0.5, max_wait: float = 4.0) -> T:
    """Call ``func``; on a transient fault wait (exponential back-off) and call again, up to ``attempts`` times.

    The first call is made directly: tenacity is imported only once a transient fault asks for a retry (most runs
    never need one, and a short-lived process such as an Ansible module saves the import)."""
    try:
        return func()
    except Exception as exc:
        if not is_transient(exc) or attempts <= 1:
            raise
        first = exc
    pause = min(wait, max_wait)  # what tenacity's exponential wait gives after attempt 1
    log.info("%s; retrying in %.1fs (%d more attempt(s))", first, pause, attempts - 1)
    time.sleep(pause)
    from tenacity import Retrying, before_sleep_log, retry_if_exception, stop_after_attempt, wait_exponential

    retrying = Retrying(  # attempts 2..n: waits 2 x wait, 4 x wait ... as if tenacity had made the first call
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(attempts - 1),
        wait=wait_exponential(multiplier=2 * wait, max=max_wait),
        before_sleep=before_sleep_log(log, logging.INFO),
        reraise=True,
    )
    return retrying(func)
