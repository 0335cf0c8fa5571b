"""The Linux simulator's bash statement splitter (one regex scan, for speed) splits exactly as the per-character loop
it replaced, on random shell input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from routerfix.simulators.linux.device import _split_statements


def _old_split_statements(line: str) -> list[str]:
    """simulators/linux/device.py before the regex scan: the reference."""
    parts: list[str] = []
    quote = ""
    start = 0
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "\\":
            i += 1
        elif ch == ";":
            parts.append(line[start:i])
            start = i + 1
        i += 1
    parts.append(line[start:])
    return parts


@settings(max_examples=800, deadline=None)
@given(st.text(st.sampled_from(list("ab ;'\"\\\n$")), max_size=40))
def test_split_matches_the_character_loop(line: str) -> None:
    assert _split_statements(line) == _old_split_statements(line)


def test_known_lines() -> None:
    for line in ("nft -f /tmp/x; echo \"a;b\\\";c\"; printf '%s;' 'x\\'; true", "a\\;b;c", "'x;", '"y\\', "a;"):
        assert _split_statements(line) == _old_split_statements(line)
