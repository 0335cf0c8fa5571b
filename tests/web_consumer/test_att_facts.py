"""AT&T BGW gateways: behaviours of ``docs/facts/att.md`` the driver must meet."""

from __future__ import annotations

import pytest
from routerfix.drivers.att import parser as att

from routerfix.simulate import simulate

from .helpers import connect


@pytest.mark.parametrize("cell", ["th", "td"])
def test_sysinfo_is_read_whether_labels_are_th_or_td(cell: str) -> None:
    """facts: att A3, A4 — clients of real gateways read the value as the second cell of the row, th or td."""
    with simulate("att", model="BGW320-505") as dev:
        dev.handle.label_cell = cell
        with connect(dev) as router:
            facts = router.facts()
        assert (facts.model, facts.firmware) == ("BGW320-505", "4.27.7")


def test_sysinfo_parser_reads_label_cells_of_either_kind() -> None:
    html = ("<table class='table60'><tr><td>Manufacturer</td><td>Humax</td></tr>"
            "<tr><td>Model Number</td><td>BGW320-500</td></tr><tr><td>Software Version</td><td>6.30.5</td></tr>"
            "</table>")
    facts = att.parse_sysinfo(html)
    assert (facts.vendor, facts.model, facts.firmware) == ("Humax", "BGW320-500", "6.30.5")
