"""The driver conformance kit, shipped in the wheel so every driver (built-in or third-party)
proves the same contract.

Use it from pytest by subclassing :class:`DriverConformance` and providing a
``driver`` fixture that yields an open driver on a *fresh* device (a
simulator; never a customer's router)::

    import pytest
    from routerfix.testing import DriverConformance

    class TestMyRouter(DriverConformance):
        @pytest.fixture
        def driver(self, my_simulator):
            with routerfix.connect("myrouter", my_simulator.host, **my_simulator.connect_options()) as d:
                yield d

Each check is also a plain function (``check_*``) for use outside pytest.
Checks for a capability the driver does not declare are skipped, never failed.
"""

from __future__ import annotations

import inspect
import ipaddress
from collections.abc import Iterator
from typing import Any

from routerfix.driver import Driver
from routerfix.engine import apply_ghostcall_mitigation, remove_ghostcall_mitigation
from routerfix.errors import UnsupportedOperation
from routerfix.model import (
    Backup,
    DeviceFacts,
    DhcpScope,
    Feature,
    Lease,
    NatMode,
    Neighbour,
    PortForward,
    PortRange,
    Protocol,
    Reservation,
)
from routerfix.planner import managed_view

__all__ = [
    "DriverConformance",
    "NotApplicable",
    "check_capabilities_honest",
    "check_forward_round_trip",
    "check_mitigation_idempotent",
    "check_open_idempotent",
    "check_read_back_stable",
    "check_reservation_round_trip",
    "check_signatures",
    "check_undo_restores",
]

WRITE_VERBS = ("set_nat_mode", "add_port_forward", "remove_port_forward", "reserve_address", "release_address",
               "set_sip_alg", "flush_connections", "restore")
"""Public write verbs: drivers implement the ``_hook`` of each, never the verb itself."""

READ_VERBS = ("facts", "get_nat_mode", "list_port_forwards", "get_dhcp_scope", "list_leases", "list_neighbours",
              "get_sip_alg", "probe_address", "backup", "read_state", "nat_policy", "open", "close")

KIT_RULE_NAME = "routerfixkit-probe"
KIT_PORT = 45678


class NotApplicable(Exception):
    """The check does not apply to this driver (a capability it does not declare)."""


def check_signatures(driver_cls: type[Driver]) -> None:
    """Write verbs are inherited unchanged; hooks and read verbs keep the base signatures."""
    for verb in WRITE_VERBS:
        assert getattr(driver_cls, verb) is getattr(Driver, verb), \
            f"{driver_cls.__name__} overrides {verb}; implement _{verb} instead (the base validates input)"
        hook = f"_{verb}"
        base_sig = inspect.signature(getattr(Driver, hook))
        sig = inspect.signature(getattr(driver_cls, hook))
        assert list(sig.parameters) == list(base_sig.parameters), \
            f"{driver_cls.__name__}.{hook}{sig} differs from Driver.{hook}{base_sig}"
    assert driver_cls.restore_port_forward is Driver.restore_port_forward, \
        f"{driver_cls.__name__} overrides restore_port_forward; widen check_restore_name instead"
    for verb in READ_VERBS:
        base_sig = inspect.signature(getattr(Driver, verb))
        sig = inspect.signature(getattr(driver_cls, verb))
        assert list(sig.parameters) == list(base_sig.parameters), \
            f"{driver_cls.__name__}.{verb}{sig} differs from Driver.{verb}{base_sig}"
    assert driver_cls.name, f"{driver_cls.__name__} has no registry name"


def check_open_idempotent(driver: Driver) -> None:
    """An open driver says so (``is_open``), so ``with driver:`` does not log in again; a second :meth:`open`
    logs in no more (drivers on :mod:`routerfix.base` count their ``logins``); close is safe twice and the
    driver opens again."""
    assert driver.is_open, f"{type(driver).__name__}.open() returned but is_open is False: `with driver:` and " \
                           f"routerfix.connect would log in a second time"
    logins = getattr(driver, "logins", None)
    driver.open()
    assert driver.__enter__() is driver
    assert driver.is_open, "a second open() left the driver closed"
    if isinstance(logins, int):
        now = getattr(driver, "logins", None)
        assert now == logins, f"a second open() or `with driver:` logged in again ({logins} → {now} logins)"
    driver.close()
    assert not driver.is_open, "close() left is_open True"
    driver.close()
    driver.open()
    assert driver.is_open, "open() after close() left is_open False"


