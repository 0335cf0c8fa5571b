"""One request and its answer for :class:`routerfix.transport.http.HttpSession`, body read bounded.

``requests`` builds the request: URL, headers (validated), body, the session's cookie jar and the credentials hook,
each through ``PreparedRequest``'s public ``prepare_*`` steps. For a session of ours that goes through no proxy
and takes nothing from the environment, the request is then sent on the adapter's own ``urllib3`` pool, found
through the adapter once per session, adapter and trust setting (its TLS context, pin and certificate settings,
as ``HTTPAdapter.send`` would apply them) and kept. ``HTTPAdapter.send`` and ``Session.send`` are not called:
per request they looked the pool up again, built a second cookie jar for the response object, and read a redirect
target routerfix never follows. That was a third of a request's client CPU. Cookies the device sets go into the
session's jar as ``Session.send`` puts them there, and ``urllib3``'s failures become the ``requests`` exceptions
``HTTPAdapter.send`` and ``Response.iter_content`` raise (a read timeout is always ``ReadTimeout``, and an error
they let through unwrapped is a ``RequestException``), so :class:`HttpSession` maps them to routerfix errors as
before. Any other session (a proxy, ``trust_env``, hooks, an adapter with a ``send`` of its own, not made by
:func:`requests_session`) is sent by ``Session.send``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import requests
    from urllib3 import BaseHTTPResponse
    from urllib3.connectionpool import HTTPConnectionPool

BODY_PART = 64 * 1024
"""Bytes read from a body at a time."""


class Reply(NamedTuple):
    """A device's answer: status, headers (names as sent, repeated ones joined by ``", "``), the charset
    ``requests`` would decode the body with (None: not said), and the body decoded from its transfer and content
    encodings, or None when it went past the limit (the connection was then dropped)."""

    status: int
    headers: dict[str, str]
    encoding: str | None
    body: bytes | None


def requests_session() -> requests.Session:
    """A new ``requests.Session`` that never looks for a redirect target. routerfix follows no redirect, but even
    with ``allow_redirects=False`` ``Session.send`` reads a 3xx answer's whole body to prepare the next request
    (``Response.next``), before the body could be bounded. A ``Location`` header still reaches drivers in
    :attr:`~routerfix.transport.html.Page.headers`."""
    return _session_class()()


@functools.cache
def _session_class() -> type[requests.Session]:
    import requests

    class NoRedirectSession(requests.Session):
        def __init__(self) -> None:
            super().__init__()
            self.routerfix_pools: dict[Any, HTTPConnectionPool] = {}

        def get_redirect_target(self, resp: requests.Response) -> None:
            return None

        def close(self) -> None:
            self.routerfix_pools.clear()
            super().close()

    return NoRedirectSession


def send(session: requests.Session, method: str, url: str, *, params: Mapping[str, str] | None,
         data: Mapping[str, str] | str | bytes | None, headers: Mapping[str, str] | None,
         timeout: tuple[float, float], limit: int) -> Reply:
    """Send one request on ``session`` (no redirect followed, no retry) and read its answer, the body at most
    ``limit`` bytes. Failures raise the ``requests`` exceptions ``Session.request`` would raise, except that a read
    timeout is always ``ReadTimeout`` (``requests`` reports one while a body is read as a ``ConnectionError``)."""
    from requests import PreparedRequest
    from requests.structures import CaseInsensitiveDict

    if session.trust_env:  # not a session of ours: let requests merge the environment in
        resp = session.request(method, url, params=params, data=data, headers=headers, timeout=timeout,
                               allow_redirects=False, stream=True)
        return _requests_reply(resp, limit)
    merged: CaseInsensitiveDict[str | bytes] = CaseInsensitiveDict(session.headers)
    for name, value in (headers or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    pools: dict[Any, HTTPConnectionPool] | None = getattr(session, "routerfix_pools", None)
    adapter = session.get_adapter(url)
    if pools is None or session.proxies or any(session.hooks.values()) or not _plain(adapter):
        prepared = PreparedRequest()
        prepared.prepare(method=method, url=url, headers=merged, data=data or {}, params=params or {},
                         auth=session.auth, cookies=session.cookies, hooks=session.hooks)
        resp = session.send(prepared, timeout=timeout, allow_redirects=False, proxies=dict(session.proxies),
                            stream=True, verify=session.verify, cert=session.cert)
        return _requests_reply(resp, limit)
    # PreparedRequest.prepare's steps, in its order; the hooks step is left out (there are none), and the cookie
    # step when the jar is empty (it would add no header).
    prepared = PreparedRequest()
    prepared.prepare_method(method)
    prepared.prepare_url(url, params)
    prepared.prepare_headers(merged)
    if len(session.cookies):
        prepared.prepare_cookies(session.cookies)
    prepared.prepare_body(data or None, None)
    prepared.prepare_auth(session.auth, url)
    return _direct(session, adapter, pools, prepared, timeout, limit)


def _plain(adapter: object) -> bool:
    """An ``HTTPAdapter`` whose ``send`` is ``requests``' own (a subclass may change the pool's set-up, not how a
    request is sent): its pool can be used directly."""
    from requests.adapters import HTTPAdapter

    return isinstance(adapter, HTTPAdapter) and type(adapter).send is HTTPAdapter.send


def _direct(session: requests.Session, adapter: Any, pools: dict[Any, HTTPConnectionPool],
            prepared: requests.PreparedRequest, timeout: tuple[float, float], limit: int) -> Reply:
    from requests.cookies import extract_cookies_to_jar
    from requests.utils import get_encoding_from_headers
    from urllib3.exceptions import HTTPError
    from urllib3.util import Timeout

    url = str(prepared.url)
    # scheme://host:port and what else picks the pool: the adapter mounted, and the trust settings
    key = ("/".join(url.split("/", 3)[:3]), adapter, session.verify, session.cert)
    pool = pools.get(key)
    if pool is None:
        pool = pools[key] = _pool(session, adapter, prepared)
    body = prepared.body
    try:
        resp = pool.urlopen(method=str(prepared.method), url=prepared.path_url, body=body,
                            headers=prepared.headers,
                            redirect=False, assert_same_host=False, preload_content=False, decode_content=False,
                            retries=adapter.max_retries,
                            timeout=Timeout(connect=timeout[0], read=timeout[1]),
                            chunked=not (body is None or "Content-Length" in prepared.headers))
    except (HTTPError, OSError) as exc:
        raise _send_error(exc, prepared) from exc
    if "Set-Cookie" in resp.headers:  # what Session.send does with every answer (a jar takes only Set-Cookie)
        extract_cookies_to_jar(session.cookies, prepared, resp)  # type: ignore[no-untyped-call]
    headers = dict(resp.headers)
    encoding = get_encoding_from_headers(resp.headers)  # case-insensitive look-up
    return Reply(resp.status, headers, encoding, _read(resp, limit))


def _pool(session: requests.Session, adapter: Any, prepared: requests.PreparedRequest) -> HTTPConnectionPool:
    """The adapter's pool for the request's host, with the trust settings ``HTTPAdapter.send`` applies."""
    from requests.exceptions import InvalidURL
    from urllib3.exceptions import LocationValueError

    try:
        pool = adapter.get_connection_with_tls_context(prepared, session.verify, proxies={}, cert=session.cert)
    except LocationValueError as exc:
        raise InvalidURL(exc, request=prepared) from exc
    adapter.cert_verify(pool, prepared.url, session.verify, session.cert)
    return pool  # type: ignore[no-any-return]


def _read(resp: BaseHTTPResponse, limit: int) -> bytes | None:
    """The whole body, or None past ``limit`` (then the connection is closed, and no more is read or held).
    A body read to its end hands the connection back to the pool."""
    from urllib3.exceptions import HTTPError

    def drop() -> None:  # as requests.Response.close: the socket closed, the pool's slot given back
        resp.close()
        resp.release_conn()

    try:
        return _bounded(resp.stream(BODY_PART, decode_content=True), limit, drop)
    except HTTPError as exc:
        raise _body_error(exc) from exc


def _requests_reply(resp: requests.Response, limit: int) -> Reply:
    import requests
    from urllib3.exceptions import ReadTimeoutError

    try:
        content = _bounded(resp.iter_content(BODY_PART), limit, resp.close)
    except requests.ConnectionError as exc:  # iter_content's name for a read timeout
        if exc.args and isinstance(exc.args[0], ReadTimeoutError):
            raise requests.ReadTimeout(exc.args[0], request=exc.request) from exc
        raise
    return Reply(resp.status_code, dict(resp.headers), resp.encoding, content)


def _bounded(parts: Iterator[bytes], limit: int, close: Callable[[], None]) -> bytes | None:
    """The parts joined, or None once they go past ``limit`` (``close`` is called, nothing more is read)."""
    read: list[bytes] = []
    size = 0
    for part in parts:
        size += len(part)
        if size > limit:
            close()
            return None
        read.append(part)
    return b"".join(read)


def _send_error(exc: Exception, request: requests.PreparedRequest) -> Exception:
    """The ``requests`` exception ``HTTPAdapter.send`` raises for ``urllib3``'s ``exc`` (one it lets through
    unwrapped: ``RequestException``)."""
    from requests import exceptions as rq
    from urllib3 import exceptions as u3

    if isinstance(exc, u3.MaxRetryError):
        reason = exc.reason
        if isinstance(reason, u3.ConnectTimeoutError) and not isinstance(reason, u3.NewConnectionError):
            return rq.ConnectTimeout(exc, request=request)
        kind = _kind(reason, ((u3.ResponseError, rq.RetryError), (u3.ProxyError, rq.ProxyError),
                              (u3.SSLError, rq.SSLError)), rq.ConnectionError)
    else:
        kind = _kind(exc, (((u3.ProtocolError, OSError, u3.ClosedPoolError), rq.ConnectionError),
                           (u3.ProxyError, rq.ProxyError), (u3.SSLError, rq.SSLError),
                           (u3.ReadTimeoutError, rq.ReadTimeout), (u3.InvalidHeader, rq.InvalidHeader)),
                     rq.RequestException)
    return kind(exc, request=request)


def _body_error(exc: Exception) -> Exception:
    """The ``requests`` exception ``Response.iter_content`` raises for ``urllib3``'s ``exc``, except that a read
    timeout is a ``ReadTimeout`` (``iter_content`` says ``ConnectionError``)."""
    from requests import exceptions as rq
    from urllib3 import exceptions as u3

    kind = _kind(exc, ((u3.ProtocolError, rq.ChunkedEncodingError), (u3.DecodeError, rq.ContentDecodingError),
                       (u3.ReadTimeoutError, rq.ReadTimeout), (u3.SSLError, rq.SSLError)), rq.RequestException)
    return kind(exc)


def _kind(exc: object, table: tuple[tuple[Any, type[requests.RequestException]], ...],
          default: type[requests.RequestException]) -> type[requests.RequestException]:
    """The ``requests`` exception class of the first row of ``table`` whose ``urllib3`` class(es) ``exc`` is."""
    return next((kind for classes, kind in table if isinstance(exc, classes)), default)
