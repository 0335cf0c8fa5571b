"""Probing stays bounded: ``ping <a> repeat 2 timeout 1`` is waited for its two echo timeouts and a margin, never the
whole read timeout (a probe is asked of up to ``max_probes`` candidates per run)."""

from __future__ import annotations

import ipaddress
import time
from typing import Any

import pytest

import routerfix
from routerfix.driver import Timeouts
from routerfix.errors import ReadTimeout


def test_a_probe_that_does_not_finish_gives_up_within_its_bound(sim: Any) -> None:
    with sim("cisco_ios") as device:
        timeouts = Timeouts(connect=10, read=40, apply=40)
        with routerfix.connect(device.driver, device.host, timeouts=timeouts, **device.connect_options()) as driver:
            device.handle.device.knobs.latency = 15.0  # the answer comes long after two 1-second echoes
            started = time.monotonic()
            with pytest.raises(ReadTimeout):
                driver.probe_address(ipaddress.IPv4Address("192.168.1.198"))
            assert time.monotonic() - started < 12, "the probe waited out the read timeout (40 s)"
            device.handle.device.knobs.latency = 0.0


def test_probes_answer_as_ios_prints_them(sim: Any) -> None:
    with sim("cisco_ios") as device, routerfix.connect(device.driver, device.host,
                                                       **device.connect_options()) as driver:
        assert driver.probe_address(ipaddress.IPv4Address("192.168.1.199")) is True
        assert driver.probe_address(ipaddress.IPv4Address("192.168.1.198")) is False
