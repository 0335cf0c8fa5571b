"""What every TP-Link firmware flavour offers the registered driver: the session hooks and the verbs, over the
driver's one HTTP session. :mod:`.legacy` and :mod:`.modern` hold the flavours."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from routerfix.errors import UnsupportedOperation
from routerfix.model import Capabilities, DeviceFacts, DeviceState, DhcpScope, Lease, PortForward, Reservation
from routerfix.secrets import Secret
from routerfix.transport.http import HttpSession

__all__ = ["Flavour", "Session", "TplinkFirmware"]


class Flavour(StrEnum):
    """The TP-Link web GUIs the driver tells apart."""

    LEGACY_HEADER = "legacy-header"
    """``/userRpm/`` with HTTP Basic credentials in a header (T1, T2)."""
    LEGACY_COOKIE = "legacy-cookie"
    """``/userRpm/`` with an ``Authorization`` cookie and a session URL prefix (T3)."""
    ARCHER = "archer"
    """Archer LuCI with the encrypted login (T18): detected only."""


@dataclass(frozen=True)
class Session:
    """The driver's connection details a flavour works with."""

    http: HttpSession
    host: str
    driver: str
    username: str | None
    password: Secret | None


class TplinkFirmware:
    """One firmware flavour. Subclasses set :attr:`flavour` and :attr:`capabilities` and implement the hooks
    they support; the rest are unsupported."""

    flavour: ClassVar[Flavour]
    capabilities: ClassVar[Capabilities]

    def __init__(self, session: Session) -> None:
        self.session = session
        self.http = session.http
        self.host = session.host
        self.name = session.driver

    def _unsupported(self, what: str) -> UnsupportedOperation:
        return UnsupportedOperation(f"{what} is not supported on this firmware", host=self.host, driver=self.name)

    # --- session ---

    def login(self) -> None:
        """Log in (or check the credentials)."""

    def logout(self) -> None:
        """Log out where the firmware has a session."""

    # --- reads ---

    def facts(self) -> DeviceFacts:
        """Model and firmware."""
        raise self._unsupported("reading the model")

    def read_state(self) -> DeviceState:
        """Everything the planner needs."""
        return DeviceState(facts=self.facts(), capabilities=self.capabilities)

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """What verification compares."""
        return self.read_state()

    def dhcp_scope(self) -> DhcpScope:
        """The DHCP scope."""
        raise self._unsupported("reading the DHCP scope")

    def leases(self) -> tuple[Lease, ...]:
        """The DHCP leases."""
        raise self._unsupported("listing DHCP leases")

    def port_forwards(self) -> tuple[PortForward, ...]:
        """The port forwards."""
        raise self._unsupported("listing port forwards")

    # --- writes ---

    def add_port_forward(self, forward: PortForward) -> None:
        """Add ``forward``."""
        raise self._unsupported("port forwarding")

    def remove_port_forward(self, forward: PortForward) -> None:
        """Remove ``forward``."""
        raise self._unsupported("port forwarding")

    def reserve_address(self, reservation: Reservation) -> None:
        """Add ``reservation``."""
        raise self._unsupported("DHCP reservations")

    def release_address(self, reservation: Reservation) -> None:
        """Remove ``reservation``."""
        raise self._unsupported("DHCP reservations")
