"""Show a :class:`~routerfix.diagnose.report.Diagnosis` in a terminal (rich) and in a notebook (HTML).

Every string that came from the evidence is shown as plain text: rich ``Text`` objects (never markup) with
control characters replaced, and ``html.escape`` in HTML."""

from __future__ import annotations

import html as _html
import re
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routerfix.diagnose.report import Diagnosis, ScanSource

__all__ = ["clean", "html", "renderable"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(value: object) -> str:
    """``value`` as text with control and bidi-override characters replaced by '?'."""
    return _CONTROL.sub("?", str(value))


def _when(value: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(value)) + " UTC" if value is not None else "-"


def _span(first: float | None, last: float | None) -> str:
    if first is None or last is None:
        return "-"
    return f"{_when(first)} .. {_when(last)} ({last - first:.1f} s)"


def _rows(diagnosis: Diagnosis) -> list[tuple[str, str]]:
    rows = [("verdict", str(diagnosis.verdict)), ("summary", diagnosis.summary), ("next step", diagnosis.next_step),
            ("time span", _span(diagnosis.first, diagnosis.last)),
            ("phones", ", ".join(diagnosis.site.phones) or "-"),
            ("provider", ", ".join(diagnosis.site.providers) or "-"),
            *([("sink", ", ".join(diagnosis.site.sinks))] if diagnosis.site.sinks else []),
            ("requests", ", ".join(f"{k} {v}" for k, v in diagnosis.classes.items()) or "none")]
    if diagnosis.site.provider_caller_ids:
        rows.append(("provider caller IDs", ", ".join(diagnosis.site.provider_caller_ids)))
    if diagnosis.capture:
        taken = diagnosis.capture
        sides = ", ".join(f"{s['side']} {s['interface']} ({s['note'] or str(s['bytes']) + ' bytes'})"
                          for s in taken["sides"])
        left = "nothing left on the router" if taken["removed_from_device"] else "; ".join(taken["notes"])
        rows.append(("live capture", f"{taken['seconds']:g} s on {taken['host']} ({taken['driver']}): {sides}; {left}"))
    return rows


def _scanner_rows(source: ScanSource) -> list[tuple[str, str]]:
    return [("requests", f"{source.requests} ({source.reached} reached a phone, {source.blocked} went nowhere)"),
            ("methods", ", ".join(f"{m} {n}" for m, n in sorted(source.methods.items()))),
            ("transports", ", ".join(source.transports) or "-"),
            ("User-Agent", ", ".join(source.user_agents) or "-"),
            ("caller IDs", ", ".join(source.caller_ids) or "-"),
            ("targets", ", ".join(source.targets) or "-"),
            ("marks", "; ".join(source.indicators) or "-"),
            ("time span", _span(source.first, source.last)),
            ("sample requests", "\n".join(source.samples[:4]))]


MAX_SOURCES_SHOWN = 10
"""The terminal and HTML views list this many sources (the JSON lists all)."""


def _files_line(diagnosis: Diagnosis) -> str:
    parts = []
    for item in diagnosis.files:
        state = f"error: {item.error}" if item.error else (
            f"{item.packets} records, {item.sip_messages} SIP" + (", cut at byte limit" if item.cut_at_byte_limit
                                                                 else ""))
        parts.append(f"{item.path} ({item.kind}: {state})")
    limits = ", ".join(f"{k}={v}" for k, v in diagnosis.limits.items())
    reached = f"; limits reached: {', '.join(diagnosis.limits_reached)}" if diagnosis.limits_reached else ""
    return f"read {'; '.join(parts)}. Limits {limits}{reached}"


def renderable(diagnosis: Diagnosis) -> Any:
    """A rich renderable: the verdict table, the scanners table, and what was read."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    colour = {"scan-reaching-phone": "bold red", "scan-arriving-blocked": "green", "no-scan": "green"}
    head = Table(show_header=False, title=Text("routerfix diagnose"), title_justify="left")
    head.add_column(style="bold")
    head.add_column()
    for name, value in _rows(diagnosis):
        style = colour.get(str(diagnosis.verdict), "yellow") if name == "verdict" else ""
        head.add_row(Text(name), Text(clean(value), style=style))
    parts: list[Any] = [head]
    for source in diagnosis.scanners[:MAX_SOURCES_SHOWN]:
        table = Table(show_header=False, title=Text(clean(f"requests from elsewhere: {source.address}")),
                      title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        for name, value in _scanner_rows(source):
            table.add_row(Text(name), Text(clean(value)))
        parts.append(table)
    if len(diagnosis.scanners) > MAX_SOURCES_SHOWN:
        parts.append(Text(f"... and {len(diagnosis.scanners) - MAX_SOURCES_SHOWN} more sources (see --json)"))
    parts.append(Text(clean(_files_line(diagnosis)), style="dim"))
    return Group(*parts)


def html(diagnosis: Diagnosis) -> str:
    """The same as :func:`renderable`, as HTML for notebooks (everything escaped)."""
    def esc(value: object) -> str:
        return _html.escape(clean(value)).replace("\n", "<br>")

    out = ["<div class='routerfix-diagnose'><table>"]
    out += [f"<tr><th style='text-align:left'>{esc(k)}</th><td style='text-align:left'>{esc(v)}</td></tr>"
            for k, v in _rows(diagnosis)]
    out.append("</table>")
    for source in diagnosis.scanners[:MAX_SOURCES_SHOWN]:
        out.append(f"<table><caption style='text-align:left'>{esc('requests from elsewhere: ' + source.address)}"
                   "</caption>")
        out += [f"<tr><th style='text-align:left'>{esc(k)}</th><td style='text-align:left'>{esc(v)}</td></tr>"
                for k, v in _scanner_rows(source)]
        out.append("</table>")
    out.append(f"<p><small>{esc(_files_line(diagnosis))}</small></p></div>")
    return "".join(out)
