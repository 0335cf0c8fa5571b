"""Human renderings of plans, results and device state: rich renderables for the terminal and
HTML tables for Jupyter. ``rich`` is imported only when something is rendered.

Text the device or the LAN controls (names, host names, vendor strings, warnings quoting them) is never read as
rich markup (``[/]``, ``[link=…]``) nor as HTML: every value goes in as a :class:`rich.text.Text` or through
:func:`html.escape`."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routerfix.model import DeviceState
    from routerfix.planner import Plan
    from routerfix.policy import Phone
    from routerfix.result import MitigationResult

__all__ = ["plan_renderable", "result_html", "result_renderable", "state_html", "state_renderable"]


def _state_rows(state: DeviceState, phones: tuple[Phone, ...]) -> list[tuple[str, str]]:
    rows = [("device", f"{state.facts.vendor} {state.facts.model} {state.facts.firmware}".strip())]
    rows.append(("NAT filtering", state.nat_mode.value if state.nat_mode else "no such setting"))
    rows.append(("SIP ALG", "no such setting" if state.sip_alg is None else ("on" if state.sip_alg else "off")))
    if state.scope is not None:
        rows.append(("LAN", f"{state.scope.network} gateway {state.scope.gateway}"))
        rows.append(("DHCP pool", ", ".join(map(str, state.scope.pools)) or "none"))
        for r in state.scope.reservations:
            rows.append(("reservation", f"{r.address} {r.mac} {r.name}".rstrip()))
    for f in state.forwards:
        rows.append(("forward", f.describe()))
    for lease in state.leases:
        rows.append(("lease", f"{lease.address} {lease.mac} {lease.hostname}".rstrip()))
    leased = {lease.address for lease in state.leases}
    for n in state.neighbours:
        if n.address not in leased:
            rows.append(("neighbour", f"{n.address} {n.mac} {n.hostname}".rstrip()))
    for p in phones:
        rows.append(("phone", f"{p.address} {p.mac} ({p.reason})"))
    return rows


def _plan_rows(plan: Plan) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if plan.sink is not None:
        rows.append(("sink", f"{plan.sink}: {plan.sink_reason}"))
    if plan.nat is not None:
        target = plan.nat.target.value if plan.nat.target else "unchanged"
        rows.append(("NAT decision", f"{target}: {plan.nat.reason}"))
    rows.append(("phones found", str(len(plan.phones))))
    for action in plan.actions:
        rows.append(("change", action.describe()))
    for v in plan.verdicts:
        rows.append(("VERDICT", f"{v.remedy.value}: {v.reason}"))
    return rows


def state_renderable(state: DeviceState, phones: tuple[Phone, ...] = ()) -> Any:
    """A rich table of the device state (``routerfix show``)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="device state", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in _state_rows(state, phones):
        table.add_row(Text(key), Text(value))
    return table


def _warning(text: str) -> Any:
    from rich.text import Text

    return Text.assemble(("warning: ", "yellow"), text)


def _diff_text(diff: str) -> Any:
    from rich.text import Text

    text = Text()
    for line in diff.splitlines():
        style = "green" if line.startswith("+") and not line.startswith("+++") else \
            "red" if line.startswith("-") and not line.startswith("---") else "dim"
        text.append(line + "\n", style=style)
    return text


def plan_renderable(plan: Plan) -> Any:
    """A rich rendering of a plan: decisions, changes, verdicts and the diff."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"{plan.operation} plan for {plan.host} ({plan.driver})"), show_header=False,
                  title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in _plan_rows(plan):
        table.add_row(Text(key), Text(value))
    parts: list[Any] = [table]
    diff = plan.diff()
    if diff:
        parts.append(Panel(_diff_text(diff), title="diff (read from the device → planned)", title_align="left"))
    parts += [_warning(w) for w in plan.warnings]
    return Group(*parts)


def result_renderable(result: MitigationResult) -> Any:
    """A rich rendering of a result: the plan plus what happened."""
    from rich.console import Group
    from rich.text import Text

    from routerfix.result import STATUSES, ResultStatus

    colour = {ResultStatus.PLANNED: "cyan", ResultStatus.VERDICT: "red"}.get(result.status, "green")
    lines: list[Any] = [plan_renderable(result.plan)]
    lines.append(Text.assemble((str(result.status), f"bold {colour}"), f": {STATUSES[result.status]} "
                               f"(changed={result.changed}, verified={result.verified})"))
    if not result.complete:
        lines.append(Text("incomplete: routerfix's rules are gone, but with no record and no undo marker on the "
                          "router what they replaced was not restored (see the warnings)", style="bold yellow"))
    if result.flushed is not None:
        lines.append(Text(f"connection tracking: {result.flushed} inbound SIP entries cleared"))
    if result.backup_file:
        lines.append(Text(f"backup written to {result.backup_file}"))
    if result.transport_security == "plain-http":
        lines.append(Text("the router only offers plain HTTP: credentials crossed the LAN unencrypted",
                          style="yellow"))
    lines += [_warning(note) for note in result.notes]
    return Group(*lines)


def _html_table(title: str, rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>"
                   f"{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table><caption style='text-align:left'><b>{html.escape(title)}</b></caption>{body}</table>"


def state_html(state: DeviceState, phones: tuple[Phone, ...] = ()) -> str:
    """An HTML table of the device state (Jupyter)."""
    return _html_table("device state", _state_rows(state, phones))


def result_html(result: MitigationResult) -> str:
    """An HTML rendering of a result (Jupyter): summary, plan rows, warnings and the diff."""
    rows = [("status", f"{result.status} (changed={result.changed}, verified={result.verified}"
                       f"{'' if result.complete else ', incomplete: nothing to restore from'})")]
    rows += _plan_rows(result.plan)
    rows += [("warning", w) for w in result.warnings]
    diff = result.diff
    pre = f"<pre>{html.escape(diff)}</pre>" if diff else ""
    return _html_table(f"{result.plan.operation} on {result.host} ({result.driver})", rows) + pre
