"""The shared SSH simulator host: real SSH servers on 127.0.0.1 (asyncssh), many devices on many ports in one
event loop running in a background thread.

A device is a host key (generated; :attr:`SimulatedSSHDevice.fingerprint` and
:meth:`SimulatedSSHDevice.known_hosts_line` let tests pin or trust it), accepted credentials, and a *shell
factory*: called with the login name for every session, it returns a :class:`Shell` that turns each line typed
into output and says which prompt follows. Platform CLIs (under ``drivers/<name>/simulator.py``) subclass
:class:`Shell` and keep their configuration in an object shared by all sessions, so state persists across logins.

Sessions are interactive shells with a PTY, as netmiko needs: the host echoes typed characters (``\\r\\n`` for
Enter), splits lines on ``\\r``, ``\\n`` or ``\\r\\n``, and writes output with ``\\r\\n`` line ends followed by the
prompt. Exec requests (``ssh host command``) run one line and exit.

Knobs (:class:`Knobs`, changeable while running, e.g. ``device.knobs.latency = 0.05``):

* ``latency`` — seconds between a line's arrival and its answer (also before the login answer and the first
  prompt). Answers are pipelined: a line typed ahead is answered ``latency`` after *it* arrived, so N commands sent
  at once cost one round trip, as on a real network;
* ``drop_at`` — close the TCP connection when the device's N-th command (counted from
  :attr:`SimulatedSSHDevice.commands_seen` at the time of setting, see :meth:`SimulatedSSHDevice.drop_after`)
  arrives; ``drop_executes`` says whether that command runs first (the change lands, its answer is lost);
* ``chunk_size``/``chunk_delay`` — slow output: the answer is written in chunks with a pause between them;
* ``fail_auth`` — refuse every login (attempts are still counted in :attr:`SimulatedSSHDevice.auth_attempts`);
* ``auth_delay`` — seconds the device takes to answer a password (a device too busy to answer in time);
* ``work`` — device work time: ``work(line, output)`` seconds the device spends on a line before answering (a probe
  waiting out its timeout, a save writing flash; :mod:`simulators._hosts.timing`). The device works on one line at
  a time: a line typed ahead starts when the previous one is done. None (the default): no work time.

Recorders: :attr:`SimulatedSSHDevice.received` holds every byte received on every session (injection tests),
:attr:`SimulatedSSHDevice.commands` every line executed, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from routerfix.simulate import SimulatedDevice

_IMPORT_LOCK = threading.Lock()


def _asyncssh() -> Any:
    """asyncssh, imported on first use (the ``sim`` extra) by one thread at a time: two fleet threads importing it
    at once could otherwise see a half-initialised module."""
    with _IMPORT_LOCK:
        import asyncssh
    return asyncssh

__all__ = ["Knobs", "PlatformHandle", "SSHSimulatorHost", "Shell", "ShellFactory", "SimulatedSSHDevice", "running_host",
           "serve_device", "simulated_device"]

log = logging.getLogger("routerfix.simulators._hosts.ssh")
T = TypeVar("T")


class Shell:
    """One interactive session of a simulated CLI. Subclasses override :meth:`execute` and :meth:`prompt`.

    :param username: the login name the client sent (with any suffix it added).
    """

    echo: bool = True
    """Echo typed characters (every PTY shell does)."""

    def __init__(self, username: str) -> None:
        self.username = username
        self.closed = False
        """Set by :meth:`execute` (``exit``/``quit``) to end the session after its output."""

    def welcome(self) -> str:
        """Text shown after login, before the first prompt (banner, MOTD)."""
        return ""

    def prompt(self) -> str:
        """The prompt shown after each answer."""
        return "$ "

    def execute(self, line: str) -> str:
        """Run one line (without its line end) and return its output (``\\n`` line ends, usually ending with one)."""
        raise NotImplementedError

    def control(self, key: str) -> str | None:
        """A bare control key arrived (``"\\x18"`` for Ctrl-X; never CR, LF or tab). Return the text to show
        (the prompt follows), or None to keep the byte as typed text (the default: no shell reads keys)."""
        return None

    def ended(self, clean: bool) -> None:
        """The session is over: ``clean`` after the shell closed it (``quit``), False when the connection dropped
        or the client went away (a device that holds changes per session undoes them here)."""


ShellFactory = Callable[[str], Shell]
"""Builds the :class:`Shell` of a new session from the login name."""


@dataclass
class Knobs:
    """Fault and timing knobs of one simulated device (see the module docstring)."""

    latency: float = 0.0
    drop_at: int | None = None
    drop_executes: bool = False
    chunk_size: int = 0
    chunk_delay: float = 0.0
    fail_auth: bool = False
    auth_delay: float = 0.0
    work: Callable[[str, str], float] | None = None


@dataclass(eq=False)
class SimulatedSSHDevice:
    """One simulated device on one port. Created by :meth:`SSHSimulatorHost.add_device`."""

    name: str
    username: str
    password: str = field(repr=False)
    shell_factory: ShellFactory
    login_name: Callable[[str], str] | None = None
    """Maps the login name the client sent to the account name (e.g. strips a terminal-options suffix)."""
    authorized_keys: list[Any] = field(default_factory=list)
    knobs: Knobs = field(default_factory=Knobs)
    port: int = 0
    host_key: Any = field(default=None, repr=False)
    auth_attempts: int = 0
    """Password and public-key authentication attempts seen (all sessions)."""
    logins: int = 0
    """Successful logins."""
    commands_seen: int = 0
    """Lines received on every session so far (the ``drop_at`` counter)."""
    received: bytearray = field(default_factory=bytearray, repr=False)
    commands: list[str] = field(default_factory=list, repr=False)
    sessions_open: int = 0
    model: Any = None
    """The simulated device's state object (platform simulators set it; tests inspect it)."""
    server_version: str | None = None
    """The SSH identification after ``SSH-2.0-`` (the platform's, per its fact table); asyncssh's own if None."""
    kex_algs: tuple[str, ...] | None = None
    """The key-exchange algorithms offered, in the device's order (the platform's, per its fact table);
    asyncssh's defaults if None. asyncssh adds its ``ext-info-s`` and strict-kex markers either way."""
    encryption_algs: tuple[str, ...] | None = None
    """The ciphers offered, in the device's order (the platform's, per its fact table); asyncssh's defaults if
    None. Which one a client agrees on decides its CPU per packet (an AEAD cipher needs no separate MAC)."""
    sftp_root: Callable[[str], str | None] | None = None
    """SFTP subsystem: called with the account name, returns the directory served as the session's root, or None
    to refuse the subsystem (the channel closes); no SFTP at all when unset."""
    _server: Any = field(default=None, repr=False)
    _connections: list[Any] = field(default_factory=list, repr=False)

    @property
    def fingerprint(self) -> str:
        """OpenSSH SHA256 fingerprint of the host key (``SHA256:...``), for ``host_key_fingerprint``."""
        return str(self.host_key.get_fingerprint("sha256"))

    def public_key_line(self) -> str:
        """``<type> <base64>`` of the host key."""
        kind, blob = self.host_key.export_public_key("openssh").decode("ascii").split()[:2]
        return f"{kind} {blob}"

    def known_hosts_line(self, host: str = "127.0.0.1") -> str:
        """The known_hosts line for this device (``[host]:port type key``)."""
        name = host if self.port == 22 else f"[{host}]:{self.port}"
        return f"{name} {self.public_key_line()}"

    def drop_after(self, commands: int, *, executes: bool = False) -> None:
        """Drop the connection when the ``commands``-th command from now arrives (1 = the next one)."""
        self.knobs.drop_at = self.commands_seen + commands
        self.knobs.drop_executes = executes

    def clear_records(self) -> None:
        """Forget recorded bytes and commands (not the counters)."""
        self.received.clear()
        self.commands.clear()

    def check_login(self, username: str, password: str) -> bool:
        """True when the credentials are accepted."""
        return self.account(username) == self.username and password == self.password

    def account(self, username: str) -> str:
        """The account name for the login name sent (see ``login_name``)."""
        return self.login_name(username) if self.login_name is not None else username


