"""docs/writing-a-driver.md: its examples run, show both bases (SSHDriver, WebDriver) and pass the conformance
kit's checks; the web example opens against an HTTP server on 127.0.0.1 and logs in once however often opened."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from routerfix.simulators._hosts.http import HttpSimulator, SimRequest, SimResponse

from routerfix.base.ssh import SSHDriver
from routerfix.base.web import WebDriver
from routerfix.driver import Driver, Timeouts
from routerfix.testing import check_open_idempotent, check_signatures

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "writing-a-driver.md"


def _examples() -> dict[str, Any]:
    names: dict[str, Any] = {}
    for block in re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S):
        exec(compile(block, str(GUIDE), "exec"), names)  # noqa: S102 - the project's own documentation
    return names


@pytest.fixture(scope="module")
def drivers() -> dict[type[Driver], type[Driver]]:
    """The guide's driver classes by the base they build on."""
    classes = [v for v in _examples().values() if isinstance(v, type) and issubclass(v, Driver)
               and v not in (Driver, SSHDriver, WebDriver)]
    return {base: cls for base in (SSHDriver, WebDriver) for cls in classes if issubclass(cls, base)}


def test_the_guide_shows_both_bases_and_they_pass_the_signature_check(drivers: dict[type[Driver], Any]) -> None:
    assert set(drivers) == {SSHDriver, WebDriver}
    for cls in drivers.values():
        check_signatures(cls)


@pytest.fixture(scope="module")
def web_device() -> Iterator[HttpSimulator]:
    def handle(req: SimRequest) -> SimResponse:
        pages = {"/index.htm": "<html>start</html>", "/status.htm": "<script>var model = 'AW-1';</script>",
                 "/logout.htm": "<html>bye</html>"}
        return SimResponse(200, pages[req.path]) if req.path in pages else SimResponse(404, "not found")

    with HttpSimulator(handle) as server:
        yield server


def test_the_web_example_opens_once_and_passes_the_kit_open_check(drivers: dict[type[Driver], Any],
                                                                  web_device: HttpSimulator) -> None:
    driver = drivers[WebDriver]("127.0.0.1", port=web_device.port, password="pw",
                                timeouts=Timeouts(connect=3, read=3, apply=3, retry_wait=0))
    try:
        driver.open()
        assert driver.model == "AW-1" and driver.logins == 1
        check_open_idempotent(driver)
        assert driver.logins == 2  # once at first, once more after close() and open()
    finally:
        driver.close()
    assert [r.path for r in web_device.requests].count("/logout.htm") == 2
