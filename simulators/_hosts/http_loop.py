"""An event-loop front end for :class:`~simulators._hosts.http.HttpSimulator`: every connection on one thread.

The threaded front end gives each connection a thread of its own. A process serving a thousand web devices behind
the benchmarks' delaying proxies (:mod:`simulators._hosts.delay`, on an asyncio loop) then hands every request
from the loop's thread to a connection's thread and back, each wake-up a switch of the interpreter lock. Here the
requests are parsed on the loop itself by ``httptools`` (the C parser uvicorn uses) and answered by the
simulator's own :meth:`HttpSimulator.answer`: the same answers, faults, ``latency`` and recording.

Requests on one connection are answered in order, one at a time (a pipelined request waits for the answer
before it). The handler runs on the loop's thread, so it must not block (no simulator's does: slow applies are
timestamps). One difference, which no routerfix driver meets: a request the parser refuses gets a bare ``400``
and the connection is closed (``http.server`` also sends an HTML page).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import deque
from typing import TYPE_CHECKING, Any

import httptools

from .http import MAX_BODY, SimRequest

if TYPE_CHECKING:
    from .http import HttpSimulator, _Answer

__all__ = ["LoopServer", "serve_on_loop"]

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class _Connection(asyncio.Protocol):
    """One client connection: ``httptools`` calls the ``on_*`` methods while it parses what arrives."""

    def __init__(self, sim: HttpSimulator, loop: asyncio.AbstractEventLoop) -> None:
        self.sim = sim
        self.loop = loop
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.client = "127.0.0.1"
        self.waiting: deque[tuple[SimRequest, bool]] = deque()
        """Parsed requests not yet answered, each with whether the connection stays open after it."""
        self.busy = False
        self.closed = False
        self._url = b""
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._size = 0

    # --- the transport's side ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio's classes
        sock = transport.get_extra_info("socket")
        if sock is not None:  # answer in one go: no Nagle/delayed-ACK stalls on kept-alive connections
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        if peer:
            self.client = str(peer[0])

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:  # an upgrade request too: nothing here speaks another protocol
            self._close(_BAD_REQUEST)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    # --- the parser's side ---

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._body = []
        self._size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        if any(n.lower() == "expect" and v.strip().lower() == "100-continue" for n, v in self._headers):
            self._write(_CONTINUE)  # the client waits for it before it sends the body

    def on_body(self, body: bytes) -> None:
        room = MAX_BODY - self._size
        if room > 0:
            self._body.append(body[:room])
            self._size += min(len(body), room)

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode("latin-1")
        req = self.sim.request_of(method, self._url.decode("latin-1"), self._headers, b"".join(self._body),
                                  self.client)
        self.waiting.append((req, self.parser.should_keep_alive()))
        if not self.busy:
            self._next()

    # --- answering, in order ---

    def _next(self) -> None:
        if self.closed or not self.waiting:
            self.busy = False
            return
        self.busy = True
        req, keep = self.waiting.popleft()
        self._after(self.sim.latency, self._answer, req, keep)

    def _answer(self, req: SimRequest, keep: bool) -> None:
        if self.closed:
            return
        answer = self.sim.answer(req)
        self._after(answer.delay, self._send, req, answer, keep)

    def _send(self, req: SimRequest, answer: _Answer, keep: bool) -> None:
        self.sim._record(req, answer.status)
        if self.closed:
            return
        if answer.data is None or not keep:
            self._close(answer.data)
            return
        self._write(answer.data)
        self._next()

    def _after(self, delay: float, then: Any, *args: Any) -> None:
        if delay > 0:
            self.loop.call_later(delay, then, *args)
        else:
            then(*args)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def _close(self, last: bytes | None = None) -> None:
        """Send ``last`` (if any) and close: what is written still leaves, then the FIN."""
        if last:
            self._write(last)
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class LoopServer:
    """An :class:`HttpSimulator`'s listening socket served on an event loop (:func:`serve_on_loop`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, server: asyncio.AbstractServer) -> None:
        self.loop = loop
        self.server = server

    def close(self) -> None:
        """Stop accepting and close the listening socket, from any thread (connections already open stay open
        until their clients close them, as with the threaded front end)."""
        loop = self.loop
        if loop.is_closed():
            return
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop or not loop.is_running():
            self.server.close()
            return
        done = asyncio.run_coroutine_threadsafe(self._close(), loop)
        with contextlib.suppress(TimeoutError, RuntimeError):
            done.result(timeout=10)

    async def _close(self) -> None:
        self.server.close()


def serve_on_loop(sim: HttpSimulator, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                  tls: ssl.SSLContext | None) -> LoopServer:
    """Serve ``sim``'s requests arriving on the listening socket ``sock`` (TLS with ``tls``) on ``loop``, an
    event loop running in another thread; returns once it accepts."""

    async def start() -> asyncio.AbstractServer:
        return await loop.create_server(lambda: _Connection(sim, loop), sock=sock, ssl=tls)

    return LoopServer(loop, asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10))
