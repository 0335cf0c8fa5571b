"""Exact commands each driver sends for the "office" starting state (recorded by the simulator)."""

from __future__ import annotations

import re
from typing import Any

import pytest

import routerfix

from .conftest import connect

_VYATTA_MARKER = [
    r"\head -c 8193 /config/routerfix/undo.json 2>/dev/null | \base64",  # the undo marker (vyos.md 38)
    # the undo marker, base64 in short lines, ahead of the candidate (vyos.md rows 35-39)
    r"\mkdir -p -m 2770 /config/routerfix",
    r"\printf %s eyJjb21wbGV0ZSI6dHJ1ZSwiZm9yd2FyZHMiOltdLCJuYXRfbW9kZSI6bnVsbCwicmVzZXJ2YXRpb25zIjpbXSwicm91"
    "dGVyZml4X3VuZG9fbWFya2VyIjoxLCJzaXBfYWxnIjp7InNldCI6ZmFsc2UsIndhcyI6dHJ1ZX19 > "
    "/config/routerfix/undo.json.b64",
    r"\base64 -d /config/routerfix/undo.json.b64 > /config/routerfix/undo.json.tmp && "
    r'\test "$(\wc -c < /config/routerfix/undo.json.tmp)" -eq 126 && '  # the size, before the rename
    r"\chmod 660 /config/routerfix/undo.json.tmp && "
    r"\mv -f /config/routerfix/undo.json.tmp /config/routerfix/undo.json; \echo routerfix-marker $?; "
    r"\rm -f /config/routerfix/undo.json.b64 /config/routerfix/undo.json.tmp",
]
"""VyOS and EdgeOS alike: the undo marker's read (in the first read batch) and its write, ahead of the candidate."""

