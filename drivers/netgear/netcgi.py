"""The net-cgi GUI family (Qualcomm: R7500, R7800, R9000, XR, Orbi): forms post to ``/apply.cgi?/PAGE timestamp=…``.

Facts: docs/facts/netgear.md rows 31-49. Traps: the WAN handler reads the hidden ``*_value`` fields that the page
script fills from its variables (posting them empty switches settings off; the DMZ address is only the variable
``dmzIpAddr`` inside ``loadvalue()``); a refused (stale timestamp) POST is answered like a success, so every write is
read back; rules are ``forwardingArray1`` … ``forwardingArray<forward_array_num>``.
"""

from __future__ import annotations

from typing import ClassVar

from routerfix.errors import ParseError
from routerfix.model import DhcpScope, NatMode, Neighbour, PortForward, Protocol
from routerfix.transport.http import Page

from .driver import NO_RESERVATION, PROTO_VALUE, FamilyName, Gone, NetgearFamily, WanState
from .parsers import parse_netcgi_devices, parse_netcgi_entries, scope_from

__all__ = ["NETCGI_MODELS", "NetCgiFamily"]

NETCGI_MODELS = frozenset({"R7500", "R7500V2", "R7800", "R9000", "XR450", "XR500", "XR700", "BR500", "RBR20",
                           "RBR40", "RBR50", "RBR750", "RBR850", "RBK50"})
"""Models with the Qualcomm net-cgi GUI (Orbi routers included)."""

_WAN_FIELDS = ("NatInboundFiltering", "spi_value", "sipalg_value", "dmz_value", "rspToPing_value", "dmz_ip",
               "wan_mtu", "submit_flag")
_WAN_VARS = ("nat_fitering", "endis_sipalg", "spiEnable", "dmz_value", "rspToPing_value", "endis_igmp", "dmzIpAddr")
"""Page variables the WAN POST is rebuilt from: without one, posting would switch a setting off."""
_KEEP = (("bt_igmp_value", "endis_bt_igmp"),
         *((f"hid_bri_lan{i}", f"bri_lan_tag{i}") for i in range(1, 5)),
         *((f"hid_brig_ssid{i}", f"brig_ssid_tag{i}") for i in range(1, 3)),
         *((f"hid_brig_guest_ssid{i}", f"brig_guest_ssid_tag{i}") for i in range(1, 3)))
"""WAN hidden fields the page script sets from a page variable ("0"/"1") before posting: posted as they are."""
_ADD_FIELDS = ("portname", "srvtype", "exter_port", "server_ip1", "server_ip4", "serflag", "service_ip",
               "hidden_portname", "hidden_port_range", "hidden_port_int_start", "hidden_port_int_end", "port_start",
               "port_end", "submit_flag", "same_range")


