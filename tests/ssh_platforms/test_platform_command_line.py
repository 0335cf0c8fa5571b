"""``routerfix mitigate`` and ``routerfix undo`` from the command line against each simulator (a real process,
a real SSH connection to 127.0.0.1, the host key pinned with ``-o host_key_fingerprint=``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import PLATFORMS, config_text

ROUTERFIX = str(Path(sys.executable).with_name("routerfix"))


def _run(verb: str, device: Any, state_dir: Path, *extra: str) -> dict[str, Any]:
    args = [ROUTERFIX, verb, "--json", "--yes", "--no-prompt", "--driver", device.driver, "--host", device.host,
            "--port", str(device.port), "--username", device.username, "--state-dir", str(state_dir),
            "-o", f"host_key_fingerprint={device.options['host_key_fingerprint']}", "--timeout", "10", *extra]
    env = {**os.environ, "ROUTERFIX_PASSWORD": device.password}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr + done.stdout
    assert device.password not in done.stdout + done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


@pytest.mark.parametrize("platform", PLATFORMS)
def test_mitigate_and_undo_from_the_command_line(platform: str, sim: Any, tmp_path: Path) -> None:
    with sim(platform) as device:
        before = config_text(platform, device.handle)
        record = tmp_path / "result.json"
        result = _run("mitigate", device, tmp_path, "--save", str(record))
        assert result["status"] == "mitigated" and result["transport_security"] == "ssh"
        assert config_text(platform, device.handle) != before
        undone = _run("undo", device, tmp_path, "--record", str(record))
        assert undone["status"] == "undone"
        assert config_text(platform, device.handle) == before
