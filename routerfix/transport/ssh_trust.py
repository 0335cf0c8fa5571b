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

How to reach the device (``jump_host``, ``ssh_config_file``...): :mod:`routerfix.transport.jump`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import paramiko

from routerfix.errors import InvalidValue, TrustError
from routerfix.secrets import Secret
from routerfix.transport.jump import JUMP_OPTION_NAMES

__all__ = [
    "DEFAULT_KNOWN_HOSTS",
    "SSH_OPTION_HELP",
    "SSH_OPTION_NAMES",
    "HostKeyPolicy",
    "KnownHost",
    "KnownHosts",
    "Marker",
    "TrustSettings",
    "fingerprint",
    "known_hosts_name",
    "parse_bool",
]

log = logging.getLogger("routerfix.transport.ssh")

SSH_OPTION_NAMES = frozenset({"known_hosts", "host_key_fingerprint", "accept_new_host_key", "key_file",
                              "key_passphrase"}) | JUMP_OPTION_NAMES
"""Option names every SSH driver accepts (add your own with ``SSH_OPTION_NAMES | {...}``)."""
SSH_OPTION_HELP: dict[str, str] = {
    "known_hosts": "OpenSSH known_hosts file the device's key must be in (default ~/.ssh/known_hosts)",
    "host_key_fingerprint": "trust exactly this host key: SHA256:<base64>, as ssh-keygen -lf prints it",
    "accept_new_host_key": "true: trust an unknown key on first use and add it to known_hosts (a changed key is "
                           "still refused)",
    "key_file": "SSH private key for public-key login",
    "key_passphrase": "passphrase of key_file (secret: from a file, a variable or a prompt)",
    "jump_host": "reach the device through this SSH bastion: [user@]host[:port] (what ssh -J does)",
    "jump_username": "login name on the jump host (default: the one in jump_host, else the device's)",
    "jump_key_file": "SSH private key for the jump host",
    "jump_password": "password on the jump host (secret: from a file, a variable or a prompt)",
    "jump_host_key_fingerprint": "trust exactly this jump host key (SHA256:...); else it must be in known_hosts",
    "ssh_config_file": "OpenSSH client config whose entry for the host (HostName, Port, ProxyJump, ProxyCommand) "
                       "is followed",
}
"""What each SSH option means (``routerfix drivers NAME``)."""

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


class Marker(StrEnum):
    """The optional first field of a known_hosts line."""

    NONE = ""
    REVOKED = "@revoked"
    CERT_AUTHORITY = "@cert-authority"


@dataclass(frozen=True)
class KnownHost:
    """One line of a known_hosts file: marker, host patterns, key type and base64 key (the comment is dropped)."""

    marker: Marker
    patterns: str
    key_type: str
    key: str

    @classmethod
    def parse(cls, line: str) -> KnownHost | None:
        """The line's entry, or None for a comment, a blank line or a line that is not a known_hosts entry."""
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            return None
        marker = Marker.NONE
        if fields[0].startswith("@"):
            if fields[0] not in (Marker.REVOKED, Marker.CERT_AUTHORITY):
                return None
            marker = Marker(fields.pop(0))
        if len(fields) < 3:
            return None
        patterns, key_type, key = fields[:3]
        try:
            base64.b64decode(key, validate=True)
        except ValueError:
            return None
        return cls(marker, patterns, key_type, key)

    def matches(self, name: str) -> bool:
        """Whether the line applies to ``name`` (``host`` or ``[host]:port``): a hashed name, or a comma-separated
        list of patterns with ``*``/``?`` wildcards where a matching ``!pattern`` excludes the host."""
        if self.patterns.startswith("|"):
            return _hashed_match(self.patterns, name)
        matched = False
        for pattern in self.patterns.split(","):
            negated = pattern.startswith("!")
            if _glob(pattern[1:] if negated else pattern).fullmatch(name):
                if negated:
                    return False
                matched = True
        return matched

    def same_key(self, key: paramiko.PKey) -> bool:
        """Whether this line holds ``key``."""
        return self.key_type == key.get_name() and self.key == key.get_base64()


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
                      re.IGNORECASE | re.DOTALL)


def _hashed_match(field: str, name: str) -> bool:
    parts = field.split("|")
    if len(parts) != 4 or parts[1] != "1":
        return False
    try:
        salt = base64.b64decode(parts[2], validate=True)
        digest = base64.b64decode(parts[3], validate=True)
    except ValueError:
        return False
    return hmac.compare_digest(hmac.new(salt, name.encode(), hashlib.sha1).digest(), digest)


