"""Run a module's main() in-process with given arguments and capture exit_json/fail_json."""

from __future__ import annotations

import json
import uuid

import pytest
from ansible.module_utils import basic


class ModuleExit(Exception):
    """Raised instead of sys.exit by exit_json/fail_json."""

    def __init__(self, result, failed):
        super().__init__(result)
        self.result = result
        self.failed = failed


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise ModuleExit(kwargs, False)


def _fail_json(self, msg, **kwargs):
    kwargs["msg"] = msg
    raise ModuleExit(kwargs, True)


@pytest.fixture
def run_module(monkeypatch):
    """``run_module(module, args, check_mode=False, diff=False) -> (result, failed)``."""
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)

    def run(module, args, check_mode=False, diff=False):
        full = dict(args)
        full["_ansible_check_mode"] = check_mode
        full["_ansible_diff"] = diff
        try:
            from ansible.module_utils.testing import patch_module_args
        except ImportError:  # ansible-core < 2.19
            from ansible.module_utils.common.text.converters import to_bytes

            monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": full})))
            try:
                module.main()
            except ModuleExit as done:
                return done.result, done.failed
        else:
            with patch_module_args(full):
                try:
                    module.main()
                except ModuleExit as done:
                    return done.result, done.failed
        raise AssertionError("the module returned without exit_json or fail_json")

    return run


@pytest.fixture
def router(tmp_path):
    """Connection arguments for a fresh file-backed memory router (office scenario)."""
    return dict(driver="memory", host=f"unit-{uuid.uuid4().hex[:8]}", password="admin",  # noqa: S106
                driver_options=dict(scenario="office", state_file=str(tmp_path / "router.json")))
