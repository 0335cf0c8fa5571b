"""A canary password never appears in DEBUG logs, reprs, exceptions, results, JSON or CLI output."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from routerfix.drivers.memory.driver import MemoryRouter

import routerfix
from routerfix.secrets import Secret

CANARY = "Canary-7f3e-SECRET"


@pytest.fixture
def canary_router() -> MemoryRouter:
    from helpers import router

    r = router()
    r.password = CANARY
    return r


def test_canary_absent_everywhere(canary_router: MemoryRouter, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with routerfix.connect("memory", "canary", password=CANARY, router=canary_router) as d:
        texts += [repr(d), str(d.password), repr(d.password), repr(d.__dict__)]
        logging.getLogger("routerfix.test").debug("connected with %s", CANARY)
        logging.getLogger("paramiko.transport").debug("auth password=%s", CANARY)
        logging.getLogger("urllib3.connectionpool").debug(f"GET /login?pw={CANARY}")
        result = routerfix.apply_ghostcall_mitigation(d)
        texts += [result.to_json(), repr(result), result._repr_html_(), repr(result.plan)]
    try:
        routerfix.connect("memory", "canary", password=CANARY + "x", router=canary_router)
    except routerfix.AuthenticationError as exc:
        texts += [str(exc), repr(exc), json.dumps(exc.to_dict())]
    texts += [record.getMessage() for record in caplog.records]
    assert any("********" in t for t in texts)
    for text in texts:
        assert CANARY not in text


def test_secret_wrapper() -> None:
    s = Secret(CANARY)
    assert s.reveal() == CANARY and CANARY not in f"{s} {s!r}"
    assert Secret(s) == s


def test_canary_absent_from_cli_output_and_debug_logs(tmp_path: Path) -> None:
    state = tmp_path / "r.json"
    env = {**os.environ, "ROUTERFIX_PASSWORD": "admin", "ROUTERFIX_STATE_DIR": str(tmp_path)}
    base = [sys.executable, "-m", "routerfix.cli", "--debug"]
    conn = ["--driver", "memory", "--host", "cli-canary", "-o", f"state_file={state}", "--no-prompt"]
    out = subprocess.run([*base, "mitigate", *conn, "--yes", "--json"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    env["ROUTERFIX_PASSWORD"] = CANARY
    bad = subprocess.run([*base, "show", *conn], env=env, capture_output=True, text=True)
    assert bad.returncode == 3
    for text in (out.stdout, out.stderr, bad.stdout, bad.stderr, *(p.read_text() for p in tmp_path.iterdir())):
        assert CANARY not in text
