"""The Cisco IOS / IOS-XE driver (SSH, netmiko ``cisco_ios``), see the package docstring."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import time
from typing import Any, ClassVar

from routerfix.base.ssh import SSH_OPTION_NAMES, SSHDriver
from routerfix.errors import AuthenticationError, DeviceError, InvalidValue, ParseError, RouterfixError
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
from routerfix.secrets import redact, register, reveal

from .parser import (
    MARKER_ACL,
    IosConfig,
    StaticNat,
    dotted_mac,
    orphan_forwards,
    parse_arp,
    parse_bindings,
    parse_running_config,
    parse_version,
    scope_from_config,
    static_forward,
)

__all__ = ["CiscoIosDriver"]

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
                            Feature.SIP_ALG}),
        forward_ranges=False, forward_both=False, orders_rules=False, notes=_NOTES)
    option_names: ClassVar[frozenset[str]] = SSH_OPTION_NAMES | {"wan_interface", "dhcp_pool", "enable_secret"}
    prompt_pattern: ClassVar[str | None] = r"[A-Za-z][\w.-]*(?:\([\w-]+\))?[#>]"
    error_patterns: ClassVar[tuple[str, ...]] = (r"^% ?\S",)
    session_commands: ClassVar[tuple[str, ...]] = ("terminal length 0", "terminal width 511")
    logout_command: ClassVar[str | None] = "exit"

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        for key in ("wan_interface", "dhcp_pool"):
            value = self.options.get(key)
            if value is not None and (not isinstance(value, str) or not re.fullmatch(r"[A-Za-z][\w./:-]{0,63}",
                                                                                      value)):
                raise InvalidValue(key, value, "an IOS interface or pool name such as GigabitEthernet0/0")
        self._facts: DeviceFacts | None = None
        self._unsaved = False
        self._cached: tuple[str, IosConfig] | None = None
        """``show running-config`` as read after this session's last write (None: unknown)."""
        self._putting_back = False

    # --- session ------------------------------------------------------------------------------------

    def _open_once(self) -> None:
        self._cached = None  # a new session: nothing read in this one yet
        super()._open_once()
        if self.session.last_prompt.endswith(">"):
            secret = str(reveal(self.options.get("enable_secret")) or (self.password.reveal() if self.password
                                                                        else ""))
            register(secret)
            self.send("enable", expect=r"Password:\s*", check=False)
            try:
                out = self.send(secret, check=False)
            except RouterfixError as exc:  # the command text (the secret) must not reach the message
                raise type(exc)(redact(exc.message), host=self.host, driver=self.name) from None
            if not self.session.last_prompt.endswith("#"):
                self._lost()
                raise AuthenticationError(f"{self.host} refused the enable secret ({out.strip()[:80]})",
                                          host=self.host, driver=self.name)

    def _running_config(self) -> tuple[str, IosConfig]:
        """Read ``show running-config`` now (and remember it until the next write)."""
        return self._parse_config(self.send("show running-config"))

    def _parse_config(self, text: str) -> tuple[str, IosConfig]:
        config = parse_running_config(text)
        if not config.interfaces:
            raise ParseError("show running-config", "no interface blocks (is the account privilege 15?)",
                             host=self.host, driver=self.name)
        self._cached = (text, config)
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

    def _configure(self, lines: list[str]) -> None:
        """Enter configuration mode, send ``lines``, leave it and save: two round trips.

        ``configure terminal``, the lines and ``end`` go as one typed-ahead block; then ``write memory`` and
        ``show running-config`` as a second (the read-back every following write and the verification reuse).
        IOS applies each line at once and runs the lines after a refused one too, so a refusal puts every
        managed object (static NAT, marker ACL, SIP service lines, manual-binding pools) back as the
        running-config read before the block had it, saves that, and raises the device's own words."""
        if not lines:
            return
        before = self._current()[0]
        self._cached = None
        self._unsaved = True
        block = ["configure terminal", *lines, "end"]
        outputs = self.send_pipelined(block, check=False)
        refusal: DeviceError | None = None
        for command, output in zip(block, outputs, strict=True):
            try:
                self.check_output(command, output)
            except DeviceError as exc:
                refusal = exc
                break
        if refusal is not None:
            if "(config" in self.session.last_prompt:  # still in configuration mode (§14)
                self.send("end", check=False)
            if not self._putting_back:  # a refusal while putting back is not put back again (no loop)
                self._putting_back = True
                try:
                    with contextlib.suppress(RouterfixError):  # the refusal is what the caller must see
                        self._put_back(before)
                finally:
                    self._putting_back = False
            raise refusal
        self._save_and_read()

    def _save_and_read(self) -> None:
        save, text = self.send_pipelined(["write memory", "show running-config"], check=False)
        self._check_saved(save)
        self.check_output("show running-config", text)
        self._parse_config(text)

    def _check_saved(self, out: str) -> None:
        if "[OK]" not in out:
            raise DeviceError("write memory did not confirm", device_message=out.strip()[-200:] or "no output",
                              host=self.host, driver=self.name)
        self._unsaved = False

    def _save(self) -> None:
        self._check_saved(self.send("write memory"))

    # --- reads --------------------------------------------------------------------------------------

    def facts(self) -> DeviceFacts:
        """Model, IOS/IOS-XE version and host name (``show version``)."""
        if self._facts is None:
            self._facts = self._parse_facts(self.send("show version"))
        return self._facts

    def _parse_facts(self, text: str) -> DeviceFacts:
        return parse_version(text, re.sub(r"(\(.*\))?[#>]$", "", self.session.last_prompt))

    def read_state(self) -> DeviceState:
        """Everything in one round trip: (show version once,) running-config, bindings and ARP typed ahead."""
        if self._unsaved and self._session is not None:
            self._save()  # a save lost to a dropped connection is redone before anything else
        reads = ["show running-config", "show ip dhcp binding", "show ip arp"]
        if self._facts is None:
            reads.insert(0, "show version")
        outputs = self.send_pipelined(reads)
        if self._facts is None:
            self._facts = self._parse_facts(outputs.pop(0))
        _, config = self._parse_config(outputs[0])
        return DeviceState(
            facts=self._facts, capabilities=self.capabilities, nat_mode=None, sip_alg=config.sip_alg,
            forwards=self._forwards(config), scope=scope_from_config(config, self.options.get("dhcp_pool")),
            leases=parse_bindings(outputs[1]), neighbours=parse_arp(outputs[2]))

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """What verification compares (SIP service lines, every static NAT rule, manual-binding pools), from
        the running-config read after this session's last write (every write reads it back after
        ``write memory``): usually no round trip. Bindings and ARP are not read."""
        _, config = self._current()
        return DeviceState(facts=self.facts(), capabilities=self.capabilities, nat_mode=None,
                           sip_alg=config.sip_alg, forwards=self._forwards(config),
                           scope=scope_from_config(config, self.options.get("dhcp_pool")))

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
        """``ping <address> repeat 2 timeout 1``: True when any echo came back."""
        out = self.send(f"ping {ipaddress.IPv4Address(address)} repeat 2 timeout 1")
        m = re.search(r"Success rate is (\d+) percent", out)
        if m is None:
            raise ParseError("ping", "no 'Success rate' line", host=self.host, driver=self.name)
        return int(m.group(1)) > 0

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
        line = f"ip nat inside source static {proto} {forward.internal_address} {local_port} interface {wan} {port}"
        spec = f"{proto} {forward.internal_address} {local_port} {wan} {port}"
        lines: list[str] = []
        old = config.marks.get(spec)
        if old != forward.name:
            # the remark goes first: a line without its remark would look like the customer's
            lines += [f"ip access-list standard {MARKER_ACL}"]
            if old is not None:
                lines.append(f"no remark {old} {spec}")
            lines += [f"remark {forward.name} {spec}", "exit"]
        if self._find(config, forward) is None:
            lines.append(line)
        self._configure(lines)  # a refused static line takes its remark back with it (_configure)

    def _remove_port_forward(self, forward: PortForward) -> None:
        _, config = self._current()
        static = self._find(config, forward)
        lines: list[str] = []
        remove_marks: list[str] = []
        if static is not None:
            lines.append(f"no {static.line}")
            if static.protocol is not None and static.spec() in config.marks:
                remove_marks.append(static.spec())
        present = {s.spec() for s in config.statics if s.protocol is not None}
        remove_marks += [spec for spec in config.marks if spec not in present and spec not in remove_marks]
        if remove_marks:
            if set(remove_marks) >= set(config.marks):
                lines.append(f"no ip access-list standard {MARKER_ACL}")
            else:
                lines.append(f"ip access-list standard {MARKER_ACL}")
                lines += [f"no remark {config.marks[spec]} {spec}" for spec in remove_marks]
                lines.append("exit")
        self._configure(lines)

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
        self._configure([f"ip dhcp pool {reservation.name}",
                         f"host {reservation.address} {scope.network.netmask}",
                         f"hardware-address {dotted_mac(reservation.mac)}", "exit"])

    def _release_address(self, reservation: Reservation) -> None:
        _, config = self._current()
        scope = scope_from_config(config, self.options.get("dhcp_pool"))
        names = [r.name for r in scope.reservations if (r.address, r.mac) == (reservation.address, reservation.mac)]
        self._configure([f"no ip dhcp pool {name}" for name in names])

    def _set_sip_alg(self, enabled: bool) -> None:
        prefix = "" if enabled else "no "
        self._configure([f"{prefix}ip nat service sip udp port 5060", f"{prefix}ip nat service sip tcp port 5060"])

    def _restore(self, backup: Backup) -> None:
        """Put routerfix's managed objects back as the backup has them: static NAT lines, the marker ACL, SIP
        service lines and manual-binding pools (the rest of the configuration is never touched)."""
        self._put_back(backup.text)

    def _put_back(self, text: str) -> None:
        saved = parse_running_config(text)
        _, now = self._current()
        lines: list[str] = []
        saved_statics = {s.line for s in saved.statics}
        now_statics = {s.line for s in now.statics}
        lines += [f"no {line}" for line in sorted(now_statics - saved_statics)]
        lines += sorted(saved_statics - now_statics)
        if (saved.marks, saved.marker_acl) != (now.marks, now.marker_acl):  # an empty ACL left by a refusal too
            if now.marker_acl:
                lines.append(f"no ip access-list standard {MARKER_ACL}")
            if saved.marker_acl:
                lines.append(f"ip access-list standard {MARKER_ACL}")
                lines += [f"remark {name} {spec}" for spec, name in saved.marks.items()]
                lines.append("exit")
        for proto in ("udp", "tcp"):
            if (proto in saved.sip_alg_off) != (proto in now.sip_alg_off):
                lines.append(("no " if proto in saved.sip_alg_off else "") + f"ip nat service sip {proto} port 5060")
        # manual-binding pools, also one a refusal left half-built (a hardware-address without its host line)
        manual = {n for n, body in (*saved.pools.items(), *now.pools.items())
                  if any(x.startswith(("host ", "hardware-address ", "client-identifier ")) for x in body)}
        for name in sorted(manual):
            if saved.pools.get(name) == now.pools.get(name):
                continue
            if name in now.pools:
                lines.append(f"no ip dhcp pool {name}")
            if name in saved.pools:
                lines += [f"ip dhcp pool {name}", *saved.pools[name], "exit"]
        self._configure(lines)

