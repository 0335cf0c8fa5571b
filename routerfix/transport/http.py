"""The shared HTTP layer for web-GUI and HTTP-API drivers (``requests``). No vendor names here.

One :class:`HttpSession` per device per run. It gives every driver the same
guarantees:

* **Timeouts** on every call (:class:`routerfix.Timeouts` ``connect``/``read``).
* **Trust**: TLS is verified by default (system CAs, or ``ca_file``). Routers
  usually carry self-signed certificates: pin one with ``tls_fingerprint=
  "sha256:<hex of the DER certificate>"`` (checked by urllib3's
  ``assert_fingerprint`` on every connection). ``verify_tls=False`` turns all
  checking off and is **unsafe** (anyone on the path can read the password);
  it is reported as ``transport_security="tls-unverified"``. ``scheme="http"``
  is for routers that offer nothing else and is reported as ``"plain-http"``.
* **Errors mapped at this boundary**: connect/read timeouts →
  :class:`~routerfix.errors.ConnectTimeout`/:class:`~routerfix.errors.ReadTimeout`,
  other connection failures → :class:`~routerfix.errors.TransportError`
  (HTTP 5xx → :class:`HttpServerError`, also transient), certificate problems →
  :class:`~routerfix.errors.TrustError` (the message carries the certificate's
  fingerprint and how to pin it), HTTP 401 at login →
  :class:`~routerfix.errors.AuthenticationError` (never retried).
* **Retries** (:func:`routerfix.retry.retry_transient`) only for GETs and
  connection set-up, never for a POST. After a failed write the driver re-reads
  and decides (:meth:`HttpSession.guarded_write`).
* **Session pages**: drivers pass :class:`PageChecks` predicates that recognise
  the device's "logged out", "another admin is logged in" and "token expired"
  pages. :meth:`HttpSession.get` handles each once: re-login, take over the other
  admin's session only when the caller allowed it (``take_over_session=True``),
  or refetch; a second occurrence raises :class:`~routerfix.errors.SessionError`.
* **Untrusted HTML**: :func:`parse_form`, :func:`find_token` and :func:`js_vars`
  raise :class:`~routerfix.errors.ParseError` naming the page when the page is
  not what was expected; :meth:`Form.build` refuses to build a body that lacks
  a required field, so half a form is never posted.
* **Counting**: :attr:`HttpSession.stats` counts requests, logins and logouts
  (benchmarks compare them with the GUI's own minimum).

Interface for driver authors (stable)::

    from routerfix.transport.http import HTTP_OPTION_NAMES, HttpOptions, HttpSession, PageChecks

    class MyDriver(Driver):
        option_names = HTTP_OPTION_NAMES | {"my_option"}

        def open(self):
            self.http = HttpSession(self.host, driver=self.name, timeouts=self.timeouts,
                                    options=HttpOptions.from_options(self.options, port=self.port),
                                    checks=PageChecks(logged_out=..., other_admin=..., token_expired=...),
                                    login=self._login, logout=self._logout, take_over=self._take_over)
            self.transport_security = self.http.transport_security
            self.http.open()            # connects and calls login() once (retrying connection set-up only)

        def close(self):
            self.http.close()           # calls logout() if logged in; never raises

        def get_nat_mode(self):
            page = self.http.get("/wan.htm", page="WAN setup")      # Page: .text, .status, .form(), .vars()
            ...
"""

from __future__ import annotations

import hashlib
import logging
import re
import ssl
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from routerfix.driver import Timeouts
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
    "page_words",
    "parse_form",
    "parse_forms",
]

log = logging.getLogger("routerfix.transport.http")

HTTP_OPTION_NAMES: frozenset[str] = frozenset(
    {"scheme", "verify_tls", "tls_fingerprint", "ca_file", "take_over_session"})
"""Driver options every HTTP driver accepts (add them to :attr:`Driver.option_names`)."""

MAX_PAGE_BYTES = 4 * 1024 * 1024
"""Largest page accepted from a device; anything bigger is refused as garbage."""

_FP_RE = re.compile(r"[0-9a-f]{64}")


class HttpServerError(TransportError):
    """The device answered HTTP 5xx (busy, crashed handler). Transient: reads retry, writes re-read."""

    def __init__(self, message: str, *, status: int, host: str | None = None, driver: str | None = None) -> None:
        super().__init__(message, host=host, driver=driver)
        self.status = status


class TokenExpired(SessionError):
    """The device answered a POST with its "token expired"/"logged out" page: nothing was applied."""


