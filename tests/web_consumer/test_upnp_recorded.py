"""The UPnP driver's parsers over recorded gateway documents (miniupnpc's validation corpus, see
``data/upnp/README.md``) and the faults miniupnpd answers (facts: ``docs/facts/upnp.md``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from routerfix.drivers.upnp import parser as upnp

from routerfix.errors import DeviceError
from routerfix.simulate import simulate

from .helpers import connect

DATA = Path(__file__).parent / "data" / "upnp"


def _read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def test_wag200g_description_gives_its_ppp_service_under_urlbase() -> None:
    desc = upnp.parse_description(_read("linksys_WAG200G_desc.xml"), "http://192.168.1.1:49152/gatedesc.xml")
    assert desc.service_type == "urn:schemas-upnp-org:service:WANPPPConnection:1"
    assert desc.control_url == "http://192.168.1.1:49152/upnp/control/WANPPPConn1"
    assert (desc.facts.vendor, desc.facts.firmware) == ("LINKSYS", "WAG200G")


def test_livebox_igdv2_description_is_an_internet_gateway() -> None:
    """facts: upnp U3 (any version of WANIPConnection/WANPPPConnection, as miniupnpc accepts)."""
    desc = upnp.parse_description(_read("new_LiveBox_desc.xml"), "http://192.168.1.1:80/87895a19/gatedesc.xml")
    assert desc.service_type == "urn:schemas-upnp-org:service:WANPPPConnection:2"
    assert desc.control_url == "http://192.168.1.1:80/87895a19/upnp/control/WANIPConn1"


def test_recorded_soap_answers_parse_to_miniupnpc_values() -> None:
    assert upnp.parse_soap(_read("GetSpecificPortMappingEntryResp.xml"), "GetSpecificPortMappingEntry") == {
        "NewInternalPort": "12345", "NewInternalClient": "192.168.10.110", "NewEnabled": "1",
        "NewPortMappingDescription": "libminiupnpc", "NewLeaseDuration": "0"}
    assert upnp.parse_soap(_read("GetExternalIPAddress.xml"), "GetExternalIPAddress") == {
        "NewExternalIPAddress": "1.2.3.4"}


def test_a_fault_inside_the_walk_is_an_error_not_the_end_of_the_list() -> None:
    """facts: upnp U8 — only 713 ends the walk; a gateway answering 402 for index 1 has not said the list ended,
    so the mappings after it (a SIP claim among them) must not silently disappear."""
    with simulate("upnp", scenario="pbx") as dev:
        dev.handle.faults = {1: 402}
        with connect(dev) as router, pytest.raises(DeviceError, match="402"):
            router.list_port_forwards()


def test_udplite_mapping_does_not_hide_the_others() -> None:
    """facts: upnp U9 — miniupnpd lists UDP-Lite mappings as ``UDPLITE``; the SIP mapping after one is still read
    and the UDP-Lite one is named in the notes."""
    with simulate("upnp", scenario="udplite") as dev:
        with connect(dev) as router:
            state = router.read_state()
        assert [f.describe() for f in state.forwards] == ["PBX SIP: udp 5060 -> 192.168.1.10:5060"]
        assert any("UDPLITE" in n and "5004" in n for n in state.capabilities.notes)
