"""parse_forms reads forms without bs4 but gives exactly what the BeautifulSoup (``html.parser``) implementation it
replaced gives, for any markup: random markup from a grammar of the awkward cases, and every page the form-driven
web simulators serve. ``_reference_parse_forms`` is that implementation, kept here as the oracle."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from routerfix.errors import ParseError, RouterfixError
from routerfix.transport import _forms
from routerfix.transport.html import Form, FormField, parse_forms

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from forms import simulator_pages

_FORM = frozenset({"form"})
_CONTROLS = frozenset({"input", "select", "textarea", "button"})
_OPTION = frozenset({"option"})


def _tags(node: Any, names: frozenset[str]) -> Iterator[Any]:
    from bs4 import Tag

    return (el for el in node.descendants if isinstance(el, Tag) and el.name in names)


def _reference_parse_forms(html: str, page: str) -> list[Form]:
    """routerfix's parse_forms up to this change: a BeautifulSoup tree on ``html.parser``."""
    if not isinstance(html, str):
        raise ParseError(page, "not text")
    try:
        from bs4 import BeautifulSoup

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            soup = BeautifulSoup(html, "html.parser")
        forms: list[Form] = []
        for node in _tags(soup, _FORM):
            fields: list[FormField] = []
            for ctl in _tags(node, _CONTROLS):
                name = ctl.get("name")
                if not isinstance(name, str) or not name:
                    continue
                disabled = ctl.has_attr("disabled")
                if ctl.name == "select":
                    opts = list(_tags(ctl, _OPTION))
                    values = tuple(str(o.get("value", o.get_text())) for o in opts)
                    chosen = next((str(o.get("value", o.get_text())) for o in opts if o.has_attr("selected")),
                                  values[0] if values else "")
                    fields.append(FormField(name, "select", chosen, disabled=disabled, options=values))
                elif ctl.name == "textarea":
                    fields.append(FormField(name, "textarea", ctl.get_text(), disabled=disabled))
                else:
                    default_kind = "submit" if ctl.name == "button" else "text"
                    kind = str(ctl.get("type") or default_kind).lower()
                    value = ctl.get("value")
                    default_value = "on" if kind in ("checkbox", "radio") else ""
                    fields.append(FormField(name, kind, str(value) if value is not None else default_value,
                                            checked=ctl.has_attr("checked"), disabled=disabled))
            forms.append(Form(page=page, name=str(node.get("name") or node.get("id") or ""),
                              action=str(node.get("action") or ""), method=str(node.get("method") or "GET").upper(),
                              fields=tuple(fields)))
        return forms
    except RouterfixError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise ParseError(page, f"unreadable HTML ({type(exc).__name__})") from None


def _outcome(parse: Any, html: Any) -> list[Form] | str:
    """The forms, or the page a ParseError names (its detail names the exception behind it, which differs:
    bs4 wraps the tokenizer's ``AssertionError`` in its own ``ParserRejectedMarkup``)."""
    try:
        return list(parse(html, "p.htm"))
    except ParseError as exc:
        return f"ParseError {exc.source}"


def assert_same(html: Any) -> None:
    assert _outcome(parse_forms, html) == _outcome(_reference_parse_forms, html)


# The grammar: tag names (controls, containers, raw-text and whitespace-keeping elements, voids, upper case),
# attributes (duplicated, valueless, unquoted, with references), text (references, ASCII spaces, unicode).
_NAMES = ["form", "FORM", "input", "Input", "select", "option", "OPTION", "textarea", "button", "div", "p", "table",
          "tr", "td", "span", "pre", "br", "img", "hr", "meta", "script", "style", "template", "rt", "rp", "b", "label"]
_ATTR_NAMES = ["name", "NAME", "id", "value", "Value", "type", "action", "method", "checked", "selected",
               "disabled", "class"]
_ATTR_VALUES = ["a", "", "x.cgi?id=1&amp;b=2", "Post", "CHECKBOX", "radio", "hidden", "submit", "1", " s p ",
                "&lt;&#39;&#x41;&bogus;", "é😀", "&#150;&#0;&#xD800;"]
_TEXT = ["x", " ", "  ", "\n", " \n\t", "\r\x0c", "&amp;", "&lt;b&gt;", "&nbsp;", "&amp", "&unknown;", "&foo",
         "&#65;", "&#x42;", "&#X43;", "&#150;", "&#x9d;", "&#0;", "&#55296;", "&#1114112;", "&#9731", "&#x1g",
         "&#;", "&#a", "&", "<", "< b", "é", "\u00a0", "ü😀", ">", "]]>", "=", "'", '"', "/"]
