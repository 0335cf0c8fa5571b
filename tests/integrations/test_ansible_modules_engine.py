"""The port_forward and nat_mode Ansible modules run in-process (no ansible-playbook) against the MikroTik SSH
simulator: every parameter checked before any I/O, a changed rule added before the old one goes, before/after/
commands returned like network resource modules."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("ansible")

from ansible.module_utils import basic

# The collection is imported from this checkout (ansible_collections/ at the top of the repository), whatever ran
# before: without this the import works only after another test has set up Ansible's collection loader.
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from routerfix.simulate import SimulatedDevice, simulate  # noqa: E402 - after the path set-up above

pytestmark = pytest.mark.timeout(120)


class _Exit(Exception):
    def __init__(self, result: dict[str, Any], failed: bool) -> None:
        super().__init__(result)
        self.result, self.failed = result, failed


def _run(monkeypatch: pytest.MonkeyPatch, module: ModuleType, args: dict[str, Any], *,
         check_mode: bool = False) -> tuple[dict[str, Any], bool]:
    """Run ``module.main()`` with ``args``; (result, failed)."""
    def exit_json(self: Any, **kwargs: Any) -> None:
        kwargs.setdefault("changed", False)
        raise _Exit(kwargs, False)

    def fail_json(self: Any, msg: str, **kwargs: Any) -> None:
        raise _Exit({**kwargs, "msg": msg}, True)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    full = {**args, "_ansible_check_mode": check_mode, "_ansible_diff": False}
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:  # ansible-core < 2.19
        monkeypatch.setattr(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": full}).encode())
        try:
            module.main()
        except _Exit as done:
            return done.result, done.failed
    else:
        with patch_module_args(full):
            try:
                module.main()
            except _Exit as done:
                return done.result, done.failed
    raise AssertionError("the module returned without exit_json or fail_json")


@pytest.fixture(scope="module")
def mikrotik() -> Iterator[SimulatedDevice]:
    with simulate("mikrotik") as device:
        yield device


def _conn(device: SimulatedDevice) -> dict[str, Any]:
    return dict(driver=device.driver, host=device.host, port=device.port, username=device.username,
                password=device.password, driver_options=dict(device.options))


def _forwards(device: SimulatedDevice, name: str) -> list[tuple[str, str, str]]:
    import routerfix

    with routerfix.connect(device.driver, device.host, **device.connect_options()) as driver:
        return [(f.protocol.value, str(f.external_ports), str(f.internal_address))
                for f in driver.list_port_forwards() if f.name == name]


def test_protocol_change_the_router_cannot_hold_leaves_the_rule_and_says_why(
        mikrotik: SimulatedDevice, monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible_collections.routerfix.routerfix.plugins.modules import port_forward

    rule = dict(_conn(mikrotik), name="nvr-a", protocol="tcp", external_ports="8443",
                internal_address="192.168.88.20", internal_ports="443")
    made, failed = _run(monkeypatch, port_forward, rule)
    assert not failed and made["changed"] is True, made
    result, failed = _run(monkeypatch, port_forward, dict(rule, protocol="both"))
    assert failed and result["changed"] is False
    assert result["error_type"] == "InvalidValue" and "one rule per protocol" in result["msg"]
    assert _forwards(mikrotik, "nvr-a") == [("tcp", "8443", "192.168.88.20")]   # the rule is still there


def test_protocol_change_adds_first_and_reports_before_after(mikrotik: SimulatedDevice,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible_collections.routerfix.routerfix.plugins.modules import port_forward

    rule = dict(_conn(mikrotik), name="nvr-b", protocol="tcp", external_ports="8444",
                internal_address="192.168.88.21", internal_ports="443")
    assert not _run(monkeypatch, port_forward, rule)[1]
    planned, failed = _run(monkeypatch, port_forward, dict(rule, protocol="udp"), check_mode=True)
    assert not failed and planned["changed"] is True and _forwards(mikrotik, "nvr-b")[0][0] == "tcp"
    done, failed = _run(monkeypatch, port_forward, dict(rule, protocol="udp"))
    assert not failed and done["changed"] is True, done
    assert [c.split()[0] for c in done["commands"]] == ["add", "remove"]          # never remove first
    assert [f["protocol"] for f in done["before"]] == ["tcp"] and [f["protocol"] for f in done["after"]] == ["udp"]
    assert _forwards(mikrotik, "nvr-b") == [("udp", "8444", "192.168.88.21")]
    again, _failed = _run(monkeypatch, port_forward, dict(rule, protocol="udp"))
    assert again["changed"] is False and again["commands"] == []


def test_nat_mode_reports_before_after_and_commands(mikrotik: SimulatedDevice,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible_collections.routerfix.routerfix.plugins.modules import nat_mode

    args = dict(driver="memory", host="ansible-nat-unit", password="admin", mode="secure",
                driver_options=dict(scenario="office"))
    done, failed = _run(monkeypatch, nat_mode, args)
    assert not failed and done["changed"] is True and done["commands"] == ["set NAT filtering open -> secure"]
    assert done["before"] == {"mode": "open"} and done["after"] == {"mode": "secure"}
    again, _failed = _run(monkeypatch, nat_mode, args)
    assert again["changed"] is False and again["commands"] == []


def test_absent_with_no_record_and_no_state_dir_undoes_from_the_routers_marker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """AWX: nothing of the present run is kept on the controller; the router's undo marker (docs/facts/openwrt.md
    rows 38, 39, 43, 44) is enough for an exact undo, SIP ALG and the replaced PBX forward included."""
    import routerfix
    from ansible_collections.routerfix.routerfix.plugins.modules import ghostcall_mitigation
    from routerfix.planner import managed_view

    with simulate("openwrt", scenario="pbx") as device:
        with routerfix.connect(device.driver, device.host, **device.connect_options()) as driver:
            before = managed_view(driver.read_state())
        args = dict(_conn(device), replace_conflicting=True)
        done, failed = _run(monkeypatch, ghostcall_mitigation, dict(args, state="present"))
        assert not failed and done["changed"] is True and done["record_file"] is None, done
        undone, failed = _run(monkeypatch, ghostcall_mitigation, dict(_conn(device), state="absent"))
        assert not failed and undone["changed"] is True and undone["result"]["undo_from"] == "marker", undone
        assert undone["result"]["complete"] is True
        with routerfix.connect(device.driver, device.host, **device.connect_options()) as driver:
            assert managed_view(driver.read_state()) == before
        again, failed = _run(monkeypatch, ghostcall_mitigation, dict(_conn(device), state="absent"))
        assert failed and again["status"] == "nothing_to_undo_from", again   # the marker went with the undo


def test_absent_fails_when_the_routers_marker_cannot_restore_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """A marker the router holds but marked incomplete (started after routerfix's first change): the undo removes
    routerfix's rules, and the task fails saying what was not restored — never an incomplete undo reported ok."""
    import routerfix
    from ansible_collections.routerfix.routerfix.plugins.modules import ghostcall_mitigation

    with simulate("openwrt", scenario="pbx") as device:
        args = dict(_conn(device), replace_conflicting=True)
        done, failed = _run(monkeypatch, ghostcall_mitigation, dict(args, state="present"))
        assert not failed and done["changed"] is True, done
        disk = device.handle.router.disk
        text, mode = disk["/etc/routerfix/undo.json"]
        disk["/etc/routerfix/undo.json"] = (text.replace('"complete":true', '"complete":false'), mode)
        undone, failed = _run(monkeypatch, ghostcall_mitigation, dict(_conn(device), state="absent"))
        assert failed and "incomplete" in undone["msg"], undone
        assert undone["result"]["undo_from"] == "marker" and undone["result"]["complete"] is False
        with routerfix.connect(device.driver, device.host, **device.connect_options()) as driver:
            assert not any(f.name.startswith("routerfix") for f in driver.read_state().forwards)
