"""OPNsense over its MVC REST API (``/api/<module>/<controller>/<command>``), HTTP Basic with the API key as user
name and the API secret as password (facts: ``docs/facts/opnsense.md``, rows ``O<n>``).

Port forwards are Destination NAT rules (``firewall/d_nat``, O4-O6); DHCP reservations are Kea DHCPv4
reservations (``kea/dhcpv4``, O10-O13). A change saved through the API is only in the configuration until it is
applied (``firewall/d_nat/apply``, ``kea/service/reconfigure``, O8, O12): the driver applies once per write, or
once at the end of a :meth:`OpnsenseDriver.write_batch`.

What the installed release lacks is declared, never scraped around (O9, O14): firmware without the
``d_nat`` API (before the MVC Destination NAT) gets the ``unsupported_firmware`` verdict with the manual steps;
a firewall whose DHCP runs on ISC dhcpd (no API for its static mappings) gets no reservation capability and a
note with the manual steps. OPNsense has no consumer "NAT filtering" mode and no SIP ALG (O18, O19): nothing
of either is read or changed, and the capabilities say so.

pfSense has no official API (O20), so routerfix has no pfSense driver: the manual steps are in the facts (O20).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from routerfix.base.web import WebDriver
from routerfix.enums import ActionKind
from routerfix.errors import AuthenticationError, DeviceError, ParseError
from routerfix.model import (
    Capabilities,
    DeviceFacts,
    DeviceState,
    DhcpScope,
    Feature,
    Lease,
    Neighbour,
    PortForward,
    Remedy,
    Reservation,
)
from routerfix.retry import retry_transient

from .api import (
    Route,
    forward_to_rule,
    parse_json,
    parse_leases,
    parse_neighbours,
    parse_reservations,
    parse_rules,
    parse_scope,
    reservation_to_record,
)

__all__ = ["MANUAL_DHCP", "MANUAL_NAT", "OpnsenseDriver"]

log = logging.getLogger("routerfix.drivers.opnsense")

MANUAL_NAT = ("this OPNsense release has no Destination NAT API (firewall/d_nat, O9): add the forwards by hand in "
              "Firewall > NAT > Port Forward (interface WAN, destination 'WAN address', ports 5060-5061, protocol "
              "TCP/UDP, redirect target IP = an unused LAN address), then Apply changes")
MANUAL_DHCP = ("DHCP runs on ISC dhcpd, whose static mappings have no API (O14): reserve the sink by hand in "
               "Services > ISC DHCPv4 > [LAN] > DHCP Static Mappings, or move DHCP to Kea")
NO_NAT_MODE = ("OPNsense has no consumer 'NAT filtering' (Secured/Open) setting: its outbound NAT only translates "
               "sources and pf drops unsolicited inbound traffic unless a rule passes it (O18); nothing is changed")
NO_SIP_ALG = "OPNsense ships no SIP ALG (O19); nothing to turn off"


class OpnsenseDriver(WebDriver):
    """OPNsense 26.1 and later (Destination NAT API) with Kea DHCPv4. ``username`` is the API key and ``password``
    the API secret (O2). Options: the HTTP options."""

    name: ClassVar[str] = "opnsense"
    capabilities = Capabilities(
        features=frozenset({Feature.PORT_FORWARD, Feature.FORWARD_TO_UNUSED, Feature.DHCP_SCOPE, Feature.LEASES,
                            Feature.NEIGHBOURS, Feature.DHCP_RESERVATION}),
        max_forwards=None, forward_ranges=True, forward_both=True, orders_rules=False,
        notes=(NO_NAT_MODE, NO_SIP_ALG))
    batch_kinds = frozenset({ActionKind.ADD_FORWARD, ActionKind.REMOVE_FORWARD, ActionKind.RESERVE_ADDRESS,
                             ActionKind.RELEASE_ADDRESS})

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        self._facts: DeviceFacts | None = None
        self._subnet = ""
        """The uuid of the Kea subnet reservations go to (read with the scope)."""
        self._pending: set[Route] = set()
        self._sent = 0
        """POSTs sent in this session; a cached search is reused only while no POST was sent since."""
        self._cache: dict[Route, tuple[int, Any]] = {}
        """Apply endpoints owed for writes saved but not yet applied."""
        self._batch = False

    # --- wire ------------------------------------------------------------------------------------

    def _get(self, route: Route, *, ok: tuple[int, ...] = (200,), reuse: bool = False) -> Any:
        """GET ``route`` (reads are retried on transient faults). ``reuse``: the answer of this session's last GET
        of ``route`` when no POST was sent since (the probe at log-in serves the planning read, which serves the
        idempotence check of the first write)."""
        cached = self._cache.get(route)
        if reuse and cached is not None and cached[0] == self._sent:
            return cached[1]

        def once() -> Any:
            page = self.http.request("GET", f"/api/{route}", page=route, ok_status=ok)
            return None if page.status != 200 else parse_json(page.text, route)

        data = retry_transient(once)
        self._cache[route] = (self._sent, data)
        return data

    def _post(self, route: Route, body: dict[str, Any] | None = None, suffix: str = "") -> Any:
        self._sent += 1
        page = self.http.post(f"/api/{route}{suffix}", json.dumps(body or {}), page=route,
                              headers={"Content-Type": "application/json"})
        return parse_json(page.text, route)

    def _login(self) -> None:
        """Send the key and secret as HTTP Basic (O2) and read the system information once (O15): a refused key is
        an :class:`AuthenticationError` (HTTP 401 during login)."""
        if not self.username or self.password is None:
            raise AuthenticationError("OPNsense needs the API key (username) and API secret (password)",
                                      host=self.host, driver=self.name)
        self.http.set_credentials(basic=(self.username, self.password))
        page = self.http.request("GET", f"/api/{Route.SYSTEM_INFO}", page=Route.SYSTEM_INFO)
        self._facts = self._parse_facts(parse_json(page.text, Route.SYSTEM_INFO))

    def _on_open(self) -> None:
        """Detect the APIs this release offers (O9, O10, O14) and narrow the capabilities."""
        features = set(type(self).capabilities.features)
        notes = list(type(self).capabilities.notes)
        remedy: Remedy | None = None
        if self._get(Route.SEARCH_RULE, ok=(200, 404)) is None:
            features -= {Feature.PORT_FORWARD, Feature.FORWARD_TO_UNUSED}
            remedy = Remedy.UNSUPPORTED_FIRMWARE
            notes.append(MANUAL_NAT)
        kea = self._get(Route.KEA_GET, ok=(200, 404))
        general = kea.get("dhcpv4", {}).get("general", {}) if isinstance(kea, dict) else {}
        if not isinstance(general, dict) or str(general.get("enabled", "0")) != "1":
            features -= {Feature.DHCP_SCOPE, Feature.LEASES, Feature.DHCP_RESERVATION}
            notes.append(MANUAL_DHCP)
        self.capabilities = type(self).capabilities.replace(features=frozenset(features), remedy=remedy,
                                                            notes=tuple(notes))

    def _on_close(self) -> None:
        self._pending.clear()
        self._cache.clear()

    # --- reads -------------------------------------------------------------------------------------

    @staticmethod
    def _parse_facts(data: Any) -> DeviceFacts:
        if not isinstance(data, dict) or not isinstance(data.get("versions"), list) or not data["versions"]:
            raise ParseError(Route.SYSTEM_INFO, "no versions in the system information")
        first = str(data["versions"][0])
        product, _, version = first.partition(" ")
        return DeviceFacts(vendor="Deciso" if product == "OPNsense" else product, model=product or "OPNsense",
                           firmware=version, hostname=str(data.get("name", "")))

    def facts(self) -> DeviceFacts:
        """Product, version and host name (O15), read at log-in."""
        if self._facts is None:
            self._facts = self._parse_facts(self._get(Route.SYSTEM_INFO))
        return self._facts

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """Destination NAT rules in sequence order, ``ref`` their uuid (O4-O6)."""
        self._require(Feature.PORT_FORWARD, "port forwarding")
        return parse_rules(self._get(Route.SEARCH_RULE, reuse=True))

    def _reservation_rows(self) -> tuple[tuple[str, str, Reservation], ...]:
        return parse_reservations(self._get(Route.SEARCH_RESERVATION, reuse=True))

    def get_dhcp_scope(self) -> DhcpScope:
        """The first Kea IPv4 subnet with its pools and reservations (O10-O13)."""
        self._require(Feature.DHCP_SCOPE, "reading the DHCP scope")
        rows = self._reservation_rows()
        self._subnet, scope = parse_scope(self._get(Route.SEARCH_SUBNET), tuple((s, r) for _, s, r in rows))
        return scope

    def list_leases(self) -> tuple[Lease, ...]:
        """Kea DHCPv4 leases (O16)."""
        self._require(Feature.LEASES, "listing DHCP leases")
        return parse_leases(self._get(Route.LEASES))

    def list_neighbours(self) -> tuple[Neighbour, ...]:
        """The ARP table (O17)."""
        return parse_neighbours(self._get(Route.ARP))

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """Forwards and the DHCP scope only (what verification compares)."""
        caps = self.capabilities
        return DeviceState(facts=self.facts(), capabilities=caps,
                           forwards=self.list_port_forwards() if Feature.PORT_FORWARD in caps else (),
                           scope=self.get_dhcp_scope() if Feature.DHCP_SCOPE in caps else None)

    # --- writes --------------------------------------------------------------------------------------

    def _apply(self) -> None:
        """Send the apply endpoints owed (O8, O12); each is idempotent, so one lost answer is re-sent once."""
        for route in sorted(self._pending):
            def send(route: Route = route) -> None:
                answer = self._post(route)
                status = str(answer.get("status", "")).strip().lower() if isinstance(answer, dict) else ""
                if route is Route.KEA_RECONFIGURE and status != "ok":
                    raise DeviceError(f"{route} refused", device_message=status, host=self.host, driver=self.name)

            retry_transient(send)
            self._pending.discard(route)

    def _after_write(self, apply: Route) -> None:
        self._pending.add(apply)
        if not self._batch:
            self._apply()

    @contextlib.contextmanager
    def write_batch(self) -> Iterator[None]:
        """Writes inside are saved one by one (each its own request) and applied ONCE when the block ends; the
        apply is sent even when the block fails, so that the running rules match the saved ones."""
        if self._batch:
            yield
            return
        self._batch = True
        try:
            yield
        finally:
            self._batch = False
            if self._pending:
                self._apply()

    def _checked(self, answer: Any, route: Route, want: str, what: str) -> None:
        """Raise unless ``answer`` is ``{"result": want}`` (O7); validations are the device's words."""
        if isinstance(answer, dict) and answer.get("result") == want:
            return
        detail = answer.get("validations") if isinstance(answer, dict) else None
        raise DeviceError(f"{what}: {route} refused", device_message=str(detail or answer), host=self.host,
                          driver=self.name)

    def _write(self, route: Route, body: dict[str, Any] | None, suffix: str, want: tuple[str, ...],
               is_done: Callable[[], bool], what: str) -> None:
        answered: list[bool] = []

        def send() -> None:
            answer = self._post(route, body, suffix)
            if isinstance(answer, dict) and answer.get("result") in want:
                answered.append(True)
                return
            self._checked(answer, route, want[0], what)

        self.http.guarded_write(send, is_done=lambda: bool(answered) or is_done(), what=what)

    def _add_port_forward(self, forward: PortForward) -> None:
        if any(f == forward for f in self.list_port_forwards()):
            return

        def done() -> bool:
            return any(f == forward for f in self.list_port_forwards())

        self._write(Route.ADD_RULE, {"rule": forward_to_rule(forward)}, "", ("saved",), done,
                    f"add forward {forward.name}")
        self._after_write(Route.APPLY_NAT)

    def _remove_port_forward(self, forward: PortForward) -> None:
        for found in self.list_port_forwards():
            if found.key() != forward.key():
                continue
            uuid = found.ref

            def gone(uuid: str = uuid) -> bool:
                return all(f.ref != uuid for f in self.list_port_forwards())

            self._write(Route.DEL_RULE, None, f"/{uuid}", ("deleted", "not found"), gone,
                        f"remove forward {forward.name}")
            self._after_write(Route.APPLY_NAT)

    def _reserve_address(self, reservation: Reservation) -> None:
        rows = self._reservation_rows()
        if any(r.address == reservation.address and r.mac == reservation.mac for _, _, r in rows):
            return
        if not self._subnet:
            self.get_dhcp_scope()

        def done() -> bool:
            return any(r.address == reservation.address and r.mac == reservation.mac
                       for _, _, r in self._reservation_rows())

        self._write(Route.ADD_RESERVATION, {"reservation": reservation_to_record(reservation, self._subnet)}, "",
                    ("saved",), done, f"reserve {reservation.address}")
        self._after_write(Route.KEA_RECONFIGURE)

    def _release_address(self, reservation: Reservation) -> None:
        for uuid, _, found in self._reservation_rows():
            if (found.address, found.mac) != (reservation.address, reservation.mac):
                continue

            def gone(uuid: str = uuid) -> bool:
                return all(u != uuid for u, _, _ in self._reservation_rows())

            self._write(Route.DEL_RESERVATION, None, f"/{uuid}", ("deleted", "not found"), gone,
                        f"release {reservation.address}")
            self._after_write(Route.KEA_RECONFIGURE)

