"""Fixtures of the ghost-call lab (see docs/lab.md). The report it prints at the end of the run is gathered by
tests/conftest.py (from every pytest-xdist worker)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import netlab
import pytest


@pytest.fixture(scope="session")
def lab_prerequisites() -> None:
    """Skip (with the reason) where network namespaces cannot be made: not root, or tools missing."""
    why = netlab.missing_prerequisites()
    if why:
        pytest.skip(why)


@pytest.fixture(scope="session")
def linux_driver() -> None:
    """Skip the tests that run routerfix itself while the ``linux`` driver is not installed."""
    import routerfix

    try:
        routerfix.get_driver("linux")
    except Exception as exc:  # noqa: BLE001 - a driver still being written fails to load in many ways
        pytest.skip(f"the linux driver is not available yet: {type(exc).__name__}: {exc}")


@pytest.fixture(scope="session")
def lab(lab_prerequisites: None) -> Iterator[netlab.Lab]:
    """The whole lab, built once per test session and always removed (also when a test fails)."""
    workdir = Path(tempfile.mkdtemp(prefix="routerfix-lab-"))
    built = netlab.Lab(workdir)
    built.root_links_before = netlab.root_links()
    try:
        with built:
            netlab.report(f"lab built in {built.timings['setup']:.1f} s (DHCP for phone and LAN host "
                   f"{built.timings['dhcp'] - built.timings['router']:.1f} s); phone {built.phone_addr}, "
                   f"LAN host {built.pc_addr}, WAN {netlab.WAN_ADDR}")
            yield built
    finally:
        left, stray = built.leftovers(), built.stray_processes()
        netlab.report(f"teardown: {len(left)} namespaces and {len(stray)} lab processes left"
                      + (f": {left} {stray}" if left or stray else ""))
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def driver_reads_open_nat(lab: netlab.Lab, linux_driver: None) -> None:
    """The linux driver can read the open-NAT router at all (nftables prints warnings on stderr for its
    dynamic-map rule; the driver must not mistake them for JSON)."""
    lab.reset_router("open")
    lab.routerfix("show")


@pytest.fixture
def fresh_open(lab: netlab.Lab) -> netlab.Lab:
    """The router at its baseline with open (endpoint-independent) NAT, the phone registered."""
    lab.reset_router("open")
    return lab
