"""Fault injection at step N of a run, and end-state classification.

A *step* is one command line (SSH), one HTTP request (web) or one driver verb call (memory) after the session is
open. :func:`count_steps` measures a clean run; :func:`run_with_fault` repeats the run on a fresh simulator with
one fault armed at step N, then reads the device back on a new session and classifies the end state.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from routerfix.simulators._hosts.ssh import Shell, SSHSimulatorHost

import routerfix
from routerfix.driver import Driver
from routerfix.errors import RouterfixError
from routerfix.planner import managed_view
from routerfix.simulate import SimulatedDevice, simulate

from .targets import Target, native_state

__all__ = ["FAST", "KINDS", "Outcome", "count_steps", "fresh_device", "open_driver", "run_with_fault",
           "ssh_device"]

FAST = routerfix.Timeouts(connect=2, read=2, apply=2)
"""Timeouts of the matrix runs."""
TIMEOUT_RUN = routerfix.Timeouts(connect=2, read=0.5, apply=2)
"""Timeouts of the timeout column: the faulted answer arrives after :data:`LATE` seconds."""
LATE = 1.0

KINDS = ("drop-before", "drop-after", "device-error", "timeout", "token-expired")
"""Fault kinds. ``token-expired`` applies to web drivers only."""


@contextlib.contextmanager
def fresh_device(target: Target, host: SSHSimulatorHost | None = None, **extra: Any) -> Iterator[SimulatedDevice]:
    """A new simulator in the target's starting state."""
    knobs = {**target.knobs, **extra}
    if target.kind == "ssh" and host is not None:
        knobs["host"] = host
    with simulate(target.driver, **knobs) as device:
        yield device


def ssh_device(device: SimulatedDevice) -> Any:
    """The :class:`~routerfix.simulators._hosts.ssh.SimulatedSSHDevice` of an SSH simulator (knobs and recorders):
    the handle itself, or its ``device`` (platform simulators wrap it with their router state)."""
    handle = device.handle
    return handle if hasattr(handle, "commands_seen") else handle.device


def open_driver(target: Target, device: SimulatedDevice, timeouts: routerfix.Timeouts = FAST,
                **options: Any) -> Driver:
    """Connect to ``device``."""
    return routerfix.connect(target.driver, device.host, timeouts=timeouts,
                             **{**device.connect_options(), **target.options, **options})


def _steps_seen(target: Target, device: SimulatedDevice, driver: Driver) -> int:
    if target.kind == "ssh":
        return int(ssh_device(device).commands_seen)
    if target.kind == "http":
        return len(_http(device).requests)
    return len(driver._trace)  # type: ignore[attr-defined]


def _http(device: SimulatedDevice) -> Any:
    handle = device.handle
    for attr in ("server", "http"):
        server = getattr(handle, attr, None)
        if server is not None and hasattr(server, "add_fault"):
            return server
    raise AssertionError(f"no HTTP simulator on {handle!r}")


Phase = Callable[[Driver, dict[str, Any]], Any]


def apply_phase(driver: Driver, ctx: dict[str, Any]) -> Any:
    """The mitigation."""
    return routerfix.apply_ghostcall_mitigation(driver)


def undo_phase(driver: Driver, ctx: dict[str, Any]) -> Any:
    """The undo, from the record of the mitigation."""
    return routerfix.remove_ghostcall_mitigation(driver, record=ctx["record"])


PASSTHROUGH_MAC = "02:11:22:33:44:55"


def passthrough_phase(driver: Driver, ctx: dict[str, Any]) -> Any:
    """AT&T gateways: the one write routerfix makes there, IP Passthrough to a router (asked for explicitly)."""
    driver.set_ip_passthrough(PASSTHROUGH_MAC)  # type: ignore[attr-defined]


PHASES: dict[str, Phase] = {"apply": apply_phase, "undo": undo_phase, "passthrough": passthrough_phase}
"""Phase name → what runs (``passthrough`` only on the ``att`` driver)."""


def _prepare(target: Target, device: SimulatedDevice, phase: str) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    if phase == "undo":
        with open_driver(target, device) as d:
            ctx["record"] = routerfix.apply_ghostcall_mitigation(d).to_dict()
    return ctx


@dataclass
class Snapshot:
    """The managed view (read through the driver on a new session) and the simulator's own state."""

    view: list[str]
    native: Any


def snapshot(target: Target, device: SimulatedDevice) -> Snapshot:
    """Read ``device`` back on a new session."""
    with open_driver(target, device) as d:
        view = managed_view(d.read_state())
        if target.driver == "att":  # the passthrough setting is not part of the mitigation's view
            view.append(f"passthrough: {d.get_ip_passthrough()}")  # type: ignore[attr-defined]
    return Snapshot(view, native_state(target, device))


@dataclass
class Reference:
    """A clean run: steps taken, and the states before and after it."""

    steps: int
    memory_verbs: list[str]
    before: Snapshot
    after: Snapshot


