"""The ACOS GUI family (Broadcom httpd: R6250 … R8500): forms post to ``<cgi>?id=<token>``.

Facts: docs/facts/netgear.md rows 12-30. Traps: the WAN page's state is only in script variables and an unticked
checkbox means SPI/SIP ALG/IGMP **on**; the port-forward handler reads the hidden ``newType``/``newIP``; tokens are
single-use and every page with a form issues a new one; the rule list has no protocol column; a second admin gets a
page whose script goes to ``MNU_access_multiLogin2.htm``.
"""

from __future__ import annotations

from typing import ClassVar

from routerfix.errors import DeviceError, ParseError
from routerfix.model import DhcpScope, NatMode, Neighbour, PortForward, Protocol
from routerfix.transport.http import Page

from .driver import PROTO_VALUE, SIP_PORTS, FamilyName, Gone, NetgearDriver, NetgearFamily, WanState
from .parsers import acos_token, parse_acos_devices, parse_acos_rows, parse_acos_service_type, scope_from

__all__ = ["ACOS_MODELS", "AcosFamily"]

ACOS_MODELS = frozenset({"R6250", "R6300V2", "R6400", "R6400V2", "R6700", "R6700V3", "R6900", "R6900P", "R7000",
                         "R7000P", "R7900", "R7900P", "R8000", "R8000P", "R8500", "R7850", "R7960P", "R8300"})
"""Models with the Broadcom ACOS httpd."""

_WAN_FIELDS = ("NatInboundFiltering", "nat_inbound_filtering", "disable_sip", "wan_mtu", "apply")
_WAN_VARS = ("spiEnable", "dmzEnable", "resp2ping", "sipenable", "gproxy_enable")
"""Script variables (each "0"/"1") that hold the state the WAN form's checkboxes must be rebuilt from."""
_SERVICE_FIELDS = ("portname", "srvtype", "port_start", "port_end", "same_range", "internal_port_start",
                   "server_ip1", "server_ip2", "server_ip3", "server_ip4", "action", "newType", "newIP",
                   "entryData", "apply")
_MULTI_LOGIN_PAGE = "/MNU_access_multiLogin2.htm"


