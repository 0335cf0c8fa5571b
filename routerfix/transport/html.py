"""Pages and HTML forms of web GUIs: untrusted input, parsed into small typed values. No vendor names here.

Any failure is a :class:`~routerfix.errors.ParseError` naming the page: :func:`parse_form`, :func:`find_token`
and :func:`js_vars` raise it when the page is not what was expected; :meth:`Form.build` refuses to build a body
that lacks a required field, so half a form is never posted. A :class:`Page` parses its HTML and its JavaScript
variables once, at first use, however often a driver asks for its forms.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from routerfix.errors import ParseError

if TYPE_CHECKING:
    from routerfix.transport._forms import RawControl

__all__ = [
    "Form",
    "FormField",
    "Page",
    "find_token",
    "js_vars",
    "page_text",
    "page_words",
    "parse_form",
    "parse_forms",
]


@dataclass(frozen=True)
class FormField:
    """One control of a form as the page delivered it."""

    name: str
    kind: str
    """``hidden``, ``text``, ``password``, ``checkbox``, ``radio``, ``select``, ``textarea``, ``submit``,
    ``button``, ``image``, ``reset``, ``file``..."""
    value: str
    checked: bool = False
    disabled: bool = False
    options: tuple[str, ...] = ()
    """For ``select``: the option values."""


_BUTTON_KINDS = frozenset({"submit", "button", "image", "reset"})


@dataclass(frozen=True)
class Form:
    """A parsed HTML form. ``action`` is as written in the page (relative, query and all)."""

    page: str
    name: str
    action: str
    method: str
    fields: tuple[FormField, ...]

    def names(self) -> set[str]:
        """Every control name in the form."""
        return {f.name for f in self.fields}

    def has(self, name: str) -> bool:
        """True when the form has a control called ``name``."""
        return any(f.name == name for f in self.fields)

    def hidden(self) -> dict[str, str]:
        """The hidden inputs (first value per name), disabled ones included."""
        out: dict[str, str] = {}
        for f in self.fields:
            if f.kind == "hidden":
                out.setdefault(f.name, f.value)
        return out

    def field(self, name: str) -> FormField:
        """The first control called ``name``; :class:`ParseError` if the page lacks it."""
        for f in self.fields:
            if f.name == name:
                return f
        raise ParseError(self.page, f"form {self.name or self.action!r} has no field {name!r}")

    def radio_values(self, name: str) -> tuple[str, ...]:
        """The values offered by radio buttons called ``name``."""
        return tuple(f.value for f in self.fields if f.name == name and f.kind == "radio")

    def values(self) -> dict[str, str]:
        """What a browser without JavaScript would submit: hidden, text, password, textarea, checked
        checkboxes and radios, each select's selected (or first) option; no disabled controls, no buttons."""
        out: dict[str, str] = {}
        for f in self.fields:
            if f.disabled or f.kind in _BUTTON_KINDS or f.kind == "file":
                continue
            if f.kind in ("checkbox", "radio") and not f.checked:
                continue
            out.setdefault(f.name, f.value)
        return out

    def require(self, *names: str) -> None:
        """Raise :class:`ParseError` naming the page unless every name is a control of the form."""
        missing = [n for n in names if not self.has(n)]
        if missing:
            raise ParseError(self.page, f"form {self.name or self.action!r} lacks {', '.join(missing)}: "
                                        f"not the page this driver knows (firmware changed?)")

    def build(self, changes: Mapping[str, str | None] | None = None, *, button: tuple[str, str] | None = None,
              base: Mapping[str, str] | None = None, extra: frozenset[str] | set[str] = frozenset()
              ) -> dict[str, str]:
        """The body to post: ``base`` (default :meth:`values`) with ``changes`` applied (``None`` removes a
        field) plus the submit ``button`` (name, value). Every changed name and the button must be controls
        of this form, or listed in ``extra`` (fields the page's JavaScript would add): otherwise
        :class:`ParseError`, so a half-understood form is never posted."""
        body = dict(self.values() if base is None else base)
        changes = dict(changes or {})
        known = self.names() | set(extra)
        unknown = [n for n in changes if n not in known]
        if button is not None and button[0] not in known:
            unknown.append(button[0])
        if unknown:
            raise ParseError(self.page, f"form {self.name or self.action!r} lacks {', '.join(unknown)}: not the "
                                        f"page this driver knows (firmware changed?)")
        for key, value in changes.items():
            if value is None:
                body.pop(key, None)
            else:
                body[key] = value
        if button is not None:
            body[button[0]] = button[1]
        return body


