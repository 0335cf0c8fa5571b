"""The ``set`` command form of a Vyatta-family configuration (VyOS, Ubiquiti EdgeOS), shared by the parsers and
the simulated CLIs.

``show configuration commands`` prints one ``set <path> [value]`` line per leaf (ssh-cli.md §3). VyOS quotes
leaf values (``description 'routerfix-sip'``) and leaves tag-node names bare (``rule 10``) [C: vyos-doc samples
quoted in §3]; EdgeOS quotes only values that need it [I]. This module reads both and writes either.

A configuration is a list of *paths* (tuples of words, the value last, unquoted). :class:`Schema` knows which
words are values, so that setting a single-valued leaf replaces its old value and rendering can quote values.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["FLAG", "LEAF", "MULTI", "Path", "Schema", "Tag", "parse_commands", "quote", "rule_table"]

Path = tuple[str, ...]

LEAF = "leaf"
"""A node holding one value."""
MULTI = "multi"
"""A node holding several values."""
FLAG = "flag"
"""A valueless node (``disable``)."""


@dataclass(frozen=True)
class Tag:
    """A tag node: any name (matching ``pattern``) followed by the children in ``sub``."""

    sub: Node
    pattern: str = r"[\w.:/-]+"


Node: TypeAlias = str | Tag | Mapping[str, "Node"]


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
            words = shlex.split(line)
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


class Schema:
    """The part of a platform's configuration syntax a simulator accepts."""

    def __init__(self, root: Mapping[str, Node], *, quote_values: bool) -> None:
        self.root = root
        self.quote_values = quote_values

    def check(self, words: Path) -> tuple[int, str]:
        """Walk ``words``: returns ``(-1, kind)`` when valid (kind of the last node: leaf/multi/flag/node), or
        ``(index, "")`` of the first invalid word."""
        node: Node = self.root
        i = 0
        while i < len(words):
            word = words[i]
            if isinstance(node, Tag):
                if not re.fullmatch(node.pattern, word):
                    return i, ""
                node = node.sub
                i += 1
                continue
            if isinstance(node, str):
                if node in (LEAF, MULTI) and i == len(words) - 1:
                    return -1, node
                return i, ""
            if word not in node:
                return i, ""
            node = node[word]
            i += 1
        if isinstance(node, str):
            return (-1, node) if node == FLAG else (len(words), "")
        return -1, "node"

    def value_index(self, path: Path) -> int:
        """Index of the value word in ``path`` (-1 when the path ends in a node or flag)."""
        index, kind = self.check(path)
        return len(path) - 1 if index == -1 and kind in (LEAF, MULTI) else -1

    @staticmethod
    def canonical(paths: Iterable[Path]) -> list[Path]:
        """``paths`` as the device holds its tree: each path once, in tree order (numbers numerically, words
        alphabetically), whatever order they were set in. A committed configuration is a tree, not a log."""
        def key(path: Path) -> tuple[tuple[int, int, str], ...]:
            return tuple((0, int(w), "") if w.isdecimal() else (1, 0, w) for w in path)

        return sorted(set(paths), key=key)

    def render(self, paths: Iterable[Path]) -> str:
        """``show configuration commands`` text for ``paths`` (sorted as the device sorts its tree)."""
        lines = []
        for path in self.canonical(paths):
            vi = self.value_index(path)
            words = [quote(w, self.quote_values) if i == vi else quote(w, False) for i, w in enumerate(path)]
            lines.append("set " + " ".join(words))
        return "\n".join(lines) + ("\n" if lines else "")
