"""The SSH session: netmiko logs in (it knows each platform's login quirks), then commands are written straight
to the channel and the reply is read until the prompt appears (a blocking read with a deadline, no fixed sleeps, no
``find_prompt`` round trips). A dropped channel is noticed at once (:class:`~routerfix.errors.ConnectionDropped`),
not after the read timeout. Errors are mapped to routerfix errors here. No vendor names here.

Host-key trust is :mod:`routerfix.transport.ssh_trust`; drivers subclass :class:`routerfix.base.ssh.SSHDriver`.

**The netmiko seam.** netmiko's public API is used everywhere (``ConnectHandler``, ``establish_connection``,
``session_preparation``, ``session_log``, ``paramiko_cleanup``) except in one place, :class:`NetmikoSeam`, which
opens a connection the way netmiko's own ``BaseConnection._open()`` does, stopping before its session preparation
(that preparation costs several ``find_prompt`` round trips; this module finds the first prompt itself). The seam
relies on four netmiko internals, each pinned by ``test_netmiko_seam`` in ``tests/ssh/test_transport.py``:

* ``_modify_connection_params()``, called before ``establish_connection()`` as ``_open()`` does (platform login
  quirks, e.g. RouterOS's ``+ct511w4098h`` user-name suffix);
* the ``key_policy`` attribute, which ``_build_ssh_client()`` hands to paramiko (routerfix's host-key decision);
* ``_get_ssh_client_instance()``, which ``_build_ssh_client()`` calls for the paramiko client: routerfix's
  :class:`~routerfix.transport.ssh_kex.SSHClient` (finite-field key exchanges with a sized private exponent),
  unless the platform class brings a client of its own (netmiko's ``cisco_s200`` and a few others do);
* ``_secrets_filter``, the filter each connection adds to the ``netmiko`` logger and ``disconnect()`` removes
  (removed here without ``disconnect()``, whose ``cleanup()`` would type commands into a closed session).

netmiko is bound below its next major version in ``pyproject.toml``; a new major must pass that test first.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import paramiko

from routerfix.errors import (
    AuthenticationError,
    ConnectionDropped,
    ConnectTimeout,
    IncompatibleDevice,
    InvalidValue,
    ReadTimeout,
    RouterfixError,
    TransportError,
    TrustError,
)
from routerfix.model import clean_device_text, without_controls
from routerfix.retry import retry_transient
from routerfix.timeouts import Timeouts
from routerfix.transport._readahead import ReadAheadSocket, read_ahead
from routerfix.transport.ssh_kex import SSHClient
from routerfix.transport.ssh_trust import HostKeyPolicy, fingerprint

__all__ = [
    "NetmikoSeam",
    "SSHSession",
    "clean_text",
    "connect_with_retries",
    "login",
    "map_ssh_error",
    "release",
    "wait_for",
]

log = logging.getLogger("routerfix.transport.ssh")
T = TypeVar("T")

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>78]")
_MAX_BUFFER = 8 * 1024 * 1024


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


class ServerTextFilter(logging.Filter):
    """paramiko logs text the server sent (banner lines, its version, a disconnect's or a refused channel's reason):
    the record's message loses its control characters, so no terminal escape reaches a log file or a terminal
    (Python prints unhandled warnings to stderr). Installed once on the ``paramiko.transport`` logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        cleaned = without_controls(text)
        if cleaned != text:
            record.msg, record.args = cleaned, None
        return True


_PARAMIKO_LOG = logging.getLogger("paramiko.transport")
if not any(isinstance(f, ServerTextFilter) for f in _PARAMIKO_LOG.filters):
    _PARAMIKO_LOG.addFilter(ServerTextFilter())


