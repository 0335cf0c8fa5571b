"""The driver registry: entry points, register(), conflicts, lazy loading."""

from __future__ import annotations

import subprocess
import sys

import pytest
from routerfix.drivers.memory import MemoryDriver

import routerfix
from routerfix.registry import DriverRegistry


class OtherDriver(MemoryDriver):
    name = "other"


def test_builtin_drivers_come_from_entry_points() -> None:
    reg = DriverRegistry()
    names = reg.names()
    assert "memory" in names
    assert reg.get("memory") is MemoryDriver


def test_register_conflicts_and_deregister() -> None:
    reg = DriverRegistry()
    reg.register("other", OtherDriver)
    reg.register("other", OtherDriver)  # the same class again is fine
    with pytest.raises(routerfix.DriverConflict):
        reg.register("other", MemoryDriver)
    with pytest.raises(routerfix.DriverConflict, match="entry point"):
        reg.register("memory", OtherDriver)
    assert reg.get("other") is OtherDriver
    reg.deregister("other")
    with pytest.raises(routerfix.DriverNotFound, match="known drivers: .*memory"):
        reg.get("other")
    with pytest.raises(routerfix.DriverNotFound):
        reg.deregister("other")


def test_register_rejects_non_drivers_and_bad_names() -> None:
    reg = DriverRegistry()
    with pytest.raises(routerfix.InvalidValue):
        reg.register("x", object)  # type: ignore[arg-type]
    with pytest.raises(routerfix.InvalidValue):
        reg.register("bad name!", OtherDriver)


def test_listing_drivers_imports_none_of_them() -> None:
    code = ("import sys, routerfix; names = routerfix.list_drivers(); "
            "print(len(names), [m for m in sys.modules if m.startswith('routerfix.drivers.')])")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    count, loaded = out.split(" ", 1)
    assert int(count) >= 1 and loaded.strip() == "[]"


def test_public_register_and_connect() -> None:
    routerfix.register("other", OtherDriver)
    try:
        with routerfix.connect("other", "h", password="admin") as d:
            assert isinstance(d, OtherDriver) and d.is_open
        assert not d.is_open
    finally:
        routerfix.registry.deregister("other")
