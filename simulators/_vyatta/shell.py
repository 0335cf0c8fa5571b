"""The Vyatta-family command line (VyOS 1.3-1.5, Ubiquiti EdgeOS), shared by both simulators; each adds its
dialect (schema, ``show`` layouts, commit checks). Follows docs/facts/vyos.md (rows 1-8, 26) and
docs/facts/edgeos.md (rows 1-2, 16): prompts, ``[edit]``, a per-session candidate, ``commit``, ``save`` → ``Done``,
``Cannot exit: configuration modified`` and ``exit discard``; a candidate dies with its session; a committed but
unsaved change is lost at reboot (``router.reboot()``). ``commit-confirm [N] [no-prompt]`` / ``confirm`` follow
vyos.md rows 28-32 (edgeos.md rows 17-19): the timer runs on the router, not the session, in *simulated* time
(``router.advance(seconds)``, ``router.fire_revert()``), and its end reboots to the saved configuration.
A line whose first word is quoted (``\\head``) is a plain shell command on the files in ``/config``
(:mod:`.files`, vyos.md rows 33-42, edgeos.md rows 20-24), which a reboot keeps.
Texts the table marks inferred are inferred here too.
"""

from __future__ import annotations

import copy
import ipaddress
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from routerfix.words import split

from .._hosts.ssh import Shell
from .files import FileSystem, run_shell
from .tree import Path, Schema

__all__ = ["ARP", "LEASES", "Conntrack", "Dialect", "VyattaRouter", "VyattaSession", "scanner_flows"]


@dataclass
class Conntrack:
    """One connection-tracking entry (original direction)."""

    protocol: str
    src: str
    dst: str
    dport: int


@dataclass
class Dialect:
    """What differs between VyOS and EdgeOS in the simulated CLI."""

    schema: Schema
    terminal_prefix: str
    """``"set terminal"`` (VyOS) or ``"terminal"`` (EdgeOS)."""
    leases_command: str
    render_leases: Callable[[VyattaRouter], str]
    render_arp: Callable[[VyattaRouter], str]
    render_interfaces: Callable[[VyattaRouter], str]
    version: str
    validate: Callable[[list[Path]], str | None]
    """Commit-time checks: an error text (without ``Commit failed``) or None."""


