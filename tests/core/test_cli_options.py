"""One mitigation options table for every front end; the same flags on single-host and fleet commands;
``routerfix drivers NAME`` lists a driver's options with their meaning."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from routerfix.cli import build_parser, main
from routerfix.cli.common import mitigation_options
from routerfix.engine import options_help
from routerfix.options import MITIGATION_OPTIONS
from routerfix.planner import MitigationOptions
from routerfix.registry import DriverRegistry

UNDOCUMENTED_ALLOWED: dict[str, frozenset[str]] = {}
"""Options allowed to ship without help (none: every option of every driver has a line)."""


def test_the_table_covers_every_mitigation_option() -> None:
    assert [s.name for s in MITIGATION_OPTIONS] == [f.name for f in fields(MitigationOptions)]
    assert set(options_help()) == {f.name for f in fields(MitigationOptions)}
    assert all(s.help and s.flag.startswith("--") for s in MITIGATION_OPTIONS)


def test_single_host_and_fleet_take_the_same_flags() -> None:
    parser = build_parser()
    flags = ["--replace-conflicting", "--no-reserve", "--keep-nat", "--keep-sip-alg", "--no-flush", "--no-probe",
             "--max-probes", "3", "--still-ringing", "--no-backup"]
    one = mitigation_options(parser.parse_args(["plan", "-d", "memory", "-H", "h", "--sink", "192.168.1.9", *flags]))
    fleet = mitigation_options(parser.parse_args(["fleet", "plan", "inv", *flags]))
    assert one == {**fleet, "sink": "192.168.1.9"}
    assert MitigationOptions.build(one).max_probes == 3 and fleet["manage_nat"] is False
    old = mitigation_options(parser.parse_args(["fleet", "mitigate", "inv", "--no-nat"]))   # the old spelling
    assert old["manage_nat"] is False
    assert mitigation_options(parser.parse_args(["plan", "-d", "memory", "-H", "h"])) == {
        s.name: s.default for s in MITIGATION_OPTIONS}


def test_hidden_alias_is_not_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["fleet", "plan", "--help"])
    out = capsys.readouterr().out
    assert "--keep-nat" in out and "--no-nat" not in out and "--sink" not in out


def test_drivers_name_lists_the_options_with_their_meaning(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drivers", "cisco_ios", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["options"]}
    assert rows["key_file"]["flag"] == "--key-file" and "private key" in rows["key_file"]["help"]
    assert rows["enable_secret"]["secret"] is True and rows["enable_secret"]["help"]
    assert main(["drivers", "upnp", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["options"]}
    assert rows["tls_fingerprint"]["flag"] == "--tls-fingerprint" and rows["scheme"]["flag"] == "--http"
    assert main(["drivers", "no-such-driver"]) == 2
    assert "known drivers: " in capsys.readouterr().err


@pytest.mark.parametrize("name", DriverRegistry().names())
def test_every_driver_option_has_one_line_of_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    cls = DriverRegistry().get(name)
    missing = set(cls.option_names) - set(cls.option_help) - UNDOCUMENTED_ALLOWED.get(name, frozenset())
    assert not missing, f"{name}: add option_help lines for {sorted(missing)}"
    assert set(cls.option_help) <= cls.option_names, f"{name}: help for options it does not take"
    assert all(text.strip() and "\n" not in text for text in cls.option_help.values())
    assert main(["drivers", name, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["options"]
    assert not [r["name"] for r in rows if not r["help"] and r["name"] not in UNDOCUMENTED_ALLOWED.get(name, ())]


def test_completion_script_is_generated_from_the_parser(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert "--password-file" in script and "--profile" in script and "--keep-nat" in script
    (tmp_path / "routerfix.bash").write_text(script)
    assert subprocess.run(["bash", "-n", str(tmp_path / "routerfix.bash")], timeout=30).returncode == 0
    assert main(["completion", "zsh"]) == 0 and "#compdef routerfix" in capsys.readouterr().out
    monkeypatch.setitem(sys.modules, "shtab", None)   # the optional extra is not installed
    assert main(["completion", "bash"]) == 2
    assert "routerfix[completion]" in capsys.readouterr().err
