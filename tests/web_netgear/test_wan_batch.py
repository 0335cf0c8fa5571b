"""NAT filtering and SIP ALG in ONE WAN POST (``NetgearDriver.write_batch``), both families.

Both settings are fields of the WAN setup form (ACOS ``security.cgi``: radio ``NatInboundFiltering`` and checkbox
``disable_sip``; net-cgi ``apply.cgi`` ``submit_flag=wan``: ``NatInboundFiltering`` and hidden ``sipalg_value``),
whose handler reads both from one POST (docs/facts/netgear.md rows 17-19, 35-38). The engine groups the
neighbouring ``SetNatMode`` and ``SetSipAlg`` actions; the driver holds both and posts once, read back once. Faults
on that POST end fully mitigated or exactly as before, and a POST is never sent again blindly.
"""

from __future__ import annotations

from typing import Any

import pytest
from routerfix.simulators._hosts.http import RecordedRequest

import routerfix
from routerfix.actions import SetNatMode, SetSipAlg
from routerfix.engine import _batches, plan_ghostcall_removal
from routerfix.model import NatMode
from routerfix.simulate import SimulatedDevice

from .conftest import connect

MITIGATED = ([("routerfix-sip", "TCP/UDP", 5060, 5061, "192.168.1.254")], False, False)
UNTOUCHED = ([], True, True)
"""(rules, NAT Secured, SIP ALG on) of the default simulator (2 phones, Secured, SIP ALG on) after and before."""

WAN_POST = {"R7000": "POST /security.cgi", "R7800": "POST /apply.cgi?/WAN_wan.htm"}
"""A fault match for the WAN setup POST of each family (and nothing else)."""


def _end(device: SimulatedDevice) -> tuple[list[tuple[str, str, int, int, str]], bool, bool]:
    device.handle.settle()
    cfg = device.handle.config
    assert cfg.spi is True  # the hidden-field trap: SPI survives every WAN post
    return [(r.name, r.proto, r.ext_start, r.ext_end, r.ip) for r in cfg.rules], cfg.nat_secured, cfg.sip_alg


def _wan_posts(device: SimulatedDevice) -> list[RecordedRequest]:
    return [r for r in device.handle.server.recorded("POST")
            if r.path == "/security.cgi" or (r.path == "/apply.cgi" and r.form.get("submit_flag") == "wan")]


def _write_posts(device: SimulatedDevice) -> list[RecordedRequest]:
    """Every POST that changes something (the ACOS edit form POST only reads a rule's protocol)."""
    return [r for r in device.handle.server.recorded("POST") if r.form.get("action") != "edit"]


def _fields(post: RecordedRequest) -> tuple[str | None, bool]:
    """(NatInboundFiltering, SIP ALG on) as the WAN POST carries them, for either family."""
    if post.path == "/security.cgi":
        return post.form.get("NatInboundFiltering"), "disable_sip" not in post.form
    return post.form.get("NatInboundFiltering"), post.form.get("sipalg_value") != "1"


def test_one_wan_post_carries_nat_filtering_and_sip_alg(dev: SimulatedDevice) -> None:
    with connect(dev) as router:
        result = routerfix.apply_ghostcall_mitigation(router)
        assert result.status == "mitigated" and result.verified
        kinds = [a.kind for a in result.plan.actions]
        assert kinds == ["add_forward", "set_nat_mode", "set_sip_alg"]
        assert router.writes == 3  # both verbs still validated and counted
    posts = _wan_posts(dev)
    assert len(posts) == 1 and _fields(posts[0]) == ("Open", False)
    wan_gets = dev.handle.server.recorded("GET", contains="/WAN_wan.htm")
    assert len(wan_gets) == 3  # read_state, the form to post, ONE read-back (reused by the verification)
    assert _end(dev) == MITIGATED


def test_rerun_sends_no_write(dev: SimulatedDevice) -> None:
    with connect(dev) as router:
        routerfix.apply_ghostcall_mitigation(router)
    dev.handle.server.clear_requests()
    with connect(dev) as router:
        again = routerfix.apply_ghostcall_mitigation(router)
        assert again.status == "unchanged" and router.writes == 0
    assert _write_posts(dev) == []
    assert _end(dev) == MITIGATED


