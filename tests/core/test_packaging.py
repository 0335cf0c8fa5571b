"""Packaging: `import routerfix` stays light; the wheel installs routerfix.drivers and no bare `drivers`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("netmiko", "paramiko", "requests", "bs4", "asyncssh", "rich", "tenacity", "netaddr", "urllib3")


def test_import_routerfix_is_light() -> None:
    code = f"import sys, routerfix; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_every_driver_folder_is_packaged_and_has_an_entry_point() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = set(meta["tool"]["setuptools"]["packages"])
    eps = meta["project"]["entry-points"]["routerfix.drivers"]
    folders = {p.name for p in (ROOT / "drivers").iterdir() if (p / "__init__.py").exists()}
    assert {f"routerfix.drivers.{f}" for f in folders} <= packages
    assert set(eps) == {f for f in folders if not f.startswith("_")}  # _name: an engine drivers share, no driver
    assert "drivers" not in packages


def _source_copy(dest: Path) -> Path:
    """What the wheel is built from, copied out of the checkout: setuptools writes build/ and routerfix.egg-info/
    beside pyproject.toml. The checkout's egg-info is where every ``python -c``/``-m`` started in the checkout (its
    current directory first on sys.path) reads routerfix's entry points from: while the build truncates and rewrites
    it, a test running at the same time (pytest-xdist) can find no drivers at all. A stale build/lib of the checkout
    can no longer go into the wheel either."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, dest / name)
    for name in ("routerfix", "drivers", "simulators"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_every_driver_loads(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist),
                    str(_source_copy(tmp_path / "src"))], check=True, capture_output=True, timeout=300)
    wheel = next(dist.glob("routerfix-*.whl"))
    with zipfile.ZipFile(wheel) as archive:  # the SPDX licence expression and the licence text ship in the wheel
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in metadata.splitlines()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)], check=True,
                   timeout=300)
    # Dependencies come from this suite's environment (a plain path entry: its editable-install hooks do not load).
    site = Path(sysconfig.get_paths()["purelib"])
    fresh_site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                     check=True, capture_output=True, text=True).stdout.strip())
    (fresh_site / "zz_deps.pth").write_text(str(site) + "\n")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    expected = sorted(meta["project"]["entry-points"]["routerfix.drivers"])
    code = (
        "import routerfix, importlib.util, json\n"
        "names = routerfix.list_drivers()\n"
        "loaded = {n: routerfix.get_driver(n).__module__ for n in names}\n"
        "print(json.dumps({'names': names, 'loaded': loaded, 'file': routerfix.__file__,\n"
        "                  'bare': importlib.util.find_spec('drivers') is not None}))\n"
    )
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    data = json.loads(proc.stdout)
    assert data["names"] == expected
    assert str(env_dir) in data["file"]
    assert all(module.startswith("routerfix.drivers.") for module in data["loaded"].values())
    assert data["bare"] is False
    typed = subprocess.run([python, "-c", "import routerfix, pathlib; "
                            "print((pathlib.Path(routerfix.__file__).parent / 'py.typed').exists())"],
                           check=True, capture_output=True, text=True).stdout
    assert typed.strip() == "True"
    schemas = subprocess.run([python, "-c", "from routerfix.schemas import SCHEMAS, schema; "
                              "print(all(schema(n)['$schema'] for n in SCHEMAS))"],
                             check=True, capture_output=True, text=True).stdout
    assert schemas.strip() == "True", "the JSON Schemas are not package data"
