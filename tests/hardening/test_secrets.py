"""Item 4: a canary password never shows: not in DEBUG logs (routerfix, netmiko, paramiko, urllib3), reprs,
exceptions (with notes and causes), results, JSON, the CLI's ``--debug --json`` output and files, or Ansible's
``-vvv`` output — over SSH and web drivers, on success, on a wrong password and on a dropped connection.

Derived forms are searched for too: base64 of ``user:password`` and of the password, and its URL-encoding.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import traceback
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from routerfix.simulators._hosts.ssh import SSHSimulatorHost

import routerfix
from routerfix.errors import RouterfixError

from .faults import FAST, fresh_device, open_driver, ssh_device
from .targets import ALL_TARGETS, Target

CANARY = "Kanary7Qz9xPw41"
WRONG = "Wr0ngKanary88zz"
LOGGERS = ("routerfix", "netmiko", "paramiko", "urllib3", "requests")
REPO = Path(__file__).resolve().parents[2]


def forms(secret: str, user: str = "admin") -> list[str]:
    """The secret and the encodings a driver might send or log."""
    return [secret, base64.b64encode(f"{user}:{secret}".encode()).decode(), base64.b64encode(secret.encode()).decode(),
            urllib.parse.quote(secret), secret[::-1]]


def assert_clean(text: str, where: str, secret: str = CANARY) -> None:
    for form in forms(secret):
        assert form not in text, f"{form!r} (a form of the password) found in {where}"


@pytest.fixture
def debug_logs() -> Iterator[io.StringIO]:
    """Every logger of interest at DEBUG into one buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    root = logging.getLogger()
    root.addHandler(handler)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _texts_of_error(exc: BaseException) -> str:
    parts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    if isinstance(exc, RouterfixError):
        parts.append(json.dumps(exc.to_dict()))
    return "\n".join(parts)


NO_PASSWORD_KNOB = frozenset({"cisco_ios", "vyos", "edgeos", "openwrt"})
"""Simulators with a fixed account password (set on their SSH device instead)."""
WIRE_TARGETS = [t for t in ALL_TARGETS if t.kind != "memory" and t.id != "mikrotik-v6"]


@pytest.mark.parametrize("target", WIRE_TARGETS, ids=str)
def test_canary_never_shows(target: Target, ssh_host: SSHSimulatorHost, debug_logs: io.StringIO) -> None:
    seen: list[str] = []
    knobs = {} if target.driver in NO_PASSWORD_KNOB else {"password": CANARY}
    with fresh_device(target, ssh_host, **knobs) as device:
        if target.driver in NO_PASSWORD_KNOB:  # set the account's password on the SSH server itself
            ssh_device(device).password = CANARY
        else:
            assert device.password == CANARY
        with open_driver(target, device, password=CANARY) as d:
            seen += [repr(d), str(d)]
            state = d.read_state()
            seen += [repr(state)]
            plan = routerfix.plan_ghostcall_mitigation(d)
            seen += [repr(plan), plan.diff(), json.dumps(plan.to_dict())]
            result = routerfix.apply_ghostcall_mitigation(d)
            seen += [repr(result), str(result), result.to_json() if hasattr(result, "to_json") else "",
                     json.dumps(result.to_dict())]
            undo = routerfix.remove_ghostcall_mitigation(d, record=result.to_dict())
            seen += [repr(undo), json.dumps(undo.to_dict())]
        # a wrong password: the canary is now the wrong one, sent to a device that expects another
        try:
            routerfix.connect(target.driver, device.host, timeouts=FAST,
                              **{**device.connect_options(), "password": WRONG})
        except RouterfixError as exc:
            seen.append(_texts_of_error(exc))
            wrong_error = exc
        else:
            raise AssertionError("a wrong password was accepted")
        # a dropped connection in the middle of a run, rolled back or completed
        with open_driver(target, device, password=CANARY) as d:
            if target.kind == "ssh":
                ssh_device(device).drop_after(3, executes=True)
            else:
                from .faults import _http

                _http(device).add_fault("drop-after", skip=3)
            try:
                seen.append(repr(routerfix.apply_ghostcall_mitigation(d)))
            except RouterfixError as exc:
                seen.append(_texts_of_error(exc))
    logs = debug_logs.getvalue()
    assert "DEBUG" in logs and len(logs) > 1000, "DEBUG logging did not reach the buffer: the test would prove nothing"
    assert_clean(logs, "DEBUG logs")
    assert_clean(logs, "DEBUG logs", WRONG)
    everything = "\n".join(seen)
    assert_clean(everything, "reprs, results, JSON or errors")
    assert_clean(everything, "the wrong-password error", WRONG)
    assert isinstance(wrong_error, routerfix.AuthenticationError), wrong_error


def test_the_check_can_fail() -> None:
    """assert_clean finds a leak, plain or base64 of user:password."""
    for leak in (f"password={CANARY}", "Authorization: Basic " + base64.b64encode(f"admin:{CANARY}".encode()).decode()):
        with pytest.raises(AssertionError):
            assert_clean(leak, "a planted leak")


def _cli(args: list[str], env_password: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROUTERFIX_PASSWORD": env_password, "ROUTERFIX_STATE_DIR": str(tmp / "state"),
           "HOME": str(tmp)}
    return subprocess.run([sys.executable, "-m", "routerfix.cli", "--debug", *args], capture_output=True, text=True,
                          env=env, timeout=120, cwd=tmp)


