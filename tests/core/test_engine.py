"""The mitigation engine against the in-memory driver: sink choice, conflicts, idempotence,
dry run, rollback, undo, remedies, NAT policy hook."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import Lease, Neighbour, PortForward, connect, ip, router
from routerfix.drivers.memory.driver import FULL, MemoryDriver

import routerfix
from routerfix import Capabilities, Feature, NatMode, Protocol, Remedy, Reservation
from routerfix.planner import RULE_PREFIX, SINK_MAC, managed_view
from routerfix.policy import NatDecision


def sink_of(r):  # type: ignore[no-untyped-def]
    ours = [f for f in r.forwards if f.name.startswith(RULE_PREFIX)]
    assert ours
    return {f.internal_address for f in ours}


# --- sink choice ------------------------------------------------------------------------------

def test_sink_is_top_of_pool_when_nothing_is_used() -> None:
    r = router()
    with connect(r) as d:
        result = routerfix.apply_ghostcall_mitigation(d)
    assert result.status == "mitigated" and result.verified
    assert sink_of(r) == {ip("192.168.1.110")}
    assert [f.describe() for f in r.forwards] == ["routerfix-sip: both 5060-5061 -> 192.168.1.110:5060-5061"]


def test_sink_skips_leases_reservations_neighbours_forward_targets_and_probes() -> None:
    r = router(
        leases=[Lease("192.168.1.110", "00:11:22:33:44:01")],
        neighbours=[Neighbour("192.168.1.109", "00:11:22:33:44:02")],
        forwards=[PortForward("web", "tcp", 443, "192.168.1.107")],
        answering={ip("192.168.1.106")},
    )
    r.scope = routerfix.DhcpScope(r.scope.network, r.scope.gateway, r.scope.pools,
                                  (Reservation("192.168.1.108", "00:11:22:33:44:03", "printer"),))
    with connect(r) as d:
        plan = routerfix.plan_ghostcall_mitigation(d)
    assert plan.sink == ip("192.168.1.105")
    assert "skipped 192.168.1.106" in plan.sink_reason


def test_sink_never_gateway_network_or_broadcast() -> None:
    r = router(pool=("192.168.1.0", "192.168.1.1"))
    with connect(r) as d, pytest.raises(routerfix.NoFreeAddress):
        routerfix.plan_ghostcall_mitigation(d)
    r = router(pool=("192.168.1.254", "192.168.1.255"))
    with connect(r) as d:
        assert routerfix.plan_ghostcall_mitigation(d).sink == ip("192.168.1.254")


def test_full_pool_is_a_clear_error_and_changes_nothing() -> None:
    r = router(pool=("192.168.1.100", "192.168.1.101"),
               leases=[Lease("192.168.1.100", "00:11:22:33:44:01"), Lease("192.168.1.101", "00:11:22:33:44:02")])
    before = json.dumps(r.to_data())
    with connect(r) as d:
        with pytest.raises(routerfix.NoFreeAddress, match="no free address in the DHCP pool"):
            routerfix.apply_ghostcall_mitigation(d)
        assert d.writes == 0
    assert json.dumps(r.to_data()) == before


def test_operator_sink_is_checked() -> None:
    r = router(leases=[Lease("192.168.1.105", "00:11:22:33:44:01")])
    with connect(r) as d:
        with pytest.raises(routerfix.InvalidValue, match="sink"):
            routerfix.plan_ghostcall_mitigation(d, sink="192.168.1.105")
        with pytest.raises(routerfix.InvalidValue, match="sink"):
            routerfix.plan_ghostcall_mitigation(d, sink="10.0.0.5")
        assert routerfix.plan_ghostcall_mitigation(d, sink="192.168.1.104").sink == ip("192.168.1.104")


def test_probe_limit_bounds_probing() -> None:
    r = router(answering={ip(f"192.168.1.{n}") for n in range(100, 111)})
    with connect(r) as d, pytest.raises(routerfix.NoFreeAddress):
        routerfix.plan_ghostcall_mitigation(d, max_probes=3)


# --- conflicts --------------------------------------------------------------------------------

def test_pbx_forward_is_a_conflict_naming_the_rule_and_nothing_changes() -> None:
    r = router(forwards=[PortForward("PBX SIP", "udp", 5060, "192.168.1.10")],
               neighbours=[Neighbour("192.168.1.10", "00:0b:82:aa:bb:cc")])
    with connect(r) as d:
        with pytest.raises(routerfix.ForwardConflict) as info:
            routerfix.apply_ghostcall_mitigation(d)
        assert d.writes == 0
    assert info.value.rules == ("PBX SIP",)
    assert "PBX SIP" in str(info.value) and "replace_conflicting" in str(info.value)


def test_replace_conflicting_removes_it_and_undo_puts_it_back() -> None:
    r = router(forwards=[PortForward("old-sip", "udp", 5060, "192.168.1.10")])
    before = managed_view_of(r)
    with connect(r) as d:
        result = routerfix.apply_ghostcall_mitigation(d, replace_conflicting=True)
        assert not any(f.name == "old-sip" for f in r.forwards)
        assert any("replacing the existing forward" in w for w in result.warnings)
        routerfix.remove_ghostcall_mitigation(d, record=result.to_dict())
    assert managed_view_of(r) == before


def test_disabled_foreign_forward_is_not_a_conflict() -> None:
    r = router(forwards=[PortForward("old", "udp", 5060, "192.168.1.10", enabled=False)])
    with connect(r) as d:
        plan = routerfix.plan_ghostcall_mitigation(d)
    assert any("disabled forward" in w for w in plan.warnings)


def managed_view_of(r) -> list[str]:  # type: ignore[no-untyped-def]
    with connect(r) as d:
        return managed_view(d.read_state())


# --- idempotence, dry run ------------------------------------------------------------------------

def test_second_run_sends_no_write_and_says_unchanged() -> None:
    r = router()
    with connect(r) as d:
        first = routerfix.apply_ghostcall_mitigation(d)
        writes = d.writes
        second = routerfix.apply_ghostcall_mitigation(d)
    assert first.changed and not second.changed
    assert second.status == "unchanged" and d.writes == writes and second.diff == ""


def test_dry_run_writes_nothing_and_shows_the_diff() -> None:
    r = router()
    before = json.dumps(r.to_data())
    with connect(r) as d:
        result = routerfix.apply_ghostcall_mitigation(d, dry_run=True)
        assert d.writes == 0
    assert result.status == "planned" and not result.changed
    assert "+forward routerfix-sip: both 5060-5061 -> 192.168.1.110:5060-5061" in result.diff
    assert "-nat filtering: open" in result.diff and "+nat filtering: secure" in result.diff
    assert json.dumps(r.to_data()) == before


@pytest.mark.parametrize(("both", "ranges", "expected"), [
    (True, True, ["routerfix-sip: both 5060-5061"]),
    (False, True, ["routerfix-sip-tcp: tcp 5060-5061", "routerfix-sip-udp: udp 5060-5061"]),
    (True, False, ["routerfix-sip-5060: both 5060", "routerfix-sip-5061: both 5061"]),
    (False, False, ["routerfix-sip-tcp-5060: tcp 5060", "routerfix-sip-tcp-5061: tcp 5061",
                    "routerfix-sip-udp-5060: udp 5060", "routerfix-sip-udp-5061: udp 5061"]),
])
def test_fewest_rules_the_device_allows(both: bool, ranges: bool, expected: list[str]) -> None:
    r = router()
    caps = FULL.replace(forward_both=both, forward_ranges=ranges)
    with connect(r, capabilities=caps) as d:
        routerfix.apply_ghostcall_mitigation(d)
    got = sorted(f.describe().split(" -> ")[0] for f in r.forwards)
    assert got == sorted(expected)
    covered = {(p, port) for f in r.forwards for p in f.protocol.members() for port in f.external_ports}
    assert covered == {(p, port) for p in (Protocol.TCP, Protocol.UDP) for port in (5060, 5061)}


def test_forward_list_limit_is_checked_before_writing() -> None:
    r = router(forwards=[PortForward(f"r{i}", "tcp", 1000 + i, "192.168.1.50") for i in range(4)])
    with connect(r, capabilities=FULL.replace(max_forwards=4)) as d:
        with pytest.raises(routerfix.MitigationError, match="at most 4 port forwards"):
            routerfix.apply_ghostcall_mitigation(d)
        assert d.writes == 0


def test_moved_sink_is_replaced_when_the_old_one_got_leased() -> None:
    r = router()
    with connect(r) as d:
        routerfix.apply_ghostcall_mitigation(d, reserve_sink=False)
    r.leases.append(Lease("192.168.1.110", "00:11:22:33:44:55"))
    with connect(r) as d:
        result = routerfix.apply_ghostcall_mitigation(d, reserve_sink=False)
    assert sink_of(r) == {ip("192.168.1.109")}
    assert any("moving it" in w for w in result.warnings)


# --- rollback and resume ---------------------------------------------------------------------------

@pytest.mark.parametrize("verb", ["add_port_forward", "reserve_address", "set_nat_mode", "set_sip_alg"])
def test_device_error_mid_apply_rolls_back_to_exactly_before(verb: str) -> None:
    r = router()
    before = json.dumps(r.to_data())
    with connect(r, fail={verb: "device"}) as d:
        with pytest.raises(routerfix.DeviceError) as info:
            routerfix.apply_ghostcall_mitigation(d)
    assert json.dumps(r.to_data()) == before
    assert any("rolled back" in n for n in info.value.__notes__)


@pytest.mark.parametrize("verb", ["add_port_forward", "reserve_address", "set_nat_mode", "set_sip_alg"])
@pytest.mark.parametrize("fault", ["drop", "drop-after"])
def test_connection_drop_mid_apply_resumes_to_fully_mitigated(verb: str, fault: str) -> None:
    r = router()
    with connect(r, fail={verb: f"{fault}@1"}) as d:
        result = routerfix.apply_ghostcall_mitigation(d)
        assert result.status == "mitigated" and result.verified
        # no duplicate: the step that landed before the drop was not sent again
        assert len([f for f in r.forwards if f.name.startswith(RULE_PREFIX)]) == 1
        assert routerfix.apply_ghostcall_mitigation(d).changed is False


def test_rollback_failure_falls_back_to_the_backup() -> None:
    r = router()
    before = json.dumps(r.to_data())
    # set_sip_alg fails (the last step); undoing the NAT mode fails too -> the backup restores
    with connect(r, fail={"set_sip_alg": "device", "set_nat_mode": "device@2"}) as d:
        with pytest.raises(routerfix.DeviceError) as info:
            routerfix.apply_ghostcall_mitigation(d)
    assert json.dumps(r.to_data()) == before
    assert any("from the backup" in n for n in info.value.__notes__)


def test_rollback_impossible_raises_rollback_failed_with_report() -> None:
    r = router()
    with connect(r, fail={"set_sip_alg": "device", "set_nat_mode": "device@2"}) as d:
        with pytest.raises(routerfix.RollbackFailed) as info:
            routerfix.apply_ghostcall_mitigation(d, backup=False)
    assert info.value.report and "set NAT filtering" in " ".join(info.value.report)


def test_verification_failure_rolls_back() -> None:
    class Forgetful(MemoryDriver):
        name = "memory"

        def _add_port_forward(self, forward: routerfix.PortForward) -> None:  # accepted, silently not stored
            self._step("add_port_forward")

    r = router()
    before = json.dumps(r.to_data())
    d = Forgetful("forgetful", password="admin", router=r)
    d.open()
    with pytest.raises(routerfix.VerificationFailed, match="missing forward routerfix-sip"):
        routerfix.apply_ghostcall_mitigation(d)
    assert json.dumps(r.to_data()) == before


def test_flush_failure_is_a_warning_not_a_rollback() -> None:
    r = router()
    with connect(r, fail={"flush_connections": "device"}) as d:
        result = routerfix.apply_ghostcall_mitigation(d)
    assert result.status == "mitigated" and result.flushed is None
    assert any("clearing connection tracking failed" in w for w in result.warnings)


def test_flush_runs_after_new_rules_and_not_on_rerun() -> None:
    r = router(conntrack=5)
    with connect(r) as d:
        assert routerfix.apply_ghostcall_mitigation(d).flushed == 5
        assert routerfix.apply_ghostcall_mitigation(d).flushed is None


def test_no_flush_capability_warns() -> None:
    caps = FULL.replace(features=FULL.features - {Feature.FLUSH_CONNECTIONS})
    with connect(router(), capabilities=caps) as d:
        result = routerfix.apply_ghostcall_mitigation(d)
    assert any("cannot clear connection tracking" in w for w in result.warnings)


def test_no_reservation_capability_reports_the_risk() -> None:
    caps = FULL.replace(features=FULL.features - {Feature.DHCP_RESERVATION})
    with connect(router(), capabilities=caps) as d:
        result = routerfix.apply_ghostcall_mitigation(d)
    assert any("could later be leased" in w for w in result.warnings)


# --- undo ------------------------------------------------------------------------------------------

def test_undo_restores_everything_and_a_second_undo_does_nothing() -> None:
    r = router()
    before = managed_view_of(r)
    with connect(r) as d:
        result = routerfix.apply_ghostcall_mitigation(d)
        undone = routerfix.remove_ghostcall_mitigation(d, record=result.to_dict())
        assert undone.status == "undone" and undone.verified
        again = routerfix.remove_ghostcall_mitigation(d, record=result.to_dict())
        assert again.status == "nothing_to_undo" and not again.changed
    assert managed_view_of(r) == before


def test_undo_without_record_removes_ours_and_leaves_nat_alone() -> None:
    r = router()
    with connect(r) as d:
        routerfix.apply_ghostcall_mitigation(d)
        undone = routerfix.remove_ghostcall_mitigation(d)
    assert not r.forwards and not r.scope.reservations and r.nat_mode is NatMode.SECURE
    assert any("no saved result" in w for w in undone.warnings)


def test_undo_leaves_nat_alone_if_someone_changed_it_since() -> None:
    r = router()
    with connect(r) as d:
        result = routerfix.apply_ghostcall_mitigation(d)
    assert r.nat_mode is NatMode.SECURE
    r.nat_mode = NatMode.OPEN  # someone set it back by hand after the run
    with connect(r) as d:
        undone = routerfix.remove_ghostcall_mitigation(d, record=result.to_dict())
    assert not any("NAT filtering" in a for a in undone.applied)
    assert any("not what routerfix set" in w for w in undone.warnings)
    assert not r.forwards


def test_undo_record_for_another_device_is_refused() -> None:
    r = router()
    with connect(r) as d:
        result = routerfix.apply_ghostcall_mitigation(d)
    other = routerfix.connect("memory", "another-site", password="admin", router=r)
    with other, pytest.raises(routerfix.StateFileError, match="is for memory:"):
        routerfix.remove_ghostcall_mitigation(other, record=result.to_dict())


def test_undo_from_a_new_process(tmp_path: Path) -> None:
    state = tmp_path / "router.json"
    record = tmp_path / "result.json"
    script = (
        "import routerfix, sys\n"
        "with routerfix.connect('memory', 'site-1', password='admin', state_file=sys.argv[1]) as d:\n"
        "    if sys.argv[2] == 'apply':\n"
        "        routerfix.apply_ghostcall_mitigation(d).save(sys.argv[3])\n"
        "    else:\n"
        "        print(routerfix.remove_ghostcall_mitigation(d, record=sys.argv[3]).status)\n"
    )
    run = [sys.executable, "-c", script, str(state)]
    subprocess.run([*run, "apply", str(record)], check=True)
    saved = json.loads(state.read_text())
    assert saved["nat_mode"] == "secure" and saved["forwards"]
    out = subprocess.run([*run, "undo", str(record)], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "undone"
    restored = json.loads(state.read_text())
    assert restored["nat_mode"] == "open" and restored["sip_alg"] is True and restored["forwards"] == []
    assert restored["scope"]["reservations"] == []


def test_saved_result_is_private_and_has_no_backup_text(tmp_path: Path) -> None:
    r = router()
    with connect(r) as d:
        result = routerfix.apply_ghostcall_mitigation(d, state_dir=tmp_path)
    path = result.save(tmp_path / "r.json")
    assert path.stat().st_mode & 0o777 == 0o600
    assert result.backup_file and Path(result.backup_file).stat().st_mode & 0o777 == 0o600
    assert '"text"' not in path.read_text()


def test_bad_record_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{\"hello\": 1}")
    with connect(router()) as d, pytest.raises(routerfix.StateFileError, match="not a routerfix result"):
        routerfix.remove_ghostcall_mitigation(d, record=bad)


# --- remedies --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("caps", "remedy"), [
    (Capabilities(features=frozenset({Feature.DHCP_SCOPE, Feature.LEASES})), Remedy.REPLACE_ROUTER),
    (FULL.replace(features=FULL.features - {Feature.FORWARD_TO_UNUSED}), Remedy.BRIDGE_MODE),
    (FULL.replace(remedy=Remedy.UNSUPPORTED_FIRMWARE, notes=("encrypted login",)), Remedy.UNSUPPORTED_FIRMWARE),
])
def test_remedies_are_verdicts_and_nothing_is_written(caps: Capabilities, remedy: Remedy) -> None:
    r = router()
    with connect(r, capabilities=caps) as d:
        result = routerfix.apply_ghostcall_mitigation(d)
        assert d.writes == 0
    assert result.status == "verdict" and [v.remedy for v in result.plan.verdicts] == [remedy]


def test_still_ringing_after_mitigation_means_failing_nat() -> None:
    r = router()
    with connect(r) as d:
        routerfix.apply_ghostcall_mitigation(d)
        result = routerfix.apply_ghostcall_mitigation(d, still_ringing=True)
    assert [v.remedy for v in result.plan.verdicts] == [Remedy.NAT_FAILING]
    assert "replace" in result.plan.verdicts[0].reason


# --- NAT policy hook ---------------------------------------------------------------------------------

class OpenUnlessOnePhone(MemoryDriver):
    """A policy shaped like a vendor's that needs open NAT (drivers supply their own)."""

    name = "memory"

    def nat_policy(self, state: routerfix.DeviceState, phones: tuple[routerfix.Phone, ...]) -> NatDecision:
        if len(phones) == 1 and state.nat_mode is NatMode.SECURE:
            return NatDecision(None, "one phone: secure may stay")
        return NatDecision(NatMode.OPEN, f"{len(phones)} phones need open NAT")