def check_capabilities_honest(driver: Driver) -> None:
    """Every declared feature works and returns the right types; undeclared writes are refused. Checked after a
    first read: a driver may narrow (or, finding a tool, widen) its capabilities once it knows the device."""
    driver.read_state()
    caps = driver.capabilities
    facts = driver.facts()
    assert isinstance(facts, DeviceFacts)
    if Feature.PORT_FORWARD in caps:
        assert all(isinstance(f, PortForward) for f in driver.list_port_forwards())
    if Feature.DHCP_SCOPE in caps:
        assert isinstance(driver.get_dhcp_scope(), DhcpScope)
    if Feature.LEASES in caps:
        assert all(isinstance(x, Lease) for x in driver.list_leases())
    if Feature.NEIGHBOURS in caps:
        assert all(isinstance(x, Neighbour) for x in driver.list_neighbours())
    if Feature.NAT_MODE in caps:
        assert isinstance(driver.get_nat_mode(), NatMode), "NAT_MODE declared but get_nat_mode() gave no mode"
    if Feature.SIP_ALG in caps:
        assert isinstance(driver.get_sip_alg(), bool), "SIP_ALG declared but get_sip_alg() gave no bool"
    if Feature.BACKUP in caps:
        backup = driver.backup()
        assert isinstance(backup, Backup) and backup.driver == driver.name and backup.text
    if Feature.PROBE in caps and Feature.DHCP_SCOPE in caps:
        assert isinstance(driver.probe_address(driver.get_dhcp_scope().gateway), bool)
    writes = driver.writes
    if Feature.NAT_MODE not in caps:
        _refused(lambda: driver.set_nat_mode(NatMode.SECURE))
    if Feature.SIP_ALG not in caps:
        _refused(lambda: driver.set_sip_alg(False))
    if Feature.DHCP_RESERVATION not in caps:
        _refused(lambda: driver.reserve_address(Reservation("192.0.2.1", "02:00:00:00:00:01", "kit")))
    if Feature.PORT_FORWARD not in caps:
        _refused(lambda: driver.add_port_forward(PortForward("kit", "udp", 1, "192.0.2.1")))
    assert driver.writes == writes, "a refused write was counted as sent"
    state = driver.read_state()
    assert state.capabilities == driver.capabilities


def _refused(call: Any) -> None:
    try:
        call()
    except UnsupportedOperation:
        return
    raise AssertionError("an undeclared capability was not refused with UnsupportedOperation")


def _kit_address(driver: Driver) -> ipaddress.IPv4Address:
    scope = driver.get_dhcp_scope()
    used = {x.address for x in driver.list_leases()} if Feature.LEASES in driver.capabilities else set()
    pool = scope.pools[0]
    for address in pool.from_top():
        if address not in used and address != scope.gateway:
            return address
    raise NotApplicable("no free pool address for the round-trip rule")


def check_forward_round_trip(driver: Driver) -> None:
    """A forward added is listed back equal, then removed without a trace; the customer's rules survive."""
    if Feature.PORT_FORWARD not in driver.capabilities or Feature.DHCP_SCOPE not in driver.capabilities:
        raise NotApplicable("no port forwarding")
    caps = driver.capabilities
    before = driver.list_port_forwards()
    ports = PortRange(KIT_PORT, KIT_PORT + 1) if caps.forward_ranges else PortRange(KIT_PORT)
    rule = PortForward(KIT_RULE_NAME, Protocol.BOTH if caps.forward_both else Protocol.UDP, ports,
                       _kit_address(driver))
    driver.add_port_forward(rule)
    listed = driver.list_port_forwards()
    assert [f.key() for f in listed].count(rule.key()) == 1, f"added {rule.describe()}, listed {listed}"
    others = [f.key() for f in listed if f.key() != rule.key()]
    assert sorted(others) == sorted(f.key() for f in before), "adding a rule changed other rules"
    if caps.orders_rules:
        assert listed[0].key() == rule.key(), "the device orders rules but the new rule is not first"
    driver.remove_port_forward(next(f for f in listed if f.key() == rule.key()))
    after = driver.list_port_forwards()
    assert sorted(f.key() for f in after) == sorted(f.key() for f in before), "remove left a trace"
    driver.remove_port_forward(rule)  # absent: not an error


