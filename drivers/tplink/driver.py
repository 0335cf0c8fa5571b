"""TP-Link routers: the registered driver. It detects the firmware flavour once, at the first login, and hands
every verb to that flavour's class: legacy ``/userRpm/`` firmware (:mod:`.legacy`, header or cookie login)
drives the mitigation; Archer firmware with the encrypted LuCI login (:mod:`.modern`) is answered with an
"unsupported yet" verdict. Facts: docs/facts/tplink.md."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from routerfix.base.web import WebDriver
from routerfix.errors import ParseError, SessionError
from routerfix.model import (
    DeviceFacts,
    DeviceState,
    DhcpScope,
    Feature,
    Lease,
    PortForward,
    Reservation,
)

from .firmware import Flavour, Session, TplinkFirmware
from .legacy import LEGACY_CAPS, CookieLogin, HeaderLogin, is_login_page
from .modern import ARCHER_NOTE, ArcherFirmware, is_archer

__all__ = ["ARCHER_NOTE", "TplinkDriver"]

log = logging.getLogger("routerfix.drivers.tplink")


class TplinkDriver(WebDriver):
    """TP-Link routers (legacy ``/userRpm/`` GUI; Archer LuCI detected only). Options: the HTTP options
    (default ``scheme="http"``: these routers offer nothing else)."""

    name: ClassVar[str] = "tplink"
    capabilities = LEGACY_CAPS
    default_scheme: ClassVar[str] = "http"

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        self.firmware: TplinkFirmware | None = None
        """The flavour's class, once detected."""

    @property
    def flavour(self) -> Flavour | None:
        """The firmware flavour, once open."""
        return None if self.firmware is None else self.firmware.flavour

    # --- detection and session -----------------------------------------------------------------------

    def _detect(self) -> TplinkFirmware:
        """The start page first: a Basic-auth challenge there is the legacy header GUI (T2; Archer's LuCI never
        asks for HTTP Basic), so that build needs no other probe. Anything else is probed for Archer's LuCI
        login (T18) before the start page is taken for the legacy cookie login (T3)."""
        session = Session(self.http, self.host, self.name, self.username, self.password)
        root = self.http.request("GET", "/", page="start page", ok_status=(200, 401))
        if root.status == 401 and "basic" in root.headers.get("WWW-Authenticate", "").lower():
            return HeaderLogin(session)
        if is_archer(self.http):
            return ArcherFirmware(session)
        if is_login_page(root):
            return CookieLogin(session)
        raise ParseError("start page", "not a TP-Link web GUI this driver knows (neither /userRpm/ nor Archer "
                                       "LuCI); nothing was changed", host=self.host, driver=self.name)

    def _login(self) -> None:
        """Detect the flavour at the first login, then log in the flavour's way (Archer: no login)."""
        if self.firmware is None:
            self.firmware = self._detect()
            self.capabilities = self.firmware.capabilities
        self.firmware.login()

    def _logout(self) -> None:
        """Log out the flavour's way (cookie builds only)."""
        if self.firmware is not None:
            self.firmware.logout()

    def _fw(self) -> TplinkFirmware:
        if self.firmware is None:
            raise SessionError("the driver is not open: call open() first", host=self.host, driver=self.name)
        return self.firmware

    # --- reads -----------------------------------------------------------------------------------------

    def facts(self) -> DeviceFacts:
        """Model and firmware (legacy: ``StatusRpm.htm``, read at login)."""
        return self._fw().facts()

    def get_dhcp_scope(self) -> DhcpScope:
        """LAN network, pool and reservations."""
        self._require(Feature.DHCP_SCOPE, "reading the DHCP scope")
        return self._fw().dhcp_scope()

    def list_leases(self) -> tuple[Lease, ...]:
        """The DHCP leases."""
        self._require(Feature.LEASES, "listing DHCP leases")
        return self._fw().leases()

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """Every virtual server, in table order (``ref`` = row index)."""
        self._require(Feature.PORT_FORWARD, "listing port forwards")
        return self._fw().port_forwards()

    def read_state(self) -> DeviceState:
        """Legacy: six page reads (more when tables span pages). Archer: facts and the verdict only."""
        return self._fw().read_state()

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """What verification compares (see the flavour's ``verify_state``)."""
        return self._fw().verify_state(expected)

    # --- writes ------------------------------------------------------------------------------------------

    def _add_port_forward(self, forward: PortForward) -> None:
        self._fw().add_port_forward(forward)

    def _remove_port_forward(self, forward: PortForward) -> None:
        self._fw().remove_port_forward(forward)

    def _reserve_address(self, reservation: Reservation) -> None:
        self._fw().reserve_address(reservation)

    def _release_address(self, reservation: Reservation) -> None:
        self._fw().release_address(reservation)
