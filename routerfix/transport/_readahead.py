"""The SSH connection's TCP socket as paramiko's transport thread reads it: one system call per read, whole bursts.

paramiko reads each SSH packet in two ``recv`` calls (its first cipher block, then the rest) from a socket with a
timeout (0.1 s, its close check), and CPython waits in ``poll()`` before every ``recv`` and ``send`` on a socket
with a timeout: four system calls per packet received and two per packet sent, each releasing the interpreter lock,
which in a busy fleet process means handing it to another thread and taking it back. :class:`ReadAheadSocket` reads
what the kernel holds in one ``recv`` and serves paramiko's reads from it, and has the kernel enforce the timeout
(``SO_RCVTIMEO``/``SO_SNDTIMEO``) on a blocking socket, so there is no ``poll()``. paramiko sees the same bytes in
the same order and the same ``socket.timeout`` when nothing arrives in time.
"""

from __future__ import annotations

import contextlib
import math
import socket
import struct
import sys

CHUNK = 16384
"""Bytes asked of the kernel per read: more than a burst of packets on an interactive session carries."""

_TIMEVAL = struct.Struct("@ll")
"""``struct timeval`` where both fields are ``long`` (64-bit Linux, macOS and BSDs); :func:`read_ahead` checks it."""

_PROBE = 0.25
"""A timeout set and read back by :func:`read_ahead` before it trusts the kernel's timeouts."""


def read_ahead(sock: socket.socket) -> socket.socket | ReadAheadSocket:
    """``sock`` wrapped in a :class:`ReadAheadSocket`, or ``sock`` itself (its timeout unchanged) where the kernel's
    socket timeouts cannot be set as a two-``long`` ``timeval`` and read back the same: Windows, 32-bit builds, any
    platform where a probe timeout does not read back within 20 ms."""
    if sys.platform == "win32" or _TIMEVAL.size != 16:
        return sock
    timeout = sock.gettimeout()
    try:
        _set_kernel_timeouts(sock, _PROBE)
        seconds, micros = _TIMEVAL.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _TIMEVAL.size))
        if abs(seconds + micros / 1e6 - _PROBE) > 0.02:
            raise OSError("the kernel read the timeout differently")
        return ReadAheadSocket(sock)
    except OSError:
        with contextlib.suppress(OSError):
            _set_kernel_timeouts(sock, None)
        sock.settimeout(timeout)
        return sock


def _set_kernel_timeouts(sock: socket.socket, value: float | None) -> None:
    """``SO_RCVTIMEO`` and ``SO_SNDTIMEO`` of ``sock`` set to ``value`` seconds (None: no limit), rounded up to the
    microsecond, so that a positive timeout never becomes none."""
    limit = _TIMEVAL.pack(*divmod(math.ceil(value * 1_000_000), 1_000_000)) if value else _TIMEVAL.pack(0, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)


class ReadAheadSocket:
    """A connected TCP socket for paramiko's ``Transport`` (its ``sock``): ``recv``, ``send``, ``settimeout``,
    ``gettimeout`` and ``close`` as a socket's, reads served from what an earlier read brought (one reader:
    paramiko's transport thread). Only the socket's calls that cannot miss those bytes are passed on; there is no
    ``recv_into``, ``makefile`` or ``setblocking``."""

    __slots__ = ("_offset", "_pending", "_sock", "_timeout")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._pending = b""
        self._offset = 0
        self._timeout: float | None = None
        self.settimeout(sock.gettimeout())

    def settimeout(self, value: float | None) -> None:
        """As ``socket.settimeout``: a positive timeout or None is the kernel's (``SO_RCVTIMEO``/``SO_SNDTIMEO`` on
        a blocking socket); 0 makes the socket non-blocking; a negative one is a ``ValueError``."""
        if value is not None and value < 0:
            raise ValueError("Timeout value out of range")
        self._timeout = value
        if value == 0:
            self._sock.settimeout(0.0)
            return
        self._sock.settimeout(None)
        _set_kernel_timeouts(self._sock, value)

    def gettimeout(self) -> float | None:
        return self._timeout

    def recv(self, size: int) -> bytes:
        """Up to ``size`` bytes: from what an earlier read brought, else from one read of what the kernel holds
        (``b""`` at the end of the stream). ``socket.timeout`` when nothing arrives within the timeout."""
        offset = self._offset
        pending = self._pending
        if offset >= len(pending):
            try:
                pending = self._sock.recv(max(size, CHUNK))
            except BlockingIOError:  # the kernel's timeout (or nothing yet on a non-blocking socket)
                raise TimeoutError("timed out") from None
            if len(pending) <= size:
                self._pending, self._offset = b"", 0
                return pending
            self._pending, offset = pending, 0
        chunk = pending[offset:offset + size]
        self._offset = offset + len(chunk)
        return chunk

    def send(self, data: bytes) -> int:
        """As ``socket.send``; ``socket.timeout`` when no buffer space frees up within the timeout."""
        try:
            return self._sock.send(data)
        except BlockingIOError:
            raise TimeoutError("timed out") from None

    def close(self) -> None:
        self._sock.close()

    @property
    def _closed(self) -> bool:
        """Whether the socket is closed (paramiko's ``Transport.stop_thread`` reads this attribute of a socket)."""
        return bool(getattr(self._sock, "_closed", False))

    def getblocking(self) -> bool:
        return self._sock.getblocking()

    def getpeername(self) -> object:
        return self._sock.getpeername()

    def getsockname(self) -> object:
        return self._sock.getsockname()

    def getsockopt(self, level: int, option: int, buflen: int | None = None) -> int | bytes:
        if buflen is None:
            return self._sock.getsockopt(level, option)
        return self._sock.getsockopt(level, option, buflen)

    def setsockopt(self, level: int, option: int, value: int | bytes) -> None:
        self._sock.setsockopt(level, option, value)

    def shutdown(self, how: int) -> None:
        self._sock.shutdown(how)

    def fileno(self) -> int:
        """The socket's descriptor (to look at the connection; ``select()`` on it would not see bytes already read)."""
        return self._sock.fileno()

    def __repr__(self) -> str:
        return f"ReadAheadSocket({self._sock!r})"
