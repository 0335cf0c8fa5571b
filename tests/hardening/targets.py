"""The drivers the hardening suite covers, and how to read each simulator's own state.

A :class:`Target` names a driver, the simulator knobs of its starting state, its kind (``ssh``, ``http`` or
``memory``, which decides how faults are injected), a device-error line its CLI would print (SSH only) and a
function returning the simulator's own view of everything the mitigation may touch (ids, handles, timestamps
and connection tracking left out, so that "exactly as before" compares content).
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from routerfix.simulate import SimulatedDevice

__all__ = ["ALL_TARGETS", "TARGETS", "Target", "native_state", "scrub"]

_SKIP_KEYS = frozenset({"lock", "handle", "id", "next_id", "next_handle", "conntrack", "reloads", "http", "server",
                        "_lock", "pages", "leases", "neighbours", "devices", "sessions", "timestamps", "token",
                        "holder", "holder_seen"})


def scrub(value: Any, depth: int = 0) -> Any:
    """``value`` as plain data (dataclasses, dicts, lists), minus volatile keys (ids, handles, locks...)."""
    if depth > 12:
        return repr(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: scrub(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)
                if f.name not in _SKIP_KEYS and not f.name.startswith("_")}
    if isinstance(value, dict):
        return {str(k): scrub(v, depth + 1) for k, v in value.items() if str(k) not in _SKIP_KEYS}
    if isinstance(value, (list, tuple)):
        return [scrub(v, depth + 1) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(repr(scrub(v, depth + 1)) for v in value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv4Network)):
        return str(value)
    return repr(value)


def _memory_state(device: SimulatedDevice) -> Any:
    from routerfix.drivers.memory.driver import _routers

    router = _routers.get(device.host)
    if router is None:
        return None
    return scrub({"forwards": router.forwards, "reservations": router.scope.reservations,
                  "nat": router.nat_mode, "sip_alg": router.sip_alg})


def _mikrotik_state(device: SimulatedDevice) -> Any:
    state = device.handle.model
    with state.lock:
        menus = {menu: [(dict(i.props), i.disabled) for i in items if not i.dynamic]
                 for menu, items in sorted(state.menus.items()) if "connection" not in menu}
    menus["ip firewall nat"] = _sort_own_runs(menus.get("ip firewall nat", []))
    return menus


def _sort_own_runs(items: list[Any]) -> list[Any]:
    """routerfix's tcp and udp rules may swap places after a reconnect (both stay ahead of every other rule):
    order within a run of adjacent routerfix rules is not significant."""
    out: list[Any] = []
    run: list[Any] = []
    for item in [*items, None]:
        if item is not None and str(item[0].get("comment", "")).startswith("routerfix-sip"):
            run.append(item)
            continue
        out += sorted(run, key=repr)
        run = []
        if item is not None:
            out.append(item)
    return out


def _linux_state(device: SimulatedDevice) -> Any:
    router = device.handle.model
    with router.lock:
        tables = scrub(router.tables)
        return {"tables": _drop_guard(tables), "hosts": router.files.get(router.hostsfile or "", ""),
                "loaded_hosts": router.loaded_hosts}


def _drop_guard(tables: Any) -> Any:
    """The scanner guard (a masquerade chain and a set of scanner addresses) is a side effect of flushing
    connection tracking, not part of the mitigation: left out of the comparison."""
    out = []
    for table in tables:
        chains = {name: c for name, c in table.get("chains", {}).items() if "scanner-guard" not in repr(c)}
        sets = {name: v for name, v in table.get("sets", {}).items() if name != "sip_scanners"}
        out.append({**table, "chains": chains, "sets": sets})
    return out


def _netgear_state(device: SimulatedDevice) -> Any:
    sim = device.handle
    sim.settle()
    cfg = sim.config
    with cfg.lock:
        return {"rules": scrub(cfg.rules), "nat_secured": cfg.nat_secured, "sip_alg": cfg.sip_alg, "spi": cfg.spi,
                "dhcp": (cfg.dhcp_start, cfg.dhcp_end)}


def _asus_state(device: SimulatedDevice) -> Any:
    router = device.handle
    return {k: router.nvram.get(k) for k in ("vts_enable_x", "vts_rulelist", "dhcp_staticlist", "dhcp_start",
                                              "dhcp_end")}


def _linksys_state(device: SimulatedDevice) -> Any:
    router = device.handle
    return scrub({"single": router.single, "range": router.range, "lan": router.lan, "alg": router.alg})


def _meraki_state(device: SimulatedDevice) -> Any:
    cloud = device.handle
    return scrub({"rules": cloud.rules, "fixed": cloud.vlan["fixedIpAssignments"], "single_lan": cloud.single_lan})


def _opnsense_state(device: SimulatedDevice) -> Any:
    fw = device.handle  # saved and running rules/reservations, without uuids and sequence numbers

    def rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k not in ("uuid", "sequence", "subnet")} for r in items]

    return scrub({"rules": rows(fw.rules), "running_rules": rows(fw.running_rules),
                  "reservations": rows(fw.reservations), "running_reservations": rows(fw.running_reservations)})


def _fortigate_state(device: SimulatedDevice) -> Any:
    return device.handle.snapshot()


def _unifi_state(device: SimulatedDevice) -> Any:
    return device.handle.snapshot()


def _sonicwall_state(device: SimulatedDevice) -> Any:
    return device.handle.snapshot()


def _tplink_state(device: SimulatedDevice) -> Any:
    router = device.handle
    return scrub({"vs": router.vs, "reservations": router.reservations, "pool": router.pool})


def _upnp_state(device: SimulatedDevice) -> Any:
    return scrub(device.handle.mappings)


def _cisco_state(device: SimulatedDevice) -> Any:
    router = device.handle.router
    with router.lock:
        return scrub({"running": router.running, "startup": router.startup})


def _vyos_state(device: SimulatedDevice) -> Any:
    router = device.handle.router
    with router.lock:
        return scrub({"running": router.running, "saved": router.saved})


def _openwrt_state(device: SimulatedDevice) -> Any:
    router = device.handle.router
    with router.lock if hasattr(router, "lock") else _nolock():
        return scrub({"committed": router.committed, "staged": router.staged, "changes": router.changes,
                      "active_firewall": router.active_firewall})


class _nolock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _generic_state(device: SimulatedDevice) -> Any:
    """Simulators of the platform drivers: their state object, scrubbed."""
    handle = device.handle
    for attr in ("router", "model", "config", "state", "nvram"):
        obj = getattr(handle, attr, None)
        if obj is not None and not callable(obj):
            return scrub(obj)
    return scrub(handle)


@dataclass(frozen=True)
class Target:
    """One driver in the hardening matrices."""

    id: str
    driver: str
    kind: str
    """``ssh``, ``http`` or ``memory``: how faults are injected."""
    knobs: dict[str, Any] = field(default_factory=dict)
    native: Callable[[SimulatedDevice], Any] = _generic_state
    error_line: str = "Error: simulated device refusal"
    """A line the driver's CLI error patterns recognise (SSH)."""
    options: dict[str, Any] = field(default_factory=dict)
    token: bool = True
    """Web drivers: the device has a session token that can expire (JNAP sends credentials every request)."""

    def __str__(self) -> str:
        return self.id


