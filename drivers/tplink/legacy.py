"""TP-Link legacy ``/userRpm/`` firmware (TL-WR/WDR models): the shared page and table logic, and its two login
flavours, HTTP Basic in a header (:class:`HeaderLogin`) and the ``Authorization`` cookie with a session URL prefix
(:class:`CookieLogin`). Facts: docs/facts/tplink.md (T1-T17).

Every page is a GET with a ``Referer`` inside ``/userRpm/`` (T1). Every write is a ``GET …&Save=Save`` (or
``Del=``), so writes never go through the retrying GET path: each is sent once and then verified by reading the
table back. The virtual-server table stores no rule names. A rule is reported as routerfix's (``routerfix-sip``…)
when it forwards SIP ports to the address reserved for routerfix's sink MAC (or was written in this session);
other rules are called ``virtual-server``. Reservations store no names either: the sink MAC's reservation is
reported as ``routerfix-sink``.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from routerfix.errors import AuthenticationError, DeviceError, ParseError, RouterfixError, SessionError
from routerfix.model import (
    AddressRange,
    Capabilities,
    DeviceFacts,
    DeviceState,
    DhcpScope,
    Feature,
    Lease,
    PortForward,
    PortRange,
    Protocol,
    Reservation,
)
from routerfix.planner import RULE_PREFIX, SINK_MAC, SINK_NAME, SIP_PORTS
from routerfix.secrets import Secret, register
from routerfix.transport.http import Page, TokenExpired

from .firmware import Flavour, Session, TplinkFirmware
from .parser import (
    CUSTOMER_RULE_NAME,
    PROTO_CODE,
    ReservationRow,
    VsRow,
    parse_arrays,
    parse_dhcp,
    parse_lan,
    parse_layout,
    parse_leases,
    parse_reservations,
    parse_vs_rows,
)

__all__ = ["CookieLogin", "HeaderLogin", "LegacyFirmware", "is_login_page"]

_MAX_PAGES = 32
_PARA = {"VirtualServerRpm.htm": "virServerPara", "FixMapCfgRpm.htm": "DHCPStaticPara"}
"""The layout array of each paged table (T5)."""
_Row = TypeVar("_Row")
LEGACY_CAPS = Capabilities(
    features=frozenset({Feature.PORT_FORWARD, Feature.FORWARD_TO_UNUSED, Feature.DHCP_SCOPE, Feature.LEASES,
                        Feature.DHCP_RESERVATION}),
    max_forwards=None, forward_ranges=True, forward_both=True, orders_rules=False,
    notes=("legacy TP-Link firmware has no NAT filtering switch and no way to clear connection tracking",))


def _sip_name(protocol: Protocol, ports: PortRange) -> str:
    parts = [RULE_PREFIX]
    if protocol is not Protocol.BOTH:
        parts.append(protocol.value)
    if ports != SIP_PORTS:
        parts.append(str(ports))
    return "-".join(parts)


def is_login_page(page: Page) -> bool:
    """True when ``page`` is a legacy login page (T3)."""
    return "LoginRpm" in page.text or "loginForm" in page.text or "pcPassword" in page.text


class LegacyFirmware(TplinkFirmware):
    """The ``/userRpm/`` pages and tables both login flavours share."""

    capabilities: ClassVar[Capabilities] = LEGACY_CAPS

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.prefix = ""
        """The session URL prefix (cookie builds)."""
        self._facts: DeviceFacts | None = None
        self._vs_cache: list[VsRow] | None = None
        self._res_cache: list[ReservationRow] | None = None
        """Tables as last seen in this session (a full read, or the device's own answer to a write that shows
        the whole table); the table written is dropped before every write, both on every new login."""
        self._sent = 0
        """Writes sent in this session; ``_vs_seen``/``_res_seen`` record the count each cached table was read
        at, so verification reuses only tables read after the last write."""
        self._vs_seen = self._res_seen = -1
        self._lan: tuple[ipaddress.IPv4Network, ipaddress.IPv4Address, tuple[AddressRange, ...]] | None = None
        """LAN network, router address and DHCP pool from this session's read (no write of this driver
        touches them)."""
        self._written: dict[tuple[str, str, str], str] = {}
        """Rules written in this session (protocol, ports, address) → the name they were written under."""

    def _referer(self) -> dict[str, str]:
        return {"Referer": f"{self.http.base_url}{self.prefix}/userRpm/MenuRpm.htm"}

    def _credentials(self) -> tuple[str, Secret]:
        if self.session.password is None:
            raise AuthenticationError("TP-Link needs the admin password", host=self.host, driver=self.name)
        return self.session.username or "admin", self.session.password

    # --- pages ------------------------------------------------------------------------------------------

    def _fetch(self, page: str, params: dict[str, str] | None = None, *, write: bool = False) -> dict[str, Any]:
        """GET a ``/userRpm/`` page and return its arrays. Reads retry transient faults and renew a stale
        session once; writes are sent once and raise :class:`TokenExpired` on a login page."""
        for attempt in (1, 2):
            path = f"{self.prefix}/userRpm/{page}"
            if write:
                result = self.http.request("GET", path, page=page, params=params, headers=self._referer())
            else:
                result = self.http.get(path, page=page, params=params, headers=self._referer(), check=False)
            if "You have no authority" in result.text:
                raise DeviceError(f"{page}: the router refused the request", device_message="no authority "
                                  "(Referer refused)", host=self.host, driver=self.name)
            if is_login_page(result):
                if write:
                    raise TokenExpired(f"{page}: the session ended before the write; nothing was applied",
                                       host=self.host, driver=self.name)
                if attempt == 2:
                    raise SessionError(f"{page}: the router still shows its login page after logging in again",
                                       host=self.host, driver=self.name)
                self.http.login()
                continue
            arrays = parse_arrays(result.text, page)
            if "errCode" in result.text:
                m = re.search(r'var\s+errCode\s*=\s*"(\d+)"', result.text)
                words = re.sub(r"<[^>]+>|var errCode[^;]*;", " ", result.text.split("</SCRIPT>")[-1])
                raise DeviceError(f"{page}: the router refused the change",
                                  device_message=f"{m.group(1) if m else '?'} {' '.join(words.split())}",
                                  host=self.host, driver=self.name)
            return arrays
        raise SessionError(f"{page}: could not renew the session", host=self.host, driver=self.name)

    def _status(self) -> DeviceFacts:
        arrays = self._fetch("StatusRpm.htm")
        para = arrays.get("statusPara")
        if para is None or len(para) < 8:
            raise ParseError("StatusRpm.htm", "no firmware/hardware version in the page (another firmware?)",
                             host=self.host, driver=self.name)
        hardware = str(para[7])
        return DeviceFacts("TP-Link", hardware.split(" 0")[0].strip(), str(para[6]))

    def _paged(self, page: str, parse: Callable[[dict[str, list[str | int]]], list[_Row]]) -> list[_Row]:
        """Every row of a paged table: page 1, 2, … while the page's layout says another follows (T5)."""
        rows: list[_Row] = []
        for number in range(1, _MAX_PAGES + 1):
            arrays = self._fetch(page, {"Page": str(number)})
            rows += parse(arrays)
            layout = parse_layout(arrays, _PARA[page], page)
            if layout.page != number:
                raise ParseError(page, f"asked for page {number}, the router answered page {layout.page}",
                                 host=self.host, driver=self.name)
            if not layout.has_next:
                return rows
        raise ParseError(page, f"the table runs past {_MAX_PAGES} pages", host=self.host, driver=self.name)

    def _rows(self, *, cached: bool = False) -> list[VsRow]:
        if cached and self._vs_cache is not None:
            return self._vs_cache
        self._vs_cache = self._paged("VirtualServerRpm.htm", parse_vs_rows)
        self._vs_seen = self._sent
        return self._vs_cache

    def _reservations(self, *, cached: bool = False) -> list[ReservationRow]:
        if cached and self._res_cache is not None:
            return self._res_cache
        self._res_cache = self._paged("FixMapCfgRpm.htm", parse_reservations)
        self._res_seen = self._sent
        return self._res_cache

    def _to_forwards(self, rows: list[VsRow], sinks: set[ipaddress.IPv4Address]) -> tuple[PortForward, ...]:
        out = []
        for row in rows:
            shape = (row.protocol.value, str(row.external), str(row.address))
            ours = row.external.start >= SIP_PORTS.start and row.external.end <= SIP_PORTS.end and \
                row.internal in (None, row.external) and row.address in sinks
            name = self._written.get(shape) or (_sip_name(row.protocol, row.external) if ours else
                                                CUSTOMER_RULE_NAME)
            out.append(PortForward(name, row.protocol, row.external, row.address, row.internal, enabled=row.enabled,
                                   ref=str(row.index)))
        return tuple(out)

    @staticmethod
    def _named(rows: list[ReservationRow]) -> tuple[Reservation, ...]:
        return tuple(Reservation(row.reservation.address, row.reservation.mac,
                                 SINK_NAME if row.reservation.mac == SINK_MAC else "") for row in rows)

    @staticmethod
    def _sinks(reservations: tuple[Reservation, ...]) -> set[ipaddress.IPv4Address]:
        return {r.address for r in reservations if r.mac == SINK_MAC}

    # --- reads --------------------------------------------------------------------------------------------

    def facts(self) -> DeviceFacts:
        """Model and firmware (``StatusRpm.htm``; read at login)."""
        if self._facts is None:
            self._facts = self._status()
        return self._facts

    def _scope(self, reservations: tuple[Reservation, ...]) -> DhcpScope:
        lan = parse_lan(self._fetch("NetworkCfgRpm.htm"))
        enabled, first, last = parse_dhcp(self._fetch("LanDhcpServerRpm.htm"))
        try:
            scope = DhcpScope(lan.network, lan.ip, (AddressRange(first, last),) if enabled else (), reservations)
        except RouterfixError as exc:
            raise ParseError("LanDhcpServerRpm.htm", str(exc), host=self.host, driver=self.name) from None
        self._lan = (scope.network, scope.gateway, scope.pools)
        return scope

    def dhcp_scope(self) -> DhcpScope:
        """LAN network (``NetworkCfgRpm.htm``), pool (``LanDhcpServerRpm.htm``), reservations (``FixMapCfgRpm.htm``)."""
        return self._scope(self._named(self._reservations()))

    def leases(self) -> tuple[Lease, ...]:
        """``AssignedIpAddrListRpm.htm``."""
        return tuple(parse_leases(self._fetch("AssignedIpAddrListRpm.htm")))

    def port_forwards(self) -> tuple[PortForward, ...]:
        """Every virtual server, in table order (``ref`` = row index)."""
        return self._to_forwards(self._rows(), self._sinks(self._named(self._reservations())))

    def read_state(self) -> DeviceState:
        """Six page reads (more when tables span pages)."""
        reservations = self._named(self._reservations())
        return DeviceState(facts=self.facts(), capabilities=self.capabilities,
                           forwards=self._to_forwards(self._rows(), self._sinks(reservations)),
                           scope=self._scope(reservations), leases=self.leases())

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """What verification compares: every virtual server and the reservations, each table read after this
        session's last write (the device answers a write with its whole table when it fits one page; a table
        read before the last write is read again). The LAN network and pool, which verification does not
        compare and no write of this driver touches, come from this session's read instead of two more pages;
        leases are not read."""
        reservations = self._named(self._reservations(cached=self._res_seen == self._sent))
        rows = self._rows(cached=self._vs_seen == self._sent)
        if self._lan is None:
            scope = self._scope(reservations)
        else:
            network, gateway, pools = self._lan
            scope = DhcpScope(network, gateway, pools, reservations)
        return DeviceState(facts=self.facts(), capabilities=self.capabilities,
                           forwards=self._to_forwards(rows, self._sinks(reservations)), scope=scope)

    # --- writes ----------------------------------------------------------------------------------------------

    def _write(self, page: str, params: dict[str, str], is_done: Callable[[], bool], what: str) -> None:
        def send() -> None:
            if page == "VirtualServerRpm.htm":
                self._vs_cache = None
            else:
                self._res_cache = None
            self._sent += 1
            arrays = self._fetch(page, params, write=True)
            self._from_reply(page, arrays)

        try:
            self.http.guarded_write(send, is_done=is_done, what=what)
        except BaseException:
            self._vs_cache = self._res_cache = None
            raise

    def _from_reply(self, page: str, arrays: dict[str, list[str | int]]) -> None:
        """Keep the table the device answered a write with, when that page is the whole table (T5)."""
        if not parse_layout(arrays, _PARA[page], page).whole_table:
            return
        if page == "VirtualServerRpm.htm":
            self._vs_cache = parse_vs_rows(arrays)
            self._vs_seen = self._sent
        else:
            self._res_cache = parse_reservations(arrays)
            self._res_seen = self._sent

    def _find(self, forward: PortForward, *, cached: bool = True) -> VsRow | None:
        for row in self._rows(cached=cached):
            internal = row.internal or row.external
            if (row.protocol, row.external, row.address, internal) == (forward.protocol, forward.external_ports,
                                                                       forward.internal_address,
                                                                       forward.internal_ports):
                return row
        return None

    def add_port_forward(self, forward: PortForward) -> None:
        if self._find(forward) is not None:
            return
        ext = forward.external_ports
        internal = "" if len(ext) > 1 else str(forward.internal_ports)
        if len(ext) > 1 and forward.internal_ports != ext:
            raise DeviceError("TP-Link maps a port range onto itself", device_message="InPort only for one port",
                              host=self.host, driver=self.name)
        params = {"ExPort": f"{ext.start}-{ext.end}" if len(ext) > 1 else str(ext.start), "InPort": internal,
                  "Ip": str(forward.internal_address), "Protocol": str(PROTO_CODE[forward.protocol]),
                  "State": "1" if forward.enabled else "0", "Commonport": "0", "Changed": "0", "SelIndex": "0",
                  "Page": "1", "Save": "Save"}
        self._written[(forward.protocol.value, str(ext), str(forward.internal_address))] = forward.name
        self._write("VirtualServerRpm.htm", params, lambda: self._find(forward) is not None,
                    f"add forward {forward.name}")

    def remove_port_forward(self, forward: PortForward) -> None:
        row = self._find(forward)
        if row is None:
            return
        self._write("VirtualServerRpm.htm", {"Del": str(row.index), "Page": str(row.page)},
                    lambda: self._find(forward) is None, f"remove forward {forward.name}")

    def _has(self, reservation: Reservation) -> ReservationRow | None:
        for row in self._reservations(cached=True):
            if (row.reservation.mac, row.reservation.address) == (reservation.mac, reservation.address):
                return row
        return None

    def reserve_address(self, reservation: Reservation) -> None:
        if self._has(reservation) is not None:
            return
        params = {"Mac": reservation.mac.upper().replace(":", "-"), "Ip": str(reservation.address), "State": "1",
                  "Changed": "0", "SelIndex": "0", "Page": "1", "Save": "Save"}
        self._write("FixMapCfgRpm.htm", params, lambda: self._has(reservation) is not None,
                    f"reserve {reservation.address}")

    def release_address(self, reservation: Reservation) -> None:
        row = self._has(reservation)
        if row is None:
            return
        self._write("FixMapCfgRpm.htm", {"Del": str(row.index), "Page": str(row.page)},
                    lambda: self._has(reservation) is None, f"release {reservation.address}")


