"""Realistic device work time for the SSH simulators: what a command costs the *device*, beside the network.

Follows ``docs/facts/timing.md`` (rows T1-T12). A simulator answers every line as soon as it is computed; a real
device makes a probe of a free address wait the tool's whole timeout and spends time writing its configuration to
flash. :func:`work_for` returns, per driver, a function ``(line, output) -> seconds`` that the SSH host
(:attr:`simulators._hosts.ssh.Knobs.work`) adds before answering that line; the device works on one line at a
time, so lines typed ahead queue behind it. The benchmarks (``benchmarks/simhost.py``) switch it on; tests keep the
default (no work time).

Probe costs are read from the *answer* the simulator computed (silence costs the timeout, a reply ends the probe at
once: T1-T5); save/commit costs from the line (T6-T12). Figures not documented by the vendor are marked
**inferred** in the table and taken at the low end of what is reported, so that they never flatter a ratio (the
strict floor pays the same device time as routerfix).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DEVICE_TIMING", "Rule", "WorkFn", "device_seconds", "work_for"]

WorkFn = Callable[[str, str], float]
"""``(line typed, output computed) -> seconds of device work before answering``."""


@dataclass(frozen=True)
class Rule:
    """One timing fact: lines matching ``line`` cost ``cost(match, output)`` seconds (``fact``: docs row).
    ``hints``: text every match contains one of (a line holding none is not searched)."""

    fact: str
    line: re.Pattern[str]
    cost: Callable[[re.Match[str], str], float]
    hints: tuple[str, ...]


def _fixed(seconds: float) -> Callable[[re.Match[str], str], float]:
    return lambda _m, _out: seconds


_ARPING_SILENT = re.compile(r"Received 0 response|^\.+\s*$", re.MULTILINE)
_PING_SILENT = re.compile(r"\b0 (?:packets )?received\b")
_IOS_RATE = re.compile(r"Success rate is \d+ percent \((\d+)/(\d+)\)")


def _arping(m: re.Match[str], out: str) -> float:
    """T1/T2: ``-D`` quits on the first reply; with no reply it runs until the ``-w`` deadline."""
    return float(m.group("w")) if _ARPING_SILENT.search(out) else 0.0


def _ping_w(m: re.Match[str], out: str) -> float:
    """T3/T4: ``ping -c 1 -W <s>``: a silent address costs the whole wait."""
    return float(m.group("w")) if _PING_SILENT.search(out) else 0.0


def _ios_ping(m: re.Match[str], out: str) -> float:
    """T5: each echo that is not answered waits the full ``timeout``."""
    rate = _IOS_RATE.search(out)
    repeat, timeout = int(m.group("repeat") or 5), float(m.group("timeout") or 2)
    lost = repeat if rate is None else int(rate.group(2)) - int(rate.group(1))
    return lost * timeout


_ARPING = Rule("T1, T2", re.compile(r"arping\b.*?-w\s*(?P<w>\d+)"), _arping, ("arping",))
_PING = Rule("T3, T4", re.compile(r"\bping\b.*?-W\s*(?P<w>\d+)"), _ping_w, ("ping",))
_COMMIT, _SAVE = ("commit",), ("save",)

DEVICE_TIMING: dict[str, tuple[Rule, ...]] = {
    "linux": (_ARPING, _PING),
    "openwrt": (_ARPING, _PING,
                Rule("T10", re.compile(r"\buci commit\b"), _fixed(0.1), ("uci commit",)),
                Rule("T11", re.compile(r"(?:/etc/init\.d/firewall|fw[34]) (?:reload|restart)|reload_config"),
                     _fixed(0.5), ("firewall reload", "firewall restart", "fw3 re", "fw4 re", "reload_config"))),
    "cisco_ios": (Rule("T5", re.compile(r"^\s*ping\s+\S+(?:.*?\brepeat\s+(?P<repeat>\d+))?"
                                        r"(?:.*?\btimeout\s+(?P<timeout>\d+))?"), _ios_ping, ("ping",)),
                  Rule("T6", re.compile(r"^\s*(?:write(?: memory)?|wr|copy running-config startup-config)\s*$"),
                       _fixed(1.0), ("wr", "copy"))),
    "vyos": (Rule("T7", re.compile(r"^\s*commit\b"), _fixed(0.58), _COMMIT),
             Rule("T8", re.compile(r"^\s*save\b"), _fixed(0.3), _SAVE)),
    "edgeos": (Rule("T9", re.compile(r"^\s*commit\b"), _fixed(0.58), _COMMIT),
               Rule("T9", re.compile(r"^\s*save\b"), _fixed(0.3), _SAVE)),
    "mikrotik": (),
}
"""Per driver, the rules of docs/facts/timing.md (MikroTik: no save step, T12; Linux nft/conntrack: T12)."""


_QUOTED = re.compile(r"'[^']*'")
"""A single-quoted shell word: an argument, not a command run now (e.g. the script of a detached
``start-stop-daemon -S -b … -c '<script>'`` job, docs/facts/openwrt.md row 35, which runs minutes later)."""


def device_seconds(rules: tuple[Rule, ...], line: str, output: str) -> float:
    """Seconds of device work for one line (every rule that matches outside single quotes adds its cost)."""
    total = 0.0
    unquoted: str | None = None
    for rule in rules:
        if not any(hint in line for hint in rule.hints):
            continue
        if unquoted is None:
            unquoted = _QUOTED.sub("''", line)
        for match in rule.line.finditer(unquoted):
            total += rule.cost(match, output)
    return total


def work_for(driver: str) -> WorkFn | None:
    """The work-time function for ``driver`` (None when the table has no rule for it)."""
    rules = DEVICE_TIMING.get(driver)
    if not rules:
        return None
    return lambda line, output: device_seconds(rules, line, output)