def _make_server_class(asyncssh: Any) -> Any:
    class _Server(asyncssh.SSHServer):  # type: ignore[misc]
        def __init__(self, device: SimulatedSSHDevice) -> None:
            self.device = device
            self.conn: Any = None

        def connection_made(self, conn: Any) -> None:
            self.conn = conn
            self.device._connections.append(conn)

        def connection_lost(self, exc: Exception | None) -> None:
            with contextlib.suppress(ValueError):
                self.device._connections.remove(self.conn)

        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        async def validate_password(self, username: str, password: str) -> bool:
            device = self.device
            device.auth_attempts += 1
            if device.knobs.latency or device.knobs.auth_delay:
                await asyncio.sleep(device.knobs.latency + device.knobs.auth_delay)
            ok = not device.knobs.fail_auth and device.check_login(username, password)
            if ok:
                device.logins += 1
            return ok

        def public_key_auth_supported(self) -> bool:
            return bool(self.device.authorized_keys)

        def validate_public_key(self, username: str, key: Any) -> bool:
            device = self.device
            device.auth_attempts += 1
            if device.knobs.fail_auth or device.account(username) != device.username:
                return False
            blob = key.public_data
            ok = any(k.public_data == blob for k in device.authorized_keys)
            if ok:
                device.logins += 1
            return ok

    return _Server


