"""The undo marker on a RouterOS router: a small text file on its flash, read and written on the console.

Facts relied on: docs/facts/mikrotik.md M72-M81, M83. The checked marker text (:mod:`routerfix.markers`, ASCII JSON) is
stored base64-encoded: its alphabet has none of the characters a RouterOS string interprets (``"``, ``\\``, ``$``,
``?``: M43), so nothing the marker holds, a customer's forward name included, can act on the console (M77).
"""

from __future__ import annotations

import base64
from typing import Any

from routerfix.errors import UnsupportedOperation
from routerfix.markers import parse_encoded_marker

from .strings import ros_quote

__all__ = ["FIRST_VERSION", "MARKER_NAME", "MAX_ENCODED", "REFUSED", "clear_commands", "decode", "encode",
           "flash_print", "has_flash", "path", "read_command", "read_output", "refused", "write_commands"]

MARKER_NAME = "routerfix-undo.txt"
FLASH = "flash"
"""The directory whose files survive a reboot on routers that list one (M73)."""
FIRST_VERSION = (7, 9)
"""``/file add`` (creating a file with its contents) came with RouterOS 7.9 (M72)."""
MAX_ENCODED = 2000
"""Longest base64 text routerfix writes: the write command must fit one console line (M5, M80)."""
REFUSED = "routerfix-no-file-access"
"""What a guarded file read prints instead of stopping the line when the router refuses it (M83: a login whose group
lacks the ``ftp`` policy may not use ``/file``)."""


def _guarded(command: str) -> str:
    """``command`` inside ``:do {...} on-error={...}`` (M83): a refusal prints :data:`REFUSED` and the rest of the
    line runs on (M5 would otherwise stop it there)."""
    return f":do {{{command}}} on-error={{:put {ros_quote(REFUSED)}}}"


def refused(output: str) -> bool:
    """A guarded read's output says the router refused it (M83)."""
    return output.strip() == REFUSED


def path(flash: bool) -> str:
    """Where the marker lives: inside ``flash/`` on a router that lists that directory, else at the top (M73)."""
    return f"{FLASH}/{MARKER_NAME}" if flash else MARKER_NAME


def flash_print() -> str:
    """The file list row of the ``flash`` directory, if the router has one (M61, M73); guarded (M83)."""
    return _guarded(f"/file print terse without-paging where name={ros_quote(FLASH)}")


def has_flash(items: list[Any]) -> bool:
    """``flash_print``'s parsed rows show the directory."""
    return any(item.get("name") == FLASH for item in items)


def read_command(name: str) -> str:
    """Prints the file's name, then its contents, or nothing at all when there is no such file (M76: a ``:foreach``
    over an empty ``find`` runs nothing, so the read never stops the batch it rides in). The name line tells an
    empty file (M74) from none. Guarded (M83): a login refused ``/file`` gets :data:`REFUSED` instead."""
    return _guarded(f":foreach f in=[/file find where name={ros_quote(name)}] "
                    f"do={{:put [/file get $f name]; :put [/file get $f contents]}}")


def read_output(output: str, name: str) -> tuple[bool, str]:
    """``(present, contents)`` from :func:`read_command`'s output."""
    lines = output.strip("\r\n").split("\n")
    if not lines or lines[0].strip() != name:
        return False, ""
    return True, "\n".join(lines[1:])


def encode(text: str) -> str:
    """The marker text as stored (base64 of the ASCII JSON), or :class:`UnsupportedOperation` when it would not fit
    one console line (M80; nothing has been sent then)."""
    encoded = base64.b64encode(text.encode("ascii")).decode("ascii")
    if len(encoded) > MAX_ENCODED:
        raise UnsupportedOperation(
            f"the undo marker needs {len(encoded)} characters; routerfix writes at most {MAX_ENCODED} on one "
            f"RouterOS console line (M80): nothing was changed; remove some of the conflicting SIP forwards by hand "
            f"and run again")
    return encoded


def write_commands(name: str, encoded: str, *, present: bool) -> list[str]:
    """The command that leaves ``encoded`` as the file's whole contents (M72, M81): the file the last read showed
    (even empty) is rewritten in place by one ``set``; otherwise ``add`` creates it with its contents."""
    contents = ros_quote(encoded)
    if present:
        return [f"/file set [find where name={ros_quote(name)}] contents={contents}"]
    return [f"/file add name={ros_quote(name)} contents={contents}"]


def clear_commands(name: str) -> list[str]:
    """Remove the file; none there is no error (M79)."""
    return [f"/file remove [find where name={ros_quote(name)}]"]


def decode(output: str, name: str) -> tuple[dict[str, Any] | None, str | None]:
    """``(marker, warning)`` from the read's output (:func:`routerfix.markers.parse_encoded_marker`: the console may
    break a long ``:put`` line, M80)."""
    return parse_encoded_marker(output, f"file {name}")
