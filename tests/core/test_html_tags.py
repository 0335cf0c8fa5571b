"""routerfix.transport.html._tags walks a parsed page exactly as BeautifulSoup's ``find_all`` does (same tags, same
order) on any markup, malformed included: nested forms, unclosed options, stray end tags."""

from __future__ import annotations

from bs4 import BeautifulSoup
from hypothesis import given, settings
from hypothesis import strategies as st

from routerfix.transport.html import _CONTROLS, _FORM, _OPTION, _tags, parse_forms

_PIECES = [
    "<form name=a>", "<form action='x.cgi'>", "</form>", "<input name=i value=1>",
    "<input name=c type=checkbox checked>",
    "<select name=s>", "</select>", "<option value=1>", "<option selected>two", "</option>", "<textarea name=t>",
    "</textarea>", "<button name=b>go</button>", "<table>", "</table>", "<tr><td>", "</td></tr>", "<div>", "</div>",
    "<p>", "text &amp; more", "<!-- c -->", "<script>var x='<form>';</script>", "<input/>", "<INPUT NAME=up disabled>",
    "<br>", "</input>", "<select>"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30))
def test_tags_are_what_find_all_gives(pieces: list[str]) -> None:
    soup = BeautifulSoup("".join(pieces), "html.parser")
    for names in (_FORM, _CONTROLS, _OPTION):
        assert [id(t) for t in _tags(soup, names)] == [id(t) for t in soup.find_all(sorted(names))]
        for node in soup.find_all("select"):
            assert [id(t) for t in _tags(node, names)] == [id(t) for t in node.find_all(sorted(names))]
    assert len(parse_forms("".join(pieces), "fuzz.htm")) == len(soup.find_all("form"))
