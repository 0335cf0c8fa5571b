"""The ``routerfix diagnose EVIDENCE…`` command."""

from __future__ import annotations

import argparse
from typing import Any

from routerfix.cli.common import emit


def cmd_diagnose(args: argparse.Namespace) -> int:
    """Read captures and SIP logs: is the ringing a scan, does it reach a phone, does the fix hold?
    Exit 0 (no scan, or scans blocked), 7 (scans reach a phone: mitigate), 5 (they do although the router is
    mitigated: replace it), 8 (not enough evidence)."""
    from routerfix.diagnose import Limits, diagnose

    defaults = Limits()
    limits = Limits(max_bytes_per_file=defaults.max_bytes_per_file if args.max_bytes is None else args.max_bytes,
                    max_packets=defaults.max_packets if args.max_packets is None else args.max_packets)
    result = diagnose(args.evidence, mitigated=args.mitigated, phones=args.phone, providers=args.provider,
                      limits=limits)
    emit(args, result.to_dict(), result)
    return result.exit_code


def register(subparsers: Any) -> None:
    """Add ``diagnose`` to the ``routerfix`` command's subparsers."""
    p = subparsers.add_parser("diagnose",
                              help="from captures and SIP logs: is the ringing a scan, does it reach a phone, does "
                                   "the fix hold")
    p.add_argument("evidence", nargs="+", metavar="EVIDENCE",
                   help="pcap/pcapng capture, sipp -trace_msg file, Asterisk full/security log, Kamailio sipdump file")
    p.add_argument("--mitigated", action="store_true",
                   help="the router already carries routerfix's mitigation (scans reaching a phone: replace it)")
    p.add_argument("--phone", action="append", default=[], metavar="ADDR", help="a phone's address (repeatable)")
    p.add_argument("--provider", action="append", default=[], metavar="ADDR",
                   help="an address of the provider's registrar or SBC (repeatable)")
    p.add_argument("--max-bytes", type=int, metavar="N", help="read at most N bytes of each file (default 512 MiB)")
    p.add_argument("--max-packets", type=int, metavar="N", help="read at most N packets/records in all (default 5M)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_diagnose)