async def _write(process: Any, data: str, knobs: Knobs) -> None:
    raw = data.encode("utf-8")
    size = knobs.chunk_size
    if size <= 0:
        process.stdout.write(raw)
        return
    for start in range(0, len(raw), size):
        process.stdout.write(raw[start:start + size])
        await process.stdout.drain()
        if knobs.chunk_delay:
            await asyncio.sleep(knobs.chunk_delay)


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


async def _until(loop: asyncio.AbstractEventLoop, when: float) -> None:
    delay = when - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)


async def _session(device: SimulatedSSHDevice, process: Any) -> None:
    loop = asyncio.get_running_loop()
    username = str(process.get_extra_info("username") or "")
    shell = device.shell_factory(username)
    device.sessions_open += 1
    try:
        if process.command is not None:  # exec request: one command, then exit
            device.commands.append(process.command)
            output = _run(shell, process.command)
            work = device.knobs.work(process.command, output) if device.knobs.work is not None else 0.0
            await asyncio.sleep(device.knobs.latency + work)
            await _write(process, _crlf(output), device.knobs)
            process.exit(0)
            return
        await asyncio.sleep(device.knobs.latency)
        await _write(process, _crlf(shell.welcome()) + shell.prompt(), device.knobs)
        pending = b""
        skip_lf = False
        busy_until = 0.0
        while not shell.closed:
            try:
                data = await process.stdin.read(4096)
            except Exception:  # noqa: BLE001 - a broken channel ends the session
                break
            if not data:
                break
            arrived = loop.time()
            device.received += data
            data = await _control_keys(shell, process, data, device.knobs)
            if shell.closed:
                break
            if skip_lf and data.startswith(b"\n"):
                data = data[1:]
            skip_lf = False
            pending += data
            while True:
                cut = min((i for i in (pending.find(b"\r"), pending.find(b"\n")) if i >= 0), default=-1)
                if cut < 0:
                    break
                line, terminator = pending[:cut], pending[cut:cut + 1]
                pending = pending[cut + 1:]
                if terminator == b"\r":
                    if pending.startswith(b"\n"):
                        pending = pending[1:]
                    elif not pending:
                        skip_lf = True
                text = line.decode("utf-8", "replace")
                echo = _crlf(text) + "\r\n" if shell.echo else ""
                device.commands_seen += 1
                knobs = device.knobs
                if knobs.drop_at is not None and device.commands_seen >= knobs.drop_at:
                    knobs.drop_at = None
                    if knobs.drop_executes:
                        device.commands.append(text)
                        _run(shell, text)
                    process.channel.get_connection().abort()
                    return
                device.commands.append(text)
                output = _run(shell, text)
                answer = echo + _crlf(output) + ("" if shell.closed else shell.prompt())
                done = arrived
                if knobs.work is not None:
                    done = max(arrived, busy_until) + knobs.work(text, output)
                    busy_until = done
                await _until(loop, done + knobs.latency)
                await _write(process, answer, knobs)
                if shell.closed:
                    break
        with contextlib.suppress(Exception):
            process.exit(0)
    finally:
        device.sessions_open -= 1
        try:
            shell.ended(shell.closed or process.command is not None)
        except Exception:  # a simulator bug must be visible, not kill the server loop
            log.exception("simulated shell failed when its session ended")


