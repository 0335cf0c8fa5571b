"""Helpers shared by the integration tests (a module name no other test folder uses)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
PYTHON = sys.executable
"""The venv's interpreter: ansible runs its modules with it, examples run under it."""


def write_inventory(directory: Path, hosts: dict[str, Any], groups: dict[str, Any] | None = None,
                    defaults: dict[str, Any] | None = None) -> Path:
    """Write a SimpleInventory (hosts/groups/defaults.yaml) into ``directory`` and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hosts.yaml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    if groups is not None:
        (directory / "groups.yaml").write_text(yaml.safe_dump(groups, sort_keys=False))
    if defaults is not None:
        (directory / "defaults.yaml").write_text(yaml.safe_dump(defaults, sort_keys=False))
    return directory
