"""Built-in simulated routers: every driver that ships a simulator names it in
:attr:`routerfix.Driver.simulator`, and :func:`simulate` starts it.

A simulator is a context manager yielding a :class:`SimulatedDevice`: where it
listens (always 127.0.0.1), the credentials it accepts and the driver options
needed to trust it (a pinned host key or certificate). The demo and the tests
use these.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from routerfix.errors import UnsupportedOperation

__all__ = ["SimulatedDevice", "simulate", "simulators"]


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


def simulators() -> list[str]:
    """Names of drivers that ship a simulator."""
    from routerfix import get_driver, list_drivers

    names = []
    for name in list_drivers():
        try:
            if get_driver(name).simulator:
                names.append(name)
        except Exception:
            logging.getLogger("routerfix.simulate").warning("driver %s failed to load", name, exc_info=True)
    return names


@contextmanager
def simulate(driver_name: str, **knobs: Any) -> Iterator[SimulatedDevice]:
    """Start the simulator of ``driver_name`` on 127.0.0.1 and stop it on exit."""
    from routerfix import get_driver

    target = get_driver(driver_name).simulator
    if not target:
        raise UnsupportedOperation(f"driver {driver_name!r} ships no simulator", driver=driver_name)
    module_name, _, attr = target.partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    with factory(**knobs) as device:
        yield device
