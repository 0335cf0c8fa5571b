"""``--profile NAME``: connection arguments from ~/.config/routerfix/config.toml; the command line wins; secrets only
by reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from routerfix.cli import main


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("ROUTERFIX_CONFIG", str(path))
    monkeypatch.setenv("SITE_PW", "admin")
    monkeypatch.delenv("ROUTERFIX_PASSWORD", raising=False)
    path.write_text(f"""
[profiles.site]
driver = "memory"
host = "profile-host"
password_env = "SITE_PW"
options = {{ state_file = "{tmp_path / 'router.json'}", scenario = "office" }}
""")
    return path


def test_profile_fills_the_connection(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "--profile", "site", "--no-prompt", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["nat_mode"] == "open"
    assert main(["plan", "--profile", "site", "--host", "other-host", "--no-prompt", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["host"] == "other-host"   # the command line wins


def test_profile_errors_exit_2(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "--profile", "nope", "--no-prompt"]) == 2
    assert "its profiles: site" in capsys.readouterr().err
    assert main(["show", "--host", "h", "--no-prompt"]) == 2
    assert "--driver" in capsys.readouterr().err
    config.write_text(config.read_text() + 'password = "Inline-Pw-42"\n')
    assert main(["show", "--profile", "site", "--no-prompt"]) == 2
    err = capsys.readouterr().err
    assert "password_env or password_file" in err and "Inline-Pw-42" not in err
