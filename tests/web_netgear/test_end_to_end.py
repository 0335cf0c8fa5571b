"""End state through the simulators: mitigation, policy, idempotence, undo (both families)."""

from __future__ import annotations

from typing import Any

import pytest

import routerfix
from routerfix.model import NatMode, Protocol
from routerfix.simulate import SimulatedDevice

from .conftest import connect


def _settled(device: SimulatedDevice) -> Any:
    sim = device.handle
    sim.settle()
    return sim.config


def test_mitigation_end_state(dev: SimulatedDevice) -> None:
    with connect(dev) as router:
        result = routerfix.apply_ghostcall_mitigation(router)
        assert result.status == "mitigated" and result.verified
        assert result.transport_security == "tls-pinned"
        stats = router.stats  # type: ignore[attr-defined]
        assert stats["logins"] == 1
    cfg = _settled(dev)
    assert cfg.nat_secured is False  # two phones: Open + the forward
    assert cfg.sip_alg is False
    assert cfg.spi is True  # the hidden-field trap: SPI must survive the WAN post
    assert [(r.name, r.proto, r.ext_start, r.ext_end, r.ip) for r in cfg.rules] == [
        ("routerfix-sip", "TCP/UDP", 5060, 5061, "192.168.1.254")]
    assert dev.handle.holder is None  # logged out


def test_rerun_is_idempotent_and_undo_restores(dev: SimulatedDevice) -> None:
    with connect(dev) as router:
        first = routerfix.apply_ghostcall_mitigation(router)
    with connect(dev) as router:
        again = routerfix.apply_ghostcall_mitigation(router)
        assert again.status == "unchanged" and router.writes == 0
        forwards = router.list_port_forwards()
        assert [f.protocol for f in forwards] == [Protocol.BOTH]
    with connect(dev) as router:
        undone = routerfix.remove_ghostcall_mitigation(router, record=first.to_dict())
        assert undone.status == "undone"
    cfg = _settled(dev)
    assert cfg.rules == [] and cfg.nat_secured is True and cfg.sip_alg is True and cfg.spi is True
    with connect(dev) as router:
        assert routerfix.remove_ghostcall_mitigation(router).status == "nothing_to_undo"


@pytest.mark.parametrize(("phones", "nat", "expected"), [
    (0, "secured", NatMode.OPEN), (1, "secured", NatMode.SECURE), (1, "open", NatMode.OPEN),
    (2, "secured", NatMode.OPEN), (3, "open", NatMode.OPEN)])
def test_netgear_policy(netgear: Any, model: str, phones: int, nat: str, expected: NatMode) -> None:
    with netgear(model, phones=phones, nat=nat) as device, connect(device) as router:
        plan = routerfix.plan_ghostcall_mitigation(router)
        assert len(plan.phones) == phones
        assert plan.nat.target is expected
        result = routerfix.apply_ghostcall_mitigation(router)
        assert result.status == "mitigated"
        assert router.get_nat_mode() is expected


def test_customer_rules_are_kept_and_legacy_firmware(netgear: Any) -> None:
    from routerfix.simulators.netgear.state import Rule

    rules = [Rule("Web server", "TCP", 8080, 8080, 80, 80, "192.168.1.20"), Rule("Game", "UDP", 3074, 3075,
                                                                                  3074, 3075, "192.168.1.4")]
    with netgear("R7000", firmware="V1.0.1.22", rules=rules) as device:
        with connect(device) as router:
            before = router.list_port_forwards()
            assert [(f.name, str(f.external_ports), str(f.internal_ports)) for f in before] == [
                ("Web server", "8080", "80"), ("Game", "3074-3075", "3074-3075")]
            assert routerfix.apply_ghostcall_mitigation(router).status == "mitigated"
        cfg = _settled(device)
        assert [r.name for r in cfg.rules] == ["Web server", "Game", "routerfix-sip"]
        assert device.handle.legacy and not device.handle.xsrf


def test_rule_limit_is_reported(netgear: Any) -> None:
    from routerfix.simulators.netgear.state import Rule

    rules = [Rule(f"r{i}", "TCP", 1000 + i, 1000 + i, 1000 + i, 1000 + i, "192.168.1.20") for i in range(20)]
    with netgear("R7000", rules=rules) as device, connect(device) as router:
        with pytest.raises(routerfix.MitigationError, match="at most 20"):
            routerfix.apply_ghostcall_mitigation(router)
        assert router.writes == 0


def test_wrong_password_is_not_retried_beyond_the_first_401(netgear: Any, model: str) -> None:
    with netgear(model) as device:
        with pytest.raises(routerfix.AuthenticationError):
            connect(device, password="wrong")
        assert len(device.handle.server.recorded(contains="/WAN_wan.htm")) == 2
