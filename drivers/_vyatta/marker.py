"""The undo marker on a VyOS or EdgeOS router: a plain file in ``/config`` (docs/facts/vyos.md rows 33-42,
edgeos.md rows 20-24), reached with shell commands typed at the operational-mode prompt.

``/config`` is copied to every image an upgrade installs and survives reboots; it belongs to the ``vyattacfg``
group that every configuring login is in, so no ``sudo`` is needed. Command names are written ``\\name``: op mode
defines an alias for every prefix of every op command, and a quoted first word is never alias-expanded. The
marker's bytes never reach the device's shell or CLI as text: they go as base64 (inert in a shell) in lines short
enough for the terminal width, and come back as base64 too, so nothing the file holds can look like a prompt.
"""

from __future__ import annotations

import base64
import re

from routerfix.markers import MAX_MARKER_BYTES

__all__ = ["MARKER_DIR", "MARKER_FILE", "clear_command", "read_command", "write_commands",
           "written"]

MARKER_DIR = "/config/routerfix"
MARKER_FILE = f"{MARKER_DIR}/undo.json"
_B64 = f"{MARKER_FILE}.b64"
_TMP = f"{MARKER_FILE}.tmp"
CHUNK = 320
"""Base64 characters per typed line: each line stays well under the session's 512-column terminal."""
_DONE = "routerfix-marker"
_STATUS = re.compile(rf"^{_DONE} (\d+)\s*$", re.MULTILINE)


def read_command() -> str:
    """At most one byte more than a marker may hold (a larger file is recognised and refused, never read whole), as
    base64; nothing when the file is missing."""
    return rf"\head -c {MAX_MARKER_BYTES + 1} {MARKER_FILE} 2>/dev/null | \base64"


def write_commands(text: str) -> list[str]:
    """Lines that replace the marker with ``text``: the directory (setgid ``2770``: the ``vyattacfg`` group
    shares it) when missing, the base64 in chunks into a scratch file, decoded into a temporary file, its size
    checked (a chunk lost to a failed append, e.g. a full disk, still decodes: shorter), ``chmod 660``, renamed over
    the marker (atomic), then a status line (:func:`written`). Safe to type ahead: every line only touches
    routerfix's own files, and the rename happens only when everything before it succeeded."""
    raw = text.encode("ascii")
    packed = base64.b64encode(raw).decode("ascii")
    chunks = [packed[i:i + CHUNK] for i in range(0, len(packed), CHUNK)] or [""]
    lines = [rf"\mkdir -p -m 2770 {MARKER_DIR}"]
    lines += [rf"\printf %s {chunk} {'>' if i == 0 else '>>'} {_B64}" for i, chunk in enumerate(chunks)]
    lines.append(rf"\base64 -d {_B64} > {_TMP} && " rf'\test "$(\wc -c < {_TMP})" -eq {len(raw)} && '
                 rf"\chmod 660 {_TMP} && \mv -f {_TMP} {MARKER_FILE}; \echo {_DONE} $?; \rm -f {_B64} {_TMP}")
    return lines


def written(outputs: list[str]) -> str | None:
    """None when the lines of :func:`write_commands` replaced the marker, else the device's first complaint. Every
    line but the last prints nothing when it succeeds: any output there is a failure, whatever the status line
    says."""
    status = _STATUS.search(outputs[-1]) if outputs else None
    quiet = not any(out.strip() for out in outputs[:-1])
    if quiet and status is not None and status.group(1) == "0":
        return None
    said = [line.strip() for out in outputs for line in out.split("\n") if line.strip()]
    return next((line for line in said if not line.startswith(_DONE)), said[0] if said else "no answer")


def clear_command() -> str:
    """Remove the marker (and any leftover of an interrupted write; absent is not an error), then a status line
    (:func:`written`)."""
    return rf"\rm -f {MARKER_FILE} {_TMP} {_B64}; \echo {_DONE} $?"
