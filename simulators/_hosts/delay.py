"""A delaying TCP proxy: puts a network round trip on every packet between a client and a simulator on 127.0.0.1.

The simulators' own ``latency`` knobs delay only what they choose to (an SSH login, the first prompt, each command
line; an HTTP answer): the TCP connect, the SSH key exchange, the channel and PTY requests, a TLS handshake would
run at loopback speed. Put a :class:`DelayProxy` in front of a simulator instead (its knob at 0) and *every* chunk
pays the one-way delay in its direction, so a protocol pays exactly the round trips it makes.

Model: ``rtt`` seconds per round trip, ``rtt / 2`` each way.

* The proxy accepts at once but opens the upstream connection ``rtt / 2`` later (the SYN's trip), so a server that
  speaks first (SSH's version banner) is heard one full round trip after the client's ``connect``, as on a network.
* Each chunk read in one direction is stamped ``arrival + rtt / 2`` and written when its stamp is due, in arrival
  order (one FIFO per direction: a delay never reorders bytes; a later chunk never overtakes an earlier one).
* Half-closes and closes travel the same way (the EOF is queued behind the data).

No bandwidth limit, no loss, no jitter: the benchmark measures round trips, not throughput. The kernel's ``netem``
would do the same below TCP, but it is not available on every host (``tc qdisc add dev lo root netem`` fails with
"Specified qdisc kind is unknown" without the ``sch_netem`` module), and it needs a network namespace; this proxy
needs neither. Its CPU cost runs in the proxy's own thread (in the benchmarks: the simulator processes), not in the
client being measured.

Use::

    with DelayHost() as delays:
        port = delays.add(upstream_port, rtt=0.05)   # connect clients to 127.0.0.1:port
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections import deque
from concurrent.futures import Future
from typing import Any, cast

__all__ = ["DelayHost"]

_EOF = b""
"""Queued behind the data: the other side's write half is closed when it is due (a half-close)."""
_CLOSE = b"\x00close"
"""Queued behind the data: the other side is closed when it is due (the connection was closed or reset)."""


class _Leg(asyncio.Protocol):
    """One of the two TCP connections of a proxied pair (client side or upstream side). What it receives is written
    to the other leg (:attr:`peer`) ``one_way`` seconds later, in arrival order.

    Each chunk is stamped and a timer is set for its due time; every timer that fires releases exactly one chunk
    from the head of the FIFO, so a chunk never overtakes an earlier one (timers due at the same instant may fire
    in any order; they release the chunks in FIFO order all the same). Chunks due before the upstream connection
    exists wait for it. No backpressure: the benchmarks move a few kilobytes per connection."""

    def __init__(self, loop: asyncio.AbstractEventLoop, one_way: float, legs: set[_Leg]) -> None:
        self.loop = loop
        self.one_way = one_way
        self.legs = legs
        self.transport: asyncio.Transport | None = None
        self.peer: _Leg | None = None
        self.queue: deque[bytes] = deque()
        self.released = 0
        self.eof_in = self.eof_out = self.gone = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's classes
        self.legs.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self._send(data)

    def eof_received(self) -> bool:
        self.eof_in = True
        self._send(_EOF)
        self._maybe_close()
        return True  # keep our own write half open until the other side's EOF has travelled

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone = True
        self.legs.discard(self)
        if not self.eof_in:
            self._send(_CLOSE)

    def _send(self, chunk: bytes) -> None:
        self.queue.append(chunk)
        if self.one_way:
            self.loop.call_later(self.one_way, self._release)
        else:
            self._release()

    def _release(self) -> None:
        self.released += 1
        self.flush()

    def flush(self) -> None:
        """Write every released chunk the peer can take now."""
        peer = self.peer
        if peer is None or peer.transport is None:
            return
        while self.released and self.queue:
            self.released -= 1
            chunk = self.queue.popleft()
            if peer.gone or peer.transport.is_closing():  # that side is closed: what it would be sent is lost
                continue
            if chunk is _CLOSE:
                peer.transport.close()
            elif chunk is _EOF:
                peer.eof_out = True
                if peer.transport.can_write_eof():
                    with contextlib.suppress(OSError, RuntimeError):
                        peer.transport.write_eof()
                peer._maybe_close()
            else:
                peer.transport.write(chunk)

    def _maybe_close(self) -> None:
        if self.eof_in and self.eof_out and self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Close this leg now (the host is stopping)."""
        if self.transport is not None:
            self.transport.abort()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class DelayHost:
    """Any number of delaying proxies on one asyncio loop: its own, in a background thread, or ``loop``, an event
    loop already running in another thread (an :class:`~simulators._hosts.ssh.SSHSimulatorHost`'s).

    Sharing the simulators' loop serves the proxies and the SSH devices on one thread: the same delays, without a
    second thread taking turns with the first for the process's interpreter lock on every packet (a fleet benchmark
    with 2,000 routers spent ≈ 15 % less CPU in all, benchmarks/README.md §3)."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._own = loop is None
        self._loop = asyncio.new_event_loop() if loop is None else loop
        self._thread = threading.Thread(target=self._loop.run_forever, name="delay-proxy", daemon=True)
        self._servers: list[asyncio.Server] = []
        self._legs: set[_Leg] = set()
        self._stopped = False

    def __enter__(self) -> DelayHost:
        if self._own:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: Any, timeout: float = 30.0) -> Any:
        if _running_loop() is self._loop:  # waiting here for the loop we run on would wait for ourselves
            coro.close()
            raise RuntimeError("DelayHost must be called from another thread than its loop's")
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def add(self, upstream_port: int, *, rtt: float, upstream_host: str = "127.0.0.1") -> int:
        """Listen on a free 127.0.0.1 port forwarding to ``upstream_host:upstream_port`` with ``rtt`` per round trip;
        return the port."""
        one_way = max(0.0, rtt) / 2
        loop = self._loop
        legs = self._legs

        async def connect(client: _Leg) -> None:
            upstream = _Leg(loop, one_way, legs)
            try:
                await loop.create_connection(lambda: upstream, upstream_host, upstream_port)
            except OSError:
                client.abort()
                return
            upstream.peer, client.peer = client, upstream
            client.flush()
            upstream.flush()

        def accepted() -> _Leg:
            client = _Leg(loop, one_way, legs)
            # the upstream connection opens one way later (the SYN's trip); data waits for it
            loop.call_later(one_way, lambda: None if client.gone else loop.create_task(connect(client)))
            return client

        async def listen() -> int:
            server = await loop.create_server(accepted, "127.0.0.1", 0, backlog=1024)
            self._servers.append(server)
            return int(server.sockets[0].getsockname()[1])

        port: int = self._call(listen())
        return port

    def stop(self) -> None:
        """Close every listener and every proxied connection; stop the loop if it is this host's own."""
        if self._stopped or (self._own and not self._thread.is_alive()) or self._loop.is_closed() or \
                not self._loop.is_running():
            return
        self._stopped = True

        async def close() -> None:
            for server in self._servers:
                server.close()
            for leg in list(self._legs):
                leg.abort()
            await asyncio.sleep(0)

        with contextlib.suppress(Exception):
            self._call(close(), timeout=5)
        if not self._own:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()
