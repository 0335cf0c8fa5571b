"""Bounded input: inventories that expand through YAML aliases, and what error messages echo."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from routerfix.inventory import InventoryError, load_inventory

BOMB = """\
r1:
  hostname: 10.0.0.1
  platform: memory
  data:
    a: &a ["x","x","x","x","x","x","x","x","x"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_an_alias_bomb_inventory_is_refused_quickly_and_small(tmp_path: Path) -> None:
    (tmp_path / "hosts.yaml").write_text(BOMB)
    assert len(BOMB.encode()) < 700
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(InventoryError, match="YAML nodes through its aliases"):
            load_inventory(tmp_path)
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024 and elapsed < 15, (elapsed, peak)  # before: 26 s and 2.2 GB


def test_ordinary_anchors_still_work(tmp_path: Path) -> None:
    (tmp_path / "hosts.yaml").write_text(
        "base: &base {platform: memory, username: admin}\n"
        "r1: {hostname: 10.0.0.1, <<: *base}\n"
        "r2: {hostname: 10.0.0.2, <<: *base}\n".replace("base: &base", "r0: &base").replace(
            "{platform: memory, username: admin}", "{hostname: 10.0.0.9, platform: memory, username: admin}"))
    inventory = load_inventory(tmp_path)
    assert sorted(inventory.names()) == ["r0", "r1", "r2"]


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    (tmp_path / "hosts.yaml").write_text("r1: &r\n  hostname: 10.0.0.1\n  platform: memory\n  data: {self: *r}\n")
    with pytest.raises(InventoryError, match="has a recursive alias"):
        load_inventory(tmp_path)


def test_an_inventory_error_echoes_a_bounded_host_name(tmp_path: Path) -> None:
    name = "h" * 100_000
    (tmp_path / "hosts.yaml").write_text(f"{name}:\n  hostname: 10.0.0.1\n  platform: 12\n")
    with pytest.raises(InventoryError) as caught:
        load_inventory(tmp_path)
    assert len(str(caught.value)) < 1000
