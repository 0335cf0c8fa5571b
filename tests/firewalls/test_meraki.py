"""Meraki Dashboard API driver against its simulator: conformance, the exact requests, the customer's rules kept,
the concurrent-change guard, rate limits, pagination, a fault at every write, bad input, the key never shown."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import routerfix
from routerfix.driver import Driver, Timeouts
from routerfix.errors import DeviceError, InvalidValue, RouterfixError, UnsupportedOperation
from routerfix.model import Feature, PortForward, Reservation
from routerfix.planner import managed_view
from routerfix.simulate import SimulatedDevice, simulate
from routerfix.testing import DriverConformance

FAST = Timeouts(connect=3, read=3, apply=3)
NET = "/api/v1/networks/N_24329156"
RULES = f"{NET}/appliance/firewall/portForwardingRules"
VLAN = f"{NET}/appliance/vlans/1"


def connect(device: SimulatedDevice, **extra: Any) -> Driver:
    return routerfix.connect(device.driver, device.host, **{**device.connect_options(), "timeouts": FAST, **extra})


@pytest.fixture
def meraki() -> Iterator[SimulatedDevice]:
    """A simulated MX network (VLANs on, one customer rule, a fixed IP for the lobby phone, four clients)."""
    with simulate("meraki") as device:
        yield device


class TestMerakiConformance(DriverConformance):
    """The shared driver contract (VLAN network)."""

    @pytest.fixture
    def driver(self, meraki: SimulatedDevice) -> Iterator[Driver]:
        with connect(meraki) as d:
            yield d


class TestMerakiSingleLanConformance(DriverConformance):
    """The shared driver contract on a single-LAN network (no fixed IP assignments in the API)."""

    @pytest.fixture
    def driver(self) -> Iterator[Driver]:
        with simulate("meraki", scenario="single_lan") as device, connect(device) as d:
            yield d


def _sent(dev: SimulatedDevice) -> list[str]:
    return [f"{r.method} {r.target}" for r in dev.handle.http.requests]


def _state(dev: SimulatedDevice) -> str:
    h = dev.handle
    return json.dumps([h.rules, h.vlan["fixedIpAssignments"]], sort_keys=True)


def test_exact_requests_and_the_customer_rule_kept(meraki: SimulatedDevice) -> None:
    customer = json.loads(json.dumps(meraki.handle.rules))
    with connect(meraki) as mx:
        result = routerfix.apply_ghostcall_mitigation(mx, backup=False)
    assert result.status == "mitigated" and result.verified
    sink = str(result.plan.sink)
    assert _sent(meraki) == [
        f"GET {NET}", f"GET {NET}/appliance/vlans/settings", f"GET {RULES}", f"GET {VLAN}",
        f"GET {NET}/clients?timespan=86400&perPage=1000",
        f"GET {RULES}", f"PUT {RULES}",  # re-read just before the one PUT of both rules
        f"GET {VLAN}", f"PUT {VLAN}",
        f"GET {RULES}", f"GET {VLAN}"]  # verification
    assert meraki.handle.rules[0] == customer[0]  # never lose (or alter) a rule the customer had
    assert meraki.handle.rules[1:] == [
        {"lanIp": sink, "allowedIps": ["any"], "name": f"routerfix-sip-{p}", "protocol": p,
         "publicPort": "5060-5061", "localPort": "5060-5061", "uplink": "both"} for p in ("tcp", "udp")]
    fixed = meraki.handle.vlan["fixedIpAssignments"]
    assert fixed["00:04:f2:a1:b2:c3"] == {"ip": "192.168.128.5", "name": "lobby phone"}
    assert {v["ip"] for v in fixed.values()} == {"192.168.128.5", sink}
    key = meraki.password
    assert all(r.headers.get("authorization") == f"Bearer {key}" for r in meraki.handle.http.requests)
    assert sink not in {c["ip"] for c in meraki.handle.clients}  # in-use check from the clients list


def test_rerun_makes_no_write_and_undo_restores_exactly(meraki: SimulatedDevice) -> None:
    before = _state(meraki)
    with connect(meraki) as mx:
        first = routerfix.apply_ghostcall_mitigation(mx, backup=False)
        meraki.handle.http.requests.clear()
        again = routerfix.apply_ghostcall_mitigation(mx, backup=False)
        assert again.status == "unchanged" and not again.changed
        assert not [r for r in meraki.handle.http.requests if r.method != "GET"]
        undone = routerfix.remove_ghostcall_mitigation(mx, record=first.to_dict())
    assert undone.status == "undone"
    assert _state(meraki) == before


def test_concurrent_change_refuses_the_put(meraki: SimulatedDevice) -> None:
    """Another admin adds a rule between our read and our PUT: nothing is sent, their rule survives."""
    reads = {"n": 0}
    theirs = {"lanIp": "192.168.128.30", "allowedIps": ["any"], "name": "camera", "protocol": "tcp",
              "publicPort": "8080", "localPort": "80", "uplink": "both"}

    def other_admin(cloud: Any) -> None:
        reads["n"] += 1
        if reads["n"] == 1:  # the re-read before the PUT
            cloud.rules.append(dict(theirs))

    with connect(meraki) as mx:
        mx.read_state()
        meraki.handle.on_rules_read = other_admin
        with pytest.raises(DeviceError, match="changed on the Dashboard"):
            with mx.write_batch():
                mx.add_port_forward(PortForward("routerfix-sip-udp", "udp", "5060-5061", "192.168.128.252"))
    assert theirs in meraki.handle.rules and len(meraki.handle.rules) == 2
    assert "portForwardingRules" not in meraki.handle.puts


def test_concurrent_change_during_mitigation_ends_as_before_or_mitigated(meraki: SimulatedDevice) -> None:
    reads = {"n": 0}

    def other_admin(cloud: Any) -> None:
        reads["n"] += 1
        if reads["n"] == 2:  # the re-read before the PUT
            cloud.rules.append({"lanIp": "192.168.128.30", "allowedIps": ["any"], "name": "camera",
                                "protocol": "tcp", "publicPort": "8080", "localPort": "80", "uplink": "both"})

    before = meraki.handle.vlan["fixedIpAssignments"]
    meraki.handle.on_rules_read = other_admin
    # our PUT is refused; the engine's after-check then sees the other admin's rule and says to look by hand
    with connect(meraki) as mx, pytest.raises(RouterfixError, match="unexpected forward camera"):
        routerfix.apply_ghostcall_mitigation(mx, backup=False)
    assert [r["name"] for r in meraki.handle.rules] == ["NAS web", "camera"]
    assert "portForwardingRules" not in meraki.handle.puts
    assert meraki.handle.vlan["fixedIpAssignments"] == before


def test_rate_limit_honours_retry_after_bounded(meraki: SimulatedDevice) -> None:
    meraki.handle.retry_after = "0"
    with connect(meraki) as mx:
        meraki.handle.throttle = 2
        assert len(mx.list_port_forwards()) == 1
        assert mx.rate_limited == 2
        meraki.handle.throttle = 10
        with pytest.raises(DeviceError, match="429"):
            mx.list_port_forwards()
    assert sum(1 for r in meraki.handle.http.requests if r.status == 429) == 2 + 4  # 3 retries, then give up


def test_rate_limit_longer_than_allowed_is_not_waited(meraki: SimulatedDevice) -> None:
    meraki.handle.retry_after = "3600"
    with connect(meraki) as mx:
        meraki.handle.throttle = 1
        with pytest.raises(DeviceError, match="429"):
            mx.list_port_forwards()


def test_a_429_on_the_put_is_sent_again_and_lands_once(meraki: SimulatedDevice) -> None:
    meraki.handle.retry_after = "0"
    meraki.handle.http.add_fault("status", f"PUT {RULES}", status=429)
    with connect(meraki) as mx:
        result = routerfix.apply_ghostcall_mitigation(mx, backup=False)
    assert result.status == "mitigated"
    assert [r["name"] for r in meraki.handle.rules].count("routerfix-sip-udp") == 1


def test_clients_pages_are_followed() -> None:
    with simulate("meraki", clients=2500) as dev, connect(dev) as mx:
        neighbours = mx.list_neighbours()
        assert len(neighbours) == 2500
        pages = [r for r in dev.handle.http.requests if r.path.endswith("/clients")]
        assert len(pages) == 3 and "startingAfter=" in pages[1].query


@pytest.mark.parametrize("kind", ["drop", "drop-after", "status"])
@pytest.mark.parametrize("target", [f"PUT {RULES}", f"PUT {VLAN}"])
def test_fault_at_every_write_ends_mitigated_or_as_before(meraki: SimulatedDevice, kind: str, target: str) -> None:
    before = _state(meraki)
    meraki.handle.http.add_fault(kind, target, status=500)
    with connect(meraki) as mx:
        try:
            result = routerfix.apply_ghostcall_mitigation(mx, backup=False)
            status = result.status
        except RouterfixError:
            status = "raised"
    if status == "mitigated":
        assert len(meraki.handle.rules) == 3
        assert [r["name"] for r in meraki.handle.rules].count("routerfix-sip-tcp") == 1
    else:
        assert _state(meraki) == before, status


def test_device_error_on_a_write_rolls_back(meraki: SimulatedDevice) -> None:
    before = _state(meraki)
    meraki.handle.http.add_fault("status", f"PUT {VLAN}", status=400, times=5)
    with connect(meraki) as mx, pytest.raises(DeviceError, match="rolled back"):
        routerfix.apply_ghostcall_mitigation(mx, backup=False)
    assert _state(meraki) == before


def test_put_answered_but_not_stored_is_caught(meraki: SimulatedDevice) -> None:
    before = _state(meraki)
    meraki.handle.ignore_puts = True
    with connect(meraki) as mx:
        try:
            result = routerfix.apply_ghostcall_mitigation(mx, backup=False)
            assert result.status != "mitigated"
        except RouterfixError:
            pass
    assert _state(meraki) == before


def test_single_lan_declares_no_reservation_and_still_mitigates() -> None:
    with simulate("meraki", scenario="single_lan") as dev, connect(dev) as mx:
        state = mx.read_state()
        assert Feature.DHCP_RESERVATION not in state.capabilities
        assert any("single-LAN" in n for n in state.capabilities.notes)
        with pytest.raises(UnsupportedOperation):
            mx.reserve_address(Reservation("192.168.128.250", "02:00:5e:c0:50:60", "routerfix-sink"))
        result = routerfix.apply_ghostcall_mitigation(mx, backup=False)
        assert result.status == "mitigated"
        assert [r["name"] for r in dev.handle.rules] == ["routerfix-sip-tcp", "routerfix-sip-udp"]
        assert "singleLan" not in dev.handle.puts and "vlan" not in dev.handle.puts


def test_existing_sip_forward_is_never_clobbered() -> None:
    with simulate("meraki", scenario="pbx") as dev, connect(dev) as mx:
        before = json.dumps(dev.handle.rules)
        try:
            result = routerfix.apply_ghostcall_mitigation(mx, backup=False)
            assert result.status != "mitigated" or json.dumps(dev.handle.rules[:1]) == before[1:-1].join("[]")
        except RouterfixError:
            pass
        assert dev.handle.rules[0]["name"] == "PBX SIP"


def test_no_nat_or_alg_change_is_claimed(meraki: SimulatedDevice) -> None:
    with connect(meraki) as mx:
        state = mx.read_state()
        assert mx.get_nat_mode() is None and state.sip_alg is None
        assert Feature.NAT_MODE not in state.capabilities and Feature.SIP_ALG not in state.capabilities
        assert any("no NAT filtering mode" in n for n in state.capabilities.notes)


@pytest.mark.parametrize("options", [
    {"network_id": "N_1/../../organizations"}, {"network_id": ""}, {"network_id": None},
    {"network_id": "N_1?x=1"}, {"rate_limit_retries": 99}, {"max_retry_after": -1}, {"vlan_id": "1/x"}])
def test_bad_input_refused_before_any_request(meraki: SimulatedDevice, options: dict[str, Any]) -> None:
    with pytest.raises(InvalidValue):
        connect(meraki, **options)
    assert meraki.handle.http.requests == []


def test_wrong_key_is_an_authentication_error_without_retry(meraki: SimulatedDevice) -> None:
    with pytest.raises(routerfix.errors.AuthenticationError):
        connect(meraki, password="0" * 40).open()
    assert len(meraki.handle.http.requests) == 1


def test_key_never_in_logs_results_or_reprs(meraki: SimulatedDevice, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    meraki.handle.retry_after = "0"
    meraki.handle.throttle = 1
    meraki.handle.http.add_fault("drop", f"PUT {RULES}")
    with connect(meraki) as mx:
        result = routerfix.apply_ghostcall_mitigation(mx, backup=True)
        text = json.dumps(result.to_dict()) + repr(mx) + repr(mx.http.session.auth) + repr(mx.http.session.headers)
        meraki.handle.revoked = True
        try:
            mx.list_port_forwards()
        except RouterfixError as exc:
            text += str(exc) + repr(exc)
    key = meraki.password
    assert key not in text and key not in caplog.text


def test_import_routerfix_does_not_import_meraki_sdk_or_requests() -> None:
    code = "import sys, routerfix; print(any(m in sys.modules for m in ('meraki', 'requests')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"


def _cli(verb: str, dev: SimulatedDevice, state: Path) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "routerfix.cli", verb, *dev.cli_args(), "--yes", "--no-prompt", "--json",
            "--state-dir", str(state)]
    env = {**os.environ, "ROUTERFIX_PASSWORD": dev.password}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)


def test_mitigate_rerun_undo_from_the_command_line(meraki: SimulatedDevice, tmp_path: Path) -> None:
    with connect(meraki) as mx:
        before = managed_view(mx.read_state())
    raw = _state(meraki)
    first = _cli("mitigate", meraki, tmp_path)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["status"] == "mitigated" and data["verified"] is True
    second = _cli("mitigate", meraki, tmp_path)
    assert second.returncode == 0 and json.loads(second.stdout)["status"] == "unchanged", second.stderr
    undo = _cli("undo", meraki, tmp_path)
    assert undo.returncode == 0 and json.loads(undo.stdout)["status"] == "undone", undo.stderr
    with connect(meraki) as mx:
        assert managed_view(mx.read_state()) == before
    assert _state(meraki) == raw
    assert meraki.password not in first.stdout + first.stderr + undo.stdout + undo.stderr
