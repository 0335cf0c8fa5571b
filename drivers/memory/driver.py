"""The in-memory driver and its router model (see the package docstring)."""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from routerfix.actions import ACTION_KINDS
from routerfix.driver import Driver
from routerfix.errors import (
    AuthenticationError,
    ConnectionDropped,
    DeviceError,
    InvalidValue,
    StateFileError,
    TransportError,
)
from routerfix.held import HeldWrites
from routerfix.model import (
    AddressRange,
    Backup,
    Capabilities,
    DeviceFacts,
    DhcpScope,
    Feature,
    Lease,
    NatMode,
    Neighbour,
    PortForward,
    Reservation,
    forward_from_data,
    reservation_from_data,
    to_data,
)

ALL_FEATURES = frozenset(Feature) - {Feature.UNDO_MARKER}
"""Every feature but the device-held undo marker (the memory router's undo works from records, as before)."""
NAME_MAX = 64
"""Longest forward name the memory router stores."""
FULL = Capabilities(features=ALL_FEATURES, max_forwards=32, forward_ranges=True, forward_both=True,
                    orders_rules=True)


@dataclass
class MemoryRouter:
    """The mutable state of one simulated router."""

    facts: DeviceFacts
    capabilities: Capabilities = FULL
    nat_mode: NatMode = NatMode.OPEN
    sip_alg: bool = True
    forwards: list[PortForward] = field(default_factory=list)
    scope: DhcpScope = field(default_factory=lambda: DhcpScope("192.168.1.0/24", "192.168.1.1",
                                                               (AddressRange("192.168.1.100", "192.168.1.199"),)))
    leases: list[Lease] = field(default_factory=list)
    neighbours: list[Neighbour] = field(default_factory=list)
    answering: set[ipaddress.IPv4Address] = field(default_factory=set)
    """Addresses where something answers a probe although no table lists it (static hosts)."""
    conntrack: int = 0
    """Inbound SIP connection-tracking entries (a scan in progress)."""
    password: str = field(default="admin", repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def to_data(self) -> dict[str, Any]:
        """JSON-ready state (for ``state_file``)."""
        return {
            "facts": to_data(self.facts), "nat_mode": self.nat_mode.value, "sip_alg": self.sip_alg,
            "forwards": [to_data(f) for f in self.forwards], "scope": to_data(self.scope),
            "leases": [to_data(x) for x in self.leases], "neighbours": [to_data(x) for x in self.neighbours],
            "answering": sorted(str(a) for a in self.answering), "conntrack": self.conntrack,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any], capabilities: Capabilities = FULL) -> MemoryRouter:
        """Rebuild from :meth:`to_data` output."""
        try:
            scope = data["scope"]
            return cls(
                facts=DeviceFacts(**data["facts"]), capabilities=capabilities,
                nat_mode=NatMode.parse(data["nat_mode"]), sip_alg=bool(data["sip_alg"]),
                forwards=[forward_from_data(f) for f in data["forwards"]],
                scope=DhcpScope(scope["network"], scope["gateway"],
                                tuple(AddressRange(*p.split("-")) for p in scope["pools"]),
                                tuple(reservation_from_data(r) for r in scope["reservations"])),
                leases=[Lease(**x) for x in data["leases"]], neighbours=[Neighbour(**x) for x in data["neighbours"]],
                answering={ipaddress.IPv4Address(a) for a in data["answering"]}, conntrack=int(data["conntrack"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateFileError(f"memory router state file is not usable: {exc}") from None


def _office() -> MemoryRouter:
    """A small office: two phones, a PC, a printer on a static address, a NAS nobody listed."""
    return MemoryRouter(
        facts=DeviceFacts("routerfix", "in-memory router", "1.0", "office-gw"),
        leases=[
            Lease("192.168.1.100", "00:04:f2:a1:b2:c3", "Polycom-VVX450"),
            Lease("192.168.1.101", "80:5e:c0:11:22:33", "SIP-T46S"),
            Lease("192.168.1.102", "3c:22:fb:44:55:66", "reception-pc"),
        ],
        neighbours=[Neighbour("192.168.1.150", "00:80:77:12:34:56", "printer"),
                    Neighbour("192.168.1.100", "00:04:f2:a1:b2:c3")],
        answering={ipaddress.IPv4Address("192.168.1.199")},
        conntrack=3,
    )


def _pbx() -> MemoryRouter:
    router = _office()
    router.forwards = [PortForward("PBX SIP", "udp", "5060", "192.168.1.10")]
    router.neighbours.append(Neighbour("192.168.1.10", "00:0b:82:aa:bb:cc", "ucm6302"))
    return router


def _full_pool() -> MemoryRouter:
    router = _office()
    router.scope = DhcpScope("192.168.1.0/24", "192.168.1.1", (AddressRange("192.168.1.100", "192.168.1.103"),))
    router.leases.append(Lease("192.168.1.103", "00:11:22:33:44:55", "laptop"))
    return router


SCENARIOS = {
    "office": _office,
    "pbx": _pbx,
    "full-pool": _full_pool,
}
"""Named starting states for the ``scenario`` option."""

_routers: dict[str, MemoryRouter] = {}
_routers_lock = threading.Lock()


class MemoryDriver(Driver):
    """A router that lives in memory (or in a JSON file). Complete and honest about its capabilities."""

    name: ClassVar[str] = "memory"
    capabilities = FULL
    option_names: ClassVar[frozenset[str]] = frozenset({"scenario", "router", "state_file", "fail", "capabilities",
                                                        "batch"})
    option_help: ClassVar[Mapping[str, str]] = {
        "scenario": "starting state of a new router: office (default), pbx or full-pool",
        "router": "a MemoryRouter object to attach to (Python API only)",
        "state_file": "JSON file the router is loaded from and saved to after each change (default: in memory, "
                      "per host, for the process)",
        "fail": "faults to inject (tests): {verb: 'device'|'drop'|'drop-after', with '@N' only its Nth call}",
        "capabilities": "a routerfix.Capabilities to declare instead of full (Python API only)",
        "batch": "true: take every change in one write_batch call (default false)",
    }

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        scenario = self.options.get("scenario", "office")
        if scenario not in SCENARIOS:
            raise InvalidValue("scenario", scenario, f"one of {', '.join(SCENARIOS)}")
        caps = self.options.get("capabilities", FULL)
        if not isinstance(caps, Capabilities):
            raise InvalidValue("capabilities", caps, "a routerfix.Capabilities")
        self.capabilities = caps
        batch = self.options.get("batch", False)
        if not isinstance(batch, bool):
            raise InvalidValue("batch", batch, "True or False")
        if batch:  # a device that takes several changes in one request (the engine's write_batch path)
            self.batch_kinds = ACTION_KINDS  # every plan action kind, in one call
        self._held: HeldWrites[tuple[str, Any]] = HeldWrites()
        self._fail: dict[str, str] = dict(self.options.get("fail") or {})
        self._calls: dict[str, int] = {}
        self._router: MemoryRouter | None = None
        self.transport_security = "n/a"

    # --- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        """Attach to the router for this host (creating it from the scenario the first time)."""
        router = self.options.get("router")
        state_file = self.options.get("state_file")
        if router is None and state_file:
            path = Path(state_file)
            if path.exists():
                router = MemoryRouter.from_data(json.loads(path.read_text(encoding="utf-8")), self.capabilities)
            else:
                router = SCENARIOS[self.options.get("scenario", "office")]()
                router.capabilities = self.capabilities
        if router is None:
            with _routers_lock:
                router = _routers.get(self.host)
                if router is None:
                    router = SCENARIOS[self.options.get("scenario", "office")]()
                    router.capabilities = self.capabilities
                    _routers[self.host] = router
        if not isinstance(router, MemoryRouter):
            raise InvalidValue("router", router, "a MemoryRouter")
        if self.password is not None and self.password.reveal() != router.password:
            raise AuthenticationError("the router refused the password", host=self.host, driver=self.name)
        self._router = router
        self.is_open = True

    def close(self) -> None:
        """Detach."""
        self.is_open = False

    # --- helpers -------------------------------------------------------------------------------

    @property
    def router(self) -> MemoryRouter:
        """The attached router state."""
        if self._router is None or not self.is_open:
            raise ConnectionDropped("the session is not open", host=self.host, driver=self.name)
        return self._router

    def _step(self, verb: str) -> None:
        """Count a call and inject the configured fault, if any."""
        self._calls[verb] = count = self._calls.get(verb, 0) + 1
        spec = self._fail.get(verb)
        if not spec:
            return
        kind, _, nth = spec.partition("@")
        if nth and int(nth) != count:
            return
        if kind == "device":
            raise DeviceError(f"{verb} refused", device_message="simulated device error", host=self.host,
                              driver=self.name)
        if kind == "drop":
            self.is_open = False
            raise ConnectionDropped(f"connection dropped during {verb}", host=self.host, driver=self.name)
        if kind == "drop-after":  # the write lands, then the connection drops before the answer
            self._calls[verb + ":land"] = 1
            return
        raise TransportError(f"unknown fault {spec!r}")

    def _landed_then_drop(self, verb: str) -> None:
        if self._calls.pop(verb + ":land", None):
            self.is_open = False
            raise ConnectionDropped(f"connection dropped after {verb}", host=self.host, driver=self.name)

    def _save(self) -> None:
        state_file = self.options.get("state_file")
        if state_file:
            path = Path(state_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(self.router.to_data(), indent=1), encoding="utf-8")

    def write_batch(self) -> contextlib.AbstractContextManager[None]:
        """With ``batch=True``: hold the writes and apply them together at the end, as one call
        (``write_batch``, which the ``fail`` option can fault like any verb); an error inside drops them."""
        if not self.batch_kinds:
            return contextlib.nullcontext()
        return self._held.block(self._apply_held)

    def _apply_held(self, held: list[tuple[str, Any]]) -> None:
        self._step("write_batch")
        with self.router.lock:
            for _, change in held:
                change(self.router)
        self._save()
        self._landed_then_drop("write_batch")

    def _write(self, verb: str, change: Any) -> None:
        if self._held.active and verb not in ("flush_connections", "restore"):
            self.router  # noqa: B018 - a closed session refuses here, as a real one would
            self._held.hold([(verb, change)])
            return
        self._step(verb)
        with self.router.lock:
            change(self.router)
        self._save()
        self._landed_then_drop(verb)

    # --- reads ---------------------------------------------------------------------------------

    def facts(self) -> DeviceFacts:
        """The router's facts."""
        return self.router.facts

    def get_nat_mode(self) -> NatMode | None:
        """Current NAT filtering."""
        self._step("get_nat_mode")
        return self.router.nat_mode

    def get_sip_alg(self) -> bool | None:
        """Current SIP ALG."""
        return self.router.sip_alg

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """Forwards in rule order, ``ref`` = position."""
        self._step("list_port_forwards")
        return tuple(replace(f, ref=str(i)) for i, f in enumerate(self.router.forwards))

    def get_dhcp_scope(self) -> DhcpScope:
        """Network, gateway, pool and reservations."""
        return self.router.scope

    def list_leases(self) -> tuple[Lease, ...]:
        """Current leases."""
        return tuple(self.router.leases)

    def list_neighbours(self) -> tuple[Neighbour, ...]:
        """The neighbour table."""
        return tuple(self.router.neighbours)

    def probe_address(self, address: ipaddress.IPv4Address) -> bool:
        """Something answers where a lease, a neighbour or a static host is."""
        self._step("probe_address")
        router = self.router
        return (address in router.answering or any(x.address == address for x in router.leases)
                or any(x.address == address for x in router.neighbours))

    def backup(self) -> Backup:
        """The whole state as JSON."""
        return Backup(self.name, "json", json.dumps(self.router.to_data()), time.time())

    # --- writes ----------------------------------------------------------------------------------

    def check_restore_name(self, name: str) -> str:
        """The memory router stores a rule's name as data, never interprets it: any printable text of 1 to
        :data:`NAME_MAX` characters read from it (spaces too, as the ``pbx`` scenario's ``PBX SIP``) can be
        written back, so a replaced forward goes back under its own name."""
        if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX or not name.isprintable() \
                or name != name.strip():
            raise InvalidValue("forward name", name, f"1-{NAME_MAX} printable characters, no surrounding spaces")
        return name

    def _set_nat_mode(self, mode: NatMode) -> None:
        self._write("set_nat_mode", lambda r: setattr(r, "nat_mode", mode))

    def _set_sip_alg(self, enabled: bool) -> None:
        self._write("set_sip_alg", lambda r: setattr(r, "sip_alg", enabled))

    def _add_port_forward(self, forward: PortForward) -> None:
        def change(r: MemoryRouter) -> None:
            caps = self.capabilities
            if caps.max_forwards is not None and len(r.forwards) >= caps.max_forwards:
                raise DeviceError("forward refused", device_message="rule table full", host=self.host,
                                  driver=self.name)
            for f in r.forwards:
                if f.enabled and f.external_ports.overlaps(forward.external_ports) and \
                        f.protocol.members() & forward.protocol.members():
                    raise DeviceError("forward refused", device_message=f"ports overlap rule {f.name!r}",
                                      host=self.host, driver=self.name)
            r.forwards.insert(0, replace(forward, ref=""))  # rules are evaluated in order: ours first
        self._write("add_port_forward", change)

    def _remove_port_forward(self, forward: PortForward) -> None:
        def change(r: MemoryRouter) -> None:
            r.forwards = [f for f in r.forwards if f.key() != forward.key()]
        self._write("remove_port_forward", change)

    def _reserve_address(self, reservation: Reservation) -> None:
        def change(r: MemoryRouter) -> None:
            if any(x.address == reservation.address and x.mac != reservation.mac for x in r.scope.reservations):
                raise DeviceError("reservation refused", device_message="address already reserved",
                                  host=self.host, driver=self.name)
            if not any(x == reservation for x in r.scope.reservations):
                r.scope = replace(r.scope, reservations=(*r.scope.reservations, reservation))
        self._write("reserve_address", change)

    def _release_address(self, reservation: Reservation) -> None:
        def change(r: MemoryRouter) -> None:
            r.scope = replace(r.scope, reservations=tuple(
                x for x in r.scope.reservations if (x.address, x.mac) != (reservation.address, reservation.mac)))
        self._write("release_address", change)

    def _flush_connections(self, ports: tuple[int, ...]) -> int:
        flushed = self.router.conntrack
        self._write("flush_connections", lambda r: setattr(r, "conntrack", 0))
        return flushed

    def _restore(self, backup: Backup) -> None:
        def change(r: MemoryRouter) -> None:
            saved = MemoryRouter.from_data(json.loads(backup.text), r.capabilities)
            for name in ("nat_mode", "sip_alg", "forwards", "scope", "leases", "neighbours"):
                setattr(r, name, copy.deepcopy(getattr(saved, name)))
        self._write("restore", change)


def reset_routers() -> None:
    """Forget every in-process router (tests)."""
    with _routers_lock:
        _routers.clear()