def test_undo_merges_and_restores(dev: SimulatedDevice) -> None:
    with connect(dev) as router:
        record = routerfix.apply_ghostcall_mitigation(router).to_dict()
    dev.handle.server.clear_requests()
    with connect(dev) as router:
        plan = plan_ghostcall_removal(router, record=record)
        assert [a.kind for a in plan.actions] == ["set_sip_alg", "set_nat_mode", "remove_forward"]
        undone = routerfix.remove_ghostcall_mitigation(router, record=record)
        assert undone.status == "undone" and undone.verified
    posts = _wan_posts(dev)
    assert len(posts) == 1 and _fields(posts[0]) == ("Secured", True)
    assert _end(dev) == UNTOUCHED
    with connect(dev) as router:
        assert routerfix.remove_ghostcall_mitigation(router, record=record).status == "nothing_to_undo"


@pytest.mark.parametrize(("phones", "nat", "sip_alg", "kinds", "posted"), [
    (0, "secured", True, ["set_nat_mode", "set_sip_alg"], ("Open", False)),
    (1, "secured", True, ["set_sip_alg"], ("Secured", False)),  # Secured stays: only SIP ALG, a batch of one
    (1, "open", True, ["set_sip_alg"], ("Open", False)),
    (2, "secured", True, ["set_nat_mode", "set_sip_alg"], ("Open", False)),
    (3, "open", True, ["set_sip_alg"], ("Open", False)),
    (2, "secured", False, ["set_nat_mode"], ("Open", False)),  # SIP ALG already off: it stays off in the POST
    (1, "secured", False, [], None),  # nothing on the WAN page to change: no WAN POST at all
])
def test_policy_seeds_post_the_wan_form_at_most_once(netgear: Any, model: str, phones: int, nat: str,
                                                      sip_alg: bool, kinds: list[str],
                                                      posted: tuple[str, bool] | None) -> None:
    with netgear(model, phones=phones, nat=nat, sip_alg=sip_alg) as device:
        with connect(device) as router:
            result = routerfix.apply_ghostcall_mitigation(router)
            assert result.status == "mitigated" and result.verified
            assert [a.kind for a in result.plan.actions if a.kind != "add_forward"] == kinds
        posts = _wan_posts(device)
        assert [_fields(p) for p in posts] == ([] if posted is None else [posted])
        rules, secured, sip_on = _end(device)
        assert [r[0] for r in rules] == ["routerfix-sip"]
        assert secured is (nat == "secured" and "set_nat_mode" not in kinds)
        assert sip_on is False


def test_direct_batch_holds_until_the_block_ends(dev: SimulatedDevice) -> None:
    with connect(dev) as router:
        dev.handle.server.clear_requests()
        with router.write_batch():
            router.set_nat_mode("open")
            with router.write_batch():  # nested: the outer block sends
                router.set_sip_alg(False)
            assert dev.handle.server.recorded("POST") == []
        assert router.get_nat_mode() is NatMode.OPEN and router.get_sip_alg() is False
    posts = _wan_posts(dev)
    assert len(posts) == 1 and _fields(posts[0]) == ("Open", False)


def test_an_error_inside_the_block_posts_nothing(dev: SimulatedDevice) -> None:
    with connect(dev) as router:
        dev.handle.server.clear_requests()
        with pytest.raises(routerfix.InvalidValue):
            with router.write_batch():
                router.set_sip_alg(False)
                router.set_nat_mode("sideways")
        with pytest.raises(RuntimeError):
            with router.write_batch():
                router.set_nat_mode("open")
                router.set_sip_alg(False)
                raise RuntimeError("caller gave up")
        # outside a block the one-by-one path is unchanged
        router.set_sip_alg(False)
        assert router.get_sip_alg() is False and router.get_nat_mode() is NatMode.SECURE
    posts = _wan_posts(dev)
    assert [_fields(p) for p in posts] == [("Secured", False)]


@pytest.mark.parametrize(("kind", "sent"), [
    ("drop", 2),  # lost before it landed: re-read, not done, sent once more
    ("drop-after", 1),  # landed, answer lost: re-read shows both, never sent again
    ("status", 2),  # HTTP 500, nothing applied: re-read, sent once more
])
def test_fault_on_the_merged_post(netgear: Any, model: str, kind: str, sent: int) -> None:
    with netgear(model) as device:
        device.handle.server.add_fault(kind, WAN_POST[model], status=500)
        with connect(device) as router:
            result = routerfix.apply_ghostcall_mitigation(router)
            assert result.status == "mitigated" and result.verified
        posts = _wan_posts(device)
        assert len(posts) == sent and all(_fields(p) == ("Open", False) for p in posts)
        assert _end(device) == MITIGATED


