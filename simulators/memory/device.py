"""The memory driver's "simulator": a fresh in-memory router, no network needed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from routerfix.simulate import SimulatedDevice


@contextmanager
def simulate(scenario: str = "office", **_: Any) -> Iterator[SimulatedDevice]:
    """A new in-memory router seeded from ``scenario``, under a unique host name."""
    host = f"memory-{uuid.uuid4().hex[:8]}"
    yield SimulatedDevice(driver="memory", host=host, username="admin", password="admin",  # noqa: S106 - demo password
                          options={"scenario": scenario}, description=f"in-memory router ({scenario})")
