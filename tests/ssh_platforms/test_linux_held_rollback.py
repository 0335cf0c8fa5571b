"""Self-reverting apply on a Linux router (nftables + dnsmasq): before its first write the run saves routerfix's table
and the hostsfile under /run and starts a ``systemd-run --on-active`` timer that loads them back (L44); ``verify_state``
stops the timer once the read-back matches (docs/facts/linux.md L38-L40).

A client that dies at any command from the run's writes on (the connection drops there and no new login is possible:
what a SIGKILL leaves), or between any two commands of the one AND list that holds them (sshd's hangup ends the shell
there), leaves a router that, once the timer fires (simulated time), is exactly as before the run."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from routerfix.simulators._hosts.ssh import PlatformHandle, SSHSimulatorHost
from routerfix.simulators.linux.device import LinuxRouter, simulate

import routerfix
from routerfix.errors import DeviceError, RouterfixError
from routerfix.simulate import SimulatedDevice

from .conftest import connect, kill_client_during_apply

ARM, VERIFY = 7, 8
"""Commands of a clean run of the lab scenario: 7 is the one AND list of the run's writes (the undo marker, the
arming of the timer, the forward, the reservation), 8 the verifying read."""
CASES = [(i, executes) for i in range(ARM, VERIFY + 1) for executes in (False, True)]
WRITE_LIST = 11
"""Commands in that AND list: 4 for the marker, 4 arm the timer, 1 forward, 2 reserve (each with its end marker)."""


def _config(router: LinuxRouter) -> tuple[str, str, str]:
    with router.lock:
        return router.render(), router.files.get("/etc/dnsmasq.hosts", ""), router.loaded_hosts


@pytest.fixture
def linux(ssh_host: SSHSimulatorHost) -> Iterator[SimulatedDevice]:
    with simulate(host=ssh_host) as device:
        yield dataclasses.replace(device, handle=PlatformHandle(device.handle, device.handle.model))


@pytest.mark.parametrize(("index", "executes"), CASES, ids=[f"{i}-{'ran' if e else 'lost'}" for i, e in CASES])
def test_client_killed_mid_apply_the_router_reverts_itself(index: int, executes: bool, linux: Any) -> None:
    router: LinuxRouter = linux.handle.router
    before = _config(router)
    kill_client_during_apply(linux, index, executes=executes)
    router.advance(60 * 60)
    assert _config(router) == before, "the router kept part of a run that never verified"
    assert not router.timers


@pytest.mark.parametrize("ran", range(1, 2 * WRITE_LIST))
def test_client_killed_between_two_commands_of_the_write_list_the_router_reverts_itself(ran: int, linux: Any) -> None:
    """The hangup comes after ``ran`` commands of the list (its own and their end markers): every prefix of the
    list leaves a router that puts itself back (the timer is armed before the first change to the router)."""
    router: LinuxRouter = linux.handle.router
    before = _config(router)
    router.hangup = ("systemd-run --unit", ran)
    driver = connect(linux)
    linux.handle.device.knobs.fail_auth = True  # the client is gone: nothing logs in again
    try:
        with pytest.raises(RouterfixError):
            routerfix.apply_ghostcall_mitigation(driver)
    finally:
        driver.close()
    assert router.hangup is None, "the hangup did not happen: the case tests nothing"
    router.advance(60 * 60)
    assert _config(router) == before, "the router kept part of a run that never verified"
    assert not router.timers


def test_a_failed_command_of_the_write_list_stops_it_there(linux: Any) -> None:
    """The hostsfile cannot be copied for the revert: ``systemd-run`` and every write after it never run (L48),
    the error names the command the router refused, and the run ends with the router as before."""
    router: LinuxRouter = linux.handle.router
    with router.lock:
        del router.files["/etc/dnsmasq.hosts"]  # cp: cannot stat
    before = _config(router)
    with connect(linux) as driver, pytest.raises(DeviceError, match="cp /etc/dnsmasq.hosts") as caught:
        routerfix.apply_ghostcall_mitigation(driver)
    assert "nothing after it ran" in str(caught.value) and not driver.pending_revert
    assert not router.timers and router.reloads == 0 and ("ip", "routerfix") not in _tables(router)
    assert _config(router) == before


def test_a_verified_run_stops_the_timer_and_nothing_reverts_later(linux: Any) -> None:
    router: LinuxRouter = linux.handle.router
    with connect(linux) as driver:
        assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
        assert not router.timers and not driver.pending_revert
    after = _config(router)
    router.advance(24 * 3600)
    assert router.reverts == 0 and _config(router) == after


def test_a_pending_timer_of_an_earlier_run_is_never_overwritten(linux: Any) -> None:
    router: LinuxRouter = linux.handle.router
    router.timers["routerfix-revert"] = (router.clock + 300, "nft -f /run/routerfix-revert.nft")
    saved = "add table ip routerfix\ndelete table ip routerfix\nadd table ip routerfix\n"  # the earlier run's
    router.files["/run/routerfix-revert.nft"] = saved
    before = _config(router)
    with connect(linux) as driver, pytest.raises(DeviceError) as caught:
        routerfix.apply_ghostcall_mitigation(driver)
    assert "systemctl stop routerfix-revert.timer" in str(caught.value)
    assert _config(router) == before and router.timers["routerfix-revert"][0] == router.clock + 300
    assert router.files["/run/routerfix-revert.nft"] == saved, "the pending timer's revert file was overwritten"


def test_a_timer_started_since_the_first_read_is_not_taken_for_this_runs(linux: Any) -> None:
    """A timer of the same name started after the run's first read (which found none): ``systemd-run`` refuses the
    second one (L38), the run says what to do, never stops that timer, and writes nothing after the refusal."""
    router: LinuxRouter = linux.handle.router
    with connect(linux) as driver:
        driver.read_state()
        router.timers["routerfix-revert"] = (router.clock + 300, "nft -f /run/routerfix-revert.nft")
        before = _config(router)
        with pytest.raises(DeviceError) as caught:
            routerfix.apply_ghostcall_mitigation(driver)
        assert "systemctl stop routerfix-revert.timer" in str(caught.value) and not driver.pending_revert
    assert _config(router) == before and router.timers["routerfix-revert"][0] == router.clock + 300
    assert ("ip", "routerfix") not in _tables(router) and router.reloads == 0


def test_without_systemd_the_run_goes_on_with_the_engines_rollback(linux: Any, caplog: Any) -> None:
    router: LinuxRouter = linux.handle.router
    router.systemd = False
    with connect(linux) as driver:
        assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
    assert "no systemd-run" in caplog.text and not router.timers


def test_systemd_installed_but_not_the_running_init_holds_nothing(linux: Any, caplog: Any) -> None:
    """A container, or a network namespace on a host whose init is not systemd (L43): ``systemd-run`` exists but
    fails; the run must not send it (it would fail the run before its first write) and goes on with the engine's
    rollback."""
    router: LinuxRouter = linux.handle.router
    router.systemd_init = False
    with connect(linux) as driver:
        assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
    assert "systemd is not the running init" in caplog.text and not router.timers


def test_self_revert_false_never_arms_the_timer(linux: Any) -> None:
    router: LinuxRouter = linux.handle.router
    with connect(linux, self_revert="false") as driver:
        assert routerfix.apply_ghostcall_mitigation(driver).status == "mitigated"
    assert not router.timers and "/run/routerfix-revert.nft" not in router.files


def _tables(router: LinuxRouter) -> dict[tuple[str, str], str]:
    with router.lock:
        return {(t.family, t.name): router.render([t]) for t in router.tables}


def test_the_revert_puts_back_only_what_routerfix_owns(linux: Any) -> None:
    """Killed after the first write; meanwhile another admin adds a table and edits the NAT table. The timer restores
    routerfix's table (absent before the run) and the hostsfile, and leaves the admin's changes alone (L40, L44)."""
    router: LinuxRouter = linux.handle.router
    before = _tables(router)
    hosts = router.files["/etc/dnsmasq.hosts"]
    kill_client_during_apply(linux, ARM, executes=True)
    assert ("ip", "routerfix") in _tables(router), "the first write did not land: the case tests nothing"
    router.nft("add table inet admin; add chain inet admin input { type filter hook input priority filter; "
               "policy accept; }; add rule inet admin input tcp dport 22 accept")
    router.nft('add rule ip nat postrouting oifname "wan1" masquerade')
    admin = _tables(router)
    router.advance(60 * 60)
    after = _tables(router)
    assert ("ip", "routerfix") not in after and router.files["/etc/dnsmasq.hosts"] == hosts
    assert after[("inet", "admin")] == admin[("inet", "admin")]
    assert after[("ip", "nat")] == admin[("ip", "nat")] != before[("ip", "nat")]


def _killed_after_replacing(ssh_host: SSHSimulatorHost, after: str) -> tuple[LinuxRouter, tuple[Any, ...]]:
    """The PBX scenario's run with ``replace_conflicting``, killed right after the command holding ``after`` ran
    (no new login possible): the router and its state before the run."""
    with simulate("pbx", host=ssh_host) as clean:
        with connect(clean) as driver:
            routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True)
        index = next(i for i, line in enumerate(clean.handle.commands) if after in line)
    with simulate("pbx", host=ssh_host) as device:
        router: LinuxRouter = device.handle.model
        before = (_tables(router), router.files["/etc/dnsmasq.hosts"])
        driver = connect(device)
        device.handle.knobs.fail_auth = True
        device.handle.drop_after(index + 1 - device.handle.commands_seen, executes=True)
        try:
            with pytest.raises(RouterfixError):
                routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True)
        finally:
            driver.close()
    return router, before


def test_a_replaced_forward_in_another_table_comes_back(ssh_host: SSHSimulatorHost) -> None:
    """With ``replace_conflicting`` the run deletes a PBX forward in ``ip nat``: that table is saved just before, so
    a run killed after the deletion still ends with the PBX forward in place."""
    router, before = _killed_after_replacing(ssh_host, "delete rule ip nat")
    assert "pbx" not in router.render(), "the forward was not deleted: the case tests nothing"
    router.advance(60 * 60)
    assert (_tables(router), router.files["/etc/dnsmasq.hosts"]) == before


def test_a_foreign_table_that_no_longer_loads_does_not_stop_routerfixs_own_revert(
        ssh_host: SSHSimulatorHost) -> None:
    """The saved ``ip nat`` listing is spoiled before the timer fires (as an nft release that cannot read its own
    listing back would): routerfix's table and the hostsfile still come back, each table file is its own transaction
    (L40, L44)."""
    router, before = _killed_after_replacing(ssh_host, "routerfix-sink >>")
    with router.lock:
        saved = [path for path, text in router.files.items() if path.startswith("/run/") and "table ip nat" in text]
        assert saved, "no saved listing of ip nat: the case tests nothing"
        for path in saved:
            router.files[path] += "this is not nft syntax\n"
    assert ("ip", "routerfix") in _tables(router)
    router.advance(60 * 60)
    after = _tables(router)
    assert ("ip", "routerfix") not in after and router.files["/etc/dnsmasq.hosts"] == before[1]
    assert "pbx" not in router.render(), "the spoiled listing was loaded after all"


def test_a_foreign_table_file_left_by_an_earlier_run_is_never_loaded(linux: Any) -> None:
    """An earlier run's saved listing of another table is still under /run; this run replaces no forward, so its
    timer must load routerfix's table and the hostsfile only, never that file."""
    router: LinuxRouter = linux.handle.router
    with router.lock:
        router.files["/run/routerfix-revert-other.nft"] = "add table inet planted\n"
    before = _config(router)
    kill_client_during_apply(linux, VERIFY - 1, executes=True)
    assert _config(router) != before, "the writes did not land: the case tests nothing"
    router.advance(60 * 60)
    assert ("inet", "planted") not in _tables(router) and _config(router) == before


def test_a_forward_is_not_replaced_when_its_tables_saved_listing_would_not_load_back(
        ssh_host: SSHSimulatorHost) -> None:
    """The saved ``ip nat`` listing fails ``nft -c -f`` (an nft that cannot read back what it lists): the run does
    not delete the PBX forward (the timer could not put it back) and ends as before (L52)."""
    with simulate("pbx", host=ssh_host) as device:
        router: LinuxRouter = device.handle.model
        router.unloadable.add(("ip", "nat"))
        before = (_tables(router), router.files["/etc/dnsmasq.hosts"])
        with connect(device) as driver, pytest.raises(RouterfixError, match="would not load back"):
            routerfix.apply_ghostcall_mitigation(driver, replace_conflicting=True)
        assert "pbx" in router.render() and (_tables(router), router.files["/etc/dnsmasq.hosts"]) == before
        router.advance(60 * 60)
        assert (_tables(router), router.files["/etc/dnsmasq.hosts"]) == before
