"""Second opinion on the Cisco IOS parsers: ntc-templates (TextFSM templates written from recorded real-device
output, installed with netmiko) read the same text as the driver's parsers and must find the same facts, both in
the simulator's output and in real-device recordings (``data/cisco_ios``, see its README for attribution).

Where a template and the simulator disagree, the fact table (docs/facts/cisco_ios.md) decides; the one known
disagreement is written out below (automatic DHCP bindings, F29).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ntc_templates.parse import parse_output
from routerfix.drivers.cisco_ios.parser import (
    mac_from_client_id,
    parse_arp,
    parse_bindings,
    parse_ping,
    parse_running_config,
    parse_version,
    scope_from_config,
)
from routerfix.simulators.cisco_ios.shell import IosRouter, IosSession

DATA = Path(__file__).parent / "data" / "cisco_ios"


def template(command: str, text: str) -> list[dict[str, Any]]:
    """The ntc-templates reading of ``text`` (the output of ``command`` on cisco_ios)."""
    return list(parse_output(platform="cisco_ios", command=command, data=text))


def recorded(name: str) -> str:
    return (DATA / name).read_text()


def simulated(command: str, *, xe: bool = False, router: IosRouter | None = None) -> str:
    """What the simulated router prints for ``command`` (paging off, as the driver has it)."""
    session = IosSession(router or IosRouter(xe=xe))
    session.execute("terminal length 0")
    return session.execute(command)


# --- show ip arp (F31) ----------------------------------------------------------------------------


def _arp_agree(text: str) -> set[tuple[str, str]]:
    rows = template("show ip arp", text)
    assert rows, "the template read nothing"
    theirs = {(r["ip_address"], str(mac_from_client_id(r["mac_address"]))) for r in rows if r["age"] != "-"}
    ours = {(str(n.address), n.mac) for n in parse_arp(text)}
    assert ours == theirs
    return ours


def test_show_ip_arp_simulated() -> None:
    assert len(_arp_agree(simulated("show ip arp"))) == 3


def test_show_ip_arp_recorded() -> None:
    assert _arp_agree(recorded("show_ip_arp.raw")) == {("172.16.168.254", "00:00:0c:36:69:65")}


# --- show version (F34) ---------------------------------------------------------------------------


def _version_agree(text: str) -> None:
    (row,) = template("show version", text)
    facts = parse_version(text)
    assert facts.hostname == row["hostname"]
    assert facts.model == row["hardware"][0]
    assert _norm(row["version"]) == _norm(facts.firmware.split()[-1])


def _norm(version: str) -> str:
    """``17.03.04a`` and ``17.3.4a`` are the same release (IOS-XE prints both forms)."""
    return ".".join(part.lstrip("0") or "0" for part in version.split("."))


@pytest.mark.parametrize("xe", [False, True], ids=["ios", "ios-xe"])
def test_show_version_simulated(xe: bool) -> None:
    _version_agree(simulated("show version", xe=xe))


def test_show_version_recorded() -> None:
    _version_agree(recorded("show_version.raw"))
    assert parse_version(recorded("show_version.raw")).firmware == "IOS 12.2(54)SG1"


# --- show ip dhcp binding (F26, F28-F29) ------------------------------------------------------------


def _manual_rows(text: str) -> set[tuple[str, str]]:
    return {(r["ip_address"], str(mac_from_client_id(r["hardware_address"])))
            for r in template("show ip dhcp binding", text) if r["type"] == "Manual"}


def test_show_ip_dhcp_binding_simulated_manual_bindings_match_the_configuration() -> None:
    """The binding table (template) and the running-config (driver) name the same manual bindings."""
    router = IosRouter()
    router.bindings.clear()  # automatic rows: see the disagreement below
    text = simulated("show ip dhcp binding", router=router)
    scope = scope_from_config(parse_running_config(router.render()))
    assert _manual_rows(text) == {(str(r.address), r.mac) for r in scope.reservations} != set()
    assert parse_bindings(text) == ()  # manual bindings are reservations, never leases


def test_show_ip_dhcp_binding_recorded() -> None:
    text = recorded("show_ip_dhcp_binding.raw")
    assert len(_manual_rows(text)) == 4
    assert parse_bindings(text) == ()  # all four are Manual: reservations, not leases
    assert ("10.100.88.26", "aa:aa:aa:aa:aa:aa") in _manual_rows(text)


def test_automatic_bindings_are_where_template_and_simulator_disagree() -> None:
    """The installed template reads the expiry as one word and refuses a row with a date (``Mar 02 2031 10:21
    AM``); its only recorded fixture has Manual rows only. The fact table (F29, inferred, fail-safe: an unreadable
    expiry is None, the lease kept) decides: the driver reads the rows either way."""
    text = simulated("show ip dhcp binding")
    leases = parse_bindings(text)
    assert {str(lease.address) for lease in leases} == {"192.168.1.100", "192.168.1.101", "192.168.1.102"}
    assert all(lease.expires is not None for lease in leases)
    with pytest.raises(Exception, match="State Error"):
        template("show ip dhcp binding", text)


# --- ping (F32) -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "answered"), [("ping.raw", True), ("ping_fail.raw", False)])
def test_ping_recorded(name: str, answered: bool) -> None:
    _ping_agree(recorded(name), answered)


@pytest.mark.parametrize(("target", "answered"), [("192.168.1.199", True), ("192.168.1.198", False)])
def test_ping_simulated(target: str, answered: bool) -> None:
    _ping_agree(simulated(f"ping {target} repeat 2 timeout 1"), answered)


def _ping_agree(text: str, answered: bool) -> None:
    (row,) = template("ping", text)
    assert (int(row["success_pct"]) > 0) == parse_ping(text) == answered
