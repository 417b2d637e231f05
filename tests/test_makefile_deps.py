"""`make test` first checks the Debian packages the suite runs (scripts/system-deps.sh): as
anyone but root, a missing one stops make before any install, lint or test, naming the one
command that installs it."""

from __future__ import annotations

import shutil

import pytest

from tests.makefile_checkout import make, path_without, readable_copy


@pytest.fixture
def checkout():
    path = readable_copy()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_missing_chromium_stops_make_test_before_anything_runs(checkout):
    path = path_without(checkout / "bin", ["chromium"])

    result = make(checkout, "test", path=path, as_nobody=True)

    said = result.stdout + result.stderr
    assert result.returncode == 2  # make's own: a prerequisite's recipe failed
    assert "missing: chromium." in said
    assert "    sudo apt-get install -y chromium\n" in said  # only what is missing
    assert "test session starts" not in said  # pytest never started…
    assert not (checkout / ".venv").exists()  # …nor the install or lint before it


def test_the_check_names_every_missing_package_in_one_command(checkout):
    path = path_without(checkout / "bin", ["chromium", "pdftoppm", "pdftotext", "npm"])

    result = make(checkout, "system-deps", path=path, as_nobody=True)

    assert result.returncode != 0
    assert "sudo apt-get install -y chromium npm poppler-utils\n" in result.stderr


def test_the_check_passes_quietly_when_everything_is_there(checkout):
    # As `make test` runs it: the suite's packages are installed by now.
    result = make(checkout, "system-deps")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
