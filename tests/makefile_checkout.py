"""Helpers for the tests of the Makefile: a copy of the checkout's build files that any user can
read, a PATH that lacks chosen commands, and `make` run in that copy as root or as `nobody`."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_FILES = ("Makefile", "pyproject.toml", "requirements.lock", "scripts")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def readable_copy(files: Iterable[str] = BUILD_FILES) -> Path:
    """A folder under /tmp (not pytest's, which only root may enter) holding the build files."""
    path = Path(tempfile.mkdtemp(prefix="failsafe-make-"))
    path.chmod(0o755)
    for name in files:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, path / name)
        else:
            shutil.copy2(source, path / name)
    return path


def path_without(folder: Path, commands: Iterable[str]) -> str:
    """A PATH of one folder linking every command of the system's PATH but `commands`
    (names or, ending in '*', prefixes)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    left_out = tuple(commands)

    def omitted(name: str) -> bool:
        return any(name.startswith(c[:-1]) if c.endswith("*") else name == c for c in left_out)

    for directory in reversed(os.environ["PATH"].split(os.pathsep)):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            if not omitted(entry.name) and os.access(entry.path, os.X_OK):
                link = folder / entry.name
                link.unlink(missing_ok=True)
                link.symlink_to(entry.path)
    return str(folder)


def make(
    checkout: Path, *args: str, path: str | None = None, as_nobody: bool = False, timeout=300
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path or os.environ["PATH"], "HOME": str(checkout), "LANG": "C.UTF-8"}
    command = ["make", "--no-print-directory", "-C", str(checkout), *args]
    if as_nobody and os.geteuid() == 0:  # anyone else is not root already
        command = NOBODY + command
    return subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