@pytest.mark.parametrize("kind", ["drop", "drop-after", "status"])
def test_fault_on_the_merged_undo_post(netgear: Any, model: str, kind: str) -> None:
    with netgear(model) as device:
        with connect(device) as router:
            record = routerfix.apply_ghostcall_mitigation(router).to_dict()
        device.handle.server.clear_requests()
        device.handle.server.add_fault(kind, WAN_POST[model], status=500)
        with connect(device) as router:
            assert routerfix.remove_ghostcall_mitigation(router, record=record).status == "undone"
        assert all(_fields(p) == ("Secured", True) for p in _wan_posts(device))
        assert _end(device) == UNTOUCHED


def test_token_expired_at_the_merged_post(netgear: Any, model: str) -> None:
    with netgear(model) as reference:
        with connect(reference) as router:
            routerfix.apply_ghostcall_mitigation(router)
        at = next(i for i, r in enumerate(reference.handle.server.recorded()) if r in _wan_posts(reference))
    # tokens/timestamps die as the WAN POST arrives: ACOS answers "timestamp is expired", net-cgi answers with
    # its wait page as if it had worked; either way the read-back shows nothing changed and the form is
    # fetched anew and posted once more
    with netgear(model, expire_token_after=at) as device:
        with connect(device) as router:
            result = routerfix.apply_ghostcall_mitigation(router)
            assert result.status == "mitigated" and result.verified
        posts = _wan_posts(device)
        assert len(posts) == 2 and posts[0].query != posts[1].query  # the second with a fresh token
        assert _end(device) == MITIGATED


@pytest.mark.parametrize("phase", ["apply", "undo"])
def test_tokens_expire_mid_batch(netgear: Any, model: str, phase: str) -> None:
    """Tokens die at each request around the merged WAN POST (the form GET, the POST, the read-back...): the end
    is fully done or exactly as before."""
    with netgear(model) as reference:
        with connect(reference) as router:
            record = routerfix.apply_ghostcall_mitigation(router).to_dict()
        if phase == "undo":
            reference.handle.server.clear_requests()
            with connect(reference) as router:
                routerfix.remove_ghostcall_mitigation(router, record=record)
        recorded = reference.handle.server.recorded()
        wan = next(i for i, r in enumerate(recorded) if r in _wan_posts(reference))
    for at in range(wan - 2, min(wan + 3, len(recorded))):
        with netgear(model) as device:
            if phase == "undo":
                with connect(device) as router:
                    routerfix.apply_ghostcall_mitigation(router)
            device.handle.expire_token_after(at)
            with connect(device) as router:
                try:
                    if phase == "apply":
                        routerfix.apply_ghostcall_mitigation(router)
                    else:
                        routerfix.remove_ghostcall_mitigation(router, record=record)
                except routerfix.RouterfixError as exc:
                    assert not isinstance(exc, routerfix.RollbackFailed), at
            assert _end(device) in (MITIGATED, UNTOUCHED), at


def test_a_refused_merged_post_rolls_back(netgear: Any, model: str) -> None:
    """The router refuses the WAN form with a "Failure" page (ACOS: DMZ server outside the LAN; net-cgi, whose
    handler does not check the DMZ address: an MTU out of range): nothing of the batch is applied; the forward
    added before it is removed again."""
    with netgear(model) as device:
        cfg = device.handle.config
        if model == "R7000":
            cfg.dmz_enable, cfg.dmz_ip = True, "10.9.9.9"
        else:
            cfg.wan_mtu = 1700
        with connect(device) as router:
            with pytest.raises(routerfix.DeviceError) as info:
                routerfix.apply_ghostcall_mitigation(router)
        assert any("rolled back" in note for note in info.value.__notes__)
        assert len(_wan_posts(device)) == 1
        assert _end(device) == UNTOUCHED


def test_the_planner_puts_the_wan_settings_side_by_side(dev: SimulatedDevice) -> None:
    with connect(dev) as router:
        plan = routerfix.plan_ghostcall_mitigation(router)
        groups = _batches(router, plan.actions)
        assert [[a.kind for a in g] for g in groups] == [["add_forward"], ["set_nat_mode", "set_sip_alg"]]
        assert isinstance(groups[1][0], SetNatMode) and isinstance(groups[1][1], SetSipAlg)
