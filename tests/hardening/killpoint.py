"""Run the real ``routerfix`` command line, stopping the process itself at its N-th write.

Usage: ``python killpoint.py N WHEN SIGNAL -- <routerfix arguments>``

* ``N``: which write verb call (1-based, counted over the whole process; 0: never).
* ``WHEN``: ``before`` (the verb is called but nothing is sent yet), ``after`` (its answer came back) or
  ``during`` (the signal comes ``KILLPOINT_DELAY`` seconds, default 0.15, after the verb starts: with a
  simulator that answers late, while the driver waits for the device's answer).
* ``SIGNAL``: ``KILL`` (kill -9: nothing runs after it), ``TERM`` or ``INT``.

The signal is sent by the process to itself with :func:`os.kill`, so the point is exact. With the environment
variable ``KILLPOINT_COUNT`` set to a file, the number of write verb calls is written there at exit (a clean
run measures the points). The routerfix code that runs is unchanged: only the write verbs of the driver base
class are wrapped to count.
"""

from __future__ import annotations

import atexit
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from routerfix.driver import Driver

VERBS = ("set_nat_mode", "add_port_forward", "remove_port_forward", "reserve_address", "release_address",
         "set_sip_alg", "flush_connections", "restore_port_forward")


def arm(n: int, when: str, signum: int) -> list[int]:
    """Wrap the write verbs of :class:`Driver`; returns the live call counter."""
    count = [0]

    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def verb(self: Driver, *args: Any, **kwargs: Any) -> Any:
            count[0] += 1
            hit = count[0] == n
            if hit and when == "before":
                os.kill(os.getpid(), signum)
            if hit and when == "during":
                delay = float(os.environ.get("KILLPOINT_DELAY", "0.15"))
                threading.Timer(delay, os.kill, (os.getpid(), signum)).start()
            value = original(self, *args, **kwargs)
            if hit and when == "after":
                os.kill(os.getpid(), signum)
            return value
        return verb

    for name in VERBS:
        setattr(Driver, name, wrap(getattr(Driver, name)))
    return count


def main(argv: list[str]) -> int:
    n, when, sig = int(argv[0]), argv[1], getattr(signal, f"SIG{argv[2]}")
    assert argv[3] == "--" and when in ("before", "after", "during")
    count = arm(n, when, sig)
    out = os.environ.get("KILLPOINT_COUNT")
    if out:
        atexit.register(lambda: open(out, "w").write(str(count[0])))
    from routerfix.cli import main as routerfix_main

    return routerfix_main(argv[4:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
