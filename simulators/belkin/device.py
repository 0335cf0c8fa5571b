"""A simulated Belkin router (F9K1102 v2, Arcadyan firmware 2.00.09) on 127.0.0.1, plain HTTP.

Facts reproduced, from ``/work/shared/research/consumer-web.md`` §5 ([C] confirmed there, [I] inferred):

* Login page ``/login.stm`` with a form posting ``pws=<value>&arc_action=login&action=Submit`` to
  ``/login.cgi``; a failed login lands on ``loginpserr.stm`` [C] (routersploit belkin modules).
* Settings are ``POST /apply.cgi`` with ``page=…&location_page=<page>.stm&…&arc_action=Apply+Changes`` [C].
* The model and firmware appear in the login page's script (``var modelName``/``var firmwareVersion``) [I].
* Port forwarding on Belkin is guesswork (no confirmed capture) [C: research verdict]; routerfix's verdict for
  Belkin is to replace the router (the seed), so this simulator only has to be recognisable and to record
  whether anything tried to log in or apply (``handle.logins``, ``handle.applies``).
"""

from __future__ import annotations

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
                if req.form.get("pws") != self.password:
                    return SimResponse(302, "").header("Location", "/loginpserr.stm")
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
