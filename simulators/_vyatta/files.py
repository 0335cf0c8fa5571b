"""Plain shell commands at the Vyatta op-mode prompt, on the router's files (docs/facts/vyos.md rows 33-42,
edgeos.md rows 20-24): the few the undo marker uses, with GNU coreutils' answers.

A line reaches here only when its first word is quoted (``\\head``): op mode aliases every prefix of every op
command, and only a quoted word is never alias-expanded (row 35), so the simulator runs nothing else as a shell
command. Supported: ``;``, ``&&``, one ``|``, ``> F``, ``>> F``, ``< F``, ``2>/dev/null``, ``$?``, a word that is
one ``"$(…)"``; ``head -c N F``, ``base64`` (encode stdin, 76 a line) and ``base64 -d F``, ``printf %s ARG``,
``mkdir -p -m MODE D``, ``chmod MODE F``, ``mv -f A B``, ``rm -f F…``, ``echo``, ``wc -c``, ``test A -eq B``.
``/config`` is writable only while ``router.disk.writable`` (the login is in the ``vyattacfg`` group, row 37);
files there survive ``reboot()`` (row 33). ``router.disk.full_at`` makes one redirected write find the disk full
(row 41).
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
from dataclasses import dataclass, field

from routerfix.words import split

__all__ = ["FileSystem", "run_shell"]


@dataclass
class FileSystem:
    """Directories (path → mode) and files (path → (bytes, mode)) of the persistent ``/config`` store."""

    dirs: dict[str, int] = field(default_factory=lambda: {"/config": 0o2775})
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    writable: bool = True
    """The login user may write ``/config`` (a member of ``vyattacfg``)."""
    full_at: int | None = None
    """The redirected write (``> F``, ``>> F``) this many writes from now (1: the next) finds the disk full: it
    writes nothing and fails (``No space left on device``); later writes find room again. None: never."""

    def text(self, path: str) -> str | None:
        """A file's text (None: no such file)."""
        entry = self.files.get(path)
        return None if entry is None else entry[0].decode("utf-8", "surrogateescape")


class _Failed(Exception):
    """A command's error message (status 1; an empty message prints nothing, as a false ``test``)."""


def run_shell(fs: FileSystem, line: str) -> str:
    """Run one typed line; return what it prints."""
    out: list[str] = []
    status = 0
    parts = re.split(r"\s*(&&|;)\s*", line.strip())
    op = ";"
    for index, part in enumerate(parts):
        if index % 2:
            op = part
            continue
        if not part or (op == "&&" and status != 0):
            continue
        stdin = b""
        text = ""
        for piece in part.split(" | "):
            text, status, stdin = _simple(fs, piece.replace("$?", str(status)), stdin)
            out.append(text)
        out.append(stdin.decode("utf-8", "surrogateescape"))
    return "".join(out)


def _simple(fs: FileSystem, piece: str, stdin: bytes) -> tuple[str, int, bytes]:
    """Run one simple command: (its error text, its status, its standard output)."""
    words = [_substituted(fs, w) for w in split(piece)]
    quiet = "2>/dev/null" in words
    words = [w for w in words if w != "2>/dev/null"]
    if "<" in words:
        at = words.index("<")
        source, words = words[at + 1], words[:at] + words[at + 2:]
        if source not in fs.files:
            return ("" if quiet else f"-vbash: {source}: No such file or directory\n"), 1, b""
        stdin = fs.files[source][0]
    target: tuple[str, bool] | None = None
    for mark in (">", ">>"):
        if mark in words:
            at = words.index(mark)
            target = (words[at + 1], mark == ">>")
            words = words[:at] + words[at + 2:]
    try:
        if target is not None:
            _check_create(fs, target[0], redirect=True)
        stdout = _program(fs, words, stdin)
    except _Failed as exc:
        return ("" if quiet or not str(exc) else f"{exc}\n"), 1, b""
    if target is not None:
        if fs.full_at is not None:
            fs.full_at -= 1
            if fs.full_at == 0:
                fs.full_at = None
                return f"-vbash: {words[0]}: write error: No space left on device\n", 1, b""
        old = fs.files.get(target[0])
        body = (old[0] if old is not None and target[1] else b"") + stdout
        fs.files[target[0]] = (body, old[1] if old is not None else 0o644)  # created 0666 & ~umask 022
        stdout = b""
    return "", 0, stdout


