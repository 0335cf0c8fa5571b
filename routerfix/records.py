"""Undo records: the one home for naming, saving, finding and loading them.

A record is a file in the state directory, one per run that writes. It is a write-ahead journal: the
engine creates it *before the first write* with the prior state of everything the plan touches, saves it again
after each batch of steps is done, and closes it with the run's result. The first save is atomic (temporary file,
fsync, rename, mode 0600); every later one appends the whole record as one more line and fsyncs it (JSON Lines:
the last complete line is the record; one that would grow past :data:`JOURNAL_REWRITE_AT` is rewritten whole
instead). A kill at any moment leaves at worst a torn last line, which reading skips,
so the previous version counts; and no save after the first creates, renames or frees a file (a rename over the
last version freed an inode on every save, which ext4 without a journal pays for on every later create:
benchmarks/README.md §5). Each line is compact JSON (:func:`encode_record`, json's C encoder: an indented dump goes
through its pure-Python one); a copy for people (:func:`save_copy`, ``--save``) is one indented JSON document.
Both, and the one-document records of earlier versions, are read alike (:func:`read_record_text`).

Records are keyed by driver + host + port (:class:`DeviceKey`): two routers behind one address never share
one. File names carry a UTC timestamp with microseconds, the process id and a random suffix, so they never
collide. The records of one device form a *chain* (:func:`undo_chain`): every run since the last completed
undo; undoing restores the prior state saved by the chain's first record, whatever happened since (a kill,
a rerun, a moved sink).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import re
import secrets as _random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from routerfix.enums import Operation, ResultStatus
from routerfix.errors import StateFileError
from routerfix.model import to_data

if TYPE_CHECKING:
    from routerfix.driver import Driver
    from routerfix.model import DeviceState

__all__ = ["RECORD_VERSION", "DeviceKey", "JournalStatus", "atomic_write", "default_state_dir", "encode_record",
           "load_record", "prior_state", "record_name", "save_copy", "undo_chain", "unique_path"]

log = logging.getLogger("routerfix.records")

RECORD_VERSION = 2
"""Version of the record format. Version 1 (no ``before``, no ``port``) is still read: its ``undo`` list is
replayed."""
READ_VERSIONS = frozenset({1, 2})
MAX_RECORD_BYTES = 4 * 1024 * 1024
"""A record bigger than this is refused unread (records are a few kilobytes)."""
JOURNAL_REWRITE_AT = 256 * 1024
"""A journal save that would take its file past this many bytes rewrites it whole (atomically, as the first save)
instead of appending: a run of many batches keeps its record small."""
ECHO_MAX = 200
"""The most characters of a file name or value an error message repeats."""


class JournalStatus(StrEnum):
    """Where a run stood when its record was last saved."""

    APPLYING = "applying"
    """Written before the first write and after each step: the run did not finish (killed, or still running)."""
    DONE = "done"
    """Applied and verified."""
    ROLLED_BACK = "rolled_back"
    """A failure was rolled back: the device is as the record's ``before`` says."""
    FAILED = "failed"
    """The rollback failed: the device may be half-configured (the record's ``before`` says how it was)."""


def clip(text: object, limit: int = ECHO_MAX) -> str:
    """``text`` as a string of at most ``limit`` characters (for error messages that echo input)."""
    value = str(text)
    return value if len(value) <= limit else value[:limit] + "…"


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in ".-" else "_" for c in text)[:80]


@dataclass(frozen=True)
class DeviceKey:
    """What one device is: driver, host and port (None: the driver's default)."""

    driver: str
    host: str
    port: int | None = None

    @classmethod
    def of(cls, driver: Driver) -> DeviceKey:
        """The key of an open driver."""
        return cls(driver.name, driver.host, driver.port)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> DeviceKey:
        """The key a record was written for (version 1 records have no port: the default)."""
        port = data.get("port")
        return cls(str(data.get("driver")), str(data.get("host")), port if isinstance(port, int) else None)

    @property
    def slug(self) -> str:
        """File-name form (not unique by itself: records are matched by their content too)."""
        return f"{_safe(self.host)}-{self.port if self.port is not None else 'default'}-{_safe(self.driver)}"

    def describe(self) -> str:
        """``driver:host[:port]`` for messages."""
        return f"{self.driver}:{self.host}" + (f":{self.port}" if self.port is not None else "")

    def to_data(self) -> dict[str, Any]:
        """The fields a record carries."""
        return {"driver": self.driver, "host": self.host, "port": self.port}