def count_steps(target: Target, phase: str, host: SSHSimulatorHost | None = None) -> Reference:
    """Run ``phase`` cleanly on a fresh simulator and count its steps."""
    with fresh_device(target, host) as device:
        ctx = _prepare(target, device, phase)
        before = snapshot(target, device)
        with open_driver(target, device) as d:
            if target.kind == "memory":
                _trace(d)
            start = _steps_seen(target, device, d)
            PHASES[phase](d, ctx)
            steps = _steps_seen(target, device, d) - start
            verbs = _memory_verbs(d)
        after = snapshot(target, device)
    return Reference(steps, verbs, before, after)


def _memory_verbs(driver: Driver) -> list[str]:
    calls = getattr(driver, "_trace", None)
    return list(calls) if calls else []


class _FaultShell(Shell):
    """Wraps a platform shell: at the armed command it answers an error line, or answers late."""

    def __init__(self, inner: Shell, injector: _SshInjector | None) -> None:
        self.inner = inner
        self.injector = injector
        self.username = inner.username

    @property  # type: ignore[override]
    def closed(self) -> bool:
        return self.inner.closed

    @closed.setter
    def closed(self, value: bool) -> None:
        self.inner.closed = value

    @property  # type: ignore[override]
    def echo(self) -> bool:
        return self.inner.echo

    def welcome(self) -> str:
        return self.inner.welcome()

    def prompt(self) -> str:
        return self.inner.prompt()

    def execute(self, line: str) -> str:
        if self.injector is None:
            return self.inner.execute(line)
        return self.injector.execute(self.inner, line)

    def control(self, key: str) -> str | None:
        return self.inner.control(key)

    def ended(self, clean: bool) -> None:
        self.inner.ended(clean)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


_LIVE_SHELLS: dict[int, list[_FaultShell]] = {}
_INJECTORS: dict[int, _SshInjector] = {}


def wrap_shells(device: SimulatedDevice) -> None:
    """Route every session's shell of an SSH simulator through :class:`_FaultShell` (before connecting), so
    that a fault can be armed later on the live session."""
    dev = ssh_device(device)
    factory = dev.shell_factory
    key = id(dev)
    _LIVE_SHELLS[key] = []

    def make(username: str) -> Shell:
        shell = _FaultShell(factory(username), _INJECTORS.get(key))
        _LIVE_SHELLS.setdefault(key, []).append(shell)
        return shell

    dev.shell_factory = make


class _SshInjector:
    def __init__(self, device: Any, kind: str, at: int, error_line: str) -> None:
        self.device, self.kind, self.at, self.error_line = device, kind, at, error_line
        self.fired = False

    def execute(self, inner: Shell, line: str) -> str:
        if self.fired or self.device.commands_seen != self.at:
            return inner.execute(line)
        self.fired = True
        if self.kind == "device-error":
            return self.error_line + "\n"
        output = inner.execute(line)  # timeout: the command runs, its answer comes late
        knobs = self.device.knobs
        knobs.latency = LATE
        threading.Timer(0.05, lambda: setattr(knobs, "latency", 0.0)).start()
        return output


def _arm(target: Target, device: SimulatedDevice, driver: Driver, kind: str, step: int,
         ref: Reference) -> bool:
    """Arm ``kind`` at ``step`` (1-based, from now). False when the kind does not apply to the target."""
    if target.kind == "ssh":
        dev = ssh_device(device)
        if kind == "drop-before":
            dev.drop_after(step)
        elif kind == "drop-after":
            dev.drop_after(step, executes=True)
        elif kind in ("device-error", "timeout"):
            injector = _SshInjector(dev, kind, dev.commands_seen + step, target.error_line)
            for shell in list(_LIVE_SHELLS.get(id(dev), ())):
                shell.injector = injector
            _INJECTORS[id(dev)] = injector
        else:
            return False
        return True
    if target.kind == "http":
        server = _http(device)
        if kind == "drop-before":
            server.add_fault("drop", skip=step - 1)
        elif kind == "drop-after":
            server.add_fault("drop-after", skip=step - 1)
        elif kind == "device-error":
            server.add_fault("status", _refuse_twice(step), status=500, times=2)
        elif kind == "timeout":
            server.add_fault("delay", seconds=LATE, skip=step - 1)
        elif kind == "token-expired":
            return _arm_token_expiry(device, server, step)
        return True
    # memory: the N-th verb call of the clean run fails
    verb = ref.memory_verbs[step - 1]
    nth = ref.memory_verbs[:step].count(verb)
    spec = {"drop-before": "drop", "drop-after": "drop-after", "device-error": "device"}.get(kind)
    if spec is None:
        return False
    driver._fail[verb] = f"{spec}@{nth}"  # type: ignore[attr-defined]
    return True


