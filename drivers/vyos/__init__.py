"""VyOS 1.3/1.4/1.5 over SSH (netmiko ``vyos``).

Port forwards are ``nat destination rule N`` with ``description 'routerfix-sip'``, ``inbound-interface name
<wan>``, ``protocol 'tcp_udp'``, ``destination port '5060-5061'`` and ``translation address <sink>`` (one rule: VyOS
takes both protocols and a range), numbered with the lowest free rule number so it is evaluated first. The DHCP
scope is the LAN subnet's ``range`` start/stop; the sink is reserved with ``static-mapping routerfix-sink``; SIP ALG
off is ``delete system conntrack modules sip``; inbound conntrack entries to the WAN address on 5060/5061 are
deleted with ``sudo conntrack -D``. Every change is committed and saved before leaving configuration mode. The
undo marker is ``/config/routerfix/undo.json`` (kept across reboots and image upgrades; the login must be in the
``vyattacfg`` group). A dialect over the Vyatta engine :mod:`routerfix.drivers._vyatta`; the nodes that differ
between releases are chosen by ``show version`` (:mod:`.syntax`). Facts in docs/facts/vyos.md.
"""

from __future__ import annotations

from .driver import VyosDriver

__all__ = ["VyosDriver"]
