"""What VyOS and EdgeOS drivers share: reading ``show configuration commands``, and the configure → set/delete →
``commit-confirm`` → (verified) ``confirm`` → ``save`` cycle.

Device-held rollback: the first commit of a run is ``commit-confirm N`` (the device reboots to its *saved*
configuration after N minutes unless ``confirm`` comes first; docs/facts/vyos.md rows 28-32, edgeos.md rows
17-19). Nothing is saved while that timer runs, so a client killed at any point leaves a device that puts itself
back. ``confirm`` and ``save`` are sent only from :meth:`VyattaDriver.verify_state` once the read-back matches
what the engine expects (the engine's last read of a run, and of a rollback). The writes of one engine batch go
as one candidate and one commit (:meth:`VyattaDriver.write_batch`). Leaving configuration mode with uncommitted
changes needs ``exit discard`` (changes lost; rows 3-4): on any refusal the driver leaves that way so that nothing
half-made stays in the candidate. netmiko's own VyOS helpers are not used: they
read with 2-second timing waits; commands go through :meth:`SSHDriver.send` with a prompt regex instead, and
blocks that are harmless to run whole (reads, the ``set``/``delete`` lines of a candidate, ``save`` + ``exit``)
through :meth:`SSHDriver.send_pipelined` (one round trip per block).

Undo marker (:mod:`.marker`, vyos.md rows 33-42): a file in ``/config``, read in the first read block and written
ahead of the batch's candidate in its block, so it costs no round trip and is in place before anything is
committed (a refused write stops the run then, nothing committed). It is plain file I/O, not configuration: a
reverted commit-confirm leaves it behind (stale, never replayed), and its removal at the end of an undo waits for
the undo's ``confirm`` and ``save``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from routerfix.base.ssh import SSH_OPTION_NAMES, SSHDriver
from routerfix.enums import ActionKind
from routerfix.errors import DeviceError, InvalidValue, ParseError
from routerfix.held import HeldWrites
from routerfix.markers import parse_encoded_marker, parse_marker
from routerfix.model import (
    Backup,
    DeviceFacts,
    DeviceState,
    DhcpScope,
    Lease,
    Neighbour,
    PortForward,
    Reservation,
)
from routerfix.planner import managed_view

from .configtree import Path, parse_commands, quote
from .marker import MARKER_FILE, clear_command, read_command, write_commands, written
from .parser import parse_arp, parse_conntrack_deleted, parse_interface_address, parse_version

__all__ = ["VyattaDriver"]

log = logging.getLogger("routerfix.drivers.vyatta")

_NAME_RE = re.compile(r"[A-Za-z0-9][\w.-]{0,63}")


class VyattaDriver(SSHDriver):
    """Base of the VyOS and EdgeOS drivers (not registered itself)."""

    vendor: ClassVar[str] = ""
    option_names: ClassVar[frozenset[str]] = SSH_OPTION_NAMES | {"wan_interface", "dhcp_subnet", "confirm_minutes"}
    option_help: ClassVar[Mapping[str, str]] = {
        **SSHDriver.option_help,
        "wan_interface": "inbound interface of the destination-NAT rules, e.g. eth0 or pppoe0 (default: the "
                         "outbound interface of the first source-NAT rule)",
        "dhcp_subnet": "the LAN's DHCP subnet, e.g. 192.168.1.0/24 (default: the first subnet with a range)",
        "confirm_minutes": "commit-confirm window, 1-60 (default 10): unconfirmed, the device reboots to its saved "
                           "configuration",
    }
    batch_kinds = frozenset({ActionKind.ADD_FORWARD, ActionKind.REMOVE_FORWARD, ActionKind.RESERVE_ADDRESS,
                             ActionKind.RELEASE_ADDRESS, ActionKind.SET_SIP_ALG, ActionKind.SAVE_UNDO_MARKER,
                             ActionKind.CLEAR_UNDO_MARKER})
    prompt_pattern: ClassVar[str | None] = r"[\w.-]+@[\w.-]+(?::\S*)?[$#]"
    error_patterns: ClassVar[tuple[str, ...]] = (
        r"is not valid", r"Set failed", r"Delete failed", r"Commit failed", r"Invalid command", r"Cannot exit",
        r"Value validation failed", r"Failed to generate committed config", r"^\s*Error:")
    logout_command: ClassVar[str | None] = "exit"
    leases_command: ClassVar[str] = ""
    rule_number_limit: ClassVar[int] = 9999
    """Highest destination-NAT rule number routerfix picks."""

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        wan = self.options.get("wan_interface")
        if wan is not None and (not isinstance(wan, str) or not _NAME_RE.fullmatch(wan)):
            raise InvalidValue("wan_interface", wan, "an interface name such as eth0 or pppoe0")
        subnet = self.options.get("dhcp_subnet")
        if subnet is not None:
            try:
                ipaddress.IPv4Network(str(subnet), strict=False)
            except ValueError:
                raise InvalidValue("dhcp_subnet", subnet, "a subnet such as 192.168.1.0/24") from None
        minutes = self.options.get("confirm_minutes", 10)
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 60:
            raise InvalidValue("confirm_minutes", minutes, "whole minutes from 1 to 60")
        self.confirm_minutes: int = minutes
        """``commit-confirm`` window: the device reboots to its saved configuration unless confirmed in time."""
        self.pending_confirm = False
        """A ``commit-confirm`` of this run is armed on the device and not yet confirmed."""
        self._held: HeldWrites[str] = HeldWrites()
        """Lines of the current :meth:`write_batch`."""
        self._facts: DeviceFacts | None = None
        self._unsaved = False
        self._cached: tuple[str, list[Path]] | None = None
        """``show configuration commands`` as read after this session's last write (None: unknown)."""
        self._marker: tuple[dict[str, Any] | None, str | None] | None = None
        """The undo marker (marker, warning) as this session last read or wrote it (None: unknown)."""
        self._held_marker: tuple[list[str], str] | None = None
        """Inside :meth:`write_batch`: the marker's write lines and text, sent ahead of the candidate."""
        self._held_clear = False
        """Inside :meth:`write_batch`: the marker is to be removed once the batch's change is kept."""
        self._clear_due = False
        """The marker is removed once the pending ``commit-confirm`` is confirmed and saved (not before: a
        revert would bring back the change the marker describes)."""

    # --- platform specifics (overridden) -------------------------------------------------------

    def _forwards(self, paths: list[Path]) -> tuple[PortForward, ...]:
        raise NotImplementedError

    def _scope(self, paths: list[Path]) -> tuple[DhcpScope, tuple[str, str]]:
        raise NotImplementedError

    def _sip_alg(self, paths: list[Path]) -> bool:
        raise NotImplementedError

    def _wan_from(self, paths: list[Path]) -> str | None:
        raise NotImplementedError

    def _parse_leases(self, text: str) -> tuple[Lease, ...]:
        raise NotImplementedError

    def _add_commands(self, number: int, forward: PortForward, wan: str) -> list[str]:
        raise NotImplementedError

    def _rule_path(self, forward: PortForward) -> str:
        """The configuration path (``nat destination rule 10``) of a rule read from the device."""
        raise NotImplementedError

    def _used_numbers(self, paths: list[Path]) -> set[int]:
        raise NotImplementedError

    def _reserve_commands(self, where: tuple[str, str], reservation: Reservation) -> list[str]:
        raise NotImplementedError

    def _sip_commands(self, enabled: bool) -> list[str]:
        raise NotImplementedError

    managed_prefixes: ClassVar[tuple[Path, ...]] = ()
    """Configuration subtrees :meth:`restore` puts back from a backup."""

    # --- helpers ---------------------------------------------------------------------------------

    def _open_once(self) -> None:
        self._cached = None  # a new session: nothing read in this one yet
        self._marker = None
        super()._open_once()

    def _config(self) -> tuple[str, list[Path]]:
        """Read ``show configuration commands`` now (and remember it until the next write)."""
        return self._parse_config(self.send("show configuration commands"))

    def _parse_config(self, text: str) -> tuple[str, list[Path]]:
        paths = parse_commands(text)
        if not paths:
            raise ParseError("show configuration commands", "no 'set' lines", host=self.host, driver=self.name)
        self._cached = (text, paths)
        return text, paths

    def _current(self) -> tuple[str, list[Path]]:
        """The configuration as read since this session's last write, else read now (write hooks, backup,
        verification: nothing but routerfix's own writes changes it within a run)."""
        return self._cached if self._cached is not None else self._config()

    def _wan(self, paths: list[Path]) -> str:
        wan = self.options.get("wan_interface") or self._wan_from(paths)
        if not wan:
            raise DeviceError("cannot tell the WAN interface: pass wan_interface=<name>",
                              device_message="no source-NAT (masquerade) rule names an outbound interface",
                              host=self.host, driver=self.name)
        return str(wan)

    def _commit(self, lines: list[str]) -> None:
        """Inside :meth:`write_batch`: hold ``lines`` (the cached configuration is updated as if they had been
        committed, so that the next hook of the batch sees them). Outside: send them now."""
        if not lines:
            return
        if self._held.hold(lines):
            text, paths = self._current()
            self._cached = (text, _applied(paths, lines))
            return
        self._send_commit(lines)

    def write_batch(self) -> contextlib.AbstractContextManager[None]:
        """The writes of the block as one candidate and one commit at its end (nothing is saved here: see
        :meth:`verify_state`). An exception inside drops the held lines (nothing was sent)."""
        return self._held.block(self._commit_held, on_drop=self._forget_cache)

    def _forget_cache(self) -> None:
        self._cached = None
        self._held_marker, self._held_clear = None, False

    def _commit_held(self, lines: list[str]) -> None:
        self._cached = None
        marker, self._held_marker = self._held_marker, None
        clear, self._held_clear = self._held_clear, False
        self._send_commit(lines, marker)
        if clear:
            self._clear_undo_marker()  # outside the block now: after the confirm when one is pending

    def _send_commit(self, lines: list[str], marker: tuple[list[str], str] | None = None) -> None:
        """configure, ``lines``, ``commit-confirm N`` (the run's first commit; later ones a plain ``commit``,
        still covered by the same timer), exit — or ``exit discard`` on any refusal.

        Round trips: ``configure`` and the ``set``/``delete`` lines typed ahead as one block (they only build the
        candidate; a refused line makes the whole candidate go with ``exit discard`` before anything is
        committed); the commit on its own (plus the answer to ``Proceed ?``); then ``exit`` and ``show
        configuration commands`` as one block (the read-back the following writes and the verification reuse).
        Nothing is saved: :meth:`verify_state` confirms and saves once the read-back matches the plan.

        ``marker``: the undo marker's write lines (and text), typed ahead of ``configure`` in the same block:
        the file is in place before anything is committed, and if it could not be written the candidate goes
        with ``exit discard``, nothing committed."""
        if not lines:
            if marker is not None:
                self._write_marker(*marker)
            return
        self._cached = None
        head = marker[0] if marker is not None else []
        block = [*head, "configure", *lines]
        try:
            outputs = self.send_pipelined(block, check=False)
            if marker is not None:
                self._check_marker_written(outputs[:len(head)], marker[1])
            for command, output in zip(block[len(head):], outputs[len(head):], strict=True):
                self.check_output(command, output)
            if self.pending_confirm:
                self.send("commit")
            else:
                self.pending_confirm = True  # armed before the commit lands (the device starts the timer first)
                out = self.send(f"commit-confirm {self.confirm_minutes}", check=False,
                                expect=rf"(?:.*Proceed \?.*|{self.prompt_pattern})")
                if "Proceed" in self.session.last_prompt:  # the device asks first (vyos-1x config_mgmt.py)
                    out += "\n" + self.send("y", check=False)
                if "confirm is pending" in out:  # not ours: never confirm it
                    self.pending_confirm = False
                    raise DeviceError("another commit-confirm is pending on the device (someone else's change "
                                      "waits for 'confirm'): nothing was committed", device_message=out.strip()[-200:],
                                      host=self.host, driver=self.name)
                self.check_output("commit-confirm", out)
            leave, text = self.send_pipelined(["exit", "show configuration commands"], check=False)
            self.check_output("exit", leave)
            self.check_output("show configuration commands", text)
        except DeviceError:
            if self._session is not None and self.session.last_prompt.endswith("#"):  # still configuring
                self.send("exit discard", check=False)
            raise
        self._parse_config(text)

    def _confirm_and_save(self) -> None:
        """``configure`` + ``confirm`` (the timer stops), then ``save`` + ``exit``: two round trips. The save
        comes only after the device said the timer stopped; once ``save`` said ``Done``, a refused ``exit`` leaves
        with ``exit discard`` (nothing uncommitted or unsaved is left to lose)."""
        out = self.send_pipelined(["configure", "confirm"], check=False)[1]
        if not re.search(r"timer stopped|No confirm pending", out, re.IGNORECASE):
            self.send("exit discard", check=False)
            raise DeviceError("confirm was not acknowledged: the device reboots to its saved configuration when the "
                              "commit-confirm timer ends", device_message=out.strip()[-200:] or "no output",
                              host=self.host, driver=self.name)
        self.pending_confirm = False
        self._unsaved = True
        save, leave = self.send_pipelined(["save", "exit"], check=False)
        self._check_saved(save)
        try:
            self.check_output("exit", leave)
        except DeviceError:  # confirmed and saved: nothing is left in the candidate to lose by leaving anyway
            log.warning("%s: 'exit' after 'save' was refused (%s); leaving with 'exit discard'", self.host,
                        leave.strip()[-200:])
            if self.session.last_prompt.endswith("#"):
                self.send("exit discard", check=False)

    def _check_saved(self, out: str) -> None:
        if "Done" not in out:
            raise DeviceError("save did not finish", device_message=out.strip()[-200:] or "no output",
                              host=self.host, driver=self.name)
        self._unsaved = False

    def _save_in_config(self) -> None:
        self._check_saved(self.send("save"))

    def _find(self, paths: list[Path], forward: PortForward) -> PortForward | None:
        for candidate in self._forwards(paths):
            if (candidate.protocol, candidate.external_ports, candidate.internal_address,
                    candidate.internal_ports) == (forward.protocol, forward.external_ports,
                                                  forward.internal_address, forward.internal_ports) and \
                    (candidate.name == forward.name or not candidate.name.startswith("routerfix")):
                return candidate
        return None

    # --- reads -------------------------------------------------------------------------------------

    def facts(self) -> DeviceFacts:
        """``show version`` (once per driver instance)."""
        if self._facts is None:
            self._facts = self._parse_facts(self.send("show version"))
        return self._facts

    def _parse_facts(self, text: str) -> DeviceFacts:
        hostname = self.session.last_prompt.split("@", 1)[-1].split(":", 1)[0].rstrip("#$")
        return parse_version(text, self.vendor, hostname)

    def read_state(self) -> DeviceState:
        """(``show version`` once,) configuration, leases, ARP and the undo marker typed ahead as one block: one
        round trip. A marker the login may not read (a shell that refuses plain commands) is no marker, with a
        warning; the rest of the read stands (vyos.md row 42)."""
        self._clear_due = False  # the device's own word from here: a removal still wanted is applied again
        if self._unsaved and not self.pending_confirm and self._session is not None:
            self.send("configure")
            self._save_in_config()  # a save lost to a dropped connection is redone first
            self.send("exit")
        reads = ["show configuration commands", self.leases_command, "show arp", read_command()]
        if self._facts is None:
            reads.insert(0, "show version")
        outputs = self.send_pipelined(reads, check=False)
        for command, output in zip(reads[:-1], outputs[:-1], strict=True):
            self.check_output(command, output)
        if self._facts is None:
            self._facts = self._parse_facts(outputs.pop(0))
        _, paths = self._parse_config(outputs[0])
        marker, warning = self._parse_marker(outputs[3])
        return DeviceState(
            facts=self._facts, capabilities=self.capabilities, sip_alg=self._sip_alg(paths),
            forwards=self._forwards(paths), scope=self._scope(paths)[0],
            leases=self._parse_leases(outputs[1]), neighbours=parse_arp(outputs[2]), undo_marker=marker,
            marker_warning=warning)

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """What verification compares (SIP helper, every destination-NAT rule, the DHCP static mappings), from
        the configuration read after this session's last write (every commit reads it back after ``save``) and the
        undo marker as last read or written (a removal waiting for the confirm counts as done): usually no round
        trip. Leases and ARP are not read. When it matches ``expected`` (the engine's final check
        of a run or of a rollback), a pending ``commit-confirm`` is confirmed and the configuration saved here,
        and then an undo marker whose removal waited for that is removed (a refusal there is logged, not
        raised: :meth:`_remove_leftover_marker`)."""
        _, paths = self._current()
        marker, warning = (None, None) if self._clear_due else self._known_marker()
        state = DeviceState(facts=self.facts(), capabilities=self.capabilities, sip_alg=self._sip_alg(paths),
                            forwards=self._forwards(paths), scope=self._scope(paths)[0], undo_marker=marker,
                            marker_warning=warning)
        if managed_view(state) == managed_view(expected):
            if self.pending_confirm:  # the run's change (or its rollback) is verified: keep it, then save it
                self._confirm_and_save()
            elif self._unsaved:
                self.send("configure")
                self._save_in_config()
                self.send("exit")
            if self._clear_due and not self.pending_confirm:
                self._remove_leftover_marker()
        elif self.pending_confirm:
            log.warning("%s: read-back differs from the plan; commit-confirm left armed (the device reboots to its "
                        "saved configuration in %d minutes unless a verified rollback confirms)", self.host,
                        self.confirm_minutes)
        return state

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """Every destination-NAT rule that translates to an address."""
        return self._forwards(self._config()[1])

    def get_sip_alg(self) -> bool | None:
        """Whether the SIP conntrack helper is enabled."""
        return self._sip_alg(self._config()[1])

    def get_dhcp_scope(self) -> DhcpScope:
        """The LAN subnet's range(s), default router and static mappings."""
        return self._scope(self._config()[1])[0]

    def list_leases(self) -> tuple[Lease, ...]:
        """Current DHCP leases."""
        return self._parse_leases(self.send(self.leases_command))

    def list_neighbours(self) -> tuple[Neighbour, ...]:
        """``show arp``."""
        return parse_arp(self.send("show arp"))

    def backup(self) -> Backup:
        """``show configuration commands``."""
        return Backup(self.name, "set-commands", self._current()[0], time.time())

    # --- writes --------------------------------------------------------------------------------------

    def _add_port_forward(self, forward: PortForward) -> None:
        _, paths = self._current()
        if self._find(paths, forward) is not None and any(
                f.name == forward.name for f in self._forwards(paths)):
            return
        used = self._used_numbers(paths)
        number = next((n for n in range(1, self.rule_number_limit + 1) if n not in used), None)
        if number is None:
            raise DeviceError("no free NAT rule number", device_message=f"rules 1-{self.rule_number_limit} in use",
                              host=self.host, driver=self.name)
        self._commit(self._add_commands(number, forward, self._wan(paths)))

    def _remove_port_forward(self, forward: PortForward) -> None:
        _, paths = self._current()
        found = self._find(paths, forward)
        if found is not None:
            self._commit([f"delete {self._rule_path(found)}"])

    def _reserve_address(self, reservation: Reservation) -> None:
        _, paths = self._current()
        scope, where = self._scope(paths)
        for other in scope.reservations:
            if other == reservation:
                return
            if other.address == reservation.address or other.name == reservation.name:
                raise DeviceError(f"{reservation.address} cannot be reserved",
                                  device_message=f"static-mapping {other.name} holds {other.address} for {other.mac}",
                                  host=self.host, driver=self.name)
        self._commit(self._reserve_commands(where, reservation))

    def _release_address(self, reservation: Reservation) -> None:
        _, paths = self._current()
        scope, (network_name, subnet) = self._scope(paths)
        self._commit([f"delete service dhcp-server shared-network-name {network_name} subnet {subnet} "
                      f"static-mapping {r.name}" for r in scope.reservations
                      if (r.address, r.mac) == (reservation.address, reservation.mac)])

    def _set_sip_alg(self, enabled: bool) -> None:
        _, paths = self._current()
        if self._sip_alg(paths) != enabled:
            self._commit(self._sip_commands(enabled))

    def _flush_connections(self, ports: tuple[int, ...]) -> int:
        """``sudo conntrack -D`` for entries whose original destination is the WAN address and port (inbound
        only: the phones' own flows go to their provider's address)."""
        _, paths = self._current()
        wan = self._wan(paths)
        address = parse_interface_address(self.send("show interfaces"), wan)
        if address is None:
            raise DeviceError(f"the WAN interface {wan} has no IPv4 address to flush for",
                              device_message="show interfaces lists no address", host=self.host, driver=self.name)
        total = 0
        commands = [f"sudo conntrack -D -p {proto} --orig-dst {address} --dport {port}"
                    for port in ports for proto in ("udp", "tcp")]
        if commands:  # read-only on the configuration, harmless to run whole: one round trip
            for out in self.send_pipelined(commands, check=False):
                count = parse_conntrack_deleted(out)
                if count < 0 and "0 flow entries" not in out:
                    if re.search(r"command not found|not permitted|Operation not", out):
                        raise DeviceError("conntrack refused", device_message=out.strip()[-200:], host=self.host,
                                          driver=self.name)
                total += max(count, 0)
        return total

    # --- undo marker (vyos.md rows 33-42, edgeos.md rows 20-24) ---------------------------------------------

    def _parse_marker(self, output: str) -> tuple[dict[str, Any] | None, str | None]:
        try:
            self.check_output(read_command(), output)  # base64 never matches: this is the shell refusing
        except DeviceError as exc:
            log.warning("%s: the undo marker %s could not be read (%s); taken as none", self.host, MARKER_FILE,
                        exc.device_message[:100])
            self._marker = (None, f"the undo marker {MARKER_FILE} could not be read ({exc.device_message[:100]}): "
                                  "ignored")
            return self._marker
        self._marker = parse_encoded_marker(output, MARKER_FILE)
        return self._marker

    def _known_marker(self) -> tuple[dict[str, Any] | None, str | None]:
        return self._marker if self._marker is not None else self._parse_marker(
            self.send(read_command(), check=False))

    def _save_undo_marker(self, text: str) -> None:
        """Inside :meth:`write_batch`: held, and typed ahead of the batch's candidate (:meth:`_send_commit`).
        Outside: written now (one round trip)."""
        lines = write_commands(text)
        if self._held.active:
            self._held_marker, self._held_clear = (lines, text), False
            return
        self._write_marker(lines, text)

    def _write_marker(self, lines: list[str], text: str) -> None:
        self._check_marker_written(self.send_pipelined(lines, check=False), text)

    def _check_marker_written(self, outputs: list[str], text: str) -> None:
        problem = written(outputs)
        if problem is not None:
            self._marker = None
            raise DeviceError(f"cannot save the undo marker {MARKER_FILE} (nothing is committed with it): the login "
                              "user must be able to write /config (be in the vyattacfg group, as configuring users "
                              "are) and /config must have room",
                              device_message=problem[:200], host=self.host, driver=self.name)
        self._marker = parse_marker(text, MARKER_FILE)

    def _clear_undo_marker(self) -> None:
        """Removed once the change before it is kept: at the end of the batch, and while a ``commit-confirm`` is
        pending only after it is confirmed and saved (:meth:`verify_state`)."""
        if self._held.active:
            self._held_marker, self._held_clear = None, True
        elif self.pending_confirm:
            self._clear_due = True
        else:
            self._remove_marker()

    def _remove_marker(self) -> None:
        out = self.send(clear_command(), check=False)
        self._clear_due = False
        problem = written([out])
        if problem is not None:
            self._marker = None
            raise DeviceError(f"cannot remove the undo marker {MARKER_FILE}", device_message=problem[:200],
                              host=self.host, driver=self.name)
        self._marker = (None, None)

    def _remove_leftover_marker(self) -> None:
        """The marker's removal once the undo is confirmed and saved. Refused, it is only logged: the router is
        undone, and a marker left on it describes a change it no longer has (stale, never replayed: vyos.md row 40);
        raising would make the engine roll back a finished undo, starting with re-saving the marker that cannot be
        written either."""
        try:
            self._remove_marker()
        except DeviceError as exc:
            log.warning("%s: the undo is confirmed and saved, but the undo marker %s could not be removed (%s); it "
                        "is stale and is never replayed: remove it by hand or let the next undo clear it", self.host,
                        MARKER_FILE, exc.device_message)

    def _restore(self, backup: Backup) -> None:
        """Put the managed subtrees (NAT rules, DHCP server, conntrack modules) back as the backup has them."""
        saved = parse_commands(backup.text)
        _, now = self._current()
        lines: list[str] = []
        for prefix in self.managed_prefixes:
            mine = sorted(p for p in now if p[:len(prefix)] == prefix)
            theirs = sorted(p for p in saved if p[:len(prefix)] == prefix)
            if mine == theirs:
                continue
            if mine:
                lines.append("delete " + " ".join(prefix))
            lines += ["set " + " ".join(quote(w, False) for w in p) for p in theirs]
        self._commit(lines)


def _applied(paths: list[Path], lines: list[str]) -> list[Path]:
    """``paths`` after ``set``/``delete`` ``lines`` (what a batch's later hooks see before anything is sent)."""
    result = list(paths)
    for line in lines:
        verb, _, rest = line.partition(" ")
        words = parse_commands("set " + rest)
        if not words:
            continue
        path = words[0]
        if verb == "delete":
            result = [p for p in result if p[:len(path)] != path]
        elif path not in result:
            result.append(path)
    return result
