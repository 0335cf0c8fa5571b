"""The SSH connection's read-ahead socket (``routerfix.transport._readahead``) over real loopback TCP."""

from __future__ import annotations

import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from routerfix.transport import _readahead
from routerfix.transport._readahead import ReadAheadSocket, read_ahead

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Windows sockets are not wrapped (read_ahead)")


@pytest.fixture
def pair() -> Iterator[tuple[ReadAheadSocket, socket.socket]]:
    """A wrapped client socket (timeout 5 s, as ``create_connection`` leaves it) and the server's end."""
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname(), timeout=5)
    peer, _ = server.accept()
    server.close()
    wrapped = ReadAheadSocket(client)
    yield wrapped, peer
    wrapped.close()
    peer.close()


def same_socket(wrapped: ReadAheadSocket) -> socket.socket:
    """Another socket object on the wrapped socket's connection, to look at it from outside."""
    return socket.socket(fileno=os.dup(wrapped.fileno()))


def kernel_timeout(sock: socket.socket, option: int = socket.SO_RCVTIMEO) -> float:
    """The socket's timeout as the kernel holds it, in seconds (0: none)."""
    seconds, micros = struct.unpack("@ll", sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("@ll")))
    return seconds + micros / 1e6


def queued(sock: socket.socket) -> int:
    """Bytes the kernel holds for ``sock`` (read without taking them)."""
    try:
        return len(sock.recv(1 << 20, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except BlockingIOError:
        return 0


def test_one_kernel_read_serves_the_small_reads_that_follow_in_order(
        pair: tuple[ReadAheadSocket, socket.socket]) -> None:
    wrapped, peer = pair
    data = bytes(range(256)) * 8
    peer.sendall(data)
    with same_socket(wrapped) as outside:
        deadline = time.monotonic() + 5
        while queued(outside) < len(data):
            assert time.monotonic() < deadline, "the bytes never reached the client's queue"
        first = wrapped.recv(16)  # paramiko's first read of a packet: one cipher block
        assert first == data[:16]
        assert queued(outside) == 0  # the first read took everything the kernel held
    rest = b""
    while len(first) + len(rest) < len(data):
        rest += wrapped.recv(100)
    assert first + rest == data


def test_the_end_of_the_stream_is_an_empty_read_after_the_last_bytes(
        pair: tuple[ReadAheadSocket, socket.socket]) -> None:
    wrapped, peer = pair
    peer.sendall(b"SSH-2.0-x\r\n")
    peer.shutdown(socket.SHUT_WR)
    got = b""
    while chunk := wrapped.recv(4):
        got += chunk
    assert got == b"SSH-2.0-x\r\n"
    assert wrapped.recv(4) == b""


def test_the_timeout_is_the_kernels_on_a_blocking_socket(pair: tuple[ReadAheadSocket, socket.socket]) -> None:
    wrapped, _ = pair
    wrapped.settimeout(0.1)  # what paramiko's transport sets
    assert wrapped.gettimeout() == 0.1
    assert wrapped._sock.gettimeout() is None  # no timeout at Python's level: CPython reads without poll() first
    with same_socket(wrapped) as outside:
        # the kernel keeps it in clock ticks: up to one tick (10 ms at HZ=100) more
        assert 0.1 <= kernel_timeout(outside, socket.SO_RCVTIMEO) < 0.12
        assert 0.1 <= kernel_timeout(outside, socket.SO_SNDTIMEO) < 0.12
        wrapped.settimeout(1e-9)  # a positive timeout never becomes "none"
        assert 0 < kernel_timeout(outside) < 0.02
        wrapped.settimeout(None)
        assert kernel_timeout(outside) == 0
    assert wrapped.gettimeout() is None
    with pytest.raises(ValueError, match="out of range"):
        wrapped.settimeout(-1)


def test_nothing_within_the_timeout_is_socket_timeout(pair: tuple[ReadAheadSocket, socket.socket]) -> None:
    wrapped, peer = pair
    wrapped.settimeout(0.05)
    started = time.monotonic()
    with pytest.raises(socket.timeout):
        wrapped.recv(16)
    waited = time.monotonic() - started
    assert 0.04 <= waited < 5
    peer.sendall(b"late")  # the connection is still usable after a timeout, as paramiko expects
    wrapped.settimeout(5)
    assert wrapped.recv(16) == b"late"


def test_a_timeout_of_zero_does_not_block(pair: tuple[ReadAheadSocket, socket.socket]) -> None:
    wrapped, _ = pair
    wrapped.settimeout(0)
    assert not wrapped.getblocking()
    assert wrapped.gettimeout() == 0
    started = time.monotonic()
    with pytest.raises(socket.timeout):
        wrapped.recv(16)
    assert time.monotonic() - started < 1


def test_a_send_with_no_room_within_the_timeout_is_socket_timeout(
        pair: tuple[ReadAheadSocket, socket.socket]) -> None:
    wrapped, _ = pair  # the peer reads nothing: the buffers fill
    wrapped.settimeout(0.05)
    block = b"x" * 65536
    deadline = time.monotonic() + 30
    with pytest.raises(socket.timeout):
        while time.monotonic() < deadline:
            wrapped.send(block)


def test_a_close_from_another_thread_ends_a_blocked_reader_within_its_timeout(
        pair: tuple[ReadAheadSocket, socket.socket]) -> None:
    wrapped, _ = pair
    wrapped.settimeout(0.1)
    closing = threading.Event()
    ended: list[str] = []

    def reader() -> None:  # paramiko's transport loop: a timeout, then a look at whether it was closed
        while True:
            try:
                if not wrapped.recv(16):
                    ended.append("end of stream")
                    return
            except TimeoutError:
                if closing.is_set():
                    ended.append("closed")
                    return
            except OSError:
                ended.append("error")
                return

    thread = threading.Thread(target=reader)
    thread.start()
    closing.set()
    started = time.monotonic()
    wrapped.close()
    thread.join(timeout=5)
    assert not thread.is_alive(), "the reader is still blocked after the close"
    assert ended and time.monotonic() - started < 5


def test_a_new_wrapper_keeps_the_sockets_timeout() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    try:
        client = socket.create_connection(server.getsockname(), timeout=2.5)
        wrapped = read_ahead(client)
        try:
            assert isinstance(wrapped, ReadAheadSocket)
            assert wrapped.gettimeout() == 2.5
            assert client.gettimeout() is None
            assert 2.5 <= kernel_timeout(client) < 2.52
        finally:
            wrapped.close()
    finally:
        server.close()


@pytest.mark.parametrize("layout", ["@ii", ">ll"], ids=["32-bit timeval", "another byte order"])
def test_where_the_kernel_timeout_cannot_be_set_as_expected_the_socket_stays_plain(
        monkeypatch: pytest.MonkeyPatch, layout: str) -> None:
    monkeypatch.setattr(_readahead, "_TIMEVAL", struct.Struct(layout))
    server = socket.create_server(("127.0.0.1", 0))
    try:
        client = socket.create_connection(server.getsockname(), timeout=2.5)
        try:
            assert read_ahead(client) is client
            assert client.gettimeout() == 2.5  # as it was: Python's own timeout
            assert kernel_timeout(client) == 0
        finally:
            client.close()
    finally:
        server.close()


def test_send_and_close_are_the_sockets(pair: tuple[ReadAheadSocket, socket.socket]) -> None:
    wrapped, peer = pair
    assert wrapped.send(b"hello") == 5
    peer.settimeout(5)
    assert peer.recv(16) == b"hello"
    assert wrapped.getpeername() == peer.getsockname()
    assert not wrapped._closed  # paramiko's Transport.stop_thread reads it
    wrapped.close()
    assert wrapped._closed
    assert "ReadAheadSocket(" in repr(wrapped)
    for bypass in ("recv_into", "makefile", "setblocking", "recvfrom"):  # would miss bytes already read
        assert not hasattr(wrapped, bypass)
