"""The simulator's own model of a Vyatta-family configuration tree (it shares no code with the drivers' parser).

A configuration is a set of paths (tuples of words, the value last). A :class:`Schema` says which nodes exist (from
the interface definitions named in docs/facts/vyos.md and docs/facts/edgeos.md), which words are values, and how
``show configuration commands`` prints them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from routerfix.words import split

__all__ = ["FLAG", "LEAF", "MULTI", "Path", "Schema", "Tag", "group", "seed"]

Path = tuple[str, ...]

LEAF = "leaf"
"""A node holding one value."""
MULTI = "multi"
"""A node holding several values."""
FLAG = "flag"
"""A valueless node (``disable``)."""


@dataclass(frozen=True)
class Tag:
    """A tag node: any name matching ``pattern``, followed by the children in ``sub``."""

    sub: Node
    pattern: str = r"[\w.:/-]+"
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)
    """``pattern`` compiled once."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))


Node: TypeAlias = str | Tag | Mapping[str, "Node"]


def seed(text: str) -> list[Path]:
    """Paths from ``set`` lines (starting configurations); other lines are ignored."""
    paths: list[Path] = []
    for line in text.strip().split("\n"):
        words = split(line)
        if words[:1] == ["set"] and len(words) > 1:
            paths.append(tuple(words[1:]))
    return paths


def group(paths: Iterable[Path], prefix: Path) -> dict[str, dict[Path, list[str]]]:
    """The paths under ``prefix + (<tag>,)`` by tag: {sub-path without its last word: [last words]}."""
    table: dict[str, dict[Path, list[str]]] = {}
    n = len(prefix)
    for path in paths:
        if len(path) > n and path[:n] == prefix:
            rest = path[n + 1:]
            entry = table.setdefault(path[n], {})
            if rest:
                entry.setdefault(rest[:-1], []).append(rest[-1])
    return table


_BARE = re.compile(r"[\w.:/@+,-]+")
"""A word printed without quotes (when it is not a value VyOS quotes anyway)."""


class Schema:
    """The configuration nodes a simulated device accepts, and how it prints them."""

    def __init__(self, root: Mapping[str, Node], *, quote_values: bool) -> None:
        self.root = root
        self.quote_values = quote_values
        """VyOS prints every leaf value quoted; EdgeOS only values that need it."""

    def check(self, words: Path) -> tuple[int, str]:
        """``(-1, kind)`` when ``words`` is a valid path (kind of its last node: leaf/multi/flag/node), else
        ``(index, "")`` of the first word that is not valid."""
        node: Node = self.root
        for i, word in enumerate(words):
            if isinstance(node, Tag):
                if not node.regex.fullmatch(word):
                    return i, ""
                node = node.sub
            elif isinstance(node, str):
                return (-1, node) if node in (LEAF, MULTI) and i == len(words) - 1 else (i, "")
            elif word in node:
                node = node[word]
            else:
                return i, ""
        if isinstance(node, str):
            return (-1, node) if node == FLAG else (len(words), "")
        return -1, "node"

    def value_index(self, path: Path) -> int:
        """Index of the value word in ``path`` (-1 when the path ends in a node or flag)."""
        index, kind = self.check(path)
        return len(path) - 1 if index == -1 and kind in (LEAF, MULTI) else -1

    @staticmethod
    def canonical(paths: Iterable[Path]) -> list[Path]:
        """``paths`` as the device holds its tree: each once, numbers numerically, words alphabetically."""
        def key(path: Path) -> tuple[tuple[int, int, str], ...]:
            return tuple((0, int(w), "") if w.isdecimal() else (1, 0, w) for w in path)

        return sorted(set(paths), key=key)

    def _word(self, word: str, value: bool) -> str:
        if (value and self.quote_values) or not _BARE.fullmatch(word):
            return "'" + word.replace("'", "'\\''") + "'"
        return word

    def render(self, paths: Iterable[Path]) -> str:
        """``show configuration commands`` for ``paths``."""
        lines = []
        for path in self.canonical(paths):
            vi = self.value_index(path)
            lines.append("set " + " ".join(self._word(w, i == vi) for i, w in enumerate(path)))
        return "".join(line + "\n" for line in lines)