@dataclass
class VyattaRouter:
    """One simulated device: running (committed) and saved configuration, leases, ARP, conntrack."""

    dialect: Dialect
    running: list[Path]
    user: str = "vyos"
    leases: list[dict[str, str]] = field(default_factory=list)
    """Rows: ip, mac, hostname, expires."""
    arp: dict[str, str] = field(default_factory=dict)
    wan_address: str = "203.0.113.7/24"
    conntrack: list[Conntrack] = field(default_factory=list)
    saved: list[Path] = field(default_factory=list)
    clock: float = 0.0
    """Simulated seconds (advanced by tests, never by the wall clock)."""
    confirm_deadline: float | None = None
    """When the armed ``commit-confirm`` reboots the router (None: none armed)."""
    reverts: int = 0
    """How many times a commit-confirm timer ran out (each one a reboot to the saved configuration)."""
    shell_commands: bool = True
    """The login's shell runs plain commands (an admin login); False: a restricted op shell (EdgeOS ``level
    operator``, edgeos.md row 21) that answers every quoted first word with ``Invalid command`` (vyos.md row 42)."""
    disk: FileSystem = field(default_factory=FileSystem)
    """``/config``'s plain files (the undo marker): kept by :meth:`reboot`."""
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        self.running = self.dialect.schema.canonical(self.running)
        self.saved = self.dialect.schema.canonical(self.saved) if self.saved else list(self.running)

    @property
    def hostname(self) -> str:
        """``system host-name``."""
        return next((p[2] for p in self.running if p[:2] == ("system", "host-name") and len(p) == 3), "vyos")

    def config_text(self, paths: list[Path] | None = None) -> str:
        """``show configuration commands``."""
        text: str = self.dialect.schema.render(self.running if paths is None else paths)
        return text

    def reboot(self) -> None:
        """Power-cycle: the saved configuration becomes the running one."""
        with self.lock:
            self.running = list(self.saved)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass; an armed commit-confirm timer that runs out reboots."""
        with self.lock:
            self.clock += seconds
            if self.confirm_deadline is not None and self.clock >= self.confirm_deadline:
                self.fire_revert()

    def fire_revert(self) -> None:
        """The commit-confirm timer ends now (if armed): reboot to the saved configuration."""
        with self.lock:
            if self.confirm_deadline is None:
                return
            self.confirm_deadline = None
            self.reverts += 1
            self.reboot()

    def has(self, prefix: Path) -> bool:
        """True when some running path starts with ``prefix``."""
        return any(p[:len(prefix)] == prefix for p in self.running)


class VyattaSession(Shell):
    """One login: op or configuration mode, the candidate configuration, paging."""

    def __init__(self, router: VyattaRouter, username: str) -> None:
        super().__init__(username)
        self.router = router
        self.dialect = router.dialect
        self.candidate: list[Path] | None = None
        self.length = 24
        self._more: list[str] = []
        self._question: tuple[str, Callable[[str], str]] | None = None
        """A yes/no question waiting for its answer: the question line and what the answer runs."""

    def welcome(self) -> str:
        """The login banner."""
        return ("Welcome to VyOS!\n\n   Check out project news at https://blog.vyos.io\n\n"
                if "VyOS" in self.dialect.version else
                "Welcome to EdgeOS\n\nBy logging in, accessing, or using the Ubiquiti product, you acknowledge...\n")

    def prompt(self) -> str:
        """``user@host:~$ `` in op mode, ``[edit]`` + ``user@host# `` in config mode, ``:`` while paging."""
        if self._more:
            return ":"
        if self._question is not None:
            return self._question[0]
        who = f"{self.router.user}@{self.router.hostname}"
        return f"[edit]\n{who}# " if self.candidate is not None else f"{who}:~$ "

    # --- helpers -----------------------------------------------------------------------------------

    def _page(self, text: str) -> str:
        lines = text.rstrip("\n").split("\n")
        if self.length == 0 or len(lines) < self.length:
            return text
        self._more = lines[self.length - 1:]
        return "\n".join(lines[: self.length - 1]) + "\n"

    def execute(self, line: str) -> str:
        """Run one line; return what is printed before the next prompt."""
        with self.router.lock:
            if self._more:
                if line.strip().lower().startswith("q"):
                    self._more = []
                    return ""
                shown, self._more = self._more[: self.length - 1], self._more[self.length - 1:]
                return "\n".join(shown) + "\n"
            if self._question is not None:
                answer, (_, then) = line.strip().lower(), self._question
                self._question = None
                return then(answer)
            text = line.strip()
            if not text:
                return ""
            if text.startswith("\\") and self.candidate is None:
                if not self.router.shell_commands:
                    return f"\n  Invalid command: [{text[1:].split()[0]}]\n\n"
                return run_shell(self.router.disk, text[1:])
            try:
                words = split(text)
            except ValueError:
                return "\n  Invalid command: unbalanced quotes\n\n"
            if self.candidate is not None:
                return self._config(words, text)
            return self._op(words, text)

    # --- op mode -------------------------------------------------------------------------------------

    def _op(self, words: list[str], text: str) -> str:
        r = self.router
        tp = self.dialect.terminal_prefix.split()
        if words[: len(tp)] == tp and len(words) == len(tp) + 2 and words[len(tp)] in ("width", "length"):
            if words[-1].isdigit():
                if words[len(tp)] == "length":
                    self.length = int(words[-1])
                return ""
        if words == ["configure"]:
            self.candidate = list(r.running)
            return ""
        if words[0] in ("exit", "logout"):
            self.closed = True
            return "logout\n"
        if words[0] == "sudo" and words[1:2] == ["conntrack"]:
            return self._conntrack(words[2:])
        command, _, filt = text.partition(" | ")
        command = " ".join(command.split())
        if command == "show configuration commands":
            out = r.config_text()
        elif command == "show version":
            out = self.dialect.version
        elif command == self.dialect.leases_command:
            out = self.dialect.render_leases(r)
        elif command == "show arp":
            out = self.dialect.render_arp(r)
        elif command == "show interfaces":
            out = self.dialect.render_interfaces(r)
        else:
            return f"\n  Invalid command: [{' '.join(words)}]\n\n"
        if filt:
            m = re.fullmatch(r"(?:match|grep) (.+)", filt.strip())
            if not m:
                return f"\n  Invalid command: [{filt.strip()}]\n\n"
            pattern = m.group(1).strip("'\"")
            out = "".join(line + "\n" for line in out.split("\n") if re.search(pattern, line))
        return self._page(out)

    def _conntrack(self, args: list[str]) -> str:
        r = self.router
        opts: dict[str, str] = {}
        i = 0
        while i < len(args):
            if args[i].startswith("-") and i + 1 < len(args):
                opts[args[i]] = args[i + 1]
                i += 2
            else:
                opts[args[i]] = ""
                i += 1
        if "-D" not in opts and "--delete" not in opts:
            return "conntrack v1.4.7 (conntrack-tools): Operation not supported in this simulator\n"
        proto = opts.get("-p") or opts.get("--proto")
        dst = opts.get("--orig-dst") or opts.get("-d")
        dport = opts.get("--dport") or opts.get("--orig-port-dst")
        keep, gone = [], 0
        for entry in r.conntrack:
            hit = (proto is None or entry.protocol == proto) and (dst is None or entry.dst == dst) and \
                (dport is None or str(entry.dport) == dport)
            if hit:
                gone += 1
            else:
                keep.append(entry)
        r.conntrack = keep
        return f"conntrack v1.4.7 (conntrack-tools): {gone} flow entries have been deleted.\n"

    def _commit_now(self) -> str:
        cand = self.candidate
        assert cand is not None
        problem = self.dialect.validate(cand)
        if problem:
            return f"{problem}\n\nCommit failed\n"
        self.router.running = self.dialect.schema.canonical(cand)  # the committed tree, not the typed order
        return ""

    def _commit_confirm(self, args: list[str]) -> str:
        """``commit-confirm [minutes] [no-prompt]``: refuse when unchanged or when a timer is already armed; warn
        about unsaved earlier commits; ask; arm the timer, *then* commit (vyos.md rows 28-30)."""
        r = self.router
        cand = self.candidate
        assert cand is not None
        if sorted(cand) == sorted(r.running):
            return "No configuration changes to commit\n"
        if r.confirm_deadline is not None:
            return "Another confirm is pending\n"
        minutes = _minutes(args)
        warning = "\nYou should save previous commits before commit-confirm !\n" \
            if sorted(r.running) != sorted(r.saved) else ""

        def proceed(answer: str) -> str:
            if answer not in ("", "y", "yes"):
                return "commit-confirm canceled\n"
            r.confirm_deadline = r.clock + 60 * minutes
            return f"Initialized commit-confirm; {minutes} minutes to confirm before reboot\n" + self._commit_now()

        if "no-prompt" in args:
            return warning + proceed("y")
        self._question = ("Proceed ? [Y/n] ", proceed)
        return warning + f"\ncommit-confirm will automatically reboot in {minutes} minutes unless changes\n" \
            "are confirmed.\n\n"

    # --- configuration mode --------------------------------------------------------------------------

    def _config(self, words: list[str], text: str) -> str:
        r = self.router
        cand = self.candidate
        assert cand is not None
        verb, path = words[0], tuple(words[1:])
        schema = self.dialect.schema
        if verb == "set":
            if not path:
                return "\n  Incomplete command: [set]\n\n"
            index, kind = schema.check(path)
            if index != -1:
                shown = " ".join(path[: index + 1])
                return f"\n  Configuration path: [{shown}] is not valid\n  Set failed\n\n"
            if kind == "leaf":
                cand[:] = [p for p in cand if p[: len(path) - 1] != path[:-1]]
            cand[:] = [p for p in cand if p != path[: len(p)]]  # the new path replaces its bare prefixes
            if path not in cand:
                cand.append(path)
            return ""
        if verb == "delete":
            if not path:
                return "\n  Incomplete command: [delete]\n\n"
            matching = [p for p in cand if p[: len(path)] == path]
            if not matching:
                return ("\n  Nothing to delete (the specified node does not exist)\n  Delete failed\n\n")
            cand[:] = [p for p in cand if p[: len(path)] != path]
            parent = path[:-1]
            if parent and not any(p[: len(parent)] == parent for p in cand) and schema.check(parent)[1] == "node":
                pass
            return ""
        if words == ["commit"] or words[:2] == ["commit", "comment"]:
            if sorted(cand) == sorted(r.running):
                return "No configuration changes to commit\n"
            return self._commit_now()
        if words[0] == "commit-confirm":
            return self._commit_confirm(words[1:])
        if words == ["confirm"]:
            if r.confirm_deadline is None:
                return "No confirm pending\n"
            r.confirm_deadline = None
            return "Reboot timer stopped\n"
        if words == ["save"] or (len(words) == 2 and words[0] == "save"):
            if len(words) == 2:
                return f"Saving configuration to '{words[1]}'...\nDone\n"
            r.saved = list(r.running)
            return "Saving configuration to '/config/config.boot'...\nDone\n"
        if words == ["exit"] or words == ["quit"]:
            if sorted(cand) != sorted(r.running):
                return "Cannot exit: configuration modified.\nUse 'exit discard' to discard the changes and exit.\n"
            self.candidate = None
            if sorted(r.running) != sorted(r.saved):
                return "Warning: configuration changes have not been saved.\nexit\n"
            return "exit\n"
        if words == ["exit", "discard"]:
            self.candidate = None
            return "exit\n"
        if words == ["discard"]:
            cand[:] = list(r.running)
            return "  Changes have been discarded\n"
        if words[0] == "run" and len(words) > 1:
            saved, self.candidate = self.candidate, None
            try:
                return self._op(words[1:], text[4:])
            finally:
                self.candidate = saved
        if words == ["compare"]:
            return "".join(f"+ {' '.join(p)}\n" for p in cand if p not in r.running) + \
                "".join(f"- {' '.join(p)}\n" for p in r.running if p not in cand)
        return f"\n  Invalid command: [{' '.join(words)}]\n\n"


