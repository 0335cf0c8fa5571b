"""A raw HTTP/1.1 device on 127.0.0.1 for the web transport's tests: it accepts connections (counted) and hands
each to :meth:`RawHttpDevice.answer_all`, in turn or on a thread of its own; subclasses answer."""

from __future__ import annotations

import socket
import threading

__all__ = ["RawHttpDevice", "next_head"]


def next_head(conn: socket.socket, buffered: bytes) -> tuple[bytes, bytes] | None:
    """The next request head on ``conn`` (up to its blank line) and what was read after it; None once the client
    has closed the connection."""
    while b"\r\n\r\n" not in buffered:
        data = conn.recv(65536)
        if not data:
            return None
        buffered += data
    head, rest = buffered.split(b"\r\n\r\n", 1)
    return head, rest


class RawHttpDevice:
    """Listens on 127.0.0.1 from construction until :meth:`close`."""

    def __init__(self, *, parallel: bool, send_buffer: int | None = None) -> None:
        self.connections = 0
        self._parallel = parallel
        self._listener = socket.create_server(("127.0.0.1", 0))
        if send_buffer is not None:  # accepted sockets inherit it
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def answer_all(self, conn: socket.socket) -> None:
        """Answer every request on ``conn`` (closed afterwards)."""
        raise NotImplementedError

    def stopped(self) -> None:
        """Called once the device accepts no more connections."""

    def _serve(self) -> None:
        try:
            while True:
                try:
                    conn, _ = self._listener.accept()
                except OSError:
                    return
                self.connections += 1
                if self._parallel:
                    threading.Thread(target=self._answer, args=(conn,), daemon=True).start()
                else:
                    self._answer(conn)
        finally:
            self.stopped()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            self.answer_all(conn)

    def close(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (close alone does not, on Linux)
        except OSError:
            pass
        self._listener.close()
        self._thread.join(5)
