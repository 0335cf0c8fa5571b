"""What a web driver's request puts on the wire and what it makes of the answer, over a real socket: cookies the
device sets (scoped and expired as a browser would), credentials, form bodies, charsets, repeated headers, one
kept-alive connection, and every transport fault mapped to a routerfix error.

The device is a raw HTTP/1.1 server on 127.0.0.1 that records each request and answers with the next scripted
reply (a callable may instead cut the connection or stall).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from routerfix.errors import InvalidValue, ParseError, ReadTimeout, TransportError
from routerfix.secrets import Secret
from routerfix.timeouts import Timeouts
from routerfix.transport.http import MAX_PAGE_BYTES, HttpOptions, HttpSession

from .rawhttp import RawHttpDevice, next_head

Answer = bytes | Callable[[socket.socket], None]


@dataclass
class _Seen:
    line: str
    headers: dict[str, str]
    body: bytes


class _Device(RawHttpDevice):
    """Records each request and answers it with the next of ``answers``, each connection on a thread of its own."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = answers
        self.seen: list[_Seen] = []
        super().__init__(parallel=True)

    def answer_all(self, conn: socket.socket) -> None:
        buffered = b""
        try:
            while (request := next_head(conn, buffered)) is not None:
                head, buffered = request
                line, *lines = head.decode("latin-1").split("\r\n")
                headers = {name: value.strip() for name, value in (h.split(":", 1) for h in lines)}
                size = int(headers.get("Content-Length", "0"))
                while len(buffered) < size:
                    buffered += conn.recv(65536)
                self.seen.append(_Seen(line, headers, buffered[:size]))
                buffered = buffered[size:]
                answer = self.answers.pop(0)
                if callable(answer):
                    answer(conn)
                    return
                conn.sendall(answer)
        except OSError:
            return


@dataclass
class _Port:
    """Where nothing listens."""

    port: int


def _page(body: bytes = b"<html>ok</html>", *headers: str, status: str = "200 OK") -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 {status}\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


@pytest.fixture
def device() -> Iterator[_Device]:
    found = _Device(answers=[])
    yield found
    found.close()


@pytest.fixture(params=["pool", "requests"])
def path(request: pytest.FixtureRequest) -> str:
    """Both ways a request is sent: on the adapter's own pool, and through ``Session.send`` (which a session with a
    proxy takes; here a response hook selects it)."""
    return str(request.param)


def _session(device: _Device | _Port, path: str, **timeouts: float) -> HttpSession:
    http = HttpSession("127.0.0.1", driver="test", options=HttpOptions(scheme="http", port=device.port),
                       timeouts=Timeouts(retry_wait=0.01, **timeouts), headers={"Referer": "http://127.0.0.1/"})
    http.open()
    if path == "requests":
        http.session.hooks["response"].append(lambda response, *args, **kwargs: response)
    return http


def test_cookies_the_device_sets_are_sent_back_within_their_path_until_it_expires_them(device: _Device,
                                                                                      path: str) -> None:
    device.answers += [
        _page(b"login", "Set-Cookie: sid=abc123; Path=/", "Set-Cookie: area=9; Path=/admin"),
        _page(b"one"),
        _page(b"two"),
        _page(b"bye", "Set-Cookie: sid=; Max-Age=0; Path=/"),
        _page(b"three"),
    ]
    http = _session(device, path)
    try:
        http.get("/login.htm", page="login")
        http.get("/admin/nat.htm", page="nat")
        http.get("/status.htm", page="status")
        http.get("/logout.htm", page="logout")
        http.get("/admin/x.htm", page="x")
    finally:
        http.close()
    cookies = [seen.headers.get("Cookie") for seen in device.seen]
    assert cookies[0] is None
    assert sorted(cookies[1].split("; ")) == ["area=9", "sid=abc123"]
    assert cookies[2] == "sid=abc123"  # /admin's cookie stays on /admin
    assert cookies[3] == "sid=abc123"
    assert cookies[4] == "area=9"  # the device expired sid
    assert device.connections == 1  # one kept-alive connection for the whole run


