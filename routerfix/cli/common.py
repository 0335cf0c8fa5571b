"""What the ``routerfix`` commands share: exit codes, argument groups, credentials, output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import routerfix
from routerfix.credentials import CLI_SECRETS, DEFAULT_PASSWORD_ENV, SecretSpec, resolve_secret
from routerfix.errors import InvalidValue
from routerfix.options import MITIGATION_OPTIONS, OptionKind
from routerfix.secrets import Secret, redact

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_DECISION, EXIT_VERDICT, EXIT_ROLLBACK = range(7)
EXIT_SCAN_REACHING, EXIT_INSUFFICIENT, EXIT_PARTIAL = 7, 8, 9
EXIT_CODES = {
    EXIT_OK: "success", EXIT_FAILED: "failed (changes rolled back)", EXIT_USAGE: "bad input or usage",
    EXIT_AUTH: "authentication or trust refused", EXIT_DECISION: "needs an operator decision; nothing changed",
    EXIT_VERDICT: "verdict: replace or re-cable the router", EXIT_ROLLBACK: "rollback failed: check the device",
    EXIT_SCAN_REACHING: "diagnose: SIP scans from the internet reach a phone (run routerfix mitigate)",
    EXIT_INSUFFICIENT: "diagnose: not enough evidence for a verdict",
    EXIT_PARTIAL: "undo incomplete: routerfix's rules removed, the state before them not restored (no record, no "
                  "valid undo marker)",
}
"""Every exit code of the ``routerfix`` command and its meaning."""


# --- argument helpers --------------------------------------------------------------------------

def _option_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_options(pairs: Sequence[str], *, secret: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``KEY=VALUE`` pairs → driver options; values are JSON when they parse as JSON, else strings. Options in
    ``secret`` stay exactly as typed, as :class:`~routerfix.secrets.Secret` (``key_passphrase=123456`` is text)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidValue("--option", pair.partition("=")[0] + ("=..." if sep else ""),
                               "KEY=VALUE, e.g. -o host_key_fingerprint=SHA256:...")
        options[key] = Secret(value) if key in secret else _option_value(value)
    return options


class _RefuseSecret(argparse.Action):
    """``--password`` (and the other secrets) exist only to say why they are refused, without echoing the value."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        flag = (option_string or "--password").lstrip("-")
        hint = f"the {DEFAULT_PASSWORD_ENV} environment variable, " if flag == "password" else ""
        parser.error(f"secrets are not taken on the command line (shell history, ps): use {hint}"
                     f"--{flag}-env VAR, --{flag}-file FILE or --ask-{flag}")


@dataclass(frozen=True)
class TrustFlag:
    """A first-class flag for a driver option (``--key-file`` → ``key_file``)."""

    flag: str
    option: str
    help: str
    value: Any = None
    """The option's value when the flag takes none (``--http`` → ``scheme=http``)."""
    metavar: str | None = None


TRUST_FLAGS = (
    TrustFlag("--key-file", "key_file", "SSH private key for public-key login", metavar="FILE"),
    TrustFlag("--known-hosts", "known_hosts", "OpenSSH known_hosts file (default ~/.ssh/known_hosts)",
              metavar="FILE"),
    TrustFlag("--host-key-fingerprint", "host_key_fingerprint",
              "trust exactly this SSH host key (SHA256:..., as ssh-keygen -lf prints it)", metavar="SHA256:..."),
    TrustFlag("--tls-fingerprint", "tls_fingerprint",
              "pin the web GUI's certificate (sha256:<64 hex digits of the DER certificate>)", metavar="sha256:..."),
    TrustFlag("--ca-file", "ca_file", "CA bundle (PEM) to verify the web GUI's certificate against", metavar="FILE"),
    TrustFlag("--accept-new-host-key", "accept_new_host_key", "trust an unknown SSH host key on first use and add "
              "it to known_hosts (a changed key is still refused)", value=True),
    TrustFlag("--take-over-session", "take_over_session", "when another admin is logged in to the web GUI, take "
              "their session over (they are logged out)", value=True),
    TrustFlag("--http", "scheme", "plain HTTP for a web GUI that offers nothing else (the password crosses the "
                                  "LAN in clear)", value="http"),
)
"""Flags for the SSH and web trust options (``routerfix drivers NAME`` lists every option)."""


def complete_files(action: argparse.Action) -> argparse.Action:
    """Mark ``action`` as taking a file name for shell completion (shtab's ``FILE``, without importing shtab)."""
    action.complete = {"bash": "_shtab_compgen_files", "zsh": "_files", "tcsh": "f"}  # type: ignore[attr-defined]
    return action


