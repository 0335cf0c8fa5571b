"""Nornir tasks: ``plan``, ``mitigate``, ``undo`` and ``facts`` over the ``routerfix`` connection.

::

    from nornir import InitNornir
    from routerfix.integrations.nornir_tasks import mitigate

    nr = InitNornir(config_file="config.yaml", dry_run=True)
    result = nr.run(task=mitigate)          # dry run: nothing is written, diff shows the plan

Every task returns ``Result(changed=..., diff=<the plan's unified diff>, result=<the routerfix result
as a dict>)``. ``mitigate`` and ``undo`` honour Nornir's dry run (``InitNornir(dry_run=True)`` or the
task's ``dry_run=`` argument, through ``task.is_dry_run``): then nothing is written and ``changed``
says whether the run *would* change the device (the ``napalm_configure`` convention); otherwise
``changed`` is True only when the device was changed and verified. A routerfix error fails the host
(Nornir records the exception; other hosts go on).

The password comes from the host's ``password``, else ``data.password_env`` / ``data.password_file``
(as in ``routerfix fleet``). Mitigation options come from the task's keyword arguments, overridden
per host by ``data.mitigation``. With ``state_dir``, ``mitigate`` keeps its undo record there (written
before the first write, :mod:`routerfix.records`) and ``undo`` restores the state from before routerfix's
first change from the host's records there (the files ``routerfix fleet`` and ``routerfix mitigate`` use).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nornir.core.task import Result, Task

from routerfix.driver import Driver
from routerfix.inventory import CONNECTION_NAME, resolve_password
from routerfix.model import to_data
from routerfix.result import MitigationResult

__all__ = ["facts", "mitigate", "plan", "undo"]


def _driver(task: Task) -> Driver:
    """The host's open routerfix driver (opened once per host, with credentials by reference)."""
    host = task.host
    if CONNECTION_NAME not in host.connections:
        params = host.get_connection_parameters(CONNECTION_NAME)
        password = params.password
        if password is None:
            secret = resolve_password(host.name, password_env=host.get("password_env"),
                                      password_file=host.get("password_file"))
            password = None if secret is None else secret.reveal()
        host.open_connection(CONNECTION_NAME, task.nornir.config, password=password)
    driver: Driver = host.get_connection(CONNECTION_NAME, task.nornir.config)
    return driver


def _options(task: Task, options: dict[str, Any]) -> dict[str, Any]:
    """The task's options overridden by the host's ``data.mitigation``; an unknown name fails before connecting
    (the names: :data:`routerfix.options.MITIGATION_OPTIONS`, the same the CLI and the Ansible module take)."""
    from routerfix.planner import MitigationOptions

    merged = {**options, **(task.host.get("mitigation") or {})}
    MitigationOptions.build(merged)
    return merged


def _result(task: Task, outcome: MitigationResult, dry_run: bool, saved: str | None) -> Result:
    data = outcome.to_dict()
    data["saved_to"] = saved
    changed = outcome.plan.changed if dry_run else outcome.changed
    return Result(host=task.host, result=data, changed=changed, diff=outcome.diff)


def plan(task: Task, **options: Any) -> Result:
    """Plan the mitigation (never writes). ``changed`` says whether mitigating would change the device."""
    import routerfix

    opts = _options(task, options)
    outcome = routerfix.apply_ghostcall_mitigation(_driver(task), dry_run=True, **opts)
    return _result(task, outcome, True, None)


def mitigate(task: Task, dry_run: bool | None = None, state_dir: str | Path | None = None,
             **options: Any) -> Result:
    """Apply the ghost-call mitigation (a plan only under Nornir's dry run).

    :param dry_run: overrides the global ``InitNornir(dry_run=...)``.
    :param state_dir: where to save the undo record and backup.
    :param options: :class:`routerfix.MitigationOptions` fields.
    """
    import routerfix

    dry = task.is_dry_run(dry_run)
    opts = _options(task, options)
    outcome = routerfix.apply_ghostcall_mitigation(_driver(task), dry_run=dry, state_dir=state_dir, **opts)
    return _result(task, outcome, dry, outcome.record_file)


def undo(task: Task, dry_run: bool | None = None, state_dir: str | Path | None = None,
         record: str | Path | dict[str, Any] | None = None) -> Result:
    """Remove the mitigation: from ``record``, else the host's records in ``state_dir``, else by rule names.

    :param dry_run: overrides the global ``InitNornir(dry_run=...)``.
    """
    import routerfix

    driver = _driver(task)
    dry = task.is_dry_run(dry_run)
    outcome = routerfix.remove_ghostcall_mitigation(driver, record=record, dry_run=dry, state_dir=state_dir)
    return _result(task, outcome, dry, outcome.record_file)


def facts(task: Task) -> Result:
    """Read the device (never writes): facts, capabilities, NAT mode, forwards, DHCP scope and phones."""
    import routerfix

    driver = _driver(task)
    state = driver.read_state()
    data = to_data(state)
    data["phones"] = [to_data(p) for p in routerfix.find_phones(state)]
    data["transport_security"] = driver.transport_security
    return Result(host=task.host, result=data, changed=False)