_CONTROL_KEY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""A control byte other than tab, LF and CR."""


async def _control_keys(shell: Shell, process: Any, data: bytes, knobs: Knobs) -> bytes:
    """Hand bare control keys in ``data`` to :meth:`Shell.control` and answer them; return the other bytes. Keys are
    answered as they are met, before the lines of the same read are run (a client sends a control key alone)."""
    if _CONTROL_KEY.search(data) is None:
        return data
    kept = bytearray()
    for byte in data:
        reply = shell.control(chr(byte)) if byte < 0x20 and byte not in (0x09, 0x0A, 0x0D) else None
        if reply is None:
            kept.append(byte)
            continue
        await _write(process, _crlf(reply) + ("" if shell.closed else shell.prompt()), knobs)
        if shell.closed:
            break
    return bytes(kept)


def _run(shell: Shell, line: str) -> str:
    try:
        return shell.execute(line)
    except Exception:  # a simulator bug must be visible, not hang the client
        log.exception("simulated shell failed on %r", line)
        return "internal simulator error\n"


OPENSSH_7_KEX = ("curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384",
                 "ecdh-sha2-nistp521", "diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512",
                 "diffie-hellman-group18-sha512", "diffie-hellman-group14-sha256", "diffie-hellman-group14-sha1")
"""OpenSSH 7.4p1-7.9p1's default key exchanges, in its order (the devices' fact rows cite it)."""
OPENSSH_9_2_KEX = OPENSSH_7_KEX[:-1]
"""OpenSSH 9.2p1's defaults, in its order: 7.x's without ``diffie-hellman-group14-sha1``, and without its first
choice ``sntrup761x25519-sha512@openssh.com`` (neither asyncssh nor paramiko implements it)."""
OPENSSH_CIPHERS = ("chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-gcm@openssh.com",
                   "aes256-gcm@openssh.com")
"""OpenSSH's default server ciphers from 6.9 through 9.x, in its order (the devices' fact rows cite it; 10.0 puts
AES-GCM before AES-CTR)."""
CURVE25519_KEX = ("curve25519-sha256", "curve25519-sha256@libssh.org")
"""A what-if list for benchmarks (:attr:`SSHSimulatorHost.kex_override`): curve25519 only."""


class _InlineExecutor(ThreadPoolExecutor):
    """The SSH host loop's default executor: runs the function at once, on the loop's thread.

    asyncssh rebuilds a connection's options after every log-in (``reload_config``: per-user configuration) through
    ``run_in_executor``; on a thread pool that is a hand-off to another thread and back, with the interpreter lock
    passed twice, for a few hundred microseconds of Python work. Nothing served here blocks (host names are
    addresses, files are in memory), so running it inline changes no answer and no timing."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting coroutine, as a pool would
            future.set_exception(exc)
        return future


