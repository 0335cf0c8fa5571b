"""Reaching an SSH device through a jump host (bastion), as MSP engineers do. No vendor names here.

Two ways, both ending in one socket-like object that netmiko's public ``sock`` / ``ssh_config_file`` parameters
take:

``jump_host``
    ``[user@]host[:port]`` of a bastion. routerfix logs in to it with paramiko (``jump_username``,
    ``jump_key_file`` or ``jump_password``) and opens one ``direct-tcpip`` channel to the device (what
    ``ssh -J`` does). The bastion's host key is checked like a device's, against ``known_hosts`` or
    ``jump_host_key_fingerprint``, and is **never** accepted on first use (``accept_new_host_key`` is for the
    device only).
``ssh_config_file``
    an OpenSSH client configuration; netmiko reads its ``ProxyCommand``/``ProxyJump`` for the device's host
    entry (``ProxyJump`` runs the ``ssh`` program, so that hop is checked by OpenSSH itself, by its own
    ``known_hosts`` and ``StrictHostKeyChecking``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko

from routerfix.errors import InvalidValue, RouterfixError, TransportError, TrustError
from routerfix.secrets import Secret

__all__ = ["JUMP_OPTION_NAMES", "JumpHost", "JumpTunnel", "config_target"]

log = logging.getLogger("routerfix.transport.ssh")

JUMP_OPTION_NAMES = frozenset({"jump_host", "jump_username", "jump_key_file", "jump_password",
                               "jump_host_key_fingerprint", "ssh_config_file"})
"""Options of every SSH driver that say how to reach the device (see the module docstring)."""

_JUMP_RE = re.compile(r"(?:(?P<user>[^@\s]+)@)?(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:@\s\[\]]+))"
                      r"(?::(?P<port>\d{1,5}))?")


def config_target(ssh_config_file: str | None, host: str, port: int) -> tuple[str, int]:
    """The ``HostName`` and ``Port`` an OpenSSH configuration gives ``host`` (netmiko connects there; a port other
    than 22 given by the caller wins, as in netmiko): the name and port whose key the device must present."""
    if not ssh_config_file:
        return host, port
    path = Path(ssh_config_file).expanduser()
    if not path.is_file():
        raise InvalidValue("ssh_config_file", ssh_config_file, "an existing OpenSSH client configuration file")
    entry = paramiko.SSHConfig.from_path(str(path)).lookup(host)
    try:
        return str(entry.get("hostname", host)), port if port != 22 else int(entry.get("port", port))
    except ValueError:
        raise InvalidValue("ssh_config_file", ssh_config_file, f"a numeric Port for {host}") from None


@dataclass(frozen=True)
class JumpHost:
    """A bastion to reach the device through (parsed from the ``jump_*`` options)."""

    host: str
    port: int = 22
    username: str = ""
    key_file: str | None = None
    password: Secret | None = field(default=None, repr=False)
    host_key_fingerprint: str | None = None

    @classmethod
    def from_options(cls, options: dict[str, Any], *, default_username: str) -> JumpHost | None:
        """The jump host the options name, or None (none given). The device's user name is the default login."""
        spec = options.get("jump_host")
        if spec in (None, ""):
            for name in ("jump_username", "jump_key_file", "jump_password", "jump_host_key_fingerprint"):
                if options.get(name) not in (None, ""):
                    raise InvalidValue(name, "(set)", "used only with jump_host")
            return None
        if options.get("ssh_config_file"):
            raise InvalidValue("jump_host", spec, "not combined with ssh_config_file (put ProxyJump in the file, "
                                                  "or drop ssh_config_file)")
        match = _JUMP_RE.fullmatch(spec.strip()) if isinstance(spec, str) else None
        if match is None or not 1 <= int(match.group("port") or 22) <= 65535:
            raise InvalidValue("jump_host", spec, "[user@]host[:port], e.g. admin@bastion.example.net:2222")
        key_file = options.get("jump_key_file")
        if key_file not in (None, "") and not Path(str(key_file)).expanduser().is_file():
            raise InvalidValue("jump_key_file", str(key_file), "an existing private key file")
        password = options.get("jump_password")
        if isinstance(password, Secret):
            password = password.reveal()
        from routerfix.transport.ssh_trust import TrustSettings  # one parser of SHA256 fingerprints

        pin = TrustSettings.from_options({"host_key_fingerprint": options.get("jump_host_key_fingerprint")})
        return cls(host=match.group("v6") or match.group("host"), port=int(match.group("port") or 22),
                   username=options.get("jump_username") or match.group("user") or default_username,
                   key_file=None if key_file in (None, "") else str(Path(str(key_file)).expanduser()),
                   password=None if password in (None, "") else Secret(password),
                   host_key_fingerprint=pin.host_key_fingerprint)

    @property
    def label(self) -> str:
        """``host:port`` for messages."""
        return f"{self.host}:{self.port}"

    def open(self, target: tuple[str, int], *, known_hosts: Path, timeout: float, driver: str) -> JumpTunnel:
        """Log in to the bastion (its host key checked first, never accepted on first use) and open one
        ``direct-tcpip`` channel to ``target``. Errors are routerfix errors naming the jump host."""
        from routerfix.transport.ssh import map_ssh_error
        from routerfix.transport.ssh_kex import SSHClient
        from routerfix.transport.ssh_trust import HostKeyPolicy, TrustSettings

        trust = TrustSettings(known_hosts=known_hosts, host_key_fingerprint=self.host_key_fingerprint,
                              accept_new_host_key=False)
        policy = HostKeyPolicy(trust, self.host, self.port, driver)
        client = SSHClient()  # paramiko's, with sized finite-field DH exponents (routerfix.transport.ssh_kex)
        try:
            with policy.host_keys_file() as known:
                if known:
                    client.get_host_keys().load(known)
            client.set_missing_host_key_policy(policy)
            client.connect(self.host, self.port, username=self.username,
                           password=self.password.reveal() if self.password else None,
                           key_filename=self.key_file, timeout=timeout, banner_timeout=timeout, auth_timeout=timeout,
                           channel_timeout=timeout, allow_agent=False, look_for_keys=False)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a routerfix error below
            client.close()
            error = map_ssh_error(exc, host=self.host, driver=driver, during="connecting to the jump host",
                                  policy=policy)
            note = (" (for the jump host: jump_host_key_fingerprint or known_hosts; accept_new_host_key never applies "
                    "to it)") if isinstance(error, TrustError) else ""
            raise type(error)(f"jump host {self.label}: {error.message}{note}", host=error.host,
                              driver=driver) from None
        transport = client.get_transport()
        try:
            if transport is None:
                raise TransportError(f"jump host {self.label} closed the connection", host=self.host, driver=driver)
            channel = transport.open_channel("direct-tcpip", target, ("127.0.0.1", 0), timeout=timeout)
        except paramiko.ChannelException as exc:
            client.close()
            raise TransportError(f"jump host {self.label} refused a tunnel to {target[0]}:{target[1]} "
                                 f"({exc.text or exc.code})", host=target[0], driver=driver) from None
        except (paramiko.SSHException, OSError, EOFError, RouterfixError) as exc:
            client.close()
            if isinstance(exc, RouterfixError):
                raise
            raise TransportError(f"jump host {self.label}: no tunnel to {target[0]}:{target[1]} "
                                 f"({type(exc).__name__})", host=target[0], driver=driver) from None
        log.debug("%s: tunnel to %s:%d through jump host %s", driver, target[0], target[1], self.label)
        return JumpTunnel(client=client, channel=channel)


@dataclass(eq=False)
class JumpTunnel:
    """An open bastion login and its channel to the device (netmiko's ``sock``)."""

    client: paramiko.SSHClient
    channel: paramiko.Channel

    def close(self) -> None:
        """Close the channel and the bastion login (never raises)."""
        for closing in (self.channel.close, self.client.close):
            try:
                closing()
            except Exception:  # noqa: BLE001, S112 - a dead bastion closes quietly
                continue