def _minutes(args: list[str]) -> int:
    return next((int(a) for a in args[:1] if a.isdigit()), 10)


def copy_router(router: VyattaRouter) -> VyattaRouter:
    """A deep copy (tests)."""
    return copy.deepcopy(router)


def mac_ok(text: str) -> bool:
    """True for ``aa:bb:cc:dd:ee:ff``."""
    return re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", text) is not None


def ip_ok(text: str) -> bool:
    """True for a dotted IPv4 address."""
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


LEASES = [
    {"ip": "192.168.1.100", "mac": "00:04:f2:a1:b2:c3", "hostname": "Polycom-VVX450"},
    {"ip": "192.168.1.101", "mac": "80:5e:c0:11:22:33", "hostname": "SIP-T46S"},
    {"ip": "192.168.1.102", "mac": "3c:22:fb:44:55:66", "hostname": "reception-pc"},
]
"""The office's leases (two phones and a PC), the same on both simulators."""
ARP = {"192.168.1.100": "00:04:f2:a1:b2:c3", "192.168.1.150": "00:80:77:12:34:56",
       "192.168.1.20": "00:11:32:00:aa:01", "192.168.1.102": "3c:22:fb:44:55:66"}
"""The office's neighbours."""


def scanner_flows(wan: str = "203.0.113.7") -> list[Conntrack]:
    """Two inbound scanner flows to the WAN on 5060 and one phone flow to its provider (must survive a flush)."""
    return [Conntrack("udp", "198.51.100.23", wan, 5060), Conntrack("udp", "198.51.100.24", wan, 5060),
            Conntrack("udp", "192.168.1.100", "192.0.2.80", 5060)]


def net_tools_arp(router: VyattaRouter, iface: str, incomplete: str) -> str:
    """``show arp`` as net-tools ``arp -e -n`` prints it (EdgeOS, VyOS 1.3: docs/facts/vyos.md row 24), with one
    ``(incomplete)`` entry for ``incomplete``."""
    rows = ["Address                  HWtype  HWaddress           Flags Mask            Iface"]
    rows += [f"{ip:<25}{'ether':<8}{mac:<20}{'C':<22}{iface}" for ip, mac in router.arp.items()]
    rows.append(f"{incomplete:<33}{'(incomplete)':<42}{iface}")
    return "\n".join(rows) + "\n"
