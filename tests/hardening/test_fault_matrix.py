"""Item 1: a fault at every step of every writing driver's apply and undo leaves the device fully changed or
exactly as before — never anything else.

Steps are counted on a clean run (command lines over SSH, HTTP requests on web drivers, verb calls on the memory
driver). Each cell starts a fresh simulator, arms one fault at step N, runs the phase, then reads the device back
on a new session and compares both the managed view (what routerfix reads) and the simulator's own state with the
clean run's before/after. The cells of one (driver, phase) run in a thread pool: they mostly wait.

Run ``pytest tests/hardening/test_fault_matrix.py -q -s -n 0`` to print the table of end states (-n 0: in this process;
pytest-xdist workers do not show what a test prints).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost

from .faults import KINDS, count_steps, run_with_fault
from .targets import ALL_TARGETS, Target

WORKERS = 32

# The first test builds the whole matrix (every cell of every driver, one pool) in its module fixture; that one
# setup runs every writing driver's faulted runs, so it gets the time they take together, not one test's.
# One pytest-xdist worker runs the whole module (--dist loadgroup): each worker would build the matrix again.
pytestmark = [pytest.mark.timeout(1200), pytest.mark.xdist_group("fault_matrix")]
RESULTS: dict[tuple[str, str, str], Counter[str]] = {}
MATRIX = [dataclasses.replace(t, knobs={**t.knobs, "tls": False}) if t.driver == "netgear" else t
          for t in ALL_TARGETS if t.id != "cisco_ios-xe"]
MATRIX.insert(1, dataclasses.replace(MATRIX[0], id="memory-batch", options={"batch": True}))


def _att_state(device: Any) -> Any:
    gateway = device.handle
    return {"allocmode": gateway.allocmode, "passmode": gateway.passmode, "passmac": gateway.passmac}


MATRIX.append(Target("att", "att", "http", native=_att_state))


def phases(target: Target) -> tuple[str, ...]:
    """What is faulted: the mitigation and its undo; on AT&T gateways (whose mitigation is a verdict and writes
    nothing) the one write routerfix makes there, IP Passthrough."""
    return ("passthrough",) if target.driver == "att" else ("apply", "undo")
"""-xe is the same driver and CLI code as cisco_ios; netgear runs without TLS here (the handshakes cost CPU, and
trust has its own tests). ``memory-batch`` is the memory router taking every change in one call (the engine's
``write_batch`` path: its step is that one call)."""
CONFIG_SESSION = frozenset({"cisco_ios", "vyos", "edgeos", "openwrt"})
"""Drivers that write inside a configuration session; their device-error column is its own test below."""


def applies(target: Target, kind: str) -> bool:
    """Whether fault ``kind`` exists for ``target`` (timeouts need a wire; token expiry a web session)."""
    if kind == "device-error" and target.driver in CONFIG_SESSION:
        return False
    if kind == "token-expired":
        return target.kind == "http" and target.token
    if kind == "timeout":
        return target.kind != "memory"
    return True



def _param(t: Target, phase: str) -> Any:
    return pytest.param(t, phase, id=f"{t.id}-{phase}")


CELLS = [_param(t, phase) for t in MATRIX for phase in phases(t)]


Job = tuple[Target, str, tuple[str, ...]]


def _jobs() -> list[Job]:
    jobs: list[Job] = [(t, phase, tuple(k for k in KINDS if applies(t, k))) for t in MATRIX
                       for phase in phases(t)]
    jobs += [(t, phase, ("device-error",)) for t in MATRIX if t.driver in CONFIG_SESSION for phase in ("apply", "undo")]
    return jobs


@pytest.fixture(scope="module")
def matrix(ssh_host: SSHSimulatorHost) -> dict[tuple[str, str, tuple[str, ...]], Any]:
    """Every cell of every job, run in one pool (the cells mostly wait; one pool keeps both cores busy)."""
    jobs = _jobs()
    with ThreadPoolExecutor(WORKERS) as pool:
        refs = list(pool.map(lambda job: _safe(count_steps, job[0], job[1], ssh_host), jobs))
        cells = [(i, kind, step) for i, (job, ref) in enumerate(zip(jobs, refs, strict=True))
                 if not isinstance(ref, BaseException) for kind in job[2] for step in range(1, ref.steps + 1)]
        outcomes = list(pool.map(lambda c: _safe(run_with_fault, jobs[c[0]][0], jobs[c[0]][1], c[1], c[2],
                                                 refs[c[0]], ssh_host), cells))
    results: dict[tuple[str, str, tuple[str, ...]], Any] = {}
    for i, (target, phase, kinds) in enumerate(jobs):
        mine = [(kind, step, o) for (j, kind, step), o in zip(cells, outcomes, strict=True) if j == i]
        results[(target.id, phase, kinds)] = (refs[i], mine)
    return results


def _safe(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - reported by the test that owns the cell
        return exc


@pytest.mark.parametrize(("target", "phase"), CELLS)
def test_fault_at_every_step(target: Target, phase: str, matrix: dict[Any, Any]) -> None:
    _check(target, phase, tuple(k for k in KINDS if applies(target, k)), matrix)


@pytest.mark.parametrize(("target", "phase"), [_param(t, phase) for t in MATRIX
                                               if t.driver in CONFIG_SESSION for phase in ("apply", "undo")])
def test_device_error_inside_a_configuration_session(target: Target, phase: str, matrix: dict[Any, Any]) -> None:
    """The device refuses one line (its own error text) at every step."""
    _check(target, phase, ("device-error",), matrix)


def _check(target: Target, phase: str, kinds: tuple[str, ...], matrix: dict[Any, Any]) -> None:
    ref, cells = matrix[(target.id, phase, kinds)]
    if isinstance(ref, BaseException):
        raise ref
    assert ref.steps >= 2, f"the clean {phase} of {target.id} took only {ref.steps} step(s)"
    assert ref.before.view != ref.after.view, f"the clean {phase} of {target.id} changed nothing"
    assert len(cells) == ref.steps * len(kinds)
    bad = []
    for kind, step, outcome in cells:
        if isinstance(outcome, BaseException):
            bad.append(f"{kind} at step {step}: the harness failed: {type(outcome).__name__}: {outcome}")
            continue
        assert outcome is not None, f"{kind} could not be armed on {target.id}"
        RESULTS.setdefault((target.id, phase, kind), Counter())[outcome.state] += 1
        if outcome.state == "other":
            bad.append(f"{kind} at step {step}: {outcome.error or 'no error'}\n{outcome.detail}")
    assert not bad, f"{len(bad)} of {len(cells)} cells ended neither done nor as before:\n" + "\n".join(bad)


def test_matrix_table() -> None:
    """Prints the table (with ``-s``); each cell's test above is the gate."""
    if not RESULTS:
        pytest.skip("run together with test_fault_at_every_step")
    rows = ["| driver | phase | fault | steps | done | as before | other |", "|---|---|---|---|---|---|---|"]
    total: Counter[str] = Counter()
    for (tid, phase, kind), counts in sorted(RESULTS.items()):
        total.update(counts)
        rows.append(f"| {tid} | {phase} | {kind} | {sum(counts.values())} | {counts['done']} | {counts['before']} "
                    f"| {counts['other']} |")
    rows.append(f"| **all** | | | {sum(total.values())} | {total['done']} | {total['before']} | {total['other']} |")
    print("\n" + "\n".join(rows))
    assert sum(total.values()) > 0
