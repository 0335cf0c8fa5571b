"""Start-up cost: `import routerfix` (median of N fresh interpreters, minus a bare interpreter) and
`routerfix --help`. Also checks that no driver dependency is imported.

Run: .venv/bin/python benchmarks/import_time.py [--runs 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

HEAVY = ("netmiko", "paramiko", "requests", "bs4", "asyncssh", "rich", "tenacity", "netaddr")


def _time(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def measure(runs: int) -> dict[str, object]:
    """Median wall times in milliseconds."""
    bare = _time([sys.executable, "-c", "pass"], runs)
    imported = _time([sys.executable, "-c", "import routerfix"], runs)
    helped = _time([sys.executable, "-m", "routerfix.cli", "--help"], runs)
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, routerfix; print([m for m in {HEAVY!r} if m in sys.modules])"],
        check=True, capture_output=True, text=True).stdout.strip()
    self_time = subprocess.run([sys.executable, "-X", "importtime", "-c", "import routerfix"], check=True,
                               capture_output=True, text=True).stderr.strip().splitlines()[-1]
    return {
        "runs": runs,
        "bare_interpreter_ms": round(bare * 1000, 1),
        "import_routerfix_ms": round((imported - bare) * 1000, 1),
        "routerfix_help_ms": round(helped * 1000, 1),
        "heavy_modules_imported": loaded,
        "importtime_last_line": self_time,
    }


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.runs)
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
