"""Suite-wide fixtures. Each area (core, ssh, web, lab, integrations) has its own conftest too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_memory_routers() -> Iterator[None]:
    """Every test starts with no in-memory routers left over from another test."""
    from routerfix.drivers.memory.driver import reset_routers

    reset_routers()
    yield
    reset_routers()
