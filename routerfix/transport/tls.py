"""TLS for the HTTP transport: the options every web driver accepts, certificate pinning and the trust errors
that say how to pin. No vendor names here.

TLS is verified by default (system CAs, or ``ca_file``). Routers usually carry self-signed certificates: pin one
with ``tls_fingerprint="sha256:<hex of the DER certificate>"`` (checked by urllib3's ``assert_fingerprint`` on
every connection). ``verify_tls=False`` turns all checking off and is **unsafe** (anyone on the path can read the
password); it is reported as ``transport_security="tls-unverified"``. ``scheme="http"`` is for routers that offer
nothing else and is reported as ``"plain-http"``.

Each trust setting has one :class:`ssl.SSLContext` per process (:func:`shared_context`), built at first use and
shared by every session: a pinned or unverified device needs no CA store at all, and the CA store of a verified
one (certifi's bundle, as ``requests`` uses, or ``ca_file``) is loaded once, not at every connection.
"""

from __future__ import annotations

import hashlib
import os
import re
import ssl
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from routerfix.errors import InvalidValue, TransportError, TrustError
from routerfix.transport.proxy import PROXY_OPTION_NAMES

if TYPE_CHECKING:
    import requests

__all__ = [
    "HTTP_OPTION_HELP",
    "HTTP_OPTION_NAMES",
    "HttpOptions",
    "cert_fingerprint",
    "configure_trust",
    "normalise_fingerprint",
    "quiet_when_pinned",
    "shared_context",
    "trust_error",
]

HTTP_OPTION_NAMES: frozenset[str] = frozenset(
    {"scheme", "verify_tls", "tls_fingerprint", "ca_file", "take_over_session"}) | PROXY_OPTION_NAMES
"""Driver options every HTTP driver accepts (add them to :attr:`Driver.option_names`)."""
HTTP_OPTION_HELP: dict[str, str] = {
    "scheme": "https (default) or http, for routers that offer nothing else (reported as plain-http)",
    "verify_tls": "false turns certificate checking off (unsafe: prefer tls_fingerprint)",
    "tls_fingerprint": "pin the device's certificate: sha256:<64 hex digits of the DER certificate>",
    "ca_file": "CA bundle (PEM) to verify the certificate against instead of the system store",
    "take_over_session": "true: when another admin is logged in, take their session over (they are logged out)",
    "proxy": "reach the web GUI through a proxy: http://host:port or socks5h://host:port (SOCKS needs "
             "routerfix[socks]); TLS checks and pins still apply to the device",
}
"""What each HTTP option means (``routerfix drivers NAME``)."""

_FP_RE = re.compile(r"[0-9a-f]{64}")


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


_CONTEXTS: dict[tuple[object, ...], ssl.SSLContext] = {}
_CONTEXTS_LOCK = threading.Lock()


def _context_key(options: HttpOptions) -> tuple[object, ...]:
    if options.tls_fingerprint or not options.verify_tls:
        return ("no-ca",)  # the pin (or nothing) replaces chain and host-name checks: no CA store to load
    if options.ca_file is None:
        return ("default-ca",)
    try:
        found = os.stat(options.ca_file)
    except OSError as exc:
        raise InvalidValue("ca_file", options.ca_file, f"a readable PEM CA bundle ({exc.strerror})") from None
    return ("ca-file", options.ca_file, found.st_mtime_ns, found.st_size)  # an edited bundle is loaded again


