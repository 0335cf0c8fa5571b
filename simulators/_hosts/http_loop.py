"""An event-loop front end for :class:`~simulators._hosts.http.HttpSimulator`: every connection on one thread.

The threaded front end gives each connection a thread of its own. A process serving a thousand web devices behind
the benchmarks' delaying proxies (:mod:`simulators._hosts.delay`, on an asyncio loop) then hands every request
from the loop's thread to a connection's thread and back, each wake-up a switch of the interpreter lock. Here the
requests are parsed on the loop itself by ``httptools`` (the C parser uvicorn uses) and answered by the
simulator's own :meth:`HttpSimulator.answer`: the same answers, faults, ``latency`` and recording.

Requests on one connection are answered in order, one at a time (a pipelined request waits for the answers before
it). The handler runs on the loop's thread, so it must not block (no simulator's does: slow applies are
timestamps). Where ``http.server`` would answer differently, no routerfix driver goes (each case is in
``tests/bench_smoke/test_http_loop.py``):

* a request the parser refuses, or a ``Content-Length`` that is not a number, gets a bare ``400`` once the answers
  before it are sent, and the connection is closed (``http.server`` sends an HTML page, and reads a bad length as
  0);
* a chunked request body is read (``http.server`` leaves it unread, to be parsed as the next request);
* over TLS, a client that half-closes its side gets no further answer (asyncio's TLS transport closes then).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httptools

from .delay import _running_loop
from .http import MAX_BODY, METHODS, SimRequest

if TYPE_CHECKING:
    from .http import Answer, HttpSimulator

__all__ = ["LoopServer", "serve_on_loop"]

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_NOT_IMPLEMENTED = b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


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
        """An answer is on its way (its latency or delay running): the next waits for it."""
        self.ending = False
        """No more requests will be read: close once the waiting ones are answered (with :attr:`last`)."""
        self.last = b""
        self.closed = False
        self._url = b""
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._size = 0

    # --- the transport's side ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio's classes
        peer = transport.get_extra_info("peername")
        if peer:
            self.client = str(peer[0])

    def data_received(self, data: bytes) -> None:
        if self.ending or self.closed:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # the request is answered; what follows would be another protocol
            self._end()
        except httptools.HttpParserError:
            self._end(_BAD_REQUEST)

    def eof_received(self) -> bool:
        self._end()
        return True  # keep our side open for the answers still due (plain TCP; asyncio's TLS closes anyway)

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
        # the client waits for it before it sends the body; not ahead of an answer still due (it would pass it)
        if not self.busy and not self.waiting and self.parser.get_http_version() == "1.1" and \
                any(n.lower() == "expect" and v.strip().lower() == "100-continue" for n, v in self._headers):
            self._write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        room = MAX_BODY - self._size
        if room > 0:
            self._body.append(body[:room])
            self._size += min(len(body), room)

    def on_message_complete(self) -> None:
        if self.ending:
            return
        method = self.parser.get_method().decode("latin-1")
        if method not in METHODS:
            self._end(_NOT_IMPLEMENTED)
            return
        req = self.sim.request_of(method, self._url.decode("latin-1"), self._headers, b"".join(self._body),
                                  self.client)
        self.waiting.append((req, self.parser.should_keep_alive()))
        if not self.busy:
            self._next()

    # --- answering, in order ---

    def _end(self, last: bytes = b"") -> None:
        """Read no more; answer what waits, then send ``last`` and close."""
        if not self.ending:
            self.ending = True
            self.last = last
        if not self.busy:
            self._next()

    def _next(self) -> None:
        """Answer the oldest waiting request; with none left, close if the connection is ending."""
        if self.waiting and not self.closed:
            self.busy = True
            req, keep = self.waiting.popleft()
            self._after(self.sim.latency, self._answer, req, keep)
            return
        self.busy = False
        if self.ending and not self.closed:
            self._close(self.last)

    def _answer(self, req: SimRequest, keep: bool) -> None:
        answer = self.sim.answer(req)  # even when the client is gone: the handler runs, the fault is used up
        self._after(answer.delay, self._send, req, answer, keep)

    def _send(self, req: SimRequest, answer: Answer, keep: bool) -> None:
        self.sim.record(req, answer.status)
        if self.closed:
            self.busy = False
            return
        if answer.dropped:
            self._close()
            return
        self._write(answer.encode())
        if not keep or answer.closes:
            self._close()
            return
        self.loop.call_soon(self._next)  # not a call: a long pipeline must not deepen the stack

    def _after(self, delay: float, then: Callable[..., None], *args: Any) -> None:
        if delay > 0:
            self.loop.call_later(delay, then, *args)
        else:
            then(*args)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def _close(self, last: bytes = b"") -> None:
        """Send ``last`` (if any) and close: what is written still leaves, then the FIN."""
        if last:
            self._write(last)
        self.closed = True
        self.busy = False
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
        if _running_loop() is loop or not loop.is_running():
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
    if not loop.is_running() or _running_loop() is loop:
        raise RuntimeError("serve_on needs an event loop running in another thread")

    async def start() -> asyncio.AbstractServer:
        return await loop.create_server(lambda: _Connection(sim, loop), sock=sock, ssl=tls)

    return LoopServer(loop, asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10))