class HeaderLogin(LegacyFirmware):
    """Credentials in an HTTP Basic header on every request (T1, T2); no session to log out of."""

    flavour: ClassVar[Flavour] = Flavour.LEGACY_HEADER

    def login(self) -> None:
        """Set the header and check it with the status page (which also gives the facts)."""
        user, password = self._credentials()
        self.http.set_credentials(basic=(user, password))
        self._facts = self._status()


class CookieLogin(LegacyFirmware):
    """The ``Authorization`` cookie, ``LoginRpm.htm?Save=Save`` and a session URL prefix (T3)."""

    flavour: ClassVar[Flavour] = Flavour.LEGACY_COOKIE

    def login(self) -> None:
        """Log in and take the session prefix from the answer; a new session starts with no cached tables."""
        user, password = self._credentials()
        digest = hashlib.md5(password.reveal().encode()).hexdigest()  # noqa: S324 - the firmware's scheme
        token = base64.b64encode(f"{user}:{digest}".encode()).decode()
        register(token)
        register(digest)
        self.http.set_credentials(cookies={"Authorization": Secret(f"Basic%20{token}")})
        self.prefix = ""
        self._vs_cache = self._res_cache = None
        self._vs_seen = self._res_seen = -1
        page = self.http.request("GET", "/userRpm/LoginRpm.htm", page="LoginRpm.htm", params={"Save": "Save"},
                                 headers=self._referer())
        match = re.search(r"/([A-Z]{16})/userRpm/Index\.htm", page.text)
        if match is None:
            if is_login_page(page):
                raise AuthenticationError("the router refused the user name or password", host=self.host,
                                          driver=self.name)
            raise ParseError("LoginRpm.htm", "no session address in the login answer (a firmware whose login "
                                             "changed?)", host=self.host, driver=self.name)
        self.prefix = f"/{match.group(1)}"
        register(match.group(1))
        self._facts = self._status()

    def logout(self) -> None:
        """``LogoutRpm.htm`` under the session prefix."""
        if self.prefix:
            self.http.request("GET", f"{self.prefix}/userRpm/LogoutRpm.htm", page="LogoutRpm.htm",
                              headers=self._referer())
            self.prefix = ""
