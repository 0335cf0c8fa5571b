"""Shared helpers of the benchmark scripts: simulator processes, statistics, memory, the baseline netmiko script.

Nothing here is imported by routerfix itself; the scripts are plain Python run from the repository root
(``.venv/bin/python benchmarks/<script>.py``) and talk to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

SSH_DRIVERS = ("mikrotik", "linux", "openwrt", "cisco_ios", "vyos", "edgeos")
"""SSH drivers benchmarked (each ships a simulator with a ``latency`` knob)."""
WEB_DEVICES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("netgear", {"model": "R7000"}), ("netgear", {"model": "R7800"}), ("asuswrt", {}), ("linksys", {}),
    ("tplink", {}), ("upnp", {}), ("belkin", {}), ("att", {}))
"""Web devices benchmarked (driver, simulator knobs)."""

NETMIKO_TYPES = {"mikrotik": "mikrotik_routeros", "linux": "linux", "openwrt": "linux", "cisco_ios": "cisco_ios",
                 "vyos": "vyos", "edgeos": "ubiquiti_edgerouter"}
"""The netmiko ``device_type`` an engineer would pick for each device (OpenWrt has none: ``linux``)."""


def fast_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop for the simulator processes when uvloop is installed (the ``bench`` and ``test`` extras
    install it, except on Windows), else None (asyncio's own). The simulated devices answer as on asyncio's loop and
    time the same to the millisecond (uvloop's timer resolution); the rig spends less CPU on its event loop
    (benchmarks/README.md §3)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def median(values: Sequence[float]) -> float:
    """The median (0.0 for no values)."""
    return statistics.median(values) if values else 0.0


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Device:
    """Where one simulated device listens (as printed by simhost.py)."""

    driver: str
    host: str
    port: int | None
    username: str
    password: str = field(repr=False)
    options: dict[str, Any] = field(default_factory=dict)

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`routerfix.connect`."""
        opts: dict[str, Any] = {"username": self.username, "password": self.password, **self.options}
        if self.port is not None:
            opts["port"] = self.port
        return opts


