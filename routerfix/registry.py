"""The driver registry: entry points plus explicit registration (modelled on Nornir's PluginRegister).

Built-in drivers and third-party plugins alike are found through the
``routerfix.drivers`` entry-point group. :func:`register` adds a driver at run
time (notebooks, tests). Registering a *different* class under a taken name
raises :class:`~routerfix.errors.DriverConflict`. Entry points are loaded only
when their driver is asked for, so listing drivers imports none of them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from routerfix.errors import DriverConflict, DriverNotFound, InvalidValue, RegistryError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from routerfix.driver import Driver

__all__ = ["ALIASES", "ENTRY_POINT_GROUP", "DriverRegistry", "registry"]

ENTRY_POINT_GROUP = "routerfix.drivers"

ALIASES: dict[str, str] = {
    # netmiko device_type / NAPALM driver / Nornir platform -> routerfix driver, so existing inventories work
    "mikrotik_routeros": "mikrotik",
    "routeros": "mikrotik",
    "ios": "cisco_ios",
    "cisco_xe": "cisco_ios",
    "vyatta_vyos": "vyos",
    "ubiquiti_edgerouter": "edgeos",
}
"""Other tools' platform names for routerfix drivers; a driver registered under the name itself wins."""


class DriverRegistry:
    """Driver classes by name, fed by an entry-point group and :meth:`register`."""

    def __init__(self, group: str = ENTRY_POINT_GROUP) -> None:
        self.group = group
        self._lock = threading.RLock()
        self._loaded: dict[str, type[Driver]] = {}
        self._pending: dict[str, EntryPoint] = {}
        self._scanned = False

    def auto_register(self) -> None:
        """Read the entry-point group (once; again after :meth:`reset`). Two distributions offering
        different targets under one name raise :class:`DriverConflict`."""
        with self._lock:
            if self._scanned:
                return
            from importlib.metadata import entry_points  # lazy: it costs ~15 ms at import

            for ep in entry_points(group=self.group):
                other = self._pending.get(ep.name)
                if other is not None and other.value != ep.value:
                    raise DriverConflict(f"driver {ep.name!r} is offered by both {other.value} and {ep.value}")
                if ep.name not in self._loaded:
                    self._pending[ep.name] = ep
            self._scanned = True

    def register(self, name: str, driver: type[Driver]) -> None:
        """Register ``driver`` under ``name``. Re-registering the same class is allowed."""
        from routerfix.driver import Driver

        if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
            raise InvalidValue("driver name", name, "letters, digits, '_' and '-'")
        if not (isinstance(driver, type) and issubclass(driver, Driver)):
            raise InvalidValue("driver", driver, "a subclass of routerfix.Driver")
        with self._lock:
            self.auto_register()
            existing = self._loaded.get(name)
            if existing is not None and existing is not driver:
                raise DriverConflict(f"driver {name!r} is already registered as {existing.__module__}."
                                     f"{existing.__qualname__}")
            pending = self._pending.get(name)
            if pending is not None and pending.value != f"{driver.__module__}:{driver.__qualname__}":
                raise DriverConflict(f"driver {name!r} is already provided by entry point {pending.value}")
            self._pending.pop(name, None)
            self._loaded[name] = driver

    def deregister(self, name: str) -> None:
        """Forget ``name`` (tests and notebooks). Unknown names raise :class:`DriverNotFound`."""
        with self._lock:
            self.auto_register()
            if self._loaded.pop(name, None) is None and self._pending.pop(name, None) is None:
                raise DriverNotFound(f"no driver named {name!r}")

    def get(self, name: str) -> type[Driver]:
        """The driver class registered under ``name``, importing its module if needed."""
        from routerfix.driver import Driver

        with self._lock:
            self.auto_register()
            if name not in self._loaded and name not in self._pending:
                name = ALIASES.get(name, name)
            if name in self._loaded:
                return self._loaded[name]
            ep = self._pending.get(name)
            if ep is None:
                known = ", ".join(self.names()) or "none installed"
                raise DriverNotFound(f"no driver named {name!r}; known drivers: {known}")
            try:
                cls: Any = ep.load()
            except ImportError as exc:
                raise RegistryError(f"driver {name!r} ({ep.value}) failed to import: {exc}") from exc
            if not (isinstance(cls, type) and issubclass(cls, Driver)):
                raise RegistryError(f"entry point {ep.value} for driver {name!r} is not a routerfix.Driver")
            self._loaded[name] = cls
            del self._pending[name]
            return cls

    def names(self) -> list[str]:
        """Every registered driver name, sorted; imports nothing."""
        with self._lock:
            self.auto_register()
            return sorted({*self._loaded, *self._pending})

    def describe(self) -> list[dict[str, str]]:
        """Name and target (``module:Class``) of each driver, without importing any."""
        with self._lock:
            self.auto_register()
            rows = [{"name": n, "target": f"{c.__module__}:{c.__qualname__}"} for n, c in self._loaded.items()]
            rows += [{"name": n, "target": ep.value} for n, ep in self._pending.items()]
            return sorted(rows, key=lambda r: r["name"])

    def reset(self) -> None:
        """Drop everything and rescan entry points on next use."""
        with self._lock:
            self._loaded.clear()
            self._pending.clear()
            self._scanned = False


registry = DriverRegistry()
"""The process-wide registry used by :func:`routerfix.connect`."""