def _refuse_twice(step: int) -> Callable[[Any], bool]:
    """Match request ``step`` and the next request to the same method and path (the driver's retry of it): a
    device that refuses that operation, not just one packet."""
    seen = [0]
    target: list[str] = []

    def match(req: Any) -> bool:
        key = f"{req.method} {req.path}" + (f"?{req.query}" if req.method == "GET" else "")
        if target:
            return key == target[0]
        seen[0] += 1
        if seen[0] == step:
            target.append(key)
            return True
        return False

    return match


def _arm_token_expiry(device: SimulatedDevice, server: Any, step: int) -> bool:
    """The session token (or cookie/prefix) dies at request ``step``: simulators with ``expire_token_after(n)``
    or an ``expire_on`` substring knob (armed to match everything exactly when request ``step`` arrives)."""
    handle = device.handle
    expire = getattr(handle, "expire_token_after", None)
    if expire is not None:
        expire(step - 1)
        return True
    if not hasattr(handle, "expire_on"):
        return False
    seen = [0]

    def trigger(req: Any) -> bool:  # a fault that never fires: it only counts requests and arms the knob
        seen[0] += 1
        if seen[0] == step:
            handle.expire_on = " /"
        return False

    server.add_fault("status", trigger, times=1)
    return True


@dataclass
class Outcome:
    """The end state of one faulted run."""

    state: str
    """``done`` (the phase completed), ``before`` (exactly as before the phase) or ``other``."""
    error: str
    """The error the run raised (class name), or ``""``."""
    detail: str = ""


def run_with_fault(target: Target, phase: str, kind: str, step: int, ref: Reference,
                   host: SSHSimulatorHost | None = None) -> Outcome | None:
    """One cell of the matrix; None when ``kind`` does not apply to the target."""
    with fresh_device(target, host) as device:
        ctx = _prepare(target, device, phase)
        error = ""
        if target.kind == "ssh":
            wrap_shells(device)
        with open_driver(target, device) as d:
            if kind == "timeout":
                _use_timeouts(d, TIMEOUT_RUN)
            if target.kind == "memory":
                _trace(d)
            if not _arm(target, device, d, kind, step, ref):
                return None
            try:
                PHASES[phase](d, ctx)
            except RouterfixError as exc:
                error = type(exc).__name__
            except Exception as exc:  # noqa: BLE001 - anything else is a finding
                return Outcome("other", f"non-routerfix {type(exc).__name__}", str(exc))
        if target.kind == "http":  # a fault the run did not consume must not hit the read-back
            _http(device).clear_faults()
        if target.kind == "ssh":
            ssh_device(device).knobs.latency = 0.0
            _INJECTORS.pop(id(ssh_device(device)), None)
            for shell in _LIVE_SHELLS.pop(id(ssh_device(device)), []):
                shell.injector = None
        end = snapshot(target, device)
    if end.view == ref.after.view and end.native == ref.after.native:
        return Outcome("done", error)
    if phase == "undo" and not error and end.native == ref.after.native and \
            [line for line in end.view if line != "undo marker: saved"] == ref.after.view:
        return Outcome("done", error)  # undone and kept; a marker it could not remove is stale, never replayed
    if end.view == ref.before.view and end.native == ref.before.native:
        return Outcome("before", error)
    return Outcome("other", error, describe_difference(end, ref))


def _use_timeouts(driver: Driver, timeouts: routerfix.Timeouts) -> None:
    """Every read of ``driver`` from now on (a reconnection's too) waits ``timeouts``. The timeout column's short read
    timeout is for the phase its fault is in: the harness logs in with :data:`FAST`, as on every other column. With
    0.5 s from the start, the login's own session set-up (``export LC_ALL=C PS1=...``) timed out on a loaded machine
    (pytest-xdist workers beside the matrix) and failed the cell before its fault was even armed."""
    driver.timeouts = timeouts
    http = getattr(driver, "http", None)
    if http is not None and hasattr(http, "timeouts"):  # web drivers: their HTTP session reads its own copy
        http.timeouts = timeouts


def describe_difference(end: Snapshot, ref: Reference) -> str:
    """What differs from the completed and from the untouched state (for the failure message)."""
    import difflib
    import pprint

    parts = []
    for label, want in (("done", ref.after), ("before", ref.before)):
        view = list(difflib.unified_diff(want.view, end.view, label, "end", lineterm="", n=0))
        native = list(difflib.unified_diff(pprint.pformat(want.native, width=110).splitlines(),
                                           pprint.pformat(end.native, width=110).splitlines(),
                                           label, "end", lineterm="", n=0))
        parts.append(f"vs {label}: view diff {view[2:] or 'none'}; simulator diff {native[2:] or 'none'}")
    return "\n".join(parts)


def _trace(driver: Driver) -> None:
    """Memory driver: record the verb sequence (its fault option counts calls per verb)."""
    trace: list[str] = []
    original = driver._step  # type: ignore[attr-defined]

    def step(verb: str) -> None:
        trace.append(verb)
        original(verb)

    driver._step = step  # type: ignore[attr-defined]
    driver._trace = trace  # type: ignore[attr-defined]


logging.getLogger("routerfix").setLevel(logging.WARNING)
