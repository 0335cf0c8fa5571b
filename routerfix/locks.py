"""One run per device at a time, on this machine.

Two runs on one router at once each plan from the same read and each roll back what they think is theirs
(one deletes the other's sink reservation). :func:`device_lock` takes an exclusive lock per driver + host +
port: an advisory ``flock`` on a file in the lock directory (``$ROUTERFIX_LOCK_DIR``, else
``<tmp>/routerfix-<uid>/locks``), held by the open file, so the kernel releases it when the process dies,
even by kill -9. Locks are per open file, so threads of one process (a fleet run) exclude each other too;
the same thread may take the same device's lock again (nested calls).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from routerfix.errors import DeviceBusy, InvalidValue
from routerfix.records import DeviceKey

__all__ = ["DEFAULT_LOCK_WAIT", "device_lock", "lock_dir"]

DEFAULT_LOCK_WAIT = 10.0
"""Seconds a run waits for another run on the same device before refusing."""
MAX_LOCK_WAIT = 3600.0
_POLL = 0.05

_held = threading.local()


def lock_dir() -> Path:
    """Where the lock files are (created private on first use)."""
    env = os.environ.get("ROUTERFIX_LOCK_DIR")
    path = Path(env) if env else Path(tempfile.gettempdir()) / f"routerfix-{os.getuid()}" / "locks"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _lock_path(key: DeviceKey) -> Path:
    digest = hashlib.sha256(f"{key.driver}\0{key.host.lower()}\0{key.port}".encode()).hexdigest()[:24]
    return lock_dir() / f"{key.slug[:60]}-{digest}.lock"


@contextlib.contextmanager
def device_lock(key: DeviceKey, *, wait: float | None = None) -> Iterator[None]:
    """Hold the lock of ``key`` during the block; wait up to ``wait`` seconds (default
    :data:`DEFAULT_LOCK_WAIT`, 0: refuse at once) for another run to finish.

    :raises DeviceBusy: another run holds it after ``wait`` seconds (nothing was changed).
    """
    limit = DEFAULT_LOCK_WAIT if wait is None else wait
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 <= limit <= MAX_LOCK_WAIT:
        raise InvalidValue("lock_wait", limit, f"seconds from 0 to {MAX_LOCK_WAIT:g}")
    held: set[DeviceKey] = getattr(_held, "keys", None) or set()
    _held.keys = held
    if key in held:
        yield
        return
    path = _lock_path(key)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + limit
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DeviceBusy(f"another routerfix run is working on {key.describe()} (waited {limit:g} s); "
                                     f"nothing was changed: run again when it has finished",
                                     host=key.host, driver=key.driver) from None
                time.sleep(_POLL)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
