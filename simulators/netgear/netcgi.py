"""Pages and the ``apply.cgi`` handler of the simulated net-cgi GUI (R7800). Follows docs/facts/netgear.md
rows 1-11 and 31-49; markup written for routerfix, no firmware file is copied."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._hosts.http import SimRequest, SimResponse
from .state import PROTOCOLS, Rule, RuleRefused

if TYPE_CHECKING:
    from .device import NetgearSimulator

__all__ = ["NetCgiPages", "TEXTS"]

TEXTS = {  # the meaning of ngw/languages-en.js entries, in routerfix's words
    "invalid_ser_name": "Invalid service name.",
    "name_dup": "Duplicate service name.",
    "invalid_ip": "Invalid IP address.",
    "ip_must_be_lan_ip": "The IP address must be in the same subnet as this router.",
    "ip_cannot_be_router_lan_ip": "The IP address cannot be the router's LAN IP address.",
    "ports_error": "Invalid external port range.",
    "ports_mismatch": "The external and internal port ranges do not match.",
    "port_reserved": "The port is used by another service.",
    "port_used": "The ports conflict with another port forwarding, port triggering or UPnP entry.",
    "max_rules": "The maximum number of port forwarding rules is 64.",
}
_ZERO = ' value="0"'
LIST_FLAGS = ("forwarding", "forwarding_editnum_range", "forwarding_del_range", "forwarding_hidden_add")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _page(title: str, body: str, script: str = "") -> str:
    return (f"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">"
            f"<title>{_e(title)}</title><script>{script}</script></head><body>{body}</body></html>")


def _store_name(name: str) -> str:
    """Names are stored as sent (the page JS sends spaces as ``&harr;``, ``&`` as ``&#38;``)."""
    return name


def _js(text: str) -> str:
    """A value inside a double-quoted JS string."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\x3c")


class NetCgiPages:
    """The net-cgi page set; state and timestamps live in the owning simulator."""

    def __init__(self, sim: NetgearSimulator) -> None:
        self.sim = sim

    def routes(self) -> dict[str, Callable[[SimRequest], SimResponse]]:
        return {
            "/": self.index, "/index.htm": self.index, "/start.htm": self.index,
            "/WAN_wan.htm": self.wan_page, "/LAN_lan.htm": self.lan_page, "/forwarding.htm": self.list_page,
            "/FW_forward.htm": self.fw_forward, "/forwarding_add.htm": self.add_page,
            "/DEV_device.htm": self.dev_wait, "/DEV_show_device.htm": self.devices_page,
            "/QOS_device_info.htm": self.device_info, "/apply.cgi": self.apply_cgi,
            "/multi_login.html": self.multi_login_page, "/goodbye.html": self.goodbye,
        }

    def form_open(self, page: str, flag: str, ts: str, name: str = "formname") -> str:
        return (f"<form name=\"{name}\" method=\"POST\" action=\"/apply.cgi?/{page} timestamp={ts}\" "
                f"target=\"formframe\"><input type=hidden name=submit_flag value=\"{flag}\">")

    def index(self, req: SimRequest) -> SimResponse:
        return SimResponse(200, _page(f"NETGEAR Router {self.sim.model}", (
            "<ul><li><a href=\"WAN_wan.htm\">WAN Setup</a></li><li><a href=\"LAN_lan.htm\">LAN Setup</a></li>"
            "<li><a href=\"forwarding.htm\">Port Forwarding</a></li><li><a href=\"DEV_device.htm\">Attached "
            "Devices</a></li><li><a href=\"LGO_logout.htm\">Logout</a></li></ul>")))

    def other_admin_page(self) -> SimResponse:
        return SimResponse(200, _page("NETGEAR Router", "", "top.location.href=\"multi_login.html\";"))

    def multi_login_page(self, req: SimRequest) -> SimResponse:
        return SimResponse(200, _page("Multi-login", (
            "<p>Another user is logged in to the router. If you continue, that user is logged out.</p>"
            "<a href=\"change_user.html\">Yes</a> <a href=\"goodbye.html\">Exit</a>")))

    def goodbye(self, req: SimRequest) -> SimResponse:
        return SimResponse(200, _page("Goodbye", "<p>You have left the router's web interface.</p>"))

    def wait_page(self, back: str) -> SimResponse:
        ms = int(self.sim.apply_delay * 1000)
        return SimResponse(200, _page("Please wait", "<p>Please wait a moment...</p>",
                                      f"setTimeout(function(){{location.href=\"{back}\";}}, {ms});"))

    def failure(self, reason: str, back: str) -> SimResponse:
        """A failure page shaped like the firmware's ``del_fail.htm``/``port_fail.htm``: ``table_header`` with
        ``<h1>Failure</h1>``, the reason in ``<B>`` of a centred cell, a "few seconds" line, back after 5 s."""
        script = f"function redirect_to()\n{{\n\tsetTimeout(\"location.href='{back}';\", 5000);\n}}"
        body = ("<table width='100%' border=0 cellpadding=0 cellspacing=3 ><tr><td colSpan=2><h1>Failure</h1>"
                f"</td></tr>\n<TR>\n\t<TD nowrap align=center><B>{_e(reason)}</B></TD>\n</TR>\n"
                "<TR>\n\t<TD nowrap align=center>This page goes back to the previous one in a few seconds.</TD>\n"
                "</TR>\n</TABLE>")
        return SimResponse(200, (f"<html><head><script>{script}</script></head><body onLoad='redirect_to()'>{body}"
                                 "</body></html>"))

    # --- WAN setup ---

    def wan_page(self, req: SimRequest) -> SimResponse:
        """``WAN_wan.htm`` (facts: net-cgi WAN rows): state in page variables, the DMZ address only in a
        variable local to ``loadvalue()``, every checkbox and hidden field empty until the page script runs;
        the Apply button is written by the script (no form control)."""
        cfg = self.sim.config
        ts = self.sim.issue_timestamps("wan")
        lan = cfg.lan_ip
        script = (
            f"var ts='{ts}';\nvar dmz_value='{int(cfg.dmz_enable)}';\nvar spiEnable='{int(cfg.spi)}';\n"
            f"var rspToPing_value='{int(cfg.resp_ping)}';\nvar nat_fitering='{0 if cfg.nat_secured else 1}';\n"
            f"var lan_ip=\"{lan}\";\nvar lan_mask=\"{cfg.lan_mask}\";\n"
            f"var endis_sipalg=\"{0 if cfg.sip_alg else 1}\";\nvar have_igmp= (top.igmp_flag == 1)?1:0;\n"
            f"var endis_igmp=\"{int(cfg.igmp_proxy)}\";\nvar endis_bt_igmp=\"\";\n"
            + "".join(f"var bri_lan_tag{i}=\"0\";\n" for i in range(1, 5))
            + "document.write('<input class=\"apply_bt\" type=\"button\" name=\"Apply\" id=\"apply\" "
            "value=\"Apply\" onClick=\"return checkwan(document.forms[0]);\">');\n"
            "function loadvalue()\n{\n\tvar cf = document.forms[0];\n"
            f"\tvar dmzIpAddr=\"{_e(cfg.dmz_ip)}\";\n\tvar lanIpAddr=\"{lan}\";\n"
            f"\tcf.wan_mtu.value = '{cfg.wan_mtu}';\n}}")
        body = (
            self.form_open("WAN_wan.htm", "wan", ts)
            + "".join(f"<input type=\"hidden\" name=\"{n}\"{_ZERO if n in ('igmp_value', 'bt_igmp_value') else ''}>"
                      for n in ("dod_value", "spi_value", "dmz_value", "rspToPing_value", "dmz_ip", "sipalg_value",
                                "igmp_value", "hid_bri_lan1", "hid_bri_lan2", "hid_bri_lan3", "hid_bri_lan4",
                                "hid_brig_ssid1", "hid_brig_ssid2", "hid_iptv_mask", "hid_iptv_show_tag",
                                "hid_brig_guest_ssid1", "hid_brig_guest_ssid2", "bt_igmp_value"))
            + "<input type=\"checkbox\" name=\"disable_spi\" value=\"disable_spi\">Disable Port Scan and DoS "
            "Protection<input type=\"checkbox\" name=\"dmz_enable\" value=\"dmz_enable\">Default DMZ Server"
            + "".join(f"<input type=\"text\" name=\"dmzip{i}\" size=\"4\" maxlength=\"3\">" for i in range(1, 5))
            + "<input type=\"checkbox\" name=\"rspToPing\" value=\"rspToPing\">Respond to Ping on Internet Port"
            "<input type=\"text\" name=\"wan_mtu\" size=\"8\" maxlength=\"4\">"
            "NAT Filtering <input type=\"radio\" name=\"NatInboundFiltering\" value=\"Secured\">Secured"
            "<input type=\"radio\" name=\"NatInboundFiltering\" value=\"Open\">Open"
            "<input type=\"checkbox\" name=\"disable_sipalg\" value=\"disable_sipalg\">Disable SIP ALG"
            + "".join(f"<input type=\"checkbox\" name=\"{n}\">" for n in (
                "bri_lan1", "bri_lan2", "bri_lan3", "bri_lan4", "brig_ssid1", "brig_ssid2", "brig_guest_ssid1",
                "brig_guest_ssid2"))
            + "</form>")
        return SimResponse(200, _page("WAN Setup", body, script))

    def _apply_wan(self, f: dict[str, str]) -> SimResponse:
        """The handler reads ``NatInboundFiltering``, ``wan_mtu`` and the hidden ``*_value`` fields, never the
        checkboxes. **[I]** it does not check ``dmz_ip``: with ``dmz_value=1`` it stores whatever it gets, an
        empty address too (the page script is what validates it)."""
        nat = f.get("NatInboundFiltering")
        if nat not in ("Secured", "Open"):
            return self.failure("Please select a NAT filtering mode.", "WAN_wan.htm")
        try:
            mtu = int(f.get("wan_mtu", ""))
        except ValueError:
            return self.failure("Invalid MTU size.", "WAN_wan.htm")
        if not 616 <= mtu <= 1500:
            return self.failure("Invalid MTU size.", "WAN_wan.htm")
        dmz_on = f.get("dmz_value") == "1"
        dmz_ip = f.get("dmz_ip", "")

        def apply() -> None:
            cfg = self.sim.config
            cfg.nat_secured = nat == "Secured"
            cfg.spi = f.get("spi_value") == "1"  # the hidden value, not the checkbox: empty switches SPI off
            cfg.resp_ping = f.get("rspToPing_value") == "1"
            cfg.sip_alg = f.get("sipalg_value") != "1"
            cfg.igmp_proxy = f.get("igmp_value") == "1"  # the markup default "0" switches IGMP proxying off
            cfg.dmz_enable = dmz_on
            cfg.dmz_ip = dmz_ip if dmz_on else cfg.dmz_ip
            cfg.wan_mtu = mtu
        self.sim.schedule(apply)
        return self.wait_page("WAN_wan.htm")

    # --- port forwarding ---

    def fw_forward(self, req: SimRequest) -> SimResponse:
        return SimResponse(200, _page("", "", "location.href=\"forwarding.htm\";"))

    def _entries(self) -> list[str]:
        """Config lines: ``name proto extStart extEnd intStart intEnd ip aux serflag``."""
        lines = []
        for r in self.sim.config.rules:
            serflag = 1 if "TCP" in r.protocols() and r.ext_start <= 1720 <= r.ext_end else 0
            lines.append(f"{_store_name(r.name)} {r.proto} {r.ext_start} {r.ext_end} {r.int_start} {r.int_end} "
                         f"{r.ip} 0 {serflag}")
            if serflag:
                lines.append(f"{_store_name(r.name)} TCP 1503 1503 1503 1503 {r.ip} 1 1")
        return lines

    def list_page(self, req: SimRequest) -> SimResponse:
        ts = self.sim.issue_timestamps(*LIST_FLAGS, kill=("forwarding_add_range", "forwarding_edit_range"))
        lines = self._entries()
        script = (f"var ts='{ts}';\n"
                  + "".join(f"var forwardingArray{i}=\"{_js(line)}\";\n" for i, line in enumerate(lines, 1))
                  + f"var forward_array_num={len(lines)};\nvar trigger_array_num=0;\nvar upnp_array_num=0;\n"
                  f"var lan_ip=\"{self.sim.config.lan_ip}\";")
        body = (self.form_open("forwarding.htm", "forwarding", ts)
                + "<input type=\"radio\" name=\"serv_type\" value=\"pf\" checked>Port Forwarding"
                "<div id=\"rules\"><!-- rows written by the page JS --></div>"
                "<input type=\"hidden\" name=\"select_del\" value=\"\">"
                "<input type=\"hidden\" name=\"select_del_num\" value=\"\">"
                "<input type=\"hidden\" name=\"select_edit\" value=\"\">"
                "<input type=\"button\" name=\"Add\" value=\"+ Add\" onclick=\"location.href='forwarding_add.htm'\">"
                "<input type=\"button\" name=\"Edit\" value=\"Edit Service\">"
                "<input type=\"button\" name=\"Delete\" value=\"Delete Service\"></form>")
        return SimResponse(200, _page("Port Forwarding / Port Triggering", body, script))

    def add_page(self, req: SimRequest) -> SimResponse:
        ts = self.sim.issue_timestamps("forwarding_add_range")
        options = "".join(f"<option value=\"{p}\"{' selected' if p == 'TCP/UDP' else ''}>{p}</option>"
                          for p in PROTOCOLS)
        body = (
            self.form_open("forwarding.htm", "forwarding_add_range", ts)
            + "Service Name <input type=\"text\" name=\"portname\" maxlength=\"30\" value=\"\">"
            f"Protocol <select name=\"srvtype\">{options}</select>"
            "External Port Range <input type=\"text\" name=\"exter_port\" maxlength=\"256\" value=\"\">"
            "<input type=\"checkbox\" name=\"same_range\" value=\"same_range\" checked>Use the same port range for "
            "Internal port <input type=\"text\" name=\"internal_port\" disabled value=\"\">"
            "Internal IP address "
            + "".join(f"<input type=\"text\" name=\"server_ip{i}\" size=\"3\" value=\"\">" for i in range(1, 5))
            + "".join(f"<input type=\"hidden\" name=\"{n}\" value=\"\">" for n in (
                "serflag", "service_ip", "hidden_portname", "hidden_port_range", "hidden_port_int_start",
                "hidden_port_int_end", "port_start", "port_end"))
            + "<input type=\"button\" name=\"apply\" value=\"Apply\" onclick=\"check_forwarding_add_range()\">"
            "</form>")
        return SimResponse(200, _page("Ports - Custom Services", body, f"var ts='{ts}';"))

    def _apply_add(self, f: dict[str, str]) -> SimResponse:
        cfg = self.sim.config
        name = f.get("portname", "")
        proto = f.get("srvtype", "")
        if proto not in PROTOCOLS:
            return self.failure(TEXTS["ports_error"], "forwarding.htm")
        lists = [f.get(k, "") for k in ("port_start", "port_end", "hidden_port_int_start", "hidden_port_int_end")]
        try:
            parsed = [[int(x) for x in text.rstrip(",").split(",")] for text in lists]
        except ValueError:
            return self.failure(TEXTS["ports_error"], "forwarding.htm")
        if len({len(p) for p in parsed}) != 1:
            return self.failure(TEXTS["ports_mismatch"], "forwarding.htm")
        if any(not 1 <= port <= 65534 for p in parsed for port in p):
            return self.failure(TEXTS["ports_error"], "forwarding.htm")
        new_rules = [Rule(name, proto, es, ee, is_, ie, f.get("service_ip", ""))
                     for es, ee, is_, ie in zip(*parsed, strict=True)]
        with cfg.lock:
            staged = list(cfg.rules)
            for rule in new_rules:
                try:
                    cfg.check_rule(rule, texts=TEXTS)
                except RuleRefused as exc:
                    cfg.rules = staged
                    return self.failure(exc.text, "forwarding.htm")
                cfg.rules.append(rule)  # checked against each other too
            cfg.rules = staged

        def apply() -> None:
            cfg.rules.extend(new_rules)
        self.sim.schedule(apply)
        return self.wait_page("forwarding.htm")

    def _apply_del(self, f: dict[str, str]) -> SimResponse:
        cfg = self.sim.config
        try:
            first, count = int(f.get("select_del", "")), int(f.get("select_del_num", "1") or "1")
        except ValueError:
            return self.failure("Please select a service.", "forwarding.htm")
        lines = self._entries()
        if not (1 <= first and count >= 1 and first + count - 1 <= len(lines)):
            return self.failure("Please select a service.", "forwarding.htm")
        # map config entries (aux lines included) back to rules; the slice is deleted blindly
        owners: list[Rule] = []
        for r in cfg.rules:
            owners.append(r)
            if "TCP" in r.protocols() and r.ext_start <= 1720 <= r.ext_end:
                owners.append(r)
        victims = {id(r) for r in owners[first - 1:first - 1 + count]}

        def apply() -> None:
            cfg.rules = [r for r in cfg.rules if id(r) not in victims]
        self.sim.schedule(apply)
        return self.wait_page("forwarding.htm")

    # --- LAN and devices ---

    def lan_page(self, req: SimRequest) -> SimResponse:
        cfg = self.sim.config
        ts = self.sim.issue_timestamps("lan", "reservation_editnum", "reservation_del", "edit_devname")
        script = (f"var ts='{ts}';\nvar old_lanip='{cfg.lan_ip}';\nvar old_lanmask='{cfg.lan_mask}';\n"
                  f"function loadvalue(){{\nvar dhcp_start='{cfg.dhcp_start}';\nvar dhcp_end='{cfg.dhcp_end}';\n}}")
        body = (self.form_open("LAN_lan.htm", "lan", ts)
                + "".join(f"<input type=\"text\" name=\"{p}{i}\" size=\"3\" value=\"\">"
                          for p in ("sysLANIPAddr", "sysLANSubnetMask", "sysPoolStartingAddr", "sysPoolFinishAddr")
                          for i in range(1, 5))
                + "<input type=\"checkbox\" name=\"dhcp_server\" value=\"1\" checked>Use Router as DHCP Server"
                + "".join(f"<input type=\"hidden\" name=\"{n}\" value=\"{v}\">" for n, v in (
                    ("dhcp_start", ""), ("dhcp_end", ""), ("dhcp_start_old", cfg.dhcp_start),
                    ("dhcp_end_old", cfg.dhcp_end), ("dhcp_pool_tag", "")))
                + "<input type=\"button\" name=\"apply\" value=\"Apply\"></form>")
        return SimResponse(200, _page("LAN Setup", body, script))

    def dev_wait(self, req: SimRequest) -> SimResponse:
        return SimResponse(200, "<html><head><META http-equiv=\"Refresh\" content=\"6; url=DEV_show_device.htm\">"
                                "<title>Attached Devices</title></head><body><p>Please wait a moment...</p>"
                                "</body></html>")

    def devices_page(self, req: SimRequest) -> SimResponse:
        devices = self.sim.config.devices
        script = "".join(
            f"var access_control_device{i}=\"Allowed*{d.ip}*{d.mac}*{'primary' if d.wireless else 'wired'}"
            f"*0*0*0*0\";\nvar access_control_device_name{i}=\"{_e(d.name)}\";\n" for i, d in enumerate(devices))
        script += f"var access_control_device_num={len(devices)};"
        return SimResponse(200, _page("Attached Devices", "<div id=\"devices\"></div>", script))

    def device_info(self, req: SimRequest) -> SimResponse:
        items = ", ".join(f"{{ mac:\"{d.mac}\", ip:\"{d.ip}\", name:\"{_e(d.name)}\", devtype:\"\", "
                          f"contype:\"{'wireless' if d.wireless else 'wired'}\", priority:\"\", "
                          "access_control:\"Allowed\"}" for d in self.sim.config.devices)
        return SimResponse(200, f"{{ device:[ {items} ]}}", content_type="text/plain")

    # --- apply.cgi ---

    def apply_cgi(self, req: SimRequest) -> SimResponse:
        page, _, ts_part = req.query.partition(" timestamp=")
        flag = req.form.get("submit_flag", "")
        back = page.lstrip("/") or "index.htm"
        if not self.sim.consume_timestamp(flag, ts_part.strip()):
            return self.wait_page(back)  # refused: the same hand-back page as a success, nothing changed
        with self.sim.config.lock:
            if flag == "wan":
                return self._apply_wan(req.form)
            if flag == "forwarding_add_range":
                return self._apply_add(req.form)
            if flag == "forwarding_del_range":
                return self._apply_del(req.form)
        return self.wait_page(back)