class AcosFamily(NetgearFamily):
    """ACOS: ``security.cgi`` (WAN), ``pforward.cgi`` (port forwarding), ``lan.cgi``, ``devices.cgi``."""

    name: ClassVar[FamilyName] = FamilyName.ACOS
    models: ClassVar[frozenset[str]] = ACOS_MODELS
    max_forwards: ClassVar[int] = 20
    notes: ClassVar[tuple[str, ...]] = (
        "ACOS GUI: the rule list has no protocol column; the protocol is read from the edit form for rules on "
        "5060-5061 and reported as tcp/udp for the others",
        "20 port-forwarding rules (firmware V1.0.1.22; newer firmware assumed the same)",
        "no DHCP reservation and no ping tool are driven: the sink is taken from the top of the pool")
    devices_page: ClassVar[str] = "/DEV_device.htm"

    def __init__(self, driver: NetgearDriver, firmware: str) -> None:
        super().__init__(driver, firmware)
        self.token: str | None = None
        self.list_page = "/FW_forward2.htm" if firmware.upper().startswith("V1.0.1.") else "/FW_forward3.htm"

    # --- tokens and session pages -----------------------------------------------------------------------

    def note(self, page: Page, *, posted: bool = False) -> None:
        """Every page with a POST form issues a token; every POST uses the held one up."""
        token = acos_token(page.text)
        if token is not None:
            self.token = token
        elif posted:
            self.token = None

    def forget(self) -> None:
        self.token = None

    def cgi(self, cgi: str) -> str:
        """``/cgi?id=<current token>``, fetching a page with a form first when no token is held."""
        if self.token is None:
            self.driver.fetch(self.wan_page, "WAN_wan.htm", cache=False)
        if self.token is None:
            raise ParseError("WAN_wan.htm", "no form token in the page")
        return f"/{cgi}?id={self.token}"

    def is_other_admin(self, page: Page) -> bool:
        return "MNU_access_multiLogin2.htm" in page.text or "multi_login.cgi" in page.text

    def take_over(self, page: Page) -> None:
        """Post the multi-login form with ``act=yes`` (fetching its page first when ``page`` only redirects)."""
        http = self.driver.http
        if "multi_login.cgi" not in page.text:
            page = http.get(_MULTI_LOGIN_PAGE, page=_MULTI_LOGIN_PAGE.lstrip("/"), check=False)
        form = page.form(action="multi_login.cgi")
        form.require("act")
        answer = http.post(form.action, form.build({"act": "yes"}), page="multi-login (multi_login.cgi)")
        self.note(answer, posted=True)

    # --- reads ---------------------------------------------------------------------------------------------

    def wan_state(self, page: Page) -> WanState:
        form = page.form("frmRules")
        form.require(*_WAN_FIELDS)
        values = page.vars()
        for var in _WAN_VARS:
            if values.get(var) not in ("0", "1"):
                raise ParseError(page.name, f"JS variable {var} is missing or not 0/1")
        secured = form.hidden().get("nat_inbound_filtering")
        if secured not in ("0", "1"):
            raise ParseError(page.name, "hidden nat_inbound_filtering is not 0/1")
        return WanState(NatMode.SECURE if secured == "1" else NatMode.OPEN, values["sipenable"] == "1")

    def listing(self) -> Page:
        """The list page (``FW_forward2.htm`` or ``FW_forward3.htm``; the other name once on a 404)."""
        try:
            return self.driver.fetch(self.list_page, self.list_page.lstrip("/"))
        except DeviceError as exc:
            if "404" not in str(exc):
                raise
            self.list_page = "/FW_forward3.htm" if self.list_page.endswith("2.htm") else "/FW_forward2.htm"
            return self.driver.fetch(self.list_page, self.list_page.lstrip("/"))

    def forwards(self) -> tuple[PortForward, ...]:
        """The list has no protocol column: rules on 5060-5061 get theirs from the edit form."""
        page = self.listing()
        rows = parse_acos_rows(page)
        form = page.form("formname")
        out = []
        for row in rows:
            protocol = Protocol.BOTH
            if row.external.overlaps(SIP_PORTS):
                body = form.build({"action": "edit", "selectEntry": str(row.index), "RouteSelect": str(row.index)},
                                  button=("Edit", "Edit Service"))
                answer = self.driver.http.post(self.cgi("pforward.cgi"), body, page="pforward.cgi (edit)")
                self.note(answer, posted=True)
                protocol = parse_acos_service_type(answer)
            out.append(PortForward(row.name, protocol, row.external, row.ip, row.internal, ref=str(row.index)))
        return tuple(out)

    def scope(self, page: Page) -> DhcpScope:
        hidden = page.form("frmLan").hidden()
        keys = ("lan_ipaddr", "lan_netmask", "dhcp_start", "dhcp_end")
        if any(not hidden.get(k) for k in keys):
            raise ParseError(page.name, "the LAN form lacks lan_ipaddr/lan_netmask/dhcp_start/dhcp_end")
        return scope_from(hidden[keys[0]], hidden[keys[1]], hidden[keys[2]], hidden[keys[3]], page.name)

    def neighbours(self, page: Page) -> list[Neighbour]:
        return parse_acos_devices(page)

    # --- writes ----------------------------------------------------------------------------------------

    def post_wan(self, page: Page, nat: NatMode, sip_alg: bool) -> Page:
        """Every checkbox rebuilt from the page's variables (an unticked one means SPI/SIP ALG/IGMP on)."""
        form = page.form("frmRules")
        hidden = form.hidden()
        values = page.vars()
        dmz_on = values["dmzEnable"] == "1"
        changes: dict[str, str | None] = {
            "NatInboundFiltering": "Secured" if nat is NatMode.SECURE else "Open",
            "wan_mtu": hidden.get("nvram_mtu") or hidden.get("wan_way") or "",
            "disable_spi": None if values["spiEnable"] == "1" else "disable_spi",
            "dmz_enable": "dmz_enable" if dmz_on else None,
            "rspToPing": "rspToPing" if values["resp2ping"] == "1" else None,
            "disable_gproxy": None if values["gproxy_enable"] == "1" else "disable_gproxy",
            "disable_sip": None if sip_alg else "disable_sip",
        }
        if dmz_on:
            parts = hidden.get("dmz_ip", "").split(".")
            if len(parts) != 4:
                raise ParseError(page.name, "DMZ is on but dmz_ip is not an address")
            changes.update({f"dmzip{i}": p for i, p in enumerate(parts, 1)})
        if not changes["wan_mtu"]:
            raise ParseError(page.name, "no MTU in the page (nvram_mtu/wan_way)")
        body = form.build(changes, button=("apply", "Apply"))
        return self.driver.submit(self.cgi("security.cgi"), body, "WAN setup (security.cgi)",
                                  changes=(self.wan_page,))

    def post_add(self, forward: PortForward) -> Page:
        """``action=custom`` for the service form, then ``add_apply`` with the hidden ``newType``/``newIP``."""
        listing = self.listing()
        body = listing.form("formname").build({"action": "custom", "serv_type": "pf"},
                                              button=("Add", "Add Custom Service"))
        svc = self.driver.submit(self.cgi("pforward.cgi"), body, "pforward.cgi (custom service form)",
                                 changes=(self.list_page,))
        form = svc.form("formname")
        form.require(*_SERVICE_FIELDS)
        proto = PROTO_VALUE[forward.protocol]
        if proto not in form.field("srvtype").options:
            raise ParseError(svc.name, f"the protocol list lacks {proto}")
        ext, internal = forward.external_ports, forward.internal_ports
        assert internal is not None
        same = internal == ext
        quad = str(forward.internal_address).split(".")
        changes: dict[str, str | None] = {
            "portname": forward.name, "srvtype": proto, "port_start": str(ext.start), "port_end": str(ext.end),
            "same_range": "same_range" if same else None,
            "internal_port_start": None if same else str(internal.start),
            "internal_port_end": None if same else str(internal.start + len(ext) - 1),
            "action": "add_apply", "newType": proto, "newIP": str(forward.internal_address), "entryData": "",
            **{f"server_ip{i}": q for i, q in enumerate(quad, 1)},
        }
        return self.driver.submit(self.cgi("pforward.cgi"), form.build(changes, button=("apply", "Apply")),
                                  "pforward.cgi (add_apply)", changes=(self.list_page,))

    def is_added(self, forward: PortForward) -> bool:
        """The list shows name, ports and address; the protocol (one more POST to the edit form) is checked by
        the verification that follows every change (a mismatch there rolls back)."""
        want = (forward.name, forward.internal_address, forward.external_ports, forward.internal_ports)
        return any((r.name, r.ip, r.external, r.internal) == want for r in parse_acos_rows(self.listing()))

    def post_remove(self, forward: PortForward) -> Page:
        listing = self.listing()
        rows = [r for r in parse_acos_rows(listing) if r.name == forward.name and r.ip == forward.internal_address
                and r.external == forward.external_ports]
        if not rows:
            raise Gone()
        n = str(rows[0].index)
        body = listing.form("formname").build({"action": "delete", "selectEntry": n, "RouteSelect": n},
                                              button=("Delete", "Delete Service"))
        return self.driver.submit(self.cgi("pforward.cgi"), body, "pforward.cgi (delete)", changes=(self.list_page,))

