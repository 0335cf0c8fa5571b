"""Immutable, validated value types shared by every driver and the engine.

Every constructor validates and normalises its input; a bad value raises
:class:`routerfix.errors.InvalidValue` (a ``ValueError``) naming the field,
the value and what would be accepted. Addresses are :mod:`ipaddress` objects
(strings are accepted and converted); MAC addresses are normalised to
lower-case, colon-separated form.

Text that routerfix *writes* to a device (rule names, reservation names) must
pass :func:`check_device_name`: a short, conservative character set, so no CLI
or form injection can travel through it. Text *read* from a device (a
customer's rule names, DHCP host names) is kept as read, minus control
characters, and is never written back.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from routerfix.errors import InvalidValue

__all__ = [
    "AddressRange",
    "Backup",
    "Capabilities",
    "DEVICE_NAME_MAX",
    "DeviceFacts",
    "DeviceState",
    "DhcpScope",
    "Feature",
    "Lease",
    "NatMode",
    "Neighbour",
    "PortForward",
    "PortRange",
    "Protocol",
    "Remedy",
    "Reservation",
    "check_device_name",
    "clean_device_text",
    "normalise_mac",
]

IPv4 = ipaddress.IPv4Address
DEVICE_NAME_MAX = 30
"""Longest name routerfix writes to a device (Netgear's ``portname`` limit is the tightest known)."""

_DEVICE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_MAC_RE = re.compile(r"[0-9a-f]{12}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""Control characters, line/paragraph separators and the bidirectional embedding/override/isolate characters (which
reorder how a terminal or a page shows the text around them): never kept from text a device sent."""
_READ_TEXT_MAX = 256


def check_device_name(value: object, field_name: str = "name") -> str:
    """Return ``value`` if it is safe to send to a device as a name, else raise.

    Safe means: 1 to 30 ASCII characters, letters, digits, ``_``, ``.`` and
    ``-``, starting with a letter or digit. Quotes, spaces, ``;``, ``[``,
    brackets, HTML, shell metacharacters, newlines and unicode look-alikes are
    all refused.
    """
    if not isinstance(value, str) or not value.isascii() or _DEVICE_NAME_RE.fullmatch(value) is None \
            or len(value) > DEVICE_NAME_MAX:
        raise InvalidValue(
            field_name,
            value,
            f"1-{DEVICE_NAME_MAX} ASCII letters, digits, '_', '.' or '-', starting with a letter or digit",
        )
    return value


def _read_text(value: object, field_name: str) -> str:
    """Text read from a device: any string, control characters removed, bounded length."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidValue(field_name, value, "a string")
    return _CONTROL_RE.sub("", value)[:_READ_TEXT_MAX]


def _reservation_name(value: object) -> str:
    """A reservation's name: read from a device (kept, bounded) or to be written (checked by the write verb).
    Control characters become U+FFFD rather than vanishing, so that ``"sip\\nreboot"`` can never turn into the
    valid-looking ``"sipreboot"`` and slip through :func:`check_device_name`."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidValue("reservation name", value, "a string")
    return _CONTROL_RE.sub("\ufffd", value)[:_READ_TEXT_MAX]


def without_controls(text: str) -> str:
    """``text`` with control characters removed and no length bound (log lines that quote a device)."""
    return _CONTROL_RE.sub("", text)


def clean_device_text(value: str) -> str:
    """Text read from a device with control characters removed and its length bounded: drivers use it
    on names they parse (a customer's rule names) before building model values."""
    return without_controls(value)[:_READ_TEXT_MAX]


def _name_text(value: object, field_name: str) -> str:
    """A rule name: any printable text (it may be the customer's), no control characters."""
    if not isinstance(value, str) or _CONTROL_RE.search(value) or len(value) > _READ_TEXT_MAX:
        raise InvalidValue(field_name, value, f"printable text of at most {_READ_TEXT_MAX} characters "
                           "(drivers: pass names read from a device through clean_device_text)")
    return value


def normalise_mac(value: object, field_name: str = "mac") -> str:
    """Normalise a MAC address (``aa:bb:..``, ``AA-BB-..``, ``aabb.ccdd.eeff``) to ``aa:bb:cc:dd:ee:ff``."""
    if not isinstance(value, str):
        raise InvalidValue(field_name, value, "a MAC address such as 02:00:00:00:00:01")
    digits = re.sub(r"[:.\-]", "", value.strip().lower())
    if _MAC_RE.fullmatch(digits) is None:
        raise InvalidValue(field_name, value, "a MAC address such as 02:00:00:00:00:01")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def _ipv4(value: object, field_name: str) -> IPv4:
    if isinstance(value, IPv4):
        return value
    if isinstance(value, str):
        try:
            return IPv4(value.strip())
        except ValueError:
            pass
    raise InvalidValue(field_name, value, "an IPv4 address such as 192.168.1.250")


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


class NatMode(enum.StrEnum):
    """NAT filtering: ``secure`` (endpoint-dependent, "Secured") or ``open`` (endpoint-independent, "Open")."""

    SECURE = "secure"
    OPEN = "open"

    @classmethod
    def parse(cls, value: object) -> NatMode:
        """Accept a :class:`NatMode` or its value (``"secure"``/``"open"``, any case)."""
        if isinstance(value, NatMode):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        raise InvalidValue("nat_mode", value, "'secure' or 'open'")


class Protocol(enum.StrEnum):
    """Transport protocol of a forward: ``tcp``, ``udp`` or ``both``."""

    TCP = "tcp"
    UDP = "udp"
    BOTH = "both"

    @classmethod
    def parse(cls, value: object) -> Protocol:
        """Accept a :class:`Protocol` or ``"tcp"``/``"udp"``/``"both"`` (also ``"tcp/udp"``, any case)."""
        if isinstance(value, Protocol):
            return value
        if isinstance(value, str):
            text = value.strip().lower()
            if text in ("tcp/udp", "tcp+udp", "udp/tcp", "all", "tcpudp"):
                return cls.BOTH
            try:
                return cls(text)
            except ValueError:
                pass
        raise InvalidValue("protocol", value, "'tcp', 'udp' or 'both'")

    def members(self) -> frozenset[Protocol]:
        """The single protocols this one stands for: ``both`` → {tcp, udp}."""
        if self is Protocol.BOTH:
            return frozenset({Protocol.TCP, Protocol.UDP})
        return frozenset({self})


@dataclass(frozen=True, order=True)
class PortRange:
    """An inclusive range of ports, 1-65535. ``PortRange(5060)`` is a single port.

    Accepts ints, ``"5060"`` and ``"5060-5061"`` via :meth:`parse`.
    """

    start: int
    end: int = 0

    def __post_init__(self) -> None:
        start = _port(self.start, "port")
        end = start if self.end in (0, None) else _port(self.end, "port")
        if end < start:
            raise InvalidValue("port range", f"{start}-{end}", "a range whose first port is not above its last")
        _set(self, "start", start)
        _set(self, "end", end)

    @classmethod
    def parse(cls, value: object, field_name: str = "ports") -> PortRange:
        """Build a range from a :class:`PortRange`, an int or text like ``"5060"``/``"5060-5061"``."""
        if isinstance(value, PortRange):
            return value
        if isinstance(value, bool):
            raise InvalidValue(field_name, value, "a port 1-65535 or a range like 5060-5061")
        if isinstance(value, int):
            return cls(_port(value, field_name))
        if isinstance(value, str):
            match = re.fullmatch(r"\s*(\d{1,5})\s*(?:[-:]\s*(\d{1,5})\s*)?", value, re.ASCII)
            if match:
                try:
                    return cls(int(match.group(1)), int(match.group(2) or 0))
                except InvalidValue:
                    pass
        raise InvalidValue(field_name, value, "a port 1-65535 or a range like 5060-5061")

    def __str__(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start}-{self.end}"

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start, self.end + 1))

    def __len__(self) -> int:
        return self.end - self.start + 1

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.start <= port <= self.end

    def overlaps(self, other: PortRange) -> bool:
        """True when the two ranges share at least one port."""
        return self.start <= other.end and other.start <= self.end


def _port(value: object, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InvalidValue(field_name, value, "a port number from 1 to 65535")
    return value


@dataclass(frozen=True)
class PortForward:
    """A WAN-to-LAN port forward (destination NAT rule).

    :param name: the rule's name or comment on the device. Names read from a
        device are kept as read; names routerfix writes are checked with
        :func:`check_device_name` when written.
    :param protocol: ``tcp``, ``udp`` or ``both``.
    :param external_ports: WAN port or range.
    :param internal_address: LAN address the traffic goes to.
    :param internal_ports: LAN port or range; defaults to ``external_ports``.
    :param enabled: whether the rule is active.
    :param wan_only: True when the rule matches only traffic arriving on the WAN
        (every consumer GUI forward; on CLI devices, a rule restricted to the
        WAN interface). A rule that is not would also catch the phones' own
        outbound SIP.
    :param ref: the device's own handle for the rule (index, rule number,
        ``.id``); opaque to the engine, used by the driver to remove it.
    """

    name: str
    protocol: Protocol
    external_ports: PortRange
    internal_address: IPv4
    internal_ports: PortRange | None = None
    enabled: bool = True
    wan_only: bool = True
    ref: str = field(default="", compare=False)

    if TYPE_CHECKING:
        def __init__(self, name: str, protocol: Protocol | str, external_ports: PortRange | int | str,
                     internal_address: IPv4 | str, internal_ports: PortRange | int | str | None = None,
                     enabled: bool = True, wan_only: bool = True, ref: str = "") -> None: ...

    def __post_init__(self) -> None:
        _set(self, "name", _name_text(self.name, "name"))
        _set(self, "protocol", Protocol.parse(self.protocol))
        _set(self, "external_ports", PortRange.parse(self.external_ports, "external_ports"))
        _set(self, "internal_address", _ipv4(self.internal_address, "internal_address"))
        internal = self.external_ports if self.internal_ports is None else PortRange.parse(
            self.internal_ports, "internal_ports")
        if len(internal) != len(self.external_ports) and len(internal) != 1:
            raise InvalidValue("internal_ports", str(internal),
                               f"a single port or a range as long as external_ports ({self.external_ports})")
        _set(self, "internal_ports", internal)
        _set(self, "ref", _read_text(self.ref, "ref"))
        if not isinstance(self.enabled, bool):
            raise InvalidValue("enabled", self.enabled, "True or False")
        if not isinstance(self.wan_only, bool):
            raise InvalidValue("wan_only", self.wan_only, "True or False")

    def covers(self, protocol: Protocol, port: int) -> bool:
        """True when this enabled rule catches ``protocol``/``port`` arriving on the WAN."""
        return self.enabled and protocol in self.protocol.members() and port in self.external_ports

    def key(self) -> tuple[str, str, str, str, str]:
        """What makes two forwards the same rule, whatever the device calls them internally."""
        return (self.name, self.protocol.value, str(self.external_ports), str(self.internal_address),
                str(self.internal_ports))

    def describe(self) -> str:
        """One line for humans: ``name: both 5060-5061 -> 192.168.1.250:5060-5061``."""
        state = "" if self.enabled else " (disabled)"
        return (f"{self.name}: {self.protocol.value} {self.external_ports} -> "
                f"{self.internal_address}:{self.internal_ports}{state}")


@dataclass(frozen=True, order=True)
class AddressRange:
    """An inclusive range of IPv4 addresses (a DHCP pool)."""

    first: IPv4
    last: IPv4

    if TYPE_CHECKING:
        def __init__(self, first: IPv4 | str, last: IPv4 | str) -> None: ...

    def __post_init__(self) -> None:
        first = _ipv4(self.first, "pool start")
        last = _ipv4(self.last, "pool end")
        if last < first:
            raise InvalidValue("pool", f"{first}-{last}", "a range whose first address is not above its last")
        _set(self, "first", first)
        _set(self, "last", last)

    def __contains__(self, address: object) -> bool:
        return isinstance(address, IPv4) and self.first <= address <= self.last

    def __len__(self) -> int:
        return int(self.last) - int(self.first) + 1

    def from_top(self) -> Iterator[IPv4]:
        """Addresses from the last down to the first."""
        for value in range(int(self.last), int(self.first) - 1, -1):
            yield IPv4(value)

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


@dataclass(frozen=True)
class Reservation:
    """A DHCP reservation (static lease): ``address`` is handed only to ``mac``."""

    address: IPv4
    mac: str
    name: str = ""

    if TYPE_CHECKING:
        def __init__(self, address: IPv4 | str, mac: str, name: str = "") -> None: ...

    def __post_init__(self) -> None:
        _set(self, "address", _ipv4(self.address, "reservation address"))
        _set(self, "mac", normalise_mac(self.mac, "reservation mac"))
        _set(self, "name", _reservation_name(self.name))


@dataclass(frozen=True)
class DhcpScope:
    """The LAN's DHCP service: network, gateway (the router), pool range(s) and reservations."""

    network: ipaddress.IPv4Network
    gateway: IPv4
    pools: tuple[AddressRange, ...]
    reservations: tuple[Reservation, ...] = ()

    if TYPE_CHECKING:
        def __init__(self, network: ipaddress.IPv4Network | str, gateway: IPv4 | str,
                     pools: tuple[AddressRange, ...], reservations: tuple[Reservation, ...] = ()) -> None: ...

    def __post_init__(self) -> None:
        network = self.network
        if not isinstance(network, ipaddress.IPv4Network):
            try:
                network = ipaddress.IPv4Network(str(network), strict=False)
            except ValueError:
                raise InvalidValue("network", self.network, "an IPv4 network such as 192.168.1.0/24") from None
        gateway = _ipv4(self.gateway, "gateway")
        pools = tuple(self.pools)
        for pool in pools:
            if not isinstance(pool, AddressRange):
                raise InvalidValue("pools", pool, "AddressRange values")
            if pool.first not in network or pool.last not in network:
                raise InvalidValue("pools", str(pool), f"a range inside {network}")
        _set(self, "network", network)
        _set(self, "gateway", gateway)
        _set(self, "pools", tuple(sorted(pools)))
        _set(self, "reservations", tuple(self.reservations))

    def in_pool(self, address: IPv4) -> bool:
        """True when ``address`` lies in one of the pools."""
        return any(address in pool for pool in self.pools)


@dataclass(frozen=True)
class Lease:
    """A DHCP lease the router handed out. ``expires`` is a Unix time, or None for unknown/infinite."""

    address: IPv4
    mac: str
    hostname: str = ""
    expires: float | None = None

    if TYPE_CHECKING:
        def __init__(self, address: IPv4 | str, mac: str, hostname: str = "", expires: float | None = None) -> None:
            ...

    def __post_init__(self) -> None:
        _set(self, "address", _ipv4(self.address, "lease address"))
        _set(self, "mac", normalise_mac(self.mac, "lease mac"))
        _set(self, "hostname", _read_text(self.hostname, "hostname"))


@dataclass(frozen=True)
class Neighbour:
    """An entry of the router's neighbour (ARP) table, or an attached-devices list."""

    address: IPv4
    mac: str
    hostname: str = ""

    if TYPE_CHECKING:
        def __init__(self, address: IPv4 | str, mac: str, hostname: str = "") -> None: ...

    def __post_init__(self) -> None:
        _set(self, "address", _ipv4(self.address, "neighbour address"))
        _set(self, "mac", normalise_mac(self.mac, "neighbour mac"))
        _set(self, "hostname", _read_text(self.hostname, "hostname"))


@dataclass(frozen=True)
class DeviceFacts:
    """What the device says it is."""

    vendor: str
    model: str
    firmware: str = ""
    hostname: str = ""

    def __post_init__(self) -> None:
        for name in ("vendor", "model", "firmware", "hostname"):
            _set(self, name, _read_text(getattr(self, name), name))


class Feature(enum.StrEnum):
    """Optional abilities a driver declares in :class:`Capabilities`."""

    PORT_FORWARD = "port_forward"
    """Can list, add and remove port forwards."""
    LIST_FORWARDS = "list_forwards"
    """Can list port forwards but not change them (read-only access such as UPnP IGD)."""
    FORWARD_TO_UNUSED = "forward_to_unused"
    """A forward may target an address no device holds (ISP gateways bind forwards to known devices)."""
    NAT_MODE = "nat_mode"
    """Has a NAT filtering (secure/open) setting that can be read and set."""
    DHCP_SCOPE = "dhcp_scope"
    """Can read the DHCP pool."""
    LEASES = "leases"
    """Can list DHCP leases."""
    NEIGHBOURS = "neighbours"
    """Can list the neighbour (ARP) table or attached devices."""
    DHCP_RESERVATION = "dhcp_reservation"
    """Can reserve and release an address for a MAC."""
    PROBE = "probe"
    """Can ask the device whether anything answers at an address."""
    FLUSH_CONNECTIONS = "flush_connections"
    """Can delete inbound connection-tracking entries for given ports."""
    BACKUP = "backup"
    """Can take a configuration backup and restore it."""
    SIP_ALG = "sip_alg"
    """Has a SIP ALG setting that can be read and set."""
    CAPTURE = "capture"
    """Can capture SIP packets on its WAN and LAN sides for a bounded time (``routerfix diagnose --capture``)."""
    UNDO_MARKER = "undo_marker"
    """Can keep routerfix's undo marker on the device (:mod:`routerfix.markers`): read with the state, written
    and cleared as plan steps, so an undo needs no local record."""


class Remedy(enum.StrEnum):
    """A verdict that no configuration change can fix the site."""

    REPLACE_ROUTER = "replace_router"
    """The router has no port forwarding: replace it."""
    BRIDGE_MODE = "bridge_mode"
    """ISP gateway that cannot forward to an unused address: bridge mode / IP Passthrough + a standalone router."""
    NAT_FAILING = "nat_failing"
    """Already mitigated and still ringing: the router's NAT is failing; replace it."""
    READ_ONLY_ACCESS = "read_only_access"
    """This access path can read the router's forwards but cannot install the fix: use the router's own driver."""
    UNSUPPORTED_FIRMWARE = "unsupported_firmware"
    """The model or firmware is detected but not supported yet; nothing was changed."""


@dataclass(frozen=True)
class Capabilities:
    """What a driver (for a given device) can do. Ask before calling optional verbs.

    :param features: the optional abilities (:class:`Feature`).
    :param max_forwards: the device's port-forward list limit, if any.
    :param forward_ranges: one rule can carry a port range.
    :param forward_both: one rule can carry tcp and udp together.
    :param orders_rules: the device evaluates rules in order (a new rule is placed first).
    :param remedy: set when the device itself needs replacing or re-cabling (see :class:`Remedy`).
    :param notes: free-text facts for the operator (e.g. "plain HTTP only").
    """

    features: frozenset[Feature] = frozenset()
    max_forwards: int | None = None
    forward_ranges: bool = True
    forward_both: bool = False
    orders_rules: bool = False
    remedy: Remedy | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "features", frozenset(Feature(f) for f in self.features))
        if self.remedy is not None:
            _set(self, "remedy", Remedy(self.remedy))
        _set(self, "notes", tuple(self.notes))

    def __contains__(self, feature: object) -> bool:
        return feature in self.features

    def replace(self, **changes: Any) -> Capabilities:
        """A copy with some fields changed (drivers refine capabilities after detecting the firmware)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class DeviceState:
    """Everything the mitigation reads from a device, read once per run.

    Fields a driver cannot read are ``None`` (scalar) or empty.
    """

    facts: DeviceFacts
    capabilities: Capabilities
    nat_mode: NatMode | None = None
    sip_alg: bool | None = None
    forwards: tuple[PortForward, ...] = ()
    scope: DhcpScope | None = None
    leases: tuple[Lease, ...] = ()
    neighbours: tuple[Neighbour, ...] = ()
    undo_marker: dict[str, Any] | None = None
    """routerfix's undo marker as the device holds it, checked (:func:`routerfix.markers.parse_marker`); None when
    there is none, the driver cannot hold one, or the one there failed its checks (then :attr:`marker_warning`)."""
    marker_warning: str | None = None
    """Why a marker found on the device was ignored (the file is there but is not a valid marker)."""

    def _repr_html_(self) -> str:
        from routerfix.policy import find_phones
        from routerfix.render import state_html

        return state_html(self, find_phones(self))

    def __rich__(self) -> Any:
        from routerfix.policy import find_phones
        from routerfix.render import state_renderable

        return state_renderable(self, find_phones(self))


@dataclass(frozen=True)
class Backup:
    """A configuration backup. ``text`` may hold hashes or keys: it is hidden from ``repr``
    and never put in results; the engine writes it to a private file."""

    driver: str
    format: str
    text: str = field(repr=False)
    taken_at: float = 0.0


# --- serialisation -------------------------------------------------------------------------

T = TypeVar("T")


_PLAIN = (str, int, float, bool, type(None))
_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """The fields :func:`to_data` keeps of a dataclass (computed once per class)."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.repr or f.name != "text")
    return names


def to_data(value: Any) -> Any:
    """Turn model values (dataclasses, enums, addresses, tuples) into JSON-ready data."""
    if type(value) in _PLAIN:  # the common case first (an enum member is not of a plain type)
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (IPv4, ipaddress.IPv4Network)):
        return str(value)
    if isinstance(value, PortRange):
        return str(value)
    if isinstance(value, AddressRange):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: to_data(getattr(value, name)) for name in _field_names(type(value))}
    if isinstance(value, (tuple, list, frozenset, set)):
        items = [to_data(v) for v in value]
        return sorted(items) if isinstance(value, (frozenset, set)) else items
    if isinstance(value, Mapping):
        return {str(k): to_data(v) for k, v in value.items()}
    return value


