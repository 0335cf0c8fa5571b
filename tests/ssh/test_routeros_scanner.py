"""The RouterOS simulator's scanners (regex runs, for speed) give exactly what the per-character loops they replaced
gave: statements, tokens, quoted strings, ``{...}`` blocks and syntax errors, on random console input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from routerfix.simulators.mikrotik import device
from routerfix.simulators.mikrotik.device import RouterOSError, Token

# --- the previous per-character implementations (simulators/mikrotik/device.py before the regex scanners) -------

_ESCAPED, _HEX, _VARIABLE = device._ESCAPED, device._HEX, device._VARIABLE  # unchanged tables and patterns


def _old_unquoted(text: str, start: int) -> Iterator[tuple[int, str]]:
    quoted, i = False, start
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        else:
            yield i, ch
        i += 1


def _old_split_statements(line: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    depth, start = 0, 0
    for i, ch in _old_unquoted(line, 0):
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth = max(0, depth - 1)
        elif ch == ";" and depth == 0:
            out.append((line[start:i], start))
            start = i + 1
    out.append((line[start:], start))
    return out


def _old_string(text: str, start: int, offset: int) -> tuple[str, int]:
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\\":
            pair = text[i + 1:i + 3]
            if _HEX.fullmatch(pair):
                out.append(chr(int(pair, 16)))
                i += 3
                continue
            if i + 1 >= len(text) or text[i + 1] not in _ESCAPED:
                raise RouterOSError(f"syntax error (line 1 column {offset + i + 1})")
            out.append(_ESCAPED[text[i + 1]])
            i += 2
            continue
        variable = _VARIABLE.match(text, i)
        if variable is not None:
            i = variable.end()
            continue
        if ch != "?":
            out.append(ch)
        i += 1
    raise RouterOSError(f"syntax error (line 1 column {offset + start + 1})")


def _old_tokens(text: str, offset: int) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        start = i
        buf: list[str] = []
        quoted = False
        depth = 0
        while i < len(text) and (depth or not text[i].isspace()):
            ch = text[i]
            if ch == '"':
                quoted = True
                value, end = _old_string(text, i, offset)
                buf.append(value if not depth else text[i:end])
                i = end
                continue
            if ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
            buf.append(ch)
            i += 1
        tokens.append(Token("".join(buf), offset + start + 1, quoted))
    return tokens


def _old_block(text: str, start: int, offset: int) -> tuple[str, int]:
    i = start
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text) or text[i] != "{":
        raise RouterOSError(f"syntax error (line 1 column {offset + i + 1})")
    depth = 0
    for j, ch in _old_unquoted(text, i):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j], j + 1
    raise RouterOSError(f"syntax error (line 1 column {offset + i + 1})")


# --- random console input: the characters the scanners treat specially, plus ordinary ones ------------------------

CONSOLE = st.text(st.sampled_from(list('ab =\t\n"\\[]{};$?_nA0F9-\u00a0é')), max_size=40)
"""Quotes, escapes (``\\n``, ``\\_``, ``\\A0``), variables, help keys, brackets, braces, separators, spaces of
several kinds (a non-breaking one too)."""


def _outcome(call: object, *args: object) -> object:
    try:
        return call(*args)  # type: ignore[operator]
    except RouterOSError as exc:
        return ("error", str(exc))


@settings(max_examples=600, deadline=None)
@given(CONSOLE, st.integers(0, 3))
def test_scanners_match_the_character_loops(text: str, offset: int) -> None:
    assert device._split_statements(text) == _old_split_statements(text)
    assert _outcome(device._tokens, text, offset) == _outcome(_old_tokens, text, offset)
    for start in (i for i, ch in enumerate(text) if ch == '"'):
        assert _outcome(device._string, text, start, offset) == _outcome(_old_string, text, start, offset)
    for start in range(len(text) + 1):
        assert _outcome(device._block, text, start, offset) == _outcome(_old_block, text, start, offset)


@pytest.mark.parametrize("text", [
    '/ip firewall nat add chain=dstnat comment="SIP \\"sink\\" \\41\\_$x?" to-addresses=192.168.88.250',
    ':foreach i in=[/ip firewall nat find where comment~"a;b"] do={ :put $i }; /quit',
    '[find ] x', 'a] b c', '"unterminated \\', 'x="\\Z"', ':do { :put "}" } on-error={}',
])
def test_known_lines(text: str) -> None:
    assert device._split_statements(text) == _old_split_statements(text)
    assert _outcome(device._tokens, text, 0) == _outcome(_old_tokens, text, 0)
    for start in range(len(text) + 1):
        assert _outcome(device._block, text, start, 0) == _outcome(_old_block, text, start, 0)
