"""Nornir connection plugin: ``host.get_connection("routerfix", nr.config)`` returns an open routerfix driver.

Registered through the ``nornir.plugins.connections`` entry point as ``routerfix``, so it needs
no code to enable. The driver name is the host's ``platform`` (or
``connection_options.routerfix.platform``); ``connection_options.routerfix.extras`` are the driver's
options. Two extras are handled here and not passed on: ``password_env`` and ``password_file``
(credentials by reference, used when the host has no password), and ``timeouts``
(``{connect: 5, read: 20}``). The task functions in :mod:`routerfix.integrations.nornir_tasks`
also read ``data.password_env``/``data.password_file``, as ``routerfix fleet`` does.

This module imports nornir; ``import routerfix`` never imports it.
"""

from __future__ import annotations

from typing import Any

from nornir.core.configuration import Config

from routerfix.driver import Driver, Timeouts
from routerfix.errors import InvalidValue
from routerfix.inventory import CONNECTION_NAME, resolve_password

__all__ = ["CONNECTION_NAME", "RouterfixConnection"]


class RouterfixConnection:
    """A Nornir ``ConnectionPlugin`` whose :attr:`connection` is an open :class:`routerfix.Driver`."""

    def __init__(self) -> None:
        self._driver: Driver | None = None

    @property
    def connection(self) -> Driver:
        """The open driver (one session to one device; Nornir keeps one per host)."""
        if self._driver is None:
            raise InvalidValue("connection", None, "an opened routerfix connection (call open first)")
        return self._driver

    def open(self, hostname: str | None, username: str | None, password: str | None, port: int | None,
             platform: str | None, extras: dict[str, Any] | None = None,
             configuration: Config | None = None) -> None:
        """Connect with :func:`routerfix.connect` (``platform`` is the driver name)."""
        import routerfix

        options = dict(extras or {})
        password_env = options.pop("password_env", None)
        password_file = options.pop("password_file", None)
        timeouts = options.pop("timeouts", None)
        if not platform:
            raise InvalidValue("platform", platform, "a routerfix driver name (set the host's platform)")
        if not hostname:
            raise InvalidValue("hostname", hostname, "the device's address")
        secret = resolve_password(hostname, password=password, password_env=password_env,
                                  password_file=password_file)
        if timeouts is not None:
            options["timeouts"] = timeouts if isinstance(timeouts, Timeouts) else Timeouts(**timeouts)
        self._driver = routerfix.connect(platform, hostname, username=username, password=secret, port=port,
                                         **options)

    def close(self) -> None:
        """Close the session (safe to call twice)."""
        if self._driver is not None:
            self._driver.close()