def map_ssh_error(exc: BaseException, *, host: str, driver: str, during: str,
                  policy: HostKeyPolicy | None = None) -> RouterfixError:
    """The routerfix error for a netmiko/paramiko/socket exception raised while ``during`` (e.g. "connecting").

    Authentication failures map to :class:`AuthenticationError` *before* anything else (netmiko's auth error
    is a paramiko ``SSHException``); host-key refusals to :class:`TrustError`; a device that shares no SSH version
    or algorithm with paramiko to :class:`IncompatibleDevice` (never retried); timeouts to
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
        if isinstance(item, paramiko.ssh_exception.IncompatiblePeer):
            return IncompatibleDevice(_incompatible(host, str(item)), host=host, driver=driver)
    for item in chain:  # paramiko's auth_timeout: no answer to the credentials in time, not a refusal
        if isinstance(item, paramiko.AuthenticationException) and str(item).strip() == "Authentication timeout.":
            return ConnectTimeout(f"{host} did not answer the SSH login in time (not a refusal; raise the connect "
                                  f"timeout for a busy device)", host=host, driver=driver)
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
    # paramiko may quote what the device sent (a banner it could not read): no control characters reach the message
    first = clean_device_text(next((line.strip() for line in text if line.strip()), type(exc).__name__))
    if "NetmikoTimeoutException" in names:
        if "Error reading SSH protocol banner" in str(exc) or "timed out" in str(exc).lower():
            return ConnectTimeout(f"{host}: SSH handshake timed out while {during}", host=host, driver=driver)
        return TransportError(f"SSH connection to {host} failed while {during}: {first[:160]}", host=host,
                              driver=driver)
    return TransportError(f"SSH failure with {host} while {during}: {type(exc).__name__}: {first[:160]}",
                          host=host, driver=driver)


def _incompatible(host: str, paramiko_words: str) -> str:
    """What to change when the device and paramiko share no SSH protocol version or no algorithm of a kind, chosen
    by paramiko's own words for the mismatch. paramiko 5 removed SHA-1 from SSH (``diffie-hellman-*-sha1``
    exchanges, ``ssh-rsa`` signatures); some devices offer nothing newer (e.g. docs/facts/cisco_ios.md 45). The
    words may quote the device's identification line: control characters are removed."""
    words = clean_device_text(paramiko_words).strip()
    if "version" in words.lower():
        return (f"{host} does not speak SSH protocol 2 ({words}); no SSH client release changes that: enable SSH "
                f"protocol 2 on the device. Not retried")
    kind = next((k for k in ("kex algorithm", "host key", "cipher", "mac", "compression") if k in words.lower()),
                "algorithm")
    advice = "enable a newer algorithm on the device where its software has one, or upgrade its software"
    if kind in ("kex algorithm", "host key") and int(paramiko.__version__.split(".")[0]) >= 5:
        advice += ("; paramiko 5 no longer speaks SHA-1 SSH (diffie-hellman-group14-sha1, "
                   "diffie-hellman-group-exchange-sha1, ssh-rsa), all that some older devices offer: for such a "
                   "device, run routerfix where paramiko 4 is installed (pip install 'paramiko>=4,<5'), which still "
                   "does")
    name = {"kex algorithm": "key exchange", "mac": "MAC"}.get(kind, kind)
    return (f"{host} and this SSH client (paramiko {paramiko.__version__}) have no {name} in common ({words}). "
            f"Not retried. To reach it, {advice}")


def clean_text(text: str) -> str:
    """Remove ANSI escape sequences and carriage returns, normalise line ends to ``\\n``."""
    if "\x1b" in text:
        text = _ANSI_RE.sub("", text)
    if "\r" not in text:
        return text
    text = text.replace("\r\n", "\n")
    if "\r" not in text:
        return text
    # a lone CR (line redraw) restarts the line: keep what was drawn last
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


class SSHSession:
    """One interactive shell on one device, reading (blocking, with a deadline) until a prompt regex matches.

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
        channel = self.channel
        # a blocking recv with a timeout waits on the channel's own buffer; select() on a channel would make paramiko
        # signal every arriving packet through a pipe as well (a pipe write and read besides the select per packet).
        # The channel's timeout is put back afterwards: sends wait on it for window space. Known limit: paramiko
        # counts that wait down by the wall clock (time.time()), so a clock stepped back mid-read lengthens it.
        saved = channel.gettimeout()
        try:
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
                    channel.settimeout(remaining)
                    chunk = channel.recv(65536)
                except TimeoutError:  # socket.timeout: nothing within ``remaining``
                    continue
                except (OSError, EOFError, paramiko.SSHException) as exc:
                    raise self._dropped(during) from exc
                if not chunk:
                    raise self._dropped(during)
                raw += decoder.decode(chunk)
                if len(raw) > _MAX_BUFFER:
                    raise TransportError(f"{self.host} sent more than {_MAX_BUFFER} bytes while {during}",
                                         host=self.host, driver=self.driver)
        finally:
            channel.settimeout(saved)

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


class NetmikoSeam:
    """The one place that touches netmiko internals (see the module docstring); everything else is public API."""

    @staticmethod
    def prepare(conn: Any, policy: paramiko.MissingHostKeyPolicy) -> None:
        """Before ``establish_connection()``: routerfix's host-key policy, then the platform's own parameter
        changes, as ``BaseConnection._open()`` does."""
        conn.key_policy = policy
        if type(conn)._get_ssh_client_instance is NetmikoSeam.netmiko_client_instance():
            conn._get_ssh_client_instance = SSHClient  # a platform with a client of its own keeps it
        conn._modify_connection_params()

    @staticmethod
    def netmiko_client_instance() -> Any:
        """netmiko's own ``BaseConnection._get_ssh_client_instance`` (a plain ``paramiko.SSHClient``)."""
        from netmiko.base_connection import BaseConnection

        return BaseConnection._get_ssh_client_instance

    @staticmethod
    def forget_secrets_filter(conn: Any) -> None:
        """Remove the connection's secrets filter from the ``netmiko`` logger (``disconnect()`` does it too)."""
        secrets_filter = getattr(conn, "_secrets_filter", None)
        if secrets_filter is not None:
            logging.getLogger("netmiko").removeFilter(secrets_filter)


