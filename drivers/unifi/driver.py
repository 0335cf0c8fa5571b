"""UniFi gateways through the UniFi Network application's site API, on a UniFi OS console
(``/proxy/network/api/s/<site>/``, cookie ``TOKEN`` + CSRF header) or a classic controller (``/api/s/<site>/``,
cookie ``unifises``) (facts: ``docs/facts/unifi.md``, rows ``U<n>``).

Port forwards are ``rest/portforward`` records (U10-U13). A DHCP fixed IP belongs to a client record keyed by the
client's MAC (U16), so there is no reservation for an address nothing uses: the driver declares none, and the
planner picks the sink from the DHCP range minus every active client (``stat/sta``), every known client's fixed IP
(``rest/user``), the gateway and every forward target, and warns. API keys are documented for the official
integration API only, which has no port forwards (U20): the driver logs in with a local admin account.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from routerfix.base.web import HTTP_OPTION_NAMES, WebDriver
from routerfix.errors import AuthenticationError, DeviceError, InvalidValue, SessionError
from routerfix.model import Capabilities, DeviceFacts, DeviceState, DhcpScope, Feature, Neighbour, PortForward
from routerfix.secrets import Secret
from routerfix.transport.html import Page
from routerfix.transport.http import TokenExpired

from .api import (
    CLASSIC,
    UNIFI_OS,
    ApiError,
    Endpoint,
    Platform,
    forward_to_record,
    parse_answer,
    parse_clients,
    parse_facts,
    parse_forwards,
    parse_scope,
)

__all__ = ["MANUAL_SINK", "UnifiDriver"]

log = logging.getLogger("routerfix.drivers.unifi")

_SITE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_REDIRECTS = (301, 302, 303, 307, 308)
_SESSION_COOKIES = ("TOKEN", "unifises")
"""The session cookie of UniFi OS and of a classic controller (U3)."""

MANUAL_SINK = ("UniFi keeps fixed IPs on client records keyed by a MAC (U16), so routerfix reserves nothing: to keep "
               "the sink from ever being leased, shrink the LAN's DHCP range in Settings > Networks > [LAN] so the "
               "sink is outside it (then rerun with --sink <address>)")
NO_NAT_MODE = "UniFi exposes no consumer 'NAT filtering' (Secured/Open) setting (U21); nothing is changed"
NO_SIP_ALG = "routerfix neither reads nor changes UniFi's SIP helper setting (U22)"


class UnifiDriver(WebDriver):
    """A UniFi gateway managed by a UniFi Network application (UniFi OS console or classic controller).
    ``username``/``password``: a local admin account. Options: ``site`` (the site's short name, default
    ``default``, U19) and the HTTP options (pin the console's self-signed certificate with ``tls_fingerprint``)."""

    name: ClassVar[str] = "unifi"
    option_names: ClassVar[frozenset[str]] = HTTP_OPTION_NAMES | {"site"}
    option_help: ClassVar[Mapping[str, str]] = {
        **WebDriver.option_help,
        "site": "the UniFi site's short name as in the Network application's URLs (default: default)",
    }
    capabilities = Capabilities(
        features=frozenset({Feature.PORT_FORWARD, Feature.FORWARD_TO_UNUSED, Feature.DHCP_SCOPE,
                            Feature.NEIGHBOURS}),
        max_forwards=None, forward_ranges=False, forward_both=True, orders_rules=False,
        notes=(MANUAL_SINK, NO_NAT_MODE, NO_SIP_ALG))

    def __init__(self, host: str, **options: Any) -> None:
        site = options.get("site", "default")
        if not isinstance(site, str) or not _SITE.match(site):
            raise InvalidValue("site", site, "a UniFi site's short name (letters, digits, '-', '_'), e.g. default")
        super().__init__(host, **options)
        self.site = site
        self._platform: Platform | None = None
        self._facts: DeviceFacts | None = None
        self._cache: dict[Endpoint, list[dict[str, Any]]] = {}
        """Answers of this session's reads; a write drops the one it makes stale (the forwards)."""

    # --- wire --------------------------------------------------------------------------------------

    @property
    def platform(self) -> Platform:
        if self._platform is None:
            raise SessionError("not logged in", host=self.host, driver=self.name)
        return self._platform

    def _path(self, endpoint: str) -> str:
        return f"{self.platform.prefix}/api/s/{self.site}/{endpoint}"

    def _device_error(self, what: str, exc: ApiError) -> DeviceError:
        return DeviceError(f"{what}: refused by the UniFi Network application (site {self.site!r})",
                           device_message=exc.msg, host=self.host, driver=self.name)

    def _get(self, endpoint: Endpoint, *, fresh: bool = False) -> list[dict[str, Any]]:
        """GET a site list (U5, U23); retried on transient faults, logged in again once on a 401 (U6)."""
        if not fresh and endpoint in self._cache:
            return self._cache[endpoint]
        page = self.http.get(self._path(endpoint), page=endpoint, ok_status=(200, 400))
        try:
            records = parse_answer(page.text, endpoint)
        except ApiError as exc:
            raise self._device_error(f"reading {endpoint}", exc) from None
        self._cache[endpoint] = records
        return records

    def _write(self, method: str, endpoint: Endpoint, body: Mapping[str, Any] | None, what: str,
               item: str = "") -> None:
        """Send one write (never retried here: :meth:`HttpSession.guarded_write` decides). A 401 means it was not
        applied (U6): :class:`TokenExpired`, so the caller re-reads, logged in again, before anything is resent."""
        self._cache.pop(endpoint, None)
        try:
            page = self.http.request(method, self._path(f"{endpoint}/{item}" if item else endpoint),
                                     page=f"{method} {endpoint}", data=json.dumps(body or {}),
                                     headers={"Content-Type": "application/json"}, ok_status=(200, 400))
        except TokenExpired:
            raise
        except SessionError as exc:
            raise TokenExpired(f"{what}: the session ended before the write ({exc}); nothing was applied",
                               host=self.host, driver=self.name) from None
        try:
            parse_answer(page.text, endpoint)
        except ApiError as exc:
            raise self._device_error(what, exc) from None

    # --- session -----------------------------------------------------------------------------------

    def _detect_platform(self) -> Platform:
        """``GET /`` without credentials: 200 on UniFi OS, a redirect on a classic controller (U2)."""
        page = self.http.request("GET", "/", page="detect", ok_status=(200, *_REDIRECTS))
        return UNIFI_OS if page.status == 200 else CLASSIC

    def _login(self) -> None:
        """Log in with the local admin account (U3, U7, U8); keep the session cookie and (UniFi OS) the CSRF token
        (U4) as Secrets. A refusal is an :class:`AuthenticationError`, never retried."""
        if not self.username or self.password is None:
            raise AuthenticationError("UniFi needs a local admin account (username and password); API keys do not "
                                      "reach port forwards (U20)", host=self.host, driver=self.name)
        if self._platform is None:
            self._platform = self._detect_platform()
        platform = self._platform
        self.http.clear_credentials()
        self.http.session.cookies.clear()
        body = json.dumps({"username": self.username, "password": self.password.reveal()})
        page = self.http.request("POST", platform.login, page="login", data=body,
                                 headers={"Content-Type": "application/json"}, ok_status=(200, 400, 403, 429))
        refused = page.status != 200
        if not refused and platform is CLASSIC:
            try:
                parse_answer(page.text, "login")
            except ApiError:
                refused = True
        if refused:
            why = "too many failed log-ins: wait before trying again (U8)" if page.status == 429 else \
                f"the console refused the user name or password (HTTP {page.status})"
            raise AuthenticationError(f"UniFi {platform.name}: {why}", host=self.host, driver=self.name)
        cookies = {name: Secret(value) for name in _SESSION_COOKIES
                   if (value := self.http.session.cookies.get(name)) is not None}
        self.http.session.cookies.clear()
        if not cookies:
            raise AuthenticationError(f"UniFi {platform.name}: the log-in answer set no session cookie",
                                      host=self.host, driver=self.name)
        headers: dict[str, Secret] = {}
        csrf = _header(page, "x-csrf-token")
        if platform.csrf and csrf:
            headers["X-CSRF-Token"] = Secret(csrf)
        self.http.set_credentials(cookies=cookies, headers=headers)

    def _logout(self) -> None:
        self.http.request("POST", self.platform.logout, page="logout", data="{}",
                          headers={"Content-Type": "application/json"}, ok_status=(200, 204, *_REDIRECTS))

    def _on_open(self) -> None:
        self._facts = parse_facts(self._get(Endpoint.SYSINFO))

    def _on_close(self) -> None:
        self._cache.clear()

    # --- reads -------------------------------------------------------------------------------------

    def facts(self) -> DeviceFacts:
        """Device type, Network application version and host name (U18), read at log-in."""
        if self._facts is None:
            self._facts = parse_facts(self._get(Endpoint.SYSINFO))
        return self._facts

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """``rest/portforward`` records, ``ref`` their ``_id`` (U10)."""
        return parse_forwards(self._get(Endpoint.PORTFORWARD))

    def get_dhcp_scope(self) -> DhcpScope:
        """The default LAN's subnet and DHCP range, with known clients' fixed IPs as reservations (U15, U17)."""
        return parse_scope(self._get(Endpoint.NETWORKCONF), self._get(Endpoint.USER))

    def list_neighbours(self) -> tuple[Neighbour, ...]:
        """Active clients (U14)."""
        return parse_clients(self._get(Endpoint.STA))

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """Forwards and the scope only (what verification compares). The forwards are read after the last write;
        the networks and fixed IPs, which no write of this driver touches, are reused from this session's read."""
        return DeviceState(facts=self.facts(), capabilities=self.capabilities,
                           forwards=self.list_port_forwards(), scope=self.get_dhcp_scope())

    # --- writes --------------------------------------------------------------------------------------

    def _fresh_forwards(self) -> tuple[PortForward, ...]:
        return parse_forwards(self._get(Endpoint.PORTFORWARD, fresh=True))

    def _add_port_forward(self, forward: PortForward) -> None:
        if forward in self.list_port_forwards():
            return
        answered: list[bool] = []
        what = f"add forward {forward.name}"

        def send() -> None:
            self._write("POST", Endpoint.PORTFORWARD, forward_to_record(forward), what)
            answered.append(True)

        self.http.guarded_write(send, is_done=lambda: bool(answered) or forward in self._fresh_forwards(),
                                what=what)

    def _remove_port_forward(self, forward: PortForward) -> None:
        for found in self.list_port_forwards():
            if found.key() != forward.key():
                continue
            rule_id, what = found.ref, f"remove forward {forward.name}"
            answered: list[bool] = []

            def send(rule_id: str = rule_id, what: str = what, answered: list[bool] = answered) -> None:
                self._write("DELETE", Endpoint.PORTFORWARD, None, what, rule_id)
                answered.append(True)

            def gone(rule_id: str = rule_id, answered: list[bool] = answered) -> bool:
                return bool(answered) or all(f.ref != rule_id for f in self._fresh_forwards())

            self.http.guarded_write(send, is_done=gone, what=what)


def _header(page: Page, name: str) -> str:
    return next((v for k, v in page.headers.items() if k.lower() == name), "")
