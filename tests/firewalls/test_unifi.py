"""UniFi Network application driver against its simulator: conformance, the CLI, idempotence, undo, faults at every
write, session expiry, both platforms (UniFi OS console, classic controller), the route table, the recorded-answer
shapes (aiounifi fixtures), secrets. No OpenAPI document exists for this API (docs/facts/unifi.md)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from routerfix.simulators.unifi.device import ROUTES

import routerfix
from routerfix.cli import main
from routerfix.detect import Confidence, DetectStatus, detect
from routerfix.driver import Driver, Timeouts
from routerfix.errors import AuthenticationError, InvalidValue
from routerfix.model import Feature, PortForward, Reservation
from routerfix.simulate import SimulatedDevice, simulate
from routerfix.testing import DriverConformance

FAST = Timeouts(connect=3, read=3, apply=3)
DATA = Path(__file__).parent / "data" / "unifi"
OS_PREFIX = "/proxy/network/api/s/default/"


def connect(device: SimulatedDevice, **extra: Any) -> Driver:
    return routerfix.connect(device.driver, device.host, **{**device.connect_options(), "timeouts": FAST, **extra})


@pytest.fixture(scope="module")
def _console() -> Iterator[SimulatedDevice]:
    with simulate("unifi") as device:
        yield device


@pytest.fixture
def uos(_console: SimulatedDevice) -> SimulatedDevice:
    """A simulated UniFi OS console (office: one forward, two fixed IPs, two active clients), one per module, put
    back to its starting state (configuration, sessions, faults, recorded requests) for each test."""
    _console.handle.reset()
    return _console


class TestUnifiConformance(DriverConformance):
    """The shared driver contract."""

    @pytest.fixture
    def driver(self, uos: SimulatedDevice) -> Iterator[Driver]:
        with connect(uos) as d:
            yield d


def _requests(dev: SimulatedDevice) -> list[str]:
    return [f"{r.method} {r.path}" for r in dev.handle.http.requests]


def _cli(verb: str, dev: SimulatedDevice, state: Path) -> list[str]:
    return [verb, *dev.cli_args(), "--yes", "--no-prompt", "--state-dir", str(state)]


def _sip(dev: SimulatedDevice) -> list[dict[str, Any]]:
    return [f for f in dev.handle.forwards if f["name"].startswith("routerfix")]


# --- end to end -------------------------------------------------------------------------------------------


def test_cli_mitigate_rerun_and_undo(uos: SimulatedDevice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = uos.handle.snapshot()
    monkeypatch.setenv("ROUTERFIX_PASSWORD", uos.password)
    assert main(_cli("mitigate", uos, tmp_path)) == 0
    sip = _sip(uos)
    assert sorted(f["dst_port"] for f in sip) == ["5060", "5061"]  # U13: one rule per port
    assert all(f["proto"] == "tcp_udp" and f["pfwd_interface"] == "wan" and f["src"] == "any" for f in sip)
    # U16: no reservation; the sink is the top of the DHCP range minus the fixed IPs (.254, .253) and clients (.252)
    assert {f["fwd"] for f in sip} == {"10.50.0.251"}
    assert uos.handle.users == json.loads(before)["users"]  # no made-up client written
    uos.handle.http.clear_requests()
    assert main(_cli("mitigate", uos, tmp_path)) == 0  # unchanged
    assert all(r.startswith("GET") or r.endswith(("/login", "/logout")) for r in _requests(uos)), _requests(uos)
    assert main(_cli("undo", uos, tmp_path)) == 0
    assert uos.handle.snapshot() == before


def test_requests_per_mitigation_and_idempotent_rerun(uos: SimulatedDevice) -> None:
    with connect(uos) as router:
        uos.handle.http.clear_requests()
        first = routerfix.apply_ghostcall_mitigation(router)
        per_mitigation = len(uos.handle.http.requests)
    assert first.status == "mitigated"
    # planning reads (forwards, networks, users, clients), POST, the second add's idempotence read, POST, the
    # verify read of the forwards: 8 measured
    assert per_mitigation <= 8, _requests(uos)
    assert uos.handle.writes == ["POST rest/portforward"] * 2
    with connect(uos) as router:
        uos.handle.http.clear_requests()
        second = routerfix.apply_ghostcall_mitigation(router)
        assert second.status == "unchanged" and router.writes == 0
    assert not any(r.startswith(("PUT", "DELETE")) or ("portforward" in r and r.startswith("POST"))
                   for r in _requests(uos))


def test_undo_restores_exactly(uos: SimulatedDevice) -> None:
    before = uos.handle.snapshot()
    with connect(uos) as router:
        first = routerfix.apply_ghostcall_mitigation(router)
        assert routerfix.remove_ghostcall_mitigation(router, record=first.to_dict()).status == "undone"
    assert uos.handle.snapshot() == before


def test_existing_sip_forward_is_a_conflict_and_nothing_is_written() -> None:
    with simulate("unifi", scenario="pbx") as dev:
        before = dev.handle.snapshot()
        with connect(dev) as router, pytest.raises(routerfix.RouterfixError):
            routerfix.apply_ghostcall_mitigation(router)
        assert dev.handle.snapshot() == before and dev.handle.writes == []


def test_classic_controller_on_another_site() -> None:
    """U1-U3, U19: /api/login, cookie unifises, paths /api/s/<site>/, no CSRF; the site option is used."""
    with simulate("unifi", platform="classic", site="branch2", tls=False) as dev:
        before = dev.handle.snapshot()
        with connect(dev) as router:
            record = routerfix.apply_ghostcall_mitigation(router)
            assert record.status == "mitigated"
            seen = _requests(dev)
            assert "POST /api/login" in seen and "POST /api/s/branch2/rest/portforward" in seen
            assert not any(r.startswith(("GET /proxy", "POST /proxy")) for r in seen)
            assert not any("x-csrf-token" in r.headers for r in dev.handle.http.requests)
            assert routerfix.apply_ghostcall_mitigation(router).status == "unchanged"
        with connect(dev) as router:
            assert routerfix.remove_ghostcall_mitigation(router, record=record.to_dict()).status == "undone"
        assert dev.handle.snapshot() == before


def test_wrong_site_is_a_device_error_naming_the_site(uos: SimulatedDevice) -> None:
    with pytest.raises(routerfix.DeviceError) as info:
        connect(uos, site="nosuchsite")
    assert "nosuchsite" in str(info.value) and "api.err.NoSiteContext" in str(info.value.device_message)


# --- faults at every write ----------------------------------------------------------------------------------


@pytest.mark.parametrize("nth", [0, 1])
@pytest.mark.parametrize("kind", ["drop", "drop-after", "status"])
def test_fault_at_every_write_ends_mitigated_or_as_before(uos: SimulatedDevice, kind: str, nth: int) -> None:
    before = uos.handle.snapshot()
    uos.handle.http.add_fault(kind, f"POST {OS_PREFIX}rest/portforward", status=500, skip=nth)
    with connect(uos) as router:
        try:
            result = routerfix.apply_ghostcall_mitigation(router)
        except routerfix.RouterfixError:
            result = None
    if kind != "status":  # a lost request or answer is settled by a read: the mitigation completes, once
        assert result is not None and result.status == "mitigated", (kind, nth)
    if result is not None and result.status == "mitigated":
        assert sorted(f["dst_port"] for f in _sip(uos)) == ["5060", "5061"]  # nothing added twice
    else:
        assert uos.handle.snapshot() == before, (kind, nth)


@pytest.mark.parametrize("nth", [0, 1])
@pytest.mark.parametrize("kind", ["drop", "drop-after", "status"])
def test_fault_at_every_undo_write_ends_undone_or_mitigated(uos: SimulatedDevice, kind: str, nth: int) -> None:
    before = uos.handle.snapshot()
    with connect(uos) as router:
        record = routerfix.apply_ghostcall_mitigation(router).to_dict()
    mitigated = uos.handle.snapshot()
    uos.handle.http.add_fault(kind, f"DELETE {OS_PREFIX}rest/portforward/", status=500, skip=nth)
    with connect(uos) as router:
        try:
            status = routerfix.remove_ghostcall_mitigation(router, record=record).status
        except routerfix.RouterfixError:
            status = "failed"
    if kind != "status":
        assert status == "undone", (kind, nth)
    assert uos.handle.snapshot() in (before, mitigated), (kind, nth)


@pytest.mark.parametrize("step", [1, 2])
def test_session_expired_at_a_write_logs_in_again_and_writes_once(uos: SimulatedDevice, step: int) -> None:
    """U6: a write answered 401 was not applied; the driver logs in again, re-reads, then writes."""
    with connect(uos) as router:
        router.read_state()
        uos.handle.expire_token_after(0 if step == 1 else 1)
        router.add_port_forward(PortForward("routerfix-sip-5060", "both", 5060, "10.50.0.251"))
        if step == 2:
            router.add_port_forward(PortForward("routerfix-sip-5061", "both", 5061, "10.50.0.251"))
    assert uos.handle.writes == ["POST rest/portforward"] * step
    assert any(r.status == 401 for r in uos.handle.http.requests)


def test_device_refusal_rolls_back(uos: SimulatedDevice) -> None:
    before = uos.handle.snapshot()
    with connect(uos) as router:
        router.add_port_forward(PortForward("routerfix-sip-5060", "both", 5060, "10.50.0.251"))
        uos.handle.refuse.add("POST rest/portforward")
        uos.handle.forwards[:] = [f for f in uos.handle.forwards if not f["name"].startswith("routerfix")]
        with pytest.raises(routerfix.RouterfixError) as info:
            routerfix.apply_ghostcall_mitigation(router)
    assert "api.err.InvalidPayload" in str(getattr(info.value, "device_message", "")) + str(info.value) + \
        " ".join(getattr(info.value, "__notes__", []))
    assert uos.handle.snapshot() == before


def test_write_without_csrf_token_is_refused(uos: SimulatedDevice) -> None:
    """U4: the driver sends the token with every write; the simulator refuses a UniFi OS write without it."""
    with connect(uos) as router:
        router.add_port_forward(PortForward("routerfix-sip-5060", "both", 5060, "10.50.0.251"))
        posts = [r for r in uos.handle.http.requests if r.method == "POST" and "portforward" in r.path]
        assert posts and all(r.headers.get("x-csrf-token") for r in posts)
        http = router.http  # type: ignore[attr-defined]
        http.set_credentials(cookies={"TOKEN": http._auth.cookies["TOKEN"]})  # the cookie, no CSRF header
        page = http.request("POST", f"{OS_PREFIX}rest/portforward", page="bare", data="{}", ok_status=(403,))
    assert page.status == 403 and uos.handle.writes == ["POST rest/portforward"]


# --- the route table and the recorded shapes ---------------------------------------------------------------


def test_every_request_the_driver_sends_is_in_the_route_table(uos: SimulatedDevice) -> None:
    with connect(uos) as router:
        record = routerfix.apply_ghostcall_mitigation(router).to_dict()
        routerfix.remove_ghostcall_mitigation(router, record=record)
    table = (Path(__file__).parents[2] / "docs" / "facts" / "unifi.md").read_text()
    for line in _requests(uos):
        method, path = line.split(" ", 1)
        if path in ("/", "/api/auth/login", "/api/auth/logout"):
            continue
        assert path.startswith(OS_PREFIX), line
        parts = path[len(OS_PREFIX):].split("/")
        route = "/".join(parts[:2]) + ("/<_id>" if len(parts) > 2 else "")
        assert method in ROUTES[route], line
        assert f"| `{route}` |" in table, route


def _shape(record: dict[str, Any], keys: Any) -> dict[str, str]:
    return {k: type(record[k]).__name__ for k in keys}


def test_simulator_answers_have_the_shape_of_aiounifi_recordings(uos: SimulatedDevice) -> None:
    recorded = json.loads((DATA / "aiounifi_fixtures.json").read_text())
    handle = uos.handle
    forward = recorded["port_forwarding"]["data"][0]
    assert recorded["port_forwarding"]["meta"] == {"rc": "ok"}
    with connect(uos) as router:
        router.add_port_forward(PortForward("routerfix-sip-5060", "both", 5060, "10.50.0.251"))
    for mine in handle.forwards:  # the scenario's and the one the driver wrote
        assert _shape(mine, mine) == _shape(forward, forward), mine
    for mine in handle.clients:
        assert _shape(mine, recorded["wired_client"]) == _shape(recorded["wired_client"], recorded["wired_client"])
    user_keys = ("_id", "mac", "name", "hostname", "use_fixedip", "fixed_ip", "network_id", "site_id")
    for mine in handle.users:
        assert _shape(mine, user_keys) == _shape(recorded["wireless_client"], user_keys)
    lan = next(n for n in handle.networks if n.get("attr_hidden_id") == "LAN")
    assert _shape(lan, recorded["network"]) == _shape(recorded["network"], recorded["network"])
    info = json.loads(_get(uos, "stat/sysinfo"))
    assert info["meta"] == {"rc": "ok"}
    assert _shape(info["data"][0], recorded["system_information"]) == _shape(recorded["system_information"],
                                                                             recorded["system_information"])
    assert set(recorded["login_refused"]["meta"]) == {"msg", "rc"}


def _get(dev: SimulatedDevice, route: str) -> str:
    """One GET through a logged-in driver session (so the answer is the simulator's own text)."""
    with connect(dev) as router:
        return str(router.http.get(f"{OS_PREFIX}{route}", page=route).text)  # type: ignore[attr-defined]


# --- capabilities, input, credentials, secrets ---------------------------------------------------------------


def test_no_reservation_without_a_mac_and_notes_say_why(uos: SimulatedDevice) -> None:
    with connect(uos) as router:
        caps = router.capabilities
        assert Feature.DHCP_RESERVATION not in caps and Feature.NAT_MODE not in caps
        assert any("U16" in n and "DHCP range" in n for n in caps.notes)
        with pytest.raises(routerfix.UnsupportedOperation):
            router.reserve_address(Reservation("10.50.0.250", "02:00:00:00:00:01", "x"))
        scope = router.get_dhcp_scope()
        assert {str(r.address) for r in scope.reservations} == {"10.50.0.254", "10.50.0.253"}
        assert str(scope.gateway) == "10.50.0.1" and str(scope.network) == "10.50.0.0/24"
    assert uos.handle.writes == []


def test_bad_input_is_refused_before_any_request(uos: SimulatedDevice) -> None:
    with connect(uos) as router:
        uos.handle.http.clear_requests()
        for bad in (lambda: router.add_port_forward(PortForward("bad\nname", "udp", 5060, "10.50.0.250")),
                    lambda: router.add_port_forward(PortForward("x", "udp", 5060, "10.50.0.250", wan_only=False)),
                    lambda: router.add_port_forward(PortForward("x", "udp", "5060-5061", "10.50.0.250")),
                    lambda: router.remove_port_forward("id")):  # type: ignore[arg-type]
            with pytest.raises(InvalidValue):
                bad()
        assert uos.handle.http.requests == []
    for site in ("", "a/b", "../x", 3):
        with pytest.raises(InvalidValue):
            routerfix.connect("unifi", "127.0.0.1", username="u", password="p", site=site)


@pytest.mark.parametrize("platform", ["unifi_os", "classic"])
def test_wrong_password_is_refused_once_never_retried(platform: str) -> None:
    with simulate("unifi", platform=platform, tls=False) as dev:
        with pytest.raises(AuthenticationError):
            connect(dev, password="wrong-password")
        logins = [r for r in dev.handle.http.requests if r.method == "POST"]
        assert len(logins) == 1 and logins[0].status in (400, 401)


def test_login_rate_limit_is_an_authentication_error() -> None:
    """U8: after too many refusals the console answers 429; that too is never retried."""
    with simulate("unifi", tls=False) as dev:
        dev.handle.failed_logins = 5
        with pytest.raises(AuthenticationError, match="too many failed log-ins"):
            connect(dev)
        assert [r.status for r in dev.handle.http.requests if r.method == "POST"] == [429]


def test_secrets_never_in_logs_or_results(uos: SimulatedDevice, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    uos.handle.http.add_fault("drop", f"POST {OS_PREFIX}rest/portforward")
    with connect(uos) as router:
        result = routerfix.apply_ghostcall_mitigation(router)
        sessions = dict(uos.handle.sessions)
        text = json.dumps(result.to_dict()) + repr(router) + repr(router.http._auth) + caplog.text  # type: ignore[attr-defined]
    assert sessions
    for secret in [uos.password, *sessions, *sessions.values()]:
        assert secret not in text


# --- fingerprint -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["unifi_os", "classic"])
def test_fingerprint_names_unifi_without_credentials(platform: str) -> None:
    with simulate("unifi", platform=platform, tls=platform == "unifi_os") as dev:
        assert dev.port is not None
        result = detect(dev.host, [dev.port], timeout=2, deadline=10)
        sent = list(dev.handle.http.requests)
    assert result.status is DetectStatus.IDENTIFIED and [m.driver for m in result.matches] == ["unifi"], result
    assert result.matches[0].confidence is Confidence.HIGH
    assert not any("cookie" in r.headers or "authorization" in r.headers for r in sent)  # no credentials sent
