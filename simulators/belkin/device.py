"""A simulated Belkin router (F9K1102 v2, Arcadyan firmware 2.00.09) on 127.0.0.1, plain HTTP.

Follows the fact table ``docs/facts/belkin.md`` (rows ``B<n>``), never the driver: it imports no driver code.

* Login page ``/login.stm`` with a form posting ``pws``, ``arc_action=login`` and ``action=Submit`` to
  ``/login.cgi`` (B1, B2); ``pws`` is the MD5 of the password, computed by the page (B3, inferred from the
  password-hash disclosure); a failed login names ``loginpserr.stm`` (B4).
* Settings are ``POST /apply.cgi`` with ``page=…&location_page=<page>.stm&…&arc_action=Apply+Changes`` (B5).
* The model and firmware appear in the login page's script (``var modelName``/``var firmwareVersion``, B6,
  inferred).
* No port-forwarding page is known for Belkin (B7): routerfix's verdict for Belkin is to replace the router, so
  this simulator only has to be recognisable and to record whether anything tried to log in or apply
  (``handle.logins``, ``handle.applies``).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from routerfix.simulate import SimulatedDevice

from .._hosts.http import HttpSimulator, SimRequest, SimResponse

__all__ = ["BelkinRouter", "simulate"]

SIM_PASSWORD = "belkin-Pa55"  # noqa: S105 - the simulator's own test credential
"""The password the simulator accepts."""


class BelkinRouter:
    """The device model: a login page, ``login.cgi`` and ``apply.cgi`` that record their use."""

    def __init__(self, *, model: str = "F9K1102", firmware: str = "2.00.09", password: str = SIM_PASSWORD) -> None:
        self.model, self.firmware, self.password = model, firmware, password
        self.logins: list[dict[str, str]] = []
        self.applies: list[dict[str, str]] = []
        self.http: HttpSimulator | None = None
        """The server (set by :func:`simulate`)."""
        self.lock = threading.Lock()

    def _login_page(self) -> str:
        return (f"<html><head><title>Belkin Router Setup Utility</title><script>var modelName=\"{self.model}\";"
                f"var firmwareVersion=\"{self.firmware}\";</script></head><body>"
                "<form name='tF' method='post' action='login.cgi'>"
                "<input type='hidden' name='page' value='login'><input type='hidden' name='arc_action' value='login'>"
                "<input type='password' name='pws' maxlength='64'>"
                "<input type='submit' name='action' value='Submit'></form></body></html>")

    def handle(self, req: SimRequest) -> SimResponse:
        """Answer one HTTP request."""
        with self.lock:
            if req.path in ("/", "/index.stm", "/login.stm") and req.method == "GET":
                return SimResponse(200, self._login_page())
            if req.path == "/login.cgi" and req.method == "POST":
                self.logins.append(dict(req.form))
                digest = hashlib.md5(self.password.encode()).hexdigest()  # noqa: S324 - the firmware's scheme (B3)
                if req.form.get("pws") != digest:
                    return SimResponse(200, "<html><head><meta http-equiv='refresh' content='0; url=loginpserr.stm'>"
                                            "</head></html>")
                return SimResponse(302, "").header("Location", "/index.stm")
            if req.path == "/apply.cgi" and req.method == "POST":
                self.applies.append(dict(req.form))
                return SimResponse(200, "<html><body>Settings saved</body></html>")
            if req.path == "/loginpserr.stm":
                return SimResponse(200, "<html><body>Password incorrect</body></html>")
            return SimResponse(404, "<html><body>Not Found</body></html>")


@contextmanager
def simulate(*, model: str = "F9K1102", **_: Any) -> Iterator[SimulatedDevice]:
    """Run a simulated Belkin router on 127.0.0.1 over plain HTTP."""
    router = BelkinRouter(model=model)
    with HttpSimulator(router.handle, tls=False, server_header="httpd") as server:
        router.http = server
        yield SimulatedDevice(driver="belkin", host="127.0.0.1", port=server.port, username="",
                              password=SIM_PASSWORD, options={"scheme": "http"},
                              description=f"Belkin {model} (Arcadyan) at {server.url}", handle=router)