def normalise_fingerprint(value: object) -> str:
    """``"sha256:AB:CD..."``/``"abcd..."`` → 64 lower-case hex digits, or raise :class:`InvalidValue`."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text.startswith("sha256:"):
            text = text[len("sha256:"):]
        text = text.replace(":", "")
        if _FP_RE.fullmatch(text):
            return text
    raise InvalidValue("tls_fingerprint", value, "'sha256:' followed by the 64 hex digits of the certificate's "
                                                 "SHA-256 (DER) fingerprint")


def cert_fingerprint(der: bytes) -> str:
    """``"sha256:<hex>"`` of a DER certificate, the form ``tls_fingerprint`` takes."""
    return "sha256:" + hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class HttpOptions:
    """How to reach and trust a web GUI. Built from driver options by :meth:`from_options`.

    :param scheme: ``"https"`` (default) or ``"http"`` (only for routers that offer nothing else; the
        result then says ``plain-http``).
    :param port: TCP port; default 443/80 by scheme.
    :param verify_tls: verify the certificate chain and host name (default). ``False`` is unsafe: the
        password can be read by anyone on the path. Prefer ``tls_fingerprint``.
    :param tls_fingerprint: pin the device's certificate: ``"sha256:<hex>"`` of the DER certificate.
        With a pin, chain and host name are not checked; the certificate must match exactly.
    :param ca_file: a CA bundle (PEM) to verify against instead of the system store.
    :param take_over_session: when another admin is logged in, take their session over (they are
        logged out). Off by default: the run then stops with a SessionError.
    """

    scheme: str = "https"
    port: int | None = None
    verify_tls: bool = True
    tls_fingerprint: str | None = None
    ca_file: str | None = None
    take_over_session: bool = False

    def __post_init__(self) -> None:
        if self.scheme not in ("http", "https"):
            raise InvalidValue("scheme", self.scheme, "'https' or 'http'")
        for name in ("verify_tls", "take_over_session"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidValue(name, getattr(self, name), "True or False")
        if self.tls_fingerprint is not None:
            object.__setattr__(self, "tls_fingerprint", normalise_fingerprint(self.tls_fingerprint))
            if self.scheme != "https":
                raise InvalidValue("tls_fingerprint", self.tls_fingerprint, "used only with scheme='https'")
        if self.ca_file is not None and not isinstance(self.ca_file, str):
            raise InvalidValue("ca_file", self.ca_file, "a path to a PEM CA bundle")
        if self.port is not None and (isinstance(self.port, bool) or not isinstance(self.port, int)
                                      or not 1 <= self.port <= 65535):
            raise InvalidValue("port", self.port, "a TCP port from 1 to 65535")

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, port: int | None = None,
                     default_scheme: str = "https") -> HttpOptions:
        """Pick :data:`HTTP_OPTION_NAMES` out of a driver's options (other keys are ignored)."""
        return cls(scheme=options.get("scheme", default_scheme), port=port,
                   verify_tls=options.get("verify_tls", True), tls_fingerprint=options.get("tls_fingerprint"),
                   ca_file=options.get("ca_file"), take_over_session=options.get("take_over_session", False))

    @property
    def security(self) -> str:
        """What :attr:`Driver.transport_security` should say: ``tls``, ``tls-pinned``, ``tls-unverified`` or
        ``plain-http``."""
        if self.scheme == "http":
            return "plain-http"
        if self.tls_fingerprint:
            return "tls-pinned"
        return "tls" if self.verify_tls else "tls-unverified"


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


# --- pages and forms ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormField:
    """One control of a form as the page delivered it."""

    name: str
    kind: str
    """``hidden``, ``text``, ``password``, ``checkbox``, ``radio``, ``select``, ``textarea``, ``submit``,
    ``button``, ``image``, ``reset``, ``file``..."""
    value: str
    checked: bool = False
    disabled: bool = False
    options: tuple[str, ...] = ()
    """For ``select``: the option values."""


_BUTTON_KINDS = frozenset({"submit", "button", "image", "reset"})


