"""Fixtures for the consumer-router drivers (ASUSWRT, Linksys JNAP, TP-Link, Belkin, AT&T, UPnP): each test gets
a fresh simulator on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from routerfix.simulate import SimulatedDevice, simulate


@pytest.fixture
def asus() -> Iterator[SimulatedDevice]:
    """A simulated RT-AX88U (office: no rules, two phones)."""
    with simulate("asuswrt") as device:
        yield device


@pytest.fixture
def linksys() -> Iterator[SimulatedDevice]:
    """A simulated EA7500 (office: SIP ALG on, a reservation, two leases)."""
    with simulate("linksys", restart_seconds=0.1) as device:
        yield device


@pytest.fixture(params=["wr841n", "wr940n"])
def tplink(request: pytest.FixtureRequest) -> Iterator[SimulatedDevice]:
    """A simulated legacy TP-Link of each login flavour (header and cookie)."""
    with simulate("tplink", model=request.param) as device:
        yield device
