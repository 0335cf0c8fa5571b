"""Second opinion on the VyOS and EdgeOS parsers (shared in ``routerfix.drivers._vyatta``): ntc-templates' TextFSM
templates read the same text as the driver's parsers and must find the same facts, in what the simulators print
over SSH and in real-device recordings (``data/vyatta``, see its README for attribution).

Templates exist for EdgeRouter ``show arp``, ``show dhcp leases`` and ``show version`` and for VyOS ``show arp``;
none for VyOS ``show dhcp server leases`` or ``show version``. The VyOS ``show arp`` template knows the net-tools
layout of 1.3 and older; 1.4 and later print vyos-1x's own neighbour table (docs/facts/vyos.md row 24), which no
template reads, so the simulated VyOS here is a 1.3 router.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ntc_templates.parse import parse_output
from routerfix.drivers._vyatta.parser import parse_arp, parse_leases, parse_version

import routerfix
from routerfix.simulate import simulate

DATA = Path(__file__).parent / "data" / "vyatta"
PLATFORM = {"edgeos": "ubiquiti_edgerouter", "vyos": "vyatta_vyos"}


def ntc(driver: str, command: str, text: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = parse_output(platform=PLATFORM[driver], command=command, data=text)
    assert rows, f"the template read nothing from {command!r}"
    return rows


def arp_agree(driver: str, text: str) -> set[tuple[str, str]]:
    theirs = {(r["ip_address"], r["mac_address"].lower()) for r in ntc(driver, "show arp", text)
              if r["mac_address"] != "(incomplete)"}
    ours = {(str(n.address), n.mac) for n in parse_arp(text)}
    assert ours == theirs
    return ours


def leases_agree(text: str) -> set[tuple[str, str, str]]:
    theirs = {(r["ip_address"], r["mac_address"].lower(), r["host"]) for r in ntc("edgeos", "show dhcp leases", text)}
    ours = {(str(lease.address), lease.mac, lease.hostname) for lease in parse_leases(text, source="show dhcp leases")}
    assert ours == theirs
    return ours


def version_agree(text: str) -> tuple[str, str]:
    (row,) = ntc("edgeos", "show version", text)
    facts = parse_version(text, "Ubiquiti")
    assert (facts.firmware, facts.model) == (row["version"], row["hardware_model"])
    return facts.firmware, facts.model


# --- recorded real devices ------------------------------------------------------------------------


def test_recorded_edgerouter_arp() -> None:
    assert len(arp_agree("edgeos", (DATA / "edgerouter_show_arp.raw").read_text())) == 5  # 2 incomplete rows


def test_recorded_vyos_arp() -> None:
    assert len(arp_agree("vyos", (DATA / "vyos_show_arp.raw").read_text())) == 4


def test_recorded_edgerouter_leases() -> None:
    assert leases_agree((DATA / "edgerouter_show_dhcp_leases.raw").read_text()) == {
        ("125.125.15.12", "00:0a:95:9d:68:16", "HOSTNAME")}


def test_recorded_edgerouter_version() -> None:
    assert version_agree((DATA / "edgerouter_show_version.raw").read_text()) == ("v2.0.6", "EdgeRouter 6P")


# --- what the simulators print, read over SSH ------------------------------------------------------


@pytest.fixture(params=[("edgeos", {}), ("vyos", {"release": "1.3"})], ids=["edgeos", "vyos-1.3"])
def driver(request: pytest.FixtureRequest) -> Iterator[Any]:
    name, knobs = request.param
    with simulate(name, **knobs) as device, \
            routerfix.connect(device.driver, device.host, **device.connect_options()) as opened:
        yield opened


def test_simulated_arp_agrees(driver: Any) -> None:
    assert arp_agree(driver.name, driver.send("show arp"))


def test_simulated_edgeos_leases_and_version_agree() -> None:
    with simulate("edgeos") as device, \
            routerfix.connect(device.driver, device.host, **device.connect_options()) as driver:
        assert leases_agree(driver.send("show dhcp leases"))
        assert version_agree(driver.send("show version"))[1]
