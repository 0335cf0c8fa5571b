from __future__ import annotations

import json

from ansible_collections.routerfix.routerfix.plugins.module_utils import routerfix_common
from ansible_collections.routerfix.routerfix.plugins.modules import ghostcall_mitigation


def test_check_mode_plans_and_writes_nothing(run_module, router, tmp_path):
    result, failed = run_module(ghostcall_mitigation, router, check_mode=True, diff=True)
    assert not failed and result["changed"] is True and result["status"] == "planned"
    assert "forward routerfix-sip" in result["diff"]["after"] and "forward" not in result["diff"]["before"]
    assert not (tmp_path / "router.json").exists()


def test_apply_then_idempotent_then_absent(run_module, router, tmp_path):
    args = dict(router, state_dir=str(tmp_path / "state"))
    result, failed = run_module(ghostcall_mitigation, args)
    assert not failed and result["changed"] is True and result["status"] == "mitigated"
    assert result["sink"] == "192.168.1.198" and result["record_file"].endswith("-mitigate.json")
    assert result["record"]["before"]["nat_mode"] == "open"
    saved = json.loads((tmp_path / "router.json").read_text())
    assert saved["nat_mode"] == "secure" and saved["forwards"][0]["name"] == "routerfix-sip"
    again, failed = run_module(ghostcall_mitigation, args)
    assert not failed and again["changed"] is False and again["status"] == "unchanged"
    gone, failed = run_module(ghostcall_mitigation, dict(args, state="absent"), diff=True)
    assert not failed and gone["changed"] is True and gone["status"] == "undone"
    assert gone["record_file"] == result["record_file"]
    assert json.loads((tmp_path / "router.json").read_text())["nat_mode"] == "open"
    twice, failed = run_module(ghostcall_mitigation, dict(args, state="absent"))
    assert not failed and twice["changed"] is False  # already undone: idempotent, not a failure


def test_undo_from_the_returned_record_alone(run_module, router, tmp_path):
    """AWX keeps no files between jobs: the record the mitigate task returned is all the undo needs."""
    result, failed = run_module(ghostcall_mitigation, router)
    assert not failed and result["status"] == "mitigated"
    record = json.loads(json.dumps(result["record"]))  # as Ansible carries it between tasks
    assert router["password"] not in json.dumps(record) and "admin" not in json.dumps(record.get("device", {}))
    assert json.loads((tmp_path / "router.json").read_text())["nat_mode"] == "secure"
    gone, failed = run_module(ghostcall_mitigation, dict(router, state="absent", record=record))
    assert not failed and gone["changed"] is True and gone["status"] == "undone"
    saved = json.loads((tmp_path / "router.json").read_text())
    assert saved["nat_mode"] == "open" and not saved["forwards"]
    again, failed = run_module(ghostcall_mitigation, dict(router, state="absent", record=record))
    assert not failed and again["changed"] is False


def test_undo_with_nothing_to_undo_from_fails(run_module, router, tmp_path):
    result, failed = run_module(ghostcall_mitigation, router)
    assert not failed and result["changed"] is True
    for extra in ({}, {"state_dir": str(tmp_path / "empty")}):
        gone, failed = run_module(ghostcall_mitigation, dict(router, state="absent", **extra))
        assert failed and gone["changed"] is False and gone["status"] == "nothing_to_undo_from"
        assert "result.record" in gone["msg"]
    saved = json.loads((tmp_path / "router.json").read_text())
    assert saved["nat_mode"] == "secure" and saved["forwards"]  # nothing was half undone


def test_record_of_another_router_is_refused(run_module, router, tmp_path):
    result, failed = run_module(ghostcall_mitigation, router)
    assert not failed
    other = dict(result["record"], host="elsewhere")
    gone, failed = run_module(ghostcall_mitigation, dict(router, state="absent", record=other))
    assert failed and gone["error_type"] == "StateFileError"


def test_conflict_fails_with_the_error_class(run_module, router):
    args = dict(router, driver_options=dict(router["driver_options"], scenario="pbx"))
    result, failed = run_module(ghostcall_mitigation, args)
    assert failed and result["error_type"] == "ForwardConflict" and result["changed"] is False
    assert "replace_conflicting" in result["msg"]


def test_wrong_password_fails_without_the_password(run_module, router):
    result, failed = run_module(ghostcall_mitigation, dict(router, password="Not-The-Pw-123"))  # noqa: S106
    assert failed and result["error_type"] == "AuthenticationError"
    assert "Not-The-Pw-123" not in json.dumps(result)


def test_every_secret_option_is_no_log():
    spec = routerfix_common.routerfix_argument_spec()
    assert spec["password"]["no_log"] is True and spec["driver_secrets"]["no_log"] is True
    assert [k for k, v in spec.items() if v.get("no_log")] == ["password", "password_file", "driver_secrets"]


def test_mitigation_options_come_from_routerfix_table():
    from routerfix.options import MITIGATION_OPTIONS

    spec = ghostcall_mitigation.MITIGATION_ARGUMENT_SPEC
    assert list(spec) == [o.name for o in MITIGATION_OPTIONS]
    for option in MITIGATION_OPTIONS:
        expected = dict(type=str(option.kind))
        if option.default is not None:
            expected["default"] = option.default
        assert spec[option.name] == expected, option.name


def test_password_from_a_file(run_module, router, tmp_path, monkeypatch):
    monkeypatch.delenv("ROUTERFIX_PASSWORD", raising=False)
    secret = tmp_path / "pw"
    secret.write_text("admin\n")
    secret.chmod(0o600)
    args = dict(router, password_file=str(secret))
    del args["password"]
    result, failed = run_module(ghostcall_mitigation, args, check_mode=True)
    assert not failed and result["status"] == "planned"
    wrong, failed = run_module(ghostcall_mitigation, dict(args, password_file=str(tmp_path / "none")))
    assert failed and "password_file" in wrong["msg"]


def test_missing_library_is_reported(run_module, router, monkeypatch):
    monkeypatch.setattr(routerfix_common, "HAS_ROUTERFIX", False)
    monkeypatch.setattr(routerfix_common, "ROUTERFIX_IMPORT_ERROR", "Traceback: no module named routerfix")
    result, failed = run_module(ghostcall_mitigation, router)
    assert failed and "routerfix" in result["msg"] and "Failed to import" in result["msg"]