@dataclass(frozen=True)
class KnownHosts:
    """An OpenSSH known_hosts file as sshd(8) describes it ("SSH_KNOWN_HOSTS FILE FORMAT"). Lines that are not
    entries are skipped, never fatal."""

    entries: tuple[KnownHost, ...] = ()

    @classmethod
    def read(cls, path: Path) -> KnownHosts:
        """The entries of ``path`` (none when the file does not exist)."""
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise InvalidValue("known_hosts", str(path), f"a readable known_hosts file ({exc.strerror})") from None
        entries = []
        for number, line in enumerate(text.splitlines(), 1):
            entry = KnownHost.parse(line)
            if entry is None and line.strip() and not line.lstrip().startswith("#"):
                log.debug("%s:%d: not a known_hosts entry, skipped", path, number)
            elif entry is not None:
                entries.append(entry)
        return cls(tuple(entries))

    def keys_for(self, name: str) -> list[KnownHost]:
        """The plain (unmarked) lines that apply to ``name`` and whose key is not revoked."""
        return [e for e in self.entries if e.marker is Marker.NONE and e.matches(name)
                and not any(r.key == e.key for r in self.entries if r.marker is Marker.REVOKED)]

    def authorities_for(self, name: str) -> list[KnownHost]:
        """The ``@cert-authority`` lines that apply to ``name``."""
        return [e for e in self.entries if e.marker is Marker.CERT_AUTHORITY and e.matches(name)]

    def revoked(self, key: paramiko.PKey) -> bool:
        """Whether a ``@revoked`` line holds ``key`` (for any host: a revoked key is never accepted)."""
        return any(e.marker is Marker.REVOKED and e.same_key(key) for e in self.entries)


class HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Decides on host keys before any credential is sent. paramiko is given only the keys on file for this host
    (:meth:`host_keys_file`: wildcards, negations and hashed names resolved, revoked keys left out); this policy
    decides on every other key: refuses a revoked one, checks a pinned fingerprint, refuses a key of a host on
    file under another key or only under a certificate authority, or (trust on first use) appends a new key to
    known_hosts; otherwise refuses. The refusal is kept in :attr:`failure` as a
    :class:`~routerfix.errors.TrustError` (netmiko re-wraps paramiko's exception)."""

    def __init__(self, settings: TrustSettings, host: str, port: int, driver: str) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.driver = driver
        self.failure: TrustError | None = None
        self.known = KnownHosts.read(settings.known_hosts)

    def _refuse(self, message: str) -> paramiko.SSHException:
        self.failure = TrustError(message, host=self.host, driver=self.driver)
        return paramiko.SSHException(message)

    @contextmanager
    def host_keys_file(self) -> Iterator[str | None]:
        """A private file of this host's trusted keys in the plain form paramiko reads (None: none, or a pinned
        fingerprint, which replaces known_hosts), removed afterwards."""
        name = known_hosts_name(self.host, self.port)
        keys = [] if self.settings.host_key_fingerprint is not None else self.known.keys_for(name)
        if not keys:
            yield None
            return
        fd, path = tempfile.mkstemp(prefix="routerfix-known-hosts-")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.writelines(f"{name} {e.key_type} {e.key}\n" for e in keys)
            yield path
        finally:
            with suppress(OSError):
                os.unlink(path)

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        """Accept, record or refuse ``key`` for ``hostname`` (raises to refuse)."""
        got = fingerprint(key)
        settings = self.settings
        name = known_hosts_name(self.host, self.port)
        if self.known.revoked(key):
            raise self._refuse(
                f"the SSH host key of {name} ({key.get_name()} {got}) is REVOKED in {settings.known_hosts} "
                f"(@revoked): a revoked key is never accepted. Ask whoever revoked it which key the device has now")
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
                f"{types} key for it: treated as CHANGED and refused (a changed key is never accepted automatically). "
                f"If the device was re-keyed, check the new key on the device, remove the old entry with "
                f"ssh-keygen -R '{name}' -f {settings.known_hosts} and connect again")
        if self.known.authorities_for(name):
            raise self._refuse(
                f"{settings.known_hosts} trusts a certificate authority (@cert-authority) for {name}, but routerfix "
                f"does not check SSH host certificates; the device showed the plain key {key.get_name()} {got}. "
                f"Check it on the device, then pass host_key_fingerprint={got} (--host-key-fingerprint {got}) or add "
                f"the key itself to the file")
        if settings.accept_new_host_key:
            _append_known_host(settings.known_hosts, name, key)
            log.warning("%s: trusting new SSH host key %s %s on first use (added to %s)", name, key.get_name(), got,
                        settings.known_hosts)
            return
        raise self._refuse(
            f"the SSH host key of {name} ({key.get_name()} {got}) is not in {settings.known_hosts}. Check the "
            f"fingerprint on the device, then trust it deliberately: pass host_key_fingerprint={got} "
            f"(--host-key-fingerprint {got}), or add the key to the known_hosts file (ssh-keyscan -p {self.port} "
            f"{self.host} >> {settings.known_hosts}), or pass accept_new_host_key=true (--accept-new-host-key) to "
            f"trust it on first use")


def _append_known_host(path: Path, name: str, key: paramiko.PKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = f"{name} {key.get_name()} {key.get_base64()}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="ascii") as handle:
        handle.write(line)