@dataclass(frozen=True)
class Page:
    """A fetched page: what a parser needs, and the name errors use."""

    name: str
    url: str
    status: int
    text: str = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    def form(self, name: str | None = None, *, action: str | None = None) -> Form:
        """The form called ``name`` (or whose action contains ``action``; or the only/first one)."""
        return _pick_form(self._forms, self.name, name=name, action=action)

    def forms(self) -> list[Form]:
        """Every form of the page."""
        return list(self._forms)

    def vars(self) -> dict[str, str]:
        """The page's JavaScript string/number variables (``var x = '...';``)."""
        return dict(self._vars)

    @cached_property
    def _forms(self) -> tuple[Form, ...]:
        return tuple(parse_forms(self.text, self.name))  # a ParseError is not cached: raised again on each call

    @cached_property
    def _vars(self) -> dict[str, str]:
        return js_vars(self.text)

    def token(self, pattern: str | re.Pattern[str]) -> str:
        """The first group of ``pattern`` in the page; :class:`ParseError` when absent."""
        return find_token(self.text, pattern, self.name)


def parse_forms(html: str, page: str) -> list[Form]:
    """Every form of ``html``. Untrusted input: any failure is a :class:`ParseError` naming ``page``."""
    if not isinstance(html, str):
        raise ParseError(page, "not text")
    from routerfix.transport._forms import read_forms

    try:
        raw_forms = read_forms(html)
    except Exception as exc:  # noqa: BLE001 - untrusted input: whatever the tokenizer trips on is a ParseError
        raise ParseError(page, f"unreadable HTML ({type(exc).__name__})") from None
    return [Form(page=page, name=raw.attrs.get("name") or raw.attrs.get("id") or "",
                 action=raw.attrs.get("action") or "", method=(raw.attrs.get("method") or "GET").upper(),
                 fields=tuple(_field(control) for control in raw.controls)) for raw in raw_forms]


def _field(control: RawControl) -> FormField:
    attrs = control.attrs
    disabled = "disabled" in attrs
    if control.tag == "select":
        values = tuple("".join(o.text) if o.value is None else o.value for o in control.options)
        chosen = next((v for v, o in zip(values, control.options, strict=True) if o.selected),
                      values[0] if values else "")
        return FormField(attrs["name"], "select", chosen, disabled=disabled, options=values)
    if control.tag == "textarea":
        return FormField(attrs["name"], "textarea", "".join(control.text), disabled=disabled)
    kind = (attrs.get("type") or ("submit" if control.tag == "button" else "text")).lower()
    value = attrs.get("value")
    if value is None:
        value = "on" if kind in ("checkbox", "radio") else ""
    return FormField(attrs["name"], kind, value, checked="checked" in attrs, disabled=disabled)


def parse_form(html: str, page: str, *, name: str | None = None, action: str | None = None) -> Form:
    """The form called ``name`` or whose action contains ``action`` (else the first); :class:`ParseError`
    naming ``page`` when there is none."""
    return _pick_form(parse_forms(html, page), page, name=name, action=action)


def _pick_form(forms: tuple[Form, ...] | list[Form], page: str, *, name: str | None, action: str | None) -> Form:
    for form in forms:
        if (name is None or form.name == name) and (action is None or action in form.action):
            return form
    wanted = f"form {name!r}" if name else (f"a form posting to {action!r}" if action else "a form")
    raise ParseError(page, f"no {wanted} in the page (an error page, a login page or another firmware?)")


def find_token(text: str, pattern: str | re.Pattern[str], page: str) -> str:
    """Group 1 (or the whole match) of ``pattern`` in ``text``; :class:`ParseError` naming ``page`` if absent."""
    if not isinstance(text, str):
        raise ParseError(page, "not text")
    match = re.search(pattern, text)
    if match is None:
        raise ParseError(page, "no session token in the page (logged out, or another firmware?)")
    return match.group(1) if match.groups() else match.group(0)


_JS_VAR_RE = re.compile(
    r"""\bvar\s+([A-Za-z_$][\w$]*)\s*=\s*(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|(-?\d+(?:\.\d+)?))\s*[;,\n]""")


def js_vars(text: str) -> dict[str, str]:
    """``var name = 'text'|"text"|123;`` assignments of a page (first one per name), escapes kept raw."""
    if not isinstance(text, str):
        return {}
    out: dict[str, str] = {}
    for m in _JS_VAR_RE.finditer(text):
        value = next(g for g in (m.group(2), m.group(3), m.group(4)) if g is not None)
        out.setdefault(m.group(1), value)
    return out


def page_text(body: bytes, charset: str | None) -> str:
    """``body`` decoded with the ``charset`` the device named (UTF-8 when it named none, or one Python does not know
    or cannot decode with, such as ``undefined`` or ``idna``); bytes that do not decode are replaced."""
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except (LookupError, ValueError):  # unknown, or a codec that is no text encoding for a page (UnicodeError)
        return body.decode("utf-8", errors="replace")


def page_words(text: str) -> str:
    """A short, clean excerpt of an error page (for DeviceError.device_message): the device's own words, tags
    stripped, at most 200 characters."""
    plain = re.sub(r"<script.*?</script>|<style.*?</style>", " ", text, flags=re.S | re.I)
    plain = re.sub(r"<[^>]*>", " ", plain)
    plain = re.sub(r"[\x00-\x1f\x7f]+", " ", plain)
    return re.sub(r"\s+", " ", plain).strip()[:200]
