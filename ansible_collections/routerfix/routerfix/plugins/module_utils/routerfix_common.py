# Copyright: (c) 2026, routerfix developers
# MIT License (see LICENSE or https://opensource.org/licenses/MIT)
# SPDX-License-Identifier: MIT
"""Shared pieces of the routerfix modules: the library import check, one argument spec, connecting (secrets
through routerfix.credentials), error reporting and diffs."""


import traceback

from ansible.module_utils.basic import missing_required_lib

__all__ = ["HAS_ROUTERFIX", "RouterfixError", "apply_in_steps", "check_library", "connect", "fail_from_error",
           "make_diff", "make_driver", "routerfix_argument_spec", "state_lines"]

ROUTERFIX_IMPORT_ERROR = None
try:
    import routerfix
    from routerfix.errors import RouterfixError
    HAS_ROUTERFIX = True
except ImportError:  # pragma: no cover - exercised where routerfix is absent
    HAS_ROUTERFIX = False
    ROUTERFIX_IMPORT_ERROR = traceback.format_exc()

    class RouterfixError(Exception):  # type: ignore[no-redef]
        """Stand-in so the except clauses below stay valid without the library."""


def routerfix_argument_spec():
    """The connection options every routerfix module takes (see the doc fragment)."""
    return dict(
        driver=dict(type="str", required=True),
        host=dict(type="str", required=True),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        password_file=dict(type="path", no_log=True),
        port=dict(type="int"),
        timeout=dict(type="float"),
        driver_options=dict(type="dict", default={}),
        driver_secrets=dict(type="dict", no_log=True),
    )


def check_library(module):
    """Fail the module with the standard message when routerfix is not importable."""
    if not HAS_ROUTERFIX:
        module.fail_json(msg=missing_required_lib("routerfix"), exception=ROUTERFIX_IMPORT_ERROR)


def connect(module):
    """Open the routerfix driver the module's parameters describe (close it when done)."""
    driver = make_driver(module)
    try:
        driver.open()
    except BaseException:
        driver.close()
        raise
    return driver


def make_driver(module):
    """The routerfix driver the module's parameters describe, not yet opened (no I/O: its options are
    checked, so a module can check every parameter before it connects)."""
    check_library(module)
    from routerfix.credentials import DEFAULT_PASSWORD_ENV, resolve_secret

    params = module.params
    options = dict(params.get("driver_options") or {})
    for name, value in (params.get("driver_secrets") or {}).items():
        secret = resolve_secret(name, value=value)   # YAML reads 123456 as a number: a secret is its text
        if secret is not None:
            module.no_log_values.add(secret.reveal())
        options[name] = secret
    password = resolve_secret("password", value=params.get("password"), file=params.get("password_file"),
                              default_env=DEFAULT_PASSWORD_ENV, fields=("password_file", "password_env"))
    if password is not None:
        module.no_log_values.add(password.reveal())
    if params.get("timeout"):
        options["timeouts"] = routerfix.Timeouts(connect=params["timeout"], read=params["timeout"])
    return routerfix.get_driver(params["driver"])(params["host"], username=params.get("username"),
                                                  password=password, port=params.get("port"),
                                                  **options)


def apply_in_steps(driver, before, steps, operation, fallback=None):
    """Apply ``steps`` (a list of action lists) through the routerfix engine, one verified step after the other:
    each step is backed up, written, read back and rolled back on failure; when a later step fails, the
    earlier ones are taken back too (newest first), so the router ends as it was. Holds the device lock.

    ``fallback`` (optional) is called with the error when the router refuses the *first* step
    (``DeviceError``, rolled back, nothing changed) and returns other steps to try instead, or None.

    Returns the state after the last step (as verified by read-back)."""
    from routerfix.engine import execute_plan
    from routerfix.locks import device_lock
    from routerfix.planner import Plan
    from routerfix.records import DeviceKey

    done = []
    state = before
    with device_lock(DeviceKey.of(driver)):
        for actions in steps:
            plan = Plan(operation=operation, host=driver.host, driver=driver.name, before=state, actions=tuple(actions))
            try:
                execute_plan(driver, plan)
            except RouterfixError as exc:
                from routerfix.errors import DeviceError, RollbackFailed

                if isinstance(exc, RollbackFailed):
                    raise
                if not done:
                    other = fallback(exc) if fallback is not None and isinstance(exc, DeviceError) else None
                    if not other:
                        raise
                    return apply_in_steps(driver, before, other, operation)
                _take_back(driver, done, operation, exc)
                raise
            done.append(plan)
            state = plan.after
    return state


def _take_back(driver, done, operation, exc):
    """Undo the verified earlier steps ``done`` after a later one failed (and was rolled back itself)."""
    from routerfix.engine import execute_plan
    from routerfix.planner import Plan

    for plan in reversed(done):
        undo = tuple(a.inverse() for a in reversed(plan.actions))
        try:
            execute_plan(driver, Plan(operation=operation, host=driver.host, driver=driver.name, before=plan.after,
                                      actions=undo))
        except RouterfixError as failed:
            from routerfix.errors import RollbackFailed

            raise RollbackFailed(f"{exc}; taking back the earlier step failed too ({failed}): check the router",
                                 report=tuple(a.describe() for a in undo), host=driver.host,
                                 driver=driver.name) from exc
    exc.add_note("the earlier steps were taken back: the router is as it was before this run")


def fail_from_error(module, exc, **extra):
    """Report a routerfix error as a module failure: the message, its class and any notes (no secret).

    ``changed`` is False (a failed change is rolled back) except after ``RollbackFailed``, when the
    router may be half-configured."""
    notes = list(getattr(exc, "__notes__", ()) or ())
    extra.setdefault("changed", type(exc).__name__ == "RollbackFailed")
    module.fail_json(msg=str(exc), error_type=type(exc).__name__, notes=notes, **extra)


def state_lines(state):
    """The managed part of a device state (NAT, SIP ALG, forwards, sink reservation) as diff text."""
    from routerfix.planner import managed_view

    lines = managed_view(state)
    return "\n".join(lines) + ("\n" if lines else "")


def make_diff(host, before, after):
    """An Ansible ``diff`` dict from two device states."""
    return dict(before=state_lines(before), after=state_lines(after), before_header=f"{host} (before)",
                after_header=f"{host} (after)")
