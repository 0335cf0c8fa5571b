"""What the ``routerfix`` commands share: exit codes, argument groups, credentials, output."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import routerfix
from routerfix.errors import InvalidValue

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_DECISION, EXIT_VERDICT, EXIT_ROLLBACK = range(7)
EXIT_SCAN_REACHING, EXIT_INSUFFICIENT = 7, 8
EXIT_CODES = {
    EXIT_OK: "success", EXIT_FAILED: "failed (changes rolled back)", EXIT_USAGE: "bad input or usage",
    EXIT_AUTH: "authentication or trust refused", EXIT_DECISION: "needs an operator decision; nothing changed",
    EXIT_VERDICT: "verdict: replace or re-cable the router", EXIT_ROLLBACK: "rollback failed: check the device",
    EXIT_SCAN_REACHING: "diagnose: SIP scans from the internet reach a phone (run routerfix mitigate)",
    EXIT_INSUFFICIENT: "diagnose: not enough evidence for a verdict",
}
"""Every exit code of the ``routerfix`` command and its meaning."""

DEFAULT_PASSWORD_ENV = "ROUTERFIX_PASSWORD"  # noqa: S105 - the name of a variable, not a password


# --- argument helpers --------------------------------------------------------------------------

def _option_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs → driver options; values are JSON when they parse as JSON, else strings."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidValue("--option", pair, "KEY=VALUE, e.g. -o host_key_fingerprint=SHA256:...")
        options[key.strip()] = _option_value(value)
    return options


def read_password(args: argparse.Namespace) -> str | None:
    """The password from --password-file, the environment, or a prompt (never from argv)."""
    if args.password_file:
        try:
            return Path(args.password_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise InvalidValue("--password-file", args.password_file, f"a readable file ({exc.strerror})") from None
    value = os.environ.get(args.password_env)
    if value is not None:
        return value
    if args.ask_password or (sys.stdin.isatty() and not args.no_prompt):
        return getpass.getpass(f"password for {args.username or 'the router'}@{args.host}: ")
    return None


class _RefusePassword(argparse.Action):
    """``--password`` exists only to say why it is refused (without echoing the value)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        parser.error("passwords are not taken on the command line (shell history, ps): use the "
                     f"{DEFAULT_PASSWORD_ENV} environment variable, --password-file or --ask-password")


def add_connection_arguments(parser: argparse.ArgumentParser, *, host_required: bool = True,
                             driver_required: bool = True) -> None:
    """The options every single-device command shares."""
    group = parser.add_argument_group("device")
    group.add_argument("--driver", "-d", required=driver_required,
                       help="driver name (see `routerfix drivers`), or auto (see `routerfix detect`)")
    group.add_argument("--host", "-H", required=host_required, help="router address or name")
    group.add_argument("--port", type=int, help="TCP port, if not the driver's default")
    group.add_argument("--username", "-u", help="login name")
    group.add_argument("--password", action=_RefusePassword, help=argparse.SUPPRESS)
    group.add_argument("--password-env", default=DEFAULT_PASSWORD_ENV, metavar="VAR",
                       help=f"environment variable holding the password (default {DEFAULT_PASSWORD_ENV})")
    group.add_argument("--password-file", metavar="FILE", help="file holding the password")
    group.add_argument("--ask-password", action="store_true", help="prompt for the password")
    group.add_argument("--no-prompt", action="store_true", help="never prompt (scripts)")
    group.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                       help="driver option, repeatable (e.g. -o host_key_fingerprint=SHA256:...)")
    group.add_argument("--timeout", type=float, help="read timeout in seconds")


def add_mitigation_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of plan/mitigate (the MitigationOptions fields)."""
    group = parser.add_argument_group("mitigation")
    group.add_argument("--sink", help="use this unused LAN address as the sink instead of choosing one")
    group.add_argument("--replace-conflicting", action="store_true",
                       help="allow replacing an existing forward of 5060/5061 that is not routerfix's")
    group.add_argument("--no-reserve", dest="reserve_sink", action="store_false",
                       help="do not reserve the sink in DHCP")
    group.add_argument("--keep-nat", dest="manage_nat", action="store_false", help="leave NAT filtering alone")
    group.add_argument("--keep-sip-alg", dest="sip_alg_off", action="store_false", help="leave SIP ALG alone")
    group.add_argument("--no-flush", dest="flush", action="store_false",
                       help="do not clear inbound SIP connection tracking")
    group.add_argument("--no-probe", dest="probe", action="store_false",
                       help="do not probe candidate sink addresses")
    group.add_argument("--still-ringing", action="store_true",
                       help="the site still gets ghost calls although it was mitigated before")
    group.add_argument("--no-backup", dest="backup", action="store_false", help="skip the pre-change backup")


def mitigation_options(args: argparse.Namespace) -> dict[str, Any]:
    """The MitigationOptions keyword arguments from parsed arguments."""
    return {"sink": args.sink, "replace_conflicting": args.replace_conflicting, "reserve_sink": args.reserve_sink,
            "manage_nat": args.manage_nat, "sip_alg_off": args.sip_alg_off, "flush": args.flush,
            "probe": args.probe, "still_ringing": args.still_ringing, "backup": args.backup}


def connect_from_args(args: argparse.Namespace) -> routerfix.Driver:
    """Open the device named by the connection arguments."""
    if args.driver == "auto":   # detect without credentials first; only an unambiguous answer is used
        from routerfix.detect import resolve_driver

        found = resolve_driver(args.host, args.port)
        args.driver = found.matches[0].driver
        console(stderr=True).print(f"detected driver {args.driver}: {'; '.join(found.matches[0].evidence)}",
                                    markup=False)
    options = parse_options(args.option)
    if args.timeout is not None:
        options["timeouts"] = routerfix.Timeouts(read=args.timeout)
    password = read_password(args)
    return routerfix.connect(args.driver, args.host, username=args.username, password=password,
                             port=args.port, **options)


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