def _build_context(key: tuple[object, ...]) -> ssl.SSLContext:
    from urllib3.util.ssl_ import create_urllib3_context

    if key[0] == "no-ca":
        context = create_urllib3_context(cert_reqs=ssl.CERT_NONE)
        context.check_hostname = False
        return context
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    if key[0] == "default-ca":
        from requests.utils import DEFAULT_CA_BUNDLE_PATH  # certifi's bundle: what requests itself verifies with

        context.load_verify_locations(cafile=DEFAULT_CA_BUNDLE_PATH)
        return context
    path = str(key[1])
    try:
        if os.path.isdir(path):
            context.load_verify_locations(capath=path)
        else:
            context.load_verify_locations(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidValue("ca_file", path, f"a readable PEM CA bundle ({type(exc).__name__})") from None
    return context


def shared_context(options: HttpOptions) -> ssl.SSLContext | None:
    """The SSL context of ``options``' trust setting (no CA store for a pin or verification off; certifi's bundle;
    ``ca_file``), built once per process and shared by every session; None for plain HTTP.

    :raises InvalidValue: ``ca_file`` cannot be read as a CA bundle.
    """
    if options.scheme != "https":
        return None
    key = _context_key(options)
    with _CONTEXTS_LOCK:
        context = _CONTEXTS.get(key)
        if context is None:
            context = _CONTEXTS[key] = _build_context(key)
        return context


def configure_trust(session: requests.Session, options: HttpOptions) -> None:
    """Set up certificate checking of ``session`` as ``options`` say (pin, CA bundle, verification off), through
    the process's shared context for that trust setting (:func:`shared_context`)."""
    from requests.adapters import HTTPAdapter

    context = shared_context(options)
    fingerprint = options.tls_fingerprint

    class _TrustAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = context
            if fingerprint:
                kwargs["assert_fingerprint"] = fingerprint
            super().init_poolmanager(*args, **kwargs)

        def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
            """Through a proxy too: the tunnelled connection to the device uses the same context and pin
            (routerfix.transport.proxy)."""
            proxy_kwargs["ssl_context"] = context
            if fingerprint:
                proxy_kwargs["assert_fingerprint"] = fingerprint
            return super().proxy_manager_for(proxy, **proxy_kwargs)

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]
            conn.ca_certs = conn.ca_cert_dir = None  # the shared context holds the CAs (urllib3 would load them again)

    if options.scheme == "https":
        session.mount("https://", _TrustAdapter(max_retries=0))
        if fingerprint or not options.verify_tls:
            session.verify = False  # the pin (or nothing, when verification is off) replaces chain and name checks
        elif options.ca_file:
            session.verify = options.ca_file
    session.mount("http://", HTTPAdapter(max_retries=0))


@contextmanager
def quiet_when_pinned(options: HttpOptions) -> Iterator[None]:
    """Silence urllib3's "Unverified HTTPS request" warning where it does not apply: a pinned certificate is
    checked by fingerprint; verification off was warned about once, at open."""
    if options.scheme == "https" and (options.tls_fingerprint or not options.verify_tls):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Unverified HTTPS request.*")
            yield
    else:
        yield


def _server_fingerprint(host: str, port: int, timeout: float) -> str | None:
    try:
        pem = ssl.get_server_certificate((host, port), timeout=timeout)
        return cert_fingerprint(ssl.PEM_cert_to_DER_cert(pem))
    except (OSError, ValueError):
        return None


def _trust_error_message(host: str, port: int, timeout: float, pinned: str | None, detail: str,
                         look_up: bool = True) -> str:
    seen = _server_fingerprint(host, port, timeout) if look_up else None
    if pinned:
        return (f"the TLS certificate of {host}:{port} does not match the pinned fingerprint sha256:{pinned} "
                f"(it presents {seen or 'an unreadable certificate'}); if the router's certificate was "
                f"legitimately replaced, check it on the device and pin the new one")
    how = (f"if this is the router's own self-signed certificate, pin it: tls_fingerprint='{seen}' "
           f"(--tls-fingerprint {seen})") if seen else "pin its certificate with tls_fingerprint='sha256:<hex>'"
    return f"the TLS certificate of {host}:{port} is not trusted ({detail}); {how}, or pass ca_file (--ca-file FILE)"


def _detail(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("self-signed certificate", "self signed certificate", "certificate has expired",
                   "Hostname mismatch", "unable to get local issuer certificate", "Fingerprints did not match",
                   "wrong version number", "CERTIFICATE_VERIFY_FAILED"):
        if marker.lower() in text.lower():
            return marker
    return type(exc).__name__


def trust_error(exc: BaseException, *, host: str, port: int, base_url: str, timeout: float,
                options: HttpOptions, driver: str, look_up: bool = True) -> TrustError | TransportError:
    """The routerfix error for a TLS failure: :class:`TrustError` saying what the device presents and how to pin
    it, or :class:`TransportError` when the port does not speak TLS at all. ``look_up=False`` (the session goes
    through a proxy): the certificate is not fetched again over a direct connection."""
    detail = _detail(exc)
    if detail == "wrong version number":  # plain HTTP spoken on the port: not a trust question
        return TransportError(f"{base_url} does not speak TLS (scheme='http'?)", host=host, driver=driver)
    message = _trust_error_message(host, port, timeout, options.tls_fingerprint, detail, look_up)
    return TrustError(message, host=host, driver=driver)
