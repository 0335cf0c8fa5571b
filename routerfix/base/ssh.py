"""The SSH driver base: a platform described as data (prompt, error texts, session and logout commands) over
one SSH session per device (:mod:`routerfix.transport.ssh`).

Driver authors subclass :class:`SSHDriver` and set:

* ``device_type`` — netmiko's device type (login quirks, e.g. username suffixes, come from netmiko);
* ``prompt_pattern`` — a regex that *fully* matches the device's prompt line (ANSI codes and ``\\r`` removed,
  trailing blanks stripped), e.g. ``r"\\S+@\\S+:.*[#$]"``. ``None`` keeps netmiko's own session preparation;
* ``error_patterns`` — regexes; an output line matching one raises :class:`~routerfix.errors.DeviceError` carrying
  that line as ``device_message``;
* optionally ``session_commands`` (sent once after login, e.g. ``terminal length 0``), ``logout_command``,
  ``batch_separator`` + :meth:`SSHDriver._batch_marker` (several commands in one round trip), ``chain_separator``
  (several commands in one round trip, each only once the one before it succeeded).

and then use :meth:`SSHDriver.send` / :meth:`SSHDriver.send_many` / :meth:`SSHDriver.send_chain` /
:meth:`SSHDriver.send_pipelined`
(``self.connection`` is the netmiko object for what netmiko does best; its timeouts are already set from
:class:`~routerfix.driver.Timeouts`). Trust options: :mod:`routerfix.transport.ssh_trust`.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from routerfix.driver import Driver, Timeouts
from routerfix.errors import ConnectionDropped, DeviceError, RouterfixError, TransportError
from routerfix.transport.jump import JumpHost, JumpTunnel, config_target
from routerfix.transport.ssh import SSHSession, connect_with_retries, login, release
from routerfix.transport.ssh_trust import SSH_OPTION_HELP, SSH_OPTION_NAMES, HostKeyPolicy, TrustSettings, parse_bool

__all__ = ["SSH_OPTION_NAMES", "SSHDriver", "parse_bool"]


def _short(command: str, limit: int = 80) -> str:
    return command if len(command) <= limit else command[: limit - 3] + "..."


_BATCH_MARKER = re.compile(r"^(RFX[0-9a-f]{10})-(\d+)(?:[ \t]+(-?\d+))?[ \t]*$")
"""An end marker of a batched line (:meth:`SSHDriver._send_batch`): token, index, exit status; compiled once (a
pattern per batch, with the batch's random token in it, missed the ``re`` cache every time)."""


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
    chain_separator: ClassVar[str | None] = None
    """Joins commands so that each runs only once the one before it succeeded (a shell's ``" && "``: an AND
    list), for :meth:`SSHDriver.send_chain`; needs :meth:`SSHDriver._batch_marker`. ``None``: not available."""
    connect_attempts: ClassVar[int] = 3
    """Connection set-up attempts (transient faults only; never after an authentication or trust failure)."""
    secret_options: ClassVar[frozenset[str]] = frozenset({"key_passphrase", "jump_password"})
    """Options that hold credentials (add yours, e.g. an enable secret); see :attr:`Driver.secret_options`."""
    option_help: ClassVar[Mapping[str, str]] = SSH_OPTION_HELP

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        self.trust = TrustSettings.from_options(dict(self.options))
        self.jump = JumpHost.from_options(dict(self.options), default_username=self.username or "")
        """The bastion the device is reached through (``jump_host``), or None."""
        self.ssh_config_file: str | None = self.options.get("ssh_config_file") or None
        """OpenSSH client configuration whose ProxyCommand/ProxyJump netmiko follows, or None."""
        self._tunnel: JumpTunnel | None = None
        self._conn: Any = None
        self._session: SSHSession | None = None
        self._errors = [re.compile(p) for p in self.error_patterns]
        self.connect_seconds = 0.0
        """Time the last :meth:`open` took (benchmarks)."""
        self.logins = 0
        """Logins made by this instance (the conformance kit checks that a second :meth:`open` makes none)."""

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
            "fast_cli": True, "auto_connect": False,
            "ssh_strict": True, "system_host_keys": False, "allow_agent": False, "use_keys": False,
        }
        if self.trust.key_file:
            passphrase = self.trust.key_passphrase.reveal() if self.trust.key_passphrase else None
            params.update(use_keys=True, key_file=self.trust.key_file, passphrase=passphrase)
        if self.ssh_config_file:
            params["ssh_config_file"] = self.ssh_config_file
        return params

    def open(self) -> None:
        """Connect, verify the host key, log in and prepare the shell (retrying transient set-up faults only).
        Does nothing when already open."""
        if self.is_open:
            return
        started = time.monotonic()
        connect_with_retries(self._open_once, attempts=self.connect_attempts, timeouts=self.timeouts)
        self.connect_seconds = time.monotonic() - started
        self.is_open = True

    def _open_once(self) -> None:
        """One connection attempt: log in, find the first prompt, send :attr:`session_commands`. Platforms that
        need more (privilege, a mode) extend it."""
        policy = HostKeyPolicy(self.trust, *config_target(self.ssh_config_file, self.host, self.ssh_port), self.name)
        params = self._netmiko_params()
        tunnel = self._open_tunnel()
        if tunnel is not None:
            params["sock"] = tunnel.channel
        try:
            self._conn, self._session = login(params, policy=policy, prompt_pattern=self.prompt_pattern,
                                              timeout=self.timeouts.connect, host=self.host, driver=self.name)
        except BaseException:
            if tunnel is not None:
                tunnel.close()
            raise
        self._tunnel = tunnel
        self.logins += 1
        try:
            for command in self.session_commands:
                self.send(command)
        except BaseException:
            self._lost()
            raise

    def _open_tunnel(self) -> JumpTunnel | None:
        """The channel to the device through :attr:`jump` (None without a jump host)."""
        if self.jump is None:
            return None
        return self.jump.open((self.host, self.ssh_port), known_hosts=self.trust.known_hosts,
                              timeout=self.timeouts.connect, driver=self.name)

    def _release(self, conn: Any) -> None:
        """Close ``conn`` and then the jump host tunnel under it."""
        release(conn)
        tunnel, self._tunnel = self._tunnel, None
        if tunnel is not None:
            tunnel.close()

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
        self._release(conn)

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
        self._release(conn)

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
        line = self._error_line(output)
        if line is not None:
            raise DeviceError(f"the device refused {_short(command)!r}", device_message=line,
                              host=self.host, driver=self.name)

    def _error_line(self, output: str) -> str | None:
        """The first line of ``output`` that matches :attr:`error_patterns` (stripped), if any."""
        for line in output.split("\n"):
            for pattern in self._errors:
                if pattern.search(line):
                    return line.strip()
        return None

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
        for group in self._lines(commands, self.batch_separator):
            outputs += self._send_batch(group, check)
        return outputs

    def send_chain(self, commands: Sequence[str]) -> list[str]:
        """Run ``commands`` in as few round trips as :attr:`batch_max_line` allows, each only once the one before
        it succeeded (:attr:`chain_separator`), and return their outputs. The first that fails (a non-zero exit
        status: nothing after it runs) is raised as :class:`~routerfix.errors.DeviceError` with the device's
        words; so is an error line in the output of one that succeeded (once the chain has ended). See
        :meth:`run_chain` to handle the failure yourself."""
        outputs, done = self.run_chain(commands)
        self.check_chain(commands, outputs, done)
        return outputs

    def check_chain(self, commands: Sequence[str], outputs: Sequence[str], done: int) -> None:
        """Raise :class:`~routerfix.errors.DeviceError` for what :meth:`run_chain` returned: the command that failed
        (with its error line, or its last words), else an error line in the output of one that succeeded."""
        if done < len(commands):
            message = self._error_line(outputs[done]) or outputs[done].strip()[-300:] or "a non-zero exit status"
            raise DeviceError(f"the device refused {_short(commands[done])!r} (nothing after it ran)",
                              device_message=message, host=self.host, driver=self.name)
        for command, output in zip(commands, outputs, strict=False):
            self.check_output(command, output)

    def run_chain(self, commands: Sequence[str]) -> tuple[list[str], int]:
        """:meth:`send_chain` without raising: the outputs of the commands that ran, and how many succeeded (less
        than ``len(commands)``: the next one failed, its output last, and none after it ran)."""
        if not self.chain_separator:
            raise NotImplementedError(f"{self.name}: no chain_separator")
        outputs: list[str] = []
        for group in self._lines(list(commands), self.chain_separator):
            results, statuses, rest = self._exchange(group, self.chain_separator)
            failed = next((i for i, status in enumerate(statuses) if status), None)
            if failed is not None:  # a marker runs only after a success: a device that says otherwise failed there
                return [*outputs, *results[:failed + 1]], len(outputs) + failed
            outputs += results
            if len(results) < len(group):
                return [*outputs, rest], len(outputs)
        return outputs, len(outputs)

    def _lines(self, commands: list[str], sep: str) -> list[list[str]]:
        """``commands`` in groups that each fit one line of :attr:`batch_max_line` with their markers."""
        groups: list[list[str]] = [[]]
        length = 0
        for command in commands:
            piece = len(command) + 2 * len(sep) + 40
            if groups[-1] and length + piece > self.batch_max_line:
                groups.append([])
                length = 0
            groups[-1].append(command)
            length += piece
        return groups

    def _exchange(self, commands: list[str], sep: str) -> tuple[list[str], list[int], str]:
        """Send ``commands`` on one line, each followed by an end marker, joined by ``sep``: the outputs and exit
        statuses of those whose marker came back, and the text after the last marker."""
        token = "RFX" + secrets.token_hex(5)
        parts: list[str] = []
        for i, command in enumerate(commands):
            parts += [command, self._batch_marker(f"{token}-{i}")]
        output = self.send(sep.join(parts), check=False)
        results: list[str] = []
        current: list[str] = []
        statuses: list[int] = []
        for text_line in output.split("\n"):
            found = _BATCH_MARKER.match(text_line.strip())
            if found and found.group(1) == token and int(found.group(2)) == len(results):
                results.append("\n".join(current))
                statuses.append(int(found.group(3) or 0))
                current = []
            else:
                current.append(text_line)
        return results, statuses, "\n".join(current)

    def _send_batch(self, commands: list[str], check: bool) -> list[str]:
        results, statuses, rest = self._exchange(commands, self.batch_separator or "; ")
        for i, command in enumerate(commands):
            if i >= len(results):
                if check:
                    self.check_output(command, rest)
                    raise DeviceError(f"the device stopped before finishing {_short(command)!r}",
                                      device_message=rest.strip()[-300:], host=self.host, driver=self.name)
                results.append(rest)
                rest = ""
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
