"""Shared mechanics of HTTP device simulators: a threaded server on 127.0.0.1. No vendor names here.

A simulator supplies one function, ``handle(SimRequest) -> SimResponse``; this
module does the rest:

* a threaded ``http.server`` bound to 127.0.0.1 only (port 0 = any free port); one acceptor thread per process
  serves the listening sockets of every simulator, each connection gets a thread of its own; or, for a process
  serving hundreds of devices, an asyncio event loop serving every connection on one thread
  (:meth:`HttpSimulator.serve_on`, :mod:`simulators._hosts.http_loop`);
* optional TLS with a self-signed certificate generated at start
  (``cryptography``), its ``sha256:<hex>`` fingerprint exposed for pinning
  (:attr:`HttpSimulator.fingerprint`);
* a request recorder (method, path, query, headers, form fields, raw body, the
  answer's status) for "exact requests sent" and injection tests;
* knobs: per-request ``latency``, and one-shot (or n-shot) :class:`Fault` s:
  an HTTP status (500...), a garbled page, a delay (slow apply), a dropped
  connection;
* helpers for Basic auth, cookies and form bodies.

Usage::

    def handle(req: SimRequest) -> SimResponse:
        if req.path == "/index.htm":
            return SimResponse(200, "<html>...</html>")
        return SimResponse(404, "not found")

    with HttpSimulator(handle, tls=True) as server:
        print(server.url, server.fingerprint)
        server.add_fault("status", match="/apply", status=500)   # the next matching request gets a 500
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import ipaddress
import logging
import os
import selectors
import shutil
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

    from .http_loop import LoopServer

__all__ = ["GARBAGE", "Fault", "HttpSimulator", "RecordedRequest", "SimRequest", "SimResponse", "basic_challenge",
           "make_self_signed_cert", "parse_cookies"]

log = logging.getLogger("routerfix.simulators._hosts.http")

GARBAGE = b"\x00\xff<ht\x00ml><<form action=\"\x01\"><input name=\xfe\xfe value=\x00\x00></fo\x8frm>\xc3\x28" * 7
"""What a garbled page looks like: broken markup and invalid UTF-8."""

MAX_BODY = 8 * 1024 * 1024
"""The most of a request body a simulator reads."""


def parse_cookies(header: str) -> dict[str, str]:
    """``Cookie:`` header → {name: value} (first value wins)."""
    out: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in out:
            out[name] = value
    return out


@dataclass
class SimRequest:
    """One request as the simulator sees it."""

    method: str
    path: str
    """The URL path, percent-decoded, without the query."""
    query: str
    """The raw query string, percent-decoded (``/apply.cgi?/x.htm timestamp=1`` → ``/x.htm timestamp=1``)."""
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes
    client: str
    """The client's IP address."""
    form: dict[str, str] = field(default_factory=dict)
    """Form fields of an ``application/x-www-form-urlencoded`` body (first value per name)."""
    form_list: list[tuple[str, str]] = field(default_factory=list)
    """Every form field in order (repeated names kept)."""

    @property
    def cookies(self) -> dict[str, str]:
        """The request's cookies."""
        return parse_cookies(self.headers.get("cookie", ""))

    def basic_auth(self) -> tuple[str, str] | None:
        """(user, password) from ``Authorization: Basic``, or None."""
        value = self.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "basic" or not token:
            return None
        try:
            user, sep, password = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return (user, password) if sep else None

    def query_params(self) -> dict[str, str]:
        """The query string parsed as ``a=1&b=2`` (first value per name)."""
        return {k: v[0] for k, v in urllib.parse.parse_qs(self.query, keep_blank_values=True).items()}


@dataclass
class SimResponse:
    """What the simulator answers."""

    status: int = 200
    body: str | bytes = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "text/html; charset=utf-8"

    def set_cookie(self, name: str, value: str, *, path: str = "/", http_only: bool = False) -> SimResponse:
        """Add a ``Set-Cookie`` header; returns self."""
        text = f"{name}={value}; Path={path}" + ("; HttpOnly" if http_only else "")
        self.headers.append(("Set-Cookie", text))
        return self

    def header(self, name: str, value: str) -> SimResponse:
        """Add a header; returns self."""
        self.headers.append((name, value))
        return self


def _failed() -> SimResponse:
    """The page a simulator answers when its handler fails."""
    return SimResponse(500, "<html><body>500 Internal Server Error</body></html>")