@dataclass(frozen=True)
class Form:
    """A parsed HTML form. ``action`` is as written in the page (relative, query and all)."""

    page: str
    name: str
    action: str
    method: str
    fields: tuple[FormField, ...]

    def names(self) -> set[str]:
        """Every control name in the form."""
        return {f.name for f in self.fields}

    def has(self, name: str) -> bool:
        """True when the form has a control called ``name``."""
        return any(f.name == name for f in self.fields)

    def hidden(self) -> dict[str, str]:
        """The hidden inputs (first value per name), disabled ones included."""
        out: dict[str, str] = {}
        for f in self.fields:
            if f.kind == "hidden":
                out.setdefault(f.name, f.value)
        return out

    def field(self, name: str) -> FormField:
        """The first control called ``name``; :class:`ParseError` if the page lacks it."""
        for f in self.fields:
            if f.name == name:
                return f
        raise ParseError(self.page, f"form {self.name or self.action!r} has no field {name!r}")

    def radio_values(self, name: str) -> tuple[str, ...]:
        """The values offered by radio buttons called ``name``."""
        return tuple(f.value for f in self.fields if f.name == name and f.kind == "radio")

    def values(self) -> dict[str, str]:
        """What a browser without JavaScript would submit: hidden, text, password, textarea, checked
        checkboxes and radios, each select's selected (or first) option; no disabled controls, no buttons."""
        out: dict[str, str] = {}
        for f in self.fields:
            if f.disabled or f.kind in _BUTTON_KINDS or f.kind == "file":
                continue
            if f.kind in ("checkbox", "radio") and not f.checked:
                continue
            out.setdefault(f.name, f.value)
        return out

    def require(self, *names: str) -> None:
        """Raise :class:`ParseError` naming the page unless every name is a control of the form."""
        missing = [n for n in names if not self.has(n)]
        if missing:
            raise ParseError(self.page, f"form {self.name or self.action!r} lacks {', '.join(missing)}: "
                                        f"not the page this driver knows (firmware changed?)")

    def build(self, changes: Mapping[str, str | None] | None = None, *, button: tuple[str, str] | None = None,
              base: Mapping[str, str] | None = None, extra: frozenset[str] | set[str] = frozenset()
              ) -> dict[str, str]:
        """The body to post: ``base`` (default :meth:`values`) with ``changes`` applied (``None`` removes a
        field) plus the submit ``button`` (name, value). Every changed name and the button must be controls
        of this form, or listed in ``extra`` (fields the page's JavaScript would add): otherwise
        :class:`ParseError`, so a half-understood form is never posted."""
        body = dict(self.values() if base is None else base)
        changes = dict(changes or {})
        known = self.names() | set(extra)
        unknown = [n for n in changes if n not in known]
        if button is not None and button[0] not in known:
            unknown.append(button[0])
        if unknown:
            raise ParseError(self.page, f"form {self.name or self.action!r} lacks {', '.join(unknown)}: not the "
                                        f"page this driver knows (firmware changed?)")
        for key, value in changes.items():
            if value is None:
                body.pop(key, None)
            else:
                body[key] = value
        if button is not None:
            body[button[0]] = button[1]
        return body


@dataclass(frozen=True)
class Page:
    """A fetched page: what a parser needs, and the name errors use."""

    name: str
    url: str
    status: int
    text: str = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    def form(self, name: str | None = None, *, action: str | None = None) -> Form:
        """The form called ``name`` (or whose action contains ``action``; or the only/first one)."""
        return parse_form(self.text, self.name, name=name, action=action)

    def forms(self) -> list[Form]:
        """Every form of the page."""
        return parse_forms(self.text, self.name)

    def vars(self) -> dict[str, str]:
        """The page's JavaScript string/number variables (``var x = '...';``)."""
        return js_vars(self.text)

    def token(self, pattern: str | re.Pattern[str]) -> str:
        """The first group of ``pattern`` in the page; :class:`ParseError` when absent."""
        return find_token(self.text, pattern, self.name)