def test_credentials_headers_and_a_form_body_reach_the_device_as_set(device: _Device, path: str) -> None:
    device.answers += [_page(b"set", "Set-Cookie: XSRF=tok; Path=/"), _page(b"done")]
    http = _session(device, path)
    http.set_credentials(basic=("admin", Secret("pa ss")), cookies={"asus_token": Secret("t0k")},
                         headers={"X-Auth": Secret("h1")})
    try:
        http.get("/a.htm", page="a", params={"q": "a b&c"})
        http.post("/apply.cgi", {"name": "SIP 5060", "ip": "192.168.1.250"}, page="apply")
    finally:
        http.close()
    get, post = device.seen
    assert get.line == "GET /a.htm?q=a+b%26c HTTP/1.1"
    assert get.headers["Authorization"] == "Basic YWRtaW46cGEgc3M="
    assert get.headers["Cookie"] == "asus_token=t0k"
    assert get.headers["User-Agent"] == "routerfix" and get.headers["Referer"] == "http://127.0.0.1/"
    assert post.line == "POST /apply.cgi HTTP/1.1"
    assert post.headers["Cookie"] == "XSRF=tok; asus_token=t0k"  # the jar's cookies first, then the credential
    assert post.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert post.body == b"name=SIP+5060&ip=192.168.1.250"
    assert post.headers["X-Auth"] == "h1"


def test_charsets_repeated_headers_and_compressed_pages_are_read_as_a_browser_would(device: _Device,
                                                                                    path: str) -> None:
    import gzip

    device.answers += [
        _page("Réseau".encode("latin-1"), "Content-Type: text/html; charset=ISO-8859-1", "X-A: 1", "X-A: 2"),
        *(_page("Réseau".encode(), f"Content-Type: text/html; charset={name}")
          for name in ("x-no-such-charset", "undefined", "idna", "punycode")),
        _page(gzip.compress(b"<html>zipped</html>"), "Content-Encoding: gzip"),
    ]
    http = _session(device, path)
    try:
        latin = http.get("/1.htm", page="one")
        odd = [http.get(f"/odd{n}.htm", page="odd").text for n in range(4)]
        zipped = http.get("/3.htm", page="three")
    finally:
        http.close()
    assert latin.text == "Réseau" and latin.headers["X-A"] == "1, 2"
    assert odd == ["Réseau"] * 4  # a charset Python does not know or cannot decode with: UTF-8, not a crash
    assert zipped.text == "<html>zipped</html>"


def _hang_up(conn: socket.socket) -> None:
    conn.shutdown(socket.SHUT_RDWR)


def _stall(conn: socket.socket) -> None:
    conn.recv(1)  # until the client gives up


