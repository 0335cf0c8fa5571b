"""The OpenWrt (22.03+, fw4/UCI) driver over SSH (netmiko ``linux``), see the package docstring."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from routerfix.base.ssh import SSH_OPTION_NAMES, SSHDriver
from routerfix.enums import ActionKind
from routerfix.errors import DeviceError, InvalidValue, ParseError
from routerfix.held import HeldWrites
from routerfix.markers import MAX_MARKER_BYTES, parse_marker
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
    Protocol,
    Reservation,
)
from routerfix.planner import RULE_PREFIX, SINK_NAME, managed_view

if TYPE_CHECKING:
    from routerfix.diagnose.live import LiveCapture

from .parser import (
    UciSection,
    parse_export,
    parse_facts,
    parse_ip_neigh,
    parse_leases,
    parse_uci_show,
    redirect_forwards,
    scope_from_uci,
    sip_alg_from_uci,
    wan_address,
)

__all__ = ["OpenWrtDriver"]

_DONE = "ROUTERFIX-DONE"
_KEEP = "/tmp/routerfix-keep"  # noqa: S108 - the device's tmpfs, gone at reboot
"""Where the pre-run copies of ``/etc/config/{firewall,dhcp}`` and the revert job's pid file live."""
_NAME_RE = re.compile(r"[A-Za-z][\w-]{0,31}")
_PROTO = {Protocol.TCP: "tcp", Protocol.UDP: "udp", Protocol.BOTH: "tcp udp"}
_UCI_NAME_RE = re.compile(r"[A-Za-z0-9_]+")
"""A UCI section or option name (openwrt.md: uci names)."""
_MANAGED = {"firewall": "redirect", "dhcp": "host"}
MARKER_DIR = "/etc/routerfix"
"""Where the undo marker lives: on the flash overlay, kept across reboots (openwrt.md rows 38, 43)."""
MARKER_FILE = f"{MARKER_DIR}/undo.json"
MARKER_KEEP = "/lib/upgrade/keep.d/routerfix"
"""The sysupgrade keep list naming the marker's directory (and itself): a firmware upgrade that keeps settings keeps
the marker with them (openwrt.md row 39)."""


def _sq(value: object) -> str:
    """``value`` as one single-quoted ash word: a value read from the device (a customer's rule name) is never
    interpreted by the shell."""
    return "'" + str(value).replace("'", "'\\''") + "'"