def children_cpu_seconds() -> float:
    """User + system CPU time of this process's children that have ended and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time so far of other processes (``/proc/<pid>/stat``), threads included."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def private_lock_dir() -> str:
    """Keep this benchmark's device lock files (``$ROUTERFIX_LOCK_DIR``, routerfix.locks) in a directory of its
    own, removed when the process exits, unless the variable is set already (a parent benchmark's, inherited).
    Every run serves freshly started simulators on new ports, i.e. new devices: with the default directory each
    run left one lock file per router behind (115,000 on this machine by session 11). Returns the directory."""
    current = os.environ.get("ROUTERFIX_LOCK_DIR")
    if current:
        return current
    path = tempfile.mkdtemp(prefix="routerfix-bench-locks-")
    os.environ["ROUTERFIX_LOCK_DIR"] = path
    atexit.register(shutil.rmtree, path, True)
    return path


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent so far, every core and the kernel's interrupt work included
    (``/proc/stat``: user, nice, system, irq and softirq time; not idle, I/O wait or time stolen by the host),
    in seconds: what the client, the simulators and the kernel's loopback traffic spend together, which no
    process's own figure counts in full."""
    user, nice, system, _idle, _iowait, irq, softirq = _cpu_ticks()[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def machine_steal_seconds() -> float:
    """Time this virtual machine's cores have so far waited while its host ran something else (``/proc/stat``:
    steal, summed over the cores), in seconds; 0 on bare metal. Over a run, what it shows is CPU the run could not
    have, however fast routerfix is."""
    ticks = _cpu_ticks()
    return ticks[7] / os.sysconf("SC_CLK_TCK") if len(ticks) > 7 else 0.0


def _cpu_ticks() -> list[int]:
    """The machine's CPU time by kind, in clock ticks summed over the cores (``/proc/stat``'s ``cpu`` line: user,
    nice, system, idle, iowait, irq, softirq, steal...)."""
    return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]


SIMULATOR_CPU_MS = {"ssh": 14.5, "web": 8.0}
"""Simulator CPU per mitigated router by kind (``fleet.py --subset ssh|web --sizes 1000``, this machine): what
:func:`deal` balances."""


def deal(devices: Sequence[tuple[str, dict[str, Any]]], processes: int) -> list[list[int]]:
    """Indexes of ``devices`` per simulator process: SSH and web devices in processes of their own where there are
    enough processes (an SSH-only process runs one thread, its event loop, which never waits for the interpreter
    lock held by a web server's thread), the processes split between the kinds by their expected CPU
    (:data:`SIMULATOR_CPU_MS`); round robin within a kind."""
    web_drivers = {driver for driver, _ in WEB_DEVICES}
    kinds = {"web": [i for i, (d, _) in enumerate(devices) if d in web_drivers],
             "ssh": [i for i, (d, _) in enumerate(devices) if d not in web_drivers]}
    if processes < 2 or not kinds["web"] or not kinds["ssh"]:
        return [list(range(i, len(devices), processes)) for i in range(processes)]
    cost = {kind: len(found) * SIMULATOR_CPU_MS[kind] for kind, found in kinds.items()}
    web = min(processes - 1, max(1, round(processes * cost["web"] / (cost["web"] + cost["ssh"]))))
    web = max(processes - len(kinds["ssh"]), min(web, len(kinds["web"])))  # no process without a device
    split = {"web": web, "ssh": processes - web}
    return [kinds[kind][i::split[kind]] for kind in ("web", "ssh") for i in range(split[kind])]


def machine_loop_ms(rounds: int = 5) -> float:
    """How fast this machine runs Python at the moment: the fastest of ``rounds`` runs of a fixed loop (a million
    additions), in ms. A shared virtual machine's speed drifts by ±10 % from hour to hour (benchmarks/README.md §3):
    rows measured at different times compare by it."""
    best = float("inf")
    for _ in range(rounds):
        started, total = time.perf_counter(), 0
        for i in range(1_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


@contextlib.contextmanager
def simulators(devices: Sequence[tuple[str, dict[str, Any]]], *, latency: float, processes: int = 1,
               timeout: float = 600.0, realistic: bool = False, what_if_curve25519: bool = False,
               pids: list[int] | None = None) -> Iterator[list[Device]]:
    """Serve ``devices`` (driver, knobs) from ``processes`` simulator processes; yield them in the same order.

    ``realistic``: every packet pays ``latency`` per round trip (a delaying TCP proxy in front of each device) and
    SSH devices spend their documented work time (docs/facts/timing.md); otherwise the simulators' own latency
    knobs (login, first prompt, command lines only) and no work time. ``what_if_curve25519``: every SSH device
    offers curve25519 instead of its documented key exchanges (a what-if, to show what the finite-field
    Diffie-Hellman of the devices that offer nothing else costs the client). ``pids`` (a list) receives the
    simulator processes' ids (for :func:`process_cpu_seconds`)."""
    processes = max(1, min(processes, len(devices) or 1))
    shares = deal(devices, processes)
    procs = []
    scratch = tempfile.mkdtemp(prefix="routerfix-bench-sims-")  # the simulators' files; removed below in any case
    try:
        for index, share in enumerate(shares):
            own = os.path.join(scratch, str(index))
            os.mkdir(own)
            spec = {"latency": latency, "network": "proxy" if realistic else "knob", "timing": realistic,
                    "what_if_curve25519": what_if_curve25519, "scratch": own,
                    "devices": [list(devices[i]) for i in share]}
            procs.append(subprocess.Popen([sys.executable, str(HERE / "simhost.py"), json.dumps(spec)],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
            if pids is not None:
                pids.append(procs[-1].pid)
        found: dict[int, Device] = {}
        deadline = time.monotonic() + timeout
        for proc, share in zip(procs, shares, strict=True):
            assert proc.stdout is not None
            got = 0
            while True:
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"simulator process {proc.pid} exited early ({proc.wait()})")
                if line.strip() == "READY":
                    break
                found[share[got]] = Device(**json.loads(line))
                got += 1
                if time.monotonic() > deadline:
                    raise RuntimeError("simulators did not start in time")
        yield [found[i] for i in range(len(devices))]
    finally:
        for proc in procs:
            with contextlib.suppress(Exception):
                assert proc.stdin is not None
                proc.stdin.close()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(scratch, ignore_errors=True)  # what a killed simulator process could not remove itself


# --- the plain netmiko script of an MSP engineer ------------------------------------------------------------

_MARKER = re.compile(r'; (?::put "RFX[0-9a-f]+-\d+"|echo RFX[0-9a-f]+-\d+ \$\?)(?:; |$)')
_SKIP = ("terminal ", "set terminal ", "export LC_ALL", "exit", "quit", "logout")


def split_batch(line: str) -> list[str]:
    """The single commands of a line routerfix batched with end markers."""
    return [part for part in _MARKER.split(line) if part.strip()]


def _is_write(driver: str, command: str) -> bool:
    if driver == "mikrotik":
        return "print" not in command and re.search(r"\b(add|set|disable|enable|remove)\b", command) is not None
    if driver == "linux":
        return command.startswith(("nft '", "nft add", "nft delete", "printf", "kill ", "conntrack -D"))
    if driver == "openwrt":
        return "uci set" in command or "uci commit" in command or "uci delete" in command or \
            command.startswith("conntrack -D")
    return command.startswith(("sudo conntrack", "clear "))


def _is_probe(command: str) -> bool:
    return command.startswith(("ping ", "arping "))


@dataclass
class Script:
    """What the plain netmiko script sends: reads (one ``send_command`` each), a config set, save/commit."""

    device_type: str
    reads: list[str]
    config: list[str]
    after: list[str]
    """Operational commands after the configuration (conntrack flushes)."""
    commit: bool = False
    save: bool = False

    @property
    def commands(self) -> int:
        """CLI lines the change needs (the floor counts one round trip for each)."""
        return len(self.reads) + len(self.config) + len(self.after) + int(self.commit) + int(self.save)


def baseline_script(driver: str, recorded: Sequence[str]) -> Script:
    """The same change as routerfix made (``recorded``: the lines the device saw), as an engineer would script it
    from netmiko's documentation: each read once, the configuration lines in one ``send_config_set``, then
    commit/save as the platform needs."""
    reads: list[str] = []
    config: list[str] = []
    after: list[str] = []
    in_config = False
    for line in recorded:
        for command in split_batch(line) if "RFX" in line else [line]:
            command = command.strip()
            if driver in ("cisco_ios", "vyos", "edgeos"):
                if command in ("configure terminal", "configure") or command.startswith("configure terminal revert"):
                    in_config = True
                    continue
                # routerfix's commit-confirm + confirm (a safety net a plain script does not have) is one commit
                if in_config and (command in ("end", "commit", "confirm") or command.startswith("commit-confirm")):
                    in_config = False
                    continue
                if in_config:
                    config.append(command)
                    continue
                if command in ("save", "write memory", "exit", "y", "configure confirm") or command.startswith(_SKIP):
                    continue
            elif command.startswith(_SKIP):
                continue
            if in_config:
                continue
            if _is_write(driver, command):
                (after if driver in ("vyos", "edgeos") else config).append(command)
            elif (command not in reads or _is_probe(command)) and not command.startswith("tr "):
                reads.append(command)
    return Script(NETMIKO_TYPES[driver], reads, config, after, commit=driver in ("vyos", "edgeos"),
                  save=driver in ("cisco_ios", "vyos", "edgeos"))


def run_baseline(script: Script, device: Device, read_timeout: float = 30.0) -> None:
    """Make the change with plain netmiko (defaults as documented; host key auto-accepted as netmiko does)."""
    from netmiko import ConnectHandler

    conn = ConnectHandler(device_type=script.device_type, host=device.host, port=device.port or 22,
                          username=device.username, password=device.password)
    try:
        for command in script.reads:
            conn.send_command(command, read_timeout=read_timeout)
        conn.send_config_set(script.config, exit_config_mode=not script.commit, read_timeout=read_timeout)
        if script.commit:
            conn.commit()
            if script.save:
                conn.send_command("save", read_timeout=read_timeout)
            conn.exit_config_mode()
        elif script.save:
            conn.save_config()
        for command in script.after:
            conn.send_command(command, read_timeout=read_timeout)
    finally:
        conn.disconnect()


def run_tuned(script: Script, device: Device, read_timeout: float = 30.0) -> None:
    """The same change as :func:`run_baseline`, as a competent engineer tunes it: the prompt is found once after
    login and every ``send_command`` passes it as ``expect_string`` (no ``find_prompt()`` per read); commit, save
    and leaving configuration mode wait for their prompt pattern instead of netmiko's timing-based reads."""
    from netmiko import ConnectHandler

    conn = ConnectHandler(device_type=script.device_type, host=device.host, port=device.port or 22,
                          username=device.username, password=device.password, fast_cli=True)
    try:
        tuned_steps(conn, script, read_timeout)
    finally:
        conn.disconnect()


def tuned_steps(conn: Any, script: Script, read_timeout: float = 30.0) -> None:
    """The tuned script's commands on an open netmiko connection (shared with the Nornir baseline)."""
    base = re.escape(re.split(r"[:#$>(]", conn.find_prompt().strip(), maxsplit=1)[0])
    exec_prompt = any_prompt = base + r"[^\n]*[#$>]\s*$"  # the host part, in exec and in configuration mode
    for command in script.reads:
        conn.send_command(command, expect_string=exec_prompt, read_timeout=read_timeout)
    if script.commit:
        conn.send_command("configure", expect_string=any_prompt, read_timeout=read_timeout)
        for line in script.config:
            conn.send_command(line, expect_string=any_prompt, read_timeout=read_timeout)
        conn.send_command("commit", expect_string=any_prompt, read_timeout=read_timeout)
        if script.save:
            conn.send_command("save", expect_string=any_prompt, read_timeout=read_timeout)
        conn.send_command("exit", expect_string=exec_prompt, read_timeout=read_timeout)
    elif script.device_type in ("linux", "mikrotik_routeros"):  # a shell: writes are commands too
        for line in script.config:
            conn.send_command(line, expect_string=exec_prompt, read_timeout=read_timeout)
    else:
        if script.config:
            conn.send_config_set(script.config, read_timeout=read_timeout)
        if script.save:
            conn.send_command("write memory", expect_string=exec_prompt, read_timeout=read_timeout)
    for command in script.after:
        conn.send_command(command, expect_string=exec_prompt, read_timeout=read_timeout)


def profile_threads(path: str) -> Any:
    """Profile the CPU time of every thread started from now on (cProfile sees one thread only, so each gets a
    profiler of its own, timed with ``time.thread_time``: waiting is not counted) and return a function that stops
    them and writes the merged statistics to ``path`` (read them with ``python -m pstats``). The profiler slows
    Python code more than C code: read the shares, not the totals."""
    import cProfile
    import pstats
    import threading

    profiles: list[cProfile.Profile] = []
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        prof = cProfile.Profile(time.thread_time)
        profiles.append(prof)
        prof.runcall(original, self)

    threading.Thread.run = run  # type: ignore[method-assign]

    def save() -> None:
        for prof in profiles:
            prof.disable()
        stats = pstats.Stats(profiles[0])
        for prof in profiles[1:]:
            stats.add(prof)
        stats.dump_stats(path)

    return save
