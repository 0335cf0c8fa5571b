"""The ``routerfix`` command: its parser, error handling and exit codes.

Commands: ``drivers``, ``show``, ``plan``, ``mitigate``, ``undo``, ``demo``, ``simulate``
(and ``fleet``/``probe`` where installed). Every command takes ``--json``.
Secrets never go on the command line: the password, an SSH key passphrase and an
enable secret each come from a file (``--password-file``...), an environment variable
(``ROUTERFIX_PASSWORD``, or the one ``--password-env`` names...) or a prompt
(:mod:`routerfix.credentials`). Every command or flag an error suggests works as printed.

Exit codes:

====  =============================================================================
0     success (mitigated, already in place, planned, undone)
1     failure; any change was rolled back (the message says so)
2     bad input or usage (the message names the field and the fix)
3     authentication refused, or host key / certificate not trusted
4     needs an operator decision: SIP already forwarded to a host in use, or no
      free address in the DHCP pool; nothing was changed
5     verdict: no configuration can fix this site (replace the router, bridge mode)
6     rollback failed: the device may be half-configured; read the message
====  =============================================================================
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import routerfix
from routerfix.cli.commands import (
    cmd_completion,
    cmd_demo,
    cmd_drivers,
    cmd_mitigate,
    cmd_plan,
    cmd_show,
    cmd_simulate,
    cmd_undo,
)
from routerfix.cli.common import (
    EXIT_AUTH,
    EXIT_CODES,
    EXIT_DECISION,
    EXIT_FAILED,
    EXIT_ROLLBACK,
    EXIT_USAGE,
    add_connection_arguments,
    add_mitigation_arguments,
    console,
)
from routerfix.errors import (
    AuthenticationError,
    DriverNotFound,
    ForwardConflict,
    InvalidValue,
    NoFreeAddress,
    RollbackFailed,
    RouterfixError,
    StateFileError,
    TrustError,
)
from routerfix.interrupts import exit_code_for_interrupt, handle_termination


def _optional_registrations() -> list[Callable[[Any], None]]:
    import importlib

    found = []
    for module in ("routerfix.cli.fleet", "routerfix.cli.probe", "routerfix.cli.detect", "routerfix.cli.diagnose"):
        try:
            found.append(importlib.import_module(module).register)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return found


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``routerfix`` command."""
    parser = argparse.ArgumentParser(
        prog="routerfix", allow_abbrev=False,
        description="Stop VoIP ghost calls: fix the router's NAT and forward SIP to nowhere.",
        epilog="exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items()))
    parser.add_argument("--version", action="version", version=f"routerfix {routerfix.__version__}")
    parser.add_argument("--debug", action="store_true", help="DEBUG logs to stderr (secrets are masked)")
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser = functools.partial(sub.add_parser, allow_abbrev=False)  # type: ignore[method-assign]

    p = sub.add_parser("drivers", parents=[common], help="list installed drivers, or one driver's options")
    p.add_argument("name", nargs="?", metavar="NAME", help="list this driver's options with their meaning")
    p.set_defaults(func=cmd_drivers)

    p = sub.add_parser("show", parents=[common], help="show NAT mode, forwards, DHCP scope, leases and phones")
    add_connection_arguments(p)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("plan", parents=[common], help="dry run: show what mitigate would change")
    add_connection_arguments(p)
    add_mitigation_arguments(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("mitigate", parents=[common], help="apply the ghost-call mitigation (asks first)")
    add_connection_arguments(p)
    add_mitigation_arguments(p)
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before writing")
    p.add_argument("--state-dir", help="where results, undo records and backups go")
    p.add_argument("--save", metavar="FILE", help="also save a copy of the undo record here (the state dir keeps "
                                                  "its own)")
    p.add_argument("--lock-wait", type=float, default=None, metavar="SECONDS",
                   help="wait this long for another run on the same router (default 10; 0: refuse at once)")
    p.set_defaults(func=cmd_mitigate)

    p = sub.add_parser("undo", parents=[common], help="remove the mitigation (from the saved record)")
    add_connection_arguments(p)
    p.add_argument("--record", metavar="FILE",
                   help="undo record of a mitigate run (default: every record in the state dir since the last "
                        "undo, back to the state before routerfix's first change)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before writing")
    p.add_argument("--state-dir", help="where results, undo records and backups go")
    p.add_argument("--lock-wait", type=float, default=None, metavar="SECONDS",
                   help="wait this long for another run on the same router (default 10; 0: refuse at once)")
    p.set_defaults(func=cmd_undo)

    p = sub.add_parser("demo", parents=[common], help="full mitigation against a built-in simulated router")
    p.add_argument("--driver", "-d", default="memory", help="whose simulator to use (default: memory)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("simulate", parents=[common], help="run a driver's simulator on 127.0.0.1")
    p.add_argument("driver", help="driver name")
    p.add_argument("--knob", "-k", action="append", default=[], metavar="KEY=VALUE", help="simulator knob")
    p.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("completion", help="print a shell completion script (needs routerfix[completion])",
                       description="Print a completion script: routerfix completion bash > "
                                   "~/.local/share/bash-completion/completions/routerfix, or for zsh into a directory "
                                   "of $fpath as _routerfix.")
    p.add_argument("shell", choices=("bash", "zsh"))
    p.set_defaults(func=cmd_completion)

    for register in _optional_registrations():
        register(sub)
    return parser


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an error (see the module docstring)."""
    if isinstance(exc, RollbackFailed):
        return EXIT_ROLLBACK
    if isinstance(exc, (AuthenticationError, TrustError)):
        return EXIT_AUTH
    if isinstance(exc, (ForwardConflict, NoFreeAddress)):
        return EXIT_DECISION
    if isinstance(exc, (InvalidValue, StateFileError, DriverNotFound)):
        return EXIT_USAGE
    return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        with handle_termination():
            code: int = args.func(args)
        return code
    except RouterfixError as exc:
        _print_error(args, exc)
        return exit_code_for(exc)
    except KeyboardInterrupt as exc:
        _print_error(args, exc)
        return exit_code_for_interrupt(exc)


def _print_error(args: argparse.Namespace, exc: BaseException) -> None:
    """The error and its notes on stderr (device text never read as markup), and as JSON with --json."""
    from rich.text import Text

    err = console(stderr=True)
    if isinstance(exc, RouterfixError):
        err.print(Text.assemble(("error: ", "bold red"), str(exc)))
    else:
        err.print(Text.assemble(("interrupted: ", "bold red"), type(exc).__name__ + (f" ({exc})" if str(exc) else "")))
    notes = [str(n) for n in getattr(exc, "__notes__", ())]
    for note in notes:
        err.print(Text(f"  {note}"))
    if isinstance(exc, RollbackFailed) and getattr(args, "command", None) == "mitigate":
        from routerfix.cli.common import undo_command

        err.print(Text(f"  undo with: {undo_command(args)}"))
    if getattr(args, "json", False):
        error = exc.to_dict() if isinstance(exc, RouterfixError) else {"type": type(exc).__name__,
                                                                       "message": str(exc)}
        sys.stdout.write(json.dumps({"error": error, "notes": notes}) + "\n")


