"""``import routerfix`` (and ``import routerfix.diagnose``) must not load the pcap library."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["routerfix", "routerfix.diagnose", "routerfix.cli"])
def test_import_does_not_load_dpkt(module: str) -> None:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True,
                          text=True, timeout=60, check=True)
    loaded = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line]
    assert module in loaded
    assert not [name for name in loaded if name == "dpkt" or name.startswith("dpkt.")]
