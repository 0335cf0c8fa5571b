"""One resolver for passwords and other secrets (SSH key passphrases, enable secrets, API tokens).

A secret comes from exactly one place, tried in this order: a value already in hand (a :class:`Secret` or a
string from a vault), a file holding only the secret, an environment variable named by the caller, a default
environment variable (``ROUTERFIX_PASSWORD``), or a prompt on the terminal. Never from a command-line argument:
``argv`` is visible to every user through ``ps``. The command line, the fleet inventory and the Ansible modules
all resolve through :func:`resolve_secret`, so the rules (trailing newline dropped, empty refused, a file other
users can read warned about) are the same everywhere.
"""

from __future__ import annotations

import getpass
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from routerfix.errors import InvalidValue
from routerfix.secrets import Secret

__all__ = ["CLI_SECRETS", "DEFAULT_PASSWORD_ENV", "SecretSource", "SecretSpec", "read_secret_file", "resolve_secret"]

log = logging.getLogger("routerfix.credentials")

DEFAULT_PASSWORD_ENV = "ROUTERFIX_PASSWORD"  # noqa: S105 - the name of a variable, not a password


class SecretSource(StrEnum):
    """Where a secret may come from."""

    VALUE = "value"
    FILE = "file"
    ENV = "env"
    PROMPT = "prompt"


@dataclass(frozen=True)
class SecretSpec:
    """A secret the command line takes by reference: ``--NAME-env VAR``, ``--NAME-file FILE``, ``--ask-NAME``.

    :param name: the driver keyword (``password``) or driver option (``key_passphrase``).
    :param about: what it is, for help texts and prompts.
    :param default_env: a variable read when nothing else is given (only the login password has one).
    """

    name: str
    about: str
    default_env: str | None = None

    @property
    def flag(self) -> str:
        """The flag stem: ``key_passphrase`` → ``key-passphrase``."""
        return self.name.replace("_", "-")


CLI_SECRETS = (
    SecretSpec("password", "the login password", DEFAULT_PASSWORD_ENV),
    SecretSpec("key_passphrase", "the passphrase of the SSH private key (--key-file)"),
    SecretSpec("enable_secret", "the enable password, where the login lands unprivileged "
                                "(default: the login password)"),
)
"""The secrets every single-device command takes by reference."""


def read_secret_file(path: str | Path, *, field: str = "file", what: str = "secret") -> Secret:
    """The secret a file holds (one trailing newline dropped). A file other users can read is used, with a
    warning in the log.

    :raises InvalidValue: the file cannot be read or is empty.
    """
    file = Path(path).expanduser()
    try:
        mode = file.stat().st_mode
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InvalidValue(field, str(file), f"a readable file holding only the {what} ({reason})") from None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("the %s file %s is readable by other users; chmod 600 it", what, file)
    value = text.rstrip("\r\n")
    if not value:
        raise InvalidValue(field, str(file), f"a file holding the {what} (it is empty)")
    return Secret(value)


def resolve_secret(
    what: str,
    *,
    value: str | Secret | None = None,
    file: str | Path | None = None,
    env: str | None = None,
    default_env: str | None = None,
    prompt: str | None = None,
    ask: Callable[[str], str] | None = None,
    fields: tuple[str, str] = ("file", "env"),
) -> Secret | None:
    """Resolve one secret; None when no source gives one.

    :param what: what the secret is, for messages (``"password"``); never the value.
    :param value: a value already in hand (a vault, an Ansible parameter): used as is, as text.
    :param file: a file holding only the secret.
    :param env: an environment variable the caller named: it must be set and non-empty.
    :param default_env: a variable used only if set (``ROUTERFIX_PASSWORD``).
    :param prompt: ask on the terminal with this text when nothing else gave a value (None: never ask).
    :param ask: how to ask (default ``getpass.getpass``: the answer is not echoed).
    :param fields: the names of the file and env settings for error messages (``("--password-file",
        "--password-env")`` on the command line, ``("data.password_file", "data.password_env")`` in an inventory).
    :raises InvalidValue: a named file or variable does not hold the secret.
    """
    if value is not None:
        if isinstance(value, Secret):
            return value
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InvalidValue(what, type(value).__name__, f"the {what} as text")
        return Secret(str(value))   # YAML reads 123456 as a number; a secret is always its text
    if file is not None:
        return read_secret_file(file, field=fields[0], what=what)
    if env:
        found = os.environ.get(env)
        if not found:
            raise InvalidValue(fields[1], env, f"an environment variable holding the {what} (it is not set or "
                                                f"empty)")
        return Secret(found)
    if default_env:
        found = os.environ.get(default_env)
        if found:
            return Secret(found)
    if prompt is not None:
        answer = (ask or getpass.getpass)(prompt)
        return Secret(answer) if answer else None
    return None
