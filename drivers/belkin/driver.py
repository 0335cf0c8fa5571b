"""Belkin (Arcadyan-based F-series) routers: detected, and answered with the replace-the-router verdict.

Facts: ``docs/facts/belkin.md`` (rows ``B<n>``). No Belkin port-forwarding page is known from a public source (B7),
so routerfix cannot send 5060/5061 to an unused address on one. The driver only reads the unauthenticated login
page to recognise the router and its model (B1, B6); it never logs in and never posts anything. That page may
carry the admin password's hash on some firmware (B3): the driver keeps only the model and firmware from it.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from routerfix.base.web import WebDriver
from routerfix.errors import ParseError
from routerfix.model import Capabilities, DeviceFacts, DeviceState, Remedy

__all__ = ["BELKIN_NOTE", "BelkinDriver"]

BELKIN_NOTE = ("Belkin routers have no port forwarding routerfix can set (the seed's finding; no confirmed "
               "virtual-server page exists for them), so scans of 5060/5061 cannot be sent to an unused address; "
               "nothing was changed")
"""Why the verdict is "replace the router"."""


class BelkinDriver(WebDriver):
    """Belkin routers: detection and the replace-the-router verdict. Options: the HTTP options (default
    ``scheme="http"``)."""

    name: ClassVar[str] = "belkin"
    capabilities = Capabilities(remedy=Remedy.REPLACE_ROUTER, notes=(BELKIN_NOTE,))
    default_scheme: ClassVar[str] = "http"

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        self._facts = DeviceFacts("Belkin", "router")

    def _on_open(self) -> None:
        """Fetch ``/login.stm`` (no login) and check it is a Belkin/Arcadyan login page."""
        try:
            page = self.http.get("/login.stm", page="login.stm", check=False, ok_status=(200, 401, 403, 404))
            if page.status != 200:
                raise ParseError("login.stm", f"HTTP {page.status}")
            form = page.form(action="login.cgi")
            form.require("pws", "arc_action")
        except ParseError:
            raise ParseError("login.stm", "not a Belkin (Arcadyan) login page", host=self.host,
                             driver=self.name) from None
        values = page.vars()
        model = values.get("modelName") or next(iter(re.findall(r"\b(F\d[A-Z0-9]{3,10})\b", page.text)), "router")
        self._facts = DeviceFacts("Belkin", model, values.get("firmwareVersion", ""))

    def facts(self) -> DeviceFacts:
        """Model and firmware from the login page's script."""
        return self._facts

    def read_state(self) -> DeviceState:
        """Facts and the verdict capabilities; nothing else is read."""
        return DeviceState(facts=self._facts, capabilities=self.capabilities)
