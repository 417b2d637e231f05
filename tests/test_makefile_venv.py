"""`make install` on a project of one tiny package: a .venv left half-made (a python, no pip)
is made anew rather than reused; the lock's hashes are checked; Python 3.13, then 3.12, then
3.11 is chosen, and with none of them make says which it needs."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.makefile_checkout import make, path_without, readable_copy

PYPROJECT = """\
[project]
name = "probe-project"
version = "1.0"
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"
[tool.setuptools]
py-modules = []
"""


def _wheel(folder: Path) -> Path:
    """A pure-Python wheel of one module, written by hand: installing it needs no index."""
    path = folder / "failsafe_probe-1.0-py3-none-any.whl"
    files = {
        "failsafe_probe.py": "ANSWER = 42\n",
        "failsafe_probe-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: failsafe-probe\n"
        "Version: 1.0\n",
        "failsafe_probe-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
            digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest())
            record.append(f"{name},sha256={digest.rstrip(b'=').decode()},{len(text)}")
        record.append("failsafe_probe-1.0.dist-info/RECORD,,")
        wheel.writestr("failsafe_probe-1.0.dist-info/RECORD", "\n".join(record) + "\n")
    return path


@pytest.fixture
def project():
    path = readable_copy(["Makefile", "scripts"])
    (path / "pyproject.toml").write_text(PYPROJECT)
    wheel = _wheel(path)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (path / "requirements.lock").write_text(
        f"failsafe-probe @ {wheel.as_uri()} \\\n    --hash=sha256:{digest}\n"
    )
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _python() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def test_a_half_made_venv_is_made_anew(project):
    # What `python -m venv` leaves where Debian's pythonX.Y-venv is missing: no pip.
    subprocess.run([_python(), "-m", "venv", "--without-pip", project / ".venv"], check=True)
    python = project / ".venv" / "bin" / "python"
    assert subprocess.run([python, "-m", "pip", "--version"], capture_output=True).returncode

    result = make(project, "install")

    assert result.returncode == 0, result.stdout + result.stderr
    assert ".venv is half-made (no pip): making it anew" in result.stdout
    probe = subprocess.run([python, "-c", "import failsafe_probe; print(failsafe_probe.ANSWER)"],
                           capture_output=True, text=True)  # fmt: skip
    assert probe.stdout == "42\n"
    assert list((project / ".venv").glob(".installed-*"))

    again = make(project, "install")  # the stamp holds: nothing to do
    assert again.returncode == 0 and "pip install" not in again.stdout


def test_a_package_whose_hash_differs_from_the_lock_is_refused(project):
    lock = project / "requirements.lock"
    other = hashlib.sha256(b"another wheel").hexdigest()
    lock.write_text(re.sub(r"sha256:[0-9a-f]{64}", f"sha256:{other}", lock.read_text()))

    result = make(project, "install")

    assert result.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in result.stderr
    assert not list((project / ".venv").glob(".installed-*"))


def _chosen(project: Path, path: str) -> str:
    result = make(project, "--eval", "chosen: ; @echo '$(PYTHON)'", "chosen", path=path)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_newest_supported_python_is_chosen(project, tmp_path):
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    system = path_without(tmp_path / "system", ["python3.12", "python3.13"])

    def stub(name: str, answer: int) -> None:  # answers the Makefile's version probe
        (stubs / name).write_text(f"#!/bin/sh\nexit {answer}\n")
        (stubs / name).chmod(0o755)

    path = f"{stubs}:{system}"
    assert _chosen(project, path) == _python()
    stub("python3.12", 0)
    assert _chosen(project, path) == "python3.12"
    stub("python3.13", 0)
    assert _chosen(project, path) == "python3.13"
    stub("python3.13", 1)  # a python3.13 that is not 3.13 (or not CPython 3.11-3.13)
    assert _chosen(project, path) == "python3.12"


def test_without_a_supported_python_make_says_which_it_needs(project, tmp_path):
    path = path_without(tmp_path / "bin", ["python*"])

    result = make(project, "install", path=path)

    assert result.returncode != 0
    assert "Failsafe needs Python 3.13, 3.12 or 3.11, and none is on PATH" in result.stdout
    assert not (project / ".venv").exists()
