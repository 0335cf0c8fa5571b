"""Every command or flag an error, hint or note suggests works verbatim: each is taken from a real failure's output
and run (against a simulator where it is a full command), and every ``(--flag ...)`` a message in the source
suggests is a flag the parser knows."""

from __future__ import annotations

import argparse
import io
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from routerfix.cli import build_parser, main
from routerfix.simulate import simulate

REPO = Path(__file__).resolve().parents[2]
SUGGESTED_FLAG = re.compile(r"\((--[a-z][a-z-]+(?: [^\s)]+)?)\)")
"""A flag suggested in parentheses after the API spelling: ``tls_fingerprint='x' (--tls-fingerprint x)``."""


def _suggested(text: str, flag: str) -> list[str]:
    found = [shlex.split(m) for m in SUGGESTED_FLAG.findall(text) if m.split()[0] == flag]
    assert found, f"no ({flag} ...) suggestion in: {text}"
    return found[0]


def _conn(device: Any, *, skip: tuple[str, ...] = ()) -> list[str]:
    argv = ["--driver", device.driver, "--host", device.host, "--port", str(device.port), "--no-prompt"]
    if device.username:
        argv += ["--username", device.username]
    return argv + [x for k, v in device.options.items() if k not in skip for x in ("-o", f"{k}={v}")]


@pytest.fixture
def password_of(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def use(device: Any) -> None:
        monkeypatch.setenv("ROUTERFIX_PASSWORD", str(device.password.reveal() if hasattr(device.password, "reveal")
                                                     else device.password or ""))
    yield use


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of ``parser`` and of its subcommands, recursively."""
    found: set[str] = set()
    for action in parser._actions:
        found |= set(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _flags(sub)
    return found


def test_every_suggested_flag_in_the_source_is_a_real_flag() -> None:
    known = _flags(build_parser())
    texts = [p.read_text() for p in (REPO / "routerfix").rglob("*.py")]
    suggested = {m.split()[0] for t in texts for m in SUGGESTED_FLAG.findall(t)}
    suggested |= {m for t in texts for m in re.findall(r"(?:with|rerun with|choose one with) (--[a-z][a-z-]+)", t)}
    assert suggested, "the scan found nothing: the pattern is stale"
    assert suggested <= known, f"suggested but unknown to the parser: {sorted(suggested - known)}"


def test_simulate_prints_a_command_that_works(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "HOME": str(tmp_path), "ROUTERFIX_STATE_DIR": str(tmp_path / "state")}
    env.pop("ROUTERFIX_PASSWORD", None)
    for driver in ("upnp", "mikrotik"):   # a web device without a user name, an SSH device with a pinned key
        sim = subprocess.Popen([sys.executable, "-m", "routerfix.cli", "simulate", driver, "--duration", "60"],
                               stdout=subprocess.PIPE, text=True, env=env)
        try:
            assert sim.stdout is not None
            line = next(line for line in sim.stdout if line.startswith("connect with: "))
            command = line.removeprefix("connect with: ").strip()
            assert "--username  " not in command
            done = subprocess.run(command, shell=True, env=env, capture_output=True, text=True,  # noqa: S602
                                  timeout=60)
            assert done.returncode == 0, (command, done.stderr)
        finally:
            sim.terminate()
            sim.wait(timeout=30)


def test_tls_pin_suggestion(password_of: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with simulate("netgear") as device:
        password_of(device)
        argv = ["show", *_conn(device, skip=("tls_fingerprint",))]
        assert main(argv) == 3
        assert main([*argv, *_suggested(capsys.readouterr().err, "--tls-fingerprint")]) == 0


def test_ssh_host_key_suggestions(password_of: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    with simulate("mikrotik") as device:
        password_of(device)
        argv = ["show", *_conn(device, skip=("host_key_fingerprint",)), "--known-hosts", str(known)]
        assert main(argv) == 3
        err = capsys.readouterr().err
        assert main([*argv, *_suggested(err, "--host-key-fingerprint")]) == 0
        assert main([*argv, *_suggested(err, "--accept-new-host-key")]) == 0
        assert main(argv) == 0, "--accept-new-host-key did not add the key to known_hosts"


def _memory(tmp_path: Path, scenario: str = "office", **options: str) -> list[str]:
    argv = ["--driver", "memory", "--host", "site-a", "--no-prompt", "-o", f"state_file={tmp_path / 'router.json'}",
            "-o", f"scenario={scenario}", "--state-dir", str(tmp_path / "state")]
    return argv + [x for k, v in options.items() for x in ("-o", f"{k}={v}")]


def test_conflict_and_confirmation_suggestions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ROUTERFIX_PASSWORD", "admin")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))   # no terminal to confirm on
    argv = ["mitigate", *_memory(tmp_path, "pbx")]
    assert main(argv) == 4
    argv += _suggested(capsys.readouterr().err, "--replace-conflicting")
    assert main(argv) == 2
    assert "expected --yes" in capsys.readouterr().err
    assert main([*argv, "--yes"]) == 0


def test_rollback_failure_prints_an_undo_command_that_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ROUTERFIX_PASSWORD", "admin")
    fail = '{"set_sip_alg": "device", "set_nat_mode": "device@2"}'   # the change fails, and so does putting it back
    assert main(["mitigate", *_memory(tmp_path, fail=fail), "--no-backup", "--yes"]) == 6
    err = capsys.readouterr().err
    command = shlex.split(re.search(r"undo with: (.+)", err).group(1))  # type: ignore[union-attr]
    assert command[:2] == ["routerfix", "undo"] and "--yes" in command
    assert main(command[1:]) == 0
    assert '"nat_mode": "open"' in (tmp_path / "router.json").read_text()


def test_fleet_rerun_hint_works(fleet_inventory: Path, password_env: str, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ROUTERFIX_NO_PROGRESS", "1")
    state = tmp_path / "fleet-state"
    assert main(["fleet", "mitigate", str(fleet_inventory), "--yes", "--no-flush", "--state-dir", str(state)]) == 1
    hint = re.search(r"did not succeed with: (.+)", capsys.readouterr().out)
    assert hint is not None
    command = shlex.split(hint.group(1))
    assert command[:3] == ["routerfix", "fleet", "mitigate"] and "--yes" in command and "--no-flush" in command
    monkeypatch.setenv("ROUTERFIX_TEST_BAD_PW", os.environ[password_env])   # the wrong password is fixed
    assert main(command[1:]) == 1   # the PBX site still needs --replace-conflicting
    out = capsys.readouterr().out
    assert "wrong-pw" in out and "office-a" not in out


def test_hints_never_echo_a_secret_typed_as_an_option() -> None:
    from routerfix.cli.common import undo_command

    args = build_parser().parse_args(["mitigate", "-d", "cisco_ios", "-H", "h", "--no-prompt", "-o",
                                      "key_passphrase=Typed-Secret-5", "-o", "dhcp_pool=LAN"])
    command = undo_command(args)
    assert "Typed-Secret-5" not in command and "--ask-key-passphrase" in command and "dhcp_pool=LAN" in command
    assert build_parser().parse_args(shlex.split(command)[1:]).ask_key_passphrase is True