TARGETS: tuple[Target, ...] = (
    Target("memory", "memory", "memory", native=_memory_state),
    Target("mikrotik-v7", "mikrotik", "ssh", native=_mikrotik_state, error_line="failure: simulated device refusal"),
    Target("mikrotik-v6", "mikrotik", "ssh", {"version": "6.49.10", "scenario": "secure"}, native=_mikrotik_state,
           error_line="failure: simulated device refusal"),
    Target("linux", "linux", "ssh", native=_linux_state, error_line="Error: simulated device refusal"),
    Target("netgear-R7000", "netgear", "http", {"model": "R7000"}, native=_netgear_state),
    Target("netgear-R7800", "netgear", "http", {"model": "R7800"}, native=_netgear_state),
    Target("asuswrt", "asuswrt", "http", native=_asus_state),
    Target("linksys", "linksys", "http", native=_linksys_state, token=False),
    Target("tplink", "tplink", "http", native=_tplink_state),
    Target("meraki", "meraki", "http", native=_meraki_state, token=False),
    Target("opnsense", "opnsense", "http", native=_opnsense_state, token=False),
    Target("fortigate", "fortigate", "http", {"tls": False}, native=_fortigate_state, token=False),
    Target("unifi", "unifi", "http", {"tls": False}, native=_unifi_state),
    Target("sonicwall", "sonicwall", "http", {"tls": False}, native=_sonicwall_state),
    Target("cisco_ios", "cisco_ios", "ssh", native=_cisco_state, error_line="% Invalid input detected at '^' marker."),
    Target("cisco_ios-xe", "cisco_ios", "ssh", {"xe": True}, native=_cisco_state,
           error_line="% Invalid input detected at '^' marker."),
    Target("vyos", "vyos", "ssh", native=_vyos_state, error_line="  Set failed"),
    Target("edgeos", "edgeos", "ssh", native=_vyos_state, error_line="  Set failed"),
    Target("openwrt", "openwrt", "ssh", native=_openwrt_state, error_line="uci: Invalid argument"),
)
"""Every driver that writes, with a simulator (each driver's own tests pass)."""

ALL_TARGETS = TARGETS


def native_state(target: Target, device: SimulatedDevice) -> Any:
    """The simulator's own state of ``device`` (see :class:`Target`)."""
    return target.native(device)