EXPECTED: dict[str, list[str]] = {
    "cisco_ios": [
        "terminal length 0",  # typed ahead of the session's first exchange, not at login
        "terminal width 511",
        "show version",
        "show running-config",
        "show ip dhcp binding",
        "show ip arp",
        "show startup-config",
        "ping 192.168.1.199 repeat 2 timeout 1",
        "ping 192.168.1.198 repeat 2 timeout 1",
        "configure terminal revert timer 10",
        "ip access-list standard routerfix-undo",  # the undo marker first (F40-F43), its remarks typed together
        "remark 1/3/168 eyJjb21wbGV0ZSI6dHJ1ZSwiZm9yd2FyZHMiOltdLCJuYXRfbW9kZSI6bnVsbCwicmVzZXJ2YXRpb25z",
        "remark 2/3/168 IjpbXSwicm91dGVyZml4X3VuZG9fbWFya2VyIjoxLCJzaXBfYWxnIjp7InNldCI6ZmFsc2UsIndhcyI6",
        "remark 3/3/168 dHJ1ZX19",
        "exit",
        "ip access-list standard routerfix-sip",
        "remark routerfix-sip-tcp-5060 tcp 192.168.1.198 5060 GigabitEthernet0/0 5060",
        "remark routerfix-sip-tcp-5061 tcp 192.168.1.198 5061 GigabitEthernet0/0 5061",
        "remark routerfix-sip-udp-5060 udp 192.168.1.198 5060 GigabitEthernet0/0 5060",
        "remark routerfix-sip-udp-5061 udp 192.168.1.198 5061 GigabitEthernet0/0 5061",
        "exit",
        "ip nat inside source static tcp 192.168.1.198 5060 interface GigabitEthernet0/0 5060",
        "ip nat inside source static tcp 192.168.1.198 5061 interface GigabitEthernet0/0 5061",
        "ip nat inside source static udp 192.168.1.198 5060 interface GigabitEthernet0/0 5060",
        "ip nat inside source static udp 192.168.1.198 5061 interface GigabitEthernet0/0 5061",
        "no ip nat service sip udp port 5060",
        "no ip nat service sip tcp port 5060",
        "ip dhcp pool routerfix-sink",
        "host 192.168.1.198 255.255.255.0",
        "hardware-address 0200.5ec0.5060",
        "end",  # the pool's "exit" is not sent: "end" leaves every configuration mode
        "show running-config",
        "configure confirm",
        "write memory",
    ],
    "vyos": [
        "show version",
        "show configuration commands",
        "show dhcp server leases",
        "show arp",
        *_VYATTA_MARKER,
        "configure",
        "set nat destination rule 1 description 'routerfix-sip'",
        "set nat destination rule 1 destination port '5060-5061'",
        "set nat destination rule 1 inbound-interface name 'eth0'",
        "set nat destination rule 1 protocol 'tcp_udp'",
        "set nat destination rule 1 translation address '192.168.1.199'",
        "set nat destination rule 1 translation port '5060-5061'",
        "set service dhcp-server shared-network-name LAN subnet 192.168.1.0/24 static-mapping routerfix-sink "
        "ip-address '192.168.1.199'",
        "set service dhcp-server shared-network-name LAN subnet 192.168.1.0/24 static-mapping routerfix-sink "
        "mac-address '02:00:5e:c0:50:60'",  # the simulator is 1.4 sagitta
        "delete system conntrack modules sip",
        "commit-confirm 10",
        "y",  # the answer to "Proceed ?"
        "exit",
        "show configuration commands",
        "configure",
        "confirm",
        "save",
        "exit",
        "show interfaces",
        "sudo conntrack -D -p udp --orig-dst 203.0.113.7 --dport 5060",
        "sudo conntrack -D -p tcp --orig-dst 203.0.113.7 --dport 5060",
        "sudo conntrack -D -p udp --orig-dst 203.0.113.7 --dport 5061",
        "sudo conntrack -D -p tcp --orig-dst 203.0.113.7 --dport 5061",
    ],
    "edgeos": [
        "show version",
        "show configuration commands",
        "show dhcp leases",
        "show arp",
        *_VYATTA_MARKER,
        "configure",
        "set service nat rule 1 description 'routerfix-sip'",
        "set service nat rule 1 destination port 5060-5061",
        "set service nat rule 1 inbound-interface eth0",
        "set service nat rule 1 inside-address address 192.168.1.243",
        "set service nat rule 1 inside-address port 5060-5061",
        "set service nat rule 1 log disable",
        "set service nat rule 1 protocol tcp_udp",
        "set service nat rule 1 type destination",
        "set service dhcp-server shared-network-name LAN subnet 192.168.1.0/24 static-mapping routerfix-sink "
        "ip-address 192.168.1.243",
        "set service dhcp-server shared-network-name LAN subnet 192.168.1.0/24 static-mapping routerfix-sink "
        "mac-address 02:00:5e:c0:50:60",
        "set system conntrack modules sip disable",
        "commit-confirm 10",
        "y",  # the answer to "Proceed ?"
        "exit",
        "show configuration commands",
        "configure",
        "confirm",
        "save",
        "exit",
        "show interfaces",
        "sudo conntrack -D -p udp --orig-dst 203.0.113.9 --dport 5060",
        "sudo conntrack -D -p tcp --orig-dst 203.0.113.9 --dport 5060",
        "sudo conntrack -D -p udp --orig-dst 203.0.113.9 --dport 5061",
        "sudo conntrack -D -p tcp --orig-dst 203.0.113.9 --dport 5061",
    ],
    "openwrt": [
        "uci -X show network; echo RFX-0 $?; uci -X show dhcp; echo RFX-1 $?; uci -X show firewall; echo "
        "RFX-2 $?; uci changes firewall; echo RFX-3 $?; uci changes dhcp; echo RFX-4 $?; cat /tmp/dhcp.leases; "
        "echo RFX-5 $?; ip neigh show; echo RFX-6 $?; grep nf_conntrack_sip /proc/modules; echo RFX-7 $?; "
        "ifstatus wan; echo RFX-8 $?; head -c 8193 /etc/routerfix/undo.json 2>/dev/null; echo; "
        "echo RFX-9 $?",
        "ping -c 1 -W 1 192.168.1.249",
        "ping -c 1 -W 1 192.168.1.248",
        # the backup, and in the same round trip what the write hooks check (was a read per hook); the changes
        # themselves go as one chain (one commit per package, one firewall reload)
        "uci export firewall; echo RFX-0 $?; uci export dhcp; echo RFX-1 $?; uci -X show network; echo RFX-2 $?; "
        "uci -X show dhcp; echo RFX-3 $?; uci -X show firewall; echo RFX-4 $?; uci changes firewall; echo RFX-5 $?; "
        "uci changes dhcp; echo RFX-6 $?",
        # the self-revert job first (docs/facts/openwrt.md rows 34-37), then the change
        "mkdir -p /tmp/routerfix-keep && cp /etc/config/firewall /etc/config/dhcp /tmp/routerfix-keep/ && "
        "start-stop-daemon -S -b -m -p /tmp/routerfix-keep/revert.pid -x /bin/sh -- -c 'sleep 600 && cp "
        "/tmp/routerfix-keep/firewall /tmp/routerfix-keep/dhcp /etc/config/ && /etc/init.d/firewall reload; "
        "/etc/init.d/dnsmasq reload' && "
        # the undo marker (rows 38, 39, 43, 44): what this run changes, as it was, before any of it
        "mkdir -p /etc/routerfix && printf '%s' '{\"complete\":true,\"forwards\":[],\"nat_mode\":null,"
        "\"reservations\":[],\"routerfix_undo_marker\":1,\"sip_alg\":{\"set\":false,\"was\":true}}' "
        ">/etc/routerfix/undo.json.tmp && chmod 600 /etc/routerfix/undo.json.tmp && mv -f /etc/routerfix/undo.json.tmp "
        "/etc/routerfix/undo.json && "
        "printf '%s\\n' /etc/routerfix/ /lib/upgrade/keep.d/routerfix >/lib/upgrade/keep.d/routerfix && "
        "uci set firewall.routerfix_sip=redirect && uci set firewall.routerfix_sip.name='routerfix-sip' && "
        "uci set firewall.routerfix_sip.target='DNAT' && uci set firewall.routerfix_sip.src='wan' && uci set "
        "firewall.routerfix_sip.dest='lan' && uci set firewall.routerfix_sip.proto='tcp udp' && uci set "
        "firewall.routerfix_sip.src_dport='5060-5061' && uci set "
        "firewall.routerfix_sip.dest_ip='192.168.1.248' && uci set "
        "firewall.routerfix_sip.dest_port='5060-5061' && uci reorder firewall.routerfix_sip=0 && "
        "uci set dhcp.routerfix_sink=host && uci set dhcp.routerfix_sink.name='routerfix-sink' && uci set "
        "dhcp.routerfix_sink.mac='02:00:5e:c0:50:60' && uci set dhcp.routerfix_sink.ip='192.168.1.248' && "
        "uci set firewall.cfg01027e.auto_helper='0' && uci commit dhcp && uci commit firewall && "
        "/etc/init.d/firewall reload && /etc/init.d/dnsmasq reload && echo ROUTERFIX-DONE",
        "uci -X show network; echo RFX-0 $?; uci -X show dhcp; echo RFX-1 $?; uci -X show firewall; echo "
        "RFX-2 $?; uci changes firewall; echo RFX-3 $?; uci changes dhcp; echo RFX-4 $?; cat /tmp/dhcp.leases; "
        "echo RFX-5 $?; ip neigh show; echo RFX-6 $?; grep nf_conntrack_sip /proc/modules; echo RFX-7 $?; "
        "ifstatus wan; echo RFX-8 $?; head -c 8193 /etc/routerfix/undo.json 2>/dev/null; echo; "
        "echo RFX-9 $?",
        "start-stop-daemon -K -p /tmp/routerfix-keep/revert.pid; rm -f /tmp/routerfix-keep/revert.pid",
        # the flush uses the WAN address the verification read
        "conntrack -D -p udp --orig-dst 203.0.113.11 --dport 5060; echo RFX-0 $?; conntrack -D -p tcp "
        "--orig-dst 203.0.113.11 --dport 5060; echo RFX-1 $?; conntrack -D -p udp --orig-dst 203.0.113.11 "
        "--dport 5061; echo RFX-2 $?; conntrack -D -p tcp --orig-dst 203.0.113.11 --dport 5061; echo RFX-3 $?",
    ],
}

