"""The Cisco IOS / IOS-XE driver (SSH, netmiko ``cisco_ios``), see the package docstring."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Any, ClassVar

from routerfix.base.ssh import SSH_OPTION_NAMES, SSHDriver
from routerfix.enums import ActionKind
from routerfix.errors import (
    AuthenticationError,
    ConnectionDropped,
    DeviceError,
    InvalidValue,
    ParseError,
    RouterfixError,
)
from routerfix.markers import parse_marker
from routerfix.model import (
    Backup,
    Capabilities,
    DeviceFacts,
    DeviceState,
    DhcpScope,
    Feature,
    Lease,
    Neighbour,
    PortForward,
    Reservation,
)
from routerfix.planner import managed_view
from routerfix.secrets import redact, register, reveal

from .parser import (
    MARKER_ACL,
    UNDO_ACL,
    IosConfig,
    Managed,
    StaticNat,
    change_lines,
    config_body,
    customer_rule_name,
    dotted_mac,
    orphan_forwards,
    parse_arp,
    parse_bindings,
    parse_ping,
    parse_running_config,
    parse_version,
    scope_from_config,
    static_forward,
    undo_lines,
    undo_text,
)

__all__ = ["CiscoIosDriver"]

_ARCHIVE_PATH = re.compile(r"^archive[ \t]*\n(?:[ \t]+.*\n)*?[ \t]+path[ \t]+\S", re.MULTILINE)
"""An ``archive`` block with a ``path`` line: what ``configure terminal revert timer`` needs (F36)."""
_NO_HELD_ROLLBACK = ("no device-held rollback: no 'archive' with a 'path' in the running-config, so 'configure "
                     "terminal revert timer' is unavailable; a client killed mid-run can leave the change in running-"
                     "config unsaved (a reload brings back the startup-config)")

log = logging.getLogger("routerfix.drivers.cisco_ios")

_TERMINAL = ("terminal length 0", "terminal width 511")
"""Paging off and a line wide enough for every configuration line (docs/facts/cisco_ios.md F5)."""

_PING = "repeat 2 timeout 1"
"""Two echoes (the first is often lost to ARP resolution), one second each."""
_PING_BOUND = 2 * 1 + 3.0
"""Seconds a probe may take: the two echo timeouts and a margin; never the whole read timeout."""
_REMARK = re.compile(r"(?:no )?remark ")
"""A line adding or removing a remark in an ACL's mode (F25): typed together with the remarks next to it."""

_NOTES = (
    "IOS static NAT has no port ranges and no tcp+udp form: routerfix writes four rules (tcp/udp x 5060/5061)",
    "IOS static NAT lines cannot carry a name: routerfix records each rule it writes as a remark of the ACL "
    f"'{MARKER_ACL}' (applied nowhere) and treats only exactly matching lines as its own",
    "no NAT filtering setting for PAT on IOS (NAT mode not managed)",
    "connection tracking is not flushed: IOS translation entries do not say which side opened them, so clearing "
    "entries on global port 5060/5061 could also cut the phones' own registrations",
)


