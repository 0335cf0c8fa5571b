"""``routerfix probe ADDRESS``: check from outside whether anything answers SIP at a site.

Exit codes of the command (so scripts and monitoring can alert):

- ``0``: nothing answered on any port/transport (the site looks mitigated);
- ``1``: something answered (a SIP response, or a TCP connection accepted): the site is exposed;
- ``2``: usage error (not exactly one valid address, bad timeout).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from routerfix.errors import InvalidValue
from routerfix.probe import DEFAULT_TIMEOUT, ProbeResult, probe

__all__ = ["EXIT_ANSWERED", "EXIT_QUIET", "EXIT_USAGE", "handler", "main", "register", "render"]

EXIT_QUIET, EXIT_ANSWERED, EXIT_USAGE = 0, 1, 2

_DESCRIPTION = ("Send SIP OPTIONS over UDP and TCP to ports 5060 and 5061 of ADDRESS (and nothing else) and "
                "report what answered, with its User-Agent. Run it from outside the site's network.")
_EPILOG = "exit codes: 0 nothing answered; 1 something answered (exposed); 2 usage error"


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDRESS", help="the one IPv4/IPv6 address to probe (the site's WAN)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                        help=f"seconds to wait per port and transport (default {DEFAULT_TIMEOUT:g}, at most 30)")


def register(subparsers: Any) -> None:
    """Add the ``probe`` command to the ``routerfix`` command's subparsers."""
    parser = subparsers.add_parser("probe", help="check from outside whether anything answers SIP at an address",
                                   description=_DESCRIPTION, epilog=_EPILOG)
    _add_arguments(parser)
    parser.set_defaults(func=handler)


def render(result: ProbeResult) -> str:
    """A plain-text report of ``result``, one line per port/transport."""
    lines = [f"SIP probe of {result.address} (timeout {result.timeout:g} s per check)"]
    for a in result.answers:
        what = a.status or a.detail
        agent = f"  User-Agent: {a.user_agent}" if a.user_agent else ""
        lines.append(f"  {a.transport.upper():3} {a.port:<5}  {'ANSWERED' if a.answered else 'no answer':9}  "
                     f"{what}{agent}")
    lines.append("exposed: something answers SIP at this address" if result.answered
                 else "nothing answered: SIP scans of this address reach no phone")
    return "\n".join(lines)


def handler(args: argparse.Namespace) -> int:
    """Run the probe for parsed ``args``; returns the exit code (see the module docstring)."""
    try:
        result = probe(args.address, timeout=args.timeout)
    except InvalidValue as exc:
        sys.stderr.write(f"routerfix probe: {exc}\n")
        if getattr(args, "json", False):
            sys.stdout.write(json.dumps({"error": exc.to_dict()}) + "\n")
        return EXIT_USAGE
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
    else:
        sys.stdout.write(render(result) + "\n")
    return EXIT_ANSWERED if result.answered else EXIT_QUIET


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``probe`` on its own (``python -m routerfix.cli.probe ADDRESS``); returns the exit code."""
    parser = argparse.ArgumentParser(prog="routerfix probe", description=_DESCRIPTION, epilog=_EPILOG)
    _add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code not in (0, None) else EXIT_QUIET
    return handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
