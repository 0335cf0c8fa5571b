"""The HTTP session of web-GUI and HTTP-API drivers (``requests``). No vendor names here.

One :class:`HttpSession` per device per run. It gives every driver the same guarantees:

* **Timeouts** on every call (:class:`routerfix.Timeouts` ``connect``/``read``).
* **Trust**: TLS verified by default, pinning, CA bundles (:mod:`routerfix.transport.tls`).
* **Credentials** held only as :class:`~routerfix.secrets.Secret` (:meth:`HttpSession.set_credentials`); the
  ``Authorization`` header or cookie is built while each request is prepared.
* **Errors mapped at this boundary**: connect/read timeouts →
  :class:`~routerfix.errors.ConnectTimeout`/:class:`~routerfix.errors.ReadTimeout`, other connection failures →
  :class:`~routerfix.errors.TransportError` (HTTP 5xx → :class:`HttpServerError`, also transient), certificate
  problems → :class:`~routerfix.errors.TrustError` (the message carries the certificate's fingerprint and how to
  pin it), HTTP 401 at login → :class:`~routerfix.errors.AuthenticationError` (never retried).
* **Retries** (:func:`routerfix.retry.retry_transient`) only for GETs and connection set-up, never for a POST.
  After a failed write the driver re-reads and decides (:meth:`HttpSession.guarded_write`).
* **Session pages**: drivers pass :class:`PageChecks` predicates that recognise the device's "logged out",
  "another admin is logged in" and "token expired" pages. :meth:`HttpSession.get` handles each once: re-login,
  take over the other admin's session only when the caller allowed it (``take_over_session=True``), or refetch; a
  second occurrence raises :class:`~routerfix.errors.SessionError`.
* **Untrusted HTML**: pages and forms are parsed by :mod:`routerfix.transport.html`.
* **Counting**: :attr:`HttpSession.stats` counts requests, logins and logouts (benchmarks compare them with the
  GUI's own minimum).

Drivers normally do not build the session themselves: :class:`routerfix.base.web.WebDriver` owns it (open,
close, ``is_open``, ``transport_security``) and calls the driver's ``_login``/``_logout`` hooks.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from routerfix.errors import (
    AuthenticationError,
    ConnectionDropped,
    ConnectTimeout,
    DeviceError,
    InvalidValue,
    ParseError,
    ReadTimeout,
    RouterfixError,
    SessionError,
    TransportError,
    TrustError,
)
from routerfix.retry import retry_transient
from routerfix.secrets import Secret
from routerfix.timeouts import Timeouts
from routerfix.transport._exchange import requests_session, send
from routerfix.transport.html import (
    Form,
    FormField,
    Page,
    find_token,
    js_vars,
    page_text,
    page_words,
    parse_form,
    parse_forms,
)
from routerfix.transport.proxy import Proxy
from routerfix.transport.tls import (
    HTTP_OPTION_NAMES,
    HttpOptions,
    cert_fingerprint,
    configure_trust,
    normalise_fingerprint,
    quiet_when_pinned,
    trust_error,
)

if TYPE_CHECKING:
    import requests

__all__ = [
    "HTTP_OPTION_NAMES",
    "MAX_PAGE_BYTES",
    "Form",
    "FormField",
    "HttpOptions",
    "HttpServerError",
    "HttpSession",
    "HttpStats",
    "Page",
    "PageChecks",
    "TokenExpired",
    "cert_fingerprint",
    "find_token",
    "js_vars",
    "normalise_fingerprint",
    "page_text",
    "page_words",
    "parse_form",
    "parse_forms",
    "requests_session",
]
# Form, FormField, Page and the page parsers live in routerfix.transport.html, HttpOptions and the fingerprint
# helpers in routerfix.transport.tls; they are re-exported here for drivers written against the one-module layout.

log = logging.getLogger("routerfix.transport.http")

MAX_PAGE_BYTES = 4 * 1024 * 1024
"""Largest page accepted from a device; anything bigger is refused as garbage, and read no further."""



class HttpServerError(TransportError):
    """The device answered HTTP 5xx (busy, crashed handler). Transient: reads retry, writes re-read."""

    def __init__(self, message: str, *, status: int, host: str | None = None, driver: str | None = None) -> None:
        super().__init__(message, host=host, driver=driver)
        self.status = status


class TokenExpired(SessionError):
    """The device answered a POST with its "token expired"/"logged out" page: nothing was applied."""


@dataclass
class HttpStats:
    """Counters of one session (benchmarks report them beside the GUI's minimum)."""

    requests: int = 0
    """HTTP requests sent (every attempt, 401 challenges included)."""
    gets: int = 0
    posts: int = 0
    logins: int = 0
    """Login sequences run (the first one included)."""
    logouts: int = 0

class _SecretAuth:
    """A ``requests`` auth hook holding credentials as Secrets; revealed only into the request being prepared."""

    def __init__(self) -> None:
        self.basic: tuple[str, Secret] | None = None
        self.headers: dict[str, Secret] = {}
        self.cookies: dict[str, Secret] = {}

    def set(self, *, basic: tuple[str, Secret] | None = None, headers: Mapping[str, Secret] | None = None,
            cookies: Mapping[str, Secret] | None = None) -> None:
        for value in [*(headers or {}).values(), *(cookies or {}).values(), *([basic[1]] if basic else [])]:
            if not isinstance(value, Secret):
                raise InvalidValue("credential", type(value).__name__, "a routerfix.secrets.Secret")
        # http.client would refuse a line break in a header with the value in its message: refuse it here, unshown
        for kind, values, bad, expected in (
                ("header", headers, "\r\n\0", "a value without line breaks or NUL characters"),
                ("cookie", cookies, "\r\n\0;", "a value without line breaks, NUL characters or ';'")):
            for name, secret in (values or {}).items():
                if any(char in secret.reveal() for char in bad):
                    raise InvalidValue(f"credential {kind} {name}", secret, expected)
        self.basic = basic
        self.headers = dict(headers or {})
        self.cookies = dict(cookies or {})

    def __call__(self, request: Any) -> Any:
        if self.basic is not None:
            user, password = self.basic
            token = base64.b64encode(f"{user}:{password.reveal()}".encode()).decode("ascii")
            request.headers["Authorization"] = f"Basic {token}"
        for name, value in self.headers.items():
            request.headers[name] = value.reveal()
        if self.cookies:
            pairs = "; ".join(f"{name}={value.reveal()}" for name, value in self.cookies.items())
            jar = request.headers.get("Cookie")
            request.headers["Cookie"] = f"{jar}; {pairs}" if jar else pairs
        return request

    def __repr__(self) -> str:
        return (f"<credentials basic={self.basic is not None} headers={sorted(self.headers)} "
                f"cookies={sorted(self.cookies)}>")


def _never(page: Page) -> bool:
    return False


@dataclass(frozen=True)
class PageChecks:
    """Predicates that recognise a device's session pages. Each gets the fetched :class:`Page`."""

    logged_out: Callable[[Page], bool] = _never
    """The page is a login page / session-ended page (the session must be renewed)."""
    other_admin: Callable[[Page], bool] = _never
    """The page says another admin holds the (single) admin session."""
    token_expired: Callable[[Page], bool] = _never
    """The page says the form token was stale (nothing was applied)."""


# --- the session ---------------------------------------------------------------------------------------


class HttpSession:
    """One ``requests.Session`` to one device for one run. Not thread-safe (one driver, one session).

    :param host: the device's address or name.
    :param driver: the driver name (for errors and logs).
    :param timeouts: connect/read timeouts applied to every request.
    :param options: scheme, port and trust (:class:`HttpOptions`).
    :param checks: recognisers of the device's session pages.
    :param login: called by :meth:`open` (and once more after a "logged out" page) to log in; it uses
        :meth:`request`/:meth:`get`/:meth:`post` and raises :class:`AuthenticationError` on refusal.
    :param logout: called by :meth:`close` when logged in; its errors are logged, never raised.
    :param take_over: called once when a page says another admin is logged in and the caller allowed
        ``take_over_session``; gets that page.
    :param headers: default headers for every request (``User-Agent``, ``Referer``...).
    :param proxy: the HTTP(S)/SOCKS proxy to go through (:mod:`routerfix.transport.proxy`), or None.
    """

    def __init__(self, host: str, *, driver: str, timeouts: Timeouts | None = None,
                 options: HttpOptions | None = None, checks: PageChecks | None = None,
                 login: Callable[[], None] | None = None, logout: Callable[[], None] | None = None,
                 take_over: Callable[[Page], None] | None = None, headers: Mapping[str, str] | None = None,
                 proxy: Proxy | None = None) -> None:
        self.host = host
        self.proxy = proxy
        self.driver = driver
        self.timeouts = timeouts or Timeouts()
        self.options = options or HttpOptions()
        self.checks = checks or PageChecks()
        self._login = login
        self._logout = logout
        self._take_over = take_over
        self._headers = dict(headers or {})
        self._auth = _SecretAuth()
        self.stats = HttpStats()
        self.logged_in = False
        self._session: requests.Session | None = None
        self._in_login = False
        self._lock = threading.Lock()

    # --- addresses and trust ---

    @property
    def transport_security(self) -> str:
        """``tls``, ``tls-pinned``, ``tls-unverified`` or ``plain-http``."""
        return self.options.security

    @property
    def port(self) -> int:
        """The port in use."""
        return self.options.port or (443 if self.options.scheme == "https" else 80)

    @property
    def base_url(self) -> str:
        """``scheme://host:port`` (IPv6 literals bracketed)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.options.scheme}://{host}:{self.port}"

    def url(self, path: str) -> str:
        """An absolute URL for ``path`` (``/page.htm``, ``page.htm?id=1`` or a full URL on this device)."""
        if path.startswith(("http://", "https://")):
            if not path.startswith(self.base_url + "/") and path != self.base_url:
                raise InvalidValue("url", path, f"a URL on {self.base_url}")
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    @property
    def session(self) -> requests.Session:
        """The underlying ``requests.Session`` (drivers set ``auth``/cookies on it)."""
        if self._session is None:
            raise ConnectionDropped("the HTTP session is not open", host=self.host, driver=self.driver)
        return self._session

    def _new_session(self) -> requests.Session:
        session = requests_session()
        session.trust_env = False  # no proxies or netrc from the environment: talk to the device only
        session.headers.update({"User-Agent": "routerfix", **self._headers})
        session.auth = self._auth
        configure_trust(session, self.options)
        if self.proxy is not None:
            self.proxy.configure(session)
        return session

    # --- credentials ---

    def set_credentials(self, *, basic: tuple[str, Secret] | None = None, headers: Mapping[str, Secret] | None = None,
                        cookies: Mapping[str, Secret] | None = None) -> None:
        """Credentials sent with every request from now on, held only as :class:`~routerfix.secrets.Secret`:
        ``basic`` (user name, password) becomes ``Authorization: Basic ...``, ``headers`` and ``cookies`` are sent
        as given. Each is revealed only while a request is being prepared, never stored as a plain string. They
        last until :meth:`close` (set them in the driver's login)."""
        self._auth.set(basic=basic, headers=headers, cookies=cookies)

    def clear_credentials(self) -> None:
        """Send no credentials from now on."""
        self._auth.set()

    # --- lifecycle ---

    def open(self) -> None:
        """Create the session and log in once (connection set-up is retried on transient faults;
        an :class:`AuthenticationError` is not)."""
        if self._session is None:
            self._session = self._new_session()
        if self.options.scheme == "https" and not self.options.verify_tls and not self.options.tls_fingerprint:
            log.warning("%s: TLS certificate checking is OFF (verify_tls=False): the password can be read by "
                        "anyone on the path; pin the certificate with tls_fingerprint instead", self.host)
        if self._login is not None and not self.logged_in:
            retry_transient(self.login, wait=self.timeouts.retry_wait, max_wait=8 * self.timeouts.retry_wait)
        self.logged_in = True

    def login(self) -> None:
        """Run the driver's login (counted)."""
        if self._login is None:
            return
        self.stats.logins += 1
        self._in_login = True
        try:
            self._login()
        finally:
            self._in_login = False
        self.logged_in = True

    def close(self) -> None:
        """Log out (if logged in) and close the session. Never raises."""
        try:
            if self.logged_in and self._logout is not None and self._session is not None:
                self.stats.logouts += 1
                try:
                    self._logout()
                except Exception as exc:  # noqa: BLE001 - logout is best effort; the device may be gone
                    log.info("%s: logout failed (%s)", self.host, type(exc).__name__)
        finally:
            self.logged_in = False
            self._auth.set()
            if self._session is not None:
                self._session.close()
                self._session = None

    # --- requests ---

    def request(self, method: str, path: str, *, page: str, params: Mapping[str, str] | None = None,
                data: Mapping[str, str] | str | bytes | None = None, headers: Mapping[str, str] | None = None,
                ok_status: tuple[int, ...] = (200,), timeout: float | None = None) -> Page:
        """Send one request (no retry, no page checks) and map every failure to a routerfix error.

        Status handling: ``ok_status`` passes; 401 → :class:`AuthenticationError` during login,
        else :class:`SessionError`; 5xx → :class:`HttpServerError`; other 4xx →
        :class:`DeviceError` with the page's words; a page over :data:`MAX_PAGE_BYTES` → :class:`ParseError`.
        """
        import requests

        url = self.url(path)
        self.stats.requests += 1
        if method.upper() == "POST":
            self.stats.posts += 1
        else:
            self.stats.gets += 1
        read_timeout = timeout if timeout is not None else self.timeouts.read
        try:
            with quiet_when_pinned(self.options):
                reply = send(self.session, method.upper(), url, params=params, data=data, headers=headers,
                             timeout=(self.timeouts.connect, read_timeout), limit=MAX_PAGE_BYTES)
        except requests.exceptions.SSLError as exc:
            raise self._trust_error(exc) from None
        except requests.exceptions.ConnectTimeout:
            raise ConnectTimeout(f"no connection to {self.base_url} within {self.timeouts.connect:g}s",
                                 host=self.host, driver=self.driver) from None
        except requests.exceptions.ReadTimeout:
            raise ReadTimeout(f"{page}: the device sent nothing for {read_timeout:g}s", host=self.host,
                              driver=self.driver) from None
        except requests.exceptions.ConnectionError as exc:
            via = f" through proxy {self.proxy}" if self.proxy is not None else ""
            raise TransportError(f"{page}: connection to {self.base_url}{via} failed ({_short(exc)})",
                                 host=self.host, driver=self.driver) from None
        except requests.exceptions.RequestException as exc:
            raise TransportError(f"{page}: HTTP request failed ({type(exc).__name__})", host=self.host,
                                 driver=self.driver) from None
        if reply.body is None:
            raise ParseError(page, f"the page is larger than {MAX_PAGE_BYTES} bytes", host=self.host,
                             driver=self.driver)
        text = page_text(reply.body, reply.encoding)
        status = reply.status
        result = Page(name=page, url=url, status=status, text=text, headers=reply.headers)
        if status in ok_status:
            return result
        if status == 401:
            if self._in_login:
                raise AuthenticationError(f"{page}: the device refused the credentials (HTTP 401)",
                                          host=self.host, driver=self.driver)
            raise SessionError(f"{page}: the session ended (HTTP 401)", host=self.host, driver=self.driver)
        if status >= 500:
            raise HttpServerError(f"{page}: the device answered HTTP {status}", status=status, host=self.host,
                                  driver=self.driver)
        raise DeviceError(f"{page}: the device answered HTTP {status}", device_message=page_words(text),
                          host=self.host, driver=self.driver)

    def get(self, path: str, *, page: str, params: Mapping[str, str] | None = None,
            headers: Mapping[str, str] | None = None, ok_status: tuple[int, ...] = (200,),
            check: bool = True) -> Page:
        """GET a page: retried on transient faults; the session pages are handled once each
        (``check=False`` skips that, e.g. for the login page itself)."""
        def fetch() -> Page:
            return self.request("GET", path, page=page, params=params, headers=headers, ok_status=ok_status)

        handled: set[str] = set()
        while True:
            try:
                result = retry_transient(fetch, wait=self.timeouts.retry_wait,
                                         max_wait=8 * self.timeouts.retry_wait)
            except SessionError:
                if not check or "logged_out" in handled or self._in_login:
                    raise
                handled.add("logged_out")
                log.info("%s: %s: session ended (HTTP 401); logging in again", self.host, page)
                self.login()
                continue
            if not check:
                return result
            kind = self.classify(result)
            if kind is None:
                return result
            if kind in handled:
                raise SessionError(f"{page}: the device still shows its {kind.replace('_', ' ')} page after "
                                   f"handling it once", host=self.host, driver=self.driver)
            handled.add(kind)
            self.recover(kind, result)

    def post(self, path: str, data: Mapping[str, str] | str | bytes, *, page: str,
             headers: Mapping[str, str] | None = None, ok_status: tuple[int, ...] = (200,),
             timeout: float | None = None) -> Page:
        """POST once. Never retried. The answer is returned as is: callers check it (or use
        :meth:`guarded_write`). A "token expired"/"logged out" answer raises :class:`TokenExpired`;
        "another admin" raises :class:`SessionError`."""
        try:
            result = self.request("POST", path, page=page, data=data, headers=headers, ok_status=ok_status,
                                  timeout=timeout)
        except SessionError as exc:
            if self._in_login:
                raise
            raise TokenExpired(f"{page}: the session ended before the write ({exc}); nothing was applied",
                               host=self.host, driver=self.driver) from None
        if self._in_login:
            return result
        kind = self.classify(result)
        if kind in ("token_expired", "logged_out"):
            raise TokenExpired(f"{page}: the device answered with its {kind.replace('_', ' ')} page; nothing "
                               f"was applied", host=self.host, driver=self.driver)
        if kind == "other_admin":
            raise SessionError(f"{page}: another admin took the session", host=self.host, driver=self.driver)
        return result

    def classify(self, page: Page) -> str | None:
        """``"logged_out"``, ``"other_admin"``, ``"token_expired"`` or None (a normal page)."""
        for kind, check in (("other_admin", self.checks.other_admin), ("logged_out", self.checks.logged_out),
                            ("token_expired", self.checks.token_expired)):
            try:
                if check(page):
                    return kind
            except RouterfixError:
                raise
            except Exception as exc:  # noqa: BLE001 - a predicate tripping on garbage is a parse failure
                raise ParseError(page.name, f"unreadable page ({type(exc).__name__})", host=self.host,
                                 driver=self.driver) from None
        return None

    def recover(self, kind: str, page: Page) -> None:
        """Handle one session page: re-login, take over (if allowed) or nothing (the caller refetches)."""
        if kind == "logged_out":
            log.info("%s: %s: logged out; logging in again", self.host, page.name)
            self.login()
        elif kind == "other_admin":
            if not self.options.take_over_session or self._take_over is None:
                raise SessionError(
                    f"another admin is logged in to {self.host}; log them out, wait for their session to expire, "
                    f"or pass take_over_session=True (--take-over-session) to take it over", host=self.host,
                    driver=self.driver)
            log.warning("%s: another admin is logged in; taking the session over as allowed", self.host)
            self._take_over(page)
        # token_expired on a GET: refetching the page gives a new token

    def guarded_write(self, send: Callable[[], None], *, is_done: Callable[[], bool], what: str) -> None:
        """Send a write and make sure it landed, never blindly repeating it.

        ``send`` fetches the form it needs (fresh token) and posts once. ``is_done`` re-reads the device.
        If ``send`` fails with :class:`TokenExpired` (nothing applied) or a transport fault (unknown), the
        device is re-read: done → return; not done → ``send`` once more. After a ``send`` that looked
        fine, ``is_done`` is checked too (devices that answer a refused POST like a success); if it is
        not done, one more ``send`` is made only when the device can be seen not to hold the change.
        A second failure raises (:class:`SessionError`, the transport error, or :class:`DeviceError`).
        """
        for attempt in (1, 2):
            try:
                send()
            except TokenExpired as exc:
                log.info("%s: %s: %s; re-reading before deciding", self.host, what, exc)
                if attempt == 2:
                    raise
            except TransportError as exc:
                log.info("%s: %s failed (%s); re-reading before deciding", self.host, what, exc)
                if attempt == 2:
                    raise
                try:
                    self.ensure_connected()
                except RouterfixError:
                    raise exc from None
            if is_done():
                return
        raise DeviceError(f"{what}: the device did not take the change (read back after two attempts)",
                          device_message="", host=self.host, driver=self.driver)

    def _trust_error(self, exc: BaseException) -> TrustError | TransportError:
        return trust_error(exc, host=self.host, port=self.port, base_url=self.base_url,
                           timeout=self.timeouts.connect, options=self.options, driver=self.driver,
                           look_up=self.proxy is None)  # through a proxy, never around it

    def ensure_connected(self) -> None:
        """Recreate the session and log in again if it was lost (after a transport fault)."""
        if self._session is None:
            self.open()


def _short(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "No route to host",
                   "Connection reset", "Remote end closed", "RemoteDisconnected", "Connection aborted"):
        if marker in text:
            return marker
    return type(exc).__name__