class NetCgiFamily(NetgearFamily):
    """net-cgi: ``apply.cgi`` with ``submit_flag`` ``wan``, ``forwarding_add_range``, ``forwarding_del_range``."""

    name: ClassVar[FamilyName] = FamilyName.NETCGI
    models: ClassVar[frozenset[str]] = NETCGI_MODELS
    max_forwards: ClassVar[int] = 64
    notes: ClassVar[tuple[str, ...]] = ("net-cgi GUI: refused writes look like successes, so every write is read back",
                                        "64 port-forwarding rules", NO_RESERVATION)
    devices_page: ClassVar[str] = "/DEV_show_device.htm"
    list_page = "/forwarding.htm"
    add_page: ClassVar[str] = "/forwarding_add.htm"

    # --- session pages -----------------------------------------------------------------------------------

    def is_other_admin(self, page: Page) -> bool:
        return "multi_login.html" in page.text and "top.location" in page.text

    def take_over(self, page: Page) -> None:
        """``change_user.html`` takes the session over (a GET)."""
        self.driver.http.get("/change_user.html", page="change_user.html", check=False)

    # --- reads ---------------------------------------------------------------------------------------------

    def wan_state(self, page: Page) -> WanState:
        page.form().require(*_WAN_FIELDS)
        values = page.vars()
        for var in _WAN_VARS:
            if values.get(var) is None:
                raise ParseError(page.name, f"JS variable {var} is missing: posting without it would switch "
                                            f"settings off")
        return WanState(NatMode.SECURE if values["nat_fitering"] == "0" else NatMode.OPEN,
                        values["endis_sipalg"] != "1")

    def forwards(self) -> tuple[PortForward, ...]:
        page = self.driver.fetch(self.list_page, "forwarding.htm")
        return tuple(PortForward(e.name, e.protocol, e.external, e.ip, e.internal, ref=f"{e.first}:{e.count}")
                     for e in parse_netcgi_entries(page))

    def scope(self, page: Page) -> DhcpScope:
        values = page.vars()
        keys = ("old_lanip", "old_lanmask", "dhcp_start", "dhcp_end")
        if any(not values.get(k) for k in keys):
            raise ParseError(page.name, "the LAN page lacks old_lanip/old_lanmask/dhcp_start/dhcp_end")
        return scope_from(values[keys[0]], values[keys[1]], values[keys[2]], values[keys[3]], page.name)

    def neighbours(self, page: Page) -> list[Neighbour]:
        return parse_netcgi_devices(page)

    # --- writes ----------------------------------------------------------------------------------------

    def post_wan(self, page: Page, nat: NatMode, sip_alg: bool) -> Page:
        """Every hidden value set as the page script would from the page's variables (``wan.js`` ``checkwan``);
        refused when DMZ is on and the page shows no address (the post would blank the DMZ server)."""
        form = page.form()
        values = page.vars()
        mtu = page.token(r"wan_mtu\.value\s*=\s*'(\d{3,4})'")
        dmz_on = values["dmz_value"] == "1"
        dmz_ip = values["dmzIpAddr"]  # local to loadvalue(); the page has no other copy of the address
        quad = dmz_ip.split(".")
        if dmz_on and (len(quad) != 4 or not all(q.isdigit() and int(q) <= 255 for q in quad)):
            raise ParseError(page.name, "DMZ is on but the page shows no DMZ address (dmzIpAddr): posting "
                                        "would blank the DMZ server")
        spi_on, ping_on = values["spiEnable"] == "1", values["rspToPing_value"] == "1"
        changes: dict[str, str | None] = {
            "NatInboundFiltering": "Secured" if nat is NatMode.SECURE else "Open", "wan_mtu": mtu,
            "spi_value": "1" if spi_on else "0",
            "disable_spi": None if spi_on else form.field("disable_spi").value,
            "dmz_value": "1" if dmz_on else "0", "dmz_ip": dmz_ip,
            "dmz_enable": form.field("dmz_enable").value if dmz_on else None,
            "rspToPing_value": "1" if ping_on else "0",
            "rspToPing": form.field("rspToPing").value if ping_on else None,
            "sipalg_value": "0" if sip_alg else "1",
            "disable_sipalg": None if sip_alg else form.field("disable_sipalg").value,
            "igmp_value": "1" if values["endis_igmp"] == "1" else "0",
        }
        if dmz_on:
            changes.update({f"dmzip{i}": q for i, q in enumerate(quad, 1)})
        for field, var in _KEEP:
            if form.has(field) and values.get(var) in ("0", "1"):
                changes[field] = values[var]
        if all(values.get(f"bri_lan_tag{i}") in ("0", "1") for i in range(1, 5)) and form.has("hid_iptv_mask"):
            changes["hid_iptv_mask"] = str(sum(int(values[f"bri_lan_tag{i}"]) << (i - 1) for i in range(1, 5)))
        return self.driver.submit(form.action, form.build(changes), "WAN setup (apply.cgi wan)",
                                  changes=(self.wan_page,))

    def post_add(self, forward: PortForward) -> Page:
        """The add form filled as ``forwarding.js`` ``check_forwarding_add_range`` fills it."""
        page = self.driver.fetch(self.add_page, self.add_page.lstrip("/"), cache=False)
        form = page.form()
        form.require(*_ADD_FIELDS)
        proto = PROTO_VALUE[forward.protocol]
        if proto not in form.field("srvtype").options:
            raise ParseError(page.name, f"the protocol list lacks {proto}")
        ext, internal = forward.external_ports, forward.internal_ports
        assert internal is not None
        same = internal == ext
        serflag = "1" if Protocol.TCP in forward.protocol.members() and 1720 in ext else "0"
        quad = str(forward.internal_address).split(".")
        changes: dict[str, str | None] = {
            "portname": forward.name.replace("&", "&#38;").replace(" ", "&harr;"), "srvtype": proto,
            "exter_port": str(ext), "same_range": form.field("same_range").value if same else None,
            "internal_port": None if same else str(internal),
            "serflag": serflag, "service_ip": str(forward.internal_address),
            "hidden_port_range": "1" if same else "0",
            "port_start": f"{ext.start},", "port_end": f"{ext.end},",
            "hidden_port_int_start": f"{internal.start},",
            "hidden_port_int_end": f"{internal.start + len(ext) - 1},",
            **{f"server_ip{i}": q for i, q in enumerate(quad, 1)},
        }
        return self.driver.submit(form.action, form.build(changes), "apply.cgi (forwarding_add_range)",
                                  changes=(self.list_page,))

    def post_remove(self, forward: PortForward) -> Page:
        """``select_del``/``select_del_num``: the 1-based first entry of the rule and its entries."""
        page = self.driver.fetch(self.list_page, "forwarding.htm", cache=False)
        entries = [e for e in parse_netcgi_entries(page) if e.name == forward.name and e.ip == forward.internal_address
                   and e.external == forward.external_ports and e.protocol is forward.protocol]
        if not entries:
            raise Gone()
        form = page.form()
        form.require("submit_flag", "select_del", "select_del_num")
        body = form.build({"submit_flag": "forwarding_del_range", "select_del": str(entries[0].first),
                           "select_del_num": str(entries[0].count)})
        return self.driver.submit(form.action, body, "apply.cgi (forwarding_del_range)", changes=(self.list_page,))