@pytest.mark.parametrize(("phones", "start", "end"), [
    (0, NatMode.SECURE, NatMode.OPEN), (1, NatMode.SECURE, NatMode.SECURE), (2, NatMode.SECURE, NatMode.OPEN),
])
def test_driver_policy_hook_decides_nat(phones: int, start: NatMode, end: NatMode) -> None:
    macs = ["00:04:f2:00:00:01", "80:5e:c0:00:00:02"][:phones]
    r = router(nat_mode=start, leases=[Lease(f"192.168.1.{100 + i}", m, "") for i, m in enumerate(macs)])
    d = OpenUnlessOnePhone("policy", password="admin", router=r)
    d.open()
    result = routerfix.apply_ghostcall_mitigation(d)
    assert len(result.plan.phones) == phones
    assert r.nat_mode is end


def test_keep_nat_option_leaves_nat_alone() -> None:
    r = router()
    with connect(r) as d:
        routerfix.apply_ghostcall_mitigation(d, manage_nat=False, sip_alg_off=False)
    assert r.nat_mode is NatMode.OPEN and r.sip_alg is True


def test_sink_reservation_uses_the_dummy_mac() -> None:
    r = router()
    with connect(r) as d:
        result = routerfix.apply_ghostcall_mitigation(d)
    assert [(x.address, x.mac, x.name) for x in r.scope.reservations] == \
        [(result.plan.sink, SINK_MAC, "routerfix-sink")]
    assert int(SINK_MAC.split(":")[0], 16) & 0x02, "the sink MAC must be locally administered"