@dataclass(frozen=True)
class RecordedRequest:
    """A request the simulator received, and the status it answered."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    form: dict[str, str]
    body: bytes
    client: str
    status: int
    at: float

    @property
    def target(self) -> str:
        """``path`` plus ``?query`` when there is one."""
        return f"{self.path}?{self.query}" if self.query else self.path


@dataclass
class Fault:
    """A one-shot (or ``times``-shot) fault for requests that match.

    :param kind: ``"status"`` (answer ``status`` without handling), ``"garble"`` (handle, then send
        :data:`GARBAGE` instead of the page), ``"delay"`` (handle, then wait ``seconds``: a slow apply),
        ``"drop"`` (close the connection without an answer, before handling), ``"drop-after"`` (handle,
        then close without an answer: the write lands but the client never hears).
    :param match: a substring of ``METHOD path?query`` (``"POST /apply.cgi"``, ``"WAN_wan.htm"``), or a
        predicate on the :class:`SimRequest`. Empty matches every request.
    :param times: how many matching requests it hits.
    :param skip: how many matching requests pass unharmed first.
    """

    kind: str
    match: str | Callable[[SimRequest], bool] = ""
    times: int = 1
    status: int = 500
    seconds: float = 0.0
    skip: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("status", "garble", "delay", "drop", "drop-after"):
            raise ValueError(f"unknown fault kind {self.kind!r}")

    def matches(self, req: SimRequest) -> bool:
        """True when this fault applies to ``req``."""
        if callable(self.match):
            return bool(self.match(req))
        target = f"{req.method} {req.path}" + (f"?{req.query}" if req.query else "")
        return self.match in target


METHODS = frozenset({"GET", "POST", "HEAD", "PUT", "DELETE"})
"""The methods a simulator serves; any other is answered ``501`` (as ``http.server`` does without a ``do_`` method)."""


@dataclass(frozen=True)
class Answer:
    """What the simulator does with one request, whichever front end received it (:meth:`HttpSimulator.answer`)."""

    status: int
    """The answer's status; 0 when the connection is dropped unanswered."""
    headers: tuple[tuple[str, str], ...] = ()
    """Every header after ``Date`` (stamped when the answer is sent), in order."""
    fields: bytes = b""
    """:attr:`headers` as sent (``Name: value`` lines, ``latin-1``), encoded once when the answer is built."""
    body: bytes = b""
    """Sent unless the request was a ``HEAD``."""
    head_only: bool = False
    delay: float = 0.0
    """Seconds to wait before sending it (a "delay" fault: a slow apply)."""

    @property
    def dropped(self) -> bool:
        """Close the connection without an answer."""
        return self.status == 0

    @property
    def closes(self) -> bool:
        """The answer says ``Connection: close``: the connection ends after it (``http.server``'s rule)."""
        return any(n.lower() == "connection" and v.strip().lower() == "close" for n, v in self.headers)

    def encode(self) -> bytes:
        """Status line, ``Date`` (now), the headers and the body, as ``http.server`` writes them (``latin-1``)."""
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = ""
        head = f"HTTP/1.1 {self.status} {phrase}\r\nDate: {formatdate(usegmt=True)}\r\n".encode("latin-1") + \
            self.fields + b"\r\n"
        return head if self.head_only else head + self.body


def make_self_signed_cert(common_name: str = "127.0.0.1", *, days: int = 30) -> tuple[bytes, bytes, str]:
    """A fresh self-signed certificate for 127.0.0.1: (cert PEM, key PEM, ``sha256:<hex>`` of the DER)."""
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert_pem, key_pem, "sha256:" + hashlib.sha256(der).hexdigest()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: HttpSimulator
    tls_context: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Runs in the connection's own thread: the TLS handshake happens here, not in the shared acceptor (a
        handshake waits a round trip for the client; one slow client must not hold up other devices' accepts)."""
        if self.tls_context is None:
            super().finish_request(request, client_address)
            return
        try:
            tls = self.tls_context.wrap_socket(request, server_side=True)
        except (OSError, ValueError):  # not TLS, or the client went away: the connection ends, as before
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            self.shutdown_request(tls)


