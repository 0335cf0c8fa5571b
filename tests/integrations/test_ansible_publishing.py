"""The collection as published: ``ansible-test sanity`` (offline), the missing-library message through a real
``ansible`` run, the execution-environment files through ``ansible-builder``, and the example playbook's
``port`` against a simulator."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from integration_support import EXAMPLES, PYTHON, REPO

import routerfix

COLLECTION = REPO / "ansible_collections" / "routerfix" / "routerfix"
BIN = Path(PYTHON).parent

OFFLINE_PIP_BOOTSTRAP = '''\
"""Offline stand-in for get-pip.py: run pip from the wheel beside this file to install what is asked."""
import glob
import os
import sys

sys.path.insert(0, glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "pip-*.whl"))[0])
from pip._internal.cli.main import main  # noqa: E402

sys.exit(main(["install", *(a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel"))]))
'''


def _tool(name: str) -> str:
    exe = BIN / name
    if not exe.exists():
        pytest.skip(f"{name} is not installed")
    return str(exe)


def _offline_home(home: Path) -> None:
    """A HOME whose ansible-test cache holds a pip bootstrap that needs no download (ansible-test fetches
    get-pip.py from ci-files.testing.ansible.com; the packages themselves come from pip's configured index)."""
    try:
        from ansible_test._internal.python_requirements import get_venv_packages  # type: ignore[import-untyped]

        version = get_venv_packages(type("Python", (), {"version": "3.11"})())["pip"]
    except (ImportError, KeyError, AttributeError):
        version = "24.2"
    cache = home / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True)
    got = subprocess.run([PYTHON, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache), f"pip=={version}"],
                         capture_output=True, text=True, timeout=300)
    if got.returncode != 0:
        pytest.skip(f"pip {version} cannot be downloaded: {got.stderr[-300:]}")
    (cache / f"get_pip_{version.replace('.', '_')}.py").write_text(OFFLINE_PIP_BOOTSTRAP)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.xdist_group("ansible_test")  # ansible-test writes and removes the checkout's collection tests/output
