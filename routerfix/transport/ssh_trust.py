"""SSH host-key trust: the trust options, the known_hosts file and the policy that decides on a host key before
any credential is sent. No vendor names here.

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
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from routerfix.errors import InvalidValue, TrustError
from routerfix.secrets import Secret

__all__ = [
    "DEFAULT_KNOWN_HOSTS",
    "SSH_OPTION_NAMES",
    "HostKeyPolicy",
    "TrustSettings",
    "fingerprint",
    "known_hosts_name",
    "parse_bool",
]

log = logging.getLogger("routerfix.transport.ssh")

SSH_OPTION_NAMES = frozenset({"known_hosts", "host_key_fingerprint", "accept_new_host_key", "key_file",
                              "key_passphrase"})
"""Option names every SSH driver accepts (add your own with ``SSH_OPTION_NAMES | {...}``)."""

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
_FINGERPRINT_RE = re.compile(r"SHA256:([A-Za-z0-9+/]{43})=?")


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
