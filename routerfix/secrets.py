"""Keeping credentials out of logs, reprs, exceptions and results.

:class:`Secret` wraps a credential so that printing, ``repr`` or JSON of
anything holding it shows ``********``. Every secret handed to
:func:`routerfix.connect` is also registered with :func:`register`, and a
log-record factory (installed on first use) rewrites any record, from any
logger (routerfix, netmiko, paramiko, urllib3...), whose text contains a
registered value — the approach of netmiko's ``SecretsFilter``, applied to
every logger at once because filters on one logger do not see its children's
records.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["MASK", "Secret", "redact", "register", "reveal"]

MASK = "********"
_MIN_LEN = 3  # shorter values would blank out ordinary words
_lock = threading.Lock()
_values: set[str] = set()
_installed = False


class Secret:
    """A credential whose value shows only through :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError("a Secret wraps a string")
        self._value = value
        register(value)

    def reveal(self) -> str:
        """The real value, for the one place that sends it to the device."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:  # pickling keeps the value (multiprocessing), printing does not
        return (Secret, (self._value,))


def reveal(value: str | Secret | None) -> str | None:
    """The plain value of a :class:`Secret` or string (None stays None)."""
    if isinstance(value, Secret):
        return value.reveal()
    return value


def register(value: str) -> None:
    """Remember ``value`` as secret so it is masked in every log record from now on."""
    if not value or len(value) < _MIN_LEN:
        return
    with _lock:
        _values.add(value)
    _install()


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``********``."""
    with _lock:
        values = sorted(_values, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def _install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the logging module's problem, not ours
            return record
        clean = redact(message)
        if clean != message:
            record.msg = clean
            record.args = None
        return record

    logging.setLogRecordFactory(factory)
