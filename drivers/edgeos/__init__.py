"""Ubiquiti EdgeRouter (EdgeOS) over SSH (netmiko ``ubiquiti_edgerouter``).

Port forwards are raw destination NAT rules ``service nat rule N`` (``type destination``, ``inbound-interface
<wan>``, ``protocol tcp_udp``, ``destination port 5060-5061``, ``inside-address address <sink>``, ``description
routerfix-sip``), numbered with the lowest free number (below the 5000+ source-NAT block) so they come first;
the customer's port-forward wizard rules are read too. The DHCP scope is ``subnet S start A stop B``; the sink
is reserved with ``static-mapping routerfix-sink``; SIP ALG off is ``system conntrack modules sip disable``;
inbound conntrack entries are deleted with ``sudo conntrack -D``. Every change is committed and saved before
leaving configuration mode. The undo marker is ``/config/routerfix/undo.json`` (kept across reboots and
firmware upgrades; the login must be in the ``vyattacfg`` group). A dialect over the Vyatta engine
:mod:`routerfix.drivers._vyatta`; facts in docs/facts/edgeos.md.
"""

from __future__ import annotations

from .driver import EdgeOsDriver

__all__ = ["EdgeOsDriver"]
