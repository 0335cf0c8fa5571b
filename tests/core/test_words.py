"""routerfix.words gives exactly what shlex gives: the same words, or a ValueError with the same message."""

from __future__ import annotations

import shlex
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routerfix.words import split, split_operators

EXAMPLES = 1500
"""Per property; checked once locally with 20,000."""

HARD = "'\"\\ \t\n\r;&|#$"
ODD = "\x0b\x0c\xa0\x00\x85\u2028é日-^]()<>"
TEXT = st.text(st.sampled_from(list(HARD * 3 + "ab09" + ODD)) | st.characters(), max_size=40)
OPERATORS = st.sampled_from([";&|", "", "|", "();<>|&", "-]^", "a;", "#;", "'|", " ;", "\\&"])


def outcome(function: Callable[..., list[str]], *args: str) -> list[str] | str:
    """The words, or the ValueError's message."""
    try:
        return function(*args)
    except ValueError as exc:
        return f"ValueError: {exc}"


def shlex_operators(text: str, operators: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=operators)
    lexer.whitespace_split = True
    return list(lexer)


@settings(max_examples=EXAMPLES)
@given(TEXT)
def test_split_is_shlex_split(text: str) -> None:
    assert outcome(split, text) == outcome(shlex.split, text)


@settings(max_examples=EXAMPLES)
@given(TEXT, OPERATORS)
def test_split_operators_is_shlex_with_punctuation(text: str, operators: str) -> None:
    assert outcome(split_operators, text, operators) == outcome(shlex_operators, text, operators)


@pytest.mark.parametrize(("line", "words"), [
    # VyOS `show configuration commands` quotes every value (docs/facts/vyos.md)
    ("set interfaces ethernet eth0 description 'NAS https'",
     ["set", "interfaces", "ethernet", "eth0", "description", "NAS https"]),
    ("set system login user vyos authentication encrypted-password '$6$rounds=656000$W1n2'",
     ["set", "system", "login", "user", "vyos", "authentication", "encrypted-password", "$6$rounds=656000$W1n2"]),
    # EdgeOS leaves plain values bare (docs/facts/edgeos.md)
    ("set service nat rule 5010 inbound-interface eth0",
     ["set", "service", "nat", "rule", "5010", "inbound-interface", "eth0"]),
    # OpenWrt `uci show` list value, and a quote inside a value as uci prints it (docs/facts/openwrt.md)
    ("'a' 'b'", ["a", "b"]),
    ("'it'\\''s'", ["it's"]),
    ("a ''", ["a", ""]),
    ('"a\\$b\\\\c\\"d\\n"', ["a\\$b\\c\"d\\n"]),
    ("a\x0bb\xa0c\x00 d", ["a\x0bb\xa0c\x00", "d"]),
])
def test_pinned_lines(line: str, words: list[str]) -> None:
    assert split(line) == words == shlex.split(line)


@pytest.mark.parametrize(("text", "message"), [
    ("set x 'open", "No closing quotation"), ('"a\\"', "No closing quotation"), ("'a\\", "No closing quotation"),
    ("a\\", "No escaped character"), ('"a\\', "No escaped character"),
])
def test_broken_text_raises_like_shlex(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split(text)
    with pytest.raises(ValueError, match=message):
        shlex.split(text)


def test_operators_and_comments_as_the_openwrt_shell_reads_them() -> None:
    line = "uci set a.b='x;y' && uci commit||echo fail;#note\nreboot"
    assert split_operators(line) == ["uci", "set", "a.b=x;y", "&&", "uci", "commit", "||", "echo", "fail", ";",
                                     "reboot"] == shlex_operators(line, ";&|")
