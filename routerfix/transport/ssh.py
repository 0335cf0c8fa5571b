"""The shared SSH layer: one netmiko session per device per run, strict host-key trust, errors mapped
to routerfix errors, and a lean command loop.

Driver authors subclass :class:`SSHDriver` and set:

* ``device_type`` — netmiko's device type (login quirks, e.g. username suffixes, come from netmiko);
* ``prompt_pattern`` — a regex that *fully* matches the device's prompt line (ANSI codes and ``\\r`` removed,
  trailing blanks stripped), e.g. ``r"\\S+@\\S+:.*[#$]"``. ``None`` keeps netmiko's own session preparation;
* ``error_patterns`` — regexes; an output line matching one raises :class:`~routerfix.errors.DeviceError` carrying
  that line as ``device_message``;
* optionally ``session_commands`` (sent once after login, e.g. ``terminal length 0``), ``logout_command``,
  ``batch_separator`` + :meth:`SSHDriver._batch_marker` (several commands in one round trip).

and then use :meth:`SSHDriver.send` / :meth:`SSHDriver.send_many` (``self.connection`` is the netmiko object for
what netmiko does best, e.g. ``send_config_set``/``commit``; its timeouts are already set from
:class:`~routerfix.driver.Timeouts`).

Trust options (plain strings/bools, so ``-o name=value`` works on the command line):

``known_hosts``
    path of an OpenSSH known_hosts file (default ``~/.ssh/known_hosts``). The device's key must be in it.
``host_key_fingerprint``
    ``SHA256:<base64>`` exactly as ``ssh-keygen -lf`` / OpenSSH print it: trust exactly that key (known_hosts is
    then not consulted).
``accept_new_host_key``
    ``true``: trust on first use — an unknown key is accepted and appended to ``known_hosts``; a key that differs
    from the one on file is refused all the same.
``key_file``
    private key for public-key authentication (the password, if any, is then used as its passphrase only if the
    key is encrypted and ``key_passphrase`` is not given).
``key_passphrase``
    passphrase of ``key_file``.

Speed: netmiko is used to connect and log in (it knows each platform's login quirks); after that, commands are
written straight to the channel and the reply is read until the prompt appears (``select`` on the channel, no
fixed sleeps, no ``find_prompt`` round trips). A dropped channel is noticed at once
(:class:`~routerfix.errors.ConnectionDropped`), not after the read timeout.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import logging
import os
import re
import secrets
import select
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import paramiko

from routerfix.driver import Driver, Timeouts
from routerfix.errors import (
    AuthenticationError,
    ConnectionDropped,
    ConnectTimeout,
    DeviceError,
    InvalidValue,
    ReadTimeout,
    RouterfixError,
    TransportError,
    TrustError,
)
from routerfix.retry import retry_transient
from routerfix.secrets import Secret

__all__ = [
    "SSH_OPTION_NAMES",
    "HostKeyPolicy",
    "SSHDriver",
    "SSHSession",
    "TrustSettings",
    "fingerprint",
    "known_hosts_name",
    "map_ssh_error",
    "parse_bool",
]

log = logging.getLogger("routerfix.transport.ssh")
T = TypeVar("T")

SSH_OPTION_NAMES = frozenset({"known_hosts", "host_key_fingerprint", "accept_new_host_key", "key_file",
                              "key_passphrase"})
"""Option names every SSH driver accepts (add your own with ``SSH_OPTION_NAMES | {...}``)."""

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
_FINGERPRINT_RE = re.compile(r"SHA256:([A-Za-z0-9+/]{43})=?")
_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>78]")
_MAX_BUFFER = 8 * 1024 * 1024


def parse_bool(value: object, field_name: str) -> bool:
    """A bool from ``True``/``False`` or the strings ``true/false/yes/no/on/off/1/0`` (CLI ``-o`` values)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off", ""):
        return False
    raise InvalidValue(field_name, value, "true or false")


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint of a public key: ``SHA256:`` + unpadded base64 of the key blob's digest."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def known_hosts_name(host: str, port: int) -> str:
    """The host field OpenSSH writes in known_hosts: ``host`` on port 22, ``[host]:port`` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"


@dataclass(frozen=True)
class TrustSettings:
    """The parsed trust and authentication options of one SSH driver instance."""

    known_hosts: Path
    host_key_fingerprint: str | None = None
    accept_new_host_key: bool = False
    key_file: str | None = None
    key_passphrase: Secret | None = None

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> TrustSettings:
        """Validate the driver options (plain strings/bools) into settings."""
        known = options.get("known_hosts") or DEFAULT_KNOWN_HOSTS
        if not isinstance(known, (str, os.PathLike)):
            raise InvalidValue("known_hosts", known, "a path to an OpenSSH known_hosts file")
        pin = options.get("host_key_fingerprint")
        if pin is not None and pin != "":
            match = _FINGERPRINT_RE.fullmatch(pin.strip()) if isinstance(pin, str) else None
            if match is None:
                raise InvalidValue("host_key_fingerprint", pin,
                                   "SHA256:<43 base64 characters>, as printed by ssh-keygen -lf or ssh -v")
            pin = "SHA256:" + match.group(1)
        else:
            pin = None
        key_file = options.get("key_file")
        if key_file is not None and (not isinstance(key_file, (str, os.PathLike)) or not str(key_file)):
            raise InvalidValue("key_file", key_file, "a path to an SSH private key")
        if key_file is not None and not Path(key_file).expanduser().is_file():
            raise InvalidValue("key_file", str(key_file), "an existing private key file")
        passphrase = options.get("key_passphrase")
        return cls(
            known_hosts=Path(known).expanduser(),
            host_key_fingerprint=pin,
            accept_new_host_key=parse_bool(options.get("accept_new_host_key", False), "accept_new_host_key"),
            key_file=None if key_file is None else str(Path(key_file).expanduser()),
            key_passphrase=None if passphrase in (None, "") else Secret(passphrase),
        )


class HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Decides on host keys paramiko does not find in the loaded known_hosts: checks a pinned fingerprint, or
    (trust on first use) appends a new key to known_hosts; otherwise refuses. The refusal is kept in
    :attr:`failure` as a :class:`~routerfix.errors.TrustError` (netmiko re-wraps paramiko's exception)."""

    def __init__(self, settings: TrustSettings, host: str, port: int, driver: str) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.driver = driver
        self.failure: TrustError | None = None

    def _refuse(self, message: str) -> paramiko.SSHException:
        self.failure = TrustError(message, host=self.host, driver=self.driver)
        return paramiko.SSHException(message)

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        """Accept, record or refuse ``key`` for ``hostname`` (raises to refuse)."""
        got = fingerprint(key)
        settings = self.settings
        name = known_hosts_name(self.host, self.port)
        if settings.host_key_fingerprint is not None:
            if got == settings.host_key_fingerprint:
                return
            raise self._refuse(
                f"the SSH host key of {name} ({key.get_name()} {got}) does not match the pinned "
                f"host_key_fingerprint {settings.host_key_fingerprint}: the device was re-keyed or this is not the "
                f"device. Check the key on the device itself before pinning the new one")
        known = client.get_host_keys().lookup(hostname)
        if known:  # the host is on file under another key type: as suspicious as a changed key
            types = ", ".join(sorted(known.keys()))
            raise self._refuse(
                f"the SSH host key of {name} is a {key.get_name()} key ({got}) but {settings.known_hosts} holds a "
                f"{types} key for it: refused (a changed key is never accepted automatically). If the device was "
                f"re-keyed, check the new key on the device, remove the old entry with "
                f"ssh-keygen -R '{name}' -f {settings.known_hosts} and connect again")
        if settings.accept_new_host_key:
            _append_known_host(settings.known_hosts, name, key)
            log.warning("%s: trusting new SSH host key %s %s on first use (added to %s)", name, key.get_name(), got,
                        settings.known_hosts)
            return
        raise self._refuse(
            f"the SSH host key of {name} ({key.get_name()} {got}) is not in {settings.known_hosts}. Check the "
            f"fingerprint on the device, then trust it deliberately: pass host_key_fingerprint={got}, or add the key "
            f"to the known_hosts file (ssh-keyscan -p {self.port} {self.host} >> {settings.known_hosts}), or pass "
            f"accept_new_host_key=true to trust it on first use")