ROUND_TRIPS: dict[str, int] = {
    # the terminal settings and the reads as one typed-ahead block, 2 pings, then every change of the run in one
    # configuration block: "configure terminal revert timer" and its lines one per round trip (nothing typed
    # ahead of a line's answer) except that an ACL's "exit" goes with the line after it, the pool's is not
    # sent, and the remarks of an ACL go together (the labels' four were four round trips: 14 → 11),
    # "end" + "show running-config" typed ahead, then "configure confirm" and one "write memory" once the
    # read-back matches; the undo marker first: its ACL line, then its remarks typed together (its "exit" goes
    # with the next line)
    "cisco_ios": 1 + 2 + (1 + 2 + 11) + 1 + 1 + 1,
    # the reads as one block, then every action in one candidate: "configure" + the set/delete lines as one
    # block, "commit-confirm 10" and its "y", "exit" + "show configuration commands" as one block; once verified
    # "configure" + "confirm", then "save" + "exit"; then "show interfaces" and the four conntrack deletions
    # (was 1 + 3 * 3 + 1 + 1 = 12: a commit and a save per action)
    "vyos": 1 + (1 + 2 + 1) + (1 + 1) + 1 + 1,
    "edgeos": 1 + (1 + 2 + 1) + (1 + 1) + 1 + 1,
}
"""Round trips of the platforms that type lines ahead (the others: one per line sent)."""


@pytest.mark.parametrize("platform", sorted(EXPECTED))
def test_exact_commands_of_a_mitigation(platform: str, sim: Any) -> None:
    with sim(platform) as device, connect(device) as driver:
        device.handle.device.clear_records()
        result = routerfix.apply_ghostcall_mitigation(driver)
        assert result.status == "mitigated"
        sent = [re.sub(r"RFX[0-9a-f]{10}", "RFX", c) for c in device.handle.device.commands]
        assert sent == EXPECTED[platform]
        # OpenWrt: the facts batch; VyOS/EdgeOS: paging and width; IOS: none (typed ahead of the first read)
        before_apply = {"openwrt": 1, "cisco_ios": 0}.get(platform, 2)
        assert driver.round_trips == ROUND_TRIPS.get(platform, len(sent)) + before_apply


@pytest.mark.parametrize("platform", sorted(EXPECTED))
def test_rerun_sends_only_reads(platform: str, sim: Any) -> None:
    with sim(platform) as device:
        with connect(device) as driver:
            routerfix.apply_ghostcall_mitigation(driver)
        with connect(device) as driver:
            device.handle.device.clear_records()
            assert routerfix.apply_ghostcall_mitigation(driver).status == "unchanged"
        writes = re.compile(r"^(configure|set |delete |commit|save|write|ip |no |uci (set|delete|commit|add)|"
                            r"remark|hardware-address|host )")
        assert not [c for c in device.handle.device.commands if writes.match(c)]
