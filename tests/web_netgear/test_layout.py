"""The Netgear families are classes over a shared base; the driver takes its session from the web base."""

from __future__ import annotations

from pathlib import Path

import routerfix
from routerfix.base.web import WebDriver

ROOT = Path(__file__).resolve().parents[2] / "drivers" / "netgear"


def test_netgear_takes_the_session_from_the_web_base() -> None:
    assert issubclass(routerfix.get_driver("netgear"), WebDriver)
    source = (ROOT / "driver.py").read_text(encoding="utf-8")
    for repeated in ("HttpSession(", "self.is_open =", "transport_security =", "def open(", "def close("):
        assert repeated not in source, f"netgear still does {repeated!r} itself"


def test_no_family_branches() -> None:
    from routerfix.drivers.netgear.acos import AcosFamily
    from routerfix.drivers.netgear.driver import NetgearFamily
    from routerfix.drivers.netgear.netcgi import NetCgiFamily

    assert issubclass(AcosFamily, NetgearFamily) and issubclass(NetCgiFamily, NetgearFamily)
    assert not AcosFamily.models & NetCgiFamily.models
    for path in ROOT.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "family ==" not in text and "family !=" not in text and "FamilyName.ACOS:" not in text, path.name
