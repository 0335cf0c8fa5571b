"""JSON Schemas (Draft 2020-12) of the ``--json`` outputs of ``routerfix show``, ``plan``, ``mitigate``, ``undo``,
``fleet``, ``detect`` and of the error every single-device command prints on failure. ``routerfix diagnose`` has its
own (``routerfix/diagnose/diagnosis.schema.json``). Properties may be added in a minor release; a removed or
retyped one bumps the ``$id`` version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_DIR", "SCHEMAS", "schema"]

SCHEMA_DIR = Path(__file__).parent
SCHEMAS = ("show", "plan", "mitigate", "undo", "fleet", "detect", "error")
"""The outputs with a schema (``<name>.schema.json``)."""


def schema(name: str) -> dict[str, Any]:
    """The schema of output ``name`` (one of :data:`SCHEMAS`)."""
    if name not in SCHEMAS:
        raise KeyError(f"no schema named {name!r}; known: {', '.join(SCHEMAS)}")
    data: dict[str, Any] = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    return data