def check_reservation_round_trip(driver: Driver) -> None:
    """A reservation made is read back in the scope, then released."""
    if Feature.DHCP_RESERVATION not in driver.capabilities:
        raise NotApplicable("no DHCP reservations")
    reservation = Reservation(_kit_address(driver), "02:00:00:4b:49:54", "routerfixkit")
    driver.reserve_address(reservation)
    assert any((r.address, r.mac) == (reservation.address, reservation.mac)
               for r in driver.get_dhcp_scope().reservations)
    driver.release_address(reservation)
    assert not any((r.address, r.mac) == (reservation.address, reservation.mac)
                   for r in driver.get_dhcp_scope().reservations)


def check_read_back_stable(driver: Driver) -> None:
    """Two reads without a write in between give the same managed view."""
    assert managed_view(driver.read_state()) == managed_view(driver.read_state())


def check_mitigation_idempotent(driver: Driver, **options: Any) -> None:
    """The mitigation applies and verifies; a second run sends no write and says changed=False."""
    first = apply_ghostcall_mitigation(driver, **options)
    if first.status == "verdict":
        raise NotApplicable(f"the driver returns a verdict: {first.plan.verdicts[0].remedy.value}")
    assert first.status in ("mitigated", "unchanged"), first.status
    writes = driver.writes
    second = apply_ghostcall_mitigation(driver, **options)
    assert second.changed is False and second.status == "unchanged", second.to_dict()["actions"]
    assert driver.writes == writes, f"a second run sent {driver.writes - writes} write(s)"


def check_undo_restores(driver: Driver, **options: Any) -> None:
    """Mitigate then undo (from the saved record) returns the managed view to what it was."""
    before = managed_view(driver.read_state())
    result = apply_ghostcall_mitigation(driver, **options)
    if result.status == "verdict":
        raise NotApplicable("the driver returns a verdict")
    undone = remove_ghostcall_mitigation(driver, record=result.to_dict())
    assert undone.status in ("undone", "nothing_to_undo")
    assert managed_view(driver.read_state()) == before
    again = remove_ghostcall_mitigation(driver, record=result.to_dict())
    assert again.changed is False


class DriverConformance:
    """pytest mix-in: subclass it (name the subclass ``Test...``) and provide a ``driver`` fixture
    yielding an open driver on a fresh simulated device. ``mitigation_options`` may be overridden."""

    mitigation_options: dict[str, Any] = {}

    @staticmethod
    def _run(check: Any, *args: Any, **kwargs: Any) -> None:
        try:
            check(*args, **kwargs)
        except NotApplicable as exc:
            import pytest

            pytest.skip(str(exc))

    def test_signatures(self, driver: Driver) -> None:
        """Contract signatures."""
        self._run(check_signatures, type(driver))

    def test_open_idempotent(self, driver: Driver) -> None:
        """is_open is kept; a second open() does not log in twice."""
        self._run(check_open_idempotent, driver)

    def test_capabilities_honest(self, driver: Driver) -> None:
        """Declared capabilities work; undeclared ones are refused."""
        self._run(check_capabilities_honest, driver)

    def test_forward_round_trip(self, driver: Driver) -> None:
        """Add/list/remove round trip."""
        self._run(check_forward_round_trip, driver)

    def test_reservation_round_trip(self, driver: Driver) -> None:
        """Reserve/release round trip."""
        self._run(check_reservation_round_trip, driver)

    def test_read_back_stable(self, driver: Driver) -> None:
        """Reads are stable."""
        self._run(check_read_back_stable, driver)

    def test_mitigation_idempotent(self, driver: Driver) -> None:
        """Second run changes nothing."""
        self._run(check_mitigation_idempotent, driver, **self.mitigation_options)

    def test_undo_restores(self, driver: Driver) -> None:
        """Undo returns the device to its earlier state."""
        self._run(check_undo_restores, driver, **self.mitigation_options)


def iter_checks() -> Iterator[str]:
    """Names of the checks, for reports."""
    return (name for name in __all__ if name.startswith("check_"))
