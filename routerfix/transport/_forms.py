"""The forms of an HTML page, read in one pass of the standard library's tokenizer, without building a tree.

What it returns is what a BeautifulSoup tree built on ``html.parser`` (bs4 4.x) gives for the same markup, malformed
markup included, because the drivers' form handling was written against that: an end tag closes the most recent open
tag of its name (every tag opened after it too) and is ignored when none is open; void elements (``input``, ``br``...)
close at once and swallow one later stray end tag of their name; nothing else closes implicitly (an ``option`` holds
the next ``option``, a ``form`` inside a ``form`` belongs to both); the last of duplicate attributes wins, a valueless
one is ``""``; character references follow the HTML numeric rules (0, surrogates and beyond U+10FFFF give U+FFFD;
0x80-0x9F are read as Windows-1252) and an unknown ``&name;`` stays ``&name`` (its ``;`` dropped); a run of text made
only of ASCII spaces shrinks to one newline or space outside ``pre``/``textarea``; an element's text leaves out
comments, declarations, processing instructions and the text of ``script``, ``style``, ``template``, ``rt`` and
``rp``, but keeps CDATA sections. ``tests/core/test_html_forms_differential.py`` checks all of it against bs4 on
random markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser

__all__ = ["RawControl", "RawForm", "RawOption", "read_forms"]

_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "menuitem", "meta",
                   "param", "source", "track", "wbr", "basefont", "bgsound", "command", "frame", "image", "isindex",
                   "nextid", "spacer"})
"""Elements closed as soon as they open (an empty-element tag in bs4's HTML tree builder)."""
_OWN_TEXT = frozenset({"script", "style", "template", "rt", "rp"})
"""Elements whose text is not part of an enclosing element's text."""
_KEEP_SPACE = frozenset({"pre", "textarea"})
_COLLECTED = frozenset({"form", "option", "input", "select", "textarea", "button"})
_SPACES = " \n\t\f\r"
_WINDOWS_1252 = {n: bytes([n]).decode("cp1252") for n in range(0x80, 0xA0) if n not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}
_LEADING_DECIMAL = re.compile("^([0-9]+)(.*)")
_LEADING_HEX = re.compile("^([0-9a-f]+)(.*)")


@dataclass
class RawOption:
    """An ``option`` as parsed: its ``value`` attribute (``None`` when absent), ``selected``, its text pieces."""

    value: str | None
    selected: bool
    text: list[str] = field(default_factory=list)


@dataclass
class RawControl:
    """A named ``input``, ``select``, ``textarea`` or ``button``: its attributes, and its options or text pieces."""

    tag: str
    attrs: dict[str, str]
    options: list[RawOption] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


@dataclass
class RawForm:
    """A ``form``: its attributes and every named control below it, in document order."""

    attrs: dict[str, str]
    controls: list[RawControl] = field(default_factory=list)


class _Open:
    """An open element and what it collects while open."""

    __slots__ = ("form", "name", "options", "text")

    def __init__(self, name: str) -> None:
        self.name = name
        self.form: RawForm | None = None
        self.options: list[RawOption] | None = None
        self.text: list[str] | None = None


@cache
def _entities() -> dict[str, str]:
    """The named character references, with or without their ``;``."""
    from html.entities import html5

    table: dict[str, str] = {}
    for key, value in sorted(html5.items()):
        table.setdefault(key.removesuffix(";"), value)
    return table


def _charref(name: str) -> tuple[str, str]:
    """The character of a numeric reference (``123`` or ``x7b``) and any text the tokenizer passed with it."""
    base, pattern = (16, _LEADING_HEX) if name[:1] in "xX" else (10, _LEADING_DECIMAL)
    digits = name[1:] if base == 16 else name
    try:
        number = int(digits, base)
    except ValueError:
        match = pattern.search(digits)
        if match is None:
            return "", digits
        number, rest = int(match.group(1), base), match.group(2)
    else:
        rest = ""
    if number == 0 or number > 0x10FFFF or 0xD800 <= number <= 0xDFFF:
        return "\ufffd", rest
    return _WINDOWS_1252.get(number) or chr(number), rest


class _FormReader(HTMLParser):
    """Tokenizer callbacks that keep only the open-element stack and the forms being read."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.forms: list[RawForm] = []
        self._stack: list[_Open] = []
        self._open_count: dict[str, int] = {}
        self._closed_voids: list[str] = []
        self._data: list[str] = []
        self._open_forms: list[RawForm] = []
        self._open_selects: list[list[RawOption]] = []
        self._open_texts: list[list[str]] = []
        self._own_text = 0
        self._keep_space = 0

    def _flush(self, cdata: bool = False) -> None:
        """End the current run of text: it becomes one string of every open option and textarea."""
        data = self._data
        if not data:
            return
        self._data = []
        if not self._open_texts or (self._own_text and not cdata):
            return
        text = "".join(data)
        if not self._keep_space and not text.strip(_SPACES):
            text = "\n" if "\n" in text else " "
        for pieces in self._open_texts:
            pieces.append(text)

    def _push(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flush()
        el = _Open(tag)
        if tag in _OWN_TEXT:
            self._own_text += 1
        elif tag in _KEEP_SPACE:
            self._keep_space += 1
        if tag in _COLLECTED:
            self._begin(el, {key: "" if value is None else value for key, value in attrs})
        self._stack.append(el)
        self._open_count[tag] = self._open_count.get(tag, 0) + 1

    def _begin(self, el: _Open, attrs: dict[str, str]) -> None:
        tag = el.name
        if tag == "form":
            el.form = RawForm(attrs)
            self.forms.append(el.form)
            self._open_forms.append(el.form)
        elif tag == "option":
            if self._open_selects:
                option = RawOption(attrs.get("value"), "selected" in attrs)
                for options in self._open_selects:
                    options.append(option)
                if option.value is None:
                    el.text = option.text
        else:
            if not self._open_forms or not attrs.get("name"):
                return
            control = RawControl(tag, attrs)
            for form in self._open_forms:
                form.controls.append(control)
            if tag == "select":
                el.options = control.options
            elif tag == "textarea":
                el.text = control.text
        if el.options is not None:
            self._open_selects.append(el.options)
        if el.text is not None:
            self._open_texts.append(el.text)

    def _pop_to(self, tag: str) -> None:
        if not self._open_count.get(tag):
            return
        while True:
            el = self._stack.pop()
            self._open_count[el.name] -= 1
            if el.form is not None:
                self._open_forms.pop()
            if el.options is not None:
                self._open_selects.pop()
            if el.text is not None:
                self._open_texts.pop()
            if el.name in _OWN_TEXT:
                self._own_text -= 1
            elif el.name in _KEEP_SPACE:
                self._keep_space -= 1
            if el.name == tag:
                return

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._push(tag, attrs)
        if tag in _VOID:
            self._pop_to(tag)
            self._closed_voids.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._push(tag, attrs)
        self._pop_to(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._closed_voids:
            self._closed_voids.remove(tag)
            return
        self._flush()
        self._pop_to(tag)

    def handle_data(self, data: str) -> None:
        self._data.append(data)

    def handle_charref(self, name: str) -> None:
        self._data.extend(_charref(name))

    def handle_entityref(self, name: str) -> None:
        self._data.append(_entities().get(name) or "&" + name)

    def handle_comment(self, data: str) -> None:
        self._flush()

    def handle_decl(self, decl: str) -> None:
        self._flush()

    def handle_pi(self, data: str) -> None:
        self._flush()

    def unknown_decl(self, data: str) -> None:
        self._flush()
        if data.upper().startswith("CDATA["):
            self._data.append(data[6:])
            self._flush(cdata=True)

    def finish(self) -> list[RawForm]:
        self.close()
        self._flush()
        return self.forms


def read_forms(html: str) -> list[RawForm]:
    """Every form of ``html`` in document order, with its named controls. Raises what the tokenizer raises on
    markup it rejects (``AssertionError`` for some ``<!`` declarations) and ``ValueError`` for a decimal character
    reference longer than Python's integer-string limit."""
    reader = _FormReader()
    reader.feed(html)
    return reader.finish()
