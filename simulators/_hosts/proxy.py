"""A simulated forward proxy on 127.0.0.1: HTTP ``CONNECT`` (RFC 9110 section 9.3.6) or SOCKS5 (RFC 1928, no
authentication, ``CONNECT`` command only), one thread per tunnel. No vendor names here. Not a device, so no fact
table: it follows those two RFCs.

Like a site's proxy it reaches names the client cannot: :attr:`TunnelProxy.routes` maps ``(name, port)`` as the
client asks for it to a loopback port (``router.invalid``: RFC 6761 guarantees the client never resolves it), so a
session that works went through the proxy. Tunnels opened and refused are counted. Bytes are copied, never read:
TLS inside a tunnel is between the client and the device.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import struct
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["ProxyKind", "TunnelProxy", "recv_exactly"]


class ProxyKind(StrEnum):
    """The proxy protocol served."""

    HTTP = "http"
    SOCKS5 = "socks5"


@dataclass(eq=False)
class TunnelProxy:
    """A proxy serving ``kind`` on 127.0.0.1 (``with TunnelProxy(...) as proxy: proxy.url``)."""

    kind: ProxyKind
    routes: dict[tuple[str, int], int] = field(default_factory=dict)
    tunnels: list[tuple[str, int]] = field(default_factory=list)
    """Every tunnel opened, as asked for."""
    refused: list[tuple[str, int]] = field(default_factory=list)
    _server: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The proxy URL to give the client (``socks5h``: names resolved by the proxy)."""
        scheme = "http" if self.kind is ProxyKind.HTTP else "socks5h"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> TunnelProxy:
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="routerfix-sim-proxy",
                         daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _route(self, host: str, port: int) -> socket.socket | None:
        target = self.routes.get((host, port))
        if target is None:
            self.refused.append((host, port))
            return None
        self.tunnels.append((host, port))
        return socket.create_connection(("127.0.0.1", target), timeout=5)

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(5)
        with contextlib.suppress(OSError, ValueError, struct.error):
            upstream = self._http(client) if self.kind is ProxyKind.HTTP else self._socks5(client)
            if upstream is not None:
                _pipe(client, upstream)

    def _http(self, client: socket.socket) -> socket.socket | None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 16384:
            chunk = client.recv(4096)
            if not chunk:
                return None
            head += chunk
        method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return None
        host, _, port = target.rpartition(":")
        upstream = self._route(host.strip("[]"), int(port))
        if upstream is None:
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return None
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        return upstream

    def _socks5(self, client: socket.socket) -> socket.socket | None:
        version, methods = recv_exactly(client, 2)
        if version != 5:
            return None
        recv_exactly(client, methods)
        client.sendall(b"\x05\x00")  # no authentication
        _, command, _, kind = recv_exactly(client, 4)
        if kind == 1:
            host = socket.inet_ntoa(recv_exactly(client, 4))
        elif kind == 3:
            host = recv_exactly(client, recv_exactly(client, 1)[0]).decode("idna")
        else:
            host = socket.inet_ntop(socket.AF_INET6, recv_exactly(client, 16))
        (port,) = struct.unpack("!H", recv_exactly(client, 2))
        upstream = self._route(host, port) if command == 1 else None
        client.sendall((b"\x05\x00" if upstream is not None else b"\x05\x02") + b"\x00\x01" + bytes(6))
        return upstream


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    """``size`` bytes from ``sock``; :class:`ConnectionError` if the peer closes first."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the peer closed the connection")
        data += chunk
    return data


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    """Copy both ways until either side closes."""
    def copy(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    client.settimeout(None)
    upstream.settimeout(None)
    other = threading.Thread(target=copy, args=(upstream, client), daemon=True)
    other.start()
    copy(client, upstream)
    other.join(10)
    upstream.close()
