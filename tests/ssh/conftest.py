"""Fixtures of the SSH tests: one simulator host (event loop thread) for the whole folder, short timeouts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from routerfix.simulators._hosts.ssh import Shell, SSHSimulatorHost

import routerfix
from routerfix.driver import Driver, Timeouts
from routerfix.simulate import SimulatedDevice, simulate

FAST = Timeouts(connect=5, read=5, apply=5)


class EchoShell(Shell):
    """A tiny Linux-like shell for transport tests."""

    def prompt(self) -> str:
        return "root@box:~# "

    def execute(self, line: str) -> str:
        if line in ("exit", "logout"):
            self.closed = True
            return "logout\n"
        if line.startswith("echo "):
            return line[5:].replace("$?", "0") + "\n"
        if line.startswith("fail"):
            return "Error: simulated refusal\n"
        if ";" in line:  # batch: run each part, echo markers
            return "".join(self.execute(part.strip()) for part in line.split(";"))
        return f"ran {line}\n"


@pytest.fixture(scope="session")
def ssh_host() -> Iterator[SSHSimulatorHost]:
    with SSHSimulatorHost() as host:
        yield host


@pytest.fixture
def sim(ssh_host: SSHSimulatorHost, request: pytest.FixtureRequest) -> Iterator[SimulatedDevice]:
    """A fresh simulated device of the test module's ``DRIVER``; ``indirect`` parameters are simulator knobs."""
    params: dict[str, Any] = getattr(request, "param", {})
    with simulate(request.module.DRIVER, host=ssh_host, **params) as device:
        yield device


def connect(device: SimulatedDevice, **extra: Any) -> Driver:
    """Open ``device``'s driver with short timeouts."""
    return routerfix.connect(device.driver, device.host, timeouts=FAST, **device.connect_options(), **extra)


@pytest.fixture
def driver(sim: SimulatedDevice) -> Iterator[Driver]:
    """The ``sim`` device's driver, open (what the conformance kit's classes take)."""
    with connect(sim) as d:
        yield d
