"""Pages and CGI handlers of the simulated ACOS GUI (R7000). Follows docs/facts/netgear.md rows 1-30;
markup written for routerfix, no firmware file is copied."""

from __future__ import annotations

import html
import ipaddress
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._hosts.http import SimRequest, SimResponse
from .state import PROTOCOLS, Rule, RuleRefused

if TYPE_CHECKING:
    from .device import NetgearSimulator

__all__ = ["AcosPages", "TEXTS"]

TEXTS = {
    "invalid_ser_name": "Invalid service name.",
    "name_dup": "The service name is in use and cannot be used twice.",
    "invalid_ip": "Invalid IP address.",
    "ip_must_be_lan_ip": "The IP address must be a LAN IP address.",
    "ip_cannot_be_router_lan_ip": "The IP address cannot be the router's LAN IP address.",
    "ports_error": "Invalid port range.",
    "port_reserved": "This port is used by another service.",
    "port_used": "The port is used by another service or rule.",
    "max_rules": "The router can support only 20 port forwarding rules.",
}
FEW_SECONDS = "This page goes back to the previous one in a few seconds."
CSRF_TEXT = "Sorry,your timestamp is expired. Please click the menu to re-enter the page."
_TYPE_TO_PROTO = {"BOTH": "TCP/UDP", "TCP/UDP": "TCP/UDP", "TCP": "TCP", "UDP": "UDP"}
_PROTO_TO_OLDTYPE = {"TCP/UDP": "BOTH", "TCP": "TCP", "UDP": "UDP"}


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _page(title: str, body: str, script: str = "") -> str:
    return (f"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">"
            f"<title>{_e(title)}</title><script>{script}</script></head><body>{body}</body></html>")


