"""Fixtures of the hardening suite: one SSH simulator host (event loop thread) shared by the whole folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost


@pytest.fixture(scope="session")
def ssh_host() -> Iterator[SSHSimulatorHost]:
    """A running SSH simulator host for every SSH device of the suite."""
    with SSHSimulatorHost() as host:
        yield host