class _Acceptor:
    """One thread per process accepting the connections of every running :class:`HttpSimulator` (a selector over
    all their listening sockets). A thread per server polling for its shutdown flag 20 times a second cost
    thousands of wake-ups per second in a process serving a thousand devices, with none of them being used.
    Each accepted connection is still served by a thread of its own (``ThreadingHTTPServer``)."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)

    def add(self, server: _Server) -> None:
        """Accept for ``server`` from now on."""
        server.socket.setblocking(False)
        with self._lock:
            self._selector.register(server.socket, selectors.EVENT_READ, server)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="routerfix-sim-http-acceptor", daemon=True)
                self._thread.start()
        self._wake()

    def remove(self, server: _Server) -> None:
        """Stop accepting for ``server`` (its socket is left open for the caller to close)."""
        with self._lock, contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(server.socket)
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _run(self) -> None:
        while True:
            for key, _events in self._selector.select():
                if key.data is None:
                    with contextlib.suppress(OSError):
                        self._wake_r.recv(4096)
                    continue
                server: _Server = key.data
                try:
                    request, client_address = server.socket.accept()
                except OSError:  # nothing left to accept, or the server was closed meanwhile
                    continue
                request.setblocking(True)
                try:
                    server.process_request(request, client_address)
                except Exception:  # noqa: BLE001 - one broken connection must not stop every device
                    server.shutdown_request(request)


_ACCEPTOR: _Acceptor | None = None
_ACCEPTOR_LOCK = threading.Lock()


def _acceptor() -> _Acceptor:
    global _ACCEPTOR
    with _ACCEPTOR_LOCK:
        if _ACCEPTOR is None:
            _ACCEPTOR = _Acceptor()
        return _ACCEPTOR


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        try:  # answer in one go: no Nagle/delayed-ACK stalls on keep-alive connections
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)

    def _serve(self) -> None:
        self.server.owner._serve(self)

    do_GET = _serve
    do_POST = _serve
    do_HEAD = _serve
    do_PUT = _serve
    do_DELETE = _serve


class HttpSimulator:
    """An HTTP(S) server on 127.0.0.1 that hands each request to ``handler``: a thread per connection, or every
    connection on an event loop (:meth:`serve_on`).

    :param handler: ``SimRequest -> SimResponse``; exceptions become HTTP 500.
    :param tls: serve HTTPS with a self-signed certificate generated at start.
    :param port: 0 picks a free port.
    :param latency: seconds added before every answer.
    :param server_header: the ``Server:`` header ("" omits it).
    """

    def __init__(self, handler: Callable[[SimRequest], SimResponse], *, tls: bool = False, port: int = 0,
                 latency: float = 0.0, server_header: str = "") -> None:
        self.handler = handler
        self.tls = tls
        self.latency = latency
        self.server_header = server_header
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.fingerprint: str | None = None
        """``sha256:<hex>`` of the served certificate (TLS only)."""
        self.cert_pem: bytes | None = None
        self._want_port = port
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._loop_server: LoopServer | None = None
        self._tmpdir: str | None = None

    # --- lifecycle ---

    def start(self) -> HttpSimulator:
        """Bind to 127.0.0.1 and serve in a background thread."""
        server = _Server(("127.0.0.1", self._want_port), _Handler)
        server.owner = self
        if self.tls:
            cert_pem, key_pem, self.fingerprint = make_self_signed_cert()
            self.cert_pem = cert_pem
            self._tmpdir = tempfile.mkdtemp(prefix="routerfix-sim-")
            cert_file = os.path.join(self._tmpdir, "cert.pem")
            key_file = os.path.join(self._tmpdir, "key.pem")
            with open(cert_file, "wb") as f:
                f.write(cert_pem)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(key_pem)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_file, key_file)
            server.tls_context = context
        self._server = server
        _acceptor().add(server)
        return self

    def serve_on(self, loop: asyncio.AbstractEventLoop) -> HttpSimulator:
        """Serve from now on on ``loop``, an asyncio event loop running in another thread, instead of a thread per
        connection: same port, certificate, answers, faults and recording (:mod:`simulators._hosts.http_loop`;
        needs ``httptools``, in the ``bench`` and ``test`` extras). For a process serving hundreds of devices:
        one thread serves them all."""
        from .http_loop import serve_on_loop

        if self._server is None:
            raise RuntimeError("the simulator is not running")
        if self._loop_server is not None:
            raise RuntimeError("the simulator is already served on an event loop")
        # accepting on the loop first, then not in the acceptor: a connection arriving meanwhile is served either way
        self._loop_server = serve_on_loop(self, loop, self._server.socket, self._server.tls_context)
        _acceptor().remove(self._server)
        return self

    def stop(self) -> None:
        """Stop serving and free the port. Safe to call twice."""
        server, self._server = self._server, None
        loop_server, self._loop_server = self._loop_server, None
        if loop_server is not None:
            loop_server.close()
        if server is not None:
            _acceptor().remove(server)
            server.server_close()
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> HttpSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return int(self._server.server_address[1])

    @property
    def scheme(self) -> str:
        """``https`` or ``http``."""
        return "https" if self.tls else "http"

    @property
    def url(self) -> str:
        """``scheme://127.0.0.1:port``."""
        return f"{self.scheme}://127.0.0.1:{self.port}"

    # --- knobs and inspection ---

    def add_fault(self, kind: str, match: str | Callable[[SimRequest], bool] = "", *, times: int = 1,
                  status: int = 500, seconds: float = 0.0, skip: int = 0) -> Fault:
        """Arm a :class:`Fault`; it disarms itself after ``times`` hits."""
        fault = Fault(kind, match, times=times, status=status, seconds=seconds, skip=skip)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self.faults.clear()

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self.requests.clear()

    def recorded(self, method: str | None = None, contains: str = "") -> list[RecordedRequest]:
        """Recorded requests, optionally only one method and those whose target contains ``contains``."""
        with self._lock:
            items = list(self.requests)
        return [r for r in items if (method is None or r.method == method) and contains in r.target]

    def _take_fault(self, req: SimRequest) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.matches(req):
                    if fault.skip > 0:
                        fault.skip -= 1
                        continue
                    fault.times -= 1
                    return fault
            self.faults = [f for f in self.faults if f.times > 0]
        return None

    # --- serving ---

    def _serve(self, h: _Handler) -> None:
        """The threaded front end: one request read by ``http.server``, answered in one write."""
        try:
            length = int(h.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = h.rfile.read(min(length, MAX_BODY)) if length > 0 else b""
        req = self.request_of(h.command, h.path, h.headers.items(), body, h.client_address[0])
        if self.latency > 0:
            time.sleep(self.latency)
        answer = self.answer(req)
        if answer.delay:
            time.sleep(answer.delay)
        self.record(req, answer.status)
        if answer.dropped:
            self._drop(h)
            return
        try:
            h.log_request(answer.status)
            h.wfile.write(answer.encode())
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):  # the client gave up (timeout test)
            h.close_connection = True
        if answer.closes:
            h.close_connection = True

    @staticmethod
    def request_of(method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes,
                   client: str) -> SimRequest:
        """The :class:`SimRequest` of one request as received (``target``: path and query, undecoded; a leading
        ``//`` is one ``/``, as ``http.server`` has it)."""
        if target.startswith("//"):
            target = "/" + target.lstrip("/")
        raw_path, _, raw_query = target.partition("?")
        names = {k.lower(): v for k, v in headers}
        form_list: list[tuple[str, str]] = []
        if body and "application/x-www-form-urlencoded" in names.get("content-type", ""):
            try:
                form_list = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
            except (UnicodeDecodeError, ValueError):
                form_list = []
        form: dict[str, str] = {}
        for k, v in form_list:
            form.setdefault(k, v)
        return SimRequest(method=method, path=urllib.parse.unquote(raw_path), query=urllib.parse.unquote(raw_query),
                          headers=names, body=body, client=client, form=form, form_list=form_list)

    def answer(self, req: SimRequest) -> Answer:
        """Take the first matching fault, run the handler and build the answer (not recorded, not sent: the
        front end records it with :meth:`record` when it sends it, after :attr:`Answer.delay`). Never raises: a
        handler's failure, or an answer that cannot be sent as it is, is a 500 page."""
        fault = self._take_fault(req)
        if fault is not None and fault.kind == "drop":
            return Answer(0)
        if fault is not None and fault.kind == "status":
            resp = SimResponse(fault.status, f"<html><body><h1>{fault.status} Internal Server Error</h1></body></html>")
        else:
            try:
                resp = self.handler(req)
            except Exception:
                log.exception("simulator handler failed")
                resp = _failed()
        if fault is not None and fault.kind == "drop-after":
            return Answer(0)
        if fault is not None and fault.kind == "garble":
            resp = SimResponse(resp.status, GARBAGE, content_type="text/html")
        delay = fault.seconds if fault is not None and fault.kind == "delay" else 0.0
        try:  # a header Latin-1 cannot carry fails here, not while sending
            answer = self._answer_of(resp, req.method == "HEAD", delay)
        except (UnicodeError, TypeError, ValueError):
            log.exception("simulator answer cannot be sent")
            answer = self._answer_of(_failed(), req.method == "HEAD", delay)
        return answer

    def _answer_of(self, resp: SimResponse, head_only: bool, delay: float) -> Answer:
        payload = resp.body.encode("utf-8") if isinstance(resp.body, str) else resp.body
        # one Server header, the device's (http.server would add its own)
        headers = [("Server", self.server_header)] if self.server_header else []
        headers += [("Content-Type", resp.content_type), ("Content-Length", str(len(payload)))]
        headers += resp.headers
        fields = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("latin-1", "strict")
        return Answer(resp.status, tuple(headers), fields, payload, head_only, delay)

    def record(self, req: SimRequest, status: int) -> None:
        """Add ``req`` and the status it was answered with (0: dropped) to :attr:`requests`."""
        with self._lock:
            self.requests.append(RecordedRequest(req.method, req.path, req.query, req.headers, req.form, req.body,
                                                 req.client, status, time.monotonic()))

    @staticmethod
    def _drop(h: _Handler) -> None:
        h.close_connection = True
        try:
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def basic_challenge(realm: str, body: str = "401 Unauthorized") -> SimResponse:
    """An HTTP 401 asking for Basic credentials in ``realm``."""
    return SimResponse(401, body).header("WWW-Authenticate", f'Basic realm="{realm}"')



