"""What the lab's LAN host runs: routerfix with the ``linux`` driver over real SSH to the router.

Run by :meth:`netlab.Lab.routerfix` inside the LAN host's namespace::

    lanhost.py apply|undo|plan|show --router 192.168.88.1 --key KEY --known-hosts FILE --state RESULT.json
               [--option name=value ...]

Prints one JSON line: the result (``to_dict()``) plus ``_seconds`` (wall time), ``_writes`` (write verbs sent)
and, for ``show``, the state read. Exit code 0 on success, 1 on a routerfix error (JSON ``error``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import routerfix
from routerfix.model import to_data


def main() -> int:
    """Parse the arguments, run the command, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=("apply", "undo", "plan", "show"))
    parser.add_argument("--router", required=True)
    parser.add_argument("--user", default="root")
    parser.add_argument("--key", required=True)
    parser.add_argument("--known-hosts", required=True)
    parser.add_argument("--state", required=True, help="where apply saves its result (undo reads it)")
    parser.add_argument("--option", "-o", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    # The lab router is a network namespace: where the host runs systemd, a systemd-run timer would start in the
    # host's own namespace (docs/facts/linux.md L43), so the lab never arms the self-revert timer.
    # Its filesystem is this host's: the undo marker goes next to the saved result, not into the host's /var/lib.
    options: dict[str, Any] = {"key_file": args.key, "known_hosts": args.known_hosts, "self_revert": "false",
                               "undo_marker_file": str(Path(args.state).with_name("undo-marker.json"))}
    for item in args.option:
        name, _, value = item.partition("=")
        options[name] = value
    start = time.monotonic()
    out: dict[str, Any] = {}
    try:
        with routerfix.connect("linux", args.router, username=args.user, **options) as router:
            if args.command == "apply":
                result = routerfix.apply_ghostcall_mitigation(router)
                out = result.to_dict()
                if result.changed:
                    Path(args.state).write_text(result.to_json())
            elif args.command == "undo":
                record = args.state if Path(args.state).exists() else None
                out = routerfix.remove_ghostcall_mitigation(router, record=record).to_dict()
            elif args.command == "plan":
                out = routerfix.plan_ghostcall_mitigation(router).to_dict()
            else:
                state = router.read_state()
                out = {"state": to_data(state)}
            out["_writes"] = router.writes
    except routerfix.RouterfixError as exc:
        out = {"error": exc.to_dict(), "notes": list(getattr(exc, "__notes__", ()))}
        out["_seconds"] = time.monotonic() - start
        sys.stdout.write(json.dumps(out, default=str) + "\n")
        return 1
    out["_seconds"] = time.monotonic() - start
    sys.stdout.write(json.dumps(out, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
