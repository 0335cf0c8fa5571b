"""AT&T BGW210/BGW320 residential gateways: detected, answered with the bridge-mode / IP Passthrough verdict,
and able to set IP Passthrough for a given MAC when explicitly asked.

Facts: ``docs/facts/att.md`` (rows ``A<n>``). NAT/Gaming on these gateways binds a service to a device picked
from the gateway's known-device list (by MAC, A12), so WAN 5060/5061 cannot be sent to an unused address: the fix
belongs on a standalone router behind the gateway in IP Passthrough. Detection reads the unauthenticated
``sysinfo.ha`` (A1, A3); nothing else is read and nothing is written during a mitigation.

:meth:`AttGatewayDriver.set_ip_passthrough` is the driver's own public write: it logs in with the Device Access
Code (``SessionID`` cookie, ``nonce``, ``hashpassword=md5(code+nonce)``, A5, A6) and saves ``ippass.ha`` with
``allocmode=passthrough``, ``passmode=dhcps-fixed`` and the router's MAC (A10, A11), then reads the page back.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, ClassVar

from routerfix.base.web import WebDriver
from routerfix.errors import AuthenticationError, DeviceError, ParseError, SessionError
from routerfix.model import Capabilities, DeviceFacts, DeviceState, Remedy, normalise_mac
from routerfix.secrets import register
from routerfix.transport.http import Page, PageChecks, TokenExpired

from .parser import SUPPORTED_MODELS, error_text, parse_sysinfo

__all__ = ["ATT_NOTE", "AttGatewayDriver"]

log = logging.getLogger("routerfix.drivers.att")

ATT_NOTE = ("AT&T BGW gateways forward a port only to a device in their own device list (NAT/Gaming binds the "
            "service to a MAC), so SIP cannot be sent to an unused address; put the gateway in IP Passthrough to "
            "your own router (this driver's set_ip_passthrough(mac), or Firewall > IP Passthrough) and run "
            "routerfix against that router")
"""Why the verdict is bridge mode / IP Passthrough."""


def _is_login_page(page: Page) -> bool:
    return "Access Code Required" in page.text


class AttGatewayDriver(WebDriver):
    """AT&T BGW210/BGW320. Options: the HTTP options (default ``scheme="http"``). The password is the Device
    Access Code printed on the gateway; it is needed only for :meth:`set_ip_passthrough`."""

    name: ClassVar[str] = "att"
    capabilities = Capabilities(remedy=Remedy.BRIDGE_MODE, notes=(ATT_NOTE,))
    default_scheme: ClassVar[str] = "http"

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        self._facts = DeviceFacts("AT&T", "gateway")
        self._logged_in = False

    def _page_checks(self) -> PageChecks:
        return PageChecks(logged_out=_is_login_page)

    def _referer(self, page: str = "home.ha") -> dict[str, str]:
        return {"Referer": f"{self.http.base_url}/cgi-bin/{page}"}

    def _on_open(self) -> None:
        """Read ``sysinfo.ha`` (no login: the access code is asked for by :meth:`set_ip_passthrough` only) and check
        the model is a BGW210/BGW320."""
        page = self.http.get("/cgi-bin/sysinfo.ha", page="sysinfo.ha", check=False)
        facts = parse_sysinfo(page.text)
        if not facts.model.upper().startswith(SUPPORTED_MODELS):
            raise ParseError("sysinfo.ha", f"model {facts.model!r} is not a BGW210/BGW320 this driver knows",
                             host=self.host, driver=self.name)
        self._facts = DeviceFacts(f"AT&T ({facts.vendor})", facts.model, facts.firmware)

    def _on_close(self) -> None:
        self._logged_in = False

    def _logout(self) -> None:
        if not self._logged_in:
            return
        self.http.request("GET", "/cgi-bin/logout.ha", page="logout.ha", headers=self._referer())

    def facts(self) -> DeviceFacts:
        """Manufacturer, model and software version from ``sysinfo.ha``."""
        return self._facts

    def read_state(self) -> DeviceState:
        """Facts and the verdict capabilities; nothing else is read."""
        return DeviceState(facts=self._facts, capabilities=self.capabilities)

    # --- IP Passthrough (explicit, never part of a mitigation) ------------------------------------------

    def _enter_access_code(self) -> None:
        if self.password is None or not self.password.reveal():
            raise AuthenticationError("IP Passthrough needs the Device Access Code (the gateway's sticker) as the "
                                      "password", host=self.host, driver=self.name)
        code = self.password.reveal()
        first = self.http.request("GET", "/cgi-bin/ippass.ha", page="ippass.ha", headers=self._referer())
        page = first if "nonce" in first.text else \
            self.http.request("GET", "/cgi-bin/ippass.ha", page="ippass.ha", headers=self._referer())
        if not _is_login_page(page):
            if page.form(action="ippass.ha").has("allocmode"):
                self._logged_in = True
                return
            raise ParseError("ippass.ha", "neither the access-code page nor IP Passthrough", host=self.host,
                             driver=self.name)
        form = page.form(action="login.ha")
        if not form.has("nonce"):
            raise ParseError("login.ha", "the access-code form has no nonce (a firmware whose login changed?); "
                                         "nothing was changed", host=self.host, driver=self.name)
        nonce = form.field("nonce").value
        digest = hashlib.md5((code + nonce).encode()).hexdigest()  # noqa: S324 - the gateway's own scheme
        register(digest)
        body = form.build({"password": "*" * len(code), "hashpassword": digest}, button=("Continue", "Continue"))
        answer = self.http.request("POST", "/cgi-bin/login.ha", page="login.ha", data=body,
                                   headers=self._referer("ippass.ha"))
        if error_text(answer.text) or _is_login_page(answer):
            raise AuthenticationError("the gateway refused the Device Access Code", host=self.host, driver=self.name)
        self._logged_in = True

    def _ippass_form(self) -> Page:
        page = self.http.get("/cgi-bin/ippass.ha", page="ippass.ha", headers=self._referer(), check=False)
        if _is_login_page(page):
            self._logged_in = False
            self._enter_access_code()
            page = self.http.get("/cgi-bin/ippass.ha", page="ippass.ha", headers=self._referer(), check=False)
            if _is_login_page(page):
                raise SessionError("ippass.ha: still the access-code page after logging in", host=self.host,
                                   driver=self.name)
        return page

    def get_ip_passthrough(self) -> tuple[str, str]:
        """``(allocmode, passmac)`` as ``ippass.ha`` shows them (logs in with the access code)."""
        if not self._logged_in:
            self._enter_access_code()
        form = self._ippass_form().form(action="ippass.ha")
        form.require("nonce", "allocmode", "passmode", "passmac")
        return form.field("allocmode").value, form.field("passmac").value.lower()

    def set_ip_passthrough(self, mac: str) -> None:
        """Put the gateway in IP Passthrough (DHCPS-fixed) to the router whose WAN MAC is ``mac``.

        Only when asked: a mitigation never calls this. The public address then goes to that router, which
        routerfix can mitigate with its own driver. Raises :class:`~routerfix.errors.InvalidValue` for a bad MAC,
        :class:`~routerfix.errors.AuthenticationError` for a wrong access code, and
        :class:`~routerfix.errors.DeviceError` with the gateway's words when it refuses.
        """
        target = normalise_mac(mac, "mac")
        self._count_write("set_ip_passthrough", target)
        if not self._logged_in:
            self._enter_access_code()

        def send() -> None:
            form = self._ippass_form().form(action="ippass.ha")
            form.require("nonce", "allocmode", "passmode", "ippassmaclist", "passmac", "dhcpday", "dhcphour",
                         "dhcpmin", "dhcpsec")
            body = form.build({"allocmode": "passthrough", "passmode": "dhcps-fixed", "ippassmaclist": "",
                               "passmac": target}, button=("Save", "Save"))
            answer = self.http.request("POST", "/cgi-bin/ippass.ha", page="ippass.ha", data=body,
                                       headers=self._referer("ippass.ha"))
            words = error_text(answer.text)
            if "expired" in words.lower() or _is_login_page(answer):
                raise TokenExpired(f"ippass.ha: {words or 'logged out'}; nothing was applied", host=self.host,
                                   driver=self.name)
            if words:
                raise DeviceError("the gateway refused IP Passthrough", device_message=words, host=self.host,
                                  driver=self.name)

        self.http.guarded_write(send, is_done=lambda: self.get_ip_passthrough() == ("passthrough", target),
                                what=f"IP Passthrough to {target}")
