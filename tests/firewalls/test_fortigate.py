"""FortiGate (FortiOS REST API) driver against its simulator: conformance, mitigation, undo, faults, secrets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import routerfix
from routerfix.driver import Driver, Timeouts
from routerfix.simulate import SimulatedDevice, simulate
from routerfix.testing import DriverConformance

FAST = Timeouts(connect=3, read=3, apply=3)
SINK = "192.168.1.208"  # .209 answers ARP, .210 is leased: the highest free pool address


def connect(device: SimulatedDevice, **extra: Any) -> Driver:
    """Open the driver on ``device`` with short timeouts."""
    return routerfix.connect(device.driver, device.host, **{**device.connect_options(), "timeouts": FAST, **extra})


@pytest.fixture
def fortigate() -> Iterator[SimulatedDevice]:
    """A simulated FortiGate 60F (office: SIP ALG on, one reservation, two leases)."""
    with simulate("fortigate") as device:
        yield device


class TestFortigateConformance(DriverConformance):
    """The shared driver contract."""

    @pytest.fixture
    def driver(self, fortigate: SimulatedDevice) -> Iterator[Driver]:
        with connect(fortigate) as d:
            yield d
