"""Simulators are plugins found through the ``routerfix.simulators`` entry-point group."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

import routerfix
from routerfix.errors import UnsupportedOperation
from routerfix.simulate import ENTRY_POINT_GROUP, simulate, simulators


def test_every_builtin_driver_ships_a_simulator_under_routerfix_simulators() -> None:
    assert set(simulators()) == set(routerfix.list_drivers())
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        assert ep.value.startswith("routerfix.simulators."), ep


def test_listing_simulators_imports_none_of_them() -> None:
    code = ("import sys; from routerfix.simulate import simulators; simulators(); "
            "print(sorted(m for m in sys.modules if m.startswith('routerfix.simulators.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_simulator_is_a_clear_error() -> None:
    with pytest.raises(UnsupportedOperation, match="ships no simulator"), simulate("no-such-router"):
        pass


def test_missing_sim_extra_says_what_to_install() -> None:
    """Without asyncssh (a base install), an SSH demo names the extra to install instead of a traceback."""
    code = ("import sys; sys.modules['asyncssh'] = None\n"
            "from routerfix.cli import main\n"
            "sys.exit(main(['demo', '--driver', 'mikrotik']))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "asyncssh" in done.stderr and "pip install 'routerfix[sim]'" in done.stderr