def prior_state(state: DeviceState) -> dict[str, Any]:
    """What a record keeps of the state before a run: everything a plan can touch (NAT filtering, SIP ALG,
    every forward, the DHCP reservations)."""
    return {"nat_mode": to_data(state.nat_mode), "sip_alg": state.sip_alg,
            "forwards": [to_data(f) for f in state.forwards],
            "reservations": None if state.scope is None else [to_data(r) for r in state.scope.reservations]}


def default_state_dir() -> Path:
    """Where records and backups go: ``$ROUTERFIX_STATE_DIR``, else ``$XDG_STATE_HOME/routerfix``, else
    ``~/.local/state/routerfix``."""
    env = os.environ.get("ROUTERFIX_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "routerfix"


def _stamp() -> str:
    now = time.time()
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now % 1 * 1_000_000):06d}Z"


def record_name(key: DeviceKey, operation: str, suffix: str = "json") -> str:
    """A file name that never collides: key slug, UTC time to the microsecond, process id, random part."""
    return f"{key.slug}-{_stamp()}-{os.getpid()}-{_random.token_hex(3)}-{_safe(operation)}.{suffix}"


def unique_path(directory: Path, stem: str, suffix: str) -> Path:
    """``directory/stem-<UTC time>-<pid>-<random>.suffix``: a fresh name for a report or backup."""
    return directory / f"{_safe(stem)}-{_stamp()}-{os.getpid()}-{_random.token_hex(3)}.{suffix}"


_MADE_DIRS: set[Path] = set()
"""Directories :func:`atomic_write` has made or found in this process (one ``mkdir`` each, not one per save)."""


_TEMPORARY_NUMBERS = itertools.count()
"""Numbers the temporary files of this process (``next`` on it is atomic: threads never draw the same one)."""
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
_TEMPORARY_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


def _create_temporary(directory: Path, name: str) -> tuple[int, str]:
    """A new file beside ``name`` in ``directory``, readable only by its owner, made with ``O_EXCL`` as
    :func:`tempfile.mkstemp` makes it: ``.<name>.<pid>-<n>.tmp`` (the process id and a counter are unique among
    running writers, and drawing no random name saves a fleet run's CPU). A name already taken (left by a killed
    process whose id came back, or planted by someone who guessed it) is skipped, and every later attempt adds a
    random part that cannot be guessed."""
    prefix = f"{directory}{os.sep}.{name[:60]}.{os.getpid()}-"
    path = f"{prefix}{next(_TEMPORARY_NUMBERS)}.tmp"
    for _ in range(100):
        try:
            return os.open(path, _TEMPORARY_FLAGS, 0o600), path
        except FileExistsError:
            path = f"{prefix}{next(_TEMPORARY_NUMBERS)}-{_random.token_hex(8)}.tmp"
    raise FileExistsError(f"no free temporary name beside {name!r} in {directory}")


def _write_synced(fd: int, text: str) -> None:
    """Write all of ``text`` to ``fd`` and fsync it."""
    data = memoryview(text.encode("utf-8"))
    while data:
        data = data[os.write(fd, data):]
    os.fsync(fd)


