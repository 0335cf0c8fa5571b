"""The ``routerfix`` command.

Commands: ``drivers``, ``show``, ``plan``, ``mitigate``, ``undo``, ``demo``, ``simulate``
(and ``fleet``/``probe`` where installed). Every command takes ``--json``.
Credentials never go on the command line: the password comes from
``--password-file``, the ``ROUTERFIX_PASSWORD`` environment variable (or the one
``--password-env`` names), or a prompt.

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
import getpass
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import routerfix
from routerfix.errors import (
    AuthenticationError,
    ForwardConflict,
    InvalidValue,
    MitigationError,
    NoFreeAddress,
    RollbackFailed,
    RouterfixError,
    StateFileError,
    TrustError,
)
from routerfix.interrupts import exit_code_for_interrupt, handle_termination
from routerfix.planner import Plan
from routerfix.records import default_state_dir

__all__ = ["EXIT_CODES", "main"]

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


def add_connection_arguments(parser: argparse.ArgumentParser, *, host_required: bool = True) -> None:
    """The options every single-device command shares."""
    group = parser.add_argument_group("device")
    group.add_argument("--driver", "-d", required=True,
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
        _console(stderr=True).print(f"detected driver {args.driver}: {'; '.join(found.matches[0].evidence)}",
                                    markup=False)
    options = parse_options(args.option)
    if args.timeout is not None:
        options["timeouts"] = routerfix.Timeouts(read=args.timeout)
    password = read_password(args)
    return routerfix.connect(args.driver, args.host, username=args.username, password=password,
                             port=args.port, **options)


# --- output -------------------------------------------------------------------------------------

def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True, markup=False)


def emit(args: argparse.Namespace, data: dict[str, Any], renderable: Any) -> None:
    """Print JSON (``--json``) or the human rendering."""
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        _console().print(renderable)


def confirm(args: argparse.Namespace, question: str) -> bool:
    """Ask before writing unless --yes; refuse without a terminal to ask on."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise InvalidValue("--yes", False, "--yes to write without a terminal to confirm on")
    answer = input(f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")


# --- commands -----------------------------------------------------------------------------------

def cmd_drivers(args: argparse.Namespace) -> int:
    """List installed drivers."""
    from routerfix.registry import registry

    rows = registry.describe()
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return EXIT_OK
    from rich.table import Table

    table = Table("driver", "plugin")
    for row in rows:
        table.add_row(row["name"], row["target"])
    _console().print(table)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    """Show NAT mode, forwards, DHCP scope, leases and phones."""
    from routerfix.model import to_data
    from routerfix.render import state_renderable

    with connect_from_args(args) as driver:
        state = driver.read_state()
    phones = routerfix.find_phones(state)
    data = to_data(state)
    data["phones"] = [to_data(p) for p in phones]
    data["transport_security"] = driver.transport_security
    emit(args, data, state_renderable(state, phones))
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    """Dry run: plan and show the diff; nothing is written."""
    with connect_from_args(args) as driver:
        result = routerfix.apply_ghostcall_mitigation(driver, dry_run=True, **mitigation_options(args))
    emit(args, result.to_dict(), result)
    return EXIT_VERDICT if result.status == "verdict" else EXIT_OK


def _apply_confirmed(args: argparse.Namespace, driver: routerfix.Driver, plan_now: Callable[[], Plan],
                     state_dir: Path, backup: bool) -> routerfix.MitigationResult | None:
    """Plan, and apply. With --yes the device is read once. Otherwise the plan is shown and confirmed, and the
    device is read again before writing: it is applied only if it still plans the same changes (the router may
    have changed while the plan was on screen). None: the operator declined."""
    from routerfix.engine import execute_plan
    from routerfix.locks import device_lock
    from routerfix.records import DeviceKey

    with device_lock(DeviceKey.of(driver), wait=getattr(args, "lock_wait", None)):
        return _plan_confirm_apply(args, driver, plan_now, state_dir, backup, execute_plan)


def _plan_confirm_apply(args: argparse.Namespace, driver: routerfix.Driver, plan_now: Callable[[], Plan],
                        state_dir: Path, backup: bool, execute_plan: Any) -> routerfix.MitigationResult | None:
    plan = plan_now()
    if plan.changed and not args.yes:
        if not args.json:
            _console().print(plan)
        if not confirm(args, f"apply these {len(plan.actions)} change(s) to {driver.host}?"):
            _console(stderr=True).print("nothing changed")
            return None
        fresh = plan_now()
        if [a.describe() for a in fresh.actions] != [a.describe() for a in plan.actions]:
            raise MitigationError("the router changed while the plan was on screen; nothing was written: run the "
                                  "command again to see the new plan", host=driver.host, driver=driver.name)
        plan = fresh
    result: routerfix.MitigationResult = execute_plan(driver, plan, backup=backup, state_dir=state_dir)
    return result


def cmd_mitigate(args: argparse.Namespace) -> int:
    """Plan, confirm, apply, verify."""
    state_dir = Path(args.state_dir) if args.state_dir else default_state_dir()
    options = mitigation_options(args)
    with connect_from_args(args) as driver:
        result = _apply_confirmed(args, driver, lambda: routerfix.plan_ghostcall_mitigation(driver, **options),
                                  state_dir, options["backup"])
    if result is None:
        return EXIT_OK
    saved = result.record_file
    copy = str(result.save(args.save)) if args.save and result.changed else None
    data = result.to_dict()
    data["saved_to"] = saved
    data["copy_saved_to"] = copy
    emit(args, data, result)
    if saved and not args.json:
        from rich.text import Text

        _console().print(Text(f"result and undo record saved to {saved}" + (f" (copy: {copy})" if copy else "")))
    return EXIT_VERDICT if result.status == "verdict" else EXIT_OK


def cmd_undo(args: argparse.Namespace) -> int:
    """Remove the mitigation, restoring what the saved record says."""
    from routerfix.engine import plan_ghostcall_removal

    state_dir = Path(args.state_dir) if args.state_dir else default_state_dir()
    record: Path | None = Path(args.record) if args.record else None
    with connect_from_args(args) as driver:
        result = _apply_confirmed(args, driver, lambda: plan_ghostcall_removal(driver, record=record,
                                                                                state_dir=state_dir), state_dir, True)
    if result is None:
        return EXIT_OK
    data = result.to_dict()
    used = result.plan.extra.get("records") or []
    data["record"] = used[-1] if used else None
    data["records"] = used
    data["saved_to"] = result.record_file
    emit(args, data, result)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Start a built-in simulated router and run show → plan → mitigate → verify → rerun on it."""
    from routerfix.render import state_renderable
    from routerfix.simulate import simulate

    console = _console()
    with tempfile.TemporaryDirectory(prefix="routerfix-demo-") as tmp, simulate(args.driver) as device:
        if not args.json:
            console.rule(f"routerfix demo: {device.description or args.driver} on {device.host}"
                         + (f":{device.port}" if device.port else ""))
        with routerfix.connect(device.driver, device.host, **device.connect_options()) as driver:
            state = driver.read_state()
            phones = routerfix.find_phones(state)
            if not args.json:
                console.print(state_renderable(state, phones))
                console.rule("mitigate")
            result = routerfix.apply_ghostcall_mitigation(driver, state_dir=tmp)
            if not args.json:
                console.print(result)
                console.rule("verify: a second run must change nothing")
            writes_before = driver.writes
            again = routerfix.apply_ghostcall_mitigation(driver, state_dir=tmp)
            if not args.json:
                console.print(f"second run: status={again.status} changed={again.changed} "
                              f"writes sent={driver.writes - writes_before}")
                console.print(state_renderable(driver.read_state(), phones))
    if args.json:
        sys.stdout.write(json.dumps({"first": result.to_dict(), "second": again.to_dict()}, indent=2) + "\n")
    return EXIT_OK if result.status in ("mitigated", "unchanged", "verdict") and not again.changed else EXIT_FAILED


def cmd_simulate(args: argparse.Namespace) -> int:
    """Run a driver's simulator in the foreground and print how to connect to it."""
    from routerfix.simulate import simulate

    knobs = parse_options(args.knob)
    with simulate(args.driver, **knobs) as device:
        info = {"driver": device.driver, "host": device.host, "port": device.port, "username": device.username,
                "options": device.options, "description": device.description}
        if args.json:
            sys.stdout.write(json.dumps(info) + "\n")
        else:
            opts = " ".join(f"-o {k}={v if isinstance(v, str) else json.dumps(v)}"
                            for k, v in device.options.items())
            port = f" --port {device.port}" if device.port else ""
            _console().print(f"{device.description or device.driver} listening on {device.host}{port}\n"
                             f"connect with: ROUTERFIX_PASSWORD=<the simulator's password> routerfix show "
                             f"--driver {device.driver} --host {device.host}{port} --username {device.username} "
                             f"{opts}\n(password: {device.password!s}; Ctrl-C to stop)")
        sys.stdout.flush()
        deadline = time.monotonic() + args.duration if args.duration else None
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    return EXIT_OK


def cmd_diagnose(args: argparse.Namespace) -> int:
    """Read captures and SIP logs: is the ringing a scan, does it reach a phone, does the fix hold?
    Exit 0 (no scan, or scans blocked), 7 (scans reach a phone: mitigate), 5 (they do although the router is
    mitigated: replace it), 8 (not enough evidence)."""
    from routerfix.diagnose import Limits, diagnose

    defaults = Limits()
    limits = Limits(max_bytes_per_file=defaults.max_bytes_per_file if args.max_bytes is None else args.max_bytes,
                    max_packets=defaults.max_packets if args.max_packets is None else args.max_packets)
    result = diagnose(args.evidence, mitigated=args.mitigated, phones=args.phone, providers=args.provider,
                      limits=limits)
    emit(args, result.to_dict(), result)
    return result.exit_code


# --- parser and main ----------------------------------------------------------------------------

def _optional_registrations() -> list[Callable[[Any], None]]:
    import importlib

    found = []
    for module in ("routerfix.cli_fleet", "routerfix.cli_probe", "routerfix.cli_detect"):
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

    p = sub.add_parser("drivers", parents=[common], help="list installed drivers")
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

    p = sub.add_parser("diagnose", parents=[common],
                       help="from captures and SIP logs: is the ringing a scan, does it reach a phone, does the fix "
                            "hold")
    p.add_argument("evidence", nargs="+", metavar="EVIDENCE",
                   help="pcap/pcapng capture, sipp -trace_msg file, Asterisk full/security log, Kamailio sipdump file")
    p.add_argument("--mitigated", action="store_true",
                   help="the router already carries routerfix's mitigation (scans reaching a phone: replace it)")
    p.add_argument("--phone", action="append", default=[], metavar="ADDR", help="a phone's address (repeatable)")
    p.add_argument("--provider", action="append", default=[], metavar="ADDR",
                   help="an address of the provider's registrar or SBC (repeatable)")
    p.add_argument("--max-bytes", type=int, metavar="N", help="read at most N bytes of each file (default 512 MiB)")
    p.add_argument("--max-packets", type=int, metavar="N", help="read at most N packets/records in all (default 5M)")
    p.set_defaults(func=cmd_diagnose)

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
    if isinstance(exc, (InvalidValue, StateFileError)):
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

    err = _console(stderr=True)
    if isinstance(exc, RouterfixError):
        err.print(Text.assemble(("error: ", "bold red"), str(exc)))
    else:
        err.print(Text.assemble(("interrupted: ", "bold red"), type(exc).__name__ + (f" ({exc})" if str(exc) else "")))
    notes = [str(n) for n in getattr(exc, "__notes__", ())]
    for note in notes:
        err.print(Text(f"  {note}"))
    if getattr(args, "json", False):
        error = exc.to_dict() if isinstance(exc, RouterfixError) else {"type": type(exc).__name__,
                                                                       "message": str(exc)}
        sys.stdout.write(json.dumps({"error": error, "notes": notes}) + "\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
