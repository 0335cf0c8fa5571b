"""Parsers for AT&T BGW210/BGW320 gateway pages (``/cgi-bin/*.ha``); facts: ``docs/facts/att.md``.

``sysinfo.ha`` is a label/value table (A3): the label is the row's first cell, ``th`` or ``td`` (A4), the value
the next one. Errors are shown in ``<div id="error-message-text">`` (A9). Only
:class:`routerfix.errors.ParseError` leaves these parsers.
"""

from __future__ import annotations

import re
import warnings

from routerfix.errors import ParseError
from routerfix.model import DeviceFacts

__all__ = ["SUPPORTED_MODELS", "error_text", "parse_sysinfo"]

SUPPORTED_MODELS = ("BGW210", "BGW320")
"""Model prefixes this driver recognises."""


def _cells(html: str, page: str) -> dict[str, str]:
    try:
        from bs4 import BeautifulSoup

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            soup = BeautifulSoup(html, "html.parser")
        out: dict[str, str] = {}
        for row in soup.find_all("tr"):
            cells = row.find_all(["th", "td"], recursive=False)
            if len(cells) >= 2:
                out.setdefault(" ".join(cells[0].get_text().split()), " ".join(cells[1].get_text().split()))
        return out
    except Exception as exc:  # noqa: BLE001 - untrusted input: whatever bs4 trips on is a ParseError
        raise ParseError(page, f"unreadable HTML ({type(exc).__name__})") from None


def parse_sysinfo(html: str, page: str = "sysinfo.ha") -> DeviceFacts:
    """Manufacturer, model and software version from the system information table."""
    if not isinstance(html, str):
        raise ParseError(page, "not text")
    cells = _cells(html, page)
    model = cells.get("Model Number", "")
    if not model:
        raise ParseError(page, "no 'Model Number' in the system information (not an AT&T BGW gateway?)")
    return DeviceFacts(cells.get("Manufacturer", "AT&T") or "AT&T", model, cells.get("Software Version", ""))


def error_text(html: str) -> str:
    """The text of ``<div id="error-message-text">``, or ``""``."""
    m = re.search(r'<div[^>]*id="error-message-text"[^>]*>(.*?)</div>', html, re.S | re.I)
    return " ".join(re.sub(r"<[^>]+>", " ", m.group(1)).split()) if m else ""