def atomic_write(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically, readable only by its owner: a temporary file in the same
    directory, fsync, rename over ``path``, fsync of the directory. A kill at any point leaves the old file
    or the new one."""
    target = Path(path)
    directory = target.parent
    if directory not in _MADE_DIRS:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        _MADE_DIRS.add(directory)
    try:
        fd, tmp = _create_temporary(directory, target.name)
    except FileNotFoundError:  # the directory went away since it was made
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = _create_temporary(directory, target.name)
    try:
        try:
            _write_synced(fd, text)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return target


def encode_record(data: dict[str, Any]) -> str:
    """A journal save's text: compact JSON on one line (json's C encoder; ``indent`` would use its pure-Python
    encoder, which a fleet run pays on every step of every router)."""
    return json.dumps(data, separators=(",", ":")) + "\n"


def save_copy(data: dict[str, Any], path: str | Path) -> Path:
    """Write a record (or any JSON result) to ``path`` atomically, indented for a person to read; an existing file
    is replaced."""
    return atomic_write(path, json.dumps(data, indent=2) + "\n")


def _read_json(path: Path) -> Any:
    with path.open("rb") as handle:
        return _decode(handle.read(MAX_RECORD_BYTES + 1))


def _decode(raw: bytes) -> Any:
    """The record in a file's bytes (:func:`read_record_text`), refused past :data:`MAX_RECORD_BYTES`."""
    if len(raw) > MAX_RECORD_BYTES:
        raise ValueError(f"larger than {MAX_RECORD_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # a torn save's tail (records are ASCII): what comes before it counts
        text = raw[:exc.start].decode("utf-8")
    return read_record_text(text)


_DECODER = json.JSONDecoder()
_BLANK = re.compile(r"[ \t\r\n]*")


def _past_blanks(text: str, position: int) -> int:
    match = _BLANK.match(text, position)
    return match.end() if match else position


def read_record_text(text: str) -> Any:
    """The record a file's ``text`` holds: its first JSON value, or the last of the JSON objects saved after it (a
    journal appends one per save, each ending its line; an indented copy or an earlier version's record is one
    value). Whatever follows the last whole object (a save torn by a kill, or what a crash left past the end of
    the file, even when it parses as some other JSON value) is ignored; :class:`ValueError` when not even the first
    value is complete."""
    found, position = _DECODER.raw_decode(text, _past_blanks(text, 0))
    while True:
        position = _past_blanks(text, position)
        if position >= len(text):
            return found
        try:
            value, end = _DECODER.raw_decode(text, position)
        except ValueError:
            return found
        if not isinstance(value, dict) or "record_version" not in value or \
                (end < len(text) and text[end] not in "\r\n"):
            return found  # not a save: a save is a record's object alone on its line
        found, position = value, end


def check_record(data: Any) -> dict[str, Any]:
    """``data`` if it is a routerfix record, else :class:`StateFileError`."""
    if not isinstance(data, dict) or data.get("record_version") not in READ_VERSIONS or \
            not isinstance(data.get("undo"), list):
        raise StateFileError("not a routerfix result file (no record_version/undo): pass the JSON a mitigate run saved")
    if data.get("record_version", 1) >= 2 and not isinstance(data.get("before"), dict):
        raise StateFileError("a routerfix record without its 'before' state: the file is damaged")
    return data


def load_record(source: str | Path | dict[str, Any]) -> dict[str, Any]:
    """Read a saved record (path, JSON text or dict) and check it is one."""
    if isinstance(source, dict):
        return check_record(source)
    text = str(source)
    try:
        if isinstance(source, Path) or not text.lstrip().startswith("{"):
            data = _read_json(Path(text))
        else:
            data = _decode(text.encode("utf-8"))
    except (OSError, ValueError) as exc:
        raise StateFileError(f"cannot read the saved result {clip(source)!r}: {clip(exc)}") from None
    return check_record(data)


def _device_records(state_dir: Path, key: DeviceKey) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every readable record of ``key`` in ``state_dir`` (unreadable or foreign files are skipped)."""
    if not state_dir.is_dir():
        return
    patterns = {f"{key.slug}-*.json", f"{_safe(key.host)}-{key.driver}-*.json"}  # version 2 and version 1 names
    seen: set[Path] = set()
    for pattern in sorted(patterns):
        for path in state_dir.glob(pattern):
            if path in seen or not path.is_file():
                continue
            seen.add(path)
            try:
                data = check_record(_read_json(path))
            except (OSError, ValueError, StateFileError) as exc:
                log.warning("skipping the unreadable record %s: %s", clip(path), clip(exc))
                continue
            if DeviceKey.from_record(data) == key:
                yield path, data


def _order(item: tuple[Path, dict[str, Any]]) -> tuple[float, str]:
    path, data = item
    started = data.get("journal_started")
    if isinstance(started, (int, float)):
        return float(started), path.name
    with contextlib.suppress(OSError):
        return path.stat().st_mtime, path.name
    return 0.0, path.name


def undo_chain(state_dir: str | Path, key: DeviceKey) -> list[tuple[Path, dict[str, Any]]]:
    """The records of ``key`` since its last completed undo, oldest first: what ``undo`` has to reverse.

    A record of a run that only planned, or that changed nothing, is never written; one of a run killed
    midway is in the chain (its ``before`` was saved before the first write)."""
    records = sorted(_device_records(Path(state_dir), key), key=_order)
    chain: list[tuple[Path, dict[str, Any]]] = []
    for path, data in records:
        if data.get("operation") == Operation.UNDO:
            if data.get("journal") in (JournalStatus.DONE, None) and data.get("status") in (ResultStatus.UNDONE, None):
                chain = []  # everything before a completed undo was reversed by it
            continue
        chain.append((path, data))
    return chain


def latest_record(state_dir: str | Path, key: DeviceKey) -> Path | None:
    """The newest record of ``key`` in the current chain, if any."""
    chain = undo_chain(state_dir, key)
    return chain[-1][0] if chain else None


_FIXED_KEYS = ("before", "planned", "undo")
"""The large parts of a journal that its saves after the first repeat unchanged."""
_ABSENT = object()


class Journal:
    """The write-ahead record of one run (see the module docstring). Each method saves it: the first save
    creates the file atomically, the later ones append to it."""

    def __init__(self, state_dir: str | Path, key: DeviceKey, operation: Operation) -> None:
        self.key = key
        self.path = Path(state_dir) / record_name(key, operation)
        self.data: dict[str, Any] = {"record_version": RECORD_VERSION, **key.to_data(), "operation": str(operation),
                                     "journal": JournalStatus.APPLYING.value, "journal_started": time.time(),
                                     "steps_done": [], "undo": []}
        self._size = 0  # bytes in the file; 0: not created yet, or the next save rewrites it whole
        self._fixed: tuple[tuple[Any, ...], str] = ((_ABSENT,) * len(_FIXED_KEYS), "")
        """The values of :data:`_FIXED_KEYS` last encoded, and their encoding (inside braces): every save after
        :meth:`begin` repeats them unchanged, so they are encoded once, not on every save of every router."""

    def begin(self, before: dict[str, Any], planned: list[dict[str, Any]], undo: list[dict[str, Any]]) -> None:
        """Before the first write: the prior state of everything the plan touches, and the planned steps. The
        journal keeps these objects (later saves reuse their encoding): the caller does not change them after."""
        self.data.update(before=before, planned=planned, undo=undo)
        self._save()

    def step_done(self, index: int) -> None:
        """Step ``index`` of the plan is on the device."""
        self.steps_done([index])

    def steps_done(self, indexes: Iterable[int]) -> None:
        """Steps ``indexes`` of the plan are on the device (one batch written together: one save)."""
        self.data["steps_done"].extend(indexes)
        self._save()

    def finish(self, status: JournalStatus, result: dict[str, Any] | None = None) -> None:
        """The run ended: ``status``, and the result's fields (the record is then also the result file)."""
        if result is not None:
            keep = {k: self.data[k] for k in ("record_version", "driver", "host", "port", "operation", "before",
                                              "planned", "steps_done", "journal_started")}
            self.data = {**result, **keep}
        self.data["journal"] = status.value
        self._save()

    def _encode(self) -> str:
        """:func:`encode_record` of the record, the keys of :data:`_FIXED_KEYS` (the same objects from
        :meth:`begin` on, never changed in place: the journal holds the only reference) last, from the encoding
        of an earlier save while they are the same objects."""
        fixed = tuple(self.data.get(key, _ABSENT) for key in _FIXED_KEYS)
        if any(a is not b for a, b in zip(fixed, self._fixed[0], strict=True)):
            present = {key: value for key, value in zip(_FIXED_KEYS, fixed, strict=True) if value is not _ABSENT}
            self._fixed = (fixed, encode_record(present)[1:-2])
        rest = encode_record({k: v for k, v in self.data.items() if k not in _FIXED_KEYS})[1:-2]
        return "{" + ",".join(part for part in (rest, self._fixed[1]) if part) + "}\n"

    def _save(self) -> None:
        text = self._encode()
        if self._size and self._size + len(text) <= JOURNAL_REWRITE_AT:
            try:
                self._append(text)
                self._size += len(text)
                return
            except OSError:  # gone, replaced, or a write failed: the whole record, atomically, as the first save
                self._size = 0
            except BaseException:
                self._size = 0  # a line may be torn: the next save rewrites the file whole
                raise
        atomic_write(self.path, text)
        self._size = len(text)

    def _append(self, text: str) -> None:
        fd = os.open(self.path, _APPEND_FLAGS)  # never creates the file, never follows a link
        try:
            _write_synced(fd, text)
        finally:
            os.close(fd)
