"""Property tests of the RouterOS and Linux parsers: round trips, and nothing but routerfix errors escapes."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from routerfix.drivers.linux.parser import (
    parse_addresses,
    parse_conntrack,
    parse_dnsmasq_args,
    parse_hostsfile,
    parse_leases,
    parse_neighbours,
    parse_nft_json,
)
from routerfix.drivers.mikrotik.parser import (
    forwards_from_rule,
    join_export_lines,
    parse_address_ranges,
    parse_terse,
)
from routerfix.simulators.mikrotik.device import _quote, _wrap

from routerfix.errors import RouterfixError

KEYS = st.from_regex(r"[a-z][a-z0-9\-]{0,12}", fullmatch=True)
PLAIN = st.from_regex(r"[A-Za-z0-9:./,_\-]{1,20}", fullmatch=True)
TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\u2028\u2029\x85"),
               max_size=30)


def render_v6(index: int, flags: str, props: dict[str, str]) -> str:
    return f"{index:>2} {flags:<3} " + " ".join(f"{k}={_quote(v)}" for k, v in props.items())


def render_v7(index: int, flags: str, props: dict[str, str]) -> str:
    cols = " ".join(flags)
    return f"{index} {cols} " + " ".join(f"{k}={v}" for k, v in props.items())


@given(st.integers(0, 999), st.sampled_from(["", "X", "D", "XD", "DC"]),
       st.dictionaries(KEYS, TEXT.map(lambda s: s.strip()), min_size=1, max_size=6))
def test_v6_terse_round_trip(index: int, flags: str, props: dict[str, str]) -> None:
    props = {k: v.replace("\r", "").replace("\n", "") for k, v in props.items()}
    items = parse_terse(render_v6(index, flags, props) + "\n", "test")
    assert len(items) == 1
    assert items[0].index == index and items[0].flags == frozenset(flags) and items[0].props == props


@given(st.integers(0, 999), st.sampled_from(["", "X", "D", "XD"]),
       st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 :_.\-]{0,20}[A-Za-z0-9]", fullmatch=True),
       st.dictionaries(KEYS.filter(lambda k: k != "comment"), PLAIN, min_size=1, max_size=5))
def test_v7_terse_comment_first_unquoted(index: int, flags: str, comment: str, props: dict[str, str]) -> None:
    if "=" in comment:
        return
    line = render_v7(index, flags, {"comment": comment, **props})
    items = parse_terse("12:00:01 echo: system,info log line\n" + line + "\n", "test")
    assert items[0].props == {"comment": comment, **props}


@given(st.text(max_size=300))
@settings(max_examples=300)
def test_routeros_parsers_raise_only_routerfix_errors(text: str) -> None:
    for call in (lambda: parse_terse(text, "t"), lambda: parse_address_ranges(text, "t"),
                 lambda: join_export_lines(text)):
        try:
            call()
        except RouterfixError:
            pass
    try:
        for item in parse_terse(text, "t"):
            forwards_from_rule(item)
    except RouterfixError:
        pass


@given(st.lists(st.from_regex(r"[a-z]{1,8}(=[a-z0-9]{0,30})?", fullmatch=True), max_size=8))
def test_export_wrapping_joins_back(words: list[str]) -> None:
    line = "add " + " ".join(words)
    assert join_export_lines("\n".join(_wrap(line)))[0] == " ".join(line.split())


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children,
                                                                                      max_size=4), max_leaves=20)


@given(JSON)
@settings(max_examples=300)
def test_nft_json_parser_raises_only_routerfix_errors(data: object) -> None:
    for payload in (data, {"nftables": data}, {"nftables": [{"rule": data}, {"chain": data}]}):
        try:
            parse_nft_json(json.dumps(payload))
        except RouterfixError:
            pass


@given(st.text(max_size=400))
@settings(max_examples=300)
def test_linux_text_parsers_never_fail(text: str) -> None:
    parse_hostsfile(text)
    parse_leases(text)
    parse_neighbours(text)
    parse_addresses(text)
    parse_conntrack(text)
    parse_dnsmasq_args(["dnsmasq", *text.split()])


def test_dnsmasq_args_forms() -> None:
    cfg = parse_dnsmasq_args(["dnsmasq", "-C", "/etc/x.conf", "--dhcp-leasefile", "/tmp/l",
                              "--dhcp-range=10.0.0.10,10.0.0.20,12h", "-7", "/etc/d,.bak",
                              "--dhcp-hostsfile=/etc/h"])
    assert cfg.conf_files == ["/etc/x.conf"] and cfg.conf_dirs == ["/etc/d"]
    assert cfg.leasefile == "/tmp/l" and cfg.hostsfiles == ["/etc/h"]
    assert cfg.ranges == [("10.0.0.10", "10.0.0.20", "")]
    assert parse_dnsmasq_args(["dnsmasq"]).conf_files == ["/etc/dnsmasq.conf"]


def test_routeros_pool_of_a_slash_8_costs_nothing_to_read() -> None:
    import time
    import tracemalloc

    tracemalloc.start()
    started = time.perf_counter()
    try:
        ranges = parse_address_ranges("10.0.0.0/8,192.168.88.10-192.168.88.254", "pool")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [str(r) for r in ranges] == ["10.0.0.1-10.255.255.254", "192.168.88.10-192.168.88.254"]
    assert len(ranges[0]) == 2**24 - 2
    assert peak < 1_000_000 and time.perf_counter() - started < 1.0   # listed: 1.48 GB peak, 127 s


@given(st.integers(0, 2**32 - 1), st.integers(20, 32))
@settings(max_examples=200)
def test_routeros_pool_networks_span_what_hosts_lists(address: int, prefix: int) -> None:
    import ipaddress

    net = ipaddress.IPv4Network((address, prefix), strict=False)
    hosts = list(net.hosts()) or [net.network_address]
    (pool,) = parse_address_ranges(str(net), "pool")
    assert (pool.first, pool.last) == (hosts[0], hosts[-1])