def _append_known_host(path: Path, name: str, key: paramiko.PKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = f"{name} {key.get_name()} {key.get_base64()}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="ascii") as handle:
        handle.write(line)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def map_ssh_error(exc: BaseException, *, host: str, driver: str, during: str,
                  policy: HostKeyPolicy | None = None) -> RouterfixError:
    """The routerfix error for a netmiko/paramiko/socket exception raised while ``during`` (e.g. "connecting").

    Authentication failures map to :class:`AuthenticationError` *before* anything else (netmiko's auth error
    is a paramiko ``SSHException``); host-key refusals to :class:`TrustError`; timeouts to
    :class:`ConnectTimeout`/:class:`ReadTimeout`; closed channels to :class:`ConnectionDropped`; the rest of the
    transport faults to :class:`TransportError`.
    """
    if isinstance(exc, RouterfixError):
        return exc
    if policy is not None and policy.failure is not None:
        return policy.failure
    chain = _chain(exc)
    names = {type(e).__name__ for e in chain}
    for item in chain:
        if isinstance(item, paramiko.BadHostKeyException):
            settings = policy.settings if policy is not None else None
            where = settings.known_hosts if settings else "known_hosts"
            return TrustError(
                f"the SSH host key of {host} CHANGED: got {item.key.get_name()} {fingerprint(item.key)}, "
                f"{where} holds {fingerprint(item.expected_key)}. Refused (also with accept_new_host_key). If the "
                f"device was really re-keyed, check the new key on the device, remove the old line with "
                f"ssh-keygen -R '{host}' -f {where} and connect again", host=host, driver=driver)
    for item in chain:
        if isinstance(item, paramiko.AuthenticationException) or "NetmikoAuthenticationException" in names:
            return AuthenticationError(f"{host} refused the SSH credentials (not retried: check the username, "
                                       f"password or key_file)", host=host, driver=driver)
    for item in chain:
        if type(item).__name__ == "ReadTimeout" or (isinstance(item, socket.timeout) and during != "connecting"):
            return ReadTimeout(f"{host} did not answer in time while {during}", host=host, driver=driver)
        if isinstance(item, (socket.timeout, TimeoutError)):
            return ConnectTimeout(f"{host} did not accept the SSH connection in time", host=host, driver=driver)
        if isinstance(item, (EOFError, ConnectionResetError, BrokenPipeError)):
            return ConnectionDropped(f"the SSH connection to {host} was closed while {during}", host=host,
                                     driver=driver)
        if isinstance(item, paramiko.ssh_exception.NoValidConnectionsError):
            return TransportError(f"cannot connect to {host}: connection refused", host=host, driver=driver)
        if isinstance(item, ConnectionRefusedError):
            return TransportError(f"cannot connect to {host}: connection refused", host=host, driver=driver)
    text = str(exc).strip().splitlines()
    first = next((line.strip() for line in text if line.strip()), type(exc).__name__)
    if "NetmikoTimeoutException" in names:
        if "Error reading SSH protocol banner" in str(exc) or "timed out" in str(exc).lower():
            return ConnectTimeout(f"{host}: SSH handshake timed out while {during}", host=host, driver=driver)
        return TransportError(f"SSH connection to {host} failed while {during}: {first[:160]}", host=host,
                              driver=driver)
    return TransportError(f"SSH failure with {host} while {during}: {type(exc).__name__}: {first[:160]}",
                          host=host, driver=driver)


def clean_text(text: str) -> str:
    """Remove ANSI escape sequences and carriage returns, normalise line ends to ``\\n``."""
    text = _ANSI_RE.sub("", text)
    text = text.replace("\r\n", "\n")
    # a lone CR (line redraw) restarts the line: keep what was drawn last
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


class SSHSession:
    """One interactive shell on one device, reading with ``select`` until a prompt regex matches.

    :param channel: the open paramiko channel (a PTY shell).
    :param prompt: regex that fully matches the prompt line (see :func:`clean_text`).
    :param enter: the line terminator to send.
    :param host: for error messages.
    :param driver: for error messages.
    """

    def __init__(self, channel: paramiko.Channel, prompt: re.Pattern[str], *, enter: str = "\n", host: str = "",
                 driver: str = "") -> None:
        self.channel = channel
        self.prompt = prompt
        self.enter = enter
        self.host = host
        self.driver = driver
        self.round_trips = 0
        """How many command exchanges this session made (for benchmarks)."""
        self.last_prompt = ""

    def _dropped(self, during: str) -> ConnectionDropped:
        return ConnectionDropped(f"the SSH connection to {self.host} was closed while {during}", host=self.host,
                                 driver=self.driver)

    def write(self, data: str) -> None:
        """Send raw text."""
        if self.channel.closed:
            raise self._dropped("writing")
        try:
            self.channel.sendall(data.encode("utf-8"))
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise self._dropped("writing") from exc

    def _receive_until(self, complete: Callable[[str], T | None], *, timeout: float, during: str) -> T:
        """Receive until ``complete(text)`` returns something other than None (``text``: everything received
        so far, cleaned), within ``timeout`` seconds. A closed channel is :class:`ConnectionDropped` at once."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        raw = ""
        deadline = time.monotonic() + timeout
        while True:
            if raw:
                done = complete(clean_text(raw))
                if done is not None:
                    return done
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReadTimeout(f"{self.host} did not show its prompt within {timeout:g} s while {during}",
                                  host=self.host, driver=self.driver)
            try:
                ready, _, _ = select.select([self.channel], [], [], remaining)
                if not ready:
                    continue
                chunk = self.channel.recv(65536)
            except (OSError, EOFError, paramiko.SSHException) as exc:
                raise self._dropped(during) from exc
            if not chunk:
                raise self._dropped(during)
            raw += decoder.decode(chunk)
            if len(raw) > _MAX_BUFFER:
                raise TransportError(f"{self.host} sent more than {_MAX_BUFFER} bytes while {during}",
                                     host=self.host, driver=self.driver)

    def read_until_prompt(self, *, timeout: float, expect: re.Pattern[str] | None = None, after_newline: bool = True,
                          during: str = "reading") -> str:
        """Read until the last line fully matches ``expect`` (default: the prompt). With ``after_newline`` the
        match is only looked for after the first line end (the echo of the command just sent)."""
        pattern = expect or self.prompt

        def complete(text: str) -> str | None:
            body = text
            if after_newline:
                cut = text.find("\n")
                body = "" if cut < 0 else text[cut + 1:]
            last = body.rsplit("\n", 1)[-1].rstrip()
            if (body or not after_newline) and pattern.fullmatch(last):
                self.last_prompt = last
                return text
            return None

        return self._receive_until(complete, timeout=timeout, during=during)

    def command(self, command: str, *, timeout: float, expect: re.Pattern[str] | None = None) -> str:
        """Send one line and return its output: echo and the final prompt line removed, ``\\n`` line ends."""
        if "\n" in command or "\r" in command:
            raise InvalidValue("command", command, "a single line")
        self.write(command + self.enter)
        text = self.read_until_prompt(timeout=timeout, expect=expect, during=f"running {_short(command)!r}")
        self.round_trips += 1
        lines = text.split("\n")
        lines = lines[1:-1]  # echo line, prompt line
        cmd = command.strip()
        while lines and cmd and lines[0].rstrip().endswith(cmd):  # devices that repaint "prompt + command"
            head = lines[0].rstrip()[: -len(cmd)].rstrip()
            if head and not self.prompt.fullmatch(head):
                break
            lines.pop(0)
        return "\n".join(lines)

    def pipeline(self, commands: Sequence[str], *, timeout: float) -> list[str]:
        """Send every line at once (typed ahead, as a pasted block) and return one output per line, in order.

        The whole exchange costs one round trip instead of one per line. The device runs every line even when
        an earlier one is refused, so use it only where that is harmless (lines of a candidate configuration
        that is discarded on error, independent configuration lines). Replies are told apart by the echo of
        each line after a prompt (``prompt`` alone, or ``prompt`` + the next line's echo on the same line)."""
        lines = [c.strip() for c in commands]
        if not lines:
            return []
        for command in commands:
            if "\n" in command or "\r" in command:
                raise InvalidValue("command", command, "a single line")
        self.write("".join(c + self.enter for c in commands))
        during = f"running {len(lines)} lines ({_short(lines[0])!r}...)"
        outputs = self._receive_until(lambda text: self._split_replies(text, lines), timeout=timeout, during=during)
        self.round_trips += 1
        return outputs

    def _split_replies(self, text: str, lines: list[str]) -> list[str] | None:
        """The outputs of ``lines`` in ``text`` (echo, output, prompt for each), or None while incomplete."""
        outputs: list[str] = []
        current: list[str] | None = None  # None: waiting for the echo of lines[len(outputs)]
        for row in text.split("\n"):
            stripped = row.rstrip()
            done = len(outputs)
            if current is None:
                if done < len(lines) and stripped.endswith(lines[done]):
                    current = []
                continue
            following = lines[done + 1] if done + 1 < len(lines) else ""
            if self.prompt.fullmatch(stripped):
                outputs.append("\n".join(current))
                current = None
                if len(outputs) == len(lines):
                    self.last_prompt = stripped
                    return outputs
            elif following and stripped.endswith(following) and \
                    self.prompt.fullmatch(stripped[: -len(following)].rstrip()):
                outputs.append("\n".join(current))
                current = []
            else:
                current.append(row)
        return None

    def close(self) -> None:
        """Close the channel (never raises)."""
        try:
            self.channel.close()
        except Exception:  # noqa: BLE001, S110 - closing a dead channel is not an error
            pass


def _short(command: str, limit: int = 80) -> str:
    return command if len(command) <= limit else command[: limit - 3] + "..."


class SSHDriver(Driver):
    """Base class of drivers that talk to a device's CLI over SSH (netmiko login + lean command loop).

    Subclasses set the class attributes below and implement the verbs with :meth:`send`/:meth:`send_many`.
    """

    device_type: ClassVar[str] = ""
    """netmiko ``device_type`` (``ConnectHandler``)."""
    option_names: ClassVar[frozenset[str]] = SSH_OPTION_NAMES
    transport_security = "ssh"
    default_port: ClassVar[int] = 22
    prompt_pattern: ClassVar[str | None] = None
    """Regex fully matching the prompt line; ``None`` = netmiko's session preparation and base prompt."""
    error_patterns: ClassVar[tuple[str, ...]] = ()
    """Regexes (searched line by line) that mark a device's refusal in a command's output."""
    session_commands: ClassVar[tuple[str, ...]] = ()
    """Commands sent once after login (paging off...)."""
    logout_command: ClassVar[str | None] = "exit"
    """Sent (without waiting) before the connection is closed."""
    batch_separator: ClassVar[str | None] = None
    """Command separator allowing several commands on one line (``"; "``), or ``None`` (one round trip each)."""
    batch_max_line: ClassVar[int] = 1000
    """Longest batched line sent at once."""
    connect_attempts: ClassVar[int] = 3
    """Connection set-up attempts (transient faults only; never after an authentication or trust failure)."""

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        self.trust = TrustSettings.from_options(dict(self.options))
        self._conn: Any = None
        self._session: SSHSession | None = None
        self._errors = [re.compile(p) for p in self.error_patterns]
        self.connect_seconds = 0.0
        """Time the last :meth:`open` took (benchmarks)."""

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def ssh_port(self) -> int:
        """The TCP port in use."""
        return self.port or self.default_port

    def _netmiko_params(self) -> dict[str, Any]:
        """Keyword arguments for netmiko's ``ConnectHandler``; subclasses may add to them."""
        t: Timeouts = self.timeouts
        params: dict[str, Any] = {
            "device_type": self.device_type, "host": self.host, "port": self.ssh_port,
            "username": self.username or "", "password": self.password.reveal() if self.password else None,
            "conn_timeout": t.connect, "auth_timeout": t.connect, "banner_timeout": t.connect,
            "blocking_timeout": t.read, "timeout": int(max(1, t.read)), "read_timeout_override": t.read,
            "fast_cli": True, "session_log": None, "auto_connect": False,
            "ssh_strict": True, "system_host_keys": False, "allow_agent": False, "use_keys": False,
        }
        if self.trust.host_key_fingerprint is None and self.trust.known_hosts.is_file():
            params.update(alt_host_keys=True, alt_key_file=str(self.trust.known_hosts))
        if self.trust.key_file:
            passphrase = self.trust.key_passphrase.reveal() if self.trust.key_passphrase else None
            params.update(use_keys=True, key_file=self.trust.key_file, passphrase=passphrase)
        return params

    def open(self) -> None:
        """Connect, verify the host key, log in and prepare the shell (retrying transient set-up faults only)."""
        if self.is_open:
            return
        started = time.monotonic()
        retry_transient(self._open_once, attempts=self.connect_attempts, wait=self.timeouts.retry_wait,
                        max_wait=8 * self.timeouts.retry_wait)
        self.connect_seconds = time.monotonic() - started
        self.is_open = True

    def _open_once(self) -> None:
        from netmiko import ConnectHandler

        policy = HostKeyPolicy(self.trust, self.host, self.ssh_port, self.name)
        conn: Any = None
        try:
            conn = ConnectHandler(**self._netmiko_params())
            conn.key_policy = policy
            login_tail: list[str] = []
            original = conn.read_until_pattern

            def recording_read(*args: Any, **kwargs: Any) -> Any:
                data = original(*args, **kwargs)
                login_tail.append(str(data))
                return data

            conn.read_until_pattern = recording_read
            conn._modify_connection_params()
            conn.establish_connection()
            conn.read_until_pattern = original
            self._conn = conn
            if self.prompt_pattern is None:
                conn._try_session_preparation()
                prompt = re.compile(re.escape(conn.base_prompt) + r".*")
                self._session = SSHSession(conn.remote_conn, prompt, enter=conn.RETURN, host=self.host,
                                           driver=self.name)
            else:
                self._session = SSHSession(conn.remote_conn, re.compile(self.prompt_pattern), enter=conn.RETURN,
                                           host=self.host, driver=self.name)
                self._lean_preparation(conn, "".join(login_tail))
        except BaseException as exc:
            self._teardown(conn)
            if isinstance(exc, Exception):
                raise map_ssh_error(exc, host=self.host, driver=self.name, during="connecting",
                                    policy=policy) from None
            raise

    def _lean_preparation(self, conn: Any, login_tail: str) -> None:
        """Find the first prompt without netmiko's extra round trips, then send :attr:`session_commands`."""
        session = self._session
        assert session is not None
        last = clean_text(login_tail).rsplit("\n", 1)[-1].rstrip() if login_tail else ""
        if last and session.prompt.fullmatch(last):
            session.last_prompt = last
        else:
            session.read_until_prompt(timeout=self.timeouts.connect, after_newline=False, during="logging in")
        conn.base_prompt = _base_prompt(session.last_prompt)
        for command in self.session_commands:
            self.send(command)

    def close(self) -> None:
        """Log out and disconnect; safe to call twice and after a failed open."""
        conn, self._conn = self._conn, None
        session, self._session = self._session, None
        self.is_open = False
        if session is not None and self.logout_command:
            try:
                session.write(self.logout_command + session.enter)
            except RouterfixError:
                pass
        self._teardown(conn)

    @staticmethod
    def _teardown(conn: Any) -> None:
        if conn is None:
            return
        for closer in (getattr(conn, "remote_conn", None), getattr(conn, "remote_conn_pre", None)):
            try:
                if closer is not None:
                    closer.close()
            except Exception:  # noqa: BLE001, S110 - a dead connection closes quietly
                pass
        try:
            logging.getLogger("netmiko").removeFilter(conn._secrets_filter)
        except Exception:  # noqa: BLE001, S110
            pass

    # --- commands -----------------------------------------------------------------------------

    @property
    def connection(self) -> Any:
        """The netmiko connection object (for platform helpers such as ``send_config_set``/``commit``)."""
        if self._conn is None:
            raise ConnectionDropped("the SSH session is not open", host=self.host, driver=self.name)
        return self._conn

    @property
    def session(self) -> SSHSession:
        """The open shell."""
        if self._session is None:
            raise ConnectionDropped("the SSH session is not open", host=self.host, driver=self.name)
        return self._session

    def _lost(self) -> None:
        """Forget a session that failed mid-command (the engine reconnects)."""
        conn, self._conn = self._conn, None
        self._session = None
        self.is_open = False
        self._teardown(conn)

    def send(self, command: str, *, expect: str | None = None, timeout: float | None = None,
             check: bool = True) -> str:
        """Run one command and return its output (echo and prompt removed).

        :param expect: regex fully matching the line that ends the reply, if not the prompt (a question).
        :param timeout: seconds; defaults to ``timeouts.read``.
        :param check: raise :class:`DeviceError` when a line matches :attr:`error_patterns`.
        """
        session = self.session
        try:
            output = session.command(command, timeout=timeout or self.timeouts.read,
                                     expect=re.compile(expect) if expect else None)
        except RouterfixError as exc:
            if isinstance(exc, (TransportError,)):
                self._lost()
            raise
        if check:
            self.check_output(command, output)
        return output

    def check_output(self, command: str, output: str) -> None:
        """Raise :class:`DeviceError` with the device's own words when ``output`` holds an error line."""
        for line in output.split("\n"):
            for pattern in self._errors:
                if pattern.search(line):
                    raise DeviceError(f"the device refused {_short(command)!r}", device_message=line.strip(),
                                      host=self.host, driver=self.name)

    def send_pipelined(self, commands: Sequence[str], *, check: bool = True, timeout: float | None = None
                       ) -> list[str]:
        """Type ``commands`` ahead in one write and return one output per command (one round trip in all).

        Unlike :meth:`send_many`, every line reaches the device even when an earlier one is refused; with
        ``check`` the first refusal is raised (:class:`DeviceError`) once all replies are in. Meant for blocks
        that are harmless to run whole (configuration candidates committed afterwards, independent config
        lines); see :meth:`SSHSession.pipeline`."""
        session = self.session
        try:
            outputs = session.pipeline(list(commands), timeout=timeout or self.timeouts.read)
        except RouterfixError as exc:
            if isinstance(exc, TransportError):
                self._lost()
            raise
        if check:
            for command, output in zip(commands, outputs, strict=True):
                self.check_output(command, output)
        return outputs

    def _batch_marker(self, token: str) -> str:
        """A command printing a line ``token`` (optionally followed by `` <exit status>``). Needed when
        :attr:`batch_separator` is set."""
        raise NotImplementedError

    def send_many(self, commands: Sequence[str], *, check: bool = True) -> list[str]:
        """Run ``commands`` in as few round trips as the platform allows and return one output per command.

        With :attr:`batch_separator`, commands go on one line separated by markers (``cmd1; marker; cmd2...``);
        a marker line may carry an exit status, non-zero counting as a failure. Where the device stops at the
        first error, the commands after it are reported as not run (:class:`DeviceError`).
        """
        commands = list(commands)
        if not commands:
            return []
        if not self.batch_separator or len(commands) == 1:
            return [self.send(c, check=check) for c in commands]
        outputs: list[str] = []
        group: list[str] = []
        length = 0
        for command in commands:
            piece = len(command) + 2 * len(self.batch_separator) + 40
            if group and length + piece > self.batch_max_line:
                outputs += self._send_batch(group, check)
                group, length = [], 0
            group.append(command)
            length += piece
        outputs += self._send_batch(group, check)
        return outputs

    def _send_batch(self, commands: list[str], check: bool) -> list[str]:
        sep = self.batch_separator or "; "
        token = "RFX" + secrets.token_hex(5)
        parts: list[str] = []
        for i, command in enumerate(commands):
            parts += [command, self._batch_marker(f"{token}-{i}")]
        line = sep.join(parts)
        output = self.send(line, check=False)
        marker = re.compile(rf"^{token}-(\d+)(?:[ \t]+(-?\d+))?[ \t]*$")
        results: list[str] = []
        current: list[str] = []
        statuses: list[int] = []
        for text_line in output.split("\n"):
            found = marker.match(text_line.strip())
            if found and int(found.group(1)) == len(results):
                results.append("\n".join(current))
                statuses.append(int(found.group(2) or 0))
                current = []
            else:
                current.append(text_line)
        for i, command in enumerate(commands):
            if i >= len(results):
                rest = "\n".join(current)
                if check:
                    self.check_output(command, rest)
                    raise DeviceError(f"the device stopped before finishing {_short(command)!r}",
                                      device_message=rest.strip()[-300:], host=self.host, driver=self.name)
                results.append(rest)
                current = []
                continue
            if check:
                self.check_output(command, results[i])
                if statuses[i] != 0:
                    raise DeviceError(f"the device refused {_short(command)!r} (exit status {statuses[i]})",
                                      device_message=results[i].strip()[-300:] or f"exit status {statuses[i]}",
                                      host=self.host, driver=self.name)
        return results

    @property
    def round_trips(self) -> int:
        """Command exchanges of the current session."""
        return self._session.round_trips if self._session is not None else 0


def _base_prompt(prompt: str) -> str:
    """netmiko's idea of the base prompt: the prompt without its trailing terminator."""
    text = prompt.strip()
    return text[:-1].rstrip() if text and text[-1] in "#$>%" else text


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass (tests and simulators)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