_MARKUP = ["<!-- c -->", "<!---->", "<!-- <form name=hid> -->", "<!DOCTYPE html>", "<!doctype x>",
           "<![CDATA[ cd ]]>", "<![CDATA[]]>", "<![CDATA[  ]]>", "<?php echo 1 ?>", "<?xml version='1.0'?>",
           "<!x>", "<br/>", "<input/>", "<select/>", "<form/>", "<textarea/>", "</br>", "</input>", "</img>",
           "</>", "</ form>", "<//form>", "</form >", "<a b='>", "<input name=q", "<scr", "</", "<1>", "<!",
           "<!--", "<?", "<![if x]>", "<![endif]>", "<!DOCTYPE x [<!ELEMENT y>]>", "<![foo[ x ]]>"]


@st.composite
def _attr(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(_ATTR_NAMES))
    style = draw(st.sampled_from(["bare", "dq", "sq", "uq"]))
    if style == "bare":
        return name
    value = draw(st.one_of(st.sampled_from(_ATTR_VALUES), st.text(max_size=6)))
    if style == "dq":
        return f'{name}="{value.replace(chr(34), "")}"'
    if style == "sq":
        return f"{name}='{value.replace(chr(39), '')}'"
    return f"{name}={''.join(c for c in value if c not in ' >') or 'v'}"


_NAMED = frozenset({"form", "input", "select", "textarea", "button"})


@st.composite
def _tag(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(_NAMES))
    if draw(st.integers(0, 3)) == 0:
        return f"</{draw(st.sampled_from([name, 'form', 'select', 'option', 'textarea', 'pre', 'br', 'input']))}>"
    attrs = draw(st.lists(_attr(), max_size=4))
    if name.lower() in _NAMED and draw(st.integers(0, 3)):
        attrs.insert(0, f"name={draw(st.sampled_from(['a', 'b', 'c']))}")
    close = draw(st.sampled_from([">", ">", ">", ">", ">", "/>", " />"]))
    return f"<{' '.join([name, *attrs])}{close}"


_piece = st.one_of(_tag(), _tag(), _tag(), _tag(), st.sampled_from(_TEXT), st.sampled_from(_TEXT),
                   st.sampled_from(_MARKUP), st.text(max_size=8))
_HEADS = ["", "<form>", "<form name=f><select name=s>", "<form><textarea name=t>", "<form><select name=s><option>"]
_markup = st.builds(lambda head, body: head + "".join(body), st.sampled_from(_HEADS), st.lists(_piece, max_size=40))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_markup)
@example("<form><select name=s><option>a<option value=2 selected>b</select></form>")
@example("<form name=o><form name=i><input name=x></form><input name=y></form>")
@example("<form><textarea name=t> <b> x </b>&amp;<!--c--><![CDATA[ d ]]><script>s</script></textarea></form>")
@example("<form><select name=s><option> </option><option>\n</option><option><rt>r</rt></option></select></form>")
@example("<form><input name=a></input><input name=a value=1 value=2 checked></form>")
@example("<form><select name=s><option>&#150;&#0;&#x110000;&#55296;&#9731;&foo;&amp</select></form>")
@example("<form><textarea name=t>&#" + "9" * 5000 + ";</textarea></form>")
@example("<form><textarea name=t>x<![if x]>y</textarea></form>")
@example("<form><div><input name=a></form><input name=b>")
@example("<form><select name=a><select name=b><option>x</select><option>y</select></form>")
@example("<form><select name=s><option><br>  </br>x</select></form>")
@example("<form><br><select name=s></br></br><option>x</select></form>")
@example("<form><select name=s><option><pre> </pre> <textarea>\n</textarea></select></form>")
def test_same_forms_as_beautifulsoup(html: str) -> None:
    assert_same(html)


@pytest.mark.parametrize("html", [None, b"<form></form>", 3, ["<form>"]])
def test_not_text_is_a_parse_error_for_both(html: Any) -> None:
    assert_same(html)


def test_every_simulator_page_parses_the_same() -> None:
    """Every page the Netgear, Belkin and AT&T drivers read forms from in a mitigation and its undo."""
    pages = simulator_pages()
    assert len(pages) >= 15 and sum(bool(parse_forms(text, name)) for name, text in pages.items()) >= 10
    for name, text in pages.items():
        assert parse_forms(text, name) == _reference_parse_forms(text, name), name


def test_tables_match_the_installed_beautifulsoup() -> None:
    from bs4.builder import HTMLTreeBuilder
    from bs4.dammit import EntitySubstitution, UnicodeDammit

    builder = HTMLTreeBuilder()
    assert builder.empty_element_tags == _forms._VOID
    assert set(builder.string_containers) == _forms._OWN_TEXT
    assert builder.preserve_whitespace_tags == _forms._KEEP_SPACE
    assert EntitySubstitution.HTML_ENTITY_TO_CHARACTER == _forms._entities()
    for number in [*range(0x100), *range(0xD7F0, 0xE010), 0xFDD0, 0xFFFE, 0x10FFFF, 0x110000, 10**30]:
        assert _forms._charref(str(number))[0] == UnicodeDammit.numeric_character_reference(number)[0], number
