"""``--driver auto`` on show/plan: detection without credentials picks the driver only when exactly one fits."""

from __future__ import annotations

import json

import pytest

from routerfix.cli import main
from routerfix.simulate import simulate


def test_plan_with_driver_auto_uses_the_detected_driver(capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with simulate("mikrotik") as device:
        monkeypatch.setenv("ROUTERFIX_TEST_PW", device.password)
        args = ["--driver", "auto", "--host", device.host, "--port", str(device.port), "--username", device.username,
                "--password-env", "ROUTERFIX_TEST_PW", "--no-prompt", "--json"]
        args += [a for k, v in device.options.items() for a in ("-o", f"{k}={v}")]
        code = main(["plan", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "detected driver mikrotik" in captured.err
    assert json.loads(captured.out)["driver"] == "mikrotik"


def test_driver_auto_refuses_to_guess_when_ambiguous(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with simulate("vyos") as device:
        monkeypatch.setenv("ROUTERFIX_TEST_PW", device.password)
        code = main(["show", "--driver", "auto", "--host", device.host, "--port", str(device.port), "--username",
                     device.username, "--password-env", "ROUTERFIX_TEST_PW", "--no-prompt"])
        attempts = device.handle.device.auth_attempts
    err = capsys.readouterr().err
    assert code != 0 and "could be" in err and "vyos" in err and "edgeos" in err
    assert attempts == 0                # no credentials were tried


def test_undo_with_driver_auto_finds_the_records_of_the_detected_driver(capsys: pytest.CaptureFixture[str],
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         tmp_path: object) -> None:
    with simulate("mikrotik") as device:
        monkeypatch.setenv("ROUTERFIX_TEST_PW", device.password)
        args = ["--driver", "auto", "--host", device.host, "--port", str(device.port), "--username", device.username,
                "--password-env", "ROUTERFIX_TEST_PW", "--no-prompt", "--json", "--yes", "--state-dir", str(tmp_path)]
        args += [a for k, v in device.options.items() for a in ("-o", f"{k}={v}")]
        assert main(["mitigate", *args]) == 0, capsys.readouterr().err
        capsys.readouterr()
        code = main(["undo", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "detected driver mikrotik" in captured.err and json.loads(captured.out)["status"] == "undone"