def test_ansible_test_sanity_is_clean(tmp_path: Path) -> None:
    """Every sanity test that needs no container: validate-modules, pylint, ansible-doc, yamllint, import..."""
    exe = _tool("ansible-test")
    _offline_home(tmp_path)
    env = {**os.environ, "HOME": str(tmp_path), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([exe, "sanity", "--python", f"{sys.version_info.major}.{sys.version_info.minor}",
                           "--color", "no"], cwd=COLLECTION, capture_output=True, text=True, env=env, timeout=880)
    shutil.rmtree(COLLECTION / "tests" / "output", ignore_errors=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, "\n".join(line for line in out.splitlines() if "ERROR" in line or "FATAL" in line)
    ran = set(re.findall(r'Running sanity test "([\w-]+)"', out))
    assert {"validate-modules", "pylint", "ansible-doc", "yamllint", "import", "compile", "pep8"} <= ran


@pytest.mark.slow
def test_a_missing_library_gives_ansibles_message(tmp_path: Path) -> None:
    """A real ``ansible`` run whose module interpreter cannot import routerfix fails with
    missing_required_lib's message, not a bare ImportError traceback."""
    exe = _tool("ansible")
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NoRouterfix:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'routerfix':\n"
        "            raise ModuleNotFoundError(\"No module named 'routerfix'\", name=name)\n"
        "sys.meta_path.insert(0, _NoRouterfix())\n")
    interpreter = tmp_path / "python-without-routerfix"
    interpreter.write_text(f'#!/bin/sh\nPYTHONPATH={blocker} exec {PYTHON} "$@"\n')
    interpreter.chmod(0o755)
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(REPO), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_HOME": str(tmp_path / ".ansible"), "ANSIBLE_LOCAL_TEMP": str(tmp_path / ".tmp")}
    for module, args in (("nat_mode", "mode=secure"), ("router_facts", ""), ("port_forward", "name=web state=absent"),
                         ("ghostcall_mitigation", "")):
        proc = subprocess.run([exe, "localhost", "-c", "local", "-e", f"ansible_python_interpreter={interpreter}",
                               "-m", f"routerfix.routerfix.{module}", "-a", f"driver=memory host=r1 {args}"],
                              capture_output=True, text=True, env=env, timeout=120)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0, out
        assert "Failed to import the required Python library (routerfix)" in out, out


@pytest.mark.slow
def test_ansible_builder_creates_the_build_context(tmp_path: Path) -> None:
    exe = _tool("ansible-builder")
    definition = yaml.safe_load((COLLECTION / "execution-environment.yml").read_text())
    assert definition["version"] == 3
    proc = subprocess.run([exe, "create", "-f", str(COLLECTION / "execution-environment.yml"),
                           "-c", str(tmp_path / "context"), "--output-filename", "Containerfile"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    build = tmp_path / "context" / "_build"
    assert "routerfix.routerfix" in (build / "requirements.yml").read_text()
    assert "routerfix" in (build / "requirements.txt").read_text()
    assert "ansible-galaxy collection install" in (tmp_path / "context" / "Containerfile").read_text()


@pytest.mark.slow
def test_ansible_builder_introspection_finds_the_python_requirement(tmp_path: Path) -> None:
    """The collection's meta/execution-environment.yml is what AWX's EE build reads for the library."""
    exe = _tool("ansible-builder")
    proc = subprocess.run([exe, "introspect", str(REPO)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    python = yaml.safe_load(proc.stdout)["python"]
    major, minor = (int(n) for n in routerfix.__version__.split(".")[:2])
    wanted = f"routerfix>={major}.{minor},<{major}.{minor + 1}"   # this release's series, as pip reads it
    assert [r.split("#")[0].strip() for r in python if "routerfix.routerfix" in r] == [wanted], python


def test_the_collection_is_publishable() -> None:
    galaxy = yaml.safe_load((COLLECTION / "galaxy.yml").read_text())
    assert galaxy["license"] == ["MIT"] and (COLLECTION / "LICENSE").read_text() == (REPO / "LICENSE").read_text()
    assert "MIT License" in (REPO / "LICENSE").read_text()
    assert not [v for v in galaxy.values() if isinstance(v, str) and ("example." in v or "invalid" in v)]
    readme = (COLLECTION / "README.md").read_text()
    assert "](../" not in readme and "](/" not in readme    # no link outside the installed collection
    meta = yaml.safe_load((COLLECTION / "meta" / "execution-environment.yml").read_text())
    assert (COLLECTION / meta["dependencies"]["python"]).is_file()


@pytest.mark.slow
def test_example_playbook_passes_the_port(ansible_available: str, tmp_path: Path) -> None:
    """examples/playbook.yml against a simulator listening on a non-default port (router_port)."""
    from routerfix.errors import RouterfixError
    from routerfix.simulate import simulate

    try:
        sim = simulate("mikrotik")
        device = sim.__enter__()
    except (RouterfixError, ImportError) as exc:
        pytest.skip(f"no mikrotik simulator: {exc}")
    try:
        inventory = tmp_path / "hosts.yml"
        inventory.write_text(yaml.safe_dump({"all": {"children": {"routers": {"hosts": {"sim": {
            "ansible_host": device.host, "router_port": device.port, "router_username": device.username,
            "routerfix_driver": device.driver, "routerfix_driver_options": dict(device.options),
            "ansible_python_interpreter": PYTHON}}}}}}))
        env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(REPO), "ROUTERFIX_STATE_DIR": str(tmp_path / "state"),
               "ROUTERFIX_PASSWORD": device.password, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(tmp_path / ".a"),
               "ANSIBLE_LOCAL_TEMP": str(tmp_path / ".tmp")}
        proc = subprocess.run([ansible_available, "-i", str(inventory), str(EXAMPLES / "playbook.yml"), "--check"],
                              capture_output=True, text=True, env=env, timeout=180)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        assert re.search(r"sim\s+:\s+ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0", out), out
        assert "sim: planned sink" in out, out
    finally:
        sim.__exit__(None, None, None)


def test_doc_fragment_is_plain_strings() -> None:
    """Each description line is a string (an unquoted ``C(a: b)`` parses as a mapping and breaks ansible-doc)."""
    import runpy

    fragment = runpy.run_path(str(COLLECTION / "plugins" / "doc_fragments" / "connection.py"))["ModuleDocFragment"]
    doc = yaml.safe_load(fragment.DOCUMENTATION)
    lines = [*doc["notes"], *(d for o in doc["options"].values() for d in o["description"])]
    assert all(isinstance(line, str) for line in lines), json.dumps(lines, default=str)


@pytest.mark.slow
def test_built_collection_installs_and_documents_itself(tmp_path: Path) -> None:
    """``ansible-galaxy collection build`` + ``install``: the tarball carries LICENSE and the EE metadata, and
    ansible-doc works from the installed copy (not from this checkout)."""
    galaxy = _tool("ansible-galaxy")
    built = subprocess.run([galaxy, "collection", "build", str(COLLECTION), "--output-path", str(tmp_path)],
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    tarball = next(tmp_path.glob("routerfix-routerfix-*.tar.gz"))
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    assert {"LICENSE", "README.md", "meta/ee-requirements.txt", "meta/execution-environment.yml",
            "execution-environment.yml"} <= names
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/output")]
    installed = tmp_path / "installed"
    env = {**os.environ, "ANSIBLE_HOME": str(tmp_path / ".ansible")}
    done = subprocess.run([galaxy, "collection", "install", str(tarball), "-p", str(installed)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    doc = subprocess.run([_tool("ansible-doc"), "-t", "module", "--json", "routerfix.routerfix.ghostcall_mitigation"],
                         capture_output=True, text=True, env={**env, "ANSIBLE_COLLECTIONS_PATH": str(installed)},
                         timeout=120)
    assert doc.returncode == 0, doc.stderr
    entry = json.loads(doc.stdout)["routerfix.routerfix.ghostcall_mitigation"]
    assert str(installed) in entry["doc"]["filename"]