class AcosPages:
    """The ACOS page set; state and tokens live in the owning simulator."""

    def __init__(self, sim: NetgearSimulator) -> None:
        self.sim = sim
        self.list_page = "FW_forward2.htm" if sim.legacy else "FW_forward3.htm"

    # --- tokens (one valid per client; issued by every page with a POST form; consumed by every POST) ---

    def issue(self) -> str:
        return self.sim.issue_token()

    def action(self, cgi: str) -> str:
        return f"{cgi}?id={self.issue()}"

    # --- routing ---

    def routes(self) -> dict[str, Callable[[SimRequest], SimResponse]]:
        return {
            "/": self.index, "/index.htm": self.index, "/start.htm": self.index,
            "/WAN_wan.htm": self.wan_page, "/LAN_lan.htm": self.lan_page, "/DEV_device.htm": self.devices_page,
            f"/{self.list_page}": self.list_page_get, "/security.cgi": self.security_cgi,
            "/pforward.cgi": self.pforward_cgi, "/lan.cgi": self.lan_cgi, "/devices.cgi": self.devices_cgi,
            "/message.cgi": self.message_cgi,
        }

    def index(self, req: SimRequest) -> SimResponse:
        cfg = self.sim.config
        return SimResponse(200, _page(f"NETGEAR Router {self.sim.model}", (
            f"<h1>NETGEAR {self.sim.model}</h1><ul><li><a href=\"WAN_wan.htm\">WAN Setup</a></li>"
            f"<li><a href=\"LAN_lan.htm\">LAN Setup</a></li><li><a href=\"{self.list_page}\">Port Forwarding / "
            f"Port Triggering</a></li><li><a href=\"DEV_device.htm\">Attached Devices</a></li>"
            f"<li><a href=\"LGO_logout.htm\">Logout</a></li></ul><p>LAN {cfg.lan_ip}</p>")))

    def multi_login_redirect(self) -> SimResponse:
        """What a second admin gets for any page (``MNU_multiLogin.htm``): no form, only a script that sends
        the browser to the multi-login page."""
        script = ("function do_redirect()\n{\n\ttop.location.href = \"MNU_access_multiLogin2.htm\";\n}")
        return SimResponse(200, (f"<html><head><title>NETGEAR Genie</title><script>{script}</script></head>"
                                 "<body onLoad=\"do_redirect();\"></body></html>"))

    def multi_login_page(self) -> SimResponse:
        """``MNU_access_multiLogin2.htm``: a form to ``multi_login.cgi?id=`` with two ``<button>``s and hidden
        ``act`` defaulting to ``yes``."""
        body = (f"<form action=\"{self.action('multi_login.cgi')}\" method=\"POST\">"
                "<h2>Another device is logged in to the router; continuing here logs it out.</h2>"
                "<button class=\"purpleBtn\" onclick=\"yesClick();\" name=\"yes\"><span>Yes</span></button>"
                "<button class=\"purpleBtn\" name=\"no\" onclick=\"noClick();\"><span>No</span></button>"
                "<input type=\"hidden\" name=\"act\" value=\"yes\"></form>")
        return SimResponse(200, _page("NETGEAR Genie", body, "function yesClick(){document.forms[0].act.value="
                                                             "\"yes\";document.forms[0].submit();}"))

    def csrf_timeout(self) -> SimResponse:
        return SimResponse(200, _page("Timestamp expired", f"<p class=\"error\">{CSRF_TEXT}</p>"))

    def failure(self, reason: str, next_file: str) -> SimResponse:
        """``BKS_err.htm``: title ``NETGEAR Router <model>``, heading ``<h1>Failure</h1>``, the reason in the
        bold text of a centred cell, a "few seconds" line, hidden ``next_file``; form ``msg`` → ``message.cgi``."""
        script = ("function delayedLoad()\n{\n\tvar nextF = document.forms[0].next_file.value;\n"
                  "\tsetTimeout(\"location.replace('\" + nextF + \"')\", 6000);\n}")
        body = (f"<form id=\"target\" name=\"msg\" action=\"{self.action('message.cgi')}\" method=\"post\">"
                "<input type=\"hidden\" name=\"buttonHit\"><input type=\"hidden\" name=\"buttonValue\">"
                "<table><tr><td align=\"left\"><h1>Failure</h1></td></tr></table>"
                f"<table><tr>\n <td align=center><b>{_e(reason)}\n</b></TD>\n</TR></table>"
                f"<table><tr>\n <td align=center>{FEW_SECONDS}</TD>\n</TR></table>"
                f"<input type=\"hidden\" name=\"next_file\" value=\"{_e(next_file)}\"></form>")
        return SimResponse(200, _page(f"NETGEAR Router {self.sim.model}", body, script))

    def bad_request(self, why: str) -> SimResponse:
        return SimResponse(400, _page("400 Bad Request", f"<h1>400 Bad Request</h1><p>{_e(why)}</p>"))

    def wait_page(self, back: str) -> SimResponse:
        ms = int(self.sim.apply_delay * 1000)
        script = f"setTimeout(function(){{location.href=\"{back}\";}}, {ms});"
        return SimResponse(200, _page("Please wait", "<p>Please wait a moment...</p>", script))

    def check_token(self, req: SimRequest) -> bool:
        """Consume the token; True when the request carried the valid one."""
        return self.sim.consume_token(req.query_params().get("id", ""))

    # --- WAN setup: NAT filtering and SIP ALG ---

    def wan_page(self, req: SimRequest) -> SimResponse:
        cfg = self.sim.config
        script = (f"var spiEnable=\"{int(cfg.spi)}\";\nvar dmzEnable=\"{int(cfg.dmz_enable)}\";\n"
                  f"var resp2ping=\"{int(cfg.resp_ping)}\";\nvar sipenable=\"{int(cfg.sip_alg)}\";\n"
                  f"var gproxy_enable=\"{int(cfg.igmp_proxy)}\";\n"
                  "function loadvalue(){ /* fills the checkboxes, radios, wan_mtu and dmzip1..4 */ }")
        body = (
            f"<form name=\"frmRules\" method=\"POST\" action=\"{self.action('security.cgi')}\">"
            "<input type=\"hidden\" name=\"buttonHit\"><input type=\"hidden\" name=\"buttonValue\">"
            "<input type=\"submit\" name=\"apply\" value=\"Apply\"><input type=\"button\" name=\"Cancel\" "
            "value=\"Cancel\">"
            "<p><input type=\"checkbox\" name=\"disable_spi\" value=\"disable_spi\">Disable Port Scan and DoS "
            "Protection</p><p><input type=\"checkbox\" name=\"dmz_enable\" value=\"dmz_enable\">Default DMZ Server "
            + "".join(f"<input type=\"text\" name=\"dmzip{i}\" size=\"3\" maxlength=\"3\" value=\"\">"
                      for i in range(1, 5))
            + "</p><p><input type=\"checkbox\" name=\"rspToPing\" value=\"rspToPing\">Respond to Ping on Internet "
            "Port</p><p><input type=\"checkbox\" name=\"disable_gproxy\" value=\"disable_gproxy\">Disable IGMP "
            "Proxying</p><p><input type=\"checkbox\" name=\"ipv6disable\" value=\"ipv6disable\">Disable IPv6</p>"
            "<p>MTU Size (in bytes) <input type=\"text\" name=\"wan_mtu\" size=\"5\" maxlength=\"4\" value=\"\"></p>"
            "<p>NAT Filtering <input type=\"radio\" name=\"NatInboundFiltering\" value=\"Secured\">Secured "
            "<input type=\"radio\" name=\"NatInboundFiltering\" value=\"Open\">Open</p>"
            "<p><input type=\"checkbox\" name=\"disable_sip\" value=\"disable_sip\">Disable SIP ALG</p>"
            f"<input type=\"hidden\" name=\"wan_way\" value=\"{cfg.wan_mtu}\">"
            f"<input type=\"hidden\" name=\"nat_inbound_filtering\" value=\"{int(cfg.nat_secured)}\">"
            "<input type=\"hidden\" name=\"wan_proto\" value=\"dhcp\">"
            f"<input type=\"hidden\" name=\"nvram_mtu\" value=\"{cfg.wan_mtu}\">"
            f"<input type=\"hidden\" name=\"dmz_ip\" value=\"{_e(cfg.dmz_ip)}\">"
            "</form>")
        return SimResponse(200, _page("WAN Setup", body, script))

    def security_cgi(self, req: SimRequest) -> SimResponse:
        if not self.check_token(req):
            return self.csrf_timeout()
        f = req.form
        if "apply" not in f:
            return self.wan_page(req)  # ignored: no apply button
        nat = f.get("NatInboundFiltering")
        if nat not in ("Secured", "Open"):
            return self.bad_request("NatInboundFiltering")
        mtu_text = f.get("wan_mtu", "")
        try:
            mtu = int(mtu_text)
            way = int(f.get("wan_way") or 1500)
        except ValueError:
            return self.bad_request("wan_mtu")
        if not 616 <= mtu <= way:
            return self.bad_request("wan_mtu")
        dmz_on = "dmz_enable" in f
        dmz_ip = f.get("dmz_ip", "")
        if dmz_on:
            try:
                if ipaddress.IPv4Address(dmz_ip) not in self.sim.config.network:
                    return self.failure("The DMZ server is not a LAN address.", "WAN_wan.htm")
            except ValueError:
                return self.bad_request("dmz_ip")

        def apply() -> None:
            cfg = self.sim.config
            cfg.nat_secured = nat == "Secured"
            cfg.spi = "disable_spi" not in f
            cfg.sip_alg = "disable_sip" not in f
            cfg.igmp_proxy = "disable_gproxy" not in f
            cfg.resp_ping = "rspToPing" in f
            cfg.dmz_enable = dmz_on
            cfg.dmz_ip = dmz_ip if dmz_on else cfg.dmz_ip
            cfg.wan_mtu = mtu
        self.sim.schedule(apply)
        return self.wait_page("WAN_wan.htm")

    # --- port forwarding ---

    def _entry_data(self) -> str:
        rules = self.sim.config.rules
        return "".join(f"@{r.name};{r.ip}" for r in rules) + f"#{len(rules)}"

    def list_page_get(self, req: SimRequest) -> SimResponse:
        return self.render_list()

    def render_list(self) -> SimResponse:
        cfg = self.sim.config
        rows = []
        for i, r in enumerate(cfg.rules, 1):
            if self.sim.legacy:
                cells = [r.name, r.ext_start, r.ext_end, r.int_start, r.int_end, r.ip]
            else:
                ext = str(r.ext_start) if r.ext_start == r.ext_end else f"{r.ext_start}-{r.ext_end}"
                internal = str(r.int_start) if r.int_start == r.int_end else f"{r.int_start}-{r.int_end}"
                cells = [r.name, ext, internal, r.ip]
            rows.append(f"<tr><td><input type=RADIO name=RouteSelect value={i}></td>"
                        f"<td><span class=thead>{i}</span></td>"
                        + "".join(f"<td><span class=ttext>{_e(c)}</span></td>" for c in cells) + "</tr>")
        head = ("<tr><td></td><td>#</td><td>Service Name</td><td>External Start Port</td><td>External End Port</td>"
                "<td>Internal Start Port</td><td>Internal End Port</td><td>Internal IP address</td></tr>"
                if self.sim.legacy else
                "<tr><td></td><td>#</td><td>Service Name</td><td>External Ports</td><td>Internal Ports</td>"
                "<td>Internal IP address</td></tr>")
        lan = cfg.lan_ip.rsplit(".", 1)[0]
        body = (
            f"<form name=\"formname\" method=\"POST\" action=\"{self.action('pforward.cgi')}\">"
            "<p><input type=\"radio\" name=\"serv_type\" value=\"pf\" checked>Port Forwarding "
            "<input type=\"radio\" name=\"serv_type\" value=\"pt\">Port Triggering</p>"
            "<p>Service Name <select name=\"svs_gm\"><option value=\"FTP\">FTP</option><option value=\"HTTP\">HTTP"
            "</option><option value=\"IP_Phone\">IP_Phone</option><option value=\"Telnet\">Telnet</option></select>"
            + "".join(f"<input type=\"text\" name=\"SV_IP{i}\" size=\"3\" value=\"{v}\">"
                      for i, v in enumerate([*lan.split("."), ""], 1))
            + "<input type=\"submit\" name=\"svAdd\" value=\"Add\"></p>"
            f"<table>{head}{''.join(rows)}</table>"
            "<input type=\"submit\" name=\"Edit\" value=\"Edit Service\">"
            "<input type=\"submit\" name=\"Delete\" value=\"Delete Service\">"
            "<input type=\"submit\" name=\"Add\" value=\"Add Custom Service\">"
            "<input type=\"hidden\" name=\"action\" value=\"init\"><input type=\"hidden\" name=\"selectEntry\" "
            "value=\"\"><input type=\"hidden\" name=\"selectService\" value=\"\">"
            "<input type=\"hidden\" name=\"inputIP\" value=\"\">"
            f"<input type=\"hidden\" name=\"lanIP\" value=\"{cfg.lan_ip}\">"
            f"<input type=\"hidden\" name=\"entryData\" value=\"{_e(self._entry_data())}\">"
            "<input type=\"hidden\" name=\"fwpf_enable\" value=\"1\"></form>")
        return SimResponse(200, _page("Port Forwarding / Port Triggering", body))

    def service_form(self, rule: Rule | None, entry: int | None) -> SimResponse:
        cfg = self.sim.config
        lan = cfg.lan_ip.split(".")
        ip = rule.ip.split(".") if rule else [lan[0], lan[1], lan[2], ""]
        options = "".join(
            f"<option value=\"{p}\"{' selected' if (rule and rule.proto == p) or (not rule and p == 'TCP/UDP') else ''}"
            f">{p}</option>" for p in PROTOCOLS)

        def hidden(name: str, value: object = "") -> str:
            return f"<input type=\"hidden\" name=\"{name}\" value=\"{_e(value)}\">"

        body = (
            f"<form name=\"formname\" method=\"POST\" action=\"{self.action('pforward.cgi')}\">"
            "<input type=\"submit\" name=\"apply\" value=\"Apply\"><input type=\"submit\" name=\"cancel\" "
            "value=\"Cancel\">"
            f"<p>Service Name <input type=\"text\" name=\"portname\" maxlength=\"30\" "
            f"value=\"{_e(rule.name) if rule else ''}\"></p>"
            f"<p>Protocol <select name=\"srvtype\">{options}</select></p>"
            f"<p>External Starting Port <input type=\"text\" name=\"port_start\" "
            f"value=\"{rule.ext_start if rule else ''}\"></p>"
            f"<p>External Ending Port <input type=\"text\" name=\"port_end\" value=\"{rule.ext_end if rule else ''}\">"
            "</p><p><input type=\"checkbox\" name=\"same_range\" value=\"same_range\" checked>Use the same port "
            "range for Internal port</p>"
            "<p>Internal Starting Port <input type=\"text\" name=\"internal_port_start\" disabled value=\"\"></p>"
            "<p>Internal Ending Port <input type=\"text\" name=\"internal_port_end\" disabled value=\"\"></p>"
            "<p>Internal IP address "
            + "".join(f"<input type=\"text\" name=\"server_ip{i}\" size=\"3\" value=\"{_e(v)}\">"
                      for i, v in enumerate(ip, 1))
            + "</p>"
            + "".join(f"<input type=\"radio\" name=\"MacSelect\" value=\"{i}\">{_e(d.name)}"
                      for i, d in enumerate(cfg.devices, 1))
            + hidden("action", "init") + hidden("oldService", rule.name if rule else "")
            + hidden("oldType", _PROTO_TO_OLDTYPE[rule.proto] if rule else "")
            + hidden("newType") + hidden("oldSport", rule.ext_start if rule else "")
            + hidden("oldEport", rule.ext_end if rule else "")
            + hidden("oldInternalSport", rule.int_start if rule else "")
            + hidden("oldInternalEport", rule.int_end if rule else "")
            + hidden("oldIP", rule.ip if rule else "") + hidden("newIP") + hidden("lanIP", cfg.lan_ip)
            + hidden("selectEntry", entry if entry else "") + hidden("entryData", "")
            + "</form>")
        return SimResponse(200, _page("Ports - Custom Services", body))

    def pforward_cgi(self, req: SimRequest) -> SimResponse:
        if not self.check_token(req):
            return self.csrf_timeout()
        f = req.form
        action = f.get("action", "")
        cfg = self.sim.config
        with cfg.lock:
            if action == "custom":
                if len(cfg.rules) >= cfg.max_rules:
                    return self.failure(TEXTS["max_rules"], self.list_page)
                return self.service_form(None, None)
            if action in ("edit", "delete"):
                try:
                    n = int(f.get("selectEntry", ""))
                except ValueError:
                    return self.bad_request("selectEntry")
                if not 1 <= n <= len(cfg.rules):
                    return self.failure("Please select a service.", self.list_page)
                if action == "edit":
                    return self.service_form(cfg.rules[n - 1], n)
                victim = cfg.rules[n - 1]
                self.sim.schedule(lambda: cfg.rules.remove(victim) if victim in cfg.rules else None)
                return self.wait_page(self.list_page)
            if action == "add_apply":
                return self._add_apply(f)
            return self.render_list()

    def _add_apply(self, f: dict[str, str]) -> SimResponse:
        cfg = self.sim.config
        new_type = f.get("newType", "")
        if new_type not in _TYPE_TO_PROTO:
            return self.bad_request("newType")
        try:
            ext_start, ext_end = int(f["port_start"]), int(f["port_end"])
            if f.get("same_range") == "same_range":
                int_start, int_end = ext_start, ext_end
            else:
                int_start = int(f["internal_port_start"])
                int_end = int_start + (ext_end - ext_start)
                if f.get("internal_port_end") and int(f["internal_port_end"]) != int_end:
                    return self.failure(TEXTS["ports_error"], self.list_page)
        except (KeyError, ValueError):
            return self.bad_request("port")
        ip = f.get("newIP", "")
        if not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", ip) or any(int(x) > 255 for x in ip.split(".")):
            return self.bad_request("newIP")
        rule = Rule(f.get("portname", ""), _TYPE_TO_PROTO[new_type], ext_start, ext_end, int_start, int_end, ip)
        try:
            cfg.check_rule(rule, texts=TEXTS)
        except RuleRefused as exc:
            return self.failure(exc.text, self.list_page)
        self.sim.schedule(lambda: cfg.rules.append(rule))
        return self.wait_page(self.list_page)

    # --- LAN setup (read only in routerfix) and attached devices ---

    def lan_page(self, req: SimRequest) -> SimResponse:
        cfg = self.sim.config

        def quad(prefix: str, disabled: tuple[int, ...] = ()) -> str:
            return "".join(f"<input type=\"text\" name=\"{prefix}{i}\" size=\"3\" value=\"\""
                           f"{' disabled' if i in disabled else ''}>" for i in range(1, 5))

        def hidden(name: str, value: object) -> str:
            return f"<input type=\"hidden\" name=\"{name}\" value=\"{_e(value)}\">"

        body = (
            f"<form name=\"frmLan\" method=\"POST\" action=\"{self.action('lan.cgi')}\">"
            "<input type=\"submit\" name=\"action\" value=\"Apply\">"
            "<p>Device Name <input type=\"text\" name=\"device_name\" value=\"" + _e(self.sim.model) + "\"></p>"
            f"<p>IP Address {quad('sysLANIPAddr')}</p><p>IP Subnet Mask {quad('sysLANSubnetMask')}</p>"
            "<p><input type=\"checkbox\" name=\"dhcp_server\" value=\"dhcp_server\" checked>Use Router as DHCP "
            f"Server</p><p>Starting IP Address {quad('sysPoolStartingAddr', (1, 2, 3))}</p>"
            f"<p>Ending IP Address {quad('sysPoolFinishAddr', (1, 2, 3))}</p>"
            "<h3>Address Reservation</h3><table><tr><td>#</td><td>IP Address</td><td>Device Name</td>"
            "<td>MAC Address</td></tr></table>"
            "<input type=\"submit\" name=\"Add\" value=\"Add\"><input type=\"submit\" name=\"Edit\" value=\"Edit\">"
            "<input type=\"submit\" name=\"Delete\" value=\"Delete\">"
            + hidden("select", "-1") + hidden("lan_ipaddr", cfg.lan_ip) + hidden("lan_netmask", cfg.lan_mask)
            + hidden("lan_proto", "dhcp") + hidden("dhcp_start", cfg.dhcp_start) + hidden("dhcp_end", cfg.dhcp_end)
            + hidden("dhcp_start_old", cfg.dhcp_start) + hidden("dhcp_end_old", cfg.dhcp_end) + "</form>")
        return SimResponse(200, _page("LAN Setup", body))

    def lan_cgi(self, req: SimRequest) -> SimResponse:
        if not self.check_token(req):
            return self.csrf_timeout()
        return self.failure("LAN changes are not simulated.", "LAN_lan.htm")

    def devices_page(self, req: SimRequest) -> SimResponse:
        cfg = self.sim.config

        def table(title: str, wireless: bool) -> str:
            rows = "".join(
                f"<tr><td><span class=\"thead\">{i}</span></td><td><span class=\"ttext\">{_e(d.ip)}</span></td>"
                f"<td><span class=\"ttext\">{_e(d.name)}</span></td><td><span class=\"ttext\">{_e(d.mac)}</span>"
                "</td></tr>" for i, d in enumerate((d for d in cfg.devices if d.wireless == wireless), 1))
            return (f"<h3>{title}</h3><table><tr><td>#</td><td>IP Address</td><td>Device Name</td>"
                    f"<td>MAC Address</td></tr>{rows}</table>")

        body = (f"<form name=\"formname\" method=\"POST\" action=\"{self.action('devices.cgi')}\">"
                + table("Wired Devices", False)
                + table("Wireless Devices (Wireless intruders also show up here)", True)
                + "<input type=\"submit\" name=\"Refresh\" value=\"Refresh\"></form>")
        return SimResponse(200, _page("Attached Devices", body))

    def devices_cgi(self, req: SimRequest) -> SimResponse:
        if not self.check_token(req):
            return self.csrf_timeout()
        return self.devices_page(req)

    def message_cgi(self, req: SimRequest) -> SimResponse:
        self.check_token(req)
        return self.index(req)

    def multi_login_cgi(self, req: SimRequest) -> SimResponse:
        """``act=yes`` takes the session over; ``act=no`` stays out."""
        if not self.check_token(req):
            return self.csrf_timeout()
        if req.form.get("act", "yes") == "yes":  # the hidden field defaults to yes
            self.sim.take_session(req.client)
            return self.index(req)
        return SimResponse(200, _page("Logged out", "<p>You are not logged in.</p>"))
