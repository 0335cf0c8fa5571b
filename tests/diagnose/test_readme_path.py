"""The README's one-minute path (phones ring → diagnose → mitigate → diagnose again) runs verbatim against the
Linux simulator: each ``routerfix`` line of the block, with the simulator's address added and a 3-second capture,
exits with the code its comment states. The last line (``probe``) needs a real WAN address: the lab runs it
(tests/lab test 5)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from routerfix.simulators.linux.device import simulate

README = Path(__file__).resolve().parents[2] / "README.md"


def _path_lines() -> list[tuple[list[str], int]]:
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- one-minute-path:", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    lines = []
    for line in block.splitlines():
        command, _, comment = line.partition("#")
        words = shlex.split(command)
        if words[:1] == ["routerfix"] and words[1] != "probe":
            code = re.search(r"exit (\d+)", comment)
            assert code, line
            lines.append((words[1:], int(code.group(1))))
    return lines


def test_the_one_minute_path_runs_verbatim_on_the_simulator(tmp_path: Path) -> None:
    lines = _path_lines()
    assert [words[0] for words, _ in lines] == ["diagnose", "mitigate", "diagnose"]
    with simulate() as device:
        env = {**os.environ, "ROUTERFIX_PASSWORD": device.password, "ROUTERFIX_STATE_DIR": str(tmp_path)}
        for words, code in lines:
            argv = [w if w != "60" else "3" for w in words]  # a 3-second capture: the simulator's time does not pass
            assert "192.168.1.1" in argv
            argv[argv.index("192.168.1.1")] = device.host
            argv += ["--port", str(device.port), "--no-prompt",
                     *[a for k, v in device.options.items() for a in ("-o", f"{k}={v}")]]
            done = subprocess.run([sys.executable, "-m", "routerfix.cli", *argv], env=env, capture_output=True,
                                  text=True, timeout=60)
            what = f"routerfix {' '.join(words)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
            assert done.returncode == code, what
