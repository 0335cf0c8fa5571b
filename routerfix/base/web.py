"""The web driver base: one HTTP session per device (:mod:`routerfix.transport.http`), opened, logged in and closed
for the driver, with ``is_open`` and ``transport_security`` kept right.

Driver authors subclass :class:`WebDriver`, set the class attributes that differ (``default_scheme``,
``default_port``, ``default_headers``) and implement only what their device needs:

* :meth:`WebDriver._login` / :meth:`WebDriver._logout` — the device's log-in and log-out (left out: none);
* :meth:`WebDriver._page_checks` — recognisers of the device's "logged out", "another admin", "token expired"
  pages; :meth:`WebDriver._take_over` — take another admin's session over (only when the caller allowed it);
* :meth:`WebDriver._on_open` — what is read once the session is up (detection, the model); it failing closes
  the session; :meth:`WebDriver._on_close` — forget session state once the session is closed.

then use ``self.http`` (:meth:`~routerfix.transport.http.HttpSession.get`, ``post``, ``request``,
``guarded_write``) in the verbs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from routerfix.driver import Driver
from routerfix.secrets import Secret
from routerfix.transport.http import HttpSession, Page, PageChecks
from routerfix.transport.proxy import Proxy
from routerfix.transport.tls import HTTP_OPTION_HELP, HTTP_OPTION_NAMES, HttpOptions

__all__ = ["HTTP_OPTION_NAMES", "WebDriver"]


class WebDriver(Driver):
    """Base class of drivers that talk to a web GUI or an HTTP API. Options: the HTTP options (``scheme``,
    ``verify_tls``, ``tls_fingerprint``, ``ca_file``, ``take_over_session``, ``proxy``); add your own with
    ``HTTP_OPTION_NAMES | {...}``."""

    option_names: ClassVar[frozenset[str]] = HTTP_OPTION_NAMES
    option_help: ClassVar[Mapping[str, str]] = HTTP_OPTION_HELP
    default_scheme: ClassVar[str] = "https"
    """``"https"``, or ``"http"`` for devices that offer nothing else (reported as ``plain-http``)."""
    default_port: ClassVar[int | None] = None
    """TCP port when the caller gives none; ``None``: 443 or 80 by scheme."""
    default_headers: ClassVar[Mapping[str, str]] = {}
    """Headers sent with every request (a ``User-Agent`` the device expects...)."""

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        if isinstance(self.options.get("proxy"), str) and self.options["proxy"]:  # may carry proxy credentials
            self.options = {**self.options, "proxy": Secret(self.options["proxy"])}
        self.http = HttpSession(
            self.host, driver=self.name, timeouts=self.timeouts,
            options=HttpOptions.from_options(self.options, port=self.port or self.default_port,
                                             default_scheme=self.default_scheme),
            checks=self._page_checks(), login=self._hook("_login"), logout=self._hook("_logout"),
            take_over=self._hook("_take_over"), headers=self.default_headers,
            proxy=Proxy.from_option(self.options.get("proxy")))
        self.transport_security = self.http.transport_security

    def _hook(self, name: str) -> Callable[..., None] | None:
        """The bound hook ``name`` when this driver implements it, else None (the session then skips that step,
        so a device without a login counts no login)."""
        mine = getattr(type(self), name)
        return getattr(self, name) if mine is not getattr(WebDriver, name) else None

    # --- hooks for driver authors -----------------------------------------------------------------

    def _page_checks(self) -> PageChecks:
        """Recognisers of this device's session pages (default: none)."""
        return PageChecks()

    def _login(self) -> None:
        """Log in with ``self.http`` (raise :class:`~routerfix.errors.AuthenticationError` on refusal). Called
        once by :meth:`open` and once more after a "logged out" page. Not implemented: no login."""

    def _logout(self) -> None:
        """Log out (errors are logged, never raised). Not implemented: nothing to log out of."""

    def _take_over(self, page: Page) -> None:
        """Take another admin's session over (called only when the caller passed ``take_over_session``)."""

    def _on_open(self) -> None:
        """Read what the driver needs once the session is up (and logged in). An exception closes the session."""

    def _on_close(self) -> None:
        """Forget session state; called after the session is closed."""

    # --- lifecycle ----------------------------------------------------------------------------------

    def open(self) -> None:
        """Open the session and log in (connection set-up retried on transient faults; a refused login is not),
        then :meth:`_on_open`. Does nothing when already open."""
        if self.is_open:
            return
        self.http.open()
        try:
            self._on_open()
        except BaseException:
            self.http.close()
            self._on_close()
            raise
        self.is_open = True

    def close(self) -> None:
        """Log out (when logged in) and drop the session; never raises for a session that is already gone."""
        try:
            self.http.close()
        finally:
            self.is_open = False
            self._on_close()

    @property
    def logins(self) -> int:
        """Logins made by this session (the conformance kit checks that a second :meth:`open` makes none)."""
        return self.http.stats.logins

    def request_stats(self) -> dict[str, int]:
        """HTTP requests, logins and logouts of this session (benchmarks)."""
        s = self.http.stats
        return {"requests": s.requests, "gets": s.gets, "posts": s.posts, "logins": s.logins, "logouts": s.logouts}