def _stall_in_body(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n<html>")
    conn.recv(1)


def _broken_chunks(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n")


@pytest.mark.parametrize(("answer", "method", "error"), [
    (_hang_up, "GET", TransportError),
    (_broken_chunks, "GET", TransportError),
    (_stall, "POST", ReadTimeout),
    (_stall, "GET", ReadTimeout),
    (_stall_in_body, "GET", ReadTimeout),  # requests' iter_content calls this one a connection error
])
def test_faults_on_the_wire_become_routerfix_errors(device: _Device, answer: Answer, method: str,
                                                    error: type[Exception], path: str) -> None:
    device.answers += [answer] * 4
    http = _session(device, path, read=0.3)
    page = "x" if method == "GET" else "apply"
    try:
        with pytest.raises(error) as caught:
            if method == "GET":
                http.request("GET", "/x.htm", page=page)
            else:
                http.post("/apply.cgi", {"a": "1"}, page=page)
    finally:
        http.close()
    assert type(caught.value) is error
    assert str(caught.value).startswith(f"{page}: ")


def test_a_refused_connection_is_a_transport_error_and_the_session_recovers_after_reopening(device: _Device,
                                                                                            path: str) -> None:
    device.answers += [_page(b"one"), _page(b"two")]
    http = _session(device, path)
    try:
        http.get("/1.htm", page="one")
        http.close()
        http.open()  # a new session after a close: a new connection pool
        if path == "requests":
            http.session.hooks["response"].append(lambda response, *args, **kwargs: response)
        assert http.get("/2.htm", page="two").text == "two"
    finally:
        http.close()
    assert device.connections == 2
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    nobody = _session(_Port(port), path)
    try:
        with pytest.raises(TransportError, match="Connection refused") as caught:
            nobody.request("GET", "/", page="home")
    finally:
        nobody.close()
    assert type(caught.value) is TransportError


def _pool_of(http: HttpSession) -> Any:
    """The connection pool the session's requests went through: the one ``requests`` itself picks for them."""
    import requests

    probe = requests.PreparedRequest()
    probe.prepare(method="GET", url=http.base_url + "/")
    session = http.session
    adapter: Any = session.get_adapter(http.base_url)
    pool = adapter.get_connection_with_tls_context(probe, session.verify, proxies={}, cert=session.cert)
    kept = list(getattr(session, "routerfix_pools", {}).values())
    assert kept in ([], [pool])  # the pool path keeps exactly that pool
    return pool


def test_an_oversize_page_gives_its_connection_slot_back(device: _Device, path: str) -> None:
    """Past the limit the connection is dropped, and the pool keeps all its slots for the next requests. (A body cut
    off at its very end would have been read whole: that connection is sound and kept.)"""
    big = _page(b"x" * (MAX_PAGE_BYTES + 4 * 1024 * 1024))
    device.answers += [big] * 12 + [_page(b"small")]
    http = _session(device, path)
    try:
        for _ in range(12):
            with pytest.raises(ParseError, match="larger than"):
                http.request("GET", "/big.htm", page="big")
        assert http.get("/small.htm", page="small").text == "small"
        pool = _pool_of(http)
        assert pool.pool is not None and pool.pool.qsize() == pool.pool.maxsize  # every slot back
    finally:
        http.close()
    assert device.connections == 13  # a new connection after each dropped one


@pytest.mark.parametrize("where", ["header", "cookie"])
def test_a_credential_with_a_line_break_is_refused_without_showing_it(device: _Device, where: str) -> None:
    """http.client would refuse it with the value in its message; nothing is sent and the secret is not shown."""
    secret = Secret("s3cret\r\nX-Injected: 1")
    http = _session(device, "pool")
    try:
        with pytest.raises(InvalidValue) as caught:
            if where == "header":
                http.set_credentials(headers={"X-Auth": secret})
            else:
                http.set_credentials(cookies={"sid": secret})
    finally:
        http.close()
    assert f"credential {where}" in str(caught.value)
    assert "s3cret" not in str(caught.value) and "s3cret" not in repr(caught.value)
    assert device.seen == []


def _send_faults() -> list[tuple[Exception, str]]:
    from urllib3 import exceptions as u3

    def retried(reason: Exception) -> Exception:
        return u3.MaxRetryError(None, "/x.htm", reason)

    return [
        (retried(u3.ConnectTimeoutError("connect timed out")), "ConnectTimeout"),
        (retried(u3.NewConnectionError(None, "refused")), "ConnectionError"),
        (retried(u3.NameResolutionError("router.invalid", None, OSError("no name"))),
         "ConnectionError"),
        (retried(u3.ResponseError("too many")), "RetryError"),
        (retried(u3.ProxyError("proxy refused", OSError())), "ProxyError"),
        (retried(u3.SSLError("bad certificate")), "SSLError"),
        (retried(u3.ProtocolError("aborted")), "ConnectionError"),
        (u3.ProtocolError("aborted"), "ConnectionError"),
        (OSError("reset"), "ConnectionError"),
        (u3.ClosedPoolError(None, "closed"), "ConnectionError"),
        (u3.ProxyError("proxy refused", OSError()), "ProxyError"),
        (u3.SSLError("bad certificate"), "SSLError"),
        (u3.ReadTimeoutError(None, "/x.htm", "read timed out"), "ReadTimeout"),
        (u3.InvalidHeader("bad header"), "InvalidHeader"),
        (u3.DecodeError("bad gzip"), "RequestException"),  # requests lets this one through unwrapped
    ]


def _fault_id(value: object) -> str:
    reason = getattr(value, "reason", None)
    return f"{type(value).__name__}({type(reason).__name__})" if reason is not None else \
        value if isinstance(value, str) else type(value).__name__


@pytest.mark.parametrize(("fault", "expected"), _send_faults(), ids=_fault_id)
def test_a_send_fault_becomes_the_requests_exception_requests_raises(fault: Exception, expected: str) -> None:
    """HTTPAdapter.send's mapping, row by row (requests 2.x); a subclass must not be caught by an earlier row."""
    from routerfix.transport._exchange import _send_error

    assert type(_send_error(fault, None)).__name__ == expected


@pytest.mark.parametrize(("fault", "expected"), [
    ("ProtocolError", "ChunkedEncodingError"), ("DecodeError", "ContentDecodingError"),
    ("ReadTimeoutError", "ReadTimeout"),  # iter_content says ConnectionError
    ("SSLError", "SSLError"), ("HTTPError", "RequestException"),
])
def test_a_body_fault_becomes_the_requests_exception_iter_content_raises(fault: str, expected: str) -> None:
    from urllib3 import exceptions as u3

    from routerfix.transport._exchange import _body_error

    kind = getattr(u3, fault)
    made = kind(None, "/x.htm", "timed out") if kind is u3.ReadTimeoutError else kind("fault")
    assert type(_body_error(made)).__name__ == expected
