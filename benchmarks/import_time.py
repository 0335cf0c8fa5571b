"""Start-up cost: `import routerfix` (median of N fresh interpreters, minus a bare interpreter) and
`routerfix --help`. Also checks that no driver dependency is imported.

With ``--ansible``: the Ansible module's per-host overhead. A play runs one task on N hosts (``forks=1``, local
connection, file-backed ``memory`` routers): ``routerfix.routerfix.ghostcall_mitigation`` beside
``ansible.builtin.ping`` (Ansible's own cost of one module run). Per host = (time for N hosts - time for 1 host)
/ (N - 1), median of the runs; the same mitigation through the library in one process is given beside it.

Run: .venv/bin/python benchmarks/import_time.py [--runs 15] [--ansible] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

HEAVY = ("netmiko", "paramiko", "requests", "bs4", "asyncssh", "rich", "tenacity", "netaddr")


def _time(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def measure(runs: int) -> dict[str, object]:
    """Median wall times in milliseconds."""
    bare = _time([sys.executable, "-c", "pass"], runs)
    imported = _time([sys.executable, "-c", "import routerfix"], runs)
    helped = _time([sys.executable, "-m", "routerfix.cli", "--help"], runs)
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, routerfix; print([m for m in {HEAVY!r} if m in sys.modules])"],
        check=True, capture_output=True, text=True).stdout.strip()
    self_time = subprocess.run([sys.executable, "-X", "importtime", "-c", "import routerfix"], check=True,
                               capture_output=True, text=True).stderr.strip().splitlines()[-1]
    return {
        "runs": runs,
        "bare_interpreter_ms": round(bare * 1000, 1),
        "import_routerfix_ms": round((imported - bare) * 1000, 1),
        "routerfix_help_ms": round(helped * 1000, 1),
        "heavy_modules_imported": loaded,
        "importtime_last_line": self_time,
    }


PLAY = """- hosts: routers
  connection: local
  gather_facts: false
  tasks:
    - {task}
"""
MODULE_TASK = ("routerfix.routerfix.ghostcall_mitigation: {{driver: memory, host: '{{{{ inventory_hostname }}}}', "
               "password: admin, state_dir: '{state}/{{{{ inventory_hostname }}}}', driver_options: "
               "{{state_file: '{state}/{{{{ inventory_hostname }}}}.router.json'}}}}")


def _play_seconds(exe: str, task: str, hosts: int, work: Path) -> float:
    state = Path(tempfile.mkdtemp(dir=work))
    names = "\n".join(f"        r{i:03d}:" for i in range(hosts))
    inventory = state / "hosts.yml"
    inventory.write_text("all:\n  children:\n    routers:\n      vars:\n        ansible_python_interpreter: "
                         f"{sys.executable}\n      hosts:\n{names}\n")
    play = state / "play.yml"
    play.write_text(PLAY.format(task=task.format(state=state)))
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(REPO), "ANSIBLE_LOCAL_TEMP": str(state / ".tmp"),
           "ANSIBLE_HOME": str(state / ".ansible"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORKS": "1"}
    started = time.perf_counter()
    proc = subprocess.run([exe, "-i", str(inventory), str(play)], capture_output=True, text=True, env=env,
                          timeout=600)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"ansible-playbook failed: {proc.stdout[-800:]}{proc.stderr[-800:]}")
    return seconds


def ansible_overhead(runs: int, hosts: int = 11) -> dict[str, object]:
    """Per-host seconds of the routerfix module and of ansible.builtin.ping (forks=1), and of the library."""
    exe = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent)) or shutil.which("ansible-playbook")
    if exe is None:
        return {"ansible": "ansible-playbook not installed"}
    out: dict[str, object] = {"ansible_hosts": hosts, "ansible_forks": 1}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for label, task in (("ping", "ansible.builtin.ping:"), ("routerfix_module", MODULE_TASK)):
            per_host = [(_play_seconds(exe, task, hosts, work) - _play_seconds(exe, task, 1, work)) / (hosts - 1)
                        for _ in range(runs)]
            out[f"ansible_{label}_per_host_ms"] = round(statistics.median(per_host) * 1000, 1)
    code = ("import time, routerfix\nfrom routerfix.engine import apply_ghostcall_mitigation\n"
            "t = time.perf_counter()\nfor i in range(20):\n"
            "    with routerfix.connect('memory', 'r', password='admin') as d:\n"
            "        apply_ghostcall_mitigation(d)\nprint((time.perf_counter() - t) / 20)")
    lib = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    out["library_per_host_ms"] = round(float(lib.strip().splitlines()[-1]) * 1000, 1)
    return out


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--ansible", action="store_true", help="also measure the Ansible module's per-host overhead")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.runs)
    if args.ansible:
        result.update(ansible_overhead(max(1, min(args.runs, 5))))
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
