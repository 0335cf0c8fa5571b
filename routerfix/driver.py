"""The driver contract: a small, uniform set of verbs every router plugin implements.

Each method's docstring is its specification. Read verbs are plain abstract
(or optional) methods. Write verbs are public methods on this base class that
validate their input, check the declared capability and count the write, then
call the driver's underscore hook (``_add_port_forward`` ...): nothing reaches
a device unvalidated, whichever driver runs.

A driver declares what it can do in :attr:`Driver.capabilities`; optional
verbs it does not support raise :class:`~routerfix.errors.UnsupportedOperation`.
"""

from __future__ import annotations

import abc
import contextlib
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

from routerfix.errors import InvalidValue, UnsupportedOperation
from routerfix.model import (
    Backup,
    Capabilities,
    DeviceFacts,
    DeviceState,
    DhcpScope,
    Feature,
    Lease,
    NatMode,
    Neighbour,
    PortForward,
    PortRange,
    Protocol,
    Reservation,
    check_device_name,
)
from routerfix.policy import NatDecision, Phone, default_nat_policy
from routerfix.secrets import Secret
from routerfix.timeouts import Timeouts

if TYPE_CHECKING:
    from routerfix.diagnose.live import LiveCapture

__all__ = ["Driver", "Timeouts"]

log = logging.getLogger("routerfix.driver")


