"""The ``netgear`` driver: Nighthawk routers over their web GUI, both families.

``open()`` reads ``currentsetting.htm`` (no login needed) for model and firmware and picks the flavour:
ACOS (R6700/R7000/R8000/R8500...: ``security.cgi``/``pforward.cgi``/``lan.cgi`` with ``?id=`` tokens) or
net-cgi (R7800/R9000/XR/Orbi: ``apply.cgi?/PAGE timestamp=…`` with ``submit_flag``). Facts and traps:
docs/facts/netgear.md (summarised in docs/netgear.md).

Writes fetch the form they post (fresh token, current values), post once, wait as long as the router's
"Please wait" page says, and read back: a net-cgi router answers a refused (stale timestamp) POST with the
same page as a success, so only the read-back tells. A write is never blindly repeated
(:meth:`routerfix.transport.http.HttpSession.guarded_write`).

NAT filtering and SIP ALG are fields of the same WAN setup form (``security.cgi`` / ``apply.cgi`` with
``submit_flag=wan``), whose handler reads both from one POST. Inside :meth:`NetgearDriver.write_batch` the two
values are held and sent together at the end of the block: one WAN POST and one read-back instead of two each.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from routerfix.driver import Driver
from routerfix.errors import DeviceError, InvalidValue, ParseError, SessionError, UnsupportedOperation
from routerfix.model import (
    Capabilities,
    DeviceFacts,
    DeviceState,
    DhcpScope,
    Feature,
    NatMode,
    Neighbour,
    PortForward,
    PortRange,
    Protocol,
)
from routerfix.policy import NatDecision, Phone
from routerfix.transport.http import HTTP_OPTION_NAMES, HttpOptions, HttpSession, Page, PageChecks

from .parsers import (
    acos_token,
    parse_acos_devices,
    parse_acos_rows,
    parse_acos_service_type,
    parse_current_setting,
    parse_failure,
    parse_netcgi_devices,
    parse_netcgi_entries,
    parse_wait_ms,
    scope_from,
)

__all__ = ["ACOS_MODELS", "NETCGI_MODELS", "NetgearDriver"]

ACOS_MODELS = frozenset({"R6250", "R6300V2", "R6400", "R6400V2", "R6700", "R6700V3", "R6900", "R6900P", "R7000",
                         "R7000P", "R7900", "R7900P", "R8000", "R8000P", "R8500", "R7850", "R7960P", "R8300"})
"""Models with the Broadcom ACOS httpd."""
NETCGI_MODELS = frozenset({"R7500", "R7500V2", "R7800", "R9000", "XR450", "XR500", "XR700", "BR500", "RBR20",
                           "RBR40", "RBR50", "RBR750", "RBR850", "RBK50"})
"""Models with the Qualcomm net-cgi GUI (Orbi routers included)."""

SIP_PORTS = PortRange(5060, 5061)
_FEATURES = frozenset({Feature.PORT_FORWARD, Feature.FORWARD_TO_UNUSED, Feature.NAT_MODE, Feature.SIP_ALG,
                       Feature.DHCP_SCOPE, Feature.NEIGHBOURS})
_NOTES_ACOS = ("ACOS GUI: the rule list has no protocol column; the protocol is read from the edit form for "
               "rules on 5060-5061 and reported as tcp/udp for the others",
               "20 port-forwarding rules (firmware V1.0.1.22; newer firmware assumed the same)",
               "no DHCP reservation and no ping tool are driven: the sink is taken from the top of the pool")
_NOTES_NETCGI = ("net-cgi GUI: refused writes look like successes, so every write is read back",
                 "64 port-forwarding rules",
                 "no DHCP reservation and no ping tool are driven: the sink is taken from the top of the pool")
_NETCGI_KEEP = (("bt_igmp_value", "endis_bt_igmp"),
                *((f"hid_bri_lan{i}", f"bri_lan_tag{i}") for i in range(1, 5)),
                *((f"hid_brig_ssid{i}", f"brig_ssid_tag{i}") for i in range(1, 3)),
                *((f"hid_brig_guest_ssid{i}", f"brig_guest_ssid_tag{i}") for i in range(1, 3)))
"""net-cgi WAN hidden fields the page script sets from a page variable ("0"/"1") before posting."""
_PROTO_VALUE = {Protocol.BOTH: "TCP/UDP", Protocol.TCP: "TCP", Protocol.UDP: "UDP"}


@dataclass
class _HeldWan:
    """WAN form values set inside :meth:`NetgearDriver.write_batch`, not sent yet (``None``: not set)."""

    nat: NatMode | None = None
    sip: bool | None = None


class NetgearDriver(Driver):
    """Netgear Nighthawk (ACOS and net-cgi) over the web GUI.

    Options: the shared HTTP options (``scheme``, ``verify_tls``, ``tls_fingerprint``, ``ca_file``,
    ``take_over_session``; see docs/web.md) and ``family`` (``"acos"``/``"netcgi"``) to force the flavour
    of a model this driver does not know. Username defaults to ``admin``.
    """

    name: ClassVar[str] = "netgear"
    capabilities = Capabilities(features=_FEATURES, max_forwards=20, forward_ranges=True, forward_both=True,
                                orders_rules=False, notes=_NOTES_ACOS)
    option_names: ClassVar[frozenset[str]] = HTTP_OPTION_NAMES | {"family"}
    transport_security = "tls"
    batch_kinds = frozenset({"set_nat_mode", "set_sip_alg"})
    """NAT filtering and SIP ALG share the WAN setup form: :meth:`write_batch` sends them in one POST."""

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        family = self.options.get("family")
        if family not in (None, "acos", "netcgi"):
            raise InvalidValue("family", family, "'acos' or 'netcgi'")
        self._http_options = HttpOptions.from_options(self.options, port=self.port)
        self.transport_security = self._http_options.security
        self.family: str = family or ""
        self.setting: dict[str, str] = {}
        self._facts: DeviceFacts | None = None
        self._http: HttpSession | None = None
        self._cache: dict[str, Page] = {}
        self._token: str | None = None
        self._list_page = ""
        self._held: _HeldWan | None = None

    # --- lifecycle -----------------------------------------------------------------------------------

    @property
    def http(self) -> HttpSession:
        """The HTTP session (open)."""
        if self._http is None:
            raise SessionError("the session is not open", host=self.host, driver=self.name)
        return self._http

    @property
    def stats(self) -> dict[str, int]:
        """Requests and logins of this run (for benchmarks)."""
        s = self._http.stats if self._http else None
        return {"requests": s.requests if s else 0, "gets": s.gets if s else 0, "posts": s.posts if s else 0,
                "logins": s.logins if s else 0, "logouts": s.logouts if s else 0}

    def open(self) -> None:
        """Read ``currentsetting.htm``, pick the family, log in (Basic auth; one retry of the first 401)."""
        self._http = HttpSession(
            self.host, driver=self.name, timeouts=self.timeouts, options=self._http_options,
            checks=PageChecks(logged_out=_is_login_form, other_admin=self._is_other_admin,
                              token_expired=_is_token_expired),
            login=self._login, logout=self._logout, take_over=self._take_over)
        self.http.open()
        self.is_open = True

    def close(self) -> None:
        """Log out (``LGO_logout.htm``) and close; never raises."""
        if self._http is not None:
            self._http.close()
        self._cache.clear()
        self._token = None
        self.is_open = False

    def _login(self) -> None:
        http = self.http
        page = http.request("GET", "/currentsetting.htm", page="currentsetting.htm")
        self.setting = parse_current_setting(page.text)
        model = self.setting["Model"].upper()
        if not self.options.get("family"):
            if model in ACOS_MODELS:
                self.family = "acos"
            elif model in NETCGI_MODELS:
                self.family = "netcgi"
            else:
                raise UnsupportedOperation(
                    f"Netgear model {model} is not known to this driver; pass family='acos' (R6xxx/R7000/R8000 "
                    f"style GUI) or family='netcgi' (R7800/R9000/Orbi style GUI) if you know it",
                    host=self.host, driver=self.name)
        firmware = self.setting["Firmware"]
        self._facts = DeviceFacts("Netgear", model, firmware, "")
        if self.family == "acos":
            self._list_page = "/FW_forward2.htm" if firmware.upper().startswith("V1.0.1.") else "/FW_forward3.htm"
            self.capabilities = Capabilities(features=_FEATURES, max_forwards=20, forward_ranges=True,
                                             forward_both=True, notes=_NOTES_ACOS)
        else:
            self._list_page = "/forwarding.htm"
            self.capabilities = Capabilities(features=_FEATURES, max_forwards=64, forward_ranges=True,
                                             forward_both=True, notes=_NOTES_NETCGI)
        http.session.auth = (self.username or "admin", self.password.reveal() if self.password else "")
        try:
            start = http.request("GET", "/index.htm", page="start page")
        except Exception as exc:  # the first request of a client answers 401 even with good credentials
            from routerfix.errors import AuthenticationError

            if not isinstance(exc, AuthenticationError):
                raise
            start = http.request("GET", "/index.htm", page="start page")
        if _is_login_form(start):
            raise UnsupportedOperation(
                "this firmware logs in through a form, not HTTP Basic auth: its login is not supported yet; "
                "nothing was changed", host=self.host, driver=self.name)
        self._note(start)
        if self._is_other_admin(start):
            http.recover("other_admin", start)

    def _logout(self) -> None:
        self.http.request("GET", "/LGO_logout.htm", page="LGO_logout.htm", ok_status=(200, 302, 401, 404))

    def _is_other_admin(self, page: Page) -> bool:
        if self.family == "acos":
            return "MNU_access_multiLogin2.htm" in page.text or "multi_login.cgi" in page.text
        return "multi_login.html" in page.text and "top.location" in page.text

    def _take_over(self, page: Page) -> None:
        http = self.http
        if self.family == "acos":
            if "multi_login.cgi" not in page.text:  # the redirect page: the form is on the multi-login page
                page = http.get("/MNU_access_multiLogin2.htm", page="MNU_access_multiLogin2.htm", check=False)
            form = page.form(action="multi_login.cgi")
            form.require("act")
            answer = http.post(form.action, form.build({"act": "yes"}), page="multi-login (multi_login.cgi)")
            self._note(answer, posted=True)
        else:
            http.get("/change_user.html", page="change_user.html", check=False)

    # --- page helpers --------------------------------------------------------------------------------------

    def _note(self, page: Page, *, posted: bool = False) -> None:
        """Track the ACOS form token: every page with a POST form issues one, every POST uses it up."""
        if self.family != "acos":
            return
        token = acos_token(page.text)
        if token is not None:
            self._token = token
        elif posted:
            self._token = None

    def _get(self, path: str, name: str, *, cache: bool = True) -> Page:
        if cache and path in self._cache:
            return self._cache[path]
        page = self.http.get(path, page=name)
        self._note(page)
        self._cache[path] = page
        return page

    def _cgi(self, cgi: str) -> str:
        """``cgi?id=<current token>``, fetching a page with a form first when no token is held."""
        if self._token is None:
            self._get("/WAN_wan.htm", "WAN_wan.htm", cache=False)
        if self._token is None:
            raise ParseError("WAN_wan.htm", "no form token in the page")
        return f"/{cgi}?id={self._token}"

    def _post(self, path: str, body: dict[str, str], name: str) -> Page:
        self._cache.clear()
        try:
            answer = self.http.post(path, body, page=name)
        except BaseException:
            self._token = None
            raise
        self._note(answer, posted=True)
        if answer.status == 200:
            reason = parse_failure(answer)
            if reason is not None:
                raise DeviceError(f"{name}: the router refused the change", device_message=reason,
                                  host=self.host, driver=self.name)
        return answer

    def _wait_then(self, answer: Page | None, check: Callable[[], bool]) -> bool:
        """Wait as the router's wait page says, then read back until ``check`` holds or the apply time is up."""
        hint = parse_wait_ms(answer) / 1000 if answer is not None else 0.2
        hint = min(hint, self.timeouts.apply)
        deadline = time.monotonic() + min(self.timeouts.apply, max(5.0, 3 * hint))
        time.sleep(hint)
        while True:
            self._cache.clear()
            if check():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(max(0.1, min(hint, 1.0)))

    def _write(self, what: str, send: Callable[[], Page], check: Callable[[], bool]) -> None:
        """Send once; on a definite "nothing applied" answer send once more; otherwise read back."""
        outcome: dict[str, Page | None] = {"answer": None}

        def do_send() -> None:
            outcome["answer"] = None
            outcome["answer"] = send()

        def is_done() -> bool:
            return self._wait_then(outcome["answer"], check)

        self.http.guarded_write(do_send, is_done=is_done, what=what)

    # --- reads ---------------------------------------------------------------------------------------------

    def facts(self) -> DeviceFacts:
        """Vendor, model and firmware from ``currentsetting.htm``."""
        if self._facts is None:
            raise SessionError("the session is not open", host=self.host, driver=self.name)
        return self._facts

    def _wan(self) -> tuple[Page, dict[str, str]]:
        page = self._get("/WAN_wan.htm", "WAN_wan.htm")
        values = page.vars()
        if self.family == "acos":
            form = page.form("frmRules")
            form.require("NatInboundFiltering", "nat_inbound_filtering", "disable_sip", "wan_mtu", "apply")
            for var in ("spiEnable", "dmzEnable", "resp2ping", "sipenable", "gproxy_enable"):
                if values.get(var) not in ("0", "1"):
                    raise ParseError(page.name, f"JS variable {var} is missing or not 0/1")
            if form.hidden().get("nat_inbound_filtering") not in ("0", "1"):
                raise ParseError(page.name, "hidden nat_inbound_filtering is not 0/1")
        else:
            form = page.form()
            form.require("NatInboundFiltering", "spi_value", "sipalg_value", "dmz_value", "rspToPing_value",
                         "dmz_ip", "wan_mtu", "submit_flag")
            for var in ("nat_fitering", "endis_sipalg", "spiEnable", "dmz_value", "rspToPing_value", "endis_igmp",
                        "dmzIpAddr"):
                if values.get(var) is None:
                    raise ParseError(page.name, f"JS variable {var} is missing: posting without it would "
                                                f"switch settings off")
        return page, values

    def get_nat_mode(self) -> NatMode | None:
        """NAT filtering: Secured → secure, Open → open."""
        page, values = self._wan()
        if self.family == "acos":
            secured = page.form("frmRules").hidden()["nat_inbound_filtering"] == "1"
        else:
            secured = values["nat_fitering"] == "0"
        return NatMode.SECURE if secured else NatMode.OPEN

    def get_sip_alg(self) -> bool | None:
        """SIP ALG on?"""
        _, values = self._wan()
        if self.family == "acos":
            return values["sipenable"] == "1"
        return values["endis_sipalg"] != "1"

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """Every custom-service forward. ``ref`` is the 1-based row (ACOS) or ``first:count`` (net-cgi)."""
        if self.family == "acos":
            return self._acos_forwards()
        page = self._get(self._list_page, "forwarding.htm")
        return tuple(PortForward(e.name, e.protocol, e.external, e.ip, e.internal, ref=f"{e.first}:{e.count}")
                     for e in parse_netcgi_entries(page))

    def _acos_list(self) -> Page:
        try:
            return self._get(self._list_page, self._list_page.lstrip("/"))
        except DeviceError as exc:  # 404: the other list page name of this firmware generation
            if "404" not in str(exc):
                raise
            self._list_page = "/FW_forward3.htm" if self._list_page.endswith("2.htm") else "/FW_forward2.htm"
            return self._get(self._list_page, self._list_page.lstrip("/"))

    def _acos_forwards(self) -> tuple[PortForward, ...]:
        page = self._acos_list()
        rows = parse_acos_rows(page)
        form = page.form("formname")
        out = []
        for row in rows:
            protocol = Protocol.BOTH
            if row.external.overlaps(SIP_PORTS):  # the list has no protocol column: ask the edit form
                body = form.build({"action": "edit", "selectEntry": str(row.index), "RouteSelect": str(row.index)},
                                  button=("Edit", "Edit Service"))
                answer = self.http.post(self._cgi("pforward.cgi"), body, page="pforward.cgi (edit)")
                self._note(answer, posted=True)
                protocol = parse_acos_service_type(answer)
            out.append(PortForward(row.name, protocol, row.external, row.ip, row.internal, ref=str(row.index)))
        return tuple(out)

    def get_dhcp_scope(self) -> DhcpScope:
        """LAN address, mask and the DHCP pool from ``LAN_lan.htm`` (no reservations are read)."""
        page = self._get("/LAN_lan.htm", "LAN_lan.htm")
        if self.family == "acos":
            hidden = page.form("frmLan").hidden()
            keys = ("lan_ipaddr", "lan_netmask", "dhcp_start", "dhcp_end")
            if any(not hidden.get(k) for k in keys):
                raise ParseError(page.name, "the LAN form lacks lan_ipaddr/lan_netmask/dhcp_start/dhcp_end")
            return scope_from(hidden[keys[0]], hidden[keys[1]], hidden[keys[2]], hidden[keys[3]], page.name)
        values = page.vars()
        keys = ("old_lanip", "old_lanmask", "dhcp_start", "dhcp_end")
        if any(not values.get(k) for k in keys):
            raise ParseError(page.name, "the LAN page lacks old_lanip/old_lanmask/dhcp_start/dhcp_end")
        return scope_from(values[keys[0]], values[keys[1]], values[keys[2]], values[keys[3]], page.name)

    def list_neighbours(self) -> tuple[Neighbour, ...]:
        """The attached-devices list (wired and wireless)."""
        if self.family == "acos":
            return tuple(parse_acos_devices(self._get("/DEV_device.htm", "DEV_device.htm")))
        return tuple(parse_netcgi_devices(self._get("/DEV_show_device.htm", "DEV_show_device.htm")))

    def read_state(self) -> DeviceState:
        """One pass over WAN, port forwarding, LAN and attached devices (4 pages)."""
        self._cache.clear()
        state = DeviceState(facts=self.facts(), capabilities=self.capabilities, nat_mode=self.get_nat_mode(),
                            sip_alg=self.get_sip_alg(), forwards=self.list_port_forwards(),
                            scope=self.get_dhcp_scope(), neighbours=self.list_neighbours())
        return state

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """Read back what verification compares: NAT filtering, SIP ALG (WAN page) and every forward.

        Pages read since this session's last POST are reused: ``_post`` empties the page cache before it
        sends, so every cached page shows the router after all of this run's writes (typically the WAN page
        the last write's read-back fetched). The LAN page (no reservations are driven here) and the attached
        devices list hold nothing verification looks at and are not read."""
        return DeviceState(facts=self.facts(), capabilities=self.capabilities, nat_mode=self.get_nat_mode(),
                           sip_alg=self.get_sip_alg(), forwards=self.list_port_forwards())

    def nat_policy(self, state: DeviceState, phones: tuple[Phone, ...]) -> NatDecision:
        """Netgear's policy: NAT filtering **Open** plus the forward (Secured hands phones duplicate UDP
        ports); Secured may stay when exactly one phone is on the LAN."""
        if Feature.NAT_MODE not in state.capabilities:
            return NatDecision(None, "the router has no NAT filtering setting")
        if len(phones) == 1 and state.nat_mode is NatMode.SECURE:
            return NatDecision(NatMode.SECURE, "exactly one phone on the LAN: Secured NAT filtering may stay "
                                               "(with one phone it does not hand out duplicate UDP ports)")
        if len(phones) == 1:
            return NatDecision(NatMode.OPEN, "exactly one phone on the LAN: NAT filtering stays Open, the forward "
                                             "covers the SIP ports")
        count = f"{len(phones)} phones" if phones else "no phone recognised"
        return NatDecision(NatMode.OPEN, f"{count} on the LAN: Netgear needs NAT filtering Open plus the forward "
                                         f"(Secured hands phones duplicate UDP ports)")

    # --- writes --------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def write_batch(self) -> Iterator[None]:
        """Hold the NAT filtering and SIP ALG set inside the block; as it ends, send them in ONE WAN POST.

        The end of the block is a single write (:meth:`_wan_write`): the WAN form is built from a page read
        since the last POST (current token/timestamp, every hidden field from the page's variables), both
        changes are applied to it, it is posted once and read back until the page shows both values (net-cgi
        answers a refused POST like a success). Never blindly repeated
        (:meth:`~routerfix.transport.http.HttpSession.guarded_write`). An exception inside the block drops
        what is held: nothing is posted. Other writes inside the block are not held (they go at once); a
        nested block adds to the outer one."""
        if self._held is not None:
            yield
            return
        held = self._held = _HeldWan()
        try:
            yield
        finally:
            self._held = None
        if held.nat is None and held.sip is None:
            return
        what = " and ".join(name for name, value in (("NAT filtering", held.nat), ("SIP ALG", held.sip))
                            if value is not None)
        self._wan_write(what, nat=held.nat, sip=held.sip)

    def _set_nat_mode(self, mode: NatMode) -> None:
        if self._held is not None:
            self._held.nat = mode
            return
        self._wan_write("NAT filtering", nat=mode)

    def _set_sip_alg(self, enabled: bool) -> None:
        if self._held is not None:
            self._held.sip = enabled
            return
        self._wan_write("SIP ALG", sip=enabled)

    def _wan_write(self, what: str, *, nat: NatMode | None = None, sip: bool | None = None) -> None:
        def check() -> bool:
            return (nat is None or self.get_nat_mode() is nat) and (sip is None or self.get_sip_alg() is sip)

        def send() -> Page:
            page, values = self._wan()
            current_nat = self.get_nat_mode()
            current_sip = self.get_sip_alg()
            want_nat = nat or current_nat
            want_sip = current_sip if sip is None else sip
            secured = "Secured" if want_nat is NatMode.SECURE else "Open"
            if self.family == "acos":
                form = page.form("frmRules")
                hidden = form.hidden()
                dmz_ip = hidden.get("dmz_ip", "")
                dmz_on = values["dmzEnable"] == "1"
                changes: dict[str, str | None] = {
                    "NatInboundFiltering": secured,
                    "wan_mtu": hidden.get("nvram_mtu") or hidden.get("wan_way") or "",
                    "disable_spi": None if values["spiEnable"] == "1" else "disable_spi",
                    "dmz_enable": "dmz_enable" if dmz_on else None,
                    "rspToPing": "rspToPing" if values["resp2ping"] == "1" else None,
                    "disable_gproxy": None if values["gproxy_enable"] == "1" else "disable_gproxy",
                    "disable_sip": None if want_sip else "disable_sip",
                }
                if dmz_on:
                    parts = dmz_ip.split(".")
                    if len(parts) != 4:
                        raise ParseError(page.name, "DMZ is on but dmz_ip is not an address")
                    changes.update({f"dmzip{i}": p for i, p in enumerate(parts, 1)})
                if not changes["wan_mtu"]:
                    raise ParseError(page.name, "no MTU in the page (nvram_mtu/wan_way)")
                body = form.build(changes, button=("apply", "Apply"))
                return self._post(self._cgi("security.cgi"), body, "WAN setup (security.cgi)")
            form = page.form()
            mtu = page.token(r"wan_mtu\.value\s*=\s*'(\d{3,4})'")
            dmz_on = values["dmz_value"] == "1"
            dmz_ip = values["dmzIpAddr"]  # local to loadvalue(); the page has no other copy of the address
            quad = dmz_ip.split(".")
            if dmz_on and (len(quad) != 4 or not all(q.isdigit() and int(q) <= 255 for q in quad)):
                raise ParseError(page.name, "DMZ is on but the page shows no DMZ address (dmzIpAddr): posting "
                                            "would blank the DMZ server")
            changes: dict[str, str | None] = {
                "NatInboundFiltering": secured, "wan_mtu": mtu,
                "spi_value": "1" if values["spiEnable"] == "1" else "0",
                "disable_spi": None if values["spiEnable"] == "1" else form.field("disable_spi").value,
                "dmz_value": "1" if dmz_on else "0", "dmz_ip": dmz_ip,
                "dmz_enable": form.field("dmz_enable").value if dmz_on else None,
                "rspToPing_value": "1" if values["rspToPing_value"] == "1" else "0",
                "rspToPing": form.field("rspToPing").value if values["rspToPing_value"] == "1" else None,
                "sipalg_value": "0" if want_sip else "1",
                "disable_sipalg": None if want_sip else form.field("disable_sipalg").value,
                "igmp_value": "1" if values["endis_igmp"] == "1" else "0",
            }
            if dmz_on:
                changes.update({f"dmzip{i}": q for i, q in enumerate(quad, 1)})
            # the page script fills these from its variables before it posts: keep them as the router has them
            for field, var in _NETCGI_KEEP:
                if form.has(field) and values.get(var) in ("0", "1"):
                    changes[field] = values[var]
            if all(values.get(f"bri_lan_tag{i}") in ("0", "1") for i in range(1, 5)) and form.has("hid_iptv_mask"):
                changes["hid_iptv_mask"] = str(sum(int(values[f"bri_lan_tag{i}"]) << (i - 1) for i in range(1, 5)))
            body = form.build(changes)
            return self._post(form.action, body, "WAN setup (apply.cgi wan)")

        self._write(f"setting {what}", send, check)

    def _add_port_forward(self, forward: PortForward) -> None:
        if forward.internal_ports is None:
            raise InvalidValue("internal_ports", None, "a port range")

        def check() -> bool:
            if self.family == "acos":
                # the list shows name, ports and address; the protocol (one more POST to the edit form) is
                # checked by the verification that follows every change (a mismatch there rolls back)
                return any((r.name, r.ip, r.external, r.internal) == (forward.name, forward.internal_address,
                                                                      forward.external_ports, forward.internal_ports)
                           for r in parse_acos_rows(self._acos_list()))
            return any(f.key() == forward.key() for f in self.list_port_forwards())

        send = self._acos_add(forward) if self.family == "acos" else self._netcgi_add(forward)
        self._write(f"adding forward {forward.name}", send, check)

    def _acos_add(self, forward: PortForward) -> Callable[[], Page]:
        def send() -> Page:
            listing = self._acos_list()
            body = listing.form("formname").build({"action": "custom", "serv_type": "pf"},
                                                  button=("Add", "Add Custom Service"))
            svc = self._post(self._cgi("pforward.cgi"), body, "pforward.cgi (custom service form)")
            form = svc.form("formname")
            form.require("portname", "srvtype", "port_start", "port_end", "same_range", "internal_port_start",
                         "server_ip1", "server_ip2", "server_ip3", "server_ip4", "action", "newType", "newIP",
                         "entryData", "apply")
            proto = _PROTO_VALUE[forward.protocol]
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
            return self._post(self._cgi("pforward.cgi"), form.build(changes, button=("apply", "Apply")),
                              "pforward.cgi (add_apply)")
        return send

    def _netcgi_add(self, forward: PortForward) -> Callable[[], Page]:
        def send() -> Page:
            page = self._get("/forwarding_add.htm", "forwarding_add.htm", cache=False)
            form = page.form()
            form.require("portname", "srvtype", "exter_port", "server_ip1", "server_ip4", "serflag", "service_ip",
                         "hidden_portname", "hidden_port_range", "hidden_port_int_start", "hidden_port_int_end",
                         "port_start", "port_end", "submit_flag")
            proto = _PROTO_VALUE[forward.protocol]
            if proto not in form.field("srvtype").options:
                raise ParseError(page.name, f"the protocol list lacks {proto}")
            ext, internal = forward.external_ports, forward.internal_ports
            assert internal is not None
            serflag = "1" if Protocol.TCP in forward.protocol.members() and 1720 in ext else "0"
            quad = str(forward.internal_address).split(".")
            # as the page script sends it: spaces as &harr;, & as &#38;; hidden_port_range 1/0 = same range or not
            name = forward.name.replace("&", "&#38;").replace(" ", "&harr;")
            changes: dict[str, str | None] = {
                "portname": name, "srvtype": proto, "exter_port": str(ext),
                "same_range": form.field("same_range").value if internal == ext else None,
                "internal_port": None if internal == ext else str(internal),
                "serflag": serflag, "service_ip": str(forward.internal_address),
                "hidden_port_range": "1" if internal == ext else "0",
                "port_start": f"{ext.start},", "port_end": f"{ext.end},",
                "hidden_port_int_start": f"{internal.start},",
                "hidden_port_int_end": f"{internal.start + len(ext) - 1},",
                **{f"server_ip{i}": q for i, q in enumerate(quad, 1)},
            }
            return self._post(form.action, form.build(changes), "apply.cgi (forwarding_add_range)")
        return send

    def _remove_port_forward(self, forward: PortForward) -> None:
        def check() -> bool:
            return not any(_same_rule(f, forward) for f in self.list_port_forwards())

        def send() -> Page:
            self._cache.clear()
            if self.family == "acos":
                listing = self._acos_list()
                rows = [r for r in parse_acos_rows(listing) if r.name == forward.name and r.ip ==
                        forward.internal_address and r.external == forward.external_ports]
                if not rows:
                    raise _Gone()
                n = str(rows[0].index)
                body = listing.form("formname").build({"action": "delete", "selectEntry": n, "RouteSelect": n},
                                                      button=("Delete", "Delete Service"))
                return self._post(self._cgi("pforward.cgi"), body, "pforward.cgi (delete)")
            page = self._get(self._list_page, "forwarding.htm", cache=False)
            entries = [e for e in parse_netcgi_entries(page) if e.name == forward.name and e.ip ==
                       forward.internal_address and e.external == forward.external_ports and
                       e.protocol is forward.protocol]
            if not entries:
                raise _Gone()
            form = page.form()
            form.require("submit_flag", "select_del", "select_del_num")
            body = form.build({"submit_flag": "forwarding_del_range", "select_del": str(entries[0].first),
                               "select_del_num": str(entries[0].count)})
            return self._post(form.action, body, "apply.cgi (forwarding_del_range)")

        try:
            self._write(f"removing forward {forward.name}", send, check)
        except _Gone:
            return


class _Gone(Exception):
    """The rule to remove is not on the router (already gone: not an error)."""


def _same_rule(a: PortForward, b: PortForward) -> bool:
    return (a.name, a.internal_address, a.external_ports) == (b.name, b.internal_address, b.external_ports) and \
        bool(a.protocol.members() & b.protocol.members())


def _is_login_form(page: Page) -> bool:
    text = page.text.lower()
    return 'type="password"' in text and "login" in text and "<form" in text


def _is_token_expired(page: Page) -> bool:
    return "timestamp is expired" in page.text
