"""Reading a device's JSON answers strictly: a field that is missing or of the wrong type, or a rule that
cannot be read, is a :class:`~routerfix.errors.ParseError` naming where, never a guess."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from routerfix.errors import InvalidValue, ParseError
from routerfix.model import PortForward, Protocol

__all__ = ["flag", "forwards_from_rules", "load", "number", "objects", "text"]


def load(data: str | bytes, source: str, not_json: str) -> Any:
    """``data`` parsed as JSON; ``not_json`` is the message when it is not."""
    try:
        return json.loads(data)
    except (ValueError, TypeError, RecursionError):
        raise ParseError(source, not_json) from None


def text(obj: Mapping[str, Any], key: str, source: str) -> str:
    """``obj[key]``, which must be a string."""
    value = obj.get(key)
    if not isinstance(value, str):
        raise ParseError(source, f"{key!r} missing or not text")
    return value


def number(obj: Mapping[str, Any], key: str, source: str) -> int:
    """``obj[key]``, which must be a whole number (not a boolean)."""
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParseError(source, f"{key!r} missing or not a number")
    return value


def flag(obj: Mapping[str, Any], key: str, source: str) -> bool:
    """``obj[key]``, which must be true or false."""
    value = obj.get(key)
    if not isinstance(value, bool):
        raise ParseError(source, f"{key!r} missing or not true/false")
    return value


def objects(data: Any, key: str | None, source: str, what: str) -> list[dict[str, Any]]:
    """``data[key]`` (``data`` itself when ``key`` is None): a list of JSON objects, each a ``what``."""
    items = data if key is None else data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ParseError(source, f"not a list of {what}s" if key is None else f"{key!r} missing or not a list")
    for item in items:
        if not isinstance(item, dict):
            raise ParseError(source, f"a {what} is not an object")
    return items


RuleReader = Callable[[int, dict[str, Any], Protocol], PortForward]
"""``read(index, rule, protocol)``: the forward a rule object describes (it may raise ``InvalidValue``)."""


def forwards_from_rules(data: Any, source: str, protocols: Mapping[str, Protocol],
                        read: RuleReader) -> tuple[list[dict[str, Any]], list[PortForward]]:
    """``data["rules"]``: the raw rule objects (kept whole for a read-modify-write) and their forwards.

    :param protocols: the device's protocol names, lower case (compared without regard to case).
    :param read: builds each rule's forward once its ``protocol`` is known.
    """
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(rules, list):
        raise ParseError(source, "'rules' missing or not a list")
    forwards = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            raise ParseError(source, f"rule {i} is not an object")
        protocol = protocols.get(text(rule, "protocol", source).lower())
        if protocol is None:
            raise ParseError(source, f"rule {i}: unknown protocol {rule.get('protocol')!r}")
        try:
            forwards.append(read(i, rule, protocol))
        except InvalidValue as exc:
            raise ParseError(source, f"rule {i}: {exc.message}") from None
    return list(rules), forwards