def test_unknown_option_is_named() -> None:
    with connect(router()) as d, pytest.raises(routerfix.InvalidValue, match="option: 'sinc'"):
        routerfix.apply_ghostcall_mitigation(d, sinc="192.168.1.5")


def test_result_json_round_trips() -> None:
    with connect(router()) as d:
        result = routerfix.apply_ghostcall_mitigation(d)
    data = json.loads(result.to_json())
    assert data["status"] == "mitigated" and data["sink"] == "192.168.1.110"
    assert data["nat"]["target"] == "secure" and data["undo"]
    assert ipaddress.IPv4Address(data["sink"]) == result.plan.sink


def test_a_dropped_read_reconnects_and_retries_with_the_configured_back_off() -> None:
    r = router()
    with connect(r, fail={"get_nat_mode": "drop@1"}, timeouts=routerfix.Timeouts(retry_wait=0)) as d:
        result = routerfix.apply_ghostcall_mitigation(d)
    assert result.status == "mitigated"


@pytest.mark.parametrize("wait", [-1, 61, True, "0.5"])
def test_retry_wait_is_validated(wait: object) -> None:
    with pytest.raises(routerfix.InvalidValue, match="timeouts.retry_wait"):
        routerfix.Timeouts(retry_wait=wait)  # type: ignore[arg-type]


def test_a_disabled_routerfix_rule_is_not_a_mitigation_in_place() -> None:
    r = router()
    with connect(r) as d:
        first = routerfix.apply_ghostcall_mitigation(d)
    sink = first.plan.sink
    r.forwards = [PortForward("routerfix-sip", "both", "5060-5061", str(sink), enabled=False)]
    with connect(r) as d:
        again = routerfix.apply_ghostcall_mitigation(d)
    assert again.status == "mitigated"
    assert [f.describe() for f in r.forwards] == [f"routerfix-sip: both 5060-5061 -> {sink}:5060-5061"]


def test_a_removal_is_done_only_when_no_rule_of_that_identity_is_left() -> None:
    from routerfix.actions import RemoveForward

    rule = PortForward("routerfix-sip", "udp", 5060, "192.168.1.9")
    with connect(router()) as d:
        state = d.read_state()
    half = dataclasses.replace(state, forwards=(dataclasses.replace(rule, enabled=False),))
    assert not RemoveForward(rule).done_in(half)
    assert RemoveForward(rule).done_in(dataclasses.replace(state, forwards=()))