class Driver(abc.ABC):
    """Base class of every routerfix driver.

    Lifecycle: construct with the host and options, then :meth:`open` (or use
    ``with``); :func:`routerfix.connect` does both. One driver instance is one
    session to one device; it is not thread-safe.

    :param host: address or name of the device.
    :param username: login name, where the device has one.
    :param password: a ``str`` or :class:`~routerfix.secrets.Secret`; kept as a Secret.
    :param port: TCP port, if not the driver's default.
    :param timeouts: :class:`Timeouts`; defaults apply when omitted.
    :param options: driver-specific options, listed in :attr:`option_names`;
        an unknown option raises :class:`~routerfix.errors.InvalidValue`.
    """

    name: ClassVar[str] = ""
    """The registry name (``routerfix.connect(name, ...)``)."""
    capabilities: Capabilities = Capabilities()
    """What this driver can do; a driver may narrow it in :meth:`open` once it knows the firmware."""
    option_names: ClassVar[frozenset[str]] = frozenset()
    """Driver-specific keyword options this driver accepts."""
    option_help: ClassVar[Mapping[str, str]] = {}
    """What each option means, one line each (``routerfix drivers NAME`` lists them); an option without a line
    is listed as undocumented. Extend the base's table: ``{**SSHDriver.option_help, "vdom": "..."}``."""
    secret_options: ClassVar[frozenset[str]] = frozenset()
    """Options that hold credentials (a key passphrase, an enable secret): kept in :attr:`options` as
    :class:`~routerfix.secrets.Secret` (numbers as their text), so ``reveal(self.options[name])`` where the value
    is sent; the command line takes them from a file, a variable or a prompt, never from ``argv``."""
    batch_kinds: frozenset[str] = frozenset()
    """Kinds of plan action (:class:`~routerfix.enums.ActionKind`, which equal their strings: ``"set_nat_mode"``,
    ``"add_forward"`` ...) this driver can send
    together inside :meth:`write_batch` (one request, transaction or commit). The engine groups neighbouring
    actions of these kinds; empty (the default): every write goes on its own."""
    transport_security: str = "n/a"
    """How the session is protected once open: ``"ssh"``, ``"tls"``, ``"tls-pinned"``, ``"tls-unverified"``
    (the caller turned verification off), ``"plain-http"`` (the router offers nothing else), ``"n/a"``."""

    def __init__(
        self,
        host: str,
        *,
        username: str | None = None,
        password: str | Secret | None = None,
        port: int | None = None,
        timeouts: Timeouts | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host.strip()):
            raise InvalidValue("host", host, "a host name or IP address")
        unknown = sorted(set(options) - set(self.option_names))
        if unknown:
            allowed = ", ".join(sorted(self.option_names)) or "none"
            raise InvalidValue("option", unknown[0], f"one of this driver's options: {allowed}")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
            raise InvalidValue("port", port, "a TCP port from 1 to 65535")
        self.host = host.strip()
        self.username = username
        self.password: Secret | None = None if password is None else Secret(password) \
            if not isinstance(password, Secret) else password
        self.port = port
        self.timeouts = timeouts or Timeouts()
        self.options: Mapping[str, Any] = {k: self._secret_option(k, v) if k in self.secret_options else v
                                           for k, v in options.items()}
        self.writes = 0
        """How many write verbs this instance has sent (idempotence checks read it)."""
        self.is_open = False

    @staticmethod
    def _secret_option(name: str, value: Any) -> Any:
        if value is None or isinstance(value, Secret):
            return value
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise InvalidValue(name, type(value).__name__, "text (a secret option is a string)")
        return Secret(str(value))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} host={self.host!r} port={self.port} open={self.is_open}>"

    # --- lifecycle ----------------------------------------------------------------------------

    @abc.abstractmethod
    def open(self) -> None:
        """Connect and log in. Raises :class:`~routerfix.errors.AuthenticationError` on bad
        credentials (never retried), :class:`~routerfix.errors.TrustError` on an untrusted host key or
        certificate, :class:`~routerfix.errors.TransportError` when the device cannot be reached."""

    @abc.abstractmethod
    def close(self) -> None:
        """Log out and disconnect. Safe to call twice and after a failed :meth:`open`; never raises
        for a connection that is already gone."""

    def reconnect(self) -> None:
        """Close and open again (after a dropped connection). Reads must be repeated afterwards."""
        try:
            self.close()
        finally:
            self.open()

    def hold_changes(self) -> None:
        """Called by the engine before a plan's first write. A driver whose device can hold changes and undo
        them on its own unless they are confirmed (a session-bound undo mode) arms that here, and confirms in
        :meth:`verify_state` once the read-back matches; closing the session before that lets the device undo
        them. Default: nothing (each write stands as sent)."""
        return

    def write_batch(self) -> contextlib.AbstractContextManager[None]:
        """A block whose writes (of :attr:`batch_kinds`) the driver may hold and send together as it ends.

        Write verbs inside still validate at once; an exception inside the block drops what was held (nothing of
        it was sent). The send at the end raises like a single write would, and may have landed in part: the
        caller re-reads before deciding (the engine does). Default: no holding, each write goes at once."""
        return contextlib.nullcontext()

    def __enter__(self) -> Driver:
        if not self.is_open:
            self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- reads -----------------------------------------------------------------------------------

    @abc.abstractmethod
    def facts(self) -> DeviceFacts:
        """Vendor, model, firmware and host name as the device reports them."""

    def get_nat_mode(self) -> NatMode | None:
        """The NAT filtering mode, or ``None`` when the device has no such setting."""
        return None

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """Every port forward on the device, the customer's and routerfix's, in device order.
        Each carries ``ref`` so that :meth:`remove_port_forward` can find it again."""
        raise self._unsupported("listing port forwards")

    def get_dhcp_scope(self) -> DhcpScope:
        """The LAN network, gateway, DHCP pool range(s) and reservations."""
        raise self._unsupported("reading the DHCP scope")

    def list_leases(self) -> tuple[Lease, ...]:
        """Current DHCP leases."""
        raise self._unsupported("listing DHCP leases")

    def list_neighbours(self) -> tuple[Neighbour, ...]:
        """The neighbour (ARP) table or the attached-devices list."""
        raise self._unsupported("listing neighbours")

    def get_sip_alg(self) -> bool | None:
        """Whether SIP ALG is on; ``None`` when the device has no such setting."""
        return None

    def probe_address(self, address: ipaddress.IPv4Address) -> bool:
        """True when something on the LAN answers at ``address`` (ARP/ping from the router).
        Optional: :attr:`Feature.PROBE`."""
        raise self._unsupported("probing addresses")

    def backup(self) -> Backup:
        """A configuration backup that :meth:`restore` accepts. Optional: :attr:`Feature.BACKUP`."""
        raise self._unsupported("configuration backup")

    def capture(self, seconds: float, *, max_packets: int) -> LiveCapture:
        """Capture SIP (ports 5060/5061) on the WAN and LAN sides at once for at most ``seconds`` and
        ``max_packets`` per side, remove everything the capture left on the device, and return the packets
        (pcap bytes per side). Optional: :attr:`Feature.CAPTURE`. Reads nothing it does not need; writes no
        configuration beyond the settings of the device's own capture tool, put back as they were."""
        from routerfix.diagnose.live import check_bounds

        seconds, max_packets = check_bounds(seconds, max_packets)
        if Feature.CAPTURE not in self.capabilities:
            raise self._capture_unsupported()
        return self._capture(seconds, max_packets)

    def read_state(self) -> DeviceState:
        """Everything the mitigation needs, read once. Drivers that can fetch it in fewer round
        trips than the single getters should override this."""
        caps = self.capabilities
        return DeviceState(
            facts=self.facts(),
            capabilities=caps,
            nat_mode=self.get_nat_mode() if Feature.NAT_MODE in caps else None,
            sip_alg=self.get_sip_alg() if Feature.SIP_ALG in caps else None,
            forwards=self.list_port_forwards() if caps.features & {Feature.PORT_FORWARD, Feature.LIST_FORWARDS}
            else (),
            scope=self.get_dhcp_scope() if Feature.DHCP_SCOPE in caps else None,
            leases=self.list_leases() if Feature.LEASES in caps else (),
            neighbours=self.list_neighbours() if Feature.NEIGHBOURS in caps else (),
        )

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """Read back, after a change, the parts of the state that verification compares with ``expected``
        (:func:`routerfix.planner.managed_view`: NAT mode, SIP ALG, every port forward, DHCP reservations).

        The default reads everything (:meth:`read_state`). A driver may override it to skip what
        verification never looks at (leases, neighbours, pages holding nothing managed), or to reuse what it
        has read *after its last write* in this session; the parts it returns must show the device as it is
        now. Fields it does not read are left empty, never copied from ``expected``."""
        return self.read_state()

    def nat_policy(self, state: DeviceState, phones: tuple[Phone, ...]) -> NatDecision:
        """The NAT mode this vendor wants during the mitigation, and why. The default raises NAT
        filtering security where the device offers it; vendors with other needs override this."""
        return default_nat_policy(state, phones)

    # --- writes (validated here, sent by the driver's hooks) --------------------------------------

    def set_nat_mode(self, mode: NatMode | str) -> None:
        """Set NAT filtering to ``mode``. Requires :attr:`Feature.NAT_MODE`."""
        parsed = NatMode.parse(mode)
        self._require(Feature.NAT_MODE, "setting the NAT mode")
        self._count_write("set_nat_mode", parsed.value)
        self._set_nat_mode(parsed)

    def add_port_forward(self, forward: PortForward) -> None:
        """Add ``forward`` (WAN ingress only, placed first where the device orders rules).
        Its name must pass :func:`~routerfix.model.check_device_name`; a protocol ``both`` or a port
        range must be something the device can hold in one rule (see :class:`Capabilities`)."""
        self.check_port_forward(forward)
        self._count_write("add_port_forward", forward.describe())
        self._add_port_forward(forward)

    def check_restore_name(self, name: str) -> str:
        """Return ``name`` if this driver can write it back as the name of a forward *read from the device*
        (a customer's rule routerfix removed and now restores), else raise :class:`InvalidValue`.

        The default is :func:`~routerfix.model.check_device_name`, as for any name routerfix writes. A driver
        whose device stores other names (spaces, say) *and* whose write path carries them as data, never
        interpreted, may widen it, so that the forward goes back under its own name, byte for byte. Names
        routerfix makes up itself always pass :func:`check_device_name` (:meth:`add_port_forward`)."""
        return check_device_name(name, "forward name")

    def check_port_forward(self, forward: PortForward, *, restore: bool = False) -> None:
        """Raise what :meth:`add_port_forward` (``restore``: :meth:`restore_port_forward`) would raise for
        ``forward`` before writing anything (name, protocol ``both``, port range, WAN-only, the feature
        itself); no I/O, so callers can check every parameter before they connect."""
        if not isinstance(forward, PortForward):
            raise InvalidValue("forward", forward, "a routerfix.PortForward")
        if restore:
            self.check_restore_name(forward.name)
        else:
            check_device_name(forward.name, "forward name")
        self._require(Feature.PORT_FORWARD, "port forwarding")
        caps = self.capabilities
        if forward.protocol is Protocol.BOTH and not caps.forward_both:
            raise InvalidValue("protocol", "both", f"'tcp' or 'udp': {self.name} needs one rule per protocol")
        if len(forward.external_ports) > 1 and not caps.forward_ranges:
            raise InvalidValue("external_ports", str(forward.external_ports),
                               f"a single port: {self.name} needs one rule per port")
        if not forward.wan_only:
            raise InvalidValue("wan_only", False, "True: routerfix only writes forwards restricted to the WAN")

    def restore_port_forward(self, forward: PortForward) -> None:
        """Put back a forward read from this device earlier (rollback, undo), under its own name where
        :meth:`check_restore_name` allows it; otherwise as :meth:`add_port_forward`."""
        self.check_port_forward(forward, restore=True)
        self._count_write("add_port_forward", forward.describe())
        self._add_port_forward(forward)

    def remove_port_forward(self, forward: PortForward) -> None:
        """Remove the rule matching ``forward`` (as returned by :meth:`list_port_forwards`). The driver
        finds it by content (name, protocol, ports, address); ``ref`` is only a hint, since indexes shift
        when other rules go. Removing a rule that is already gone is not an error."""
        if not isinstance(forward, PortForward):
            raise InvalidValue("forward", forward, "a routerfix.PortForward")
        self._require(Feature.PORT_FORWARD, "port forwarding")
        self._count_write("remove_port_forward", forward.describe())
        self._remove_port_forward(forward)

    def reserve_address(self, reservation: Reservation) -> None:
        """Reserve ``reservation.address`` in DHCP for ``reservation.mac`` so it is never leased to
        a new device. Optional: :attr:`Feature.DHCP_RESERVATION`."""
        if not isinstance(reservation, Reservation):
            raise InvalidValue("reservation", reservation, "a routerfix.Reservation")
        check_device_name(reservation.name, "reservation name")
        self._require(Feature.DHCP_RESERVATION, "DHCP reservations")
        self._count_write("reserve_address", f"{reservation.address} {reservation.mac}")
        self._reserve_address(reservation)

    def release_address(self, reservation: Reservation) -> None:
        """Remove a reservation made by :meth:`reserve_address`; absent is not an error."""
        if not isinstance(reservation, Reservation):
            raise InvalidValue("reservation", reservation, "a routerfix.Reservation")
        self._require(Feature.DHCP_RESERVATION, "DHCP reservations")
        self._count_write("release_address", f"{reservation.address} {reservation.mac}")
        self._release_address(reservation)

    def set_sip_alg(self, enabled: bool) -> None:
        """Turn SIP ALG on or off. Optional: :attr:`Feature.SIP_ALG`."""
        if not isinstance(enabled, bool):
            raise InvalidValue("sip_alg", enabled, "True or False")
        self._require(Feature.SIP_ALG, "SIP ALG")
        self._count_write("set_sip_alg", str(enabled))
        self._set_sip_alg(enabled)

    def flush_connections(self, ports: Iterable[int]) -> int:
        """Delete *inbound* connection-tracking entries (to the WAN address) for ``ports``, never the
        LAN's own outbound flows. Returns how many entries were deleted (-1 when unknown).
        Optional: :attr:`Feature.FLUSH_CONNECTIONS`."""
        checked = tuple(PortRange.parse(p, "ports").start for p in ports)
        if not checked:
            raise InvalidValue("ports", checked, "at least one port")
        self._require(Feature.FLUSH_CONNECTIONS, "flushing connection tracking")
        self._count_write("flush_connections", ",".join(map(str, checked)))
        return self._flush_connections(checked)

    def save_undo_marker(self, marker: dict[str, Any]) -> None:
        """Save routerfix's undo marker (:mod:`routerfix.markers`) on the device, replacing the one there, atomically
        (the old one or the new one, never a torn file) and readable by the administrator only. The hook gets the
        checked text (compact ASCII JSON). Optional: :attr:`Feature.UNDO_MARKER`; the driver reads it back in
        :meth:`read_state` (``DeviceState.undo_marker``, :func:`routerfix.markers.parse_marker`)."""
        from routerfix.markers import encode_marker

        text = encode_marker(marker)
        self._require(Feature.UNDO_MARKER, "undo markers")
        self._count_write("save_undo_marker", f"{len(text)} bytes")
        self._save_undo_marker(text)

    def clear_undo_marker(self) -> None:
        """Remove routerfix's undo marker from the device; absent is not an error. Optional:
        :attr:`Feature.UNDO_MARKER`."""
        self._require(Feature.UNDO_MARKER, "undo markers")
        self._count_write("clear_undo_marker", "")
        self._clear_undo_marker()

    def restore(self, backup: Backup) -> None:
        """Put the configuration saved by :meth:`backup` back. Optional: :attr:`Feature.BACKUP`."""
        if not isinstance(backup, Backup) or backup.driver != self.name:
            raise InvalidValue("backup", getattr(backup, "driver", backup), f"a backup taken by {self.name}")
        self._require(Feature.BACKUP, "configuration restore")
        self._count_write("restore", backup.format)
        self._restore(backup)

    # --- hooks for driver authors -------------------------------------------------------------

    def _set_nat_mode(self, mode: NatMode) -> None:
        raise self._unsupported("setting the NAT mode")

    def _add_port_forward(self, forward: PortForward) -> None:
        raise self._unsupported("adding port forwards")

    def _remove_port_forward(self, forward: PortForward) -> None:
        raise self._unsupported("removing port forwards")

    def _reserve_address(self, reservation: Reservation) -> None:
        raise self._unsupported("DHCP reservations")

    def _release_address(self, reservation: Reservation) -> None:
        raise self._unsupported("DHCP reservations")

    def _set_sip_alg(self, enabled: bool) -> None:
        raise self._unsupported("SIP ALG")

    def _flush_connections(self, ports: tuple[int, ...]) -> int:
        raise self._unsupported("flushing connection tracking")

    def _restore(self, backup: Backup) -> None:
        raise self._unsupported("configuration restore")

    def _save_undo_marker(self, text: str) -> None:
        raise self._unsupported("undo markers")

    def _clear_undo_marker(self) -> None:
        raise self._unsupported("undo markers")

    def _capture(self, seconds: float, max_packets: int) -> LiveCapture:
        raise self._capture_unsupported()

    def _capture_unsupported(self) -> UnsupportedOperation:
        return UnsupportedOperation(
            f"capturing packets on the router (routerfix diagnose --capture) is not supported by the {self.name} "
            "driver: capture on the phone's switch port (a SPAN/mirror port or a laptop running tcpdump or "
            "Wireshark) and pass the file: routerfix diagnose CAPTURE.pcap", host=self.host, driver=self.name)

    # --- helpers ----------------------------------------------------------------------------------

    def _unsupported(self, what: str) -> UnsupportedOperation:
        return UnsupportedOperation(f"{what} is not supported by this driver", host=self.host, driver=self.name)

    def _require(self, feature: Feature, what: str) -> None:
        if feature not in self.capabilities:
            raise self._unsupported(what)

    def _count_write(self, verb: str, detail: str) -> None:
        self.writes += 1
        log.info("%s %s: %s %s", self.name, self.host, verb, detail)