def parse_forms(html: str, page: str) -> list[Form]:
    """Every form of ``html``. Untrusted input: any failure is a :class:`ParseError` naming ``page``."""
    if not isinstance(html, str):
        raise ParseError(page, "not text")
    try:
        from bs4 import BeautifulSoup

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            soup = BeautifulSoup(html, "html.parser")
        forms: list[Form] = []
        for node in soup.find_all("form"):
            fields: list[FormField] = []
            for ctl in node.find_all(["input", "select", "textarea", "button"]):
                name = ctl.get("name")
                if not isinstance(name, str) or not name:
                    continue
                disabled = ctl.has_attr("disabled")
                if ctl.name == "select":
                    opts = ctl.find_all("option")
                    values = tuple(str(o.get("value", o.get_text())) for o in opts)
                    chosen = next((str(o.get("value", o.get_text())) for o in opts if o.has_attr("selected")),
                                  values[0] if values else "")
                    fields.append(FormField(name, "select", chosen, disabled=disabled, options=values))
                elif ctl.name == "textarea":
                    fields.append(FormField(name, "textarea", ctl.get_text(), disabled=disabled))
                else:
                    default_kind = "submit" if ctl.name == "button" else "text"
                    kind = str(ctl.get("type") or default_kind).lower()
                    value = ctl.get("value")
                    default_value = "on" if kind in ("checkbox", "radio") else ""
                    fields.append(FormField(name, kind, str(value) if value is not None else default_value,
                                            checked=ctl.has_attr("checked"), disabled=disabled))
            forms.append(Form(page=page, name=str(node.get("name") or node.get("id") or ""),
                              action=str(node.get("action") or ""), method=str(node.get("method") or "GET").upper(),
                              fields=tuple(fields)))
        return forms
    except RouterfixError:
        raise
    except Exception as exc:  # noqa: BLE001 - untrusted input: whatever the parser trips on is a ParseError
        raise ParseError(page, f"unreadable HTML ({type(exc).__name__})") from None


def parse_form(html: str, page: str, *, name: str | None = None, action: str | None = None) -> Form:
    """The form called ``name`` or whose action contains ``action`` (else the first); :class:`ParseError`
    naming ``page`` when there is none."""
    forms = parse_forms(html, page)
    for form in forms:
        if (name is None or form.name == name) and (action is None or action in form.action):
            return form
    wanted = f"form {name!r}" if name else (f"a form posting to {action!r}" if action else "a form")
    raise ParseError(page, f"no {wanted} in the page (an error page, a login page or another firmware?)")


def find_token(text: str, pattern: str | re.Pattern[str], page: str) -> str:
    """Group 1 (or the whole match) of ``pattern`` in ``text``; :class:`ParseError` naming ``page`` if absent."""
    if not isinstance(text, str):
        raise ParseError(page, "not text")
    match = re.search(pattern, text)
    if match is None:
        raise ParseError(page, "no session token in the page (logged out, or another firmware?)")
    return match.group(1) if match.groups() else match.group(0)


_JS_VAR_RE = re.compile(
    r"""\bvar\s+([A-Za-z_$][\w$]*)\s*=\s*(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|(-?\d+(?:\.\d+)?))\s*[;,\n]""")


