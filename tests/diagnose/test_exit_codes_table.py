"""The CLI's exit-code table (printed in --help) names diagnose's codes with the values diagnose returns."""

from __future__ import annotations

from routerfix.cli import EXIT_CODES
from routerfix.diagnose import EXIT_INSUFFICIENT, EXIT_SCAN_REACHING


def test_diagnose_exit_codes_are_in_the_cli_table() -> None:
    assert "scans" in EXIT_CODES[EXIT_SCAN_REACHING]
    assert "evidence" in EXIT_CODES[EXIT_INSUFFICIENT]
    assert sorted(EXIT_CODES) == list(range(len(EXIT_CODES)))
