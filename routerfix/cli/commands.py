"""The single-device commands: ``drivers``, ``show``, ``plan``, ``mitigate``, ``undo``, ``demo``, ``simulate``."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import routerfix
from routerfix.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_VERDICT,
    TRUST_FLAGS,
    confirm,
    connect_from_args,
    console,
    emit,
    mitigation_options,
    parse_options,
)
from routerfix.credentials import CLI_SECRETS
from routerfix.enums import ResultStatus
from routerfix.errors import InvalidValue, MitigationError
from routerfix.planner import Plan
from routerfix.records import default_state_dir
from routerfix.secrets import reveal


def cmd_drivers(args: argparse.Namespace) -> int:
    """List installed drivers, or one driver's options with their meaning."""
    from routerfix.registry import registry

    if args.name:
        return _describe_driver(args, routerfix.get_driver(args.name))
    rows = registry.describe()
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return EXIT_OK
    from rich.table import Table

    table = Table("driver", "plugin")
    for row in rows:
        table.add_row(row["name"], row["target"])
    console().print(table)
    return EXIT_OK


def _describe_driver(args: argparse.Namespace, cls: type[routerfix.Driver]) -> int:
    """``routerfix drivers NAME``: the driver's options, which are secret, the flag that sets each, their meaning."""
    flags = {tf.option: tf.flag for tf in TRUST_FLAGS}
    flags.update({spec.name: f"--{spec.flag}-file/-env" for spec in CLI_SECRETS[1:]})
    about = {spec.name: spec.about for spec in CLI_SECRETS}
    rows = [{"name": name, "secret": name in cls.secret_options, "flag": flags.get(name),
             "help": cls.option_help.get(name) or about.get(name, "")} for name in sorted(cls.option_names)]
    data = {"name": cls.name, "target": f"{cls.__module__}:{cls.__qualname__}", "options": rows}
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return EXIT_OK
    from rich.table import Table

    table = Table("option", "flag", "meaning", title=f"{cls.name} options (-o KEY=VALUE, or the flag)")
    for row in rows:
        meaning = str(row["help"] or "(undocumented)") + (" [secret]" if row["secret"] else "")
        table.add_row(str(row["name"]), str(row["flag"] or ""), meaning)
    console().print(table)
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
    return EXIT_VERDICT if result.status is ResultStatus.VERDICT else EXIT_OK


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
            console().print(plan)
        if not confirm(args, f"apply these {len(plan.actions)} change(s) to {driver.host}?"):
            console(stderr=True).print("nothing changed")
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

        console().print(Text(f"result and undo record saved to {saved}" + (f" (copy: {copy})" if copy else "")))
    return EXIT_VERDICT if result.status is ResultStatus.VERDICT else EXIT_OK


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
    return EXIT_OK if result.complete or result.dry_run else EXIT_PARTIAL


_DEMO_OK = frozenset({ResultStatus.MITIGATED, ResultStatus.UNCHANGED, ResultStatus.VERDICT})
"""First-run outcomes a demo counts as working (a verdict is the right answer for a site no setting can fix)."""

def cmd_demo(args: argparse.Namespace) -> int:
    """Start a built-in simulated router and run show → plan → mitigate → verify → rerun on it."""
    from routerfix.render import state_renderable
    from routerfix.simulate import simulate

    out = console()
    with tempfile.TemporaryDirectory(prefix="routerfix-demo-") as tmp, simulate(args.driver) as device:
        if not args.json:
            out.rule(f"routerfix demo: {device.description or args.driver} on {device.host}"
                         + (f":{device.port}" if device.port else ""))
        with routerfix.connect(device.driver, device.host, **device.connect_options()) as driver:
            state = driver.read_state()
            phones = routerfix.find_phones(state)
            if not args.json:
                out.print(state_renderable(state, phones))
                out.rule("mitigate")
            result = routerfix.apply_ghostcall_mitigation(driver, state_dir=tmp)
            if not args.json:
                out.print(result)
                out.rule("verify: a second run must change nothing")
            writes_before = driver.writes
            again = routerfix.apply_ghostcall_mitigation(driver, state_dir=tmp)
            if not args.json:
                out.print(f"second run: status={again.status} changed={again.changed} "
                              f"writes sent={driver.writes - writes_before}")
                out.print(state_renderable(driver.read_state(), phones))
    if args.json:
        sys.stdout.write(json.dumps({"first": result.to_dict(), "second": again.to_dict()}, indent=2) + "\n")
    return EXIT_OK if result.status in _DEMO_OK and not again.changed else EXIT_FAILED


def simulator_command(device: Any) -> str:
    """A ``routerfix show`` command line that works verbatim against a running simulator (its test password in
    the environment; no empty ``--username``; values shell-quoted)."""
    import shlex

    argv = ["routerfix", "show", *device.cli_args(), "--no-prompt"]
    password = reveal(device.password)
    prefix = f"ROUTERFIX_PASSWORD={shlex.quote(password)} " if password else ""
    return prefix + shlex.join(argv)


def cmd_completion(args: argparse.Namespace) -> int:
    """Print a bash or zsh completion script generated from the parser (by shtab, the optional extra
    ``routerfix[completion]``): ``routerfix completion bash > ~/.local/share/bash-completion/completions/routerfix``."""
    try:
        import shtab
    except ModuleNotFoundError:
        raise InvalidValue("completion", args.shell, "the completion extra installed first: "
                                                     "pip install 'routerfix[completion]'") from None
    from routerfix.cli.app import build_parser

    sys.stdout.write(shtab.complete(build_parser(), shell=args.shell))
    return EXIT_OK


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
            console().print(f"{device.description or device.driver} listening on {device.host}"
                            f"{f' port {device.port}' if device.port else ''}\n"
                            f"connect with: {simulator_command(device)}\n(Ctrl-C to stop)")
        sys.stdout.flush()
        deadline = time.monotonic() + args.duration if args.duration else None
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    return EXIT_OK