class CiscoIosDriver(SSHDriver):
    """Cisco IOS and IOS-XE routers over SSH.

    Options (besides the SSH trust options): ``wan_interface`` (the outside interface static NAT binds to;
    default: the interface of the PAT ``overload`` rule, else the only ``ip nat outside`` interface),
    ``dhcp_pool`` (the LAN ``ip dhcp pool``; default: the pool of the ``ip nat inside`` interface's network),
    ``enable_secret`` (the ``enable`` password when the account lands at ``>``; default: the login password).
    """

    name: ClassVar[str] = "cisco_ios"
    device_type: ClassVar[str] = "cisco_ios"
    capabilities = Capabilities(
        features=frozenset({Feature.PORT_FORWARD, Feature.FORWARD_TO_UNUSED, Feature.DHCP_SCOPE, Feature.LEASES,
                            Feature.NEIGHBOURS, Feature.DHCP_RESERVATION, Feature.PROBE, Feature.BACKUP,
                            Feature.SIP_ALG, Feature.UNDO_MARKER}),
        forward_ranges=False, forward_both=False, orders_rules=False, notes=_NOTES)
    option_names: ClassVar[frozenset[str]] = SSH_OPTION_NAMES | {"wan_interface", "dhcp_pool", "enable_secret",
                                                                 "confirm_minutes"}
    option_help: ClassVar[Mapping[str, str]] = {
        **SSHDriver.option_help,
        "wan_interface": "outside interface static NAT binds to (default: that of the PAT overload rule, else the "
                         "only 'ip nat outside' interface)",
        "dhcp_pool": "the LAN's 'ip dhcp pool' (default: the pool whose network holds an 'ip nat inside' address)",
        "enable_secret": "the enable password where the login lands at '>' (default: the login password)",
        "confirm_minutes": "revert-timer window, 1-120 (default 10): unconfirmed, IOS rolls back to the configuration "
                           "archived when armed (needs 'archive' with a path)",
    }
    secret_options: ClassVar[frozenset[str]] = SSHDriver.secret_options | {"enable_secret"}
    prompt_pattern: ClassVar[str | None] = r"[A-Za-z][\w.-]*(?:\([\w-]+\))?[#>]"
    error_patterns: ClassVar[tuple[str, ...]] = (r"^% ?\S",)
    session_commands: ClassVar[tuple[str, ...]] = ()
    """None at login: :data:`_TERMINAL` is typed ahead of the session's first exchange instead (:meth:`send`)."""
    logout_command: ClassVar[str | None] = "exit"
    batch_kinds = frozenset({ActionKind.ADD_FORWARD, ActionKind.REMOVE_FORWARD, ActionKind.RESERVE_ADDRESS,
                             ActionKind.RELEASE_ADDRESS, ActionKind.SET_SIP_ALG, ActionKind.SAVE_UNDO_MARKER,
                             ActionKind.CLEAR_UNDO_MARKER})
    """Every change of a run goes in one configuration block (:meth:`write_batch`) and one save."""

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        for key in ("wan_interface", "dhcp_pool"):
            value = self.options.get(key)
            if value is not None and (not isinstance(value, str) or not re.fullmatch(r"[A-Za-z][\w./:-]{0,63}",
                                                                                      value)):
                raise InvalidValue(key, value, "an IOS interface or pool name such as GigabitEthernet0/0")
        self._facts: DeviceFacts | None = None
        self._cached: tuple[str, IosConfig] | None = None
        """``show running-config`` as read after this session's last write (None: unknown)."""
        self._putting_back = False
        self._held: Managed | None = None
        """Inside :meth:`write_batch`: the managed objects as the held writes leave them; else None."""
        self._saved: Managed | None = None
        """The managed objects at the first read, then as last saved: a change from these is routerfix's own."""
        self._startup_differs: bool | None = None
        """Whether running and startup configuration differed at the first read (None: not read yet)."""
        minutes = self.options.get("confirm_minutes", 10)
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 120:
            raise InvalidValue("confirm_minutes", minutes, "whole minutes from 1 to 120")
        self.confirm_minutes: int = minutes
        """Revert-timer window: unconfirmed, the device rolls back to the configuration archived when armed."""
        self.held_rollback: bool | None = None
        """Whether the device can hold a rollback (``archive`` with ``path``), from the first read."""
        self.pending_confirm = False
        """A revert timer of this run is (or may be: its answer was lost) armed on the device, not yet confirmed."""
        self._arm_answered = False
        self._terminal: list[str] = []
        """Terminal settings not yet sent in this session (typed ahead of its first exchange)."""

    # --- session ------------------------------------------------------------------------------------

    def _open_once(self) -> None:
        self._cached = None  # a new session: nothing read in this one yet
        super()._open_once()
        if self.session.last_prompt.endswith(">"):
            self._enable()
        self._terminal = list(_TERMINAL)

    def send(self, command: str, *, expect: str | None = None, timeout: float | None = None,
             check: bool = True) -> str:
        """:meth:`SSHDriver.send`, with the session's terminal settings typed ahead of its first command."""
        if self._terminal and expect is None:
            return self.send_pipelined([command], check=check, timeout=timeout)[0]
        if self._terminal:
            self.send_pipelined([], check=True)
        return super().send(command, expect=expect, timeout=timeout, check=check)

    def send_pipelined(self, commands: Sequence[str], *, check: bool = True, timeout: float | None = None
                       ) -> list[str]:
        """:meth:`SSHDriver.send_pipelined`; the first exchange of a session carries :data:`_TERMINAL` ahead of
        ``commands`` (typed-ahead lines run in order, docs/facts/cisco_ios.md F11: paging is off before the first
        ``show``, F5), so the terminal settings cost no round trip of their own."""
        terminal, self._terminal = self._terminal, []
        if not terminal:
            return super().send_pipelined(commands, check=check, timeout=timeout)
        outputs = super().send_pipelined([*terminal, *commands], check=False, timeout=timeout)
        for command, output in zip(terminal, outputs, strict=False):
            self.check_output(command, output)
        outputs = outputs[len(terminal):]
        if check:
            for command, output in zip(commands, outputs, strict=True):
                self.check_output(command, output)
        return outputs

    def _enable(self) -> None:
        """``enable`` from a user-level (``>``) login. IOS asks ``Password:`` again after a wrong secret and says
        ``% No password set`` where none is configured (docs/facts/cisco_ios.md F6-F9): either is an authentication
        failure at once, on this one login, the secret sent once (never retried: accounts lock)."""
        secret = str(reveal(self.options.get("enable_secret")) or (self.password.reveal() if self.password
                                                                    else ""))
        register(secret)
        either = rf"Password:\s*|{self.prompt_pattern}"
        answer = self.send("enable", expect=either, check=False)
        if self.session.last_prompt.startswith("Password"):
            try:
                answer = self.send(secret, expect=either, check=False)
            except RouterfixError as exc:  # the command text (the secret) must not reach the message
                raise type(exc)(redact(exc.message), host=self.host, driver=self.name) from None
            if self.session.last_prompt.endswith("#"):
                return
        said = " ".join(redact(answer).split())[:80] if answer.strip() else ""
        if self.session.last_prompt.startswith("Password"):
            said = "asked for the password again"
        self._lost()  # a pending Password: prompt is not answered again
        raise AuthenticationError(f"{self.host} refused the enable secret ({said or 'no privileged prompt'}; not "
                                  f"retried: check the enable_secret option)", host=self.host, driver=self.name)

    def _running_config(self) -> tuple[str, IosConfig]:
        """Read ``show running-config`` now (and remember it until the next write)."""
        return self._parse_config(self.send("show running-config"))

    def _parse_config(self, text: str) -> tuple[str, IosConfig]:
        config = parse_running_config(text)
        if not config.interfaces:
            raise ParseError("show running-config", "no interface blocks (is the account privilege 15?)",
                             host=self.host, driver=self.name)
        self._cached = (text, config)
        if self._saved is None:
            self._saved = Managed.of(config)
        return text, config

    def _current(self) -> tuple[str, IosConfig]:
        """The running-config as read since this session's last write, else read now (write hooks, backup,
        verification: nothing but routerfix's own writes changes it within a run)."""
        return self._cached if self._cached is not None else self._running_config()

    def _wan(self, config: IosConfig) -> str:
        wanted = self.options.get("wan_interface")
        if wanted:
            if wanted not in config.interfaces:
                raise InvalidValue("wan_interface", wanted, f"one of {', '.join(config.interfaces)}")
            return str(wanted)
        outside = config.nat_interfaces("outside")
        overload = [i for i in config.overload_interfaces if i in outside]
        if overload:
            return overload[0]
        if len(outside) == 1:
            return outside[0]
        raise DeviceError("cannot tell the WAN interface: pass wan_interface=<name>",
                          device_message=f"ip nat outside interfaces: {', '.join(outside) or 'none'}",
                          host=self.host, driver=self.name)

    # --- writing: one configuration block per batch, one line per round trip -----------------------

    def _send_config(self, lines: list[str]) -> DeviceError | None:
        """``configure terminal`` and ``lines``, each sent once the one before it is seen accepted in the mode it
        was written for, then ``end`` (only from a configuration mode: at the exec prompt it is a host name) and
        the read-back, typed ahead. IOS runs typed-ahead lines after a refused one, in whatever mode the refusal
        left (docs/facts/cisco_ios.md F11, F12), so nothing is typed ahead of a line's answer, except behind
        ``exit`` and the undo marker's remarks in its ACL's mode (:meth:`_Mode.step`), and a block's last ``exit``
        is left to ``end``. Returns the refusal."""
        refusal: DeviceError | None = None
        first = [] if self._arm() else ["configure terminal"]
        mode = _Mode.CONFIG if not first else _Mode.EXEC
        todo = [*first, *lines]
        while todo and refusal is None:
            if todo == ["exit"] and mode.submode:
                break  # not sent: the "end" below leaves every configuration mode (F4)
            step = _Mode.step(todo, mode)
            del todo[:len(step)]
            wanted = mode
            for line in step:
                wanted = _Mode.after(line, wanted)
            outputs = self.send_pipelined(step, check=False) if len(step) > 1 else [self.send(step[0], check=False)]
            mode = _Mode.of_prompt(self.session.last_prompt)
            for line, output in zip(step, outputs, strict=True):
                try:
                    self.check_output(line, output)
                except DeviceError as exc:
                    refusal = exc
                    break
            if refusal is None and mode is not wanted:
                refusal = DeviceError(f"the device refused {step[-1]!r}",
                                      device_message=" ".join(outputs[-1].split())[-200:]
                                      or f"prompt {self.session.last_prompt} instead of {wanted.value} mode",
                                      host=self.host, driver=self.name)
        reads = ["show running-config"] if mode is _Mode.EXEC else ["end", "show running-config"]
        text = self.send_pipelined(reads, check=False)[-1]
        if _Mode.of_prompt(self.session.last_prompt) is not _Mode.EXEC:
            # still in a configuration mode: end this session (it ends the mode too) and re-read on a new one
            self._lost()
            raise ConnectionDropped(f"{self.host} did not leave configuration mode; the session was closed",
                                    host=self.host, driver=self.name)
        self.check_output("show running-config", text)
        self._parse_config(text)
        return refusal

    def _arm(self) -> bool:
        """Enter configuration mode with the revert timer armed (F35-F38), where the device can hold a rollback
        and this run has not armed it yet. True when this entered configuration mode. An arm whose answer was lost
        (a dropped connection) counts as ours when the device then says one is in progress; any other timer in
        progress is someone else's: refused, and never confirmed."""
        if not self.held_rollback or self._arm_answered:
            return False
        maybe_ours, self.pending_confirm = self.pending_confirm, True
        output = self.send(f"configure terminal revert timer {self.confirm_minutes}", check=False)
        if _Mode.of_prompt(self.session.last_prompt) is _Mode.CONFIG:
            self._arm_answered = True
            return True
        if maybe_ours and "already in progress" in output:
            self._arm_answered = True
            return False
        self.pending_confirm = False
        raise DeviceError("the device refused the revert timer (another confirmed change may be pending): nothing "
                          "was changed", device_message=" ".join(output.split())[-200:] or "no configuration prompt",
                          host=self.host, driver=self.name)

    def _apply(self, target: Managed) -> None:
        """Take routerfix's managed objects to ``target``. A refused line stops the block; what landed before it is
        put back as the block found it (read back, not assumed) and the device's own words are raised."""
        now = Managed.of(self._current()[1])
        lines = change_lines(now, target)
        if not lines:
            return
        self._cached = None
        refusal = self._send_config(lines)
        if refusal is None:
            return
        if not self._putting_back:  # a refusal while putting back is not put back again (no loop)
            self._putting_back = True
            try:
                with contextlib.suppress(RouterfixError):  # the refusal is what the caller must see
                    self._apply(now)
            finally:
                self._putting_back = False
        raise refusal

    def _edit(self) -> Managed:
        """The managed objects a write hook changes: the held ones inside :meth:`write_batch`, else a copy of the
        device's."""
        return self._held if self._held is not None else Managed.of(self._current()[1])

    def _done(self, target: Managed) -> None:
        """A write hook's change: held inside :meth:`write_batch`, else applied now."""
        if self._held is None:
            self._apply(target)

    @contextlib.contextmanager
    def write_batch(self) -> Iterator[None]:
        """Hold the writes of the block and send them as one configuration block at its end (nothing is saved
        here: see :meth:`verify_state`)."""
        if self._held is not None:  # already inside a batch: the outer one sends
            yield
            return
        self._held = Managed.of(self._current()[1])
        try:
            yield
        except BaseException:
            self._held = None
            raise
        target, self._held = self._held, None
        self._apply(target)

    def _save(self, config: IosConfig) -> None:
        """``write memory``, warning first when the running configuration already differed from the startup one
        before this run (those changes are saved too: IOS saves the whole configuration)."""
        if self._startup_differs is not False:
            log.warning("%s: the running-config already differed from the startup-config before this run; write "
                        "memory saves those changes too", self.host)
        out = self.send("write memory", check=False, timeout=self.timeouts.apply)
        if "[OK]" not in out:
            raise DeviceError("write memory did not confirm", device_message=out.strip()[-200:] or "no output",
                              host=self.host, driver=self.name)
        self._saved = Managed.of(config)
        self._startup_differs = False

    # --- reads --------------------------------------------------------------------------------------

    def facts(self) -> DeviceFacts:
        """Model, IOS/IOS-XE version and host name (``show version``)."""
        if self._facts is None:
            self._facts = self._parse_facts(self.send("show version"))
        return self._facts

    def _parse_facts(self, text: str) -> DeviceFacts:
        return parse_version(text, re.sub(r"(\(.*\))?[#>]$", "", self.session.last_prompt))

    def read_state(self) -> DeviceState:
        """Everything in one round trip: (show version and the startup-config once,) running-config, bindings and
        ARP typed ahead."""
        reads = ["show running-config", "show ip dhcp binding", "show ip arp"]
        first = self._startup_differs is None
        if first:
            reads.append("show startup-config")
        if self._facts is None:
            reads.insert(0, "show version")
        outputs = self.send_pipelined(reads, check=False)
        for command, output in zip(reads, outputs, strict=True):
            if command != "show startup-config":
                self.check_output(command, output)
        if self._facts is None:
            self._facts = self._parse_facts(outputs.pop(0))
        text, config = self._parse_config(outputs[0])
        if first:
            self._startup_differs = config_body(text) != config_body(outputs[3])
        if self.held_rollback is None:
            self.held_rollback = _ARCHIVE_PATH.search(text) is not None
            if not self.held_rollback:
                log.warning("%s: %s", self.host, _NO_HELD_ROLLBACK)
        caps = self.capabilities if self.held_rollback else \
            Capabilities(features=self.capabilities.features, forward_ranges=False, forward_both=False,
                         orders_rules=False, notes=(*self.capabilities.notes, _NO_HELD_ROLLBACK))
        marker, marker_warning = self._marker(config)
        return DeviceState(
            facts=self._facts, capabilities=caps, nat_mode=None, sip_alg=config.sip_alg,
            forwards=self._forwards(config), scope=scope_from_config(config, self.options.get("dhcp_pool")),
            leases=parse_bindings(outputs[1]), neighbours=parse_arp(outputs[2]), undo_marker=marker,
            marker_warning=marker_warning)

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """What verification compares (SIP service lines, every static NAT rule, manual-binding pools), from the
        running-config read back after this session's last write: no round trip. When it matches ``expected``
        (the engine's final check of a run or of its rollback), an armed revert timer is confirmed (``configure
        confirm``), and when routerfix's managed objects differ from the saved ones ``write memory`` follows, once
        (a rolled-back run, back where it started, saves nothing)."""
        _, config = self._current()
        marker, marker_warning = self._marker(config)
        state = DeviceState(facts=self.facts(), capabilities=self.capabilities, nat_mode=None,
                            sip_alg=config.sip_alg, forwards=self._forwards(config),
                            scope=scope_from_config(config, self.options.get("dhcp_pool")), undo_marker=marker,
                            marker_warning=marker_warning)
        if managed_view(state) == managed_view(expected):
            if self.pending_confirm:  # verified: stop the revert timer first, then save (F37-F38)
                self._confirm()
            if Managed.of(config) != self._saved:
                self._save(config)
        elif self.pending_confirm:
            log.warning("%s: read-back differs from the plan; the revert timer stays armed (the device rolls back in "
                        "%d minutes unless a verified rollback confirms)", self.host, self.confirm_minutes)
        return state

    def _confirm(self) -> None:
        """``configure confirm``: the device keeps the change (no answer, or "none pending", is success)."""
        out = self.send("configure confirm", check=False)
        if out.strip() and "No Rollback Confirmed Change pending" not in out:
            raise DeviceError("configure confirm was refused: the device rolls back when its revert timer ends",
                              device_message=out.strip()[-200:], host=self.host, driver=self.name)
        self.pending_confirm = self._arm_answered = False

    @staticmethod
    def _marker(config: IosConfig) -> tuple[dict[str, Any] | None, str | None]:
        """The undo marker held in the running-config's ``routerfix-undo`` ACL (F40-F43), checked like any input:
        ``(marker, None)``, ``(None, None)`` when there is none, ``(None, warning)`` when it is not valid."""
        source = f"in the ACL {UNDO_ACL}"
        try:
            text = undo_text(config.undo)
        except ParseError as exc:
            return None, f"the undo marker {source} is not valid ({exc.detail[:200]}): ignored"
        return parse_marker(text, source)

    @staticmethod
    def _forwards(config: IosConfig) -> tuple[PortForward, ...]:
        return tuple(static_forward(s, config) for s in config.statics) + orphan_forwards(config)

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """Every ``ip nat inside source static`` line; routerfix's carry their recorded names."""
        return self._forwards(self._running_config()[1])

    def get_sip_alg(self) -> bool | None:
        """On unless ``no ip nat service sip udp port 5060`` and its TCP twin are both configured."""
        return self._running_config()[1].sip_alg

    def get_dhcp_scope(self) -> DhcpScope:
        """The LAN pool's network minus excluded addresses; manual-binding pools as reservations."""
        return scope_from_config(self._running_config()[1], self.options.get("dhcp_pool"))

    def list_leases(self) -> tuple[Lease, ...]:
        """Automatic bindings from ``show ip dhcp binding``."""
        return parse_bindings(self.send("show ip dhcp binding"))

    def list_neighbours(self) -> tuple[Neighbour, ...]:
        """``show ip arp`` without the router's own entries."""
        return parse_arp(self.send("show ip arp"))

    def probe_address(self, address: ipaddress.IPv4Address) -> bool:
        """``ping <address> repeat 2 timeout 1``: True when any echo came back. Bounded: the read waits the two
        echo timeouts and a margin, never the whole read timeout."""
        out = self.send(f"ping {ipaddress.IPv4Address(address)} {_PING}", timeout=min(self.timeouts.read,
                                                                                        _PING_BOUND))
        try:
            return parse_ping(out)
        except ParseError as exc:
            raise ParseError("ping", exc.detail, host=self.host, driver=self.name) from None

    def backup(self) -> Backup:
        """``show running-config``."""
        return Backup(self.name, "ios-running-config", self._current()[0], time.time())

    # --- writes -------------------------------------------------------------------------------------

    @staticmethod
    def _find(config: IosConfig, forward: PortForward) -> StaticNat | None:
        for static in config.statics:
            candidate = static_forward(static, config)
            if (candidate.protocol, candidate.external_ports, candidate.internal_address, candidate.internal_ports) \
                    == (forward.protocol, forward.external_ports, forward.internal_address, forward.internal_ports):
                return static
        return None

    def _add_port_forward(self, forward: PortForward) -> None:
        _, config = self._current()
        wan = self._wan(config)
        port, local_port = forward.external_ports.start, forward.internal_ports.start if forward.internal_ports \
            else forward.external_ports.start
        proto = forward.protocol.value
        target = self._edit()
        line = f"ip nat inside source static {proto} {forward.internal_address} {local_port} interface {wan} {port}"
        static = StaticNat(line, proto, forward.internal_address, local_port, wan, None, port)
        if forward.name != customer_rule_name(static):  # a customer's rule put back reads as theirs without one
            target.marks[static.spec()] = forward.name
            target.marker_acl = True
        if self._find(config, forward) is None:
            target.statics.add(line)
        self._done(target)

    def _remove_port_forward(self, forward: PortForward) -> None:
        _, config = self._current()
        target = self._edit()
        static = self._find(config, forward)
        if static is not None:
            target.statics.discard(static.line)
        # the rule's remark goes with it, and so does any remark whose line is gone (a removal cut off before)
        present = {s.spec() for s in parse_running_config("\n".join(target.statics)).statics if s.protocol}
        target.marks = {spec: name for spec, name in target.marks.items() if spec in present}
        if not target.marks:
            target.marker_acl = False
        self._done(target)

    def _reserve_address(self, reservation: Reservation) -> None:
        _, config = self._current()
        scope = scope_from_config(config, self.options.get("dhcp_pool"))
        for other in scope.reservations:
            if other.address == reservation.address and other.mac != reservation.mac:
                raise DeviceError(f"{reservation.address} is already reserved",
                                  device_message=f"ip dhcp pool {other.name} binds it to {dotted_mac(other.mac)}",
                                  host=self.host, driver=self.name)
            if other == reservation:
                return
        target = self._edit()
        target.pools[reservation.name] = (f"host {reservation.address} {scope.network.netmask}",
                                          f"hardware-address {dotted_mac(reservation.mac)}")
        self._done(target)

    def _release_address(self, reservation: Reservation) -> None:
        _, config = self._current()
        scope = scope_from_config(config, self.options.get("dhcp_pool"))
        target = self._edit()
        for r in scope.reservations:
            if (r.address, r.mac) == (reservation.address, reservation.mac):
                target.pools.pop(r.name, None)
        self._done(target)

    def _set_sip_alg(self, enabled: bool) -> None:
        target = self._edit()
        target.sip_off = set() if enabled else {"udp", "tcp"}
        self._done(target)

    def _save_undo_marker(self, text: str) -> None:
        """The marker as numbered base64 remarks of the ACL ``routerfix-undo``, replacing the ACL whole, first in the
        run's configuration block: saved by the same ``write memory`` as the change, rolled back with it by the
        revert timer (F40-F43)."""
        target = self._edit()
        target.undo = undo_lines(text)
        self._done(target)

    def _clear_undo_marker(self) -> None:
        """``no ip access-list standard routerfix-undo``, last in the block."""
        target = self._edit()
        target.undo = None
        self._done(target)

    def _restore(self, backup: Backup) -> None:
        """Put routerfix's managed objects back as the backup has them: static NAT lines, the marker ACL, SIP
        service lines and manual-binding pools (the rest of the configuration is never touched)."""
        self._apply(Managed.of(parse_running_config(backup.text)))


