"""A simulated SSH jump host (bastion) on 127.0.0.1, served by an :class:`~simulators._hosts.ssh.SSHSimulatorHost`.

Not a device, so no fact table: it follows RFC 4254 section 7.2 (``direct-tcpip`` channels, refusals with
``SSH_OPEN_ADMINISTRATIVELY_PROHIBITED``) and OpenSSH's sshd_config(5) ``PermitOpen``.

It behaves as an OpenSSH bastion with ``AllowTcpForwarding`` limited by ``PermitOpen``: logins get no shell, only
``direct-tcpip`` channels (what ``ssh -J`` opens) to the names in its route table, each mapped to a loopback port.
A device can so be given a name that only the bastion knows (``router.invalid``: RFC 6761 guarantees the client can
never resolve it), which proves a session went through the bastion. Every channel request is counted
(:attr:`SimulatedBastion.tunnels`, :attr:`SimulatedBastion.refused`).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from .ssh import SSHSimulatorHost, _asyncssh

__all__ = ["SimulatedBastion", "add_bastion", "remove_bastion"]


@dataclass(eq=False)
class SimulatedBastion:
    """One bastion. ``routes`` maps ``(name, port)`` as the client asks for it to the loopback port it reaches."""

    username: str
    password: str = field(repr=False)
    routes: dict[tuple[str, int], int] = field(default_factory=dict)
    authorized_keys: list[Any] = field(default_factory=list)
    port: int = 0
    host_key: Any = field(default=None, repr=False)
    logins: int = 0
    tunnels: list[tuple[str, int]] = field(default_factory=list)
    """Every channel opened, as asked for."""
    refused: list[tuple[str, int]] = field(default_factory=list)
    """Every channel refused (not in :attr:`routes`)."""
    _server: Any = field(default=None, repr=False)

    @property
    def fingerprint(self) -> str:
        """OpenSSH SHA256 fingerprint of the host key."""
        return str(self.host_key.get_fingerprint("sha256"))

    def known_hosts_line(self, host: str = "127.0.0.1") -> str:
        """The known_hosts line for this bastion."""
        kind, blob = self.host_key.export_public_key("openssh").decode("ascii").split()[:2]
        return f"[{host}]:{self.port} {kind} {blob}"


def _server_class(asyncssh: Any, bastion: SimulatedBastion) -> Any:
    class _Pipe(asyncssh.SSHTCPSession):  # type: ignore[misc]
        """Copies bytes between the SSH channel and a TCP connection to the routed port."""

        def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.reader, self.writer = reader, writer
            self.pump: asyncio.Task[None] | None = None

        def connection_made(self, chan: Any) -> None:
            async def pump() -> None:
                with contextlib.suppress(Exception):
                    while data := await self.reader.read(65536):
                        chan.write(data)
                chan.close()
            self.pump = asyncio.ensure_future(pump())

        def data_received(self, data: bytes, datatype: Any) -> None:
            self.writer.write(data)

        def eof_received(self) -> bool:
            with contextlib.suppress(Exception):
                self.writer.write_eof()
            return False

        def connection_lost(self, exc: Exception | None) -> None:
            self.writer.close()

    class _Bastion(asyncssh.SSHServer):  # type: ignore[misc]
        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            ok = username == bastion.username and password == bastion.password
            bastion.logins += ok
            return ok

        def public_key_auth_supported(self) -> bool:
            return bool(bastion.authorized_keys)

        def validate_public_key(self, username: str, key: Any) -> bool:
            ok = username == bastion.username and any(k.public_data == key.public_data
                                                      for k in bastion.authorized_keys)
            bastion.logins += ok
            return ok

        def session_requested(self) -> bool:
            return False  # a jump host gives no shell

        def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int) -> Any:
            port = bastion.routes.get((dest_host, dest_port))
            if port is None:
                bastion.refused.append((dest_host, dest_port))
                raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED,
                                                f"{dest_host}:{dest_port} is not permitted")
            bastion.tunnels.append((dest_host, dest_port))

            async def connect() -> _Pipe:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                return _Pipe(reader, writer)
            return connect()

    return _Bastion


def add_bastion(host: SSHSimulatorHost, *, routes: dict[tuple[str, int], int], username: str = "jump",
                password: str = "jump",  # noqa: S107 - a simulator's test account
                authorized_keys: list[Any] | None = None) -> SimulatedBastion:
    """Start a bastion on ``host``'s event loop (a free 127.0.0.1 port); stopped with ``host``."""
    asyncssh = _asyncssh()
    bastion = SimulatedBastion(username=username, password=password, routes=dict(routes),
                               authorized_keys=list(authorized_keys or []),
                               host_key=asyncssh.generate_private_key("ssh-ed25519"))

    async def listen() -> None:
        server = await asyncssh.create_server(lambda: _server_class(asyncssh, bastion)(), "127.0.0.1", 0,
                                              server_host_keys=[bastion.host_key], encoding=None,
                                              allow_scp=False, agent_forwarding=False, x11_forwarding=False)
        bastion._server = server
        bastion.port = server.get_port()

    host._call(listen())
    return bastion


def remove_bastion(host: SSHSimulatorHost, bastion: SimulatedBastion) -> None:
    """Stop serving ``bastion``."""
    async def close() -> None:
        server, bastion._server = bastion._server, None
        if server is not None:
            server.close()
    if host.running:
        host._call(close())
