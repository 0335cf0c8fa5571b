"""Suite-wide fixtures. Each area (core, ssh, web, lab, integrations) has its own conftest too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

# Wall-clock limits measure the machine, not the code: on a busy CI machine (both cores loaded) a generated input
# may take longer than hypothesis' defaults allow. Every test keeps its own example count and assertions.
settings.register_profile("routerfix", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("routerfix")


@pytest.fixture(autouse=True)
def _fresh_memory_routers() -> Iterator[None]:
    """Every test starts with no in-memory routers left over from another test."""
    from routerfix.drivers.memory.driver import reset_routers

    reset_routers()
    yield
    reset_routers()


@pytest.fixture(autouse=True)
def _private_lock_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Device locks (routerfix.locks) in a directory of this test only, inherited by the CLI processes it
    starts: tests running at once on this machine never wait on each other's locks of the same host name."""
    monkeypatch.setenv("ROUTERFIX_LOCK_DIR", str(tmp_path_factory.mktemp("locks")))