def _tcp_socket(params: dict[str, Any]) -> socket.socket | ReadAheadSocket | None:
    """The TCP connection to the device, with ``TCP_NODELAY`` (a short line is sent at once, not held back until
    the previous segment is acknowledged), read ahead (:func:`~routerfix.transport._readahead.read_ahead`); None
    when the caller brought its own ``sock`` (a jump host's channel) or an OpenSSH config decides how to reach the
    host (its HostName, Port, ProxyJump: netmiko follows it)."""
    if params.get("sock") is not None or params.get("ssh_config_file"):
        return None
    sock = socket.create_connection((params["host"], params.get("port") or 22), timeout=params.get("conn_timeout"))
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return read_ahead(sock)
    except BaseException:
        sock.close()
        raise


def login(params: dict[str, Any], *, policy: HostKeyPolicy, prompt_pattern: str | None, timeout: float, host: str,
          driver: str) -> tuple[Any, SSHSession]:
    """Connect and log in with netmiko (``params`` for ``ConnectHandler``; ``policy`` decides on the host key) and
    return the netmiko connection and the shell, at its first prompt.

    ``prompt_pattern`` fully matches the prompt line; ``None`` keeps netmiko's own session preparation and base
    prompt. Any failure is mapped to a routerfix error (the host-key refusal kept by ``policy`` first) and the
    half-open connection is released."""
    from netmiko import ConnectHandler
    from netmiko.session_log import SessionLog

    conn: Any = None
    sock: socket.socket | ReadAheadSocket | None = None
    login_log = io.BytesIO()
    try:
        # the login as netmiko read it (public session_log parameter), to see whether it already read the prompt
        with policy.host_keys_file() as known:
            extra: dict[str, Any] = {"alt_host_keys": True, "alt_key_file": known} if known else {}
            sock = _tcp_socket(params)
            if sock is not None:
                extra["sock"] = sock
            conn = ConnectHandler(**{**params, **extra, "session_log": SessionLog(buffered_io=login_log)})
            NetmikoSeam.prepare(conn, policy)
            conn.establish_connection()
        if prompt_pattern is None:
            conn.write_channel(conn.RETURN)
            conn.session_preparation()
            session = SSHSession(conn.remote_conn, re.compile(re.escape(conn.base_prompt) + r".*"), enter=conn.RETURN,
                                 host=host, driver=driver)
        else:
            session = SSHSession(conn.remote_conn, re.compile(prompt_pattern), enter=conn.RETURN, host=host,
                                 driver=driver)
            tail = login_log.getvalue().decode("utf-8", "replace")
            last = clean_text(tail).rsplit("\n", 1)[-1].rstrip() if tail else ""
            if last and session.prompt.fullmatch(last):
                session.last_prompt = last
            else:
                session.read_until_prompt(timeout=timeout, after_newline=False, during="logging in")
            conn.base_prompt = base_prompt(session.last_prompt)
        login_log.seek(0)
        login_log.truncate()
        return conn, session
    except BaseException as exc:
        release(conn)
        if sock is not None:
            sock.close()  # paramiko closes it with the transport; closing twice is harmless
        if isinstance(exc, Exception):
            raise map_ssh_error(exc, host=host, driver=driver, during="connecting", policy=policy) from None
        raise


def release(conn: Any) -> None:
    """Close a netmiko connection without typing anything into it (never raises)."""
    if conn is None:
        return
    try:
        conn.paramiko_cleanup()
    except Exception:  # noqa: BLE001, S110 - a dead connection closes quietly
        pass
    NetmikoSeam.forget_secrets_filter(conn)


def connect_with_retries(attempt: Callable[[], None], *, attempts: int, timeouts: Timeouts) -> None:
    """Run one connection attempt, again after transient faults only (never after an authentication or trust
    failure), at most ``attempts`` times in all."""
    retry_transient(attempt, attempts=attempts, wait=timeouts.retry_wait, max_wait=8 * timeouts.retry_wait)


def base_prompt(prompt: str) -> str:
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
