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
import threading
from collections import deque
from concurrent.futures import Future
from typing import Any

__all__ = ["DelayHost"]

_EOF = b""


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Copy ``reader`` to ``writer``, each chunk ``delay`` after it was read, in order; EOF last."""
    loop = asyncio.get_running_loop()
    queue: deque[tuple[float, bytes]] = deque()
    ready = asyncio.Event()

    async def deliver() -> None:
        while True:
            while not queue:
                ready.clear()
                await ready.wait()
            due, chunk = queue.popleft()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if chunk is _EOF:
                with contextlib.suppress(OSError, RuntimeError):
                    if writer.can_write_eof():
                        writer.write_eof()
                return
            writer.write(chunk)
            with contextlib.suppress(ConnectionError):
                await writer.drain()

    task = asyncio.ensure_future(deliver())
    try:
        while True:
            try:
                chunk = await reader.read(65536)
            except (ConnectionError, OSError):
                chunk = _EOF
            queue.append((loop.time() + delay, chunk if chunk else _EOF))
            ready.set()
            if not chunk:
                break
        await task
    finally:
        task.cancel()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


class DelayHost:
    """One asyncio loop in a background thread serving any number of :class:`DelayProxy` listeners."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="delay-proxy", daemon=True)
        self._servers: list[asyncio.Server] = []
        self._handlers: set[asyncio.Task[Any]] = set()

    def __enter__(self) -> DelayHost:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: Any, timeout: float = 30.0) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def add(self, upstream_port: int, *, rtt: float, upstream_host: str = "127.0.0.1") -> int:
        """Listen on a free 127.0.0.1 port forwarding to ``upstream_host:upstream_port`` with ``rtt`` per round trip;
        return the port."""
        one_way = max(0.0, rtt) / 2

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._handlers.add(task)
                task.add_done_callback(self._handlers.discard)
            try:
                if one_way:
                    await asyncio.sleep(one_way)
                up_reader, up_writer = await asyncio.open_connection(upstream_host, upstream_port)
            except OSError:
                await _close(writer)
                return
            for w in (writer, up_writer):
                sock = w.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        import socket

                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                await asyncio.gather(_pump(reader, up_writer, one_way), _pump(up_reader, writer, one_way))
            except Exception:  # noqa: BLE001, S110 - a broken side ends the connection
                pass
            finally:
                await _close(up_writer)
                await _close(writer)

        async def listen() -> int:
            server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
            self._servers.append(server)
            return int(server.sockets[0].getsockname()[1])

        port: int = self._call(listen())
        return port

    def stop(self) -> None:
        """Close every listener and stop the loop."""
        if not self._thread.is_alive():
            return

        async def close() -> None:
            for server in self._servers:
                server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)

        with contextlib.suppress(Exception):
            self._call(close(), timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()
