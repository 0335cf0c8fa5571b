"""RouterOS string literals: the one way the driver writes a name or comment, and reads one back.

Facts relied on: docs/facts/mikrotik.md M43 (a string in double quotes; ``\\"``, ``\\\\``, ``\\$``, ``\\?``, ``\\n``,
``\\r``, ``\\t``, ``\\_``, ``\\a``, ``\\b``, ``\\f``, ``\\v`` and ``\\XX`` hex escapes; an unescaped ``$`` names a
variable, an unescaped ``?`` asks the console for help), M44 (what a print shows of a comment, so which names come
back byte for byte), M11 (v7 prints comments unquoted, first on the line).
"""

from __future__ import annotations

import re

from routerfix.errors import InvalidValue

__all__ = ["PROPERTY_NAME", "RESTORE_NAME_MAX", "decode_escapes", "ros_quote", "verbatim_name"]

_ESCAPES = str.maketrans({'"': '\\"', "\\": "\\\\", "$": "\\$", "?": "\\?"})
"""Characters a quoted string must escape (M43): the quote, the escape, variables, console help."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DECODE = {"n": "\n", "r": "\r", "t": "\t", "_": " ", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_HEX = re.compile(r"[0-9A-F]{2}")

RESTORE_NAME_MAX = 64
"""Longest customer name put back verbatim (routerfix's bound on the write line, not a device limit)."""
PROPERTY_NAME = r"[a-z][a-z0-9.\-]*"
"""A property's name as a print shows it before its ``=`` (M10, M11)."""
_KEY_AFTER_SPACE = re.compile(rf"\s{PROPERTY_NAME}=")
"""What ends an unquoted v7 value in a print (M11): a name holding it would read back cut short."""


def ros_quote(value: str) -> str:
    """``value`` as a RouterOS string literal (M43): in double quotes, ``"``, ``\\``, ``$`` and ``?`` escaped.
    Control characters are refused (:class:`InvalidValue`): nothing typed may act as a key on the console."""
    if _CONTROL.search(value):
        raise InvalidValue("value", value, "text without control characters")
    return '"' + value.translate(_ESCAPES) + '"'


def verbatim_name(name: str) -> str:
    """Return ``name`` when :func:`ros_quote` writes it and every print shows it back byte for byte, else raise
    :class:`InvalidValue` (the engine then puts the rule back under a device-safe name).

    Allowed: 1-:data:`RESTORE_NAME_MAX` printable ASCII characters (spaces, quotes, ``$``, ``\\``, ``?``, ``;``,
    brackets...). Refused: control characters and non-ASCII (M44: how a print shows them is not documented),
    surrounding spaces, a leading ``"`` and a space followed by ``word=`` (v7 prints the comment unquoted, M11, so
    these would read back differently)."""
    if not isinstance(name, str) or not 1 <= len(name) <= RESTORE_NAME_MAX or not name.isascii() \
            or not name.isprintable() or name != name.strip() or name.startswith('"') \
            or _KEY_AFTER_SPACE.search(name):
        raise InvalidValue("forward name", name, f"1-{RESTORE_NAME_MAX} printable ASCII characters, no surrounding "
                           "spaces, no leading quote, no ' word=' inside")
    return name


def decode_escapes(body: str) -> str:
    """The text of a quoted string's body (M43): ``\\XX`` hex escapes are bytes (UTF-8, bad bytes replaced), the
    letter escapes their characters, any other escaped character itself."""
    out: list[str] = []
    pending = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            pair = body[i + 1:i + 3]
            if _HEX.fullmatch(pair):
                pending.append(int(pair, 16))
                i += 3
                continue
            if pending:
                out.append(pending.decode("utf-8", "replace"))
                pending.clear()
            nxt = body[i + 1]
            out.append(_DECODE.get(nxt, nxt))
            i += 2
            continue
        if pending:
            out.append(pending.decode("utf-8", "replace"))
            pending.clear()
        out.append(ch)
        i += 1
    if pending:
        out.append(pending.decode("utf-8", "replace"))
    return "".join(out)
