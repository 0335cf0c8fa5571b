"""The ``routerfix diagnose [EVIDENCE…] [--driver D --host H --capture SECONDS]`` command."""

from __future__ import annotations

import argparse
from typing import Any

from routerfix.cli.common import add_connection_arguments, connect_from_args, emit
from routerfix.errors import InvalidValue


def cmd_diagnose(args: argparse.Namespace) -> int:
    """Read captures and SIP logs (and/or capture live on the router): is the ringing a scan, does it reach a
    phone, does the fix hold? Exit 0 (no scan, or scans blocked), 7 (scans reach a phone: mitigate), 5 (they do
    although the router is mitigated: replace it), 8 (not enough evidence)."""
    from routerfix.diagnose import Limits, diagnose

    defaults = Limits()
    limits = Limits(max_bytes_per_file=defaults.max_bytes_per_file if args.max_bytes is None else args.max_bytes,
                    max_packets=defaults.max_packets if args.max_packets is None else args.max_packets)
    if args.capture is None:
        if not args.evidence:
            raise InvalidValue("evidence", [], "a capture or log file, or --capture SECONDS with --driver and --host")
        result = diagnose(args.evidence, mitigated=args.mitigated, phones=args.phone, providers=args.provider,
                          sinks=args.sink, limits=limits)
    else:
        from routerfix.diagnose.live import check_bounds, diagnose_live

        if not args.driver or not args.host:
            raise InvalidValue("--capture", args.capture, "--driver and --host with it (the router to capture on)")
        check_bounds(args.capture, args.capture_packets)
        with connect_from_args(args) as driver:
            result = diagnose_live(driver, args.capture, max_packets=args.capture_packets, evidence=args.evidence,
                                   mitigated=True if args.mitigated else None, phones=args.phone,
                                   providers=args.provider, sinks=args.sink, limits=limits,
                                   save_to=args.save_capture)
    emit(args, result.to_dict(), result)
    return result.exit_code


def register(subparsers: Any) -> None:
    """Add ``diagnose`` to the ``routerfix`` command's subparsers."""
    from routerfix.diagnose.live import DEFAULT_PACKETS, MAX_PACKETS, MAX_SECONDS

    p = subparsers.add_parser("diagnose",
                              help="from captures and SIP logs, or a live capture on the router: is the ringing a "
                                   "scan, does it reach a phone, does the fix hold")
    p.add_argument("evidence", nargs="*", metavar="EVIDENCE",
                   help="pcap/pcapng capture, sipp -trace_msg file, Asterisk full/security log, Kamailio sipdump file")
    p.add_argument("--mitigated", action="store_true",
                   help="the router already carries routerfix's mitigation (scans reaching a phone: replace it); with "
                        "--capture it is read from the router unless given")
    p.add_argument("--phone", action="append", default=[], metavar="ADDR", help="a phone's address (repeatable)")
    p.add_argument("--provider", action="append", default=[], metavar="ADDR",
                   help="an address of the provider's registrar or SBC (repeatable)")
    p.add_argument("--sink", action="append", default=[], metavar="ADDR",
                   help="the mitigation's sink address (repeatable): a scan delivered there goes nowhere; with "
                        "--capture, the router's own sink is read")
    p.add_argument("--max-bytes", type=int, metavar="N", help="read at most N bytes of each file (default 512 MiB)")
    p.add_argument("--max-packets", type=int, metavar="N", help="read at most N packets/records in all (default 5M)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    live = p.add_argument_group("live capture on the router (with --driver and --host)")
    live.add_argument("--capture", type=float, metavar="SECONDS",
                      help=f"capture SIP on the router's WAN and LAN sides for SECONDS (1-{MAX_SECONDS}), remove the "
                           "capture from the router, and diagnose both sides together")
    live.add_argument("--capture-packets", type=int, default=DEFAULT_PACKETS, metavar="N",
                      help=f"stop each side after N packets (default {DEFAULT_PACKETS}, at most {MAX_PACKETS})")
    live.add_argument("--save-capture", metavar="DIR", help="keep the two pcap files in DIR")
    add_connection_arguments(p)
    p.set_defaults(func=cmd_diagnose)
