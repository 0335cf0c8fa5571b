"""Fixtures for the Netgear driver tests: simulated R7000 (ACOS) and R7800 (net-cgi) on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

import routerfix
from routerfix.driver import Driver, Timeouts
from routerfix.simulate import SimulatedDevice, simulate

FAST = Timeouts(connect=5, read=5, apply=2)


@pytest.fixture(params=["R7000", "R7800"])
def model(request: pytest.FixtureRequest) -> str:
    """Both families."""
    return str(request.param)


@pytest.fixture
def netgear() -> Callable[..., AbstractContextManager[SimulatedDevice]]:
    """``netgear(model, **knobs)``: a simulated router context manager."""
    def start(model: str = "R7000", **knobs: Any) -> AbstractContextManager[SimulatedDevice]:
        return simulate("netgear", model=model, **knobs)
    return start


@pytest.fixture
def dev(model: str) -> Iterator[SimulatedDevice]:
    """A default simulated router of each family (2 phones, NAT Secured, SIP ALG on)."""
    with simulate("netgear", model=model) as device:
        yield device


def connect(device: SimulatedDevice, **extra: Any) -> Driver:
    """Open the netgear driver on ``device``."""
    options = {**device.connect_options(), "timeouts": FAST, **extra}
    return routerfix.connect("netgear", device.host, **options)