def _substituted(fs: FileSystem, word: str) -> str:
    """A word that is one command substitution ``$(…)``: what the command prints, trailing newlines dropped."""
    inner = re.fullmatch(r"\$\((.*)\)", word, re.DOTALL)
    if inner is None:
        return word
    return _simple(fs, inner.group(1), b"")[2].decode("utf-8", "surrogateescape").rstrip("\n")


def _check_create(fs: FileSystem, path: str, *, redirect: bool = False, what: str = "") -> None:
    """Creating, replacing or removing ``path`` needs its directory, writable."""
    parent = posixpath.dirname(path)
    what = f"-vbash: {path}" if redirect else what
    if parent not in fs.dirs:
        raise _Failed(f"{what}: No such file or directory")
    if parent.startswith("/config") and not fs.writable:
        raise _Failed(f"{what}: Permission denied")


def _program(fs: FileSystem, words: list[str], stdin: bytes) -> bytes:
    name, args = words[0], words[1:]
    if name == "head" and len(args) == 3 and args[0] == "-c" and args[1].isdigit():
        if args[2] not in fs.files:
            raise _Failed(f"head: cannot open '{args[2]}' for reading: No such file or directory")
        return fs.files[args[2]][0][: int(args[1])]
    if name == "base64" and not args:
        packed = base64.b64encode(stdin).decode("ascii")
        return "".join(packed[i:i + 76] + "\n" for i in range(0, len(packed), 76)).encode("ascii")
    if name == "base64" and len(args) == 2 and args[0] == "-d":
        if args[1] not in fs.files:
            raise _Failed(f"base64: {args[1]}: No such file or directory")
        try:
            return base64.b64decode(fs.files[args[1]][0], validate=True)
        except (binascii.Error, ValueError):
            raise _Failed("base64: invalid input") from None
    if name == "printf" and len(args) == 2 and args[0] == "%s":
        return args[1].encode("utf-8", "surrogateescape")
    if name == "wc" and args == ["-c"]:
        return f"{len(stdin)}\n".encode()
    if name == "test" and len(args) == 3 and args[1] == "-eq":
        if not all(re.fullmatch(r"-?\d+", a) for a in (args[0], args[2])):
            raise _Failed(f"-vbash: test: {args[0]}: integer expression expected")
        if int(args[0]) != int(args[2]):
            raise _Failed("")
        return b""
    if name == "echo":
        return (" ".join(args) + "\n").encode()
    if name == "mkdir" and args[:1] == ["-p"] and len(args) == 4 and args[1] == "-m":
        if args[3] not in fs.dirs:
            if posixpath.dirname(args[3]).startswith("/config") and not fs.writable:
                raise _Failed(f"mkdir: cannot create directory '{args[3]}': Permission denied")
            fs.dirs[args[3]] = int(args[2], 8)
        return b""
    if name == "chmod" and len(args) == 2 and re.fullmatch(r"[0-7]{3,4}", args[0]):
        if args[1] not in fs.files:
            raise _Failed(f"chmod: cannot access '{args[1]}': No such file or directory")
        fs.files[args[1]] = (fs.files[args[1]][0], int(args[0], 8))
        return b""
    if name == "mv" and args[:1] == ["-f"] and len(args) == 3:
        if args[1] not in fs.files:
            raise _Failed(f"mv: cannot stat '{args[1]}': No such file or directory")
        _check_create(fs, args[2], what=f"mv: cannot move '{args[1]}' to '{args[2]}'")
        fs.files[args[2]] = fs.files.pop(args[1])
        return b""
    if name == "rm" and args[:1] == ["-f"]:
        for path in args[1:]:
            if path in fs.files:
                _check_create(fs, path, what=f"rm: cannot remove '{path}'")
                del fs.files[path]
        return b""
    raise _Failed(f"-vbash: {name}: command not found")
