"""Built-in simulated routers, one subpackage per driver, found through the entry-point group
``routerfix.simulators`` (a third-party driver can ship its own simulator the same way).

A simulator is a context manager yielding a :class:`SimulatedDevice`: where it
listens (always 127.0.0.1), the credentials it accepts and the driver options
needed to trust it (a pinned host key or certificate). The demo and the tests
use these. The SSH simulators need the ``sim`` extra (``pip install 'routerfix[sim]'``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from routerfix.errors import UnsupportedOperation

__all__ = ["ENTRY_POINT_GROUP", "SimulatedDevice", "simulate", "simulator_factory", "simulators"]

ENTRY_POINT_GROUP = "routerfix.simulators"
SIM_EXTRA_HINT = "pip install 'routerfix[sim]'"


@dataclass(frozen=True)
class SimulatedDevice:
    """Where a simulated router listens and how to connect to it."""

    driver: str
    host: str
    username: str
    password: str = field(repr=False)
    port: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    handle: Any = field(default=None, repr=False, compare=False)
    """The simulator object itself (for fault knobs and inspection in tests)."""

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`routerfix.connect` (besides driver name and host)."""
        opts: dict[str, Any] = {"username": self.username, "password": self.password, **self.options}
        if self.port is not None:
            opts["port"] = self.port
        return opts

    def cli_args(self) -> list[str]:
        """The connection arguments of a ``routerfix`` command for this device: ``--driver``, ``--host``,
        ``--port`` and ``--username`` where set, ``-o KEY=VALUE`` per option (JSON unless a string). The password
        is not among them: it goes in the environment."""
        import json

        argv = ["--driver", self.driver, "--host", self.host]
        if self.port:
            argv += ["--port", str(self.port)]
        if self.username:
            argv += ["--username", self.username]
        for key, value in self.options.items():
            argv += ["-o", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
        return argv


def simulators() -> list[str]:
    """Names of drivers that ship a simulator (no simulator is imported)."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def simulator_factory(driver_name: str) -> Callable[..., AbstractContextManager[SimulatedDevice]]:
    """The simulator factory registered for ``driver_name``; a clear error when there is none, or when the
    simulator needs a library that is not installed."""
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == driver_name]
    if not found:
        raise UnsupportedOperation(f"driver {driver_name!r} ships no simulator (simulators: "
                                   f"{', '.join(simulators()) or 'none'})", driver=driver_name)
    try:
        factory: Callable[..., AbstractContextManager[SimulatedDevice]] = found[0].load()
    except ModuleNotFoundError as exc:
        raise _missing_library(driver_name, exc) from None
    return factory


def _missing_library(driver_name: str, exc: ModuleNotFoundError) -> UnsupportedOperation:
    """The error for a simulator whose optional library is not installed (a missing routerfix module is a bug:
    re-raised as it is)."""
    if (exc.name or "").split(".")[0] in ("", "routerfix"):
        raise exc
    logging.getLogger("routerfix.simulators").debug("simulator %s needs %s", driver_name, exc.name, exc_info=True)
    return UnsupportedOperation(f"the {driver_name} simulator needs the library {exc.name!r}, which is not installed: "
                                f"{SIM_EXTRA_HINT}", driver=driver_name)


@contextmanager
def simulate(driver_name: str, **knobs: Any) -> Iterator[SimulatedDevice]:
    """Start the simulator of ``driver_name`` on 127.0.0.1 and stop it on exit."""
    factory = simulator_factory(driver_name)
    with ExitStack() as stack:
        try:
            device = stack.enter_context(factory(**knobs))
        except ModuleNotFoundError as exc:  # SSH simulators import asyncssh when the first device starts
            raise _missing_library(driver_name, exc) from None
        yield device