def js_vars(text: str) -> dict[str, str]:
    """``var name = 'text'|"text"|123;`` assignments of a page (first one per name), escapes kept raw."""
    if not isinstance(text, str):
        return {}
    out: dict[str, str] = {}
    for m in _JS_VAR_RE.finditer(text):
        value = next(g for g in (m.group(2), m.group(3), m.group(4)) if g is not None)
        out.setdefault(m.group(1), value)
    return out


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
    """

    def __init__(self, host: str, *, driver: str, timeouts: Timeouts | None = None,
                 options: HttpOptions | None = None, checks: PageChecks | None = None,
                 login: Callable[[], None] | None = None, logout: Callable[[], None] | None = None,
                 take_over: Callable[[Page], None] | None = None, headers: Mapping[str, str] | None = None) -> None:
        self.host = host
        self.driver = driver
        self.timeouts = timeouts or Timeouts()
        self.options = options or HttpOptions()
        self.checks = checks or PageChecks()
        self._login = login
        self._logout = logout
        self._take_over = take_over
        self._headers = dict(headers or {})
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
        import requests
        from requests.adapters import HTTPAdapter

        fingerprint = self.options.tls_fingerprint

        class _PinnedAdapter(HTTPAdapter):
            def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
                kwargs["assert_fingerprint"] = fingerprint
                super().init_poolmanager(*args, **kwargs)

        session = requests.Session()
        session.trust_env = False  # no proxies or netrc from the environment: talk to the device only
        session.headers.update({"User-Agent": "routerfix", **self._headers})
        if self.options.scheme == "https":
            if fingerprint:
                session.mount("https://", _PinnedAdapter(max_retries=0))
                session.verify = False  # the pin replaces chain and host-name checks
            elif not self.options.verify_tls:
                session.verify = False
            elif self.options.ca_file:
                session.verify = self.options.ca_file
        session.mount("http://", HTTPAdapter(max_retries=0))
        return session

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
            if self._session is not None:
                self._session.close()
                self._session = None

    # --- requests ---

    @contextmanager
    def _quiet_pinned(self) -> Iterator[None]:
        if self.options.scheme == "https" and (self.options.tls_fingerprint or not self.options.verify_tls):
            with warnings.catch_warnings():  # pinned: checked by fingerprint; unverified: warned once at open
                warnings.filterwarnings("ignore", message=".*Unverified HTTPS request.*")
                yield
        else:
            yield

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
            with self._quiet_pinned():
                resp = self.session.request(method.upper(), url, params=params, data=data, headers=headers,
                                            timeout=(self.timeouts.connect, read_timeout), allow_redirects=False)
            content = resp.content
        except requests.exceptions.SSLError as exc:
            raise self._trust_error(exc) from None
        except requests.exceptions.ConnectTimeout:
            raise ConnectTimeout(f"no connection to {self.base_url} within {self.timeouts.connect:g}s",
                                 host=self.host, driver=self.driver) from None
        except requests.exceptions.ReadTimeout:
            raise ReadTimeout(f"{page}: no answer within {read_timeout:g}s", host=self.host,
                              driver=self.driver) from None
        except requests.exceptions.ConnectionError as exc:
            raise TransportError(f"{page}: connection to {self.base_url} failed ({_short(exc)})",
                                 host=self.host, driver=self.driver) from None
        except requests.exceptions.RequestException as exc:
            raise TransportError(f"{page}: HTTP request failed ({type(exc).__name__})", host=self.host,
                                 driver=self.driver) from None
        if len(content) > MAX_PAGE_BYTES:
            raise ParseError(page, f"the page is larger than {MAX_PAGE_BYTES} bytes", host=self.host,
                             driver=self.driver)
        text = content.decode(resp.encoding or "utf-8", errors="replace") if resp.encoding not in (None, "") \
            else content.decode("utf-8", errors="replace")
        result = Page(name=page, url=url, status=resp.status_code, text=text, headers=dict(resp.headers))
        status = resp.status_code
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
        raise DeviceError(f"{page}: the device answered HTTP {status}", device_message=_page_words(text),
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
        return _trust(self, exc)

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


def _page_words(text: str) -> str:
    """A short, clean excerpt of an error page (for DeviceError.device_message)."""
    plain = re.sub(r"<script.*?</script>|<style.*?</style>", " ", text, flags=re.S | re.I)
    plain = re.sub(r"<[^>]*>", " ", plain)
    plain = re.sub(r"[\x00-\x1f\x7f]+", " ", plain)
    return re.sub(r"\s+", " ", plain).strip()[:200]


def page_words(text: str) -> str:
    """Public alias of the error-page excerpt helper (the device's own words, tags stripped, ≤200 chars)."""
    return _page_words(text)


def _server_fingerprint(host: str, port: int, timeout: float) -> str | None:
    try:
        pem = ssl.get_server_certificate((host, port), timeout=timeout)
        return cert_fingerprint(ssl.PEM_cert_to_DER_cert(pem))
    except (OSError, ValueError):
        return None


def _trust_error_message(host: str, port: int, timeout: float, pinned: str | None, detail: str) -> str:
    seen = _server_fingerprint(host, port, timeout)
    if pinned:
        return (f"the TLS certificate of {host}:{port} does not match the pinned fingerprint sha256:{pinned} "
                f"(it presents {seen or 'an unreadable certificate'}); if the router's certificate was "
                f"legitimately replaced, check it on the device and pin the new one")
    how = (f"if this is the router's own self-signed certificate, pin it: tls_fingerprint='{seen}' "
           f"(--tls-fingerprint {seen})") if seen else "pin its certificate with tls_fingerprint='sha256:<hex>'"
    return f"the TLS certificate of {host}:{port} is not trusted ({detail}); {how}, or pass ca_file"


def _detail(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("self-signed certificate", "self signed certificate", "certificate has expired",
                   "Hostname mismatch", "unable to get local issuer certificate", "Fingerprints did not match",
                   "wrong version number", "CERTIFICATE_VERIFY_FAILED"):
        if marker.lower() in text.lower():
            return marker
    return type(exc).__name__


def _trust(session: HttpSession, exc: BaseException) -> TrustError | TransportError:
    detail = _detail(exc)
    if detail == "wrong version number":  # plain HTTP spoken on the port: not a trust question
        return TransportError(f"{session.base_url} does not speak TLS (scheme='http'?)", host=session.host,
                              driver=session.driver)
    message = _trust_error_message(session.host, session.port, session.timeouts.connect,
                                   session.options.tls_fingerprint, detail)
    return TrustError(message, host=session.host, driver=session.driver)

