"""FortiGate (FortiOS REST API) driver against its simulator: conformance, mitigation, undo, faults, secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from routerfix.simulators._hosts.http import SimRequest, SimResponse

import routerfix
from routerfix.cli import main
from routerfix.driver import Driver, Timeouts
from routerfix.errors import (
    AuthenticationError,
    DeviceError,
    ForwardConflict,
    InvalidValue,
    RouterfixError,
    TrustError,
)
from routerfix.model import PortForward, Reservation
from routerfix.simulate import SimulatedDevice, simulate
from routerfix.testing import DriverConformance

FAST = Timeouts(connect=3, read=3, apply=3)
SINK = "192.168.1.208"  # .209 answers ARP, .210 is leased: the highest free pool address


def connect(device: SimulatedDevice, **extra: Any) -> Driver:
    """Open the driver on ``device`` with short timeouts."""
    return routerfix.connect(device.driver, device.host, **{**device.connect_options(), "timeouts": FAST, **extra})


@pytest.fixture
def fortigate() -> Iterator[SimulatedDevice]:
    """A simulated FortiGate 60F (office: SIP ALG on, one reservation, two leases)."""
    with simulate("fortigate") as device:
        yield device


class TestFortigateConformance(DriverConformance):
    """The shared driver contract."""

    @pytest.fixture
    def driver(self, fortigate: SimulatedDevice) -> Iterator[Driver]:
        with connect(fortigate) as d:
            yield d


# --- the mitigation from the command line, idempotence, undo ----------------------------------------------------


def _cli(verb: str, dev: SimulatedDevice, state: Path) -> list[str]:
    return [verb, *dev.cli_args(), "--yes", "--no-prompt", "--state-dir", str(state)]


def test_cli_mitigates_reruns_with_no_write_and_undoes_exactly(fortigate: SimulatedDevice, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    fg = fortigate.handle
    before = fg.snapshot()
    monkeypatch.setenv("ROUTERFIX_PASSWORD", fortigate.password or "")
    assert main(_cli("mitigate", fortigate, tmp_path)) == 0
    vips = {v["name"]: v for v in fg.tables["firewall/vip"]}
    assert set(vips) == {"routerfix-sip-tcp", "routerfix-sip-udp"}
    assert all(v["extintf"] == "wan1" and [m["range"] for m in v["mappedip"]] == [SINK] and v["extport"] == "5060-5061"
               and v["portforward"] == "enable" for v in vips.values())
    ours = [p for p in fg.tables["firewall/policy"] if p["name"].startswith("routerfix")]
    assert sorted(p["name"] for p in ours) == ["routerfix-sip-tcp", "routerfix-sip-udp"]
    def names(table: list[dict[str, Any]]) -> list[str]:
        return [a["name"] for a in table]

    assert all(names(p["dstaddr"]) == [p["name"]] and names(p["srcintf"]) == ["wan1"]
               and names(p["dstintf"]) == ["internal"] and p["action"] == "accept" for p in ours)
    reserved = fg.tables["system.dhcp/server"][0]["reserved-address"]
    assert [r["ip"] for r in reserved] == ["192.168.1.110", SINK]
    assert fg.settings["default-voip-alg-mode"] == "kernel-helper-based"
    assert not any(h["name"] == "sip" for h in fg.tables["system/session-helper"])
    written = list(fg.writes)
    assert main(_cli("mitigate", fortigate, tmp_path)) == 0  # unchanged: nothing written
    assert fg.writes == written
    assert main(_cli("undo", fortigate, tmp_path)) == 0
    assert fg.snapshot() == before


def test_requests_per_mitigation(fortigate: SimulatedDevice) -> None:
    """The figure for the issue note: one login GET, seven reads, seven writes, the reads the writes build on, the
    SIP ALG read-back and the verification read; a rerun is the login and the seven reads."""
    with connect(fortigate) as router:
        assert routerfix.apply_ghostcall_mitigation(router, backup=False).status == "mitigated"
        stats = router.request_stats()
    writes = [r for r in fortigate.handle.http.requests if r.method != "GET"]
    assert len(writes) == 7 and stats["requests"] <= 24
    fortigate.handle.http.clear_requests()
    with connect(fortigate) as router:
        assert routerfix.apply_ghostcall_mitigation(router, backup=False).status == "unchanged"
        assert router.writes == 0
    assert len(fortigate.handle.http.requests) == 8


def test_conflicting_forward_stops_before_any_write() -> None:
    with simulate("fortigate", scenario="pbx") as dev:
        with connect(dev) as router, pytest.raises(ForwardConflict):
            routerfix.apply_ghostcall_mitigation(router, backup=False)
        assert dev.handle.writes == []


def test_replace_conflicting_removes_the_policy_then_the_vip() -> None:
    with simulate("fortigate", scenario="pbx") as dev:
        with connect(dev) as router:
            result = routerfix.apply_ghostcall_mitigation(router, backup=False, replace_conflicting=True)
        assert result.status == "mitigated"
        assert dev.handle.writes[:2] == ["DELETE firewall/policy/2", "DELETE firewall/vip/pbx-sip"]
        assert "pbx-sip" not in {v["name"] for v in dev.handle.tables["firewall/vip"]}


def test_customer_rules_survive_and_are_read_as_forwards() -> None:
    with simulate("fortigate", scenario="rules") as dev:
        with connect(dev) as router:
            nas = router.list_port_forwards()
            assert [(f.name, f.protocol.value, str(f.external_ports), str(f.internal_address), f.enabled,
                     f.wan_only) for f in nas] == [("nas-https", "tcp", "443", "192.168.1.20", True, True)]
            assert routerfix.apply_ghostcall_mitigation(router, backup=False).status == "mitigated"
        assert dev.handle.tables["firewall/vip"][0]["name"] == "nas-https"


# --- faults at every write ---------------------------------------------------------------------------------------

WRITES = 7


@pytest.mark.parametrize("kind", ["drop", "drop-after", "status", "refused"])
@pytest.mark.parametrize("nth", range(WRITES))
def test_fault_at_every_write_ends_mitigated_or_as_before(kind: str, nth: int) -> None:
    with simulate("fortigate") as dev:
        fg = dev.handle
        before = fg.snapshot()
        if kind == "refused":
            fg.refuse_write = nth + 1
        else:
            fg.http.add_fault(kind, lambda r: r.method != "GET", skip=nth, status=500)
        with connect(dev) as router:
            try:
                result = routerfix.apply_ghostcall_mitigation(router, backup=False)
            except RouterfixError as exc:
                assert "rolled back" in " ".join(getattr(exc, "__notes__", [])), exc
                assert fg.snapshot() == before
                return
        assert result.status == "mitigated"
        assert sorted(v["name"] for v in fg.tables["firewall/vip"]) == ["routerfix-sip-tcp", "routerfix-sip-udp"]
        assert len([p for p in fg.tables["firewall/policy"] if p["name"].startswith("routerfix")]) == 2
        assert [r["ip"] for r in fg.tables["system.dhcp/server"][0]["reserved-address"]].count(SINK) == 1
        assert fg.settings["default-voip-alg-mode"] == "kernel-helper-based"
        assert kind != "refused"


def test_settings_write_answered_but_not_stored_is_caught_and_backed_out(fortigate: SimulatedDevice) -> None:
    """The mode PUT is answered success but not stored: the helper deletion must be backed out too (the SIP ALG
    still reads "on", so the engine alone would never undo it)."""
    fg = fortigate.handle
    before = fg.snapshot()
    original = fg.handle

    def drop_settings(req: SimRequest) -> SimResponse:  # the settings PUT is answered success, nothing stored
        fg.ignore_writes = req.method == "PUT" and req.path.endswith("/system/settings")
        return original(req)

    fg.http.handler = drop_settings
    with connect(fortigate) as router, pytest.raises(DeviceError, match="does not show the change") as info:
        routerfix.apply_ghostcall_mitigation(router, backup=False)
    assert "rolled back" in " ".join(info.value.__notes__)
    assert fg.snapshot() == before


# --- trust, input and secrets --------------------------------------------------------------------------------------


def test_wrong_or_expired_token_is_an_authentication_error(fortigate: SimulatedDevice) -> None:
    with pytest.raises(AuthenticationError):
        connect(fortigate, password="not-the-token-0123456789")
    fortigate.handle.token_valid = False
    with pytest.raises(AuthenticationError):
        connect(fortigate)
    assert len(fortigate.handle.http.requests) == 2  # never retried


def test_token_expired_mid_run_writes_nothing_more(fortigate: SimulatedDevice) -> None:
    before = fortigate.handle.snapshot()
    with connect(fortigate) as router:
        router.read_state()
        fortigate.handle.token_valid = False
        with pytest.raises(RouterfixError):
            routerfix.apply_ghostcall_mitigation(router, backup=False)
    assert fortigate.handle.snapshot() == before


@pytest.mark.parametrize(("option", "value"), [("vdom", "root;x"), ("wan_interface", "wan 1"),
                                                ("lan_interface", "<lan>")])
def test_bad_options_are_refused_before_any_request(fortigate: SimulatedDevice, option: str, value: str) -> None:
    with pytest.raises(InvalidValue):
        connect(fortigate, **{option: value})
    assert fortigate.handle.http.requests == []


def test_bad_forwards_are_refused_before_any_request(fortigate: SimulatedDevice) -> None:
    with connect(fortigate) as router:
        fortigate.handle.http.clear_requests()
        for bad in (PortForward("sip; rm", "udp", 5060, SINK), PortForward("both", "both", 5060, SINK)):
            with pytest.raises(InvalidValue):
                router.add_port_forward(bad)
        with pytest.raises(InvalidValue):
            router.reserve_address(Reservation(SINK, "02:00:5e:c0:50:60", "a name with spaces"))
    assert fortigate.handle.http.requests == []


def test_token_never_in_logs_results_or_errors(fortigate: SimulatedDevice, caplog: pytest.LogCaptureFixture) -> None:
    token = fortigate.password or ""
    caplog.set_level(logging.DEBUG)
    fortigate.handle.http.add_fault("drop", lambda r: r.method == "POST")
    with connect(fortigate) as router:
        result = routerfix.apply_ghostcall_mitigation(router, backup=False)
        text = json.dumps(result.to_dict()) + repr(router) + repr(router.http._auth)
    fortigate.handle.refuse_write = len([r for r in fortigate.handle.http.requests if r.method != "GET"]) + 1
    with connect(fortigate) as router, pytest.raises(RouterfixError) as info:
        router.set_sip_alg(True)
    text += repr(info.value) + str(info.value)
    assert token and token not in text and token not in caplog.text
    assert all(token not in r.target for r in fortigate.handle.http.requests)  # never in the URL (F2)
    auth = {r.headers.get("authorization") for r in fortigate.handle.http.requests}
    assert auth == {f"Bearer {token}"}


def test_rate_limit_answer_is_a_refusal_not_a_blind_retry(fortigate: SimulatedDevice) -> None:
    with connect(fortigate) as router:
        fortigate.handle.max_requests_per_second = 0
        with pytest.raises(DeviceError, match="HTTP 429"):
            router.set_sip_alg(False)
    assert fortigate.handle.writes == []


def test_policy_with_a_voip_profile_is_reported_not_edited(fortigate: SimulatedDevice,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """F17: a policy with a VoIP profile keeps its ALG; the driver says so and leaves the policy alone."""
    fg = fortigate.handle
    fg.tables["firewall/policy"][0]["voip-profile"] = "default"
    fg.settings["sip-expectation"] = "enable"
    caplog.set_level(logging.INFO, logger="routerfix.drivers.fortigate")
    with connect(fortigate) as router:
        assert routerfix.apply_ghostcall_mitigation(router, backup=False).status == "mitigated"
    assert "policies 1 carry a VoIP profile" in caplog.text and "sip-expectation is enable" in caplog.text
    assert fg.tables["firewall/policy"][0]["voip-profile"] == "default" and fg.settings["sip-expectation"] == "enable"


def test_wrong_certificate_pin_sends_no_token(fortigate: SimulatedDevice) -> None:
    with pytest.raises(TrustError):
        connect(fortigate, tls_fingerprint="sha256:" + "00" * 32)
    assert fortigate.handle.http.requests == []  # refused at the handshake: the token never left