@pytest.mark.parametrize("target_id", ["mikrotik-v7", "netgear-R7000", "asuswrt"])
def test_cli_debug_json_never_shows_the_password(target_id: str, ssh_host: SSHSimulatorHost, tmp_path: Path) -> None:
    target = next(t for t in ALL_TARGETS if t.id == target_id)
    with fresh_device(target, ssh_host, password=CANARY) as device:
        base = ["--json", "--driver", target.driver, "--host", device.host, "--port", str(device.port),
                "--username", device.username, "--no-prompt", "--timeout", "5"]
        base += [x for k, v in device.options.items() for x in ("--option", f"{k}={v}")]
        outputs = []
        for command, extra, password in (("show", [], CANARY), ("mitigate", ["--yes", "--state-dir",
                                         str(tmp_path / "state")], CANARY), ("plan", [], WRONG)):
            proc = _cli([command, *base, *extra], password, tmp_path)
            outputs.append((command, proc))
        codes = {c: p.returncode for c, p in outputs}
        assert codes["show"] == 0 and codes["mitigate"] == 0 and codes["plan"] == 3, \
            (codes, [p.stderr[-2000:] for _, p in outputs])
        for command, proc in outputs:
            assert "DEBUG" in proc.stderr, f"{command}: --debug produced no DEBUG lines"
            assert_clean(proc.stdout + proc.stderr, f"`routerfix {command} --debug --json` output")
            assert_clean(proc.stdout + proc.stderr, f"`routerfix {command}` output", WRONG)
        json.loads(outputs[1][1].stdout)
        files = [p for p in (tmp_path / "state").rglob("*") if p.is_file()]
        assert files, "mitigate saved no record"
        for path in files:
            assert_clean(path.read_text(errors="replace"), f"saved file {path.name}")


PLAYBOOK = """
- hosts: routers
  connection: local
  gather_facts: false
  tasks:
    - name: mitigate
      routerfix.routerfix.ghostcall_mitigation:
        driver: "{{ routerfix_driver }}"
        host: 127.0.0.1
        port: "{{ routerfix_port }}"
        username: "{{ routerfix_user }}"
        driver_options: "{{ routerfix_options }}"
        state_dir: "{{ state_dir }}"
"""


@pytest.mark.slow
def test_ansible_vvv_never_shows_the_password(ssh_host: SSHSimulatorHost, tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "ansible-playbook"
    if not exe.exists():
        found = shutil.which("ansible-playbook")
        if found is None:
            pytest.skip("ansible-core is not installed")
        exe = Path(found)
    targets = [next(t for t in ALL_TARGETS if t.id == i) for i in ("mikrotik-v7", "netgear-R7000")]
    with fresh_device(targets[0], ssh_host, password=CANARY) as ssh_dev, \
            fresh_device(targets[1], password=CANARY) as web_dev:
        hosts: dict[str, Any] = {}
        for target, dev in zip(targets, (ssh_dev, web_dev), strict=True):
            hosts[target.id] = {"ansible_python_interpreter": sys.executable, "routerfix_driver": target.driver,
                                "routerfix_port": dev.port, "routerfix_user": dev.username,
                                "routerfix_options": dict(dev.options), "state_dir": str(tmp_path / "state")}
        (tmp_path / "hosts.json").write_text(json.dumps({"routers": {"hosts": hosts}}))
        (tmp_path / "play.yml").write_text(PLAYBOOK)
        results = []
        for password in (CANARY, WRONG):
            env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(REPO), "ROUTERFIX_PASSWORD": password,
                   "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(tmp_path / ".atmp"),
                   "ANSIBLE_HOME": str(tmp_path / ".ansible"), "ROUTERFIX_STATE_DIR": str(tmp_path / "state")}
            proc = subprocess.run([str(exe), "-vvv", "-i", str(tmp_path / "hosts.json"), str(tmp_path / "play.yml")],
                                  capture_output=True, text=True, env=env, timeout=180, cwd=tmp_path)
            results.append(proc)
        ok, wrong = results
        assert ok.returncode == 0, ok.stdout[-3000:] + ok.stderr[-2000:]
        assert wrong.returncode != 0 and "AuthenticationError" in wrong.stdout + wrong.stderr
        for proc in results:
            out = proc.stdout + proc.stderr
            assert "<127.0.0.1>" in out or "ESTABLISH LOCAL" in out, "not -vvv output"
            assert_clean(out, "ansible-playbook -vvv output")
            assert_clean(out, "ansible-playbook -vvv output", WRONG)


@pytest.mark.parametrize("target", WIRE_TARGETS, ids=str)
def test_driver_attributes_hold_no_plain_secret(target: Target, ssh_host: SSHSimulatorHost) -> None:
    """What a traceback with locals would print of the driver: its attributes' reprs (Secret shows ********)."""
    knobs = {} if target.driver in NO_PASSWORD_KNOB else {"password": CANARY}
    with fresh_device(target, ssh_host, **knobs) as device:
        if target.driver in NO_PASSWORD_KNOB:
            ssh_device(device).password = CANARY
        with open_driver(target, device, password=CANARY) as d:
            d.read_state()
            assert_clean(repr(vars(d)), f"{target.driver} driver attributes")