def forward_from_data(data: Mapping[str, Any]) -> PortForward:
    """Rebuild a :class:`PortForward` from :func:`to_data` output (an undo record)."""
    try:
        return PortForward(
            name=data["name"], protocol=data["protocol"], external_ports=data["external_ports"],
            internal_address=data["internal_address"], internal_ports=data.get("internal_ports"),
            enabled=bool(data.get("enabled", True)), wan_only=bool(data.get("wan_only", True)),
            ref=str(data.get("ref", "")))
    except (KeyError, TypeError) as exc:
        raise InvalidValue("forward record", dict(data), f"a saved port forward ({exc})") from None


def reservation_from_data(data: Mapping[str, Any]) -> Reservation:
    """Rebuild a :class:`Reservation` from :func:`to_data` output."""
    try:
        return Reservation(address=data["address"], mac=data["mac"], name=data.get("name", ""))
    except (KeyError, TypeError) as exc:
        raise InvalidValue("reservation record", dict(data), f"a saved reservation ({exc})") from None


def cast_tuple(items: Any, kind: type[T]) -> tuple[T, ...]:
    """Check that every item is a ``kind`` and return them as a tuple."""
    result = tuple(items)
    for item in result:
        if not isinstance(item, kind):
            raise InvalidValue(kind.__name__, item, f"{kind.__name__} values")
    return cast(tuple[T, ...], result)
