"""Shell-like word splitting at C speed: exactly what :func:`shlex.split` and a posix :class:`shlex.shlex` return.

:mod:`shlex` reads one character per Python method call; on a router's whole configuration that costs more CPU than
the rest of the parse. Here one compiled regular expression finds every word (``findall``) and a second one unquotes
only the words holding a quote or a backslash. The rules are posix :mod:`shlex`'s:

- words are separated by runs of ``' '``, ``'\\t'``, ``'\\r'`` and ``'\\n'`` only (any other character, ``'\\x0b'``,
  ``'\\xa0'`` and NUL too, belongs to a word);
- ``'...'`` keeps its text as is; so does ``"..."``, except that ``\\\\`` and ``\\"`` lose their backslash (``\\$``,
  ``\\n`` and every other pair keep it); outside quotes a backslash escapes any character, a newline too;
- quoted and unquoted parts of a word are joined; an empty quoted word (``''``) is a word;
- an unclosed quote raises ``ValueError("No closing quotation")``, a backslash ending the text (outside single
  quotes) ``ValueError("No escaped character")``.
"""

from __future__ import annotations

import re
import shlex
from functools import lru_cache

__all__ = ["split", "split_operators"]

_WHITESPACE = " \t\r\n"
_SPECIALS = "'\"\\"
_BROKEN = ("'", '"', "\\")
"""The only one-character matches that are not words: an unclosed quote, a backslash ending the text."""
_PIECE = re.compile(r"""\\(.)|'([^']*)'|"((?:[^"\\]|\\.)*)\"""", re.DOTALL)
_ESCAPED_IN_DOUBLE = re.compile(r'\\([\\"])')
_DOUBLE_ENDING_IN_ESCAPE = re.compile(r'"(?:[^"\\]|\\.)*\\', re.DOTALL)


def _pattern(operators: str, comments: bool) -> re.Pattern[str]:
    """Words, runs of ``operators``, ``#`` comments (when ``comments``), else one broken special character."""
    plain = "[^" + re.escape(_WHITESPACE + _SPECIALS + operators + ("#" if comments else "")) + "]+"
    alternatives = [rf"""(?:{plain}|\\.|'[^']*'|"(?:[^"\\]|\\.)*")+"""]
    if operators:
        alternatives.append("[" + re.escape(operators) + "]+")
    if comments:
        alternatives.append("#[^\n]*")
    alternatives.append("[" + re.escape(_SPECIALS) + "]")
    return re.compile("|".join(alternatives), re.DOTALL)


_WORDS = _pattern("", comments=False)


def _resolve(piece: re.Match[str]) -> str:
    escaped, single, double = piece.groups()
    if escaped is not None:
        return str(escaped)
    if single is not None:
        return str(single)
    return _ESCAPED_IN_DOUBLE.sub(r"\1", double) if "\\" in double else str(double)


def _unquoted(word: str) -> str:
    """One matched word holding a quote or a backslash, its quotes and escapes resolved."""
    if word[0] == "'" and word.find("'", 1) == len(word) - 1:
        return word[1:-1]  # the usual quoted value: '...' alone
    return _PIECE.sub(_resolve, word)


def _broken(pattern: re.Pattern[str], text: str) -> ValueError:
    """The error :mod:`shlex` raises for the first broken piece of ``text`` (it reaches to the end of the text)."""
    match = next(m for m in pattern.finditer(text) if m.group() in _BROKEN)
    if match.group() == "\\" or (match.group() == '"' and _DOUBLE_ENDING_IN_ESCAPE.fullmatch(text, match.start())):
        return ValueError("No escaped character")
    return ValueError("No closing quotation")


def split(text: str) -> list[str]:
    """The words of ``text``: exactly ``shlex.split(text)`` (posix, no comments), ``ValueError`` included."""
    found = _WORDS.findall(text)
    if "'" not in text and '"' not in text and "\\" not in text:
        return found
    if "'" in found or '"' in found or "\\" in found:
        raise _broken(_WORDS, text)
    return [word if "'" not in word and '"' not in word and "\\" not in word else _unquoted(word) for word in found]


@lru_cache(maxsize=8)
def _operator_pattern(operators: str) -> re.Pattern[str]:
    return _pattern(operators, comments=True)


def split_operators(text: str, operators: str = ";&|") -> list[str]:
    """The words and operators of ``text``: exactly ``list(lexer)`` of
    ``shlex.shlex(text, posix=True, punctuation_chars=operators)`` with ``lexer.whitespace_split = True``.

    As there, ``#`` starts a comment up to the end of the line, inside a word too (``a#b`` is ``['a']``), and a run
    of operator characters is one token (``a;;|b`` is ``['a', ';;|', 'b']``). ``operators`` holding whitespace, a
    quote, a backslash or ``#`` (where :mod:`shlex`'s rules overlap) are left to :mod:`shlex` itself.
    """
    if any(c in _WHITESPACE + _SPECIALS + "#" for c in operators):
        lexer = shlex.shlex(text, posix=True, punctuation_chars=operators)
        lexer.whitespace_split = True
        return list(lexer)
    pattern = _operator_pattern(operators)
    found = pattern.findall(text)
    if "'" in found or '"' in found or "\\" in found:
        raise _broken(pattern, text)
    return [word if "'" not in word and '"' not in word and "\\" not in word else _unquoted(word)
            for word in found if word[0] != "#"]
