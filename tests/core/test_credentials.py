"""One secret resolver: every source (value, file, variable, prompt), the same rules everywhere, and the command
line taking every secret (password, enable secret, key passphrase) by reference, never from argv."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

import routerfix
from routerfix.cli import build_parser, main
from routerfix.cli.common import driver_options
from routerfix.credentials import CLI_SECRETS, resolve_secret
from routerfix.errors import InvalidValue
from routerfix.secrets import Secret

# --- the resolver -----------------------------------------------------------------------------------


def test_value_first_and_numbers_are_text() -> None:
    assert resolve_secret("pw", value=Secret("x-1")) == Secret("x-1")
    assert resolve_secret("pw", value=123456, env="UNSET_VAR_FOR_TEST") == Secret("123456")
    with pytest.raises(InvalidValue):
        resolve_secret("pw", value={"a": 1})  # type: ignore[arg-type]


def test_file_drops_one_newline_refuses_empty_and_warns_when_shared(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    f = tmp_path / "pw"
    f.write_text("s3cret-file\r\n")
    f.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="routerfix.credentials"):
        assert resolve_secret("password", file=f) == Secret("s3cret-file")
    assert "chmod 600" in caplog.text and "s3cret-file" not in caplog.text
    f.write_text("\n")
    with pytest.raises(InvalidValue, match="empty"):
        resolve_secret("password", file=f)
    with pytest.raises(InvalidValue, match="--password-file"):
        resolve_secret("password", file=tmp_path / "missing", fields=("--password-file", "--password-env"))


def test_named_variable_must_be_set_default_variable_is_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RF_TEST_SECRET", "from-env-1")
    monkeypatch.delenv("RF_TEST_UNSET", raising=False)
    assert resolve_secret("pw", env="RF_TEST_SECRET") == Secret("from-env-1")
    with pytest.raises(InvalidValue, match="RF_TEST_UNSET"):
        resolve_secret("pw", env="RF_TEST_UNSET")
    assert resolve_secret("pw", default_env="RF_TEST_UNSET") is None
    assert resolve_secret("pw", default_env="RF_TEST_SECRET") == Secret("from-env-1")


def test_prompt_only_when_nothing_else_gave_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def ask(text: str) -> str:
        asked.append(text)
        return "typed-secret"

    monkeypatch.setenv("RF_TEST_SECRET", "from-env-1")
    assert resolve_secret("pw", default_env="RF_TEST_SECRET", prompt="pw: ", ask=ask) == Secret("from-env-1")
    assert not asked
    assert resolve_secret("pw", prompt="pw: ", ask=ask) == Secret("typed-secret") and asked == ["pw: "]


def test_inventory_uses_the_same_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    from routerfix.inventory import InventoryError, resolve_password

    monkeypatch.delenv("RF_TEST_UNSET", raising=False)
    with pytest.raises(InventoryError, match="RF_TEST_UNSET is not set"):
        resolve_password("h1", password_env="RF_TEST_UNSET")
    assert resolve_password("h1", password=1234) == Secret("1234")  # type: ignore[arg-type]


# --- driver contract: secret options are text ----------------------------------------------------

def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["show", "--driver", "cisco_ios", "--host", "h", "--no-prompt", *argv])


def test_numeric_key_passphrase_on_the_command_line_is_text() -> None:
    """``-o key_passphrase=123456`` was JSON-parsed to an int and raised TypeError building the driver."""
    cls = routerfix.get_driver("cisco_ios")
    options = driver_options(_args("-o", "key_passphrase=123456", "-o", "enable_secret=007"), cls)
    driver = cls("h", **options)
    assert driver.options["key_passphrase"] == Secret("123456") and driver.trust.key_passphrase == Secret("123456")
    assert driver.options["enable_secret"] == Secret("007")
    assert cls("h", key_passphrase=123456).trust.key_passphrase == Secret("123456")


def test_trust_flags_map_onto_driver_options_and_are_checked(tmp_path: Path) -> None:
    cls = routerfix.get_driver("cisco_ios")
    key = tmp_path / "id"
    key.write_text("k")
    fp = "SHA256:" + "A" * 43
    options = driver_options(_args("--key-file", str(key), "--known-hosts", str(tmp_path / "kh"),
                                   "--host-key-fingerprint", fp), cls)
    assert options == {"key_file": str(key), "known_hosts": str(tmp_path / "kh"), "host_key_fingerprint": fp}
    with pytest.raises(InvalidValue, match="--tls-fingerprint"):
        driver_options(_args("--tls-fingerprint", "sha256:" + "0" * 64), cls)
    web = routerfix.get_driver("upnp")
    assert driver_options(_args("--http"), web) == {"scheme": "http"}


@pytest.mark.parametrize("spec", CLI_SECRETS, ids=lambda s: s.name)
def test_a_secret_on_argv_is_refused_without_echo(spec: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["show", "--driver", "cisco_ios", "--host", "h", f"--{spec.flag}", "Argv-Secret-9"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "Argv-Secret-9" not in err and f"--{spec.flag}-file" in err and f"--{spec.flag}-env" in err


# --- the command line against a simulated IOS router that lands at '>' --------------------------------

ENABLE = "Enable-Se3cret-77"
PASSPHRASE = "123456"
CLIENT_KEY = asyncssh.generate_private_key("ssh-ed25519")


@pytest.fixture(scope="module")
def ios() -> Iterator[Any]:
    """The simulated router, which also accepts the key of ``client_key``."""
    from routerfix.simulate import simulate

    with simulate("cisco_ios", privilege=1) as device:
        device.handle.router.enable_secret = ENABLE
        device.handle.device.authorized_keys.append(CLIENT_KEY.convert_to_public())
        yield device


def _show(device: Any, *extra: str) -> list[str]:
    opts = [x for k, v in device.options.items() for x in ("-o", f"{k}={v}")]
    return ["show", "--json", "--driver", device.driver, "--host", device.host, "--port", str(device.port),
            "--username", device.username, "--no-prompt", *opts, *extra]


def _secret_file(tmp_path: Path, name: str, value: str) -> Path:
    f = tmp_path / name
    f.write_text(value + "\n")
    f.chmod(0o600)
    return f


def test_enable_secret_from_file_env_and_prompt(ios: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ROUTERFIX_PASSWORD", ios.password)
    assert main(_show(ios)) == 3   # no enable secret given: the login password is tried and refused
    assert main(_show(ios, "--enable-secret-file", str(_secret_file(tmp_path, "en", ENABLE)))) == 0
    monkeypatch.setenv("RF_ENABLE", ENABLE)
    assert main(_show(ios, "--enable-secret-env", "RF_ENABLE")) == 0
    monkeypatch.setattr("getpass.getpass", lambda prompt: ENABLE)
    assert main(_show(ios, "--ask-enable-secret")) == 0
    out = capsys.readouterr()
    assert ENABLE not in out.out + out.err and ios.password not in out.out + out.err


def test_key_passphrase_from_file_and_env(ios: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("ROUTERFIX_PASSWORD", raising=False)
    key = tmp_path / "id_ed25519"
    key.write_bytes(CLIENT_KEY.export_private_key("openssh", passphrase=PASSPHRASE, rounds=1,
                                                       ignore_few_rounds=True))
    key.chmod(0o600)
    enable = ["--enable-secret-file", str(_secret_file(tmp_path, "en", ENABLE))]
    assert main(_show(ios, "--key-file", str(key), "--key-passphrase-file",
                      str(_secret_file(tmp_path, "kp", PASSPHRASE)), *enable)) == 0
    monkeypatch.setenv("RF_KP", PASSPHRASE)
    assert main(_show(ios, "--key-file", str(key), "--key-passphrase-env", "RF_KP", *enable)) == 0
    assert main(_show(ios, "--key-file", str(key), "-o", f"key_passphrase={PASSPHRASE}", *enable)) == 0
    out = capsys.readouterr()
    assert "visible to other users" in out.err and ENABLE not in out.out + out.err
    monkeypatch.delenv("RF_KP")
    assert main(_show(ios, "--key-file", str(key), "--key-passphrase-env", "RF_KP", *enable)) == 2


def test_unset_password_variable_is_a_usage_error(ios: Any, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("RF_NOT_SET", raising=False)
    assert main(_show(ios, "--password-env", "RF_NOT_SET")) == 2
    assert "--password-env" in capsys.readouterr().err
    assert os.environ.get("RF_NOT_SET") is None


def test_debug_output_of_a_real_run_shows_no_secret(ios: Any, tmp_path: Path) -> None:
    """A separate process with --debug (netmiko and paramiko at DEBUG): neither the enable secret nor the key
    passphrase shows, and neither is in the process's argv."""
    import subprocess
    import sys

    key = tmp_path / "id_ed25519"
    key.write_bytes(CLIENT_KEY.export_private_key("openssh", passphrase=PASSPHRASE, rounds=1, ignore_few_rounds=True))
    key.chmod(0o600)
    argv = [sys.executable, "-m", "routerfix.cli", "--debug", *_show(ios, "--key-file", str(key),
            "--key-passphrase-file", str(_secret_file(tmp_path, "kp", PASSPHRASE)),
            "--enable-secret-file", str(_secret_file(tmp_path, "en", ENABLE)))]
    assert not any(ENABLE in a or PASSPHRASE in a for a in argv)
    env = {k: v for k, v in os.environ.items() if k != "ROUTERFIX_PASSWORD"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "DEBUG" in done.stderr
    assert ENABLE not in done.stdout + done.stderr and PASSPHRASE not in done.stdout + done.stderr
