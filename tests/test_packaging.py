"""A plain `pip install .` (no repository around it) ships the named tables and resolves them."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_carries_the_shipped_tables_and_resolves_them(tmp_path):
    pytest.importorskip("setuptools", minversion="77")  # the build backend pyproject.toml names, used in place
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(ROOT)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    wheel = next((tmp_path / "dist").glob("surrogate-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for table in ("nb201.h5", "nb201_digits.h5", "nb201_fmnist.h5"):
        assert f"surrogate/tables/{table}" in names
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                              str(wheel)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    # run from an empty folder with only the installed copy first on the path: no repository in sight
    probe = ("import json, surrogate.catalog as c; from surrogate.cli import main; "
             "assert c.__file__.startswith(%r), c.__file__; main(['datasets', '--json'])" % str(target))
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert '"name": "nb201-fmnist"' in run.stdout and '"unique": 6466' in run.stdout
