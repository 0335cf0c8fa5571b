"""Held writes: what a driver collects inside :meth:`~routerfix.driver.Driver.write_batch` and sends at its end.

One home for the pattern: a nested block passes through (the outer one sends), an exception inside drops what was
held (nothing of it was sent), the block's end hands everything to the driver's own send step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

__all__ = ["HeldWrites"]

T = TypeVar("T")


class HeldWrites(Generic[T]):
    """The writes of the current batch block (none outside a block)."""

    def __init__(self) -> None:
        self._items: list[T] | None = None

    @property
    def active(self) -> bool:
        """Inside a block: writes are held, not sent."""
        return self._items is not None

    def hold(self, items: Iterable[T]) -> bool:
        """Hold ``items`` when inside a block and say so; False outside (the caller sends them now)."""
        if self._items is None:
            return False
        self._items.extend(items)
        return True

    def take(self) -> list[T]:
        """What is held so far, handed over (the block goes on holding what comes next)."""
        if self._items is None:
            return []
        items, self._items = self._items, []
        return items

    def drop(self) -> None:
        """Forget what is held and stop holding (the session it was meant for is gone)."""
        self._items = None

    @contextlib.contextmanager
    def block(self, send: Callable[[list[T]], None], *, on_drop: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold the writes of the block and ``send`` them at its end (also when none were held, unless
        :meth:`drop` was called inside). Nested, it passes through. An exception inside drops them and calls
        ``on_drop``."""
        if self._items is not None:  # nested: the outer block sends
            yield
            return
        self._items = []
        try:
            yield
        except BaseException:
            self._items = None
            if on_drop is not None:
                on_drop()
            raise
        items, self._items = self._items, None
        if items is not None:
            send(items)
