"""Cisco IOS / IOS-XE over SSH (netmiko ``cisco_ios``).

Port forwards are ``ip nat inside source static {tcp|udp} <sink> <port> interface <wan> <port>`` lines, one per
protocol and port (IOS static NAT has no ranges). IOS cannot name such a line, so every line routerfix writes is
recorded as a remark of the named ACL ``routerfix-sip`` (applied nowhere, so it changes no traffic); a line is
routerfix's only when a remark names exactly its content, never the customer's own. The DHCP scope is the LAN
pool's network minus ``ip dhcp excluded-address`` ranges; the sink is reserved with a manual-binding pool
``ip dhcp pool routerfix-sink``; SIP ALG is ``no ip nat service sip udp|tcp port 5060``. Every change of a run
goes in one configuration block, one line at a time (a refused line stops it; the undo marker's remarks go
together), and ``write memory`` runs once, after the read-back matches the plan: never after a rollback (the
engine's verification, see ``CiscoIosDriver.verify_state``; a caller using the write verbs directly saves
nothing). NAT filtering and connection-tracking flush are not offered (see the capability notes). The undo marker
(``Feature.UNDO_MARKER``) is kept in the configuration, not in a file: numbered base64 remarks of the ACL
``routerfix-undo`` (applied nowhere), first in the block, saved by the same ``write memory`` and rolled back with
the change by the revert timer (a flash file written from ``tclsh`` would outlive a rollback; see the facts).
Device facts: ``docs/facts/cisco_ios.md``.
"""

from __future__ import annotations

from .driver import CiscoIosDriver

__all__ = ["CiscoIosDriver"]
