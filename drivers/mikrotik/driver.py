"""The MikroTik RouterOS v6/v7 driver (netmiko ``mikrotik_routeros`` over SSH).

Facts relied on: docs/facts/mikrotik.md (rows M#).

* Session: netmiko's ``<user>+ct511w4098h`` login and prompt (M1, M2); absolute command paths (M3); never
  ``save_config()`` (M4); several commands per line with ``:put`` markers, option ``batch=false`` for one per round
  trip (M5); interleaved log lines skipped (M6); error texts mark a failed command (M7, M8).
* Reads: ``print terse`` everywhere (M10-M14), all of them and the version on one line; numbers refer to the
  session's last ``print`` of the menu and stay valid after ``add``/``remove`` (M15); the DHCP pool is the
  ``address-pool`` of the LAN's DHCP server (M20, M21); every static lease of that server is a reservation, a
  client-id-only one included (M22, M23).
* Writes: a run's writes go on one line (:meth:`MikrotikDriver.write_batch`), the device stopping at the first
  refusal, with the read-back after them on the same line (M5); every name or comment is written by one function,
  :func:`~.strings.ros_quote` (M43), and a customer's forward goes back under its own name when every print shows
  that name back byte for byte (M44, M11).
* Forwards: ``/ip firewall nat`` ``chain=dstnat action=dst-nat`` rules restricted with ``in-interface-list=WAN``
  and placed first with ``place-before=<first number>`` (M30-M32).
* NAT filtering: "open" = enabled ``endpoint-independent-nat`` rules (v7 only, M33); routerfix marks the rules it
  disables and undoes only those (M34, M35). SIP ALG = the ``sip`` service port (M36).
* Connection flush after NAT changes (M37): only inbound entries (destination = a WAN address, else a source outside
  the LAN) on 5060/5061, v6/v7 layouts (M38, M39). In an armed run their print rides on the write line, right after
  the writes (the flows to clear are those that predate the change), and the flush removes them by that print's
  numbers (M15) when nothing was sent since; otherwise it prints first.
* Device-held rollback (M40-M42): when the engine arms it (:meth:`MikrotikDriver.hold_changes`), Safe Mode is taken
  (Ctrl-X) before the first configuration write and released (Ctrl-X) only in :meth:`MikrotikDriver.verify_state`
  once the read-back matches; a session that ends before that (client killed, connection dropped, or ``close``,
  which leaves with Ctrl-D) has the router undo every change itself. Another session's Safe Mode is never taken
  over (the hijack question is answered ``d``) and the run then changes nothing: that session's abnormal end would
  undo the run's change with its own (M41, M82). After a session of the run dropped in Safe Mode, the reconnected
  run's next read waits (up to 30 s) until RouterOS grants Safe Mode again, i.e. has undone the dropped session's
  changes, and otherwise stops without trusting what it shows (M82). The
  history holds 100 Safe Mode actions (M42, M45): a write line that would go past that is never sent (refused
  before the first write; later, the session leaves with Ctrl-D so the router undoes the run), and a prompt that
  lost ``<SAFE>`` after a write (RouterOS left Safe Mode, keeping the changes) fails the run into its rollback.
* Undo marker (M72-M81, :mod:`.marker`, RouterOS 7.9 and later): the file ``routerfix-undo.txt`` (inside ``flash/``
  on a router that lists that directory), base64 of the checked marker text; read in the first read batch with a
  ``:foreach`` over ``/file find`` (nothing printed when there is none), written on the run's write line (one
  ``set`` of the file the read showed, else ``add``), counted in the Safe Mode history like any write. Its removal
  (an undo) waits until Safe Mode is released (M78). The file reads are guarded (M83): a login the router refuses
  ``/file`` (a group without the ``ftp`` policy) reads as a router that keeps no marker, with a warning.

Backup: :meth:`MikrotikDriver.backup` returns ``/export`` text (M17), but :attr:`Feature.BACKUP` is not declared:
there is no faithful restore over the CLI (importing an export on top of a configuration duplicates entries;
``/system backup load`` reboots the router), so the engine relies on its verified step-by-step rollback.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from routerfix.base.ssh import SSH_OPTION_NAMES, SSHDriver, parse_bool
from routerfix.diagnose.live import LiveCapture
from routerfix.enums import ActionKind
from routerfix.errors import (
    DeviceError,
    InvalidValue,
    ParseError,
    RouterfixError,
    TransportError,
    UnsupportedOperation,
)
from routerfix.held import HeldWrites
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
    Reservation,
    check_device_name,
)
from routerfix.planner import SIP_PORTS, managed_view

from . import marker
from .parser import (
    LanScope,
    TerseItem,
    forwards_from_rule,
    parse_address_ranges,
    parse_key_value_page,
    parse_terse,
    parse_version,
    static_reservations,
)
from .strings import ros_quote, verbatim_name

__all__ = ["MikrotikDriver", "ros_quote"]

NAT = "/ip firewall nat"
EIM_COMMENT = "routerfix-eim"
EIM_OFF = "routerfix-off|"
"""Comment prefix of an endpoint-independent-nat rule routerfix disabled (the rest is the operator's comment)."""
_PRINT = "print terse without-paging"
_CAPS = Capabilities(
    features=frozenset({Feature.PORT_FORWARD, Feature.FORWARD_TO_UNUSED, Feature.NAT_MODE, Feature.DHCP_SCOPE,
                        Feature.LEASES, Feature.NEIGHBOURS, Feature.DHCP_RESERVATION, Feature.FLUSH_CONNECTIONS,
                        Feature.SIP_ALG, Feature.CAPTURE, Feature.UNDO_MARKER}),
    forward_ranges=True, forward_both=False, orders_rules=True,
    notes=("forwards are /ip firewall nat dstnat rules limited to in-interface-list=WAN and placed first",))


log = logging.getLogger("routerfix.drivers.mikrotik")

_MENU_PROMPT = r"\[[^\]\n]+\](?: /[^<>\n]*)? ?"
_PLAIN_PROMPT = re.compile(_MENU_PROMPT + ">")
_SAFE_PROMPT = re.compile(_MENU_PROMPT + "<SAFE>")
_HIJACK = re.compile(r"Hijacking Safe Mode .*\[u/r/d\]:")
_SAFE_ANSWER = re.compile(f"{_PLAIN_PROMPT.pattern}|{_SAFE_PROMPT.pattern}|{_HIJACK.pattern}")
SAFE_MODE_HISTORY = 100
"""Safe Mode actions the history holds; past that RouterOS leaves Safe Mode and keeps every change (M42). One
configuration command is one action (M45)."""
SAFE_MODE_KEY = "\x18"
"""Ctrl-X: takes Safe Mode, or releases it keeping the changes (M40)."""
DROPPED_SAFE_MODE_WAIT = 30.0
"""Seconds a reconnected run waits for the router to see its dropped Safe Mode session gone (and undo its changes,
M41, M82) before it trusts a read; past that the run stops (a silently cut link can take the 9-minute TCP timeout)."""
_MARKER_READS = (marker.flash_print(), marker.read_command(marker.path(flash=True)),
                 marker.read_command(marker.path(flash=False)))
"""The first read's file reads (M80): the ``flash`` directory and the marker in both places."""
_NO_FILE_ACCESS = ("the router refuses this login the /file menu (its user group lacks the 'ftp' policy, M83): no undo "
                   "marker is kept on the router and undo needs the local record; to keep one, grant it: "
                   "/user group set <group> policy=...,ftp (or log in with a 'full' group user)")
UNDO_AND_LEAVE_KEY = "\x04"
"""Ctrl-D: ends the session, undoing the Safe Mode changes (M41)."""


class MikrotikDriver(SSHDriver):
    """MikroTik RouterOS 6 and 7 over SSH.

    Options (besides the SSH trust options): ``wan_list`` (interface list of the WAN side, default ``WAN``),
    ``dhcp_server`` (name of the LAN's DHCP server when there are several), ``batch`` (default true: several
    commands per round trip).
    """

    name: ClassVar[str] = "mikrotik"
    capabilities = _CAPS
    option_names: ClassVar[frozenset[str]] = SSH_OPTION_NAMES | {"wan_list", "dhcp_server", "batch"}
    option_help: ClassVar[Mapping[str, str]] = {
        **SSHDriver.option_help,
        "wan_list": "interface list of the WAN side the forwards match (in-interface-list) (default WAN)",
        "dhcp_server": "name of the LAN's DHCP server, needed when the router has several (default: the only one)",
        "batch": "false: one command per round trip, for a console that refuses long lines (default true: reads, "
                 "and writes with their read-back, each on one line)",
    }
    device_type: ClassVar[str] = "mikrotik_routeros"
    prompt_pattern: ClassVar[str | None] = _MENU_PROMPT + "(?:<SAFE>|>)"  # M2, M40
    error_patterns: ClassVar[tuple[str, ...]] = (
        r"^bad command name ", r"^expected end of command", r"^syntax error \(line", r"^expected command name",
        r"^input does not match any value", r"^invalid value for argument", r"^no such item", r"^failure: ",
        r"^ambiguous value", r"^value of \S+ (?:out of range|must)", r"^numbers:",
    )
    logout_command: ClassVar[str | None] = "quit"
    batch_separator: ClassVar[str | None] = "; "
    batch_max_line: ClassVar[int] = 2400  # M5: one write block and its read-back on one line
    batch_kinds = frozenset(ActionKind)
    """Every plan action: a run's writes go as one line, followed by the read-back (M5, M15)."""

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        wan = self.options.get("wan_list", "WAN")
        self.wan_list = check_device_name(wan, "wan_list")
        server = self.options.get("dhcp_server")
        self.dhcp_server: str | None = None if server in (None, "") else str(server)
        if not parse_bool(self.options.get("batch", True), "batch"):
            self.batch_separator = None  # type: ignore[misc]
        self.version: tuple[int, int] | None = None
        self._facts: DeviceFacts | None = None
        self._nat: list[TerseItem] = []
        """The NAT rules of the session's last print (their numbers are what ``set``/``remove`` refer to, M15)."""
        self._nat_printed = False
        """This session printed the NAT rules (numbers are valid)."""
        self._nat_fresh = False
        """No endpoint-independent-nat rule was changed since that print (their comments are as read)."""
        self._removed: set[int] = set()
        """Numbers of that print removed since."""
        self._held: HeldWrites[str] = HeldWrites()
        """Writes held by :meth:`write_batch`."""
        self._readback: dict[str, str] | None = None
        """Outputs of the reads sent right after this session's last write (what :meth:`verify_state` reuses)."""
        self._connections: tuple[str, str, int] | None = None
        """The SIP connection print sent right after the last write: command, output, the session's round trips
        then (what the flush reuses when nothing was sent since)."""
        self._wan_addresses: set[ipaddress.IPv4Address] = set()
        self._lan_network: ipaddress.IPv4Network | None = None
        self._lan_server: str | None = None
        """Name of the LAN's DHCP server, from the last read (static leases are added to it)."""
        self._hold = False
        """The engine armed Safe Mode (:meth:`hold_changes`) and the read-back has not confirmed the changes."""
        self.safe_mode = False
        """This session holds Safe Mode (M40): its changes are undone by the router unless released."""
        self._safe_actions = 0
        """Configuration commands sent since Safe Mode was taken (M45)."""
        self._dropped_safe_mode = False
        """A session of this run dropped while it held Safe Mode: until the router has seen it gone and undone its
        changes (M41), what a read shows may still be undone, so the next read waits for that first."""
        self._marker_flash: bool | None = None
        """The router lists a ``flash`` directory (M73), from the last read; None before one."""
        self._marker_present = False
        """The last read printed the marker file's text (it exists: rewritten in place, M81)."""
        self._file_access: bool | None = None
        """False once a read showed the router refusing this login ``/file`` (M83): no marker is kept then."""
        self._clear_due = False
        """The marker's removal waits for Safe Mode's release (M78): sent by :meth:`verify_state` after it."""

    def open(self) -> None:
        """Connect and log in; numbers and read-backs of earlier sessions are forgotten. The version (capabilities
        depend on it) comes with the first read, in the same round trip."""
        self._forget_session()
        self.safe_mode = False
        super().open()

    def _forget_session(self) -> None:
        self._nat_printed = self._nat_fresh = False
        self._marker_present = self._clear_due = False
        self._removed = set()
        self._held.drop()
        self._readback = self._connections = None

    def close(self) -> None:
        """Log out; a session still in Safe Mode (changes not confirmed) leaves with Ctrl-D, so the router undoes
        them (M41), never with ``quit``, which would keep them."""
        session = self._session
        if self.safe_mode and session is not None:
            self.safe_mode = False
            self._session = None
            with contextlib.suppress(RouterfixError):
                session.write(UNDO_AND_LEAVE_KEY)
        super().close()

    def _lost(self) -> None:
        self._dropped_safe_mode |= self.safe_mode
        self.safe_mode = False  # the router undoes a dropped Safe Mode session's changes itself (M41)
        self._forget_session()
        super()._lost()

    # --- Safe Mode (M40-M42) ----------------------------------------------------------------------------

    def hold_changes(self) -> None:
        """Arm Safe Mode for the coming writes: taken before the next configuration write, released by
        :meth:`verify_state` when the read-back matches."""
        self._hold = True

    def _control_key(self, key: str, during: str) -> str:
        """Send a bare control key; return the last line of the answer (a prompt or the hijack question)."""
        session = self.session
        try:
            session.write(key)
            session.read_until_prompt(timeout=self.timeouts.read, expect=_SAFE_ANSWER, during=during)
        except TransportError:
            self._lost()
            raise
        return session.last_prompt

    def _take_safe_mode(self) -> None:
        """Before a configuration write of an armed run: take Safe Mode unless this session holds it (M40)."""
        if not self._hold or self.safe_mode:
            return
        answer = self._control_key(SAFE_MODE_KEY, "taking Safe Mode")
        if _SAFE_PROMPT.fullmatch(answer):
            self.safe_mode = True
            self._safe_actions = 0
            return
        if _HIJACK.search(answer):
            self.send("d")  # another session holds it: leave its changes and its Safe Mode alone (M42)
            raise DeviceError(
                "another session holds Safe Mode on the router: a change made now would be undone with that "
                "session's if it ends abnormally (M41), so nothing was changed; run again once it has released Safe "
                "Mode (Ctrl-X in that session)", device_message="", host=self.host, driver=self.name)
        log.warning("%s: Safe Mode not taken (the prompt did not change); relying on the engine's rollback only",
                    self.host)
        self._hold = False

    def _await_dropped_safe_mode(self) -> None:
        """After a session of this run dropped in Safe Mode: take Safe Mode, which RouterOS grants only once the
        dropped session is seen gone and its changes undone (M41, M42), waiting up to
        :data:`DROPPED_SAFE_MODE_WAIT`; keep it for the run's next writes when armed, else release it at once."""
        deadline = time.monotonic() + DROPPED_SAFE_MODE_WAIT
        while True:
            answer = self._control_key(SAFE_MODE_KEY, "checking the dropped session's Safe Mode")
            if _SAFE_PROMPT.fullmatch(answer):
                self._dropped_safe_mode = False
                self.safe_mode, self._safe_actions = True, 0
                if not self._hold:
                    self._release_safe_mode()
                return
            if not _HIJACK.search(answer):
                raise DeviceError("Safe Mode could not be taken to check the dropped session's",
                                  device_message=answer[:200], host=self.host, driver=self.name)
            self.send("d")  # still held (M42): leave it, ask again
            if time.monotonic() >= deadline:
                raise DeviceError(
                    f"RouterOS still holds Safe Mode of this run's dropped session after {DROPPED_SAFE_MODE_WAIT:.0f} "
                    f"s: it undoes that session's changes once it sees the connection gone (up to the 9-minute TCP "
                    f"timeout, M41), so what it shows now was not trusted and nothing more was changed; check with "
                    f"`routerfix show` after that, then run again", device_message="", host=self.host,
                    driver=self.name)
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def _check_history_room(self, count: int) -> None:
        """Before sending ``count`` configuration commands in an armed run: never let the Safe Mode history
        overflow (M42). Before the first write the run is refused; later the session leaves with Ctrl-D, so the
        router undoes every change of the run (M41), and the run stops."""
        if not self._hold or self._safe_actions + count <= SAFE_MODE_HISTORY:
            return
        need = self._safe_actions + count
        if not self.safe_mode:
            raise UnsupportedOperation(
                f"this run would make {need} changes under Safe Mode; RouterOS keeps at most {SAFE_MODE_HISTORY} in "
                f"its history and past that leaves Safe Mode, keeping every change (M42): nothing was changed; "
                f"remove some of the conflicting rules by hand and run again", host=self.host, driver=self.name)
        self.close()  # Ctrl-D: the router undoes this run's changes (M41)
        raise DeviceError(
            f"the run needs {need} changes under Safe Mode, more than the {SAFE_MODE_HISTORY} RouterOS keeps (M42): "
            f"the session left with Ctrl-D, so the router undid this run's changes", device_message="",
            host=self.host, driver=self.name)

    def _check_still_safe(self) -> None:
        """After a write line under Safe Mode: the prompt must still show ``<SAFE>``. Without it RouterOS left Safe
        Mode (its history filled up, other sessions' changes count too: M42) and kept every change so far."""
        prompt = self.session.last_prompt
        if _SAFE_PROMPT.fullmatch(prompt):
            return
        self.safe_mode = False
        self._hold = False
        raise DeviceError("RouterOS left Safe Mode during the run (its history holds 100 changes, M42): the changes "
                          "sent so far are kept and no longer held; rolling them back", device_message=prompt[:200],
                          host=self.host, driver=self.name)

    def _release_safe_mode(self) -> None:
        """Ctrl-X again: the router keeps the changes (M40)."""
        answer = self._control_key(SAFE_MODE_KEY, "releasing Safe Mode")
        if not _PLAIN_PROMPT.fullmatch(answer):
            raise DeviceError("Safe Mode was not released", device_message=answer[:200], host=self.host,
                              driver=self.name)
        self.safe_mode = False
        self._hold = False

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """Read back (reusing the reads sent on the line of this session's last write, after it, when there are
        some); when it matches ``expected`` and this session holds Safe Mode, release it, keeping the verified
        changes (M40), and then remove the undo marker when the run's removal of it waited (M78). A mismatch leaves
        Safe Mode on: the rollback's writes stay undoable too."""
        out, self._readback = self._readback, None
        state = self._state_from(out) if out is not None else self.read_state()
        matches = managed_view(state) == managed_view(expected)
        if self.safe_mode and matches:
            self._release_safe_mode()
        if self._clear_due and matches and not self.safe_mode:
            self._clear_after_release()
        return state

    def _clear_after_release(self) -> None:
        """Remove the marker once the undo it belongs to is released (kept, M40): under Safe Mode the removal could
        be kept while the router undoes the rest (M78). Cut off before it, the router keeps a stale marker, which is
        never replayed; a refusal is raised, so the engine puts the router back as it was (marker included)."""
        self._clear_due = False
        name = self._marker_name()
        try:
            self._send_writes(marker.clear_commands(name))
        except DeviceError as exc:
            raise DeviceError(f"cannot remove the undo marker {name}", device_message=exc.device_message,
                              host=self.host, driver=self.name) from None
        self._marker_present = False

    def _batch_marker(self, token: str) -> str:
        return f":put {ros_quote(token)}"

    def _narrow(self) -> None:
        features, notes = set(_CAPS.features), list(_CAPS.notes)
        if self.version is not None and self.version[0] < 7:
            features.discard(Feature.NAT_MODE)
            notes.append("RouterOS 6 has no endpoint-independent NAT: NAT filtering is not managed")
        if self.version is not None and self.version < marker.FIRST_VERSION:
            features.discard(Feature.UNDO_MARKER)
            notes.append("RouterOS before 7.9 cannot create a file from the console (/file add): no undo marker is "
                         "kept on the router; undo needs the local record")
        elif self._file_access is False:
            features.discard(Feature.UNDO_MARKER)
            notes.append(_NO_FILE_ACCESS)
        self.capabilities = _CAPS if features == _CAPS.features else _CAPS.replace(
            features=frozenset(features), notes=tuple(notes))

    # --- reads ------------------------------------------------------------------------------------------

    _READS: ClassVar[tuple[str, ...]] = (
        "/system resource print", "/system identity print", f"{NAT} {_PRINT}",
        f"/ip firewall service-port {_PRINT}", f"/ip dhcp-server {_PRINT}", f"/ip pool {_PRINT}",
        f"/ip dhcp-server network {_PRINT}", f"/ip dhcp-server lease {_PRINT}", f"/ip arp {_PRINT}",
        f"/ip address {_PRINT}", f"/interface list member {_PRINT}", *_MARKER_READS,
    )
    _READ_BACK: ClassVar[tuple[str, ...]] = tuple(c for c in _READS if c not in _MARKER_READS and not c.startswith(
        ("/system ", "/ip arp ")))
    """What a read-back needs (everything but the version, identity and ARP table, which writes do not change, and
    the marker reads: :meth:`_marker_reads`)."""

    def _marker_reads(self) -> list[str]:
        """The marker file's read, once a read told where it lives (M73); before that, all three marker reads; none
        for a login refused ``/file`` (M83)."""
        if self._file_access is False:
            return []
        if self._marker_flash is None:
            return list(_MARKER_READS)
        return [marker.read_command(marker.path(self._marker_flash))]

    def _read_all(self) -> dict[str, str]:
        if self._dropped_safe_mode:
            self._await_dropped_safe_mode()
        self._send_held()  # a print renumbers: held commands that use the old numbers go first
        out = dict(zip(self._READS, self.send_many(self._READS), strict=True))
        self._remember_nat(out[f"{NAT} {_PRINT}"])  # numbers now follow this print (M15)
        return out

    def read_state(self) -> DeviceState:
        """Everything in one round trip (M5)."""
        return self._state_from(self._read_all())

    def _state_from(self, out: dict[str, str]) -> DeviceState:
        """The state shown by the outputs of :attr:`_READS` (or of :attr:`_READ_BACK`: version, identity and
        neighbours then come from this session's first read)."""
        if "/system resource print" in out:
            facts = self._parse_facts(out["/system resource print"], out["/system identity print"])
        elif self._facts is not None:
            facts = self._facts
        else:
            facts = self.facts()
        self._remember_nat(out[f"{NAT} {_PRINT}"])
        self._remember_addresses(out[f"/ip address {_PRINT}"], out[f"/interface list member {_PRINT}"])
        marker_fields = self._marker_from(out)  # first: a refused file read narrows the capabilities (M83)
        caps = self.capabilities
        lan = self._parse_scope(out)
        scope = lan.scope
        self._lan_network = scope.network
        self._lan_server = lan.server
        return DeviceState(
            facts=facts, capabilities=caps,
            nat_mode=self._nat_mode() if Feature.NAT_MODE in caps else None,
            sip_alg=self._parse_sip_alg(out[f"/ip firewall service-port {_PRINT}"]),
            forwards=self._forwards(), scope=scope,
            leases=self._parse_leases(out[f"/ip dhcp-server lease {_PRINT}"]),
            neighbours=self._parse_arp(out[f"/ip arp {_PRINT}"]) if f"/ip arp {_PRINT}" in out else (),
            **marker_fields,
        )

    def _marker_from(self, out: dict[str, str]) -> dict[str, Any]:
        """``undo_marker``/``marker_warning`` from the reads of the marker file (M73, M76), where the router can
        hold one (RouterOS 7.9 and later, M72) and lets this login use ``/file`` (M83); while the marker's removal
        waits for Safe Mode's release (M78), none."""
        reads = [out[c] for c in _MARKER_READS if c in out]
        if any(marker.refused(text) for text in reads):
            self._refuse_file_access()
            return {}
        if marker.flash_print() in out:
            self._marker_flash = marker.has_flash(parse_terse(out[marker.flash_print()], "/file print"))
            if self._file_access is False:  # granted since (a full read ran every file read)
                self._file_access = True
                self._narrow()
        name = marker.path(bool(self._marker_flash))
        if marker.read_command(name) not in out:
            return {}
        self._marker_present, text = marker.read_output(out[marker.read_command(name)], name)
        if Feature.UNDO_MARKER not in self.capabilities:
            return {}
        if self._clear_due:
            return {"undo_marker": None, "marker_warning": None}
        found, warning = marker.decode(text, name)
        return {"undo_marker": found, "marker_warning": warning}

    def _refuse_file_access(self) -> None:
        """The router refused this login ``/file`` (M83): keep no marker, as on RouterOS before 7.9, and say why."""
        if self._file_access is not False:
            log.warning("%s: %s", self.host, _NO_FILE_ACCESS)
        self._file_access = False
        self._marker_present = False
        self._narrow()

    def _parse_facts(self, resource: str, identity: str) -> DeviceFacts:
        values = parse_key_value_page(resource, "/system resource print")
        version_text = values.get("version", "")
        self.version = parse_version(version_text)
        self._narrow()
        name = parse_key_value_page(identity, "/system identity print").get("name", "")
        self._facts = DeviceFacts("MikroTik", values.get("board-name", "RouterOS"), version_text, name)
        return self._facts

    def facts(self) -> DeviceFacts:
        """Vendor, board, RouterOS version and identity."""
        outputs = self.send_many(["/system resource print", "/system identity print"])
        return self._parse_facts(*outputs)

    def _remember_nat(self, text: str) -> None:
        self._nat = parse_terse(text, f"{NAT} {_PRINT}")
        self._nat_printed = self._nat_fresh = True
        self._removed = set()

    def _remember_addresses(self, addresses: str, members: str) -> None:
        wan_ifaces = {m.get("interface") for m in parse_terse(members, "/interface list member print")
                      if m.get("list") == self.wan_list}
        self._wan_addresses = set()
        for item in parse_terse(addresses, "/ip address print"):
            if item.get("interface") in wan_ifaces and not item.disabled:
                try:
                    self._wan_addresses.add(ipaddress.IPv4Interface(item.get("address")).ip)
                except ValueError:
                    continue

    def _forwards(self) -> tuple[PortForward, ...]:
        return tuple(f for item in self._nat for f in forwards_from_rule(item))

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """Every dst-nat rule with a tcp/udp port and a target, in rule order (``ref`` = its number)."""
        self._send_held()  # a print renumbers: held commands that use the old numbers go first
        self._remember_nat(self.send(f"{NAT} {_PRINT}"))
        return self._forwards()

    def _eim_rules(self) -> list[TerseItem]:
        return [i for i in self._nat if i.get("action") == "endpoint-independent-nat"]

    def _nat_mode(self) -> NatMode:
        return NatMode.OPEN if any(not i.disabled for i in self._eim_rules()) else NatMode.SECURE

    def get_nat_mode(self) -> NatMode | None:
        """``open`` when an enabled endpoint-independent-nat rule exists (v7), else ``secure``; v6: ``None``."""
        if self.version is None:
            self.facts()
        if Feature.NAT_MODE not in self.capabilities:
            return None
        self.list_port_forwards()
        return self._nat_mode()

    @staticmethod
    def _parse_sip_alg(text: str) -> bool | None:
        for item in parse_terse(text, "/ip firewall service-port print"):
            if item.get("name") == "sip":
                return not item.disabled
        return None

    def get_sip_alg(self) -> bool | None:
        """Whether the ``sip`` service port (NAT helper) is enabled."""
        return self._parse_sip_alg(self.send(f"/ip firewall service-port {_PRINT}"))

    def _parse_scope(self, out: dict[str, str]) -> LanScope:
        """The LAN's DHCP server (its name), pool, network/gateway and every static lease of that server."""
        servers = [s for s in parse_terse(out[f"/ip dhcp-server {_PRINT}"], "/ip dhcp-server print")
                   if not s.disabled]
        if self.dhcp_server:
            servers = [s for s in servers if s.get("name") == self.dhcp_server]
        if not servers:
            raise ParseError("/ip dhcp-server print", "no enabled DHCP server" + (
                f" named {self.dhcp_server!r}" if self.dhcp_server else ""), host=self.host, driver=self.name)
        server = servers[0]
        server_name = server.get("name")
        pool_name = server.get("address-pool")
        pools = [p for p in parse_terse(out[f"/ip pool {_PRINT}"], "/ip pool print") if p.get("name") == pool_name]
        if not pools:
            raise ParseError("/ip pool print", f"the DHCP server's pool {pool_name!r} is missing", host=self.host,
                             driver=self.name)
        ranges = parse_address_ranges(pools[0].get("ranges"), "/ip pool print")
        if not ranges:
            raise ParseError("/ip pool print", f"pool {pool_name!r} has no ranges", host=self.host, driver=self.name)
        network: ipaddress.IPv4Network | None = None
        gateway: ipaddress.IPv4Address | None = None
        for net in parse_terse(out[f"/ip dhcp-server network {_PRINT}"], "/ip dhcp-server network print"):
            try:
                candidate = ipaddress.IPv4Network(net.get("address"), strict=False)
            except ValueError:
                continue
            if ranges[0].first in candidate:
                network = candidate
                gw = net.get("gateway").split(",")[0].strip()
                gateway = ipaddress.IPv4Address(gw) if gw else None
                break
        if network is None or gateway is None:
            for addr in parse_terse(out[f"/ip address {_PRINT}"], "/ip address print"):
                try:
                    iface = ipaddress.IPv4Interface(addr.get("address"))
                except ValueError:
                    continue
                if ranges[0].first in iface.network:
                    network = network or iface.network
                    gateway = gateway or iface.ip
                    break
        if network is None or gateway is None:
            raise ParseError("/ip dhcp-server network print", "no network/gateway holds the DHCP pool",
                             host=self.host, driver=self.name)
        leases = parse_terse(out[f"/ip dhcp-server lease {_PRINT}"], "/ip dhcp-server lease print")
        reservations = tuple(static_reservations(leases))
        return LanScope(DhcpScope(network, gateway, tuple(ranges), reservations), server_name)

    def get_dhcp_scope(self) -> DhcpScope:
        """The pool behind the LAN's DHCP server, its network/gateway and static leases."""
        return self._parse_scope(self._read_all()).scope

    @staticmethod
    def _parse_leases(text: str) -> tuple[Lease, ...]:
        leases = []
        for item in parse_terse(text, "/ip dhcp-server lease print"):
            address = item.get("active-address") or item.get("address")
            mac = item.get("active-mac-address") or item.get("mac-address")
            if not address or not mac or item.disabled:
                continue
            if not item.dynamic and item.get("status") not in ("bound", "offered"):
                continue
            try:
                leases.append(Lease(address, mac, item.get("host-name")))
            except InvalidValue:
                continue
        return tuple(leases)

    def list_leases(self) -> tuple[Lease, ...]:
        """Leases in use (dynamic ones and bound static ones)."""
        return self._parse_leases(self.send(f"/ip dhcp-server lease {_PRINT}"))

    @staticmethod
    def _parse_arp(text: str) -> tuple[Neighbour, ...]:
        result = []
        for item in parse_terse(text, "/ip arp print"):
            if item.disabled or not item.get("mac-address"):
                continue
            try:
                result.append(Neighbour(item.get("address"), item.get("mac-address")))
            except InvalidValue:
                continue
        return tuple(result)

    def list_neighbours(self) -> tuple[Neighbour, ...]:
        """The ARP table (complete entries)."""
        return self._parse_arp(self.send(f"/ip arp {_PRINT}"))

    def backup(self) -> Backup:
        """``/export`` as text (not restorable by routerfix: see the module docstring)."""
        return Backup(self.name, "routeros-export", self.send("/export"), time.time())

    # --- writes ------------------------------------------------------------------------------------------

    def check_restore_name(self, name: str) -> str:
        """A customer's forward goes back under its own name when :func:`~.strings.ros_quote` writes it and every
        print shows it back byte for byte (M43, M44: printable ASCII, spaces, quotes, ``$``, ``\\`` included);
        otherwise the engine uses a device-safe name."""
        return verbatim_name(name)

    def write_batch(self) -> contextlib.AbstractContextManager[None]:
        """The block's writes go at its end as one line (M5), stopped by the device at the first refusal; an
        exception inside drops them (nothing was sent)."""
        return self._held.block(self._send_some)

    def _send_some(self, commands: list[str]) -> None:
        if commands:
            self._send_writes(commands)

    def _write(self, commands: Sequence[str]) -> None:
        """Send configuration ``commands`` (held inside :meth:`write_batch`)."""
        if not self._held.hold(commands):
            self._send_writes(commands)

    def _send_held(self) -> None:
        """Send what :meth:`write_batch` holds so far (before a print renumbers the items those commands name)."""
        self._send_some(self._held.take())

    def _send_writes(self, commands: Sequence[str]) -> None:
        """Take Safe Mode if the run is armed (M40), then send ``commands`` on one line; in an armed run the
        read-back follows on the same line (M5: it runs only if every write did), kept for :meth:`verify_state`."""
        self._readback = self._connections = None
        self._check_history_room(len(commands))
        self._take_safe_mode()
        if self.safe_mode:
            self._safe_actions += len(commands)  # counted before sending: a line may land in part
        reads: list[str] = []
        if self._hold:
            reads = [*self._READ_BACK, *self._marker_reads()]
            if self.version is not None:  # the flush that follows a change wants the flows that predate it (M37)
                reads.append(self._connection_print(tuple(SIP_PORTS)))
        outputs = self.send_many([*commands, *reads])
        if self.safe_mode:
            self._check_still_safe()
        if reads:
            self._readback = dict(zip(reads, outputs[len(commands):], strict=True))
            self._remember_nat(self._readback[f"{NAT} {_PRINT}"])  # numbers now follow this print (M15)
            if self.version is not None:
                self._connections = (reads[-1], outputs[-1], self.round_trips)

    def _nat_numbers(self) -> list[TerseItem]:
        """The NAT rules of this session's last print, printing first if there was none (M15)."""
        if not self._nat_printed:
            self.list_port_forwards()
        return self._nat

    def _add_port_forward(self, forward: PortForward) -> None:
        name = ros_quote(self.check_restore_name(forward.name))
        standing = [item.index for item in self._nat_numbers() if item.index not in self._removed]
        place = f" place-before={standing[0]}" if standing else ""  # first (M31), by the last print's numbers
        disabled = "" if forward.enabled else " disabled=yes"
        self._write([f"{NAT} add chain=dstnat action=dst-nat protocol={forward.protocol.value} "
                     f"dst-port={forward.external_ports} in-interface-list={ros_quote(self.wan_list)} "
                     f"to-addresses={forward.internal_address} to-ports={forward.internal_ports} "
                     f"comment={name}{disabled}{place}"])

    def _find_forward(self, forward: PortForward) -> TerseItem | None:
        return next((item for item in self._nat if item.index not in self._removed
                     and any(f.key() == forward.key() for f in forwards_from_rule(item))), None)

    def _remove_port_forward(self, forward: PortForward) -> None:
        self._nat_numbers()
        item = self._find_forward(forward)
        if item is None:  # added in this session, or changed since the print: print again (a read)
            self.list_port_forwards()
            item = self._find_forward(forward)
        if item is not None:
            self._write([f"{NAT} remove {item.index}"])
            self._removed.add(item.index)

    def _reserve_address(self, reservation: Reservation) -> None:
        if self._lan_server is None:
            self.read_state()
        server = self._lan_server
        where = f" server={ros_quote(server)}" if server else ""
        self._write([f"/ip dhcp-server lease add address={reservation.address} "
                     f"mac-address={reservation.mac.upper()}{where} comment={ros_quote(reservation.name)}"])

    def _release_address(self, reservation: Reservation) -> None:
        self._write([f"/ip dhcp-server lease remove [find where address={reservation.address} and "
                     f"mac-address={reservation.mac.upper()} and !dynamic]"])

    def _set_sip_alg(self, enabled: bool) -> None:
        self._write([f"/ip firewall service-port set sip disabled={'no' if enabled else 'yes'}"])

    def _set_nat_mode(self, mode: NatMode) -> None:
        if self.version is None:
            self.facts()
        if Feature.NAT_MODE not in self.capabilities:
            raise UnsupportedOperation("RouterOS 6 has no endpoint-independent NAT", host=self.host,
                                       driver=self.name)
        if not self._nat_fresh:
            self.list_port_forwards()
        eim = [item for item in self._eim_rules() if item.index not in self._removed]
        if mode is NatMode.SECURE:
            # mark each rule this run disables, so that OPEN (the undo) re-enables those and no other
            commands = [f"{NAT} set {item.index} disabled=yes comment={ros_quote(EIM_OFF + item.get('comment'))}"
                        for item in eim if not item.disabled]
        else:
            marked = [item for item in eim if item.get("comment").startswith(EIM_OFF)]
            commands = [f"{NAT} set {item.index} disabled=no comment={ros_quote(item.get('comment')[len(EIM_OFF):])}"
                        for item in marked]
            if not marked and not any(not item.disabled for item in eim):
                commands = [
                    f"{NAT} add chain=srcnat action=endpoint-independent-nat protocol=udp "
                    f"out-interface-list={ros_quote(self.wan_list)} comment={ros_quote(EIM_COMMENT)}",
                    f"{NAT} add chain=dstnat action=endpoint-independent-nat protocol=udp "
                    f"in-interface-list={ros_quote(self.wan_list)} comment={ros_quote(EIM_COMMENT)}",
                ]
        if commands:
            self._write(commands)
        self._nat_fresh = False  # the rules' comments and flags changed: the next NAT mode change prints again

    def _marker_name(self) -> str:
        if self._marker_flash is None:
            self.read_state()
        return marker.path(bool(self._marker_flash))

    def _save_undo_marker(self, text: str) -> None:
        """On the write line, ahead of the run's changes (M80, M81)."""
        self._clear_due = False  # a rollback of an undo puts the marker back: no removal is wanted any more
        try:
            encoded = marker.encode(text)
        except UnsupportedOperation as exc:
            raise UnsupportedOperation(exc.message, host=self.host, driver=self.name) from None
        name = self._marker_name()
        self._write(marker.write_commands(name, encoded, present=self._marker_present))
        self._marker_present = True

    def _clear_undo_marker(self) -> None:
        """In an armed run, after Safe Mode is released (:meth:`verify_state`, M78); otherwise at once."""
        if self._hold:
            self._clear_due = True
            return
        self._write(marker.clear_commands(self._marker_name()))
        self._marker_present = False

    def _capture(self, seconds: float, max_packets: int) -> LiveCapture:
        """``/tool sniffer`` on the WAN and LAN interfaces into one file, read over SFTP on this session's
        connection, then removed and the sniffer put back as it was (:mod:`.capture`, M60-M71)."""
        from .capture import capture

        return capture(self, seconds, max_packets)

    def _connection_print(self, ports: tuple[int, ...]) -> str:
        """The print of the connections to ``ports`` (M38: v7 has ``dst-port``, v6 ``dst-address=a.b.c.d:port``)."""
        assert self.version is not None
        alternatives = "|".join(str(p) for p in sorted(set(ports)))
        where = f"dst-port~{ros_quote(f'^({alternatives})$')}" if self.version[0] >= 7 else \
            f"dst-address~{ros_quote(f':({alternatives})$')}"
        return f"/ip firewall connection {_PRINT} where {where}"

    def _flush_connections(self, ports: tuple[int, ...]) -> int:
        if self.version is None:
            self.facts()
        command = self._connection_print(ports)
        seen, self._connections = self._connections, None
        # the print sent on the line of the last write, when nothing was sent since: it shows the flows that
        # predate the change, which are the ones to clear (later ones already took the new rules)
        printed = seen[1] if seen is not None and seen[0] == command and seen[2] == self.round_trips else None
        removed = 0
        for _attempt in range(2):
            text = printed if printed is not None else self.send(command)
            printed = None
            doomed = self._inbound_connections(text, ports)
            if not doomed:
                return removed
            try:
                self.send(f"/ip firewall connection remove {','.join(map(str, doomed))}")
            except DeviceError as exc:
                if "no such item" not in exc.device_message:
                    raise
                # an entry expired between print and remove: print again and remove what is still there (a read
                # first, so this is no blind repeat of the write)
                removed = -1
                continue
            return len(doomed) if removed == 0 else -1
        return -1  # entries kept expiring under us twice; what is left times out on its own

    def _inbound_connections(self, text: str, ports: tuple[int, ...]) -> list[int]:
        """Numbers of the printed tcp/udp connections to ``ports`` that came in from outside."""
        doomed: list[int] = []
        for item in parse_terse(text, "/ip firewall connection print"):
            if item.get("protocol") not in ("udp", "tcp"):
                continue
            dst, dst_port = _split_address(item.get("dst-address"), item.get("dst-port"))
            src, _ = _split_address(item.get("src-address"), item.get("src-port"))
            if dst_port not in ports or dst is None:
                continue
            inbound = dst in self._wan_addresses if self._wan_addresses else (
                src is not None and self._lan_network is not None and src not in self._lan_network)
            if inbound:
                doomed.append(item.index)
        return doomed


def _split_address(address: str, port: str) -> tuple[ipaddress.IPv4Address | None, int | None]:
    """``a.b.c.d:port`` (v6) or address + separate port (v7)."""
    text = address.strip()
    match = re.fullmatch(r"(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?", text)
    if match is None:
        return None, None
    found_port = match.group(2) or port
    try:
        return ipaddress.IPv4Address(match.group(1)), int(found_port) if found_port else None
    except ValueError:
        return None, None
