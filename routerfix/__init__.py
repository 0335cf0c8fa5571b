"""routerfix: stop VoIP ghost calls by fixing the router's NAT from Python.

SIP scanners hit WAN ports 5060/5061 and, through a permissive NAT, ring desk
phones. routerfix forwards those ports, TCP and UDP, to an unused address in
the LAN's DHCP pool (the *sink*), sets NAT filtering as the vendor needs, and
verifies the result, over SSH or the router's web GUI::

    import routerfix

    with routerfix.connect("memory", "demo") as router:
        print(routerfix.plan_ghostcall_mitigation(router).diff())
        result = routerfix.apply_ghostcall_mitigation(router)
        print(result.status, result.plan.sink)

``import routerfix`` is light: drivers and their libraries (netmiko, requests...)
load only when a driver is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from routerfix.driver import Driver, Timeouts
from routerfix.engine import apply_ghostcall_mitigation, remove_ghostcall_mitigation
from routerfix.errors import (
    AuthenticationError,
    ConnectionDropped,
    ConnectTimeout,
    DeviceError,
    DriverConflict,
    DriverNotFound,
    ForwardConflict,
    IncompatibleDevice,
    InvalidValue,
    MitigationError,
    NoFreeAddress,
    ParseError,
    ReadTimeout,
    RegistryError,
    RollbackFailed,
    RouterfixError,
    SessionError,
    StateFileError,
    TransportError,
    TrustError,
    UnsupportedOperation,
    VerificationFailed,
)
from routerfix.model import (
    AddressRange,
    Backup,
    Capabilities,
    DeviceFacts,
    DeviceState,
    DhcpScope,
    Feature,
    Lease,
    NatMode,
    Neighbour,
    PortForward,
    PortRange,
    Protocol,
    Remedy,
    Reservation,
)
from routerfix.planner import MitigationOptions, Plan, plan_ghostcall_mitigation
from routerfix.policy import NatDecision, Phone, find_phones
from routerfix.registry import registry
from routerfix.result import MitigationResult
from routerfix.secrets import Secret

if TYPE_CHECKING:
    from routerfix.enums import ActionKind, FleetOperation, Operation, PortState, ResultStatus
    from routerfix.fleet import FleetReport, run_fleet

__version__ = "0.2.0"

_LAZY = {"FleetReport": "routerfix.fleet", "run_fleet": "routerfix.fleet", "ActionKind": "routerfix.enums",
         "FleetOperation": "routerfix.enums", "Operation": "routerfix.enums", "ResultStatus": "routerfix.enums",
         "PortState": "routerfix.enums"}


def __getattr__(name: str) -> Any:
    """Fleet runs and the enums load on first use, keeping ``import routerfix`` light."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'routerfix' has no attribute {name!r}")

__all__ = [
    "ActionKind", "AddressRange", "AuthenticationError", "Backup", "Capabilities", "ConnectTimeout",
    "ConnectionDropped", "DeviceError", "DeviceFacts", "DeviceState", "DhcpScope", "Driver", "DriverConflict",
    "DriverNotFound", "Feature", "FleetOperation", "FleetReport", "ForwardConflict", "IncompatibleDevice",
    "InvalidValue", "Lease",
    "MitigationError", "MitigationOptions", "MitigationResult", "NatDecision", "NatMode", "Neighbour", "NoFreeAddress",
    "Operation", "ParseError", "Phone", "Plan", "PortForward", "PortRange", "PortState", "Protocol", "ReadTimeout",
    "RegistryError",
    "Remedy", "Reservation", "ResultStatus", "RollbackFailed", "RouterfixError", "Secret", "SessionError",
    "StateFileError", "Timeouts", "TransportError", "TrustError", "UnsupportedOperation", "VerificationFailed",
    "__version__", "apply_ghostcall_mitigation", "connect", "find_phones", "get_driver", "list_drivers",
    "plan_ghostcall_mitigation", "register", "remove_ghostcall_mitigation", "run_fleet",
]


def get_driver(name: str) -> type[Driver]:
    """The driver class registered as ``name`` (imports its module).

    :raises DriverNotFound: no such driver; the message lists the known ones.
    """
    return registry.get(name)


def list_drivers() -> list[str]:
    """Names of every installed driver (built-in and third-party), sorted. Imports no driver."""
    return registry.names()


def register(name: str, driver: type[Driver]) -> None:
    """Register ``driver`` under ``name`` at run time (notebooks, tests, private drivers).

    :raises DriverConflict: another class already holds the name.
    """
    registry.register(name, driver)


def connect(driver_name: str, host: str, **options: Any) -> Driver:
    """Create the named driver for ``host`` and open it; use it as a context manager to close it.

    :param driver_name: a name from :func:`list_drivers`.
    :param host: the device's address or name.
    :param options: ``username``, ``password`` (str or :class:`Secret`), ``port``, ``timeouts``
        (:class:`Timeouts`) and the driver's own options (:attr:`Driver.option_names`).
    :raises AuthenticationError: bad credentials (tried once).
    :raises TrustError: unknown host key or certificate; the message says how to trust it.
    """
    driver = get_driver(driver_name)(host, **options)
    try:
        driver.open()
    except BaseException:
        driver.close()
        raise
    return driver
