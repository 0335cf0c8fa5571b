"""Batched writes: a driver that can send several changes in one request (``Driver.batch_kinds`` and
``Driver.write_batch``) gets neighbouring actions as one group; a fault in the batch is settled by re-reading,
never by sending the batch again blindly. Against the memory driver with ``batch=True``."""

from __future__ import annotations

import json

import pytest
from helpers import connect, router
from routerfix.drivers.memory.driver import MemoryDriver

import routerfix
from routerfix.actions import AddForward, ReserveAddress, SetNatMode, SetSipAlg
from routerfix.engine import _batches
from routerfix.planner import RULE_PREFIX, managed_view


def _calls(driver: routerfix.Driver) -> dict[str, int]:
    assert isinstance(driver, MemoryDriver)
    return dict(driver._calls)


def test_a_batching_device_gets_the_whole_mitigation_in_one_call() -> None:
    r = router()
    with connect(r, batch=True) as d:
        result = routerfix.apply_ghostcall_mitigation(d)
        assert result.status == "mitigated" and result.verified
        calls = _calls(d)
        assert calls.get("write_batch") == 1
        assert not {"add_port_forward", "reserve_address", "set_nat_mode", "set_sip_alg"} & set(calls)
        assert d.writes == len(result.plan.actions) + 1  # every verb still validated and counted (+ the flush)
        again = routerfix.apply_ghostcall_mitigation(d)
        assert again.status == "unchanged" and _calls(d).get("write_batch") == 1


def test_batched_and_unbatched_runs_end_in_the_same_state() -> None:
    plain, batched = router(), router()
    with connect(plain) as d:
        routerfix.apply_ghostcall_mitigation(d)
    with connect(batched, batch=True) as d:
        routerfix.apply_ghostcall_mitigation(d)
    assert json.dumps(plain.to_data()) == json.dumps(batched.to_data())


def test_a_refused_batch_rolls_back_to_exactly_before() -> None:
    r = router()
    before = json.dumps(r.to_data())
    with connect(r, batch=True, fail={"write_batch": "device@1"}) as d:
        with pytest.raises(routerfix.DeviceError) as info:
            routerfix.apply_ghostcall_mitigation(d)
    assert json.dumps(r.to_data()) == before
    assert any("rolled back" in n for n in info.value.__notes__)


def test_a_batch_lost_before_it_landed_is_redone_after_a_read() -> None:
    r = router()
    with connect(r, batch=True, fail={"write_batch": "drop@1"}) as d:
        result = routerfix.apply_ghostcall_mitigation(d)
        assert result.status == "mitigated" and result.verified
        calls = _calls(d)
    # nothing landed: after the re-read every action went again, one by one
    assert calls.get("add_port_forward") == 1 and calls.get("reserve_address") == 1
    assert len([f for f in r.forwards if f.name.startswith(RULE_PREFIX)]) == 1


def test_a_batch_that_landed_before_the_drop_is_not_sent_again() -> None:
    r = router()
    with connect(r, batch=True, fail={"write_batch": "drop-after@1"}) as d:
        result = routerfix.apply_ghostcall_mitigation(d)
        assert result.status == "mitigated" and result.verified
        calls = _calls(d)
    assert calls.get("write_batch") == 1
    assert not {"add_port_forward", "reserve_address", "set_nat_mode", "set_sip_alg"} & set(calls)
    assert len([f for f in r.forwards if f.name.startswith(RULE_PREFIX)]) == 1


def test_an_error_inside_the_block_sends_nothing_held() -> None:
    r = router()
    before = json.dumps(r.to_data())
    with connect(r, batch=True) as d:
        with pytest.raises(routerfix.InvalidValue):
            with d.write_batch():
                d.set_sip_alg(False)
                d.set_nat_mode("sideways")
        assert "write_batch" not in _calls(d)
    assert json.dumps(r.to_data()) == before


def test_undo_of_a_batched_mitigation_restores_the_view() -> None:
    r = router()
    with connect(r, batch=True) as d:
        before = managed_view(d.read_state())
        record = routerfix.apply_ghostcall_mitigation(d).to_dict()
        assert routerfix.remove_ghostcall_mitigation(d, record=record).status == "undone"
        assert managed_view(d.read_state()) == before
        assert _calls(d).get("write_batch") == 2


def test_only_neighbouring_actions_of_batch_kinds_are_grouped() -> None:
    class Some(MemoryDriver):
        batch_kinds = frozenset({"set_nat_mode", "set_sip_alg"})

    driver = Some("x")
    from ipaddress import IPv4Address

    forward = routerfix.PortForward("routerfix-sip", "both", "5060-5061", "192.168.1.110")
    reservation = routerfix.Reservation(IPv4Address("192.168.1.110"), "02:00:5e:c0:50:60", "routerfix-sink")
    nat = SetNatMode(routerfix.NatMode.OPEN, routerfix.NatMode.SECURE)
    alg = SetSipAlg(False, True)
    actions = [AddForward(forward), nat, alg, ReserveAddress(reservation), alg]
    assert [len(g) for g in _batches(driver, actions)] == [1, 2, 1, 1]
    assert [len(g) for g in _batches(MemoryDriver("y"), actions)] == [1, 1, 1, 1, 1]
