"""``routerfix detect HOST``: which driver fits a device, found without credentials.

Exit codes: ``0`` one driver identified; ``1`` ambiguous, unknown or unreachable (the candidates and what was
seen are listed); ``2`` usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from routerfix.detect import Detection, DetectStatus, detect

__all__ = ["EXIT_IDENTIFIED", "EXIT_UNSURE", "EXIT_USAGE", "handler", "register", "render"]

EXIT_IDENTIFIED, EXIT_UNSURE, EXIT_USAGE = 0, 1, 2


def register(subparsers: Any) -> None:
    """Add the ``detect`` command to the ``routerfix`` command's subparsers."""
    parser = subparsers.add_parser(
        "detect", help="name the driver for a device, without credentials",
        description="Read the SSH identification or a few unauthenticated web pages of HOST (and nothing else) "
                    "and name the routerfix driver, model and firmware, with the evidence.",
        epilog="exit codes: 0 identified; 1 ambiguous, unknown or unreachable; 2 usage error")
    parser.add_argument("host", metavar="HOST", help="the device's address or name")
    parser.add_argument("--port", "-p", type=int, action="append", metavar="PORT",
                        help="port to try (repeatable; default 22, 443, 80: the first that answers decides)")
    parser.add_argument("--timeout", type=float, default=3.0, metavar="S", help="per connection (default 3)")
    parser.add_argument("--deadline", type=float, default=15.0, metavar="S", help="for the whole run (default 15)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=handler)


def render(result: Detection) -> str:
    """A plain-text report."""
    lines = [f"{result.host}: {result.status}" + (f" -> driver {result.driver}" if result.driver else "")]
    for m in result.matches:
        about = ", ".join(f"{k} {v}" for k, v in (("model", m.model), ("firmware", m.firmware)) if v)
        lines.append(f"  {m.driver:<10} confidence {m.confidence.name.lower():<6} port {m.port}"
                     f"{'  ' + about if about else ''}")
        lines.extend(f"      {e}" for e in m.evidence)
    if result.status is DetectStatus.AMBIGUOUS:
        lines.append("  several drivers fit: choose one with --driver")
    lines.append("seen:")
    lines.extend(f"  {s}" for s in result.seen)
    return "\n".join(lines)


def handler(args: argparse.Namespace) -> int:
    """Run detection for parsed ``args``."""
    if not 0 < args.timeout <= 30 or not 0 < args.deadline <= 120 or any(not 0 < p < 65536 for p in args.port or []):
        sys.stderr.write("error: timeout 0-30 s, deadline 0-120 s, ports 1-65535\n")
        return EXIT_USAGE
    result = detect(args.host, args.port, timeout=args.timeout, deadline=args.deadline)
    sys.stdout.write((json.dumps(result.to_dict(), indent=2) if args.json else render(result)) + "\n")
    return EXIT_IDENTIFIED if result.status is DetectStatus.IDENTIFIED else EXIT_UNSURE
