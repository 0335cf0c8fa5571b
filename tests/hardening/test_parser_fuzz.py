"""Item 3b: every parser (CLI outputs, HTML pages, JSON/SOAP/JNAP replies, lease files, config trees) gets
generated input; the only exceptions allowed out are routerfix errors.

Inputs mix random text with the tokens each format is made of (so the fuzzer reaches past the first check), and
structured data (JSON-like dicts) for parsers that take decoded replies. At least 10,000 inputs in total:
``PER_PARSER`` per text entry point plus ``PER_DATA_PARSER`` per data entry point (``test_enough_inputs``
checks the sum).
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routerfix.errors import RouterfixError
from routerfix.transport.http import Page, js_vars, parse_forms

_DEEP = int(os.environ.get("ROUTERFIX_FUZZ_EXAMPLES", "0"))
"""A deep run: ``ROUTERFIX_FUZZ_EXAMPLES=10000`` gives every entry point that many inputs (RELIABILITY.md)."""
PER_PARSER = _DEEP or 270
"""Inputs per text parser entry point (cheap to generate)."""
PER_DATA_PARSER = _DEEP or 150
"""Inputs per structured-data entry point (nested JSON-like values cost more to generate)."""
_SETTINGS = settings(max_examples=PER_PARSER, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
_DATA_SETTINGS = settings(_SETTINGS, max_examples=PER_DATA_PARSER)

_TOKENS = [
    "\n", "\r\n", " ", "=", "\"", "'", ";", ":", ",", ".", "/", "-", "<", ">", "{", "}", "[", "]", "(", ")", "#",
    "192.168.1.", "10.0.0.", "255", "0", "5060", "5061", "65535", "99999", "-1", "tcp", "udp", "both", "TCP/UDP",
    "comment=", "routerfix-sip", "disabled=", "to-addresses=", "dst-port=", "protocol=", "chain=dstnat",
    "action=dst-nat", "address=", "mac-address=", "02:00:5e:c0:50:60", "AA-BB-CC-DD-EE-FF", "0004.f2a1.b2c3",
    "Flags: X - disabled", " 0 X ", "version: 7.16", "var ", "new Array(", "<form", "<input name=", "value=",
    "</form>", "<tr><td>", "<script>", "</script>", "&#60", "&amp;", "{\"", "\":", "null", "true", "1e400",
    "<?xml version=\"1.0\"?>", "<s:Envelope>", "<s:Body>", "<u:", "Response>", "<errorCode>", "713",
    "<NewInternalClient>",
    "set ", "nat destination rule 10 ", "translation address ", "inbound-interface ", "port-forward ",
    "ip nat inside source static udp ", "interface GigabitEthernet0/0", "ip dhcp pool LAN",
    "network 192.168.1.0 255.255.255.0",
    "config redirect", "option dest_ip '", "firewall.@redirect[0]", "dhcp.lan.start='100'", "uci",
    "dhcp-range=", "dhcp-host=", "1700000000 ", "* ", "lladdr ", "dev br-lan", "inet ", "/24", "default via ",
    "\"nftables\": [", "{\"rule\": {", "\"expr\": [", "\"dnat\": {", "ipv4 2 udp 17 ", "src=", "dst=", "dport=",
    "Model=", "Firmware=", "<asus>", "vts_rulelist", "<name>5060>192.168.1.9>>UDP>", "\x00", "\u202e", "é", "\ufeff",
]
TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(_TOKENS) | st.text(max_size=6), max_size=60).map("".join),
)
JSONISH: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=True) | TEXT,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(
        st.sampled_from(["output", "result", "rules", "singlePortForwardingRules", "portRangeForwardingRules",
                         "externalPort", "internalPort", "internalServerIPAddress", "protocol", "isEnabled",
                         "description", "ipAddress", "macAddress", "devices", "connections", "leases",
                         "ipAddress", "networkPrefixLength", "minAddress", "maxAddress", "firstClientIPAddress",
                         "lastClientIPAddress", "dhcpSettings", "isSIPEnabled", "knownInterfaces", "hostName",
                         "name", "lastChangeRevision", "responses"]) | st.text(max_size=8),
        children, max_size=6),
    max_leaves=25)
_OBJECT_KEYS = st.sampled_from(["output", "rules", "devices", "leases", "isSIPEnabled", "ipAddress", "minAddress",
                                "maxAddress", "networkPrefixLength", "dhcpSettings", "singlePortForwardingRules",
                                "portRangeForwardingRules"]) | st.text(max_size=8)
OBJECT = st.dictionaries(_OBJECT_KEYS, JSONISH, max_size=8)
"""Decoded JSON objects: parsers typed ``dict[str, Any]`` get dicts whose values are anything."""
TPLINK_ARRAYS = st.dictionaries(
    st.sampled_from(["DHCPPara", "lanPara", "DHCPDynList", "dhcpList", "virServerPara", "virServerList"])
    | st.text(max_size=6), st.lists(st.integers(-5, 70000) | TEXT, max_size=14), max_size=6)
"""What ``parse_arrays`` yields: JavaScript array names to lists of strings and numbers."""


def _mod(name: str) -> Any:
    return importlib.import_module(f"routerfix.drivers.{name}")


def _page(text: str) -> Page:
    return Page("fuzz.htm", "http://127.0.0.1/fuzz.htm", 200, text)


def _chain(first: Callable[[str], Any], *then: Callable[[Any], Any]) -> Callable[[str], None]:
    def run(text: str) -> None:
        value = first(text)
        for step in then:
            step(value)
    return run


def _tplink(text: str) -> None:
    p = _mod("tplink.parser")
    arrays = p.parse_arrays(text, "fuzz.htm")
    for fn in (p.parse_dhcp, p.parse_lan, p.parse_leases, p.parse_reservations, p.parse_vs_rows):
        try:
            fn(arrays)
        except RouterfixError:
            pass
    p.is_archer_keys_reply(text)


def _linux_dnsmasq(text: str) -> None:
    p = _mod("linux.parser")
    cfg = p.parse_dnsmasq_args(text.split("\n"))
    p.parse_dnsmasq_conf(text, cfg, "fuzz")


def _vyos(text: str) -> None:
    p = _mod("vyos.parser")
    e = _mod("edgeos.parser")
    paths = p.all_paths(text)
    for fn in (p.vyos_forwards, p.vyos_sip_alg, p.vyos_wan_interface, e.edgeos_forwards, e.edgeos_sip_alg,
               e.edgeos_wan_interface, p.dhcp_scope):
        try:
            fn(paths)
        except RouterfixError:
            pass


def _cisco(text: str) -> None:
    p = _mod("cisco_ios.parser")
    config = p.parse_running_config(text)
    try:
        p.scope_from_config(config)
    except RouterfixError:
        pass
    for static in getattr(config, "statics", ()):
        try:
            p.static_forward(static, config)
        except RouterfixError:
            pass


def _openwrt(text: str) -> None:
    p = _mod("openwrt.parser")
    for parse in (p.parse_export, p.parse_uci_show):
        try:
            sections = parse(text)
        except RouterfixError:
            continue
        for fn in (lambda s: p.redirect_forwards(s), lambda s: p.scope_from_uci(s, s),
                   lambda s: p.sip_alg_from_uci(s, True)):
            try:
                fn(sections)
            except RouterfixError:
                pass


def _asus_appget(text: str) -> None:
    p = _mod("asuswrt.parser")
    data = p.parse_appget(text)
    for value in data.values():
        if isinstance(value, str):
            for fn in (p.parse_vts_rulelist, p.parse_staticlist, p.decode_nvram):
                try:
                    fn(value)
                except RouterfixError:
                    pass
        else:
            try:
                p.parse_clientlist(value)
            except RouterfixError:
                pass


def _asus_rules(text: str) -> None:
    p = _mod("asuswrt.parser")
    for i, rule in enumerate(p.parse_vts_rulelist(text)):
        try:
            p.rule_forwards(rule, str(i))
        except RouterfixError:
            pass


TEXT_PARSERS: dict[str, Callable[[str], Any]] = {
    "mikrotik.parse_terse": lambda t: [_try(_mod("mikrotik.parser").forwards_from_rule, i)
                                       for i in _mod("mikrotik.parser").parse_terse(t, "fuzz")],
    "mikrotik.parse_key_values": lambda t: _mod("mikrotik.parser").parse_key_values(t, "fuzz"),
    "mikrotik.parse_key_value_page": lambda t: _mod("mikrotik.parser").parse_key_value_page(t, "fuzz"),
    "mikrotik.parse_version": lambda t: _mod("mikrotik.parser").parse_version(t),
    "mikrotik.parse_address_ranges": lambda t: _mod("mikrotik.parser").parse_address_ranges(t, "fuzz"),
    "mikrotik.join_export_lines": lambda t: _mod("mikrotik.parser").join_export_lines(t),
    "linux.parse_nft_json": lambda t: _mod("linux.parser").parse_nft_json(t),
    "linux.parse_leases": lambda t: _mod("linux.parser").parse_leases(t),
    "linux.parse_hostsfile": lambda t: _mod("linux.parser").parse_hostsfile(t),
    "linux.parse_addresses": lambda t: _mod("linux.parser").parse_addresses(t),
    "linux.parse_neighbours": lambda t: _mod("linux.parser").parse_neighbours(t),
    "linux.parse_conntrack": lambda t: _mod("linux.parser").parse_conntrack(t),
    "linux.parse_default_route": lambda t: _mod("linux.parser").parse_default_route(t),
    "linux.dnsmasq": _linux_dnsmasq,
    "netgear.parse_current_setting": lambda t: _mod("netgear.parsers").parse_current_setting(t),
    "netgear.parse_attach_device_soap": lambda t: _mod("netgear.parsers").parse_attach_device_soap(t),
    "netgear.acos_pages": lambda t: [_try(fn, _page(t)) for fn in (
        _mod("netgear.parsers").parse_acos_rows, _mod("netgear.parsers").parse_acos_devices,
        _mod("netgear.parsers").parse_acos_service_type, _mod("netgear.parsers").parse_failure,
        _mod("netgear.parsers").parse_wait_ms)] + [_mod("netgear.parsers").acos_token(t)],
    "netgear.netcgi_pages": lambda t: [_try(fn, _page(t)) for fn in (
        _mod("netgear.parsers").parse_netcgi_entries, _mod("netgear.parsers").parse_netcgi_devices)],
    "http.forms_and_vars": lambda t: (_try(parse_forms, t, "fuzz.htm"), js_vars(t)),
    "asuswrt.parse_appget": _asus_appget,
    "asuswrt.parse_vts_rulelist": _asus_rules,
    "asuswrt.parse_staticlist": lambda t: _mod("asuswrt.parser").parse_staticlist(t),
    "linksys.parse_reply": lambda t: _mod("linksys.parser").parse_reply(t, "fuzz"),
    "linksys.parse_transaction": lambda t: _mod("linksys.parser").parse_transaction(t, 3),
    "tplink.pages": _tplink,
    "upnp.parse_soap": lambda t: _mod("upnp.parser").parse_soap(t, "GetGenericPortMappingEntry"),
    "upnp.parse_description": lambda t: _mod("upnp.parser").parse_description(t, "http://127.0.0.1:1/rootDesc.xml"),
    "att.pages": lambda t: (_mod("att.parser").error_text(t), _mod("att.parser").parse_sysinfo(t)),
    "cisco_ios.running_config": _cisco,
    "cisco_ios.show_outputs": lambda t: [_try(fn, t) for fn in (
        _mod("cisco_ios.parser").parse_arp, _mod("cisco_ios.parser").parse_bindings,
        _mod("cisco_ios.parser").parse_version, _mod("cisco_ios.parser").mac_from_client_id)],
    "vyos.config_tree": _vyos,
    "vyos.show_outputs": lambda t: [_try(fn, t) for fn in (
        _mod("vyos.parser").parse_arp, _mod("vyos.parser").parse_leases, _mod("vyos.parser").parse_table,
        _mod("vyos.parser").parse_conntrack_deleted, _mod("vyos.configtree").parse_commands,
        lambda x: _mod("vyos.parser").parse_version(x, "VyOS"),
        lambda x: _mod("vyos.parser").parse_interface_address(x, "eth0"))],
    "openwrt.uci": _openwrt,
    "openwrt.show_outputs": lambda t: [_try(fn, t) for fn in (
        _mod("openwrt.parser").parse_ip_neigh, _mod("openwrt.parser").parse_leases,
        _mod("openwrt.parser").wan_address, lambda x: _mod("openwrt.parser").parse_facts(x, x))],
}

DATA_PARSERS: dict[str, Callable[[Any], Any]] = {
    "linksys.decoded_replies": lambda d: [_try(fn, d) for fn in (
        _mod("linksys.parser").parse_alg, _mod("linksys.parser").parse_devices,
        _mod("linksys.parser").parse_lan_settings, _mod("linksys.parser").parse_leases,
        lambda x: _mod("linksys.parser").parse_rules(x, "single", "fuzz"),
        lambda x: _mod("linksys.parser").parse_rules(x, "range", "fuzz"))],
    "linksys.json_text": lambda d: _mod("linksys.parser").parse_reply(json.dumps(d), "fuzz"),
    "asuswrt.parse_clientlist": lambda d: _mod("asuswrt.parser").parse_clientlist(d),
    "asuswrt.appget_json": lambda d: _asus_appget(json.dumps(d)),
    "linux.nft_json": lambda d: _mod("linux.parser").parse_nft_json(json.dumps(d)),
    "tplink.arrays": lambda d: [_try(fn, d) for fn in (
        _mod("tplink.parser").parse_dhcp, _mod("tplink.parser").parse_lan, _mod("tplink.parser").parse_leases,
        _mod("tplink.parser").parse_reservations, _mod("tplink.parser").parse_vs_rows)],
    "upnp.mapping_args": lambda d: _mod("upnp.parser").mapping_to_forward(
        {str(k): str(v) for k, v in d.items()} if isinstance(d, dict) else {}, 0),
}


OBJECT_PARSERS = frozenset({"linksys.decoded_replies", "tplink.arrays", "upnp.mapping_args"})


def _try(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a parser; routerfix errors are a fine answer to garbage."""
    try:
        return fn(*args)
    except RouterfixError:
        return None


def _check(fn: Callable[[Any], Any], value: Any) -> None:
    try:
        fn(value)
    except RouterfixError:
        pass


@pytest.mark.parametrize("name", sorted(TEXT_PARSERS))
def test_text_parser_raises_only_routerfix_errors(name: str) -> None:
    fn = TEXT_PARSERS[name]

    @_SETTINGS
    @given(TEXT)
    def run(text: str) -> None:
        _check(fn, text)

    run()


@pytest.mark.parametrize("name", sorted(DATA_PARSERS))
def test_data_parser_raises_only_routerfix_errors(name: str) -> None:
    fn = DATA_PARSERS[name]

    @_DATA_SETTINGS
    @given(TPLINK_ARRAYS if name == "tplink.arrays" else OBJECT if name in OBJECT_PARSERS else JSONISH)
    def run(data: Any) -> None:
        _check(fn, data)

    run()


def test_enough_inputs() -> None:
    """The issue asks for at least 10,000 generated inputs over all parsers."""
    assert PER_PARSER * len(TEXT_PARSERS) + PER_DATA_PARSER * len(DATA_PARSERS) >= 10_000