class SSHSimulatorHost:
    """One asyncio event loop in a background thread serving any number of simulated SSH devices.

    Use as a context manager, or :meth:`start`/:meth:`stop`. Devices are added with :meth:`add_device` (from any
    thread) and listen on 127.0.0.1 only.
    """

    def __init__(self, *, kex_override: tuple[str, ...] | None = None,
                 loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_factory = loop_factory or asyncio.new_event_loop
        """Makes the event loop (``uvloop.new_event_loop`` for the benchmarks' simulator processes)."""
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.devices: list[SimulatedSSHDevice] = []
        self.kex_override = kex_override
        """Key exchanges every device offers instead of its own (:attr:`SimulatedSSHDevice.kex_algs`): for a
        benchmark's what-if run only (``benchmarks/fleet.py --what-if-curve25519``); no device does this."""

    def __enter__(self) -> SSHSimulatorHost:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True while the event loop thread runs."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running event loop, for other servers to share its thread (:class:`.delay.DelayHost`)."""
        if self._loop is None or not self.running:
            raise RuntimeError("the SSH simulator host is not running")
        return self._loop

    def start(self) -> None:
        """Start the event loop thread (idempotent)."""
        if self.running:
            return
        self._ready.clear()
        self._thread = threading.Thread(target=self._main, name="routerfix-ssh-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the SSH simulator event loop did not start")

    def _main(self) -> None:
        loop = self._loop_factory()
        self._loop = loop
        asyncio.set_event_loop(loop)
        loop.set_default_executor(_InlineExecutor())
        loop.call_soon(self._ready.set)
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _call(self, coro: Any, timeout: float = 30.0) -> Any:
        if self._loop is None or not self.running:
            raise RuntimeError("the SSH simulator host is not running: call start() first")
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def add_device(self, name: str, shell_factory: ShellFactory, *, username: str = "admin",
                   password: str = "admin",  # noqa: S107 - a simulator's test account
                   port: int = 0, host_key: Any = None,
                   login_name: Callable[[str], str] | None = None, authorized_keys: list[Any] | None = None,
                   knobs: Knobs | None = None, server_version: str | None = None,
                   kex_algs: tuple[str, ...] | None = None, encryption_algs: tuple[str, ...] | None = None,
                   sftp_root: Callable[[str], str | None] | None = None) -> SimulatedSSHDevice:
        """Start serving a device on 127.0.0.1 (``port=0``: a free port). Returns it, with ``port`` set.

        :param host_key: an asyncssh private key; a new ed25519 key is generated when omitted.
        :param login_name: maps the login name sent to the account name.
        :param authorized_keys: asyncssh public keys accepted for public-key authentication.
        :param kex_algs: key-exchange algorithms to offer (see :attr:`SimulatedSSHDevice.kex_algs`).
        :param encryption_algs: ciphers to offer (see :attr:`SimulatedSSHDevice.encryption_algs`).
        :param sftp_root: serve SFTP (see :attr:`SimulatedSSHDevice.sftp_root`).
        """
        asyncssh = _asyncssh()
        device = SimulatedSSHDevice(name=name, username=username, password=password, shell_factory=shell_factory,
                                    authorized_keys=list(authorized_keys or []), knobs=knobs or Knobs(), port=port,
                                    host_key=host_key or asyncssh.generate_private_key("ssh-ed25519"),
                                    server_version=server_version, kex_algs=kex_algs,
                                    encryption_algs=encryption_algs, sftp_root=sftp_root)
        device.login_name = login_name
        self._call(self._listen(device))
        self.devices.append(device)
        return device

    async def _listen(self, device: SimulatedSSHDevice) -> None:
        asyncssh = _asyncssh()
        server_class = _make_server_class(asyncssh)

        async def handle(process: Any) -> None:
            await _session(device, process)

        def sftp(channel: Any) -> Any:
            assert device.sftp_root is not None
            root = device.sftp_root(device.account(str(channel.get_extra_info("username") or "")))
            if root is None:
                raise PermissionError("SFTP refused for this account")
            return asyncssh.SFTPServer(channel, chroot=root.encode())

        acceptor = await asyncssh.create_server(
            lambda: server_class(device), "127.0.0.1", device.port, server_host_keys=[device.host_key],
            process_factory=handle, sftp_factory=sftp if device.sftp_root is not None else None, encoding=None,
            line_editor=False, allow_scp=False, agent_forwarding=False,
            x11_forwarding=False, keepalive_interval=0, login_timeout=60,
            **({"server_version": device.server_version} if device.server_version else {}),
            **({"kex_algs": list(kex)} if (kex := self.kex_override or device.kex_algs) else {}),
            **({"encryption_algs": list(device.encryption_algs)} if device.encryption_algs else {}))
        device._server = acceptor
        device.port = acceptor.get_port()

    def remove_device(self, device: SimulatedSSHDevice) -> None:
        """Stop serving ``device`` and close its connections."""
        if device._server is not None and self.running:
            self._call(self._close(device))
        with contextlib.suppress(ValueError):
            self.devices.remove(device)

    def drop_connections(self, device: SimulatedSSHDevice) -> None:
        """Abort every open connection of ``device`` now."""
        async def drop() -> None:
            for conn in list(device._connections):
                conn.abort()
        self._call(drop())

    @staticmethod
    async def _close(device: SimulatedSSHDevice) -> None:
        server, device._server = device._server, None
        if server is not None:
            server.close()
            for conn in list(device._connections):
                conn.abort()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5)

    def stop(self) -> None:
        """Close every device and stop the loop (idempotent)."""
        if not self.running or self._loop is None:
            return
        for device in list(self.devices):
            self.remove_device(device)
        loop = self._loop
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._thread = None
        self._loop = None