def add_secret_arguments(group: Any, spec: SecretSpec) -> None:
    """``--NAME-env VAR``, ``--NAME-file FILE``, ``--ask-NAME``, and a hidden ``--NAME`` that is refused."""
    flag = spec.flag
    group.add_argument(f"--{flag}", action=_RefuseSecret, help=argparse.SUPPRESS)
    default = f" (default {spec.default_env})" if spec.default_env else ""
    group.add_argument(f"--{flag}-env", metavar="VAR", help=f"environment variable holding {spec.about}{default}")
    complete_files(group.add_argument(f"--{flag}-file", metavar="FILE", help=f"file holding {spec.about}"))
    group.add_argument(f"--ask-{flag}", action="store_true", help=f"prompt for {spec.about}")


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every single-device command shares."""
    group = parser.add_argument_group("device")
    group.add_argument("--profile", "-P", metavar="NAME",
                       help="connection profile from ~/.config/routerfix/config.toml (the command line wins)")
    group.add_argument("--driver", "-d",
                       help="driver name (see `routerfix drivers`), or auto (see `routerfix detect`); required "
                            "unless the profile names one")
    group.add_argument("--host", "-H", help="router address or name (required unless the profile names one)")
    group.add_argument("--port", type=int, help="TCP port, if not the driver's default")
    group.add_argument("--username", "-u", help="login name")
    group.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                       help="driver option, repeatable (`routerfix drivers NAME` lists them)")
    group.add_argument("--timeout", type=float, help="read timeout in seconds")
    secrets = parser.add_argument_group("credentials (never on the command line)")
    for spec in CLI_SECRETS:
        add_secret_arguments(secrets, spec)
    secrets.add_argument("--no-prompt", action="store_true", help="never prompt (scripts)")
    trust = parser.add_argument_group("trust")
    for tf in TRUST_FLAGS:
        if tf.value is None:
            action = trust.add_argument(tf.flag, dest=tf.option, metavar=tf.metavar, help=tf.help)
            if tf.metavar == "FILE":
                complete_files(action)
        else:
            trust.add_argument(tf.flag, dest=tf.option, action="store_const", const=tf.value, help=tf.help)


def add_mitigation_arguments(parser: argparse.ArgumentParser, *, fleet: bool = False) -> None:
    """The mitigation options (:data:`routerfix.options.MITIGATION_OPTIONS`); ``fleet`` leaves out per-host ones."""
    group = parser.add_argument_group("mitigation")
    for spec in MITIGATION_OPTIONS:
        if fleet and spec.per_host:
            continue
        names = (spec.flag, *spec.aliases)
        for i, flag in enumerate(names):
            shown = spec.help if i == 0 else argparse.SUPPRESS
            if spec.kind is OptionKind.BOOL:
                action = "store_false" if spec.default else "store_true"
                group.add_argument(flag, dest=spec.name, action=action, help=shown)
            else:
                group.add_argument(flag, dest=spec.name, type=int if spec.kind is OptionKind.INT else str,
                                   default=spec.default, metavar="N" if spec.kind is OptionKind.INT else "ADDRESS",
                                   help=shown)


def mitigation_options(args: argparse.Namespace) -> dict[str, Any]:
    """The MitigationOptions keyword arguments from parsed arguments (those the command offers)."""
    return {spec.name: getattr(args, spec.name) for spec in MITIGATION_OPTIONS if hasattr(args, spec.name)}


def _resolve_cli_secret(args: argparse.Namespace, spec: SecretSpec, prompt: str) -> Secret | None:
    flag = spec.flag
    asked = getattr(args, f"ask_{spec.name}")
    may_prompt = asked or (spec.default_env is not None and sys.stdin.isatty() and not args.no_prompt)
    return resolve_secret(spec.name.replace("_", " "), file=getattr(args, f"{spec.name}_file"),
                          env=getattr(args, f"{spec.name}_env"), default_env=spec.default_env,
                          prompt=prompt if may_prompt else None, fields=(f"--{flag}-file", f"--{flag}-env"))


def read_password(args: argparse.Namespace) -> Secret | None:
    """The password from --password-file, --password-env, ROUTERFIX_PASSWORD or a prompt (never from argv)."""
    return _resolve_cli_secret(args, CLI_SECRETS[0], f"password for {args.username or 'the router'}@{args.host}: ")


def driver_options(args: argparse.Namespace, driver_cls: type[routerfix.Driver]) -> dict[str, Any]:
    """The driver options from ``-o``, the trust flags and the secret flags, checked against the driver."""
    options = parse_options(args.option, secret=driver_cls.secret_options)
    for key in sorted(set(options) & driver_cls.secret_options):
        flag = key.replace("_", "-")
        console(stderr=True).print(f"warning: -o {key}=... is visible to other users (ps, shell history); use "
                                   f"--{flag}-file FILE or --{flag}-env VAR")
    for tf in TRUST_FLAGS:
        value = getattr(args, tf.option, None)
        if value is None:
            continue
        if tf.option not in driver_cls.option_names:
            raise InvalidValue(tf.flag, value if tf.value is None else True,
                               f"a flag the {driver_cls.name} driver has (its options: "
                               f"{', '.join(sorted(driver_cls.option_names)) or 'none'})")
        options[tf.option] = value
    for spec in CLI_SECRETS[1:]:
        given = [f"--{spec.flag}-env", f"--{spec.flag}-file", f"--ask-{spec.flag}"]
        given = [flag for flag in given if getattr(args, flag.lstrip("-").replace("-", "_"))]
        if not given:
            continue
        if spec.name not in driver_cls.secret_options:
            held = ", ".join(sorted(driver_cls.secret_options)) or "none"
            raise InvalidValue(given[0], True, f"a secret the {driver_cls.name} driver takes (its secrets: {held})")
        options[spec.name] = _resolve_cli_secret(args, spec, f"{spec.name.replace('_', ' ')} for {args.host}: ")
    return options


def connect_from_args(args: argparse.Namespace) -> routerfix.Driver:
    """Open the device named by the connection arguments (completed from ``--profile``)."""
    from routerfix.cli.profiles import apply_profile

    apply_profile(args)
    if args.driver == "auto":   # detect without credentials first; only an unambiguous answer is used
        from routerfix.detect import resolve_driver

        found = resolve_driver(args.host, args.port)
        args.driver = found.matches[0].driver
        console(stderr=True).print(f"detected driver {args.driver}: {'; '.join(found.matches[0].evidence)}",
                                    markup=False)
    options = driver_options(args, routerfix.get_driver(args.driver))
    if args.timeout is not None:
        options["timeouts"] = routerfix.Timeouts(read=args.timeout)
    password = read_password(args)
    return routerfix.connect(args.driver, args.host, username=args.username, password=password,
                             port=args.port, **options)


def connection_argv(args: argparse.Namespace) -> list[str]:
    """The connection arguments of ``args`` as a command line (secrets only by reference), for printed hints."""
    argv = ["--driver", args.driver, "--host", args.host]
    for flag, value in (("--port", args.port), ("--username", args.username), ("--timeout", args.timeout)):
        if value is not None:
            argv += [flag, str(value)]
    for spec in CLI_SECRETS:
        for part in ("env", "file"):
            value = getattr(args, f"{spec.name}_{part}")
            if value:
                argv += [f"--{spec.flag}-{part}", value]
        if getattr(args, f"ask_{spec.name}"):
            argv.append(f"--ask-{spec.flag}")
    for tf in TRUST_FLAGS:
        value = getattr(args, tf.option, None)
        if value is not None:
            argv += [tf.flag] if tf.value is not None else [tf.flag, str(value)]
    asked = {spec.name: f"--ask-{spec.flag}" for spec in CLI_SECRETS}
    for pair in args.option:
        key = pair.partition("=")[0].strip()
        if key in asked:   # a secret typed as -o is never echoed: the hint asks for it instead
            if asked[key] not in argv:
                argv.append(asked[key])
        else:
            argv += ["-o", redact(pair)]
    if args.no_prompt and not any(a.startswith("--ask-") for a in argv):
        argv.append("--no-prompt")
    return argv


def undo_command(args: argparse.Namespace) -> str:
    """``routerfix undo`` for the device of ``args``, with its state dir: it restores from the saved records."""
    import shlex

    argv = ["routerfix", "undo", *connection_argv(args)]
    if getattr(args, "state_dir", None):
        argv += ["--state-dir", args.state_dir]
    return shlex.join([*argv, "--yes"])


# --- output -------------------------------------------------------------------------------------

def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True, markup=False)


def emit(args: argparse.Namespace, data: dict[str, Any], renderable: Any) -> None:
    """Print JSON (``--json``) or the human rendering."""
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        console().print(renderable)


def confirm(args: argparse.Namespace, question: str) -> bool:
    """Ask before writing unless --yes; refuse without a terminal to ask on."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise InvalidValue("--yes", False, "--yes to write without a terminal to confirm on")
    answer = input(f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")
