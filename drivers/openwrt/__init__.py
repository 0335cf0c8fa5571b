"""OpenWrt 22.03+ (fw4/nftables, UCI) over SSH as root (netmiko ``linux``).

Port forwards are UCI redirects ``firewall.routerfix_sip`` (``name='routerfix-sip'``, ``target='DNAT'``,
``src='wan'``, ``proto='tcp udp'``, ``src_dport='5060-5061'``, ``dest_ip=<sink>``), a named section moved to the
top so it is found again and evaluated first; ``uci commit firewall`` and ``/etc/init.d/firewall reload`` follow in
the same ``&&`` chain, so nothing is committed after a refusal. The DHCP range comes from ``dhcp.lan.start`` and
``limit`` (offsets from ``network.lan``); leases from ``/tmp/dhcp.leases``; neighbours from ``ip neigh``; the sink
is reserved with a named ``dhcp.routerfix_sink`` host section; SIP ALG off is fw4 ``auto_helper='0'``; inbound
conntrack entries to the WAN address are deleted with ``conntrack -D`` where the tool is installed. The undo marker
(``Feature.UNDO_MARKER``) is ``/etc/routerfix/undo.json`` on the flash overlay, written 0600 through a temporary file
and ``mv`` in the run's chain, kept by a settings-keeping sysupgrade through ``/lib/upgrade/keep.d/routerfix``
(docs/facts/openwrt.md rows 38, 39, 43, 44).
"""

from __future__ import annotations

from .driver import OpenWrtDriver

__all__ = ["OpenWrtDriver"]
