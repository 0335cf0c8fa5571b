"""The core's words for outcomes and steps, as ``StrEnum``s: each member equals (and serialises as) its
value, so JSON, CSV and saved records read exactly as the bare strings did."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ActionKind", "FleetOperation", "Operation", "PortState", "ResultStatus"]


class ResultStatus(StrEnum):
    """What a run ended as (:attr:`routerfix.MitigationResult.status`, a fleet host's ``status``)."""

    PLANNED = "planned"
    """Dry run: the plan's changes would be made."""
    UNCHANGED = "unchanged"
    """Nothing to change: the mitigation is already in place."""
    MITIGATED = "mitigated"
    """The mitigation was applied and verified."""
    VERDICT = "verdict"
    """No configuration change can fix the site (see the plan's verdicts)."""
    UNDONE = "undone"
    """The mitigation was removed and verified."""
    NOTHING_TO_UNDO = "nothing_to_undo"
    """Nothing of routerfix's is on the device."""
    FAILED = "failed"
    """Fleet runs only: the host's run raised an error."""
    CANCELLED = "cancelled"
    """Fleet runs only: the run was interrupted before the host started."""


class Operation(StrEnum):
    """What a plan does (:attr:`routerfix.Plan.operation`; also the ``operation`` of an undo record)."""

    MITIGATE = "mitigate"
    UNDO = "undo"
    PORT_FORWARD = "port_forward"
    """One forward set or removed (the Ansible ``port_forward`` module, through the engine)."""
    NAT_MODE = "nat_mode"
    """NAT filtering set (the Ansible ``nat_mode`` module, through the engine)."""


class FleetOperation(StrEnum):
    """What :func:`routerfix.run_fleet` does on each host."""

    PLAN = "plan"
    """A dry run of the mitigation: nothing is written."""
    MITIGATE = "mitigate"
    UNDO = "undo"


class ActionKind(StrEnum):
    """The kind of a plan step (``Action.kind``; what :attr:`routerfix.Driver.batch_kinds` chooses from)."""

    ADD_FORWARD = "add_forward"
    REMOVE_FORWARD = "remove_forward"
    SET_NAT_MODE = "set_nat_mode"
    SET_SIP_ALG = "set_sip_alg"
    RESERVE_ADDRESS = "reserve_address"
    RELEASE_ADDRESS = "release_address"
    SAVE_UNDO_MARKER = "save_undo_marker"
    CLEAR_UNDO_MARKER = "clear_undo_marker"


class PortState(StrEnum):
    """What a probed port did (:attr:`routerfix.probe.PortAnswer.state`)."""

    SIP = "sip"
    """A SIP response came back."""
    OPEN = "open"
    """TCP connection accepted, no SIP response."""
    REFUSED = "refused"
    """TCP reset or ICMP port unreachable: nothing listens."""
    UNREACHABLE = "unreachable"
    """ICMP host or network unreachable."""
    SILENT = "silent"
    """Nothing within the timeout."""
