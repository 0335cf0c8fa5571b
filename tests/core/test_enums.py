"""The core's StrEnums (result status, plan and fleet operation, action kind) and keyword-only results: each enum
equals its old string and serialises as it; results cannot be built positionally."""

from __future__ import annotations

import json

import pytest

import routerfix
from routerfix.actions import ACTION_KINDS, AddForward, SetSipAlg, action_from_data, action_to_data
from routerfix.enums import ActionKind, FleetOperation, Operation, ResultStatus
from routerfix.fleet import FleetReport, HostResult
from routerfix.planner import Plan
from routerfix.result import STATUSES, MitigationResult


@pytest.fixture(scope="module")
def dry_run() -> MitigationResult:
    with routerfix.connect("memory", "enums-kit") as router:
        return routerfix.apply_ghostcall_mitigation(router, dry_run=True)


def test_the_enums_are_exported_from_routerfix() -> None:
    for enum_cls in (ActionKind, FleetOperation, Operation, ResultStatus):
        assert getattr(routerfix, enum_cls.__name__) is enum_cls
        assert enum_cls.__name__ in routerfix.__all__


def test_members_equal_their_strings_and_serialise_as_them() -> None:
    assert ResultStatus.PLANNED == "planned" and ActionKind.ADD_FORWARD == "add_forward"
    assert json.dumps({ResultStatus.MITIGATED: [Operation.UNDO, FleetOperation.PLAN]}) == \
        '{"mitigated": ["undo", "plan"]}'
    assert f"{ResultStatus.NOTHING_TO_UNDO}" == "nothing_to_undo" and str(ActionKind.SET_SIP_ALG) == "set_sip_alg"
    assert set(STATUSES) == set(ResultStatus) - {ResultStatus.FAILED, ResultStatus.CANCELLED}
    assert ACTION_KINDS == frozenset(ActionKind)


def test_a_result_carries_enums_and_its_dict_plain_strings(dry_run: MitigationResult) -> None:
    assert dry_run.status is ResultStatus.PLANNED and dry_run.plan.operation is Operation.MITIGATE
    data = dry_run.to_dict()
    assert type(data["status"]) is str and type(data["operation"]) is str  # YAML dumpers and Ansible see str
    assert [a["kind"] for a in data["planned"]] == [a.kind.value for a in dry_run.plan.actions]
    assert all(type(a["kind"]) is str for a in data["planned"])


def test_results_plans_and_reports_take_keywords_only(dry_run: MitigationResult) -> None:
    with pytest.raises(TypeError):
        MitigationResult("planned", False, True, dry_run.plan)  # type: ignore[misc]
    with pytest.raises(TypeError):
        Plan("mitigate", "h", "memory", dry_run.plan.before, ())  # type: ignore[misc]
    with pytest.raises(TypeError):
        HostResult("a", "a", "memory", "plan", "failed", False)  # type: ignore[misc]
    with pytest.raises(TypeError):
        FleetReport("plan", ())  # type: ignore[misc]
    again = MitigationResult(status="planned", changed=False, dry_run=True, plan=dry_run.plan)
    assert again.status is ResultStatus.PLANNED and again.to_dict()["status_text"] == STATUSES[ResultStatus.PLANNED]


def test_a_saved_fleet_row_comes_back_with_enums() -> None:
    row = HostResult(name="a", hostname="a", driver="memory", operation="plan", status="failed", ok=False)
    back = HostResult.from_dict(json.loads(json.dumps(row.to_dict())))
    assert back == row and back.status is ResultStatus.FAILED and back.operation is FleetOperation.PLAN


def test_an_action_kind_is_fixed_by_its_class() -> None:
    action = SetSipAlg(False, True)
    assert action.kind is ActionKind.SET_SIP_ALG
    with pytest.raises(TypeError):
        AddForward(routerfix.PortForward("x", "tcp", 5060, "192.0.2.9"), kind="remove_forward")  # type: ignore[call-arg]
    assert action_from_data(action_to_data(action)) == action
