"""Property tests: the Netgear parsers and the shared form parser let only routerfix errors escape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from routerfix.drivers.netgear import parsers

from routerfix.errors import RouterfixError
from routerfix.transport.http import Page, js_vars, parse_forms

FRAGMENTS = ["<tr>", "</tr>", "<span class=ttext>", "</span>", "<input type=RADIO name=RouteSelect value=1>",
             "pforward.cgi?id=ab12 ", "var forward_array_num=1;", "var forwardingArray1=\"a TCP 1 2 3 4 1.2.3.4 0 0\";",
             "var access_control_device_num=1;", "var access_control_device0=\"Allowed*1.2.3.4*zz*wired\";",
             "<form name=frmRules action=\"security.cgi?id=1\">", "<input name=oldType value=BOTH>", "Attached",
             "5060-5061", "192.168.1.300", "Model=R7000", "Firmware=V1", "\r\n", "@", ";", "<NewAttachDevice>",
             "</NewAttachDevice>", "2@1;1.1.1.1;x;00:11:22:33:44:55", "<title>Failure</title>", "<p class=error>",
             "<h1>Failure</h1>", "<td align=center><b>", "</b></TD>"]
text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=30)), max_size=25).map("".join)

PAGE_PARSERS: list[Callable[[Page], Any]] = [
    parsers.parse_acos_rows, parsers.parse_acos_devices, parsers.parse_acos_service_type,
    parsers.parse_netcgi_entries, parsers.parse_netcgi_devices, parsers.parse_failure, parsers.parse_wait_ms,
    lambda p: parse_forms(p.text, p.name), lambda p: js_vars(p.text)]
TEXT_PARSERS: list[Callable[[str], Any]] = [parsers.parse_current_setting, parsers.parse_attach_device_soap,
                                            parsers.acos_token]


@pytest.mark.parametrize("parse", PAGE_PARSERS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=text)
def test_page_parsers_raise_only_routerfix_errors(parse: Callable[[Page], Any], body: str) -> None:
    try:
        parse(Page("fuzz.htm", "https://127.0.0.1/fuzz.htm", 200, body))
    except RouterfixError as exc:
        assert "fuzz.htm" in str(exc)


@pytest.mark.parametrize("parse", TEXT_PARSERS)
@settings(max_examples=150, deadline=None)
@given(body=text)
def test_text_parsers_raise_only_routerfix_errors(parse: Callable[[str], Any], body: str) -> None:
    try:
        parse(body)
    except RouterfixError:
        pass


def test_known_good_inputs() -> None:
    assert parsers.parse_current_setting("Firmware=V1.0.2.60WW\r\nModel=R7800\r\n")["Model"] == "R7800"
    soap = "<NewAttachDevice>2@1;192.168.1.2;&lt;unknown&gt;;28:C6:8E:00:00:01;wireless;72;88@2;192.168.1.3;" \
           "pc;28:C6:8E:00:00:02;wired;100;0</NewAttachDevice>"
    devices = parsers.parse_attach_device_soap(soap)
    assert [(str(d.address), d.mac, d.hostname) for d in devices] == [
        ("192.168.1.2", "28:c6:8e:00:00:01", ""), ("192.168.1.3", "28:c6:8e:00:00:02", "pc")]
    page = Page("forwarding.htm", "", 200, "var forwardingArray1=\"Net&harr;Meeting TCP 1719 1720 1719 1720 "
                "192.168.1.5 0 1\";\nvar forwardingArray2=\"Net&harr;Meeting TCP 1503 1503 1503 1503 192.168.1.5 1 1\";"
                "\nvar forward_array_num=2;")
    (entry,) = parsers.parse_netcgi_entries(page)
    assert (entry.name, entry.first, entry.count) == ("Net Meeting", 1, 2)
