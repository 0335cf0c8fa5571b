"""SonicWall (SonicOS API) driver against its simulator: conformance, mitigation from the CLI, undo, the pending
configuration, faults at every write, sessions, secrets, detection (facts: docs/facts/sonicwall.md)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import routerfix
from routerfix.cli import main
from routerfix.detect import Confidence, HttpReply, Observation, Probe
from routerfix.driver import Driver, Timeouts
from routerfix.errors import (
    AuthenticationError,
    ConnectionDropped,
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
SINK = "192.168.168.198"  # .199 answers ARP, .200 is leased: the highest free pool address
OURS = ["routerfix-sip", "routerfix-sip-tcp", "routerfix-sip-udp"]


def connect(device: SimulatedDevice, **extra: Any) -> Driver:
    """Open the driver on ``device`` with short timeouts."""
    return routerfix.connect(device.driver, device.host, **{**device.connect_options(), "timeouts": FAST, **extra})


@pytest.fixture
def sonicwall() -> Iterator[SimulatedDevice]:
    """A simulated TZ 370 (office: SIP transformations on, one static DHCP entry, two leases)."""
    with simulate("sonicwall") as device:
        yield device


def _names(dev: SimulatedDevice, key: str) -> list[str]:
    return [str(r.get("name")) for r in dev.handle.table(key)]


def _mitigated(dev: SimulatedDevice) -> bool:
    sw = dev.handle
    return ("routerfix-sip" in _names(dev, "address_objects") and "routerfix-sip" in _names(dev, "nat_policies")
            and "routerfix-sip" in _names(dev, "access_rules")
            and [s["ip"] for s in sw.running["static"]].count(SINK) == 1
            and sw.running["voip"]["sip"]["enable"] is False)


class TestSonicwallConformance(DriverConformance):
    """The shared driver contract."""

    @pytest.fixture
    def driver(self, sonicwall: SimulatedDevice) -> Iterator[Driver]:
        with connect(sonicwall) as d:
            yield d


# --- the mitigation from the command line, idempotence, undo ----------------------------------------------------


def _cli(verb: str, dev: SimulatedDevice, state: Path) -> list[str]:
    return [verb, *dev.cli_args(), "--yes", "--no-prompt", "--state-dir", str(state)]


def test_cli_mitigates_reruns_with_no_write_and_undoes_exactly(sonicwall: SimulatedDevice, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    sw = sonicwall.handle
    before = sw.snapshot()
    monkeypatch.setenv("ROUTERFIX_PASSWORD", sonicwall.password)
    assert main(_cli("mitigate", sonicwall, tmp_path)) == 0
    assert sw.writes[-1] == "COMMIT" and sw.writes.count("COMMIT") == 1  # one commit for the whole run (S6)
    assert sw.pending is None
    address = next(a for a in sw.table("address_objects") if a["name"] == "routerfix-sip")
    assert address["host"] == {"ip": SINK} and address["zone"] == "LAN"
    services = {s["name"]: s for s in sw.table("service_objects")}
    assert services["routerfix-sip-tcp"]["tcp"] == {"begin": 5060, "end": 5061}
    assert services["routerfix-sip-udp"]["udp"] == {"begin": 5060, "end": 5061}
    nat = next(p for p in sw.table("nat_policies") if p["name"] == "routerfix-sip")
    assert (nat["inbound"], nat["destination"], nat["translated_destination"], nat["service"]) == (
        "X1", {"name": "X1 IP"}, {"name": "routerfix-sip"}, {"group": "routerfix-sip"})
    rule = next(r for r in sw.table("access_rules") if r["name"] == "routerfix-sip")
    assert (rule["from"], rule["to"], rule["action"], rule["sip"]) == ("WAN", "LAN", "allow", False)
    assert _mitigated(sonicwall)
    written = list(sw.writes)
    assert main(_cli("mitigate", sonicwall, tmp_path)) == 0  # unchanged: nothing written
    assert sw.writes == written
    assert main(_cli("undo", sonicwall, tmp_path)) == 0
    assert sw.snapshot() == before
    assert sw.writes[len(written):][-1] == "COMMIT" and sw.writes[len(written):].count("COMMIT") == 1


def test_requests_per_mitigation(sonicwall: SimulatedDevice) -> None:
    """The figure for the issue note: log-in, version, ten reads, eight writes, one commit, seven verification
    reads, log-out; a rerun is the log-in, version, the ten reads and the log-out."""
    with connect(sonicwall) as router:
        assert routerfix.apply_ghostcall_mitigation(router, backup=False).status == "mitigated"
    requests = sonicwall.handle.http.requests
    assert len(requests) == 29
    assert len([r for r in requests if r.method != "GET"]) == 11  # auth, 8 writes, commit, log-out
    sonicwall.handle.http.clear_requests()
    with connect(sonicwall) as router:
        assert routerfix.apply_ghostcall_mitigation(router, backup=False).status == "unchanged"
        assert router.writes == 0
    assert len(sonicwall.handle.http.requests) == 13


def test_conflicting_forward_stops_before_any_write() -> None:
    with simulate("sonicwall", scenario="pbx") as dev:
        with connect(dev) as router:
            assert [(f.name, f.protocol.value, str(f.external_ports), str(f.internal_address)) for f in
                    router.list_port_forwards()] == [("pbx-sip", "udp", "5060", "192.168.168.10")]
            with pytest.raises(ForwardConflict):
                routerfix.apply_ghostcall_mitigation(router, backup=False)
        assert dev.handle.writes == []


def test_replace_conflicting_removes_only_the_policy_of_a_foreign_forward() -> None:
    with simulate("sonicwall", scenario="pbx") as dev:
        with connect(dev) as router:
            assert routerfix.apply_ghostcall_mitigation(router, backup=False,
                                                        replace_conflicting=True).status == "mitigated"
        assert dev.handle.writes[0].startswith("DELETE nat-policies/ipv4/uuid/")
        assert "pbx-sip" not in _names(dev, "nat_policies")
        assert "PBX" in _names(dev, "address_objects") and "PBX SIP" in _names(dev, "service_objects")
        assert dev.handle.writes.count("COMMIT") == 1


def test_a_one_to_one_nat_to_a_host_is_a_forward_of_every_port(sonicwall: SimulatedDevice) -> None:
    """A NAT policy with service ``any`` sends SIP to its host too: it is read as a forward of every port, so the
    planner sees the conflict instead of forwarding SIP elsewhere."""
    sw = sonicwall.handle
    sw.running["address_objects"].append({"ipv4": {"name": "NAS", "uuid": "u-nas", "zone": "LAN",
                                                   "host": {"ip": "192.168.168.20"}}})
    sw.running["nat_policies"].append({"ipv4": {
        "name": "nas-1to1", "uuid": "u-nat", "inbound": "X1", "outbound": "any", "source": {"any": True},
        "translated_source": {"original": True}, "destination": {"name": "X1 IP"},
        "translated_destination": {"name": "NAS"}, "service": {"any": True}, "translated_service": {"original": True},
        "enable": True}})
    with connect(sonicwall) as router:
        assert [(f.name, f.protocol.value, str(f.external_ports), f.wan_only) for f in router.list_port_forwards()] \
            == [("nas-1to1", "both", "1-65535", True)]
        with pytest.raises(ForwardConflict):
            routerfix.apply_ghostcall_mitigation(router, backup=False)
    assert sw.writes == []


# --- the pending configuration and faults at every write ----------------------------------------------------------

WRITES = 9  # eight writes to the pending configuration and the commit


@pytest.mark.parametrize("kind", ["drop", "drop-after", "status", "refused"])
@pytest.mark.parametrize("nth", range(WRITES))
def test_fault_at_every_write_ends_mitigated_or_as_before(kind: str, nth: int) -> None:
    with simulate("sonicwall", tls=False) as dev:
        sw = dev.handle
        before = sw.snapshot()
        if kind == "refused":
            sw.refuse_write = nth + 1
        else:
            sw.http.add_fault(kind, lambda r: r.method != "GET" and not r.path.endswith("/auth"), skip=nth,
                              status=500)
        with connect(dev) as router:
            try:
                result = routerfix.apply_ghostcall_mitigation(router, backup=False)
            except RouterfixError as exc:
                assert "rolled back" in " ".join(getattr(exc, "__notes__", [])), exc
                assert sw.snapshot() == before
                return
        assert result.status == "mitigated" and _mitigated(dev)
        assert _names(dev, "address_objects").count("routerfix-sip") == 1
        assert kind != "refused"


def test_a_refused_write_drops_the_pending_configuration(sonicwall: SimulatedDevice) -> None:
    sw = sonicwall.handle
    before = sw.snapshot()
    sw.refuse_write = 5  # the NAT policy
    with connect(sonicwall) as router, pytest.raises(DeviceError, match="E_INVALID") as info:
        routerfix.apply_ghostcall_mitigation(router, backup=False)
    assert "rolled back" in " ".join(info.value.__notes__)
    assert sw.snapshot() == before and "COMMIT" not in sw.writes
    assert [r.method for r in sw.http.requests if r.path.endswith("/config/pending")][:1] == ["DELETE"]


def test_session_lost_between_writes_is_never_committed_half(sonicwall: SimulatedDevice) -> None:
    """The session dies after the third pending write (its pending changes with it, S8): the fourth write is
    answered 401; the driver must not go on in a new session and commit the rest; the engine re-reads on a new
    session and writes the change whole."""
    sw = sonicwall.handle
    with connect(sonicwall) as router:
        sw.expire_token_after(13)  # the ten planning reads, then three writes
        result = routerfix.apply_ghostcall_mitigation(router, backup=False)
    assert result.status == "mitigated" and _mitigated(sonicwall)
    assert sw.pending is None  # after a fault the engine writes step by step: each step its own commit
    assert sw.writes[:3] == ["POST address-objects/ipv4", "POST service-objects", "POST service-objects"]
    assert sw.writes[3] == "POST address-objects/ipv4"  # the lost three were written again, not committed half


def test_a_batch_whose_session_was_renewed_is_not_committed(sonicwall: SimulatedDevice) -> None:
    """A log-in in the middle of a batch (a read answered 401 re-logs in) means the earlier pending writes are gone
    (S8): committing would apply only the later ones, so the batch ends as a dropped connection, uncommitted."""
    sw = sonicwall.handle
    before = sw.snapshot()
    with connect(sonicwall) as router:
        router.read_state()
        with pytest.raises(ConnectionDropped), router.write_batch():
            router.set_sip_alg(False)
            router.http.login()  # type: ignore[attr-defined]  # what http.get does after a 401
            router.reserve_address(Reservation(SINK, "02:00:5e:c0:50:60", "routerfix-sink"))
    assert "COMMIT" not in sw.writes and sw.snapshot() == before


# --- sessions, input and secrets -----------------------------------------------------------------------------------


def test_wrong_password_is_an_authentication_error_never_retried(sonicwall: SimulatedDevice) -> None:
    with pytest.raises(AuthenticationError):
        connect(sonicwall, password="not-the-password")
    assert len(sonicwall.handle.http.requests) == 1


def test_api_disabled_says_how_to_enable_it(sonicwall: SimulatedDevice) -> None:
    sonicwall.handle.api_enabled = False
    with pytest.raises(DeviceError, match="SonicOS API is disabled"):
        connect(sonicwall)


def test_log_in_sends_basic_once_then_the_session_carries_on(sonicwall: SimulatedDevice) -> None:
    with connect(sonicwall) as router:
        router.read_state()
    requests = sonicwall.handle.http.requests
    assert requests[0].method == "POST" and requests[0].path == "/api/sonicos/auth"
    assert json.loads(requests[0].body) == {"override": True}
    assert requests[0].headers.get("authorization", "").startswith("Basic ")
    assert all("authorization" not in r.headers for r in requests[1:])
    assert (requests[-1].method, requests[-1].path) == ("DELETE", "/api/sonicos/auth")


@pytest.mark.parametrize(("option", "value"), [("wan_interface", "X1;x"), ("wan_zone", "W A N"),
                                                ("lan_zone", "<lan>")])
def test_bad_options_are_refused_before_any_request(sonicwall: SimulatedDevice, option: str, value: str) -> None:
    with pytest.raises(InvalidValue):
        connect(sonicwall, **{option: value})
    assert sonicwall.handle.http.requests == []


def test_bad_forwards_are_refused_before_any_request(sonicwall: SimulatedDevice) -> None:
    with connect(sonicwall) as router:
        sonicwall.handle.http.clear_requests()
        for bad in (PortForward("sip; rm", "udp", 5060, SINK), PortForward("remap", "udp", 5060, SINK, 5070)):
            with pytest.raises(InvalidValue):
                router.add_port_forward(bad)
        with pytest.raises(InvalidValue):
            router.reserve_address(Reservation(SINK, "02:00:5e:c0:50:60", "a name; with junk"))
        assert sonicwall.handle.http.requests == []


def test_password_never_in_logs_results_or_errors(sonicwall: SimulatedDevice, caplog: pytest.LogCaptureFixture) -> None:
    password = sonicwall.password
    caplog.set_level(logging.DEBUG)
    sonicwall.handle.http.add_fault("drop", lambda r: r.method == "POST" and "service-objects" in r.path)
    with connect(sonicwall) as router:
        result = routerfix.apply_ghostcall_mitigation(router, backup=False)
        text = json.dumps(result.to_dict()) + repr(router) + repr(router.http._auth)
    sonicwall.handle.refuse_write = sonicwall.handle._write_requests + 1
    with connect(sonicwall) as router, pytest.raises(RouterfixError) as info:
        router.set_sip_alg(True)
    text += repr(info.value) + str(info.value)
    assert password not in text and password not in caplog.text
    assert all(password not in r.target for r in sonicwall.handle.http.requests)


def test_wrong_certificate_pin_sends_no_password(sonicwall: SimulatedDevice) -> None:
    with pytest.raises(TrustError):
        connect(sonicwall, tls_fingerprint="sha256:" + "00" * 32)
    assert sonicwall.handle.http.requests == []


def test_consistent_nat_is_reported_never_changed(sonicwall: SimulatedDevice, caplog: pytest.LogCaptureFixture) -> None:
    sonicwall.handle.running["voip"]["consistent_nat"] = True
    caplog.set_level(logging.INFO, logger="routerfix.drivers.sonicwall")
    with connect(sonicwall) as router:
        assert routerfix.apply_ghostcall_mitigation(router, backup=False).status == "mitigated"
    assert "consistent NAT is on" in caplog.text
    assert sonicwall.handle.running["voip"]["consistent_nat"] is True
    assert sonicwall.handle.running["voip"]["sip"]["signaling_timeout"] == 900  # the partial PUT kept the rest


def test_demo_runs_against_the_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--driver", "sonicwall", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["first"]["status"] == "mitigated" and data["second"]["status"] == "unchanged"


# --- detection (no credentials) ------------------------------------------------------------------------------------


def test_fingerprint_recognises_sonicos_without_credentials(sonicwall: SimulatedDevice) -> None:
    from routerfix.detect import detect

    found = detect(sonicwall.host, [sonicwall.port], timeout=3, deadline=10)
    assert found.driver == "sonicwall", found.to_dict()
    assert all("authorization" not in r.headers for r in sonicwall.handle.http.requests)


def test_fingerprint_tells_sonicos_from_sma_and_other_servers() -> None:
    from routerfix.drivers.sonicwall.fingerprint import PROBE, fingerprint

    def seen(server: str, api: tuple[int, str] | None) -> Observation:
        replies = [HttpReply(Probe("/"), 200, {"server": server}, "<html></html>")]
        if api is not None:
            replies.append(HttpReply(PROBE, api[0], {"server": server}, api[1]))
        return Observation("192.0.2.1", 443, scheme="https", replies=tuple(replies))

    envelope = json.dumps({"status": {"success": False, "info": [{"code": "E_UNAUTHORIZED"}]}})
    assert fingerprint.http is not None
    full = fingerprint.http(seen("SonicWALL", (401, envelope)))
    assert full is not None and full.confidence is Confidence.HIGH
    header_only = fingerprint.http(seen("SonicWALL", (404, "")))
    assert header_only is not None and header_only.confidence is Confidence.MEDIUM
    assert fingerprint.http(seen("SonicWALL SSL-VPN Web Server", (404, ""))) is None
    assert fingerprint.http(seen("nginx", (401, "{}"))) is None
