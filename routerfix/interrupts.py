"""Interrupts: SIGTERM handled like Ctrl-C, and blocks a second interrupt may not cut short.

``timeout``, systemd and CI stop a process with SIGTERM, whose default is to die on the spot: no rollback,
no logout. :func:`handle_termination` makes SIGTERM (and SIGHUP) raise :class:`Terminated`, a
:class:`KeyboardInterrupt`, so the engine rolls back exactly as after Ctrl-C. :func:`shielded` holds
interrupts back while a rollback or a record save runs; one that arrives meanwhile is raised when the block
ends (unless the block is already ending with an exception). Both only act in the main thread (where Python
delivers signals); elsewhere they change nothing.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = ["StopRequests", "Terminated", "exit_code_for_interrupt", "handle_termination", "noting_stop_requests",
           "shielded"]

log = logging.getLogger("routerfix.interrupts")

_TERMINATING = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """The process was asked to stop by a signal (SIGTERM, SIGHUP)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code_for_interrupt(exc: BaseException) -> int:
    """The shell's convention: 128 + the signal number (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + (exc.signum if isinstance(exc, Terminated) else signal.SIGINT)


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


def _stops_like_ctrl_c(handler: object) -> bool:
    """True for Python's own Ctrl-C handler and routerfix's SIGTERM/SIGHUP one (:func:`handle_termination`): a
    signal handled by either means "stop like Ctrl-C"."""
    return handler is signal.default_int_handler or handler is _raise_terminated


class StopRequests:
    """What :func:`noting_stop_requests` noted, and the handlers it replaced (by signal number)."""

    def __init__(self) -> None:
        self.signals: list[int] = []
        self.saved: dict[int, Any] = {}

    @property
    def seen(self) -> bool:
        """A stop was requested inside the block."""
        return bool(self.signals)


@contextlib.contextmanager
def noting_stop_requests() -> Iterator[StopRequests]:
    """Ctrl-C, and SIGTERM/SIGHUP under :func:`handle_termination`, only noted inside the block (``.seen``), in the
    main thread; their handlers are put back after it (``.saved`` holds them meanwhile, e.g. for a forked child to
    put back). Signals with any other handler are left as they are; elsewhere the block runs as it is. For a caller
    that must keep going until its workers have stopped (a fleet's worker processes)."""
    requests = StopRequests()
    if not _main_thread():
        yield requests
        return
    for number in (signal.SIGINT, *_TERMINATING):
        if _stops_like_ctrl_c(previous := signal.getsignal(number)):
            requests.saved[number] = previous
            signal.signal(number, lambda signum, _frame: requests.signals.append(signum))
    try:
        yield requests
    finally:
        for held, handler in requests.saved.items():
            signal.signal(held, handler)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def handle_termination() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` (in the main thread)."""
    if not _main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise_terminated) for s in _TERMINATING}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


_depth = 0
_pending: list[int] = []


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back during the block (main thread only); raise the first one held when the
    block ends normally."""
    global _depth
    if not _main_thread():
        yield
        return
    if _depth:
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
        return

    def hold(signum: int, frame: FrameType | None) -> None:
        log.warning("%s received: finishing the rollback or record save first", signal.Signals(signum).name)
        _pending.append(signum)

    watched = (signal.SIGINT, *_TERMINATING)
    previous = {s: signal.signal(s, hold) for s in watched}
    _depth = 1
    ok = False
    try:
        yield
        ok = True
    finally:
        _depth = 0
        for s, handler in previous.items():
            signal.signal(s, handler)
        held = list(_pending)
        _pending.clear()
        if ok and held:
            if held[0] == signal.SIGINT:
                raise KeyboardInterrupt
            raise Terminated(held[0])
