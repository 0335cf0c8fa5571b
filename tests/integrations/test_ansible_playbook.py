"""The Ansible collection through real ``ansible-playbook`` runs (examples/playbook.yml) on localhost
against file-backed memory routers: check mode, apply, idempotent rerun, undo, failures, no secrets."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from integration_support import EXAMPLES, REPO

pytestmark = pytest.mark.timeout(240)

RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def _play(exe: str, state: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, str, dict[str, Any]]:
    run_env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(REPO), "ROUTERFIX_STATE_DIR": str(state),
               "ROUTERFIX_PASSWORD": "admin", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
               "ANSIBLE_LOCAL_TEMP": str(state / ".ansible-tmp"), "ANSIBLE_HOME": str(state / ".ansible"),
               **(env or {})}
    proc = subprocess.run([exe, "-i", str(EXAMPLES / "ansible_hosts.yml"), str(EXAMPLES / "playbook.yml"), *extra],
                          capture_output=True, text=True, env=run_env, timeout=180)
    out = proc.stdout + proc.stderr
    recap = {m[0]: {"ok": int(m[1]), "changed": int(m[2]), "failed": int(m[4])} for m in RECAP.findall(out)}
    return proc.returncode, out, recap


def _router(state: Path, host: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((state / f"{host}.router.json").read_text())
    return data


@pytest.mark.slow
def test_check_apply_rerun_undo(ansible_available: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    code, out, recap = _play(ansible_available, state, "--check", "--diff")
    assert code == 0, out
    assert set(recap) == {"dental-office", "law-firm"} and recap["law-firm"]["changed"] == 1   # would change
    assert "+forward routerfix-sip: both 5060-5061" in out and "+nat filtering: secure" in out
    assert not (state / "law-firm.router.json").exists()          # check mode wrote nothing

    code, out, recap = _play(ansible_available, state)
    assert code == 0, out
    assert recap["law-firm"]["changed"] == 1 and recap["law-firm"]["failed"] == 0
    assert "law-firm: mitigated sink 192.168.1.198" in out
    router = _router(state, "law-firm")
    assert router["nat_mode"] == "secure" and router["sip_alg"] is False
    assert [f["name"] for f in router["forwards"]] == ["routerfix-sip"]
    assert list((state / "law-firm").glob("*-mitigate.json"))      # the undo record

    code, out, recap = _play(ansible_available, state)
    assert code == 0 and recap["law-firm"]["changed"] == 0 and recap["dental-office"]["changed"] == 0, out
    assert "law-firm: unchanged" in out

    code, out, recap = _play(ansible_available, state, "-e", "mitigation_state=absent", "--diff")
    assert code == 0 and recap["law-firm"]["changed"] == 1, out
    router = _router(state, "law-firm")
    assert router["nat_mode"] == "open" and router["sip_alg"] is True and router["forwards"] == []
    code, out, recap = _play(ansible_available, state, "-e", "mitigation_state=absent")
    assert code == 0 and recap["law-firm"]["changed"] == 0 and "nothing_to_undo" in out


@pytest.mark.slow
def test_failures_are_reported_per_host_and_no_secret_leaks(ansible_available: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    # law-firm's router already forwards SIP to a PBX: the module must fail that host only
    code, out, recap = _play(ansible_available, state, "-vvv", "-l", "law-firm", "-e", "memory_scenario=pbx")
    assert code == 2 and recap["law-firm"]["failed"] == 1, out
    assert "ForwardConflict" in out and "WAN SIP ports are already forwarded" in out
    assert not (state / "law-firm.router.json").exists()
    code, out, recap = _play(ansible_available, state, "-vvv", env={"ROUTERFIX_PASSWORD": "Wr0ng-Pa55word"})
    assert code == 2 and recap["law-firm"]["failed"] == 1 and recap["dental-office"]["failed"] == 1
    assert "AuthenticationError" in out
    assert "Wr0ng-Pa55word" not in out                              # -vvv: module args are masked
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in out or "********" in out
    code, out, recap = _play(ansible_available, state, "-vvv")
    assert code == 0, out
    assert re.search(r"\badmin\b", out) is None                     # the real password appears nowhere
