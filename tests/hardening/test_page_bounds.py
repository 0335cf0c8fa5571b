"""A web page is read no further than ``MAX_PAGE_BYTES``: an endless or decompressing body is cut off, not held,
also in a redirect's answer and in detection's replies.

The device is a plain HTTP/1.1 server on 127.0.0.1 that answers every request with the body it is given and counts
what it managed to send and how many connections it accepted.
"""

from __future__ import annotations

import gzip
import socket
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from routerfix.detect import detect
from routerfix.errors import ParseError
from routerfix.timeouts import Timeouts
from routerfix.transport.http import MAX_PAGE_BYTES, HttpOptions, HttpSession

from .rawhttp import RawHttpDevice, next_head

MiB = 1024 * 1024


class _Device(RawHttpDevice):
    """Answers each request on a kept-alive connection with ``head`` and then the parts of ``body()``."""

    def __init__(self, head: bytes, body: Callable[[], Iterator[bytes]]) -> None:
        self.head, self.body = head, body
        self.sent = 0
        self.done = threading.Event()
        super().__init__(parallel=False, send_buffer=256 * 1024)

    def stopped(self) -> None:
        self.done.set()

    def answer_all(self, conn: socket.socket) -> None:
        buffered = b""
        try:
            while (request := next_head(conn, buffered)) is not None:
                buffered = request[1]
                conn.sendall(self.head)
                for part in self.body():
                    conn.sendall(part)
                    self.sent += len(part)
            self.done.set()  # the client closed the connection
        except OSError:  # the client hung up, maybe with our bytes unread (a reset)
            self.done.set()


@pytest.fixture
def device_factory() -> Iterator[Callable[[bytes, Callable[[], Iterator[bytes]]], _Device]]:
    made: list[_Device] = []

    def make(head: bytes, body: Callable[[], Iterator[bytes]]) -> _Device:
        made.append(_Device(head, body))
        return made[-1]

    yield make
    for device in made:
        device.close()


def _session(port: int) -> HttpSession:
    session = HttpSession("127.0.0.1", driver="test", options=HttpOptions(scheme="http", port=port),
                          timeouts=Timeouts(connect=5, read=5, retry_wait=0.01))
    session.open()
    return session


def _endless() -> Iterator[bytes]:
    part = b"x" * 65536
    for _ in range(64 * MiB // len(part)):  # 64 MiB at most, so an unbounded reader ends too
        yield b"%x\r\n%s\r\n" % (len(part), part)
    yield b"0\r\n\r\n"


CHUNKED = b"Content-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("status", [b"200 OK", b"302 Found\r\nLocation: /elsewhere.htm"])
def test_an_endless_page_is_cut_off_at_the_limit(device_factory: Any, status: bytes) -> None:
    """Also a redirect's: requests reads a 3xx answer's whole body to prepare the next request, even when it is
    told not to follow it."""
    device = device_factory(b"HTTP/1.1 " + status + b"\r\n" + CHUNKED, _endless)
    session = _session(device.port)
    try:
        with pytest.raises(ParseError, match=f"larger than {MAX_PAGE_BYTES} bytes"):
            session.get("/flood.htm", page="flood")
    finally:
        session.close()
    device.done.wait(10)
    # the client stopped reading: what the device got out is the limit plus the sockets' buffers, not 64 MiB
    assert device.sent < MAX_PAGE_BYTES + 16 * MiB, device.sent


def _peak_while_refused(port: int) -> int:
    """Peak memory traced while a GET of the device's page is refused as too large."""
    session = _session(port)
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        with pytest.raises(ParseError, match=f"larger than {MAX_PAGE_BYTES} bytes"):
            session.get("/big.htm", page="big")
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        session.close()


def test_a_page_whose_length_says_too_much_is_refused_without_reading_it(device_factory: Any) -> None:
    body = b"y" * (32 * MiB)
    device = device_factory(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body), lambda: iter([body]))
    peak = _peak_while_refused(device.port)
    assert peak < 2 * MAX_PAGE_BYTES + 4 * MiB, peak  # the parts and their join, not the 32 MiB sent


def test_a_compressed_page_is_cut_off_by_its_decoded_size(device_factory: Any) -> None:
    bomb = gzip.compress(b"\0" * (64 * MiB), compresslevel=9)
    assert len(bomb) < MiB
    device = device_factory(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
                            b"Content-Length: %d\r\n\r\n" % len(bomb), lambda: iter([bomb]))
    peak = _peak_while_refused(device.port)
    assert peak < 2 * MAX_PAGE_BYTES + 4 * MiB, peak  # not the 64 MiB it decompresses to


def test_pages_up_to_the_limit_are_read_whole_on_one_kept_alive_connection(device_factory: Any) -> None:
    body = bytes(range(256)) * (MAX_PAGE_BYTES // 256)
    assert len(body) == MAX_PAGE_BYTES
    device = device_factory(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=latin-1\r\n"
                            b"Content-Length: %d\r\n\r\n" % len(body), lambda: iter([body]))
    session = _session(device.port)
    try:
        first = session.get("/big.htm", page="big")
        second = session.get("/big.htm", page="big")
    finally:
        session.close()
    assert first.text == second.text == body.decode("latin-1")
    assert device.connections == 1


@pytest.mark.parametrize("body", [
    pytest.param(lambda: _endless(), id="endless"),
    pytest.param(lambda: iter([b"zz\r\nnot a chunk\r\n"]), id="broken-chunk"),
])
def test_detection_reads_the_start_of_a_reply_and_keeps_the_headers_of_a_broken_one(device_factory: Any,
                                                                                    body: Any) -> None:
    """Detection reads the first MAX_BODY bytes of a reply; a body it cannot read is taken as empty, and the reply's
    status and headers still count (they name most devices)."""
    device = device_factory(b"HTTP/1.1 200 OK\r\nServer: nothing-known\r\n" + CHUNKED, body)
    result = detect("127.0.0.1", [device.port], timeout=1, deadline=5)
    assert result.driver is None
    assert any("nothing-known" in seen for seen in result.seen), result.seen
    assert device.sent < 16 * MiB, device.sent  # the connection is closed once the start is read
