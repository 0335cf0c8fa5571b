"""Device-held undo markers: the compact prior state an undo needs, kept on the router itself.

Where a driver declares :attr:`~routerfix.model.Feature.UNDO_MARKER` (a file on the router, or configuration text
that holds none of the device's behaviour: the driver says where), the first write of a mitigation saves what that
run changes, at its value before routerfix: NAT filtering and SIP ALG
(what they were, what routerfix set), the forwards routerfix removed (byte for byte) and the reservations it
released. A rerun keeps what is there and only adds what it changes for the first time, so the marker always
holds the state before routerfix's *first* change. ``undo`` with no local record restores from it and clears it.

The text is strict JSON of at most :data:`MAX_MARKER_BYTES`, every field checked like any input
(:func:`parse_marker`); a marker that fails is ignored with a warning, never trusted. It holds no secret.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from routerfix import jsonread
from routerfix.errors import InvalidValue, ParseError, RouterfixError
from routerfix.model import NatMode, forward_from_data, reservation_from_data, to_data

if TYPE_CHECKING:
    from collections.abc import Sequence

    from routerfix.actions import Action
    from routerfix.model import DeviceState

__all__ = ["MARKER_VERSION", "MAX_MARKER_BYTES", "encode_marker", "marker_holds", "marker_record",
           "parse_encoded_marker", "parse_marker", "plan_marker"]

MARKER_VERSION = 1
MAX_MARKER_BYTES = 8192
"""A marker longer than this is refused unread (a real one is a few hundred bytes)."""
MAX_ITEMS = 16
"""The most forwards or reservations a marker may list."""
_KEYS = frozenset({"routerfix_undo_marker", "complete", "nat_mode", "sip_alg", "forwards", "reservations"})
_FORWARD_KEYS = frozenset({"name", "protocol", "external_ports", "internal_address", "internal_ports", "enabled",
                           "wan_only", "ref"})
_RESERVATION_KEYS = frozenset({"address", "mac", "name"})


def encode_marker(marker: dict[str, Any]) -> str:
    """The marker as the device stores it: compact, ASCII-only JSON (checked first, so nothing odd is written)."""
    checked = check_marker(marker, "undo marker")
    text = json.dumps(checked, separators=(",", ":"), ensure_ascii=True, sort_keys=True)
    if len(text) > MAX_MARKER_BYTES:
        raise InvalidValue("undo marker", f"{len(text)} bytes", f"at most {MAX_MARKER_BYTES} bytes")
    return text


def parse_marker(text: str | None, source: str) -> tuple[dict[str, Any] | None, str | None]:
    """``(marker, None)`` for a valid marker, ``(None, None)`` when there is none (empty text), ``(None, warning)``
    when the text is there but is not a valid marker (then it is ignored)."""
    if text is None or not text.strip():
        return None, None
    if len(text.encode("utf-8", "surrogateescape")) > MAX_MARKER_BYTES:
        return None, f"the undo marker {source} is larger than {MAX_MARKER_BYTES} bytes: ignored"
    try:
        data = jsonread.load(text, source, "not JSON")
        return check_marker(data, source), None
    except RouterfixError as exc:
        return None, f"the undo marker {source} is not valid ({str(exc)[:200]}): ignored"


def parse_encoded_marker(encoded: str, source: str) -> tuple[dict[str, Any] | None, str | None]:
    """:func:`parse_marker` of a marker a device keeps base64-encoded (so its CLI or shell never interprets it):
    whitespace dropped first (a console may break a long line), text longer than any marker's encoding or not base64
    of ASCII ignored with a warning; empty text is no marker."""
    import base64
    import binascii

    text = "".join(encoded.split())
    if not text:
        return None, None
    if len(text) > 4 * (MAX_MARKER_BYTES // 3 + 1):
        return None, f"the undo marker {source} is larger than {MAX_MARKER_BYTES} bytes: ignored"
    try:
        return parse_marker(base64.b64decode(text, validate=True).decode("ascii"), source)
    except (binascii.Error, ValueError):
        return None, f"the undo marker {source} is not valid (not base64 of ASCII text): ignored"


def _strict_keys(obj: dict[str, Any], allowed: frozenset[str], source: str, what: str) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise ParseError(source, f"{what}: unknown field {extra[0][:40]!r}")


def _setting(obj: Any, source: str, what: str, kind: type) -> dict[str, Any] | None:
    if obj is None:
        return None
    if not isinstance(obj, dict) or set(obj) != {"was", "set"}:
        raise ParseError(source, f"{what}: not an object of 'was' and 'set'")
    if kind is bool:
        return {"was": jsonread.flag(obj, "was", source), "set": jsonread.flag(obj, "set", source)}
    try:
        return {"was": NatMode.parse(jsonread.text(obj, "was", source)).value,
                "set": NatMode.parse(jsonread.text(obj, "set", source)).value}
    except InvalidValue as exc:
        raise ParseError(source, f"{what}: {exc.message}") from None


def check_marker(data: Any, source: str) -> dict[str, Any]:
    """``data`` rebuilt from checked fields (a forward or reservation must rebuild as one), else
    :class:`~routerfix.errors.ParseError`."""
    if not isinstance(data, dict):
        raise ParseError(source, "not an object")
    _strict_keys(data, _KEYS, source, "marker")
    if jsonread.number(data, "routerfix_undo_marker", source) != MARKER_VERSION:
        raise ParseError(source, f"unknown marker version {data.get('routerfix_undo_marker')!r}")
    forwards = jsonread.objects(data, "forwards", source, "forward")
    reservations = jsonread.objects(data, "reservations", source, "reservation")
    if len(forwards) > MAX_ITEMS or len(reservations) > MAX_ITEMS:
        raise ParseError(source, f"more than {MAX_ITEMS} forwards or reservations")
    if reservations:
        raise ParseError(source, "reservations: a mitigation releases no reservation but its own sink's, which a "
                                 "marker never lists")
    from routerfix.planner import SIP_PORTS

    checked_forwards = []
    for item in forwards:
        _strict_keys(item, _FORWARD_KEYS, source, "forward")
        for key in ("enabled", "wan_only"):
            jsonread.flag(item, key, source)
        for key in ("name", "protocol", "external_ports", "internal_address", "internal_ports"):
            jsonread.text(item, key, source)
        try:
            forward = forward_from_data({**item, "ref": ""})
        except InvalidValue as exc:
            raise ParseError(source, f"forward: {exc.message}") from None
        if not forward.external_ports.overlaps(SIP_PORTS):
            raise ParseError(source, "forward: not on the SIP ports (a marker lists only forwards a mitigation "
                                     "replaced, which all touch 5060-5061)")
        checked_forwards.append(to_data(forward))
    checked_reservations = []
    for item in reservations:
        _strict_keys(item, _RESERVATION_KEYS, source, "reservation")
        for key in ("address", "mac", "name"):
            jsonread.text(item, key, source)
        try:
            checked_reservations.append(to_data(reservation_from_data(item)))
        except InvalidValue as exc:
            raise ParseError(source, f"reservation: {exc.message}") from None
    return {"routerfix_undo_marker": MARKER_VERSION, "complete": jsonread.flag(data, "complete", source),
            "nat_mode": _setting(data.get("nat_mode"), source, "nat_mode", NatMode),
            "sip_alg": _setting(data.get("sip_alg"), source, "sip_alg", bool),
            "forwards": checked_forwards, "reservations": checked_reservations}


def plan_marker(state: DeviceState, actions: Sequence[Action], *, ours: bool, keep: bool = True
                ) -> dict[str, Any] | None:
    """The marker a mitigation's ``actions`` need on the device (``state`` as read before them), or None when the
    device's marker already holds all of it. What the marker holds is never replaced: a rerun adds only what it
    changes for the first time (and what routerfix now sets). ``ours``: the device already shows routerfix's
    changes; a marker started then is not ``complete`` (it cannot know what routerfix changed before). ``keep``
    False: the device's marker is stale (none of routerfix's changes are left) and a new one is started."""
    from routerfix.actions import ReleaseAddress, RemoveForward, SetNatMode, SetSipAlg, same_forward
    from routerfix.planner import RULE_PREFIX, SINK_MAC

    existing = state.undo_marker if keep else None
    marker: dict[str, Any] = json.loads(json.dumps(existing)) if existing is not None else {
        "routerfix_undo_marker": MARKER_VERSION, "complete": not ours, "nat_mode": None, "sip_alg": None,
        "forwards": [], "reservations": []}
    for action in actions:
        if isinstance(action, SetNatMode) and state.nat_mode is not None:
            was = marker["nat_mode"]["was"] if marker["nat_mode"] else state.nat_mode.value
            marker["nat_mode"] = {"was": was, "set": action.target.value}
        elif isinstance(action, SetSipAlg) and state.sip_alg is not None:
            was_alg = marker["sip_alg"]["was"] if marker["sip_alg"] else state.sip_alg
            marker["sip_alg"] = {"was": was_alg, "set": action.enabled}
        elif isinstance(action, RemoveForward) and not action.forward.name.startswith(RULE_PREFIX):
            kept = [forward_from_data(f) for f in marker["forwards"]]
            if not any(same_forward(action.forward, f) for f in kept):
                marker["forwards"].append(to_data(action.forward) | {"ref": ""})
        elif isinstance(action, ReleaseAddress) and action.reservation.mac != SINK_MAC:
            if to_data(action.reservation) not in marker["reservations"]:
                marker["reservations"].append(to_data(action.reservation))
    return None if marker == state.undo_marker else check_marker(marker, "undo marker")


def marker_holds(marker: dict[str, Any]) -> str:
    """What ``marker`` would restore, in a few words ('' when nothing): for warnings an operator acts on."""
    held = []
    if marker["nat_mode"] is not None:
        held.append(f"NAT filtering was {marker['nat_mode']['was']}")
    if marker["sip_alg"] is not None:
        held.append(f"SIP ALG was {'on' if marker['sip_alg']['was'] else 'off'}")
    held += [f"forward {f['name']!r} ({f['protocol']} {f['external_ports']} -> {f['internal_address']})"
             for f in marker["forwards"]]
    return "; ".join(held)


def marker_record(marker: dict[str, Any]) -> dict[str, Any]:
    """A device's marker in the form of a record chain's first record (``before`` + ``planned``, all done), for
    :func:`routerfix.engine.plan_restore`."""
    from routerfix.actions import ReleaseAddress, RemoveForward, SetNatMode, SetSipAlg, action_to_data

    planned: list[Action] = []
    nat, alg = marker["nat_mode"], marker["sip_alg"]
    if nat is not None:
        planned.append(SetNatMode(NatMode.parse(nat["set"]), NatMode.parse(nat["was"])))
    if alg is not None:
        planned.append(SetSipAlg(alg["set"], alg["was"]))
    planned += [RemoveForward(forward_from_data(f)) for f in marker["forwards"]]
    planned += [ReleaseAddress(reservation_from_data(r)) for r in marker["reservations"]]
    before = {"nat_mode": nat["was"] if nat else None, "sip_alg": alg["was"] if alg else None,
              "forwards": list(marker["forwards"]), "reservations": list(marker["reservations"])}
    return {"before": before, "planned": [action_to_data(a) for a in planned], "status": "mitigated"}
