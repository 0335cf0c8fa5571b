"""The driver bases (routerfix.base) and the layout they stand for: transports below, the contract above.

The web tests run real drivers against their HTTP simulators on 127.0.0.1."""

from __future__ import annotations

import ast
import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import routerfix
from routerfix.base.web import WebDriver
from routerfix.driver import Driver, Timeouts
from routerfix.errors import InvalidValue, ParseError
from routerfix.model import DeviceFacts
from routerfix.secrets import Secret
from routerfix.simulate import SimulatedDevice, simulate
from routerfix.testing import check_open_idempotent

ROOT = Path(__file__).resolve().parents[2]
FAST = Timeouts(connect=3, read=3, apply=3, retry_wait=0)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_transport_imports_the_driver_contract() -> None:
    modules = sorted((ROOT / "routerfix" / "transport").glob("*.py"))
    assert {p.stem for p in modules} >= {"ssh", "ssh_trust", "http", "html", "tls"}
    for path in modules:
        above = {m for m in _imports(path) if m.startswith(("routerfix.driver", "routerfix.base", "routerfix.engine"))}
        assert not above, f"{path.name} imports {above}: transports sit below the driver contract"


def test_web_drivers_take_the_session_from_the_base() -> None:
    for name in ("asuswrt", "att", "belkin", "linksys", "netgear", "tplink", "upnp"):
        assert issubclass(routerfix.get_driver(name), WebDriver), name
        source = (ROOT / "drivers" / name / "driver.py").read_text(encoding="utf-8")
        for repeated in ("HttpSession(", "self.is_open =", "transport_security =", "def open(", "def close("):
            assert repeated not in source, f"{name} still does {repeated!r} itself"


@pytest.fixture
def asus() -> Iterator[SimulatedDevice]:
    with simulate("asuswrt") as device:
        yield device


def _connect(device: SimulatedDevice, **extra: Any) -> Driver:
    return routerfix.connect(device.driver, device.host, **{**device.connect_options(), "timeouts": FAST, **extra})


def test_web_base_logs_in_once_however_often_it_is_opened(asus: SimulatedDevice) -> None:
    driver = _connect(asus)
    assert isinstance(driver, WebDriver)
    try:
        assert driver.is_open and driver.logins == 1
        assert driver.transport_security == "tls-pinned"
        requests = driver.http.stats.requests
        driver.open()
        with driver:
            assert driver.logins == 1 and driver.http.stats.requests == requests, "a second open logged in"
        assert not driver.is_open
        driver.open()
        assert driver.is_open and driver.logins == 2
    finally:
        driver.close()


def test_kit_open_check_passes_on_a_base_driver(asus: SimulatedDevice) -> None:
    driver = _connect(asus)
    try:
        check_open_idempotent(driver)
    finally:
        driver.close()


class _Forgetful(Driver):
    """A driver written without a base: it logs in but forgets ``is_open`` (what the bases now prevent)."""

    name: ClassVar[str] = "forgetful"

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        self.logins = 0

    def open(self) -> None:
        self.logins += 1

    def close(self) -> None:
        self.is_open = False

    def facts(self) -> DeviceFacts:
        return DeviceFacts("toy", "toy")


class _Twice(_Forgetful):
    """Sets ``is_open`` but logs in again on every open()."""

    def open(self) -> None:
        self.logins += 1
        self.is_open = True


@pytest.mark.parametrize("cls", [_Forgetful, _Twice], ids=["forgets-is_open", "logs-in-twice"])
def test_kit_open_check_catches_a_second_login(cls: type[_Forgetful]) -> None:
    driver = cls("192.0.2.1")
    driver.open()
    with pytest.raises(AssertionError, match="log"):
        check_open_idempotent(driver)


def test_failed_detection_closes_the_session() -> None:
    """The Belkin driver reads its login page after the session is up; a page that is not Belkin's closes it."""
    with simulate("asuswrt") as device:
        options = {k: v for k, v in device.connect_options().items() if k not in ("password", "username")}
        driver = routerfix.get_driver("belkin")(device.host, timeouts=FAST, **{**options, "scheme": "https"})
        assert isinstance(driver, WebDriver)
        with pytest.raises(ParseError, match="not a Belkin"):
            driver.open()
        assert not driver.is_open and driver.http._session is None


def test_asuswrt_session_token_is_a_secret_cookie(asus: SimulatedDevice) -> None:
    driver = _connect(asus)
    assert isinstance(driver, WebDriver)
    try:
        driver.read_state()
        cookie = asus.handle.http.requests[-1].headers.get("cookie", "")
        token = cookie.removeprefix("asus_token=")
        assert cookie.startswith("asus_token=") and len(token) > 8
        assert token not in repr(vars(driver.http)) + repr(driver.http.session.cookies)
    finally:
        driver.close()


def test_http_credentials_are_secrets_built_at_send_time(asus: SimulatedDevice) -> None:
    """HttpSession.set_credentials keeps Secrets only; the header reaches the device, never the session's state."""
    driver = _connect(asus)
    assert isinstance(driver, WebDriver)
    try:
        password = Secret("Cred3ntial-Canary")
        with pytest.raises(InvalidValue):
            driver.http.set_credentials(basic=("admin", "plain-text"))  # type: ignore[arg-type]
        driver.http.set_credentials(basic=("admin", password), headers={"X-Token": Secret("tok-Canary9")},
                                    cookies={"sid": Secret("sid-Canary7")})
        driver.http.request("GET", "/appGet.cgi", page="probe", params={"hook": "nvram_get(productid);"})
        seen = asus.handle.http.requests[-1].headers
        token = base64.b64encode(b"admin:Cred3ntial-Canary").decode()
        assert seen.get("authorization") == f"Basic {token}"
        assert seen.get("x-token") == "tok-Canary9"
        assert seen.get("cookie") == "sid=sid-Canary7"  # replaces the driver's own session cookie
        state = repr(vars(driver.http)) + repr(vars(driver.http.session)) + repr(driver.http.session.headers)
        for plain in ("Cred3ntial-Canary", token, "tok-Canary9", "sid-Canary7"):
            assert plain not in state
        driver.http.clear_credentials()
        driver.http.request("GET", "/appGet.cgi", page="probe", params={"hook": "nvram_get(productid);"})
        assert "authorization" not in asus.handle.http.requests[-1].headers
        driver.http.set_credentials(basic=("admin", password))
        driver.close()
        assert driver.http._auth.basic is None, "credentials outlived the session"
    finally:
        driver.close()