R = TypeVar("R")


@dataclass
class PlatformHandle(Generic[R]):
    """What ``SimulatedDevice.handle`` holds for a simulator that keeps its router state beside the SSH device:
    the device (knobs, recorders) and the router state."""

    device: SimulatedSSHDevice
    router: R


@contextlib.contextmanager
def serve_device(host: SSHSimulatorHost | None, name: str, shell_factory: ShellFactory,
                 **device_options: Any) -> Iterator[SimulatedSSHDevice]:
    """One device on ``host`` (or on a host of its own, see :func:`running_host`) for the length of the block:
    :meth:`SSHSimulatorHost.add_device` with ``device_options``, removed again on exit."""
    with running_host(host) as server:
        device = server.add_device(name, shell_factory, **device_options)
        try:
            yield device
        finally:
            server.remove_device(device)


def simulated_device(device: SimulatedSSHDevice, driver: str, description: str,
                     handle: Any = None) -> SimulatedDevice:
    """What a driver's ``simulate()`` yields for ``device``: a :class:`routerfix.simulators.SimulatedDevice` on
    127.0.0.1 with the device's port and account and its host key pinned (``handle``: the device itself unless
    the simulator wraps it with its router state)."""
    from routerfix.simulate import SimulatedDevice

    return SimulatedDevice(driver=driver, host="127.0.0.1", port=device.port, username=device.username,
                           password=device.password, options={"host_key_fingerprint": device.fingerprint},
                           description=description, handle=device if handle is None else handle)


@contextlib.contextmanager
def running_host(host: SSHSimulatorHost | None = None) -> Iterator[SSHSimulatorHost]:
    """Yield ``host`` if given (left running), else a new host stopped on exit (for ``simulate()`` functions)."""
    if host is not None:
        host.start()
        yield host
        return
    own = SSHSimulatorHost()
    own.start()
    try:
        yield own
    finally:
        own.stop()
