"""The ``set`` command form of a Vyatta-family configuration (VyOS, Ubiquiti EdgeOS), as the drivers read it.

``show configuration commands`` prints one ``set <path> [value]`` line per leaf; VyOS quotes leaf values, EdgeOS
only values that need it (docs/facts/vyos.md rows 6 and 9, edgeos.md row 15). This module reads both.
A configuration is a list of *paths* (tuples of words, the value last, unquoted).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from routerfix.words import split

__all__ = ["Path", "parse_commands", "quote", "rule_table"]

Path = tuple[str, ...]


def parse_commands(text: str) -> list[Path]:
    """The paths of every ``set`` line of ``show configuration commands`` (other lines are skipped)."""
    paths: list[Path] = []
    if not isinstance(text, str):
        return paths
    for line in text.replace("\r", "").split("\n"):
        line = line.strip()
        if not line.startswith("set "):
            continue
        try:
            words = split(line)
        except ValueError:
            continue
        if len(words) > 1:
            paths.append(tuple(words[1:]))
    return paths


def quote(value: str, always: bool) -> str:
    """A value as the CLI prints it: ``'value'`` (always, or when it holds blanks/specials), else bare."""
    if always or not re.fullmatch(r"[\w.:/@+,-]+", value):
        return "'" + value.replace("'", "'\\''") + "'"
    return value


def rule_table(paths: Iterable[Path], prefix: Path) -> dict[str, dict[Path, list[str]]]:
    """Group the paths under ``prefix + (<tag>,)``: tag → {sub-path without its last word: [last words]}.

    ``rule_table(paths, ("nat", "destination", "rule"))["10"][("translation", "address")] == ["192.168.1.5"]``;
    a flag such as ``disable`` appears as ``{(): ["disable"]}``.
    """
    table: dict[str, dict[Path, list[str]]] = {}
    n = len(prefix)
    for path in paths:
        if len(path) <= n or path[:n] != prefix:
            continue
        rest = path[n + 1:]
        entry = table.setdefault(path[n], {})
        if rest:
            entry.setdefault(rest[:-1], []).append(rest[-1])
    return table
