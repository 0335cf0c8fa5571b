"""netmiko / NAPALM / Nornir platform names select the routerfix driver, so existing inventories work unchanged."""

from __future__ import annotations

import pytest

from routerfix.registry import ALIASES, registry


@pytest.mark.parametrize(("alias", "driver"), [("mikrotik_routeros", "mikrotik"), ("routeros", "mikrotik"),
                                               ("cisco_ios", "cisco_ios"), ("ios", "cisco_ios"), ("vyos", "vyos"),
                                               ("ubiquiti_edgerouter", "edgeos"), ("edgeos", "edgeos"),
                                               ("linux", "linux"), ("openwrt", "openwrt")])
def test_platform_names_resolve(alias: str, driver: str) -> None:
    assert registry.get(alias) is registry.get(driver)


def test_aliases_point_at_installed_drivers_and_never_shadow_one() -> None:
    names = set(registry.names())
    assert set(ALIASES.values()) <= names
    assert not set(ALIASES) & names