def _section_id(name: str) -> str:
    """The named UCI section routerfix uses for one of its own objects (``routerfix-sip`` → ``routerfix_sip``)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


class OpenWrtDriver(SSHDriver):
    """OpenWrt 22.03 and later (fw4, nftables) over SSH as root.

    Options (besides the SSH trust options): ``lan_interface`` (the ``network`` interface served by DHCP;
    default ``lan``), ``wan_zone`` (the firewall zone of the WAN; default ``wan``), ``lan_zone`` (default ``lan``).
    """

    name: ClassVar[str] = "openwrt"
    device_type: ClassVar[str] = "linux"
    capabilities = Capabilities(
        features=frozenset({Feature.PORT_FORWARD, Feature.FORWARD_TO_UNUSED, Feature.DHCP_SCOPE, Feature.LEASES,
                            Feature.NEIGHBOURS, Feature.DHCP_RESERVATION, Feature.PROBE, Feature.BACKUP,
                            Feature.SIP_ALG, Feature.FLUSH_CONNECTIONS, Feature.CAPTURE, Feature.UNDO_MARKER}),
        forward_ranges=True, forward_both=True, orders_rules=True,
        notes=("forwards are fw4 redirects with src='wan', named sections moved to the top of the file",
               "no NAT filtering setting on stock fw4 (Linux conntrack): NAT mode not managed",
               "connection tracking is flushed only where the conntrack tool is installed"))
    option_names: ClassVar[frozenset[str]] = SSH_OPTION_NAMES | {"lan_interface", "wan_zone", "lan_zone",
                                                                 "confirm_minutes"}
    option_help: ClassVar[Mapping[str, str]] = {
        **SSHDriver.option_help,
        "lan_interface": "the network interface DHCP serves, as /etc/config/network names it (default lan)",
        "wan_zone": "firewall zone forwards come from (src) (default wan)",
        "lan_zone": "firewall zone forwards go to (dest) (default lan)",
        "confirm_minutes": "self-revert window, 1-60 (default 10): unconfirmed, /etc/config/firewall and dhcp are "
                           "copied back and reloaded",
    }
    batch_kinds = frozenset({ActionKind.ADD_FORWARD, ActionKind.REMOVE_FORWARD, ActionKind.RESERVE_ADDRESS,
                             ActionKind.RELEASE_ADDRESS, ActionKind.SET_SIP_ALG, ActionKind.SAVE_UNDO_MARKER,
                             ActionKind.CLEAR_UNDO_MARKER})
    """Every change of a run in one ``uci … && uci commit … && reload`` chain (:meth:`write_batch`)."""
    prompt_pattern: ClassVar[str | None] = r"[\w.-]+@[\w.-]+:\S*[#$]"
    error_patterns: ClassVar[tuple[str, ...]] = (r"^uci: ", r"^Usage: uci ", r"^-?ash: .*not found", r"syntax error")
    batch_separator: ClassVar[str | None] = "; "
    logout_command: ClassVar[str | None] = "exit"

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        for key in ("lan_interface", "wan_zone", "lan_zone"):
            value = self.options.get(key)
            if value is not None and (not isinstance(value, str) or not _NAME_RE.fullmatch(value)):
                raise InvalidValue(key, value, "a UCI interface or zone name such as lan or wan")
        self._facts: DeviceFacts | None = None
        minutes = self.options.get("confirm_minutes", 10)
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 60:
            raise InvalidValue("confirm_minutes", minutes, "whole minutes from 1 to 60")
        self.confirm_minutes: int = minutes
        self.pending_confirm = False
        """The self-revert job of this run is (or may be: its answer was lost) running on the device."""
        self._held: HeldWrites[tuple[tuple[str, ...], list[str]]] = HeldWrites()
        """Inside :meth:`write_batch`: each write's packages and ``uci`` commands, held for the block's one chain."""
        self._shown: dict[str, list[UciSection]] = {}
        self._read_late = False
        """:meth:`backup` read what the write hooks check just before the writes (else :meth:`hold_changes` drops it, so
        they read it again)."""
        self._changes: dict[str, str] = {}
        """``uci -X show`` / ``uci changes`` per package as this session last read them since its last write (the
        write hooks read from here: :meth:`_read`)."""
        self._wan_status: str | None = None
        """``ifstatus wan`` as this session's last :meth:`read_state` read it (None: not read)."""

    @property
    def _lan(self) -> str:
        return str(self.options.get("lan_interface") or "lan")

    @property
    def _wan_zone(self) -> str:
        return str(self.options.get("wan_zone") or "wan")

    def _batch_marker(self, token: str) -> str:
        return f"echo {token} $?"

    def _open_once(self) -> None:
        self._forget()  # a new session: nothing read in this one yet
        self._wan_status = None
        super()._open_once()

    def _forget(self) -> None:
        self._shown.clear()
        self._changes.clear()

    def _remember(self, shown: Mapping[str, str], changes: Mapping[str, str]) -> dict[str, list[UciSection]]:
        """Keep what one round trip read (``uci -X show`` and ``uci changes`` texts per package) for :meth:`_read`,
        except a reply holding an error line (read again when needed, and refused then); returns the parsed
        sections of every ``shown`` text."""
        parsed = {p: parse_uci_show(text) for p, text in shown.items()}
        self._shown.update({p: parsed[p] for p, text in shown.items() if not self._refused(text)})
        self._changes.update({p: text for p, text in changes.items() if not self._refused(text)})
        return parsed

    def _refused(self, output: str) -> bool:
        try:
            self.check_output("uci", output)
        except DeviceError:
            return True
        return False

    def open(self) -> None:
        """Connect, then read the release, the model and whether the conntrack tool exists (one round trip)."""
        super().open()
        if self._facts is None:
            release, model, tool = self.send_many(
                ["cat /etc/openwrt_release", "cat /tmp/sysinfo/model", "command -v conntrack"], check=False)
            hostname = self.session.last_prompt.split("@", 1)[-1].split(":", 1)[0]
            self._facts = parse_facts(release, model, hostname)
            if "conntrack" not in tool:
                self.capabilities = self.capabilities.replace(
                    features=self.capabilities.features - {Feature.FLUSH_CONNECTIONS})

    # --- helpers ---------------------------------------------------------------------------------------

    def _read(self, *packages: str, written: tuple[str, ...] | None = None) -> tuple[dict[str, list[UciSection]], str]:
        """``uci -X show`` of each of ``packages`` and ``uci changes`` of each package to be ``written`` (default:
        all of them): as this session read them since its last write (the backup reads both just before a run's
        writes, :meth:`backup`), else now, in one round trip. ``uci`` takes one package per call (openwrt.md,
        uci argument rules); a refused read raises."""
        written = packages if written is None else written
        if not all(p in self._shown for p in packages) or not all(p in self._changes for p in written):
            outs = self.send_many([*(f"uci -X show {p}" for p in packages), *(f"uci changes {p}" for p in written)])
            shown, changes = outs[:len(packages)], outs[len(packages):]
            self._remember(dict(zip(packages, shown, strict=True)), dict(zip(written, changes, strict=True)))
        return {p: self._shown[p] for p in packages}, "".join(self._changes[p] for p in written)

    def hold_changes(self) -> None:
        """Before a plan's writes (one action or many): unless :meth:`backup` read just before, what an earlier read
        saw is dropped, so the write hooks check what is staged now (a run without a backup waited for its
        confirmation after the planning read)."""
        if not self._read_late:
            self._forget()
        self._read_late = False

    @contextlib.contextmanager
    def write_batch(self) -> Iterator[None]:
        """The ``uci`` commands of the block's writes in one ``&&`` chain at its end: each package committed once,
        the firewall and dnsmasq reloaded once each. An exception inside drops what was held (nothing was sent)."""
        with self._held.block(self._send_held):
            yield

    def _send_held(self, held: list[tuple[tuple[str, ...], list[str]]]) -> None:
        packages = sorted({p for written, _ in held for p in written})
        self._send_chain(tuple(packages), [c for _, commands in held for c in commands])

    def _write(self, packages: tuple[str, ...], commands: list[str], pending: str) -> None:
        """Run ``commands`` then commit and reload, all in one ``&&`` chain (nothing is committed after a
        refusal); refuse to commit someone else's uncommitted changes. Inside :meth:`write_batch` the commands
        are held for the batch's one chain."""
        if not commands:
            return
        if pending.strip():
            raise DeviceError("the device has uncommitted UCI changes that a commit would also apply; commit or "
                              "revert them first", device_message=pending.strip()[:300], host=self.host,
                              driver=self.name)
        if not self._held.hold([(packages, commands)]):
            self._send_chain(packages, commands)

    def _arm(self) -> list[str]:
        """The head of the run's first chain: copy ``/etc/config/{firewall,dhcp}`` to tmpfs and start a detached
        job that copies them back and reloads after ``confirm_minutes`` unless :meth:`verify_state` stops it
        (OpenWrt has no native confirmed commit: docs/facts/openwrt.md rows 34-37)."""
        if self.pending_confirm:
            return []
        self.pending_confirm = True  # set before sending: a lost answer may still have started the job
        script = (f"sleep {60 * self.confirm_minutes} && cp {_KEEP}/firewall {_KEEP}/dhcp /etc/config/ && "
                  "/etc/init.d/firewall reload; /etc/init.d/dnsmasq reload")
        return [f"mkdir -p {_KEEP}", f"cp /etc/config/firewall /etc/config/dhcp {_KEEP}/",
                f"start-stop-daemon -S -b -m -p {_KEEP}/revert.pid -x /bin/sh -- -c {_sq(script)}"]

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """The full read (the default), then, when it matches ``expected`` (the engine's final check of a run or
        of its rollback), the self-revert job is stopped: the change is kept."""
        state = self.read_state()
        if self.pending_confirm and managed_view(state) == managed_view(expected):
            self.send(f"start-stop-daemon -K -p {_KEEP}/revert.pid; rm -f {_KEEP}/revert.pid", check=False)
            self.pending_confirm = False
        return state

    def _send_chain(self, packages: tuple[str, ...], commands: list[str]) -> None:
        if not commands:
            return
        self._forget()  # what was read no longer holds once the chain is sent, whatever its answer
        tail = [f"uci commit {p}" for p in packages]
        if "firewall" in packages:
            tail.append("/etc/init.d/firewall reload")
        if "dhcp" in packages:
            tail.append("/etc/init.d/dnsmasq reload")
        line = " && ".join([*self._arm(), *commands, *tail, f"echo {_DONE}"])
        out = self.send(line, check=False)
        if not any(x.strip() == _DONE for x in out.split("\n")):
            self.send("; ".join(f"uci revert {p}" for p in packages), check=False)  # nothing half-made stays staged
            self.check_output(line, out)  # raises with the device's own words when it gave any
            raise DeviceError("the change did not complete", device_message=out.strip()[-300:] or "no output",
                              host=self.host, driver=self.name)

    def _find(self, sections: list[UciSection], forward: PortForward) -> PortForward | None:
        for candidate in redirect_forwards(sections, self._wan_zone):
            if (candidate.protocol, candidate.external_ports, candidate.internal_address,
                    candidate.internal_ports) == (forward.protocol, forward.external_ports,
                                                  forward.internal_address, forward.internal_ports):
                return candidate
        return None

    # --- reads -----------------------------------------------------------------------------------------

    def facts(self) -> DeviceFacts:
        """Release and model (read at open)."""
        if self._facts is None:
            raise ParseError("/etc/openwrt_release", "not read: the driver is not open", host=self.host,
                             driver=self.name)
        return self._facts

    def read_state(self) -> DeviceState:
        """Everything in one round trip: UCI network/dhcp/firewall and what is staged in dhcp/firewall (kept for
        the write hooks), leases, neighbours, SIP module, the WAN status (kept for the connection flush) and the
        undo marker."""
        network, dhcp, firewall, fw_changes, dhcp_changes, leases, neigh, module, wan, marker_text = self.send_many(
            ["uci -X show network", "uci -X show dhcp", "uci -X show firewall", "uci changes firewall",
             "uci changes dhcp", "cat /tmp/dhcp.leases", "ip neigh show", "grep nf_conntrack_sip /proc/modules",
             "ifstatus wan", self._marker_read()], check=False)
        uci = self._remember({"network": network, "dhcp": dhcp, "firewall": firewall},
                             {"firewall": fw_changes, "dhcp": dhcp_changes})
        self._wan_status = wan
        marker, marker_warning = parse_marker(marker_text, MARKER_FILE)
        return DeviceState(
            facts=self.facts(), capabilities=self.capabilities,
            sip_alg=sip_alg_from_uci(uci["firewall"], "nf_conntrack_sip" in module),
            forwards=redirect_forwards(uci["firewall"], self._wan_zone),
            scope=scope_from_uci(uci["network"], uci["dhcp"], self._lan),
            leases=parse_leases(leases), neighbours=parse_ip_neigh(neigh), undo_marker=marker,
            marker_warning=marker_warning)

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """Every DNAT redirect with a destination address."""
        return redirect_forwards(parse_uci_show(self.send("uci -X show firewall")), self._wan_zone)

    def get_sip_alg(self) -> bool | None:
        """On when the SIP helper module is loaded and fw4's ``auto_helper`` is not 0."""
        firewall, module = self.send_many(["uci -X show firewall", "grep nf_conntrack_sip /proc/modules"],
                                          check=False)
        return sip_alg_from_uci(parse_uci_show(firewall), "nf_conntrack_sip" in module)

    def get_dhcp_scope(self) -> DhcpScope:
        """``start``/``limit`` of the LAN's dhcp section; ``host`` sections as reservations."""
        network, dhcp = self.send_many(["uci -X show network", "uci -X show dhcp"], check=False)
        return scope_from_uci(parse_uci_show(network), parse_uci_show(dhcp), self._lan)

    def list_leases(self) -> tuple[Lease, ...]:
        """``/tmp/dhcp.leases``."""
        return parse_leases(self.send("cat /tmp/dhcp.leases", check=False))

    def list_neighbours(self) -> tuple[Neighbour, ...]:
        """``ip neigh show``."""
        return parse_ip_neigh(self.send("ip neigh show", check=False))

    def probe_address(self, address: ipaddress.IPv4Address) -> bool:
        """``ping -c 1 -W 1 <address>``."""
        out = self.send(f"ping -c 1 -W 1 {ipaddress.IPv4Address(address)}", check=False)
        m = re.search(r"(\d+) packets received", out)
        if m is None:
            raise ParseError("ping", "no 'packets received' line", host=self.host, driver=self.name)
        return int(m.group(1)) > 0

    def backup(self) -> Backup:
        """``uci export firewall`` and ``uci export dhcp``; in the same round trip, what the write hooks then check
        (``uci -X show`` of network/dhcp/firewall, ``uci changes`` of dhcp/firewall: the engine backs up just
        before it writes, so those are read as late as before, without a round trip per hook)."""
        packages = ("network", "dhcp", "firewall")
        outs = self.send_many(["uci export firewall", "uci export dhcp", *(f"uci -X show {p}" for p in packages),
                               "uci changes firewall", "uci changes dhcp"])
        self._remember(dict(zip(packages, outs[2:5], strict=True)), {"firewall": outs[5], "dhcp": outs[6]})
        self._read_late = True
        return Backup(self.name, "uci-export", "".join(outs[:2]), time.time())

    # --- writes ----------------------------------------------------------------------------------------

    def _redirect_commands(self, forward: PortForward) -> list[str]:
        if forward.name.startswith(RULE_PREFIX):
            ref = f"firewall.{_section_id(forward.name)}"
            commands = [f"uci set {ref}=redirect"]
        else:
            ref = "firewall.@redirect[-1]"
            commands = ["uci add firewall redirect"]
        lan_zone = str(self.options.get("lan_zone") or "lan")
        commands += [f"uci set {ref}.name={_sq(forward.name)}", f"uci set {ref}.target='DNAT'",
                     f"uci set {ref}.src={_sq(self._wan_zone)}", f"uci set {ref}.dest={_sq(lan_zone)}",
                     f"uci set {ref}.proto={_sq(_PROTO[forward.protocol])}",
                     f"uci set {ref}.src_dport={_sq(forward.external_ports)}",
                     f"uci set {ref}.dest_ip={_sq(forward.internal_address)}",
                     f"uci set {ref}.dest_port={_sq(forward.internal_ports)}"]
        if not forward.enabled:
            commands.append(f"uci set {ref}.enabled='0'")
        commands.append(f"uci reorder {ref}=0")  # first in the file: fw4 evaluates redirects in order
        return commands

    def _add_port_forward(self, forward: PortForward) -> None:
        sections, pending = self._read("firewall")
        found = self._find(sections["firewall"], forward)
        if found is not None and found.name == forward.name:
            return
        self._write(("firewall",), self._redirect_commands(forward), pending)

    def _remove_port_forward(self, forward: PortForward) -> None:
        sections, pending = self._read("firewall")
        found = self._find(sections["firewall"], forward)
        if found is not None:
            self._write(("firewall",), [f"uci delete firewall.{found.ref}"], pending)

    def _reserve_address(self, reservation: Reservation) -> None:
        sections, pending = self._read("network", "dhcp", written=("dhcp",))
        scope = scope_from_uci(sections["network"], sections["dhcp"], self._lan)
        for other in scope.reservations:
            if other == reservation:
                return
            if other.address == reservation.address:
                raise DeviceError(f"{reservation.address} is already reserved",
                                  device_message=f"dhcp host {other.name} holds it for {other.mac}",
                                  host=self.host, driver=self.name)
        ref = f"dhcp.{_section_id(reservation.name or SINK_NAME)}"
        self._write(("dhcp",), [f"uci set {ref}=host", f"uci set {ref}.name={_sq(reservation.name)}",
                                f"uci set {ref}.mac={_sq(reservation.mac)}",
                                f"uci set {ref}.ip={_sq(reservation.address)}"], pending)

    def _release_address(self, reservation: Reservation) -> None:
        sections, pending = self._read("dhcp")
        ids = [s.id for s in sections["dhcp"] if s.type == "host" and s.get("ip") == str(reservation.address)
               and s.get("mac").split()[:1] == [reservation.mac]]
        self._write(("dhcp",), [f"uci delete dhcp.{sid}" for sid in ids], pending)

    def _set_sip_alg(self, enabled: bool) -> None:
        sections, pending = self._read("firewall")
        defaults = next((s for s in sections["firewall"] if s.type == "defaults"), None)
        if defaults is None:
            raise DeviceError("no firewall defaults section", device_message="uci show firewall has no defaults",
                              host=self.host, driver=self.name)
        if enabled:  # back to fw4's default (auto_helper unset = 1), so an undo restores the file exactly
            commands = [f"uci delete firewall.{defaults.id}.auto_helper"] if "auto_helper" in defaults.options else []
        else:
            commands = [f"uci set firewall.{defaults.id}.auto_helper='0'"]
        self._write(("firewall",), commands, pending)

    # --- undo marker (openwrt.md rows 38, 39, 43, 44) -----------------------------------------------------------

    @staticmethod
    def _marker_read() -> str:
        """At most one byte more than a marker may hold (a larger file is refused, never read whole), ended by a
        newline of its own whatever the file holds (the batch's marker line must start a line)."""
        return f"head -c {MAX_MARKER_BYTES + 1} {MARKER_FILE} 2>/dev/null; echo"

    def _save_undo_marker(self, text: str) -> None:
        """Written to a temporary file, ``chmod 600`` and renamed over the marker, in the same ``&&`` chain as the
        run's ``uci`` changes where the engine batches them (row 43: no ``umask``, it would outlive the chain)."""
        tmp = f"{MARKER_FILE}.tmp"
        self._write((), [f"mkdir -p {MARKER_DIR}", f"printf '%s' {_sq(text)} >{tmp}", f"chmod 600 {tmp}",
                         f"mv -f {tmp} {MARKER_FILE}", f"printf '%s\\n' {MARKER_DIR}/ {MARKER_KEEP} >{MARKER_KEEP}"],
                    "")

    def _clear_undo_marker(self) -> None:
        self._write((), [f"rm -f {MARKER_FILE} {MARKER_KEEP}"], "")

    def _capture(self, seconds: float, max_packets: int) -> LiveCapture:
        """tcpdump on the WAN and LAN devices at once, where installed (:mod:`.capture`)."""
        from .capture import capture

        return capture(self, self._lan, seconds, max_packets)

    def _flush_connections(self, ports: tuple[int, ...]) -> int:
        """``conntrack -D`` of entries whose original destination is the WAN address (inbound only)."""
        status, self._wan_status = self._wan_status, None  # the last read's (the verification's), once
        address = wan_address(status if status is not None else self.send("ifstatus wan", check=False))
        if address is None:
            raise DeviceError("the WAN has no IPv4 address to flush for", device_message="ifstatus wan",
                              host=self.host, driver=self.name)
        outs = self.send_many([f"conntrack -D -p {proto} --orig-dst {address} --dport {port}"
                               for port in ports for proto in ("udp", "tcp")], check=False)
        total = 0
        for out in outs:
            m = re.search(r"(\d+) flow entr(?:y|ies) ha(?:s|ve) been deleted", out)
            total += int(m.group(1)) if m else 0
        return total

    def _restore(self, backup: Backup) -> None:
        """Put redirects, DHCP hosts and fw4 ``auto_helper`` back as the backup has them."""
        saved = parse_export(backup.text)
        sections, pending = self._read("firewall", "dhcp")
        commands: list[str] = []
        for package, kind in _MANAGED.items():
            now = [s for s in sections[package] if s.type == kind]
            then = [s for s in saved if s.package == package and s.type == kind]
            now_keys = [sorted(s.options.items(), key=str) for s in now]
            then_keys = [sorted(s.options.items(), key=str) for s in then]
            commands += [f"uci delete {package}.{s.id}" for s, k in zip(now, now_keys, strict=True)
                         if k not in then_keys]
            for s, k in zip(then, then_keys, strict=True):
                if k in now_keys:
                    continue
                if not all(_UCI_NAME_RE.fullmatch(n) for n in (s.id.removeprefix("@").split("[")[0], *s.options)):
                    raise DeviceError("the backup holds a section or option name uci does not accept",
                                      device_message=f"{package} {kind} {s.id!r}"[:200], host=self.host,
                                      driver=self.name)
                ref = f"{package}.{s.id}" if not s.id.startswith("@") else f"{package}.@{kind}[-1]"
                commands.append(f"uci set {ref}={kind}" if not s.id.startswith("@") else f"uci add {package} {kind}")
                for option, value in s.options.items():
                    for v in value if isinstance(value, list) else [value]:
                        verb = "add_list" if isinstance(value, list) else "set"
                        commands.append(f"uci {verb} {ref}.{option}={_sq(v)}")
        then_defaults = next((s for s in saved if s.package == "firewall" and s.type == "defaults"), None)
        now_defaults = next((s for s in sections["firewall"] if s.type == "defaults"), None)
        if then_defaults is not None and now_defaults is not None and \
                then_defaults.options.get("auto_helper") != now_defaults.options.get("auto_helper"):
            helper = then_defaults.get("auto_helper") if "auto_helper" in then_defaults.options else None
            commands.append(f"uci set firewall.{now_defaults.id}.auto_helper={_sq(helper)}" if helper is not None
                            else f"uci delete firewall.{now_defaults.id}.auto_helper")
        touched = tuple(p for p in ("firewall", "dhcp") if any(f" {p}." in c or f"add {p} " in c for c in commands))
        self._write(touched, commands, pending)
