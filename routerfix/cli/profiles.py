"""Connection profiles: ``--profile NAME`` fills in the connection arguments from a TOML file, so a site's
driver, address, trust pins and secret references are typed once::

    # ~/.config/routerfix/config.toml  (or $ROUTERFIX_CONFIG)
    [profiles.shop12]
    driver = "mikrotik"
    host = "192.0.2.1"
    username = "admin"
    password_env = "SHOP12_PW"                 # secrets by reference only: *_env or *_file
    host_key_fingerprint = "SHA256:..."
    options = { wan_list = "WAN" }

What the command line gives wins over the profile. A secret written into the file (``password = ...``, or a
secret driver option) is refused: the file is read by whoever can read your home directory's backups.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path
from typing import Any

from routerfix.credentials import CLI_SECRETS
from routerfix.errors import InvalidValue

__all__ = ["PROFILE_KEYS", "apply_profile", "config_path", "load_profile"]

_PLAIN = ("driver", "host", "port", "username", "timeout", "key_file", "known_hosts", "host_key_fingerprint",
          "tls_fingerprint")
_SWITCHES = {"accept_new_host_key": "accept_new_host_key", "take_over_session": "take_over_session", "http": "scheme"}
_REFS = tuple(f"{spec.name}_{part}" for spec in CLI_SECRETS for part in ("env", "file"))
PROFILE_KEYS = frozenset((*_PLAIN, *_SWITCHES, *_REFS, "options"))
"""The keys a profile may hold."""


def config_path() -> Path:
    """``$ROUTERFIX_CONFIG``, else ``$XDG_CONFIG_HOME/routerfix/config.toml`` (default ``~/.config``)."""
    explicit = os.environ.get("ROUTERFIX_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return Path(base).expanduser() / "routerfix" / "config.toml"


def load_profile(name: str, path: Path | None = None) -> dict[str, Any]:
    """Profile ``name`` from the config file, checked (known keys, no inline secret)."""
    file = path or config_path()
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidValue("--profile", name, f"a profile in {file} (cannot read it: {exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValue("--profile", name, f"a profile in a valid TOML file ({file}: {exc})") from None
    profiles = data.get("profiles")
    if not isinstance(profiles, dict) or not isinstance(profiles.get(name), dict):
        known = ", ".join(sorted(profiles)) if isinstance(profiles, dict) and profiles else "none"
        raise InvalidValue("--profile", name, f"a [profiles.NAME] table of {file} (its profiles: {known})")
    profile: dict[str, Any] = profiles[name]
    options = profile.get("options", {})
    if not isinstance(options, dict):
        raise InvalidValue(f"profiles.{name}.options", options, "a table of driver options")
    secret_names = ("password", *(spec.name for spec in CLI_SECRETS))
    for key in [*profile, *(f"options.{k}" for k in options)]:
        short = key.removeprefix("options.")
        if short in secret_names:
            raise InvalidValue(f"profiles.{name}.{key}", "********", f"{short}_env or {short}_file (secrets are not "
                                                                     f"kept in {file})")
        if key not in PROFILE_KEYS and not key.startswith("options."):
            raise InvalidValue(f"profiles.{name}.{key}", key, f"one of: {', '.join(sorted(PROFILE_KEYS))}")
    return profile


def apply_profile(args: argparse.Namespace) -> None:
    """Fill the connection arguments the command line left empty from ``--profile`` (if given)."""
    name = getattr(args, "profile", None)
    if name:
        profile = load_profile(name)
        for key in (*_PLAIN, *_REFS):
            if key in profile and getattr(args, key, None) is None:
                setattr(args, key, profile[key])
        for key, dest in _SWITCHES.items():
            if profile.get(key) is True and getattr(args, dest, None) is None:
                setattr(args, dest, "http" if key == "http" else True)
        if args.driver and args.driver != "auto":
            from routerfix import get_driver

            held = sorted(set(profile.get("options", {})) & get_driver(args.driver).secret_options)
            if held:
                raise InvalidValue(f"profiles.{name}.options.{held[0]}", "********",
                                   f"--{held[0].replace('_', '-')}-file or -env (secrets are not kept in profiles)")
        given = {pair.partition("=")[0].strip() for pair in args.option}
        args.option = [f"{k}={_text(v)}" for k, v in profile.get("options", {}).items() if k not in given] + \
            list(args.option)
    for flag in ("driver", "host"):
        if not getattr(args, flag, None):
            raise InvalidValue(f"--{flag}", None, f"--{flag}, on the command line or in the --profile")


def _text(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)
