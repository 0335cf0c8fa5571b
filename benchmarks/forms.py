"""parse_forms on the web simulators' real pages: microseconds per page, old (a BeautifulSoup tree) vs new.

The pages are every page the form-driven web drivers (Netgear ACOS and net-cgi, Belkin, AT&T) ask for their forms
during one mitigation and its undo against their simulators: :func:`simulator_pages` runs those sessions and keeps
what reaches ``parse_forms``. Each page is then parsed ``--repeat`` times by each implementation in the same process,
side by side, and the median of ``--runs`` rounds is reported. The old implementation is the differential test's
oracle (``tests/core/test_html_forms_differential.py: _reference_parse_forms``); both must return the same forms.

    .venv/bin/python benchmarks/forms.py [--runs 5] [--repeat 200] [--json]     # ≈ 30 s
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import routerfix
from routerfix.driver import Timeouts
from routerfix.simulate import simulate
from routerfix.transport import html

ROOT = Path(__file__).resolve().parents[1]
FORM_DEVICES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("netgear", {"model": "R7000"}), ("netgear", {"model": "R7800"}), ("netgear", {"model": "R6700"}),
    ("netgear", {"model": "R9000"}), ("belkin", {}), ("att", {}), ("att", {"model": "BGW210-700"}))
"""The simulated devices whose drivers read HTML forms (driver, simulator knobs)."""


@contextmanager
def _recording(pages: dict[str, str]) -> Iterator[None]:
    """Keep every (page name, text) that reaches ``parse_forms`` while inside; distinct texts of one page get
    numbered names."""
    real = html.parse_forms

    def record(text: str, page: str) -> list[html.Form]:
        if isinstance(text, str) and text not in pages.values():
            pages[page if page not in pages else f"{page}#{len(pages)}"] = text
        return real(text, page)

    html.parse_forms = record  # type: ignore[assignment]
    try:
        yield
    finally:
        html.parse_forms = real  # type: ignore[assignment]


def simulator_pages(devices: tuple[tuple[str, dict[str, Any]], ...] = FORM_DEVICES) -> dict[str, str]:
    """The pages read for their forms in a mitigation and its undo on each device, by name."""
    pages: dict[str, str] = {}
    timeouts = Timeouts(connect=5, read=5, apply=2)
    for driver, knobs in devices:
        with _recording(pages), simulate(driver, **knobs) as device, tempfile.TemporaryDirectory() as state, \
                routerfix.connect(driver, device.host, **{**device.connect_options(), "timeouts": timeouts}) as d:
            result = routerfix.apply_ghostcall_mitigation(d, state_dir=state)
            routerfix.remove_ghostcall_mitigation(d, record=result.to_dict(), state_dir=state)
    return pages


def _reference() -> Callable[[str, str], list[html.Form]]:
    sys.path.insert(0, str(ROOT / "tests" / "core"))
    from test_html_forms_differential import _reference_parse_forms

    return _reference_parse_forms


def _per_page_us(parse: Callable[[str, str], list[html.Form]], pages: dict[str, str], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        for name, text in pages.items():
            parse(text, name)
    return (time.perf_counter() - start) / (repeat * len(pages)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from _support import private_lock_dir  # run as a script from benchmarks/ (sys.path[0])

    private_lock_dir()  # the routers' lock files go with the run
    pages = simulator_pages()
    old = _reference()
    for name, text in pages.items():
        assert html.parse_forms(text, name) == old(text, name), name
    rounds = {"old_us": [], "new_us": []}  # type: dict[str, list[float]]
    for _ in range(args.runs):
        rounds["old_us"].append(_per_page_us(old, pages, args.repeat))
        rounds["new_us"].append(_per_page_us(html.parse_forms, pages, args.repeat))
    out = {key: round(statistics.median(values), 1) for key, values in rounds.items()}
    out |= {"pages": len(pages), "mean_page_chars": round(sum(map(len, pages.values())) / len(pages)),
            "speedup": round(out["old_us"] / out["new_us"], 2)}
    if args.json:
        print(json.dumps(out))
        return
    print(f"{out['pages']} pages (mean {out['mean_page_chars']} chars), median of {args.runs} x {args.repeat}:")
    print(f"  old (bs4 tree)      {out['old_us']:8.1f} µs/page")
    print(f"  new (html.parser)   {out['new_us']:8.1f} µs/page   ({out['speedup']}x)")


if __name__ == "__main__":
    main()
