"""Item 6: a fleet of ten simulated routers where four fail, each differently (bad password, unreachable,
garbled GUI, device error): every device gets a result, the six others succeed, the bad password is tried exactly
once (counted at the simulator: no lockout), and rerunning only the failures (``only_failed``) works once the
faults are fixed — without touching the devices that had succeeded."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from routerfix.simulators._hosts.ssh import SSHSimulatorHost

from routerfix.fleet import run_fleet
from routerfix.inventory import FleetHost
from routerfix.secrets import Secret
from routerfix.simulate import SimulatedDevice

from .faults import FAST, _http, fresh_device, ssh_device
from .targets import ALL_TARGETS, native_state

GOOD = ("mikrotik-v7", "mikrotik-v6", "linux", "netgear-R7000", "tplink", "linksys")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _host(name: str, device: SimulatedDevice, password: str | None = None, **extra: Any) -> FleetHost:
    options = {k: v for k, v in device.options.items()}
    return FleetHost(name=name, hostname=device.host, driver=device.driver, port=device.port,
                     username=device.username or None, password=Secret(password or device.password),
                     options=options, timeouts=FAST, **extra)


@contextlib.contextmanager
def _fleet(ssh_host: SSHSimulatorHost) -> Iterator[dict[str, SimulatedDevice]]:
    targets = {t.id: t for t in ALL_TARGETS}
    with contextlib.ExitStack() as stack:
        devices = {tid: stack.enter_context(fresh_device(targets[tid], ssh_host)) for tid in GOOD}
        devices["bad-password"] = stack.enter_context(fresh_device(targets["mikrotik-v7"], ssh_host))
        devices["garbled"] = stack.enter_context(fresh_device(targets["asuswrt"]))
        # a full rule table: the router refuses the add with its own "Failure" page (a device error)
        from routerfix.simulators.netgear.state import Rule

        devices["device-error"] = stack.enter_context(fresh_device(
            targets["netgear-R7800"], max_rules=1, rules=[Rule("NAS", "TCP", 443, 443, 443, 443, "192.168.1.20")]))
        yield devices


def test_one_in_ten_fails_differently(ssh_host: SSHSimulatorHost, tmp_path: Path) -> None:
    targets = {t.id: t for t in ALL_TARGETS}
    with _fleet(ssh_host) as devices:
        initial = {n: native_state(targets[n], devices[n]) for n in GOOD}
        hosts = [_host(name, dev) for name, dev in devices.items() if name != "bad-password"]
        hosts.append(_host("bad-password", devices["bad-password"], password="not-the-password"))
        closed = _free_port()
        hosts.append(FleetHost(name="unreachable", hostname="127.0.0.1", driver="linux", port=closed,
                               username="root", password=Secret("x" * 12), timeouts=FAST,
                               options={"host_key_fingerprint": "SHA256:" + "A" * 43}))
        assert len(hosts) == 10
        _http(devices["garbled"]).add_fault("garble", times=10_000)
        state = tmp_path / "state"

        report = run_fleet(hosts, "mitigate", workers=10, state_dir=state)

        by = {r.name: r for r in report.results}
        assert set(by) == {h.name for h in hosts}, "a device got no result"
        for name in GOOD:
            assert by[name].ok and by[name].status == "mitigated", (name, by[name].error_type, by[name].error_message)
        assert by["bad-password"].error_type == "AuthenticationError"
        assert by["unreachable"].error_type in ("ConnectTimeout", "TransportError", "ConnectionDropped")
        assert by["garbled"].error_type in ("ParseError", "SessionError", "DeviceError"), by["garbled"]
        assert by["device-error"].error_type == "DeviceError", by["device-error"]
        assert len({by[n].error_type for n in ("bad-password", "unreachable", "garbled", "device-error")}) == 4
        assert ssh_device(devices["bad-password"]).auth_attempts == 1, "the wrong password was tried more than once"
        assert report.exit_code() == 1
        assert all(not r.changed for r in report.failed)
        assert [r.name for r in devices["device-error"].handle.config.rules] == ["NAS"], "the refused device changed"

        # fix three faults; the unreachable host stays unreachable
        _http(devices["garbled"]).clear_faults()
        devices["device-error"].handle.config.max_rules = 20
        fixed = [h if h.name != "bad-password" else _host("bad-password", devices["bad-password"]) for h in hosts]
        sessions_before = {n: devices[n].handle.logins for n in GOOD if hasattr(devices[n].handle, "logins")
                           and isinstance(devices[n].handle.logins, int)}
        assert len(sessions_before) >= 4
        rerun = run_fleet(fixed, "mitigate", workers=10, state_dir=state, only_failed=report)

        again = {r.name: r for r in rerun.results}
        assert set(again) == {"bad-password", "unreachable", "garbled", "device-error"}
        for name in ("bad-password", "garbled", "device-error"):
            assert again[name].ok and again[name].status == "mitigated", (name, again[name].error_message)
        assert not again["unreachable"].ok
        assert ssh_device(devices["bad-password"]).auth_attempts == 2
        assert sessions_before == {n: devices[n].handle.logins for n in sessions_before}, \
            "the rerun of failures touched a device that had succeeded"

        # and the whole fleet undoes cleanly, each device from its own record (several share 127.0.0.1)
        undone = run_fleet(fixed, "undo", workers=10, state_dir=state)
        status = {r.name: r.status for r in undone.results}
        assert all(status[n] == "undone" for n in GOOD), status
        for name in GOOD:
            assert native_state(targets[name], devices[name]) == initial[name], f"{name} not back as it was"
