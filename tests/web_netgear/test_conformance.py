"""The routerfix conformance kit against both simulated families."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from routerfix.driver import Driver
from routerfix.simulate import simulate
from routerfix.testing import DriverConformance

from .conftest import connect


class TestNetgearConformance(DriverConformance):
    """R7000 (ACOS) and R7800 (net-cgi)."""

    @pytest.fixture(params=["R7000", "R7800"])
    def driver(self, request: pytest.FixtureRequest) -> Iterator[Driver]:
        with simulate("netgear", model=request.param) as device, connect(device) as router:
            yield router
