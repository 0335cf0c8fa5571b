"""An in-memory router: the complete driver contract with no device behind it.

For notebooks, demos, the engine's tests and as a reference for driver
authors. State lives in a :class:`MemoryRouter`; routers are kept per host for
the life of the process (a second ``connect`` to the same host sees the same
router), or in a JSON file with the ``state_file`` option so a later process
(undo) sees them too.

Options: ``scenario`` (see :data:`SCENARIOS`), ``router`` (a MemoryRouter to
use), ``state_file``, ``fail`` (fault injection: ``{"add_port_forward": "device"}``
or ``"drop"``, optionally ``"drop@2"`` for the second call), ``capabilities``
(a :class:`~routerfix.Capabilities` to declare instead of the full set), and
``nat_policy`` (``"default"``; the memory router has no vendor policy).
"""

from __future__ import annotations

from .driver import SCENARIOS, MemoryDriver, MemoryRouter

__all__ = ["MemoryDriver", "MemoryRouter", "SCENARIOS"]