class _Mode(StrEnum):
    """The CLI mode a prompt shows (``R1#``, ``R1(config)#``, ``R1(dhcp-config)#``...)."""

    EXEC = "exec"
    CONFIG = "config"
    ACL = "config-std-nacl"
    POOL = "dhcp-config"
    OTHER = "other"

    @classmethod
    def of_prompt(cls, prompt: str) -> _Mode:
        """The mode a prompt line shows."""
        m = re.search(r"\(([\w-]+)\)#$", prompt)
        if m is None:
            return cls.EXEC if prompt.endswith("#") else cls.OTHER
        return next((mode for mode in cls if mode.value == m.group(1)), cls.OTHER)

    @classmethod
    def step(cls, lines: list[str], mode: _Mode) -> list[str]:
        """The lines of ``lines`` (not empty) to type in one round trip from ``mode``: the first alone, except that
        an ``exit`` from a sub-mode goes with the line after it (``exit`` leaves a sub-mode for ``(config)``,
        docs/facts/cisco_ios.md F4, so that line runs in the mode it was written for), and a run of remarks in an
        ACL's mode goes together: the undo marker's, and the forwards' labels added or removed (a refused remark
        leaves the ACL mode as it was, F2, F11: the ones after it can only add or remove remarks of that ACL,
        applied nowhere, F25; a marker missing one reads as not valid, F43; the ``exit`` after them waits for their
        answers, so no static NAT line is typed before its label is seen accepted)."""
        if lines[0] == "exit" and mode.submode:
            return lines[:2]
        if mode is cls.ACL and _REMARK.match(lines[0]):
            run = 1
            while run < len(lines) and _REMARK.match(lines[run]):
                run += 1
            return lines[:run]
        return lines[:1]

    @property
    def submode(self) -> bool:
        """A configuration sub-mode (``(config-std-nacl)``, ``(dhcp-config)``), not ``(config)`` itself."""
        return self in (_Mode.ACL, _Mode.POOL)

    @classmethod
    def after(cls, line: str, mode: _Mode) -> _Mode:
        """The mode ``line`` is written to leave the device in, when run in ``mode``."""
        if line == "configure terminal" or line.startswith("configure terminal revert timer "):
            return cls.CONFIG
        if line == "end":
            return cls.EXEC
        if line == "exit":
            return cls.CONFIG if mode not in (cls.CONFIG, cls.EXEC) else cls.EXEC
        if mode is cls.CONFIG and line.startswith("ip access-list standard "):
            return cls.ACL
        if mode is cls.CONFIG and line.startswith("ip dhcp pool "):
            return cls.POOL
        return mode
