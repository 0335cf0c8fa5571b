"""Property tests of the consumer-router parsers: round trips, and only routerfix errors on garbage."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from routerfix.drivers.asuswrt import parser as asus
from routerfix.drivers.att import parser as att
from routerfix.drivers.linksys import parser as jnap
from routerfix.drivers.tplink import parser as tp
from routerfix.drivers.upnp import parser as upnp

from routerfix.errors import InvalidValue, ParseError, RouterfixError
from routerfix.model import PortForward, PortRange, Protocol, Reservation

SETTINGS = settings(max_examples=150, deadline=None)

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,29}", fullmatch=True)
addresses = st.integers(min_value=int(ipaddress.IPv4Address("10.0.0.1")),
                        max_value=int(ipaddress.IPv4Address("10.255.255.254"))).map(ipaddress.IPv4Address)
ports = st.integers(min_value=1, max_value=65535)


@st.composite
def forwards(draw: st.DrawFn) -> PortForward:
    start = draw(ports)
    end = draw(st.integers(min_value=start, max_value=min(65535, start + 100)))
    protocol = draw(st.sampled_from(list(Protocol)))
    internal = None if end > start else draw(ports)
    return PortForward(draw(names), protocol, PortRange(start, end), draw(addresses), internal)


text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
separators = st.text(alphabet="<>&#6012 abc:,-~.5", max_size=200)


# --- ASUSWRT -------------------------------------------------------------------------------------------------


@SETTINGS
@given(st.lists(forwards(), max_size=6))
def test_asus_rulelist_round_trip(rules: list[PortForward]) -> None:
    value = "".join(asus.format_vts_rule(f) for f in rules)
    escaped = value.replace("<", "&#60").replace(">", "&#62")
    parsed = asus.parse_vts_rulelist(asus.decode_nvram(escaped))
    back = [f for i, r in enumerate(parsed) for f in asus.rule_forwards(r, str(i))]
    assert [f.key() for f in back] == [f.key() for f in rules]
    assert "".join(r.raw for r in parsed) == value


@SETTINGS
@given(st.one_of(text, separators))
def test_asus_parsers_raise_only_parse_errors(value: str) -> None:
    for parse in (asus.parse_vts_rulelist, asus.parse_staticlist, asus.parse_hostnames):
        try:
            items = parse(value)
        except ParseError:
            continue
        for i, item in enumerate(items):
            if isinstance(item, asus.VtsRule):
                try:
                    asus.rule_forwards(item, str(i))
                except ParseError:
                    pass
    try:
        asus.parse_appget(value)
    except ParseError:
        pass


@SETTINGS
@given(st.text(max_size=40))
def test_asus_names_cannot_inject_records(name: str) -> None:
    try:
        record = asus.format_vts_rule(PortForward(name, "udp", 5060, "10.0.0.9"))
    except InvalidValue:
        return
    assert record.count("<") == 1 and record.count(">") == 5
    assert asus.parse_vts_rulelist(record)[0].name == name


@pytest.mark.parametrize("name", ["a<b", "a>b", "x>5060>10.0.0.2>5060>UDP><evil", "a&#62b", "a b", "ü"])
def test_asus_separator_injection_refused(name: str) -> None:
    with pytest.raises(InvalidValue):
        asus.format_vts_rule(PortForward(name, "udp", 5060, "10.0.0.9"))
    with pytest.raises(InvalidValue):
        asus.format_static_entry(Reservation("10.0.0.9", "02:00:00:00:00:01", name))


@SETTINGS
@given(st.lists(st.tuples(addresses, st.integers(min_value=0, max_value=2 ** 48 - 1), names), max_size=5))
def test_asus_staticlist_round_trip(items: list[tuple[ipaddress.IPv4Address, int, str]]) -> None:
    reservations = [Reservation(a, ":".join(f"{(m >> s) & 0xff:02x}" for s in range(40, -1, -8)), n)
                    for a, m, n in items]
    value = "".join(asus.format_static_entry(r)[0] for r in reservations)
    back = asus.parse_staticlist(value)
    assert [(e.mac, e.address, e.name) for e in back] == [(r.mac, r.address, r.name) for r in reservations]
    if len({r.mac for r in reservations}) < len(reservations):
        return  # dhcp_hostnames holds one name per MAC
    apart = [asus.format_static_entry(r, asus.StaticFormat.NAMES_APART) for r in reservations]
    records = asus.parse_staticlist("".join(a for a, _ in apart))
    names = asus.parse_hostnames("".join(b for _, b in apart))
    assert [(e.mac, e.address, names[e.mac]) for e in records] == [(r.mac, r.address, r.name) for r in reservations]
    assert {e.fields for e in records} <= {3}


def test_asus_real_fixture_shapes() -> None:
    assert asus.parse_vts_rulelist("") == []
    rules = asus.parse_vts_rulelist(asus.decode_nvram("&#60Web&#6280,443&#62192.168.1.2&#62&#62TCP&#62"))
    assert [str(f.external_ports) for f in asus.rule_forwards(rules[0], "0")] == ["80", "443"]
    entries = asus.parse_staticlist("<AA:BB:CC:00:00:01>192.0.2.10>>")
    assert entries[0].mac == "aa:bb:cc:00:00:01" and entries[0].name == ""


@pytest.mark.parametrize(("staticlist", "hostnames", "buildno", "expected"), [
    ("<AA:BB:CC:00:00:01>192.0.2.10>", "", "388", "mac-ip-dns+hostnames"),  # the records tell
    ("<AA:BB:CC:00:00:01>192.0.2.10>>pc", "", "384.19", "mac-ip-dns-name"),
    ("", "<AA:BB:CC:00:00:01>pc", "388", "mac-ip-dns+hostnames"),  # a host name list tells
    ("", "", "384.19", "mac-ip-dns+hostnames"),  # else the version (Merlin moved names at 386.4)
    ("", "", "386.3", "mac-ip-dns+hostnames"),
    ("", "", "386.4", "mac-ip-dns-name"),
    ("", "", "388", "mac-ip-dns-name"),
    ("<AA:BB:CC:00:00:01>192.0.2.10", "", "388", "mac-ip-dns-name"),
])
def test_asus_static_format_detection(staticlist: str, hostnames: str, buildno: str, expected: str) -> None:
    entries = asus.parse_staticlist(staticlist)
    assert asus.static_format(entries, hostnames, buildno) == expected


def test_asus_three_field_record_holds_dns_not_a_name() -> None:
    entries = asus.parse_staticlist("<AA:BB:CC:00:00:01>192.0.2.10>192.0.2.53")
    assert entries[0].name == "" and entries[0].fields == 3


# --- Linksys JNAP ---------------------------------------------------------------------------------------------


@SETTINGS
@given(st.lists(forwards(), max_size=6))
def test_jnap_rule_round_trip(rules: list[PortForward]) -> None:
    encoded = [jnap.forward_to_rule(f) for f in rules]
    single = [r for r in encoded if not jnap.is_range_rule(r)]
    ranged = [r for r in encoded if jnap.is_range_rule(r)]
    back = jnap.parse_rules({"rules": single}, "single", "s")[1] + jnap.parse_rules({"rules": ranged}, "range",
                                                                                     "r")[1]
    want = [f for f in rules if len(f.external_ports) == 1] + [f for f in rules if len(f.external_ports) > 1]
    assert [f.key() for f in back] == [f.key() for f in want]


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                          max_size=4), max_leaves=20)


@SETTINGS
@given(st.one_of(text, json_values.map(json.dumps)))
def test_jnap_parsers_raise_only_parse_errors(value: str) -> None:
    try:
        reply = jnap.parse_reply(value, "x")
    except ParseError:
        return
    for call in (lambda o: jnap.parse_rules(o, "single", "x"), lambda o: jnap.parse_rules(o, "range", "x"),
                 jnap.parse_lan_settings, jnap.parse_devices, jnap.parse_leases, jnap.parse_alg):
        try:
            call(reply.output)
        except ParseError:
            pass


@SETTINGS
@given(st.dictionaries(st.sampled_from(["ipAddress", "networkPrefixLength", "dhcpSettings", "isDHCPEnabled"]),
                       json_values, max_size=4))
def test_jnap_lan_settings_garbage(output: dict[str, Any]) -> None:
    try:
        jnap.parse_lan_settings(output)
    except ParseError:
        pass


# --- TP-Link -----------------------------------------------------------------------------------------------------


@SETTINGS
@given(st.lists(st.one_of(st.integers(min_value=-5, max_value=10 ** 6),
                          st.text(alphabet=st.characters(blacklist_characters='"\\\n'), max_size=12)), max_size=20))
def test_tplink_array_round_trip(values: list[Any]) -> None:
    from routerfix.simulators.tplink.device import _arr

    page = f"<SCRIPT>\n{_arr('DHCPDynList', values)}</SCRIPT>"
    assert tp.parse_arrays(page, "p")["DHCPDynList"] == values


@SETTINGS
@given(text)
def test_tplink_parsers_raise_only_parse_errors(value: str) -> None:
    try:
        arrays = tp.parse_arrays(value, "p")
    except ParseError:
        return
    for call in (tp.parse_vs_rows, tp.parse_dhcp, tp.parse_lan, tp.parse_leases, tp.parse_reservations):
        try:
            call(arrays)
        except ParseError:
            pass
    assert tp.is_archer_keys_reply(value) in (True, False)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from([5060, 80, 1, 0, "x", 65536]), st.sampled_from([5060, 90, 0]),
                          st.sampled_from([0, 80, "x"]), st.sampled_from(["192.168.0.5", "bad"]), st.integers(0, 4),
                          st.integers(-1, 2)),
                max_size=4), st.sampled_from([6, 7]))
def test_tplink_rows_validate(rows: list[tuple[Any, ...]], width: int) -> None:
    flat = [v for row in rows for v in (row if width == 6 else (*row[:3], row[2], *row[3:]))]
    arrays: dict[str, list[Any]] = {"virServerListPara": flat, "virServerPara": [1, 0, len(rows), width, 8]}
    try:
        parsed = tp.parse_vs_rows(arrays)
    except ParseError:
        return
    assert len(parsed) == len(rows)


def test_tplink_seven_value_row_capture() -> None:
    # A WR740N v4 (firmware 3.13.2) page as recorded in Jammeren2/RouterDebugger tests/test_port_features.py:
    # page 2 of a paged table, one 7-value row.
    arrays = tp.parse_arrays('<script>var virServerListPara = new Array(\n8000, 8010, 9000, 9010, "192.168.0.10", '
                             '2, 1, 0, 0\n);</script><script>var virServerPara = new Array(2, 1, 1, 7, 8, 0, 0);'
                             '</script>', "p")
    (row,) = tp.parse_vs_rows(arrays)
    assert (row.index, row.page, row.external, row.internal, str(row.address), row.protocol, row.enabled) == \
        (8, 2, PortRange(8000, 8010), PortRange(9000, 9010), "192.168.0.10", Protocol.TCP, True)
    layout = tp.parse_layout(arrays, "virServerPara", "p")
    assert layout.has_next and not layout.whole_table


def test_tplink_six_value_rows_and_the_reservation_layout() -> None:
    # Row order of a 6-value table (zerosnake0/wr886n wr886n/__main__.py): start, end, internal, IP, protocol,
    # state; DHCPStaticPara (1,1,8,3,8) as quoted from a WDR3600 in AlexandrErohin/TP-Link-Archer-C6U
    # tplinkrouterc6u/client/wdr.py.
    rows = tp.parse_vs_rows({"virServerListPara": [5060, 5061, 0, "192.168.0.9", 1, 1, 80, 80, 8080,
                                                   "192.168.0.8", 2, 0],
                             "virServerPara": [1, 0, 2, 6, 8]})
    assert [(r.external, r.internal, r.protocol, r.enabled) for r in rows] == [
        (PortRange(5060, 5061), None, Protocol.BOTH, True), (PortRange(80), PortRange(8080), Protocol.TCP, False)]
    macs = [f"30-5A-3A-7F-5E-{i:02X}" for i in range(8)]
    res = tp.parse_reservations({"dhcpList": [v for i, m in enumerate(macs) for v in (m, f"192.168.1.{16 + i}", 1)],
                                 "DHCPStaticPara": [1, 1, 8, 3, 8]})
    assert [r.index for r in res] == list(range(8)) and all(r.enabled for r in res)
    with pytest.raises(ParseError, match="5 values wide"):
        tp.parse_vs_rows({"virServerListPara": [], "virServerPara": [1, 0, 0, 5, 8]})


# --- UPnP -----------------------------------------------------------------------------------------------------------


@SETTINGS
@given(st.dictionaries(st.sampled_from(["NewPortMappingDescription", "NewInternalClient", "NewRemoteHost"]),
                       st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)))
def test_upnp_soap_escaping_round_trip(args: dict[str, str]) -> None:
    body = upnp.build_soap("urn:schemas-upnp-org:service:WANIPConnection:1", "GetGenericPortMappingEntry", args)
    xml = body.decode().replace("u:GetGenericPortMappingEntry", "u:GetGenericPortMappingEntryResponse")
    back = upnp.parse_soap(xml, "GetGenericPortMappingEntry")
    assert back == {k: v.strip() for k, v in args.items()}


@SETTINGS
@given(st.one_of(text, st.just('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')))
def test_upnp_parsers_raise_only_parse_errors(value: str) -> None:
    for call in (lambda v: upnp.parse_soap(v, "GetGenericPortMappingEntry"),
                 lambda v: upnp.parse_description(v, "http://127.0.0.1:5000/rootDesc.xml")):
        try:
            call(value)
        except ParseError:
            pass


def test_upnp_dtd_refused_and_foreign_control_url_refused() -> None:
    with pytest.raises(ParseError, match="DTD"):
        upnp.parse_soap('<!DOCTYPE lol [<!ENTITY a "aaaa">]><a>&a;</a>', "X")
    desc = ('<root><device><serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1'
            '</serviceType><controlURL>http://198.51.100.1/ctl</controlURL></service></serviceList></device></root>')
    with pytest.raises(ParseError, match="another host"):
        upnp.parse_description(desc, "http://127.0.0.1:5000/rootDesc.xml")


@SETTINGS
@given(st.dictionaries(st.sampled_from(["NewExternalPort", "NewProtocol", "NewInternalPort", "NewInternalClient",
                                        "NewEnabled"]), st.text(max_size=12)))
def test_upnp_entry_garbage(args: dict[str, str]) -> None:
    try:
        upnp.mapping_to_forward(args, 0)
    except ParseError:
        pass


# --- AT&T -----------------------------------------------------------------------------------------------------------


@SETTINGS
@given(text)
def test_att_sysinfo_raises_only_parse_errors(value: str) -> None:
    try:
        att.parse_sysinfo(value)
    except ParseError:
        pass
    assert isinstance(att.error_text(value), str)


def test_only_routerfix_errors_are_declared() -> None:
    assert issubclass(ParseError, RouterfixError)
