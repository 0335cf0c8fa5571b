"""The routerfix exception tree.

Every error routerfix raises is a :class:`RouterfixError`. Leaves also subclass
the matching builtin, so callers can catch them either way (the pattern of
``requests.exceptions``)::

    RouterfixError
    ├── InvalidValue (ValueError)           a value failed validation; names field and value
    ├── RegistryError
    │   ├── DriverNotFound (LookupError)
    │   └── DriverConflict
    ├── UnsupportedOperation (NotImplementedError)
    ├── TransportError (ConnectionError)    the wire failed
    │   ├── ConnectTimeout (TimeoutError)
    │   ├── ReadTimeout (TimeoutError)
    │   ├── ConnectionDropped
    │   └── IncompatibleDevice               no SSH version or algorithm in common; never retried
    ├── AuthenticationError (PermissionError)  never retried: it locks accounts
    ├── TrustError                           host key / TLS certificate not trusted
    ├── SessionError                         another admin logged in, session expired
    ├── DeviceError                          the device refused a command; carries its own message
    ├── ParseError                           device output was not what the parser knows
    ├── DeviceBusy                           another routerfix run holds the device; nothing was changed
    ├── MitigationError
    │   ├── NoFreeAddress
    │   ├── ForwardConflict                  5060/5061 already forwarded to a host in use
    │   ├── VerificationFailed               read-back after apply did not match the plan
    │   └── RollbackFailed                   the device could not be put back; see .report
    └── StateFileError                       a saved result/undo record is unusable

Errors carry ``host`` and ``driver`` where known, and never a secret.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "ConnectTimeout",
    "ConnectionDropped",
    "DeviceBusy",
    "DeviceError",
    "DriverConflict",
    "DriverNotFound",
    "ForwardConflict",
    "IncompatibleDevice",
    "InvalidValue",
    "MitigationError",
    "NoFreeAddress",
    "ParseError",
    "ReadTimeout",
    "RegistryError",
    "RollbackFailed",
    "RouterfixError",
    "SessionError",
    "StateFileError",
    "TransportError",
    "TrustError",
    "UnsupportedOperation",
    "VerificationFailed",
]


class RouterfixError(Exception):
    """Root of every error routerfix raises.

    :param message: what went wrong and, where there is one, how to fix it.
    :param host: the device's host, when the error concerns one device.
    :param driver: the driver name, when known.
    """

    def __init__(self, message: str, *, host: str | None = None, driver: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.host = host
        self.driver = driver

    def __str__(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in (("driver", self.driver), ("host", self.host)) if v)
        return f"{self.message} [{where}]" if where else self.message

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description: the error class, message, host and driver."""
        return {"error": type(self).__name__, "message": self.message, "host": self.host, "driver": self.driver}


class InvalidValue(RouterfixError, ValueError):
    """A value failed validation before anything reached a device.

    :param field: the name of the offending field (``"external_ports"``, ``"name"``...).
    :param value: the rejected value (shown with ``repr``; never a secret field).
    :param expected: what would have been accepted, phrased as the fix.
    """

    def __init__(self, field: str, value: object, expected: str) -> None:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"invalid {field}: {shown}; expected {expected}")
        self.field = field
        self.value = value
        self.expected = expected


class RegistryError(RouterfixError):
    """A driver could not be registered or found."""


class DriverNotFound(RegistryError, LookupError):
    """No driver is registered under the requested name."""


class DriverConflict(RegistryError):
    """A different driver is already registered under the same name."""


class UnsupportedOperation(RouterfixError, NotImplementedError):
    """The driver (or this device model/firmware) cannot do what was asked.

    Check :attr:`routerfix.Driver.capabilities` before calling optional verbs.
    """


class TransportError(RouterfixError, ConnectionError):
    """The connection to the device failed (refused, reset, dropped).

    Transport errors raised while *connecting* are retried with back-off; a
    transport error during a write is never retried blindly: the engine
    re-reads the device and decides.
    """


class ConnectTimeout(TransportError, TimeoutError):
    """The device did not accept a connection in time."""


class ReadTimeout(TransportError, TimeoutError):
    """The device did not answer a command or request in time."""


class ConnectionDropped(TransportError):
    """An established session was closed by the device or the network."""


class IncompatibleDevice(TransportError):
    """The device and this client share no SSH protocol version, or no algorithm of a kind (key exchange, host
    key, cipher, MAC). Never retried: trying again changes nothing; the message says what to change."""


class AuthenticationError(RouterfixError, PermissionError):
    """The device refused the credentials. Never retried: retries lock accounts."""


class TrustError(RouterfixError):
    """The device's SSH host key or TLS certificate is not trusted.

    The message says how to trust it deliberately (``known_hosts``,
    ``host_key_fingerprint``, ``tls_fingerprint`` options).
    """


class SessionError(RouterfixError):
    """The device's admin session is unavailable: another admin is logged in,
    or the session or page token expired and could not be renewed."""


class DeviceError(RouterfixError):
    """The device refused an operation. ``device_message`` holds its own words."""

    def __init__(
        self,
        message: str,
        *,
        device_message: str = "",
        host: str | None = None,
        driver: str | None = None,
    ) -> None:
        super().__init__(message if not device_message else f"{message}: {device_message}", host=host, driver=driver)
        self.device_message = device_message


class ParseError(RouterfixError, ValueError):
    """Device output (CLI text, HTML page, JSON) was not in a known format.

    ``source`` names the command or page that produced it.
    """

    def __init__(self, source: str, detail: str, *, host: str | None = None, driver: str | None = None) -> None:
        super().__init__(f"could not parse {source}: {detail}", host=host, driver=driver)
        self.source = source
        self.detail = detail


class DeviceBusy(RouterfixError):
    """Another routerfix run is working on the same device (driver, host and port) on this machine."""


class MitigationError(RouterfixError):
    """The ghost-call mitigation could not be planned or applied."""


class NoFreeAddress(MitigationError):
    """The DHCP pool holds no address that is safe to use as the sink. Nothing was changed."""


class ForwardConflict(MitigationError):
    """WAN 5060/5061 are already forwarded to a host in use (a LAN PBX?).

    Nothing was changed. Pass ``replace_conflicting=True`` (CLI
    ``--replace-conflicting``) only if that forward is known to be unwanted.
    """

    def __init__(self, message: str, *, rules: tuple[str, ...] = (), host: str | None = None,
                 driver: str | None = None) -> None:
        super().__init__(message, host=host, driver=driver)
        self.rules = rules


class VerificationFailed(MitigationError):
    """Reading the device back after applying did not show the planned state."""


class RollbackFailed(MitigationError):
    """A failed apply could not be rolled back; ``report`` lists what is left."""

    def __init__(self, message: str, *, report: tuple[str, ...] = (), host: str | None = None,
                 driver: str | None = None) -> None:
        super().__init__(message, host=host, driver=driver)
        self.report = report


class StateFileError(RouterfixError, ValueError):
    """A saved result or undo record could not be read or does not fit this device."""
